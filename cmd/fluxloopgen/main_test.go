package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluxloop/fluxloop-go/generator"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/modfile"
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
// codes, messages, and that nothing is modified after an error. A script
// makes a module that uses this checkout with cp go.mod.repo go.mod and cp
// go.sum.repo go.sum; $REPO is the checkout's root.
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	root, err := filepath.Abs(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	gomod, sum := repoModFiles(t, "example.com/m")
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
			if err := os.WriteFile(filepath.Join(e.WorkDir, "go.mod.repo"), []byte(gomod), 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(e.WorkDir, "go.sum.repo"), []byte(sum), 0o644)
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
	dir := t.TempDir()
	gomod, sum := repoModFiles(t, "example.com/m")
	write(t, filepath.Join(dir, "go.mod"), gomod)
	write(t, filepath.Join(dir, "go.sum"), sum)
	return dir
}

// repoModFiles returns the go.mod of a module named path that uses this
// checkout, and its go.sum: it requires fluxloop-go and the runtime module,
// replaced with their directories here, and replaces every other module the
// root's go.mod replaces with a directory of the checkout (the module set's
// other modules) the same way. The go.sum is the union of theirs.
func repoModFiles(t *testing.T, path string) (gomod, gosum string) {
	t.Helper()
	root, err := filepath.Abs(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	f := parseGoMod(t, filepath.Join(root, "go.mod"))
	dirs := map[string]string{
		generator.ModulePath:        root,
		generator.RuntimeModulePath: filepath.Join(root, "runtime"),
	}
	for _, r := range f.Replace {
		if modfile.IsDirectoryPath(r.New.Path) && r.New.Version == "" {
			dir := r.New.Path
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(root, dir)
			}
			dirs[r.Old.Path] = dir
		}
	}
	paths := make([]string, 0, len(dirs))
	for p := range dirs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	fmt.Fprintf(&b, "module %s\n\ngo 1.26\n\nrequire (\n\t%s v0.0.0\n\t%s v0.0.0\n)\n\n", path, generator.ModulePath, generator.RuntimeModulePath)
	seen := map[string]bool{}
	var sums []string
	for _, p := range paths {
		fmt.Fprintf(&b, "replace %s => %s\n", p, dirs[p])
		data, err := os.ReadFile(filepath.Join(dirs[p], "go.sum"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if line != "" && !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			if line != "" && !seen[line] {
				seen[line] = true
				sums = append(sums, line)
			}
		}
	}
	return b.String(), strings.Join(sums, "")
}

func parseGoMod(t *testing.T, path string) *modfile.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGoModRequirement runs fluxloopgen on a fresh module that does not
// require the runtime module: it must add the requirement as go get would
// (go.mod and go.sum), so the instrumented module builds, or with
// -gomod=false stop with the exact command and change nothing. The runtime
// module is served from a file-based module proxy holding this checkout's
// modules as version v0.1.0.
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
	if want := "run: go get " + generator.RuntimeModulePath + "@"; !strings.Contains(errb.String(), want) {
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
	f := parseGoMod(t, "go.mod")
	if !requires(f, generator.RuntimeModulePath, "v0.1.0") {
		gomod, _ := os.ReadFile("go.mod")
		t.Errorf("go.mod does not require %s v0.1.0:\n%s", generator.RuntimeModulePath, gomod)
	}
	if requires(f, generator.ModulePath, "") {
		t.Errorf("go.mod requires the root module %s, which instrumented code does not need", generator.ModulePath)
	}
	if sum, _ := os.ReadFile("go.sum"); !strings.Contains(string(sum), generator.RuntimeModulePath+" v0.1.0 ") {
		t.Errorf("go.sum has no checksum for %s v0.1.0:\n%s", generator.RuntimeModulePath, sum)
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Env = append(os.Environ(), "FLUXLOOP_STORAGE=memory")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "hello go") {
		t.Errorf("instrumented fresh module does not run: %v\n%s", err, b)
	}
}

// TestGoModReplace runs fluxloopgen on a module whose go.mod replaces the
// runtime module with this checkout's directory but does not require it:
// asking a proxy for the module would fail (it is not published at this
// version, or at all), so fluxloopgen adds the require line itself, at the
// replaced version (the zero pseudo-version for a replace of every version),
// keeps the replace, and completes go.sum, so the module builds without
// -mod=mod. With -gomod=false it stops with the command to run and changes
// nothing.
func TestGoModReplace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	root, err := filepath.Abs(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	runtimeDir := filepath.Join(root, "runtime")
	for _, tc := range []struct {
		name, old, want string
	}{
		{"every version", "", "v0.0.0-00010101000000-000000000000"},
		{"one version", " v0.9.1", "v0.9.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			gomod := "module example.com/local\n\ngo 1.26\n\nreplace " + generator.RuntimeModulePath + tc.old + " => " + runtimeDir + "\n"
			write(t, filepath.Join(dir, "go.mod"), gomod)
			src := "package main\n\nimport \"fmt\"\n\n//fluxloop:agent\nfunc Hello(name string) string { return \"hello \" + name }\n\nfunc main() { fmt.Println(Hello(\"local\")) }\n"
			write(t, filepath.Join(dir, "main.go"), src)
			t.Chdir(dir)
			// The default -mod=readonly: go.mod and go.sum as written
			// must be complete.
			t.Setenv("GOFLAGS", "")
			ctx := context.Background()

			var out, errb bytes.Buffer
			if code := run(ctx, []string{"-gomod=false"}, &out, &errb); code != 2 {
				t.Fatalf("-gomod=false: exit %d, want 2 (%s)", code, errb.String())
			}
			if want := "run: go get " + generator.RuntimeModulePath + "@" + tc.want; !strings.Contains(errb.String(), want) {
				t.Errorf("stderr %q does not give the command %q", errb.String(), want)
			}
			if got, _ := os.ReadFile("go.mod"); string(got) != gomod {
				t.Errorf("go.mod changed after an error:\n%s", got)
			}
			if got, _ := os.ReadFile("main.go"); string(got) != src {
				t.Errorf("main.go changed after an error")
			}

			errb.Reset()
			version = "v0.1.0" // a release version, which no proxy serves here
			defer func() { version = "" }()
			if code := run(ctx, nil, &out, &errb); code != 0 {
				t.Fatalf("generate: exit %d: %s", code, errb.String())
			}
			f := parseGoMod(t, "go.mod")
			if !requires(f, generator.RuntimeModulePath, tc.want) {
				data, _ := os.ReadFile("go.mod")
				t.Errorf("go.mod does not require %s %s:\n%s", generator.RuntimeModulePath, tc.want, data)
			}
			if len(f.Replace) != 1 || f.Replace[0].New.Path != runtimeDir {
				t.Errorf("go.mod lost its replace: %+v", f.Replace)
			}
			if got, _ := os.ReadFile("main.go"); !strings.Contains(string(got), "fluxloop.EnterLocal(&__fluxloopSite_Hello)") {
				t.Errorf("main.go not instrumented:\n%s", got)
			}
			cmd := exec.Command("go", "run", ".")
			cmd.Env = append(os.Environ(), "FLUXLOOP_STORAGE=memory")
			if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "hello local") {
				t.Errorf("instrumented module does not build and run with go.mod as written: %v\n%s", err, b)
			}
		})
	}
}

