package fluxloopllm

import (
	"net/http"
	"path"
	"reflect"
	"runtime"
	"strings"
	"sync"
)

// The recorded source position of a call (code.filepath, code.lineno) is
// that of the program's call into its SDK: the first frame of the calling
// goroutine's stack outside net/http, this package and the SDKs and
// libraries below (and those given to WithLibraryPackages). Frames are
// classified once per program counter.
//
// A frame is classified by its function's name and by its file. The name
// alone is not enough: a function literal of an SDK inlined into the
// program (the iterator google.golang.org/genai's GenerateContentStream
// returns) is named after the function it is inlined into
// (pkg.TestX.Models.GenerateContentStream.func2) while its file is the
// SDK's. So a frame whose file is in GOROOT's net/http, or in the module
// cache (…/{module}@{version}/…, also as -trimpath writes it) or a vendor
// directory of a module whose path starts with a library prefix, is
// library code whatever its name.
//
// runtime.Callers reports one program counter per logical frame, inlined
// calls included, and each of them resolves to the frame it stands for,
// which is the position StartAt records: a pc is classified by the first
// (innermost) frame runtime.CallersFrames yields for it.

var libraryPrefixes = []string{
	"net/http.",
	"net/http/",
	"github.com/fluxloop/fluxloop-go/runtime/fluxloopllm.",
	"github.com/openai/openai-go",
	"github.com/anthropics/anthropic-sdk-go",
	"github.com/sashabaranov/go-openai",
	"google.golang.org/genai",
	"github.com/google/generative-ai-go",
	"github.com/googleapis/gax-go/",
	"cloud.google.com/go/",
	"golang.org/x/oauth2",
	"google.golang.org/api/",
	"github.com/tmc/langchaingo/",
	"github.com/cloudwego/eino",
	"github.com/firebase/genkit/go/",
	"github.com/hashicorp/go-retryablehttp",
	"github.com/liushuangls/go-anthropic",
	"github.com/ollama/ollama/",
	"github.com/openai/openai-agents-go",
}

// netHTTPDir is the directory of net/http's sources as the binary records
// them ("/usr/local/go/src/net/http/", or "net/http/" with -trimpath).
var netHTTPDir = funcDir(reflect.ValueOf(http.NewRequestWithContext).Pointer())

func funcDir(pc uintptr) string {
	f := runtime.FuncForPC(pc)
	if f == nil {
		return ""
	}
	file, _ := f.FileLine(f.Entry())
	if file == "" {
		return ""
	}
	return path.Dir(file) + "/"
}

// frameInfo is what is known of a program counter: its frame, and whether
// the frame is in one of the libraries the transport knows.
type frameInfo struct {
	fn, file string
	lib      bool
}

var frames sync.Map // uintptr -> *frameInfo

func callerPC(extra []string) uintptr {
	var pcs [12]uintptr
	// above runtime.Callers, callerPC and RoundTrip; in batches, since the
	// program's frame is usually among the first few
	for skip := 3; skip < 3+64; skip += len(pcs) {
		n := runtime.Callers(skip, pcs[:])
		if pc, ok := firstProgramPC(pcs[:n], extra); ok {
			return pc
		}
		if n < len(pcs) {
			break
		}
	}
	return 0
}

func firstProgramPC(pcs []uintptr, extra []string) (uintptr, bool) {
	for _, pc := range pcs {
		fi := frameOf(pc)
		if fi.lib {
			continue
		}
		if len(extra) > 0 && isLibrary(fi.fn, fi.file, extra) {
			continue
		}
		return pc, true
	}
	return 0, false
}

func frameOf(pc uintptr) *frameInfo {
	if v, ok := frames.Load(pc); ok {
		return v.(*frameInfo)
	}
	fr, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	fi := &frameInfo{fn: fr.Function, file: fr.File}
	fi.lib = fr.Function == "" || strings.HasPrefix(fr.Function, "runtime.") ||
		(netHTTPDir != "" && strings.HasPrefix(fr.File, netHTTPDir)) ||
		isLibrary(fr.Function, fr.File, libraryPrefixes)
	v, _ := frames.LoadOrStore(pc, fi)
	return v.(*frameInfo)
}

// isLibrary reports whether the frame of function fn in file is in a
// package whose import path starts with one of prefixes.
func isLibrary(fn, file string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(fn, p) || inModuleFile(file, p) {
			return true
		}
	}
	return false
}

// inModuleFile reports whether file is a source file of a module whose path
// starts with prefix (an import path prefix: one ending in "/" or "." ends
// at a path element), as a dependency: in the module cache
// (…/{module}@{version}/…, with upper-case letters escaped as "!x"; or
// {module}@{version}/… with -trimpath) or in a vendor directory
// (…/vendor/{module}/…).
func inModuleFile(file, prefix string) bool {
	if file == "" {
		return false
	}
	whole := strings.HasSuffix(prefix, "/") || strings.HasSuffix(prefix, ".")
	p := strings.TrimRight(prefix, "/.")
	if p == "" {
		return false
	}
	if inModuleFileAs(file, p, whole) {
		return true
	}
	if e := escapePath(p); e != p {
		return inModuleFileAs(file, e, whole)
	}
	return false
}

func inModuleFileAs(file, p string, whole bool) bool {
	for off := 0; off < len(file); {
		i := strings.Index(file[off:], p)
		if i < 0 {
			return false
		}
		i += off
		off = i + 1
		if i > 0 && file[i-1] != '/' {
			continue
		}
		rest := file[i+len(p):]
		if whole && rest != "" && rest[0] != '/' && rest[0] != '@' {
			continue
		}
		if strings.HasSuffix(file[:i], "/vendor/") || file[:i] == "vendor/" {
			return true
		}
		// the module's directory: a path element with a version, before
		// the file's name
		if at := strings.IndexByte(rest, '@'); at >= 0 && strings.IndexByte(rest[at:], '/') > 0 {
			return true
		}
	}
	return false
}

// escapePath escapes a module path as the module cache does: each
// upper-case letter as '!' and its lower case.
func escapePath(p string) string {
	if strings.IndexFunc(p, func(r rune) bool { return 'A' <= r && r <= 'Z' }) < 0 {
		return p
	}
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
