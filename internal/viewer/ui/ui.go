// Package ui holds the trace viewer's web interface: plain HTML, CSS and
// JavaScript with no framework, no build step and nothing fetched from
// elsewhere, embedded into the binary.
//
// The server (package viewer) serves FS under /static/ and index.html for
// every page path (/, /trace/{id}, /trace/{id}/{oid}, /compare/{a}/{b}) so
// that deep links work; the page reads its route from location.pathname and
// talks to the JSON API under /api/.
package ui

import (
	"embed"
	"io/fs"
)

// Assets holds the static directory: static/index.html, static/app.js and
// static/app.css. Most callers want FS, which strips the static/ prefix.
//
//go:embed static
var Assets embed.FS

// FS returns the static subtree of Assets: index.html, app.js, app.css at
// its root.
func FS() fs.FS {
	sub, err := fs.Sub(Assets, "static")
	if err != nil {
		panic(err) // the directory is embedded: unreachable
	}
	return sub
}
