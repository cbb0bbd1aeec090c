// Package adoption checks what a service takes on when it adopts the
// runtime: a throwaway service module pinned to older OpenTelemetry and
// gRPC versions adds github.com/fluxloop/fluxloop-go/runtime (through a
// replace to this checkout), runs go mod tidy, and must keep every selected
// version, add only the runtime and goid to its build list, keep its go
// line, and link nothing of dst, x/tools or the OpenTelemetry SDK.
package adoption

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The service's own dependencies, at versions older than the ones the
// runtime's sibling modules (otlp) are built with.
const serviceGoMod = `module example.com/service

go 1.24.0

require (
	go.opentelemetry.io/otel v1.35.0
	go.opentelemetry.io/otel/trace v1.35.0
	google.golang.org/grpc v1.70.0
)
`

const serviceMain = `package main

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"
)

func main() {
	_, span := otel.Tracer("service").Start(context.Background(), "boot")
	defer span.End()
	defer flush()
	srv := grpc.NewServer()
	defer srv.Stop()
	fmt.Println(answer(context.Background(), "ping"))
}
`

// agent.go as fluxloopgen writes a traced function (the shape matters
// little: what counts is the import).
const serviceAgent = `package main

import (
	"context"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

var siteAnswer = fluxloop.Site{Name: "answer", Type: fluxloop.TypeAgent, Params: []string{"q"}}

func answer(ctx context.Context, q string) (r string) {
	ctx, span := fluxloop.Enter(ctx, &siteAnswer)
	if span != nil {
		span.Inputs(fluxloop.String(q))
		defer func() { span.Return(nil, fluxloop.String(r)) }()
	}
	return "pong: " + q
}

func flush() { fluxloop.Shutdown(context.Background()) }
`

const plainAgent = `package main

import "context"

func answer(ctx context.Context, q string) string { return "pong: " + q }

func flush() {}
`

func TestAdoptRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads OpenTelemetry and gRPC from the module proxy")
	}
	dir := t.TempDir()
	write(t, dir, "go.mod", serviceGoMod)
	write(t, dir, "main.go", serviceMain)
	write(t, dir, "agent.go", plainAgent)
	goCmd(t, dir, "mod", "tidy")
	before := buildList(t, dir)
	goLineBefore := goLine(t, dir)

	write(t, dir, "agent.go", serviceAgent)
	runtimeDir := filepath.Join(checkout(t), "runtime")
	goCmd(t, dir, "mod", "edit",
		"-require=github.com/fluxloop/fluxloop-go/runtime@v0.2.0",
		"-replace=github.com/fluxloop/fluxloop-go/runtime="+runtimeDir)
	goCmd(t, dir, "mod", "tidy")
	after := buildList(t, dir)

	var changed, added []string
	for path, v := range before {
		if w, ok := after[path]; !ok {
			changed = append(changed, path+" "+v+" => (gone)")
		} else if w != v {
			changed = append(changed, path+" "+v+" => "+w)
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			added = append(added, path)
		}
	}
	slices.Sort(changed)
	slices.Sort(added)
	t.Logf("build list: %d modules before, %d after; added %v", len(before), len(after), added)
	if len(changed) > 0 {
		t.Errorf("adopting the runtime changed %d selected versions:\n%s", len(changed), strings.Join(changed, "\n"))
	}
	if want := []string{"github.com/fluxloop/fluxloop-go/runtime", "github.com/petermattis/goid"}; !slices.Equal(added, want) {
		t.Errorf("adopting the runtime added %v, want %v", added, want)
	}
	if g := goLine(t, dir); g != goLineBefore {
		t.Errorf("go line changed from %s to %s", goLineBefore, g)
	}

	bin := filepath.Join(dir, "service")
	goCmd(t, dir, "build", "-o", bin, ".")
	out := goCmd(t, dir, "version", "-m", bin)
	for _, banned := range []string{"github.com/dave/dst", "golang.org/x/tools", "go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "github.com/fluxloop/fluxloop-go "} {
		if strings.Contains(out, banned) {
			t.Errorf("the service links %s:\n%s", banned, out)
		}
	}
	if !strings.Contains(out, "github.com/fluxloop/fluxloop-go/runtime") {
		t.Errorf("the service does not link the runtime:\n%s", out)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FLUXLOOP_DIR="+filepath.Join(dir, "traces"))
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "pong: ping") {
		t.Fatalf("service: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "traces", "observations.jsonl")); err != nil {
		t.Errorf("the service recorded nothing: %v", err)
	}
}

// buildList is the module path → selected version of every module in the
// build list but the main module.
func buildList(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(goCmd(t, dir, "list", "-m", "-f", "{{if not .Main}}{{.Path}} {{.Version}}{{end}}", "all")), "\n") {
		if path, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			m[path] = v
		}
	}
	return m
}

func goLine(t *testing.T, dir string) string {
	t.Helper()
	return strings.TrimSpace(goCmd(t, dir, "list", "-m", "-f", "{{.GoVersion}}"))
}

func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkout is the root of this repository.
func checkout(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}
