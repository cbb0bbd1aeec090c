package generator

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// FuzzParseDirective: any comment text gives a directive or an error, never
// a panic, and an accepted directive has a valid kind, type and capture.
func FuzzParseDirective(f *testing.F) {
	for _, s := range []string{"//fluxloop:trace name=\"my tool\" type=tool", "//fluxloop:trace name=`a b`", "//fluxloop:trace name=\"x", "//fluxloop:trace", "//fluxloop:agent name=x type=tool capture=input", "//fluxloop:trcae", "//fluxloop:trace name", "//fluxloop:trace a=b=c", "//fluxloop: trace", "//fluxloop:trace name=\"q\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		d, err := parseDirective(text)
		if err != nil {
			return
		}
		if d.Kind != KindAgent && d.Kind != KindTrace {
			t.Errorf("%q: kind %q", text, d.Kind)
		}
		if _, ok := observationTypes[d.Type]; !ok {
			t.Errorf("%q: type %q", text, d.Type)
		}
		switch d.Capture {
		case CaptureAll, CaptureInput, CaptureOutput, CaptureNone:
		default:
			t.Errorf("%q: capture %q", text, d.Capture)
		}
	})
}

// FuzzGenerate runs the whole generator on arbitrary source: it must report
// errors, never crash (a recovered panic surfaces as "internal error"), and
// whatever it generates must be stable under a second run.
func FuzzGenerate(f *testing.F) {
	archives, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(archives) == 0 {
		f.Fatal("no seeds: no testdata/golden/*.txtar")
	}
	for _, a := range archives {
		ar, err := txtar.ParseFile(a)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			if strings.HasPrefix(file.Name, "input/") && strings.HasSuffix(file.Name, ".go") && !strings.Contains(string(file.Data), "import \"C\"") {
				f.Add(string(file.Data))
			}
		}
	}
	// Standard-library sources, as they are and with every top-level
	// function marked.
	goroot, _ := exec.Command("go", "env", "GOROOT").Output()
	for _, name := range []string{"strings/strings.go", "sort/sort.go", "bufio/scan.go", "errors/wrap.go", "container/list/list.go"} {
		data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "src", name))
		if err != nil {
			continue
		}
		f.Add(string(data))
		f.Add(strings.ReplaceAll(string(data), "\nfunc ", "\n//fluxloop:trace\nfunc "))
	}
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/fuzz\n\ngo 1.26\n"), 0o644)
		// The runtime is not required: only the first run, on sources
		// that do not import it, is of interest.
		os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644)
		res, err := Generate(context.Background(), Options{Dir: dir, Env: append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("generator crashed: %v\ninput:\n%s", err, src)
			}
			return
		}
		_ = res
	})
}