// requires reports whether f requires path (at version, unless "").
func requires(f *modfile.File, path, version string) bool {
	for _, r := range f.Require {
		if r.Mod.Path == path && (version == "" || r.Mod.Version == version) {
			return true
		}
	}
	return false
}

// makeProxy writes a file-based module proxy that serves this checkout's
// modules at version: the root github.com/fluxloop/fluxloop-go (with
// fluxloopgen) and every module of the set it replaces with a directory of
// the checkout, github.com/fluxloop/fluxloop-go/runtime among them. In the
// go.mod files served, requirements of the set's modules are at version and
// the replace directives are gone, as in a release.
func makeProxy(t *testing.T, proxy, version string) {
	t.Helper()
	root, err := filepath.Abs(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{
		generator.ModulePath:        root,
		generator.RuntimeModulePath: filepath.Join(root, "runtime"),
	}
	for _, r := range parseGoMod(t, filepath.Join(root, "go.mod")).Replace {
		if modfile.IsDirectoryPath(r.New.Path) && strings.HasPrefix(r.Old.Path, generator.ModulePath+"/") {
			dir := r.New.Path
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(root, dir)
			}
			dirs[r.Old.Path] = dir
		}
	}
	for path, dir := range dirs {
		gomod := releaseGoMod(t, filepath.Join(dir, "go.mod"), dirs, version)
		mv := module.Version{Path: path, Version: version}
		files, err := moduleFiles(dir, gomod)
		if err != nil {
			t.Fatal(err)
		}
		var zbuf bytes.Buffer
		if err := modzip.Create(&zbuf, mv, files); err != nil {
			t.Fatalf("zip %s: %v", path, err)
		}
		if _, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len())); err != nil {
			t.Fatal(err)
		}
		escaped, err := module.EscapePath(path)
		if err != nil {
			t.Fatal(err)
		}
		at := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
		if err := os.MkdirAll(at, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{
			"list":            []byte(version + "\n"),
			version + ".info": []byte(`{"Version":"` + version + `"}`),
			version + ".mod":  gomod,
			version + ".zip":  zbuf.Bytes(),
		} {
			if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// releaseGoMod is the go.mod at path as a release of the module set at
// version has it: the set's modules (those in dirs) required at version, and
// no replace directives.
func releaseGoMod(t *testing.T, path string, dirs map[string]string, version string) []byte {
	t.Helper()
	f := parseGoMod(t, path)
	for _, r := range f.Require {
		if _, ok := dirs[r.Mod.Path]; ok {
			if err := f.AddRequire(r.Mod.Path, version); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range append([]*modfile.Replace(nil), f.Replace...) {
		if err := f.DropReplace(r.Old.Path, r.Old.Version); err != nil {
			t.Fatal(err)
		}
	}
	f.Cleanup()
	data, err := f.Format()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// moduleFiles lists the files of the module in dir for a module zip, as
// modzip.CreateFromDir would (no nested modules, no VCS directories), with
// go.mod's content replaced by gomod.
func moduleFiles(dir string, gomod []byte) ([]modzip.File, error) {
	var files []modzip.File
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path == dir {
				return nil
			}
			switch d.Name() {
			case ".git", ".hg", ".svn", ".bzr", "vendor":
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if rel == "go.mod" {
			files = append(files, memFile{name: rel, data: gomod})
			return nil
		}
		files = append(files, diskFile{name: rel, path: path})
		return nil
	})
	return files, err
}

// diskFile is a file of a module zip read from disk.
type diskFile struct{ name, path string }

func (f diskFile) Path() string                 { return f.name }
func (f diskFile) Lstat() (os.FileInfo, error)  { return os.Lstat(f.path) }
func (f diskFile) Open() (io.ReadCloser, error) { return os.Open(f.path) }

// memFile is a file of a module zip held in memory.
type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (os.FileInfo, error)  { return memInfo(f), nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo memFile

func (i memInfo) Name() string       { return path.Base(i.name) }
func (i memInfo) Size() int64        { return int64(len(i.data)) }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

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
