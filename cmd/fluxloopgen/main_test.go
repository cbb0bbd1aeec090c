package main

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// TestMain lets the scripts run the test binary as the fluxloopgen command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"fluxloopgen": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestScripts runs the command-line scripts in testdata/script: flags, exit
// codes, messages, and that nothing is modified after an error.
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	root, err := filepath.Abs(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("REPO", root)
			e.Setenv("GOFLAGS", "-mod=mod")
			for _, k := range []string{"GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "HOME"} {
				if v := os.Getenv(k); v != "" {
					e.Setenv(k, v)
				}
			}
			if os.Getenv("GOMODCACHE") == "" {
				e.Setenv("GOMODCACHE", goEnv(t, "GOMODCACHE"))
			}
			if os.Getenv("GOCACHE") == "" {
				e.Setenv("GOCACHE", goEnv(t, "GOCACHE"))
			}
			return os.WriteFile(filepath.Join(e.WorkDir, "go.sum.repo"), sum, 0o644)
		},
	})
}

func goEnv(t *testing.T, key string) string {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestExitCodes checks the three exit statuses: 0 success, 1 for -check
// with changes, 2 for errors.
func TestExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir := tempModule(t)
	write(t, filepath.Join(dir, "main.go"), "package main\n\n//fluxloop:trace\nfunc F() int { return 1 }\n\nfunc main() { F() }\n")
	t.Chdir(dir)
	t.Setenv("GOFLAGS", "-mod=mod") // let the go command fill in go.mod
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"-check"}, &out, &errb); code != 1 {
		t.Errorf("-check before generating: exit %d, want 1 (%s)", code, errb.String())
	}
	if code := run(ctx, nil, &out, &errb); code != 0 {
		t.Fatalf("generate: exit %d, want 0 (%s)", code, errb.String())
	}
	if code := run(ctx, []string{"-check"}, &out, &errb); code != 0 {
		t.Errorf("-check after generating: exit %d, want 0 (%s)", code, errb.String())
	}
	write(t, filepath.Join(dir, "bad.go"), "package main\n\n//fluxloop:trcae\nfunc G() {}\n")
	errb.Reset()
	if code := run(ctx, nil, &out, &errb); code != 2 {
		t.Errorf("bad directive: exit %d, want 2", code)
	}
	if want := "bad.go:3:1: unknown directive //fluxloop:trcae; did you mean //fluxloop:trace?"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr %q does not contain %q", errb.String(), want)
	}
	if code := run(ctx, []string{"-nosuchflag"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
}

func tempModule(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/m\n\ngo 1.26\n\nrequire github.com/fluxloop/fluxloop-go v0.0.0\n\nreplace github.com/fluxloop/fluxloop-go => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "go.sum"), string(sum))
	return dir
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGoModRequirement runs fluxloopgen on a fresh module that does not
// require fluxloop-go: it must add the requirement as go get would (go.mod
// and go.sum), so the instrumented module builds, or with -gomod=false stop
// with the exact command and change nothing. The module is served from a
// file-based module proxy holding this checkout as version v0.1.0.
func TestGoModRequirement(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	proxy := t.TempDir()
	makeProxy(t, proxy, "v0.1.0")
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/fresh\n\ngo 1.26\n")
	src := "package main\n\nimport \"fmt\"\n\n//fluxloop:agent\nfunc Hello(name string) string { return \"hello \" + name }\n\nfunc main() { fmt.Println(Hello(\"go\")) }\n"
	write(t, filepath.Join(dir, "main.go"), src)
	t.Chdir(dir)
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(proxy)+","+goEnv(t, "GOPROXY"))
	t.Setenv("GONOSUMDB", "github.com/fluxloop")
	// A module cache of its own: the shared one may hold an earlier
	// checkout served as the same v0.1.0.
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOFLAGS", "-mod=mod -modcacherw")
	ctx := context.Background()

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"-gomod=false"}, &out, &errb); code != 2 {
		t.Fatalf("-gomod=false: exit %d, want 2", code)
	}
	if want := "run: go get github.com/fluxloop/fluxloop-go@"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr %q does not give the command %q", errb.String(), want)
	}
	if got, _ := os.ReadFile("main.go"); string(got) != src {
		t.Errorf("main.go changed after an error")
	}

	errb.Reset()
	version = "v0.1.0"
	defer func() { version = "" }()
	if code := run(ctx, nil, &out, &errb); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errb.String())
	}
	gomod, _ := os.ReadFile("go.mod")
	if !strings.Contains(string(gomod), "github.com/fluxloop/fluxloop-go v0.1.0") {
		t.Errorf("go.mod does not require fluxloop-go v0.1.0:\n%s", gomod)
	}
	if sum, _ := os.ReadFile("go.sum"); !strings.Contains(string(sum), "github.com/fluxloop/fluxloop-go v0.1.0") {
		t.Errorf("go.sum has no checksum for fluxloop-go v0.1.0")
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Env = append(os.Environ(), "FLUXLOOP_STORAGE=memory")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "hello go") {
		t.Errorf("instrumented fresh module does not run: %v\n%s", err, b)
	}
}

// makeProxy writes a file-based module proxy that serves this checkout of
// github.com/fluxloop/fluxloop-go at version.
func makeProxy(t *testing.T, proxy, version string) {
	t.Helper()
	root, err := filepath.Abs(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	mv := module.Version{Path: "github.com/fluxloop/fluxloop-go", Version: version}
	dir := filepath.Join(proxy, "github.com", "fluxloop", "fluxloop-go", "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var zbuf bytes.Buffer
	if err := modzip.CreateFromDir(&zbuf, mv, root); err != nil {
		t.Fatal(err)
	}
	if _, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len())); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": []byte(`{"Version":"` + version + `"}`),
		version + ".mod":  gomod,
		version + ".zip":  zbuf.Bytes(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGoTool runs fluxloopgen the way the README recommends: tracked as a
// tool of the user's module (go get -tool, Go 1.24's tool directive) and
// called from a //go:generate line. The module comes from a file-based
// module proxy holding this checkout as v0.1.0.
func TestGoTool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds fluxloopgen from a module proxy")
	}
	proxy := t.TempDir()
	makeProxy(t, proxy, "v0.1.0")
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/tool\n\ngo 1.26\n")
	write(t, filepath.Join(dir, "main.go"), "package main\n\n//go:generate go tool fluxloopgen\n\nimport \"fmt\"\n\n//fluxloop:agent\nfunc Hello(name string) string { return \"hello \" + name }\n\nfunc main() { fmt.Println(Hello(\"tool\")) }\n")
	env := append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+","+goEnv(t, "GOPROXY"),
		"GONOSUMDB=github.com/fluxloop", "GOFLAGS=-mod=mod", "FLUXLOOP_STORAGE=memory")
	for _, args := range [][]string{
		{"get", "-tool", "github.com/fluxloop/fluxloop-go/cmd/fluxloopgen@v0.1.0"},
		{"generate", "./..."},
		{"run", "."},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "run" && !strings.Contains(string(out), "hello tool") {
			t.Errorf("go run printed %q", out)
		}
	}
	src, _ := os.ReadFile(filepath.Join(dir, "main.go"))
	if !strings.Contains(string(src), "fluxloop.EnterLocal(&__fluxloopSite_Hello)") {
		t.Errorf("go generate did not instrument main.go:\n%s", src)
	}
	cmd := exec.Command("go", "tool", "fluxloopgen", "-version")
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "fluxloopgen v0.1.0") {
		t.Errorf("go tool fluxloopgen -version = %q, %v; want v0.1.0 from the build info", out, err)
	}
}
