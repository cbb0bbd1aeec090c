package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBadInputs runs fluxloopgen on inputs that are unusual or wrong: each
// gives a clear file:line:col error or a correct result (the module builds,
// and -remove gives the source back), and finishes in bounded time.
func TestBadInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gomod, sum := repoModFiles(t, "example.com/bad")
	var big strings.Builder
	big.WriteString("package main\n\n//fluxloop:trace\nfunc Big(x int) int {\n")
	for i := range 10000 {
		fmt.Fprintf(&big, "\tx += %d\n", i)
	}
	big.WriteString("\treturn x\n}\n")
	const mainGo = "package main\n\nfunc main() {}\n"
	root := os.Geteuid() == 0
	for _, tc := range []struct {
		name  string
		file  string // the file under test, besides main.go
		src   string
		setup func(t *testing.T, dir string)
		// err, when set, is the message expected (a regexp); otherwise the
		// run must succeed and the module build.
		err string
		// restored is what -remove gives back (default: src).
		restored string
		skip     string
	}{
		{name: "not Go", file: "x.go", src: "this is not Go\n//fluxloop:trace\n", err: `(?m)^x\.go:1:1: expected 'package', found this$`},
		{name: "binary", file: "x.go", src: "\x00\x01\x02//fluxloop:trace\xff\xfe", err: `(?m)^x\.go:1:1: unexpected NUL byte: not a Go source file$`},
		{name: "BOM", file: "x.go", src: "\ufeffpackage main\n\n//fluxloop:trace\nfunc F(x int) int { return x }\n"},
		{name: "CRLF", file: "x.go", src: "package main\r\n\r\n//fluxloop:trace\r\nfunc F(x int) int {\r\n\treturn x\r\n}\r\n"},
		{name: "mixed CRLF", file: "x.go", src: "package main\r\n\n//fluxloop:trace\r\nfunc F(x int) int {\n\treturn x\r\n}\n",
			restored: "package main\n\n//fluxloop:trace\nfunc F(x int) int {\n\treturn x\n}\n"},
		{name: "line directives", file: "x.go", src: "package main\n\n//line gen.y:10\n//fluxloop:trace\nfunc F(x int) int {\n\treturn x\n}\n\n//line gen.y:40\nfunc G() {}\n"},
		{name: "10000 statements", file: "x.go", src: big.String()},
		{name: "read-only file", file: "x.go", src: "package main\n\n//fluxloop:trace\nfunc F() {}\n",
			setup: func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "x.go"), 0o444) },
			err:   `(?m)^fluxloopgen: .*x\.go is read-only: make it writable \(chmod u\+w\)`},
		{name: "read-only directory", file: "x.go", src: "package main\n\n//fluxloop:trace\nfunc F() {}\n", skip: map[bool]string{true: "root writes to read-only directories"}[root],
			setup: func(t *testing.T, dir string) {
				os.Chmod(dir, 0o555)
				t.Cleanup(func() { os.Chmod(dir, 0o755) })
			},
			err: `(?m)^fluxloopgen: write .*x\.go: .*permission denied$`},
		{name: "unreadable directory", file: "sub/x.go", src: "package sub\n\n//fluxloop:trace\nfunc F() {}\n", skip: map[bool]string{true: "root reads unreadable directories"}[root],
			setup: func(t *testing.T, dir string) {
				os.Chmod(filepath.Join(dir, "sub"), 0o000)
				t.Cleanup(func() { os.Chmod(filepath.Join(dir, "sub"), 0o755) })
			},
			err: `permission denied`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			dir := t.TempDir()
			files := map[string]string{"go.mod": gomod, "go.sum": sum, "main.go": mainGo, tc.file: tc.src}
			for name, data := range files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			t.Chdir(dir)
			t.Setenv("GOFLAGS", "-mod=mod")
			t.Setenv("GOWORK", "off")
			code, stderr := runBounded(t, "-gomod=false", "./...")
			if tc.err != "" {
				if code != 2 {
					t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
				}
				if !regexp.MustCompile(tc.err).MatchString(stderr) {
					t.Errorf("stderr does not match %s:\n%s", tc.err, stderr)
				}
				if strings.Contains(stderr, "internal error") || strings.Contains(stderr, "panic") {
					t.Errorf("a crash:\n%s", stderr)
				}
				if got, _ := os.ReadFile(filepath.Join(dir, tc.file)); tc.file != "sub/x.go" && string(got) != tc.src {
					t.Errorf("%s changed after an error", tc.file)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", code, stderr)
			}
			got, _ := os.ReadFile(filepath.Join(dir, tc.file))
			if !bytes.Contains(got, []byte("fluxloop.Enter")) {
				t.Fatalf("%s not instrumented:\n%s", tc.file, got)
			}
			if out, err := exec.Command("go", "vet", "./...").CombinedOutput(); err != nil {
				t.Fatalf("go vet of the instrumented module: %v\n%s", err, out)
			}
			if code, stderr := runBounded(t, "-remove", "./..."); code != 0 {
				t.Fatalf("-remove: exit %d; stderr:\n%s", code, stderr)
			}
			want := tc.restored
			if want == "" {
				want = tc.src
			}
			if got, _ := os.ReadFile(filepath.Join(dir, tc.file)); string(got) != want {
				t.Errorf("-remove gave\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// runBounded runs the command in the test's process with a deadline, and
// fails the test when it does not return well within it.
func runBounded(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr) }()
	select {
	case code := <-done:
		return code, stderr.String()
	case <-time.After(90 * time.Second):
		t.Fatalf("fluxloopgen %s did not finish within 90s (deadline 60s)", strings.Join(args, " "))
		return 0, ""
	}
}
