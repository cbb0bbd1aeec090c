package fluxloop

import (
	"runtime"
	"strconv"
	"sync/atomic"
)

// Site describes one instrumented function. Generated code declares one
// package-level Site per function (a composite literal, so static data) and
// passes its address to Enter; users never need to create one.
//
// The source position (metadata code.filepath and code.lineno) is resolved on
// the site's first Enter with runtime.Caller and cached in the Site, so later
// calls pay nothing for it. The recorded line is the function's own (the
// line of its func keyword): the Enter call is Offset lines below it in a
// file instrumented in place, and an overlay build's //line directive maps
// the Enter call to the func line of the source (Offset 0).
type Site struct {
	// Name is the observation name, by default the function's name
	// (Type.Method for methods).
	Name string
	// Type is the observation type; empty means TypeSpan.
	Type ObservationType
	// Params names the function's parameters in the order Inputs receives
	// their values. Values beyond len(Params) are named arg<i>.
	Params []string
	// Offset is how many lines the Enter call is below the function's func
	// keyword; the recorded code.lineno is the Enter call's line minus
	// Offset.
	Offset int

	pos atomic.Pointer[sitePos]
	enc atomic.Pointer[siteEnc] // the writer's cached encoding (record.go)
	pc  uintptr                 // for Start: the caller's pc, resolved by the writer
}

func (s *Site) typ() ObservationType {
	if s.Type == "" {
		return TypeSpan
	}
	return s.Type
}

// sitePos is a resolved source position. Its metadata values are prepared once
// so that the background writer does not box the line number per record.
type sitePos struct {
	file   string
	line   int
	fields []Field // code.filepath and code.lineno
	mdJSON []byte  // fields as a JSON object
}

func newSitePos(file string, line int) *sitePos {
	p := &sitePos{file: file, line: line, fields: []Field{{"code.filepath", file}, {"code.lineno", line}}}
	p.mdJSON = appendFields(nil, p.fields)
	return p
}

// position returns the cached position, resolving it from the caller skip
// frames above position's caller on first use.
func (s *Site) position(skip int) *sitePos {
	if p := s.pos.Load(); p != nil {
		return p
	}
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		file, line = "", 0
	} else if line > s.Offset {
		line -= s.Offset
	}
	s.pos.CompareAndSwap(nil, newSitePos(file, line))
	return s.pos.Load()
}

// pcPositions caches positions of manual Start calls by program counter. It is
// used only by the background writer goroutine of one client.
type pcPositions map[uintptr]*sitePos

func (m pcPositions) lookup(pc uintptr) *sitePos {
	if pc == 0 {
		return nil
	}
	if p, ok := m[pc]; ok {
		return p
	}
	frames := runtime.CallersFrames([]uintptr{pc})
	f, _ := frames.Next()
	var p *sitePos
	if f.File != "" {
		p = newSitePos(f.File, f.Line)
	}
	if len(m) < 1<<16 {
		m[pc] = p
	}
	return p
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
