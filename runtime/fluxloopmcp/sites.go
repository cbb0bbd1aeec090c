package fluxloopmcp

import (
	"sync"
	"sync/atomic"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// Observation sites, one per name, type and kind of call, made on first use
// and kept, as generated code keeps one per function: a site caches its
// source position and the writer caches its encoding, so an observation made
// at a known site costs neither a stack walk nor a fresh encoding of its
// name. The table is read without locking (it is replaced, never changed)
// and bounded: a server that is sent ever new tool names (unknown tools
// included) makes a fresh site per call beyond maxSites instead of growing
// it.
type siteKey struct {
	name string
	typ  fluxloop.ObservationType
	k    kind
}

const maxSites = 1024

var (
	sitesMu sync.Mutex
	sites   atomic.Pointer[map[siteKey]*fluxloop.Site]
)

// Params of the sites whose calls have one input.
var (
	argumentsParam = []string{"arguments"}
	uriParam       = []string{"uri"}
)

func siteFor(name string, typ fluxloop.ObservationType, k kind) *fluxloop.Site {
	key := siteKey{name, typ, k}
	if m := sites.Load(); m != nil {
		if s := (*m)[key]; s != nil {
			return s
		}
	}
	s := &fluxloop.Site{Name: name, Type: typ}
	switch k {
	case kindTool, kindPrompt:
		s.Params = argumentsParam
	case kindResource:
		s.Params = uriParam
	}
	sitesMu.Lock()
	defer sitesMu.Unlock()
	var old map[siteKey]*fluxloop.Site
	if p := sites.Load(); p != nil {
		old = *p
	}
	if have := old[key]; have != nil {
		return have
	}
	if len(old) >= maxSites {
		return s
	}
	m := make(map[siteKey]*fluxloop.Site, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[key] = s
	sites.Store(&m)
	return s
}
