package fluxloop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
)

// Secrets are redacted by default wherever they sit in captured values:
// HTTP headers, maps (nested too), struct fields, URL userinfo and query
// parameters, parameter names and attributes.
func TestSecretsRedactedByDefault(t *testing.T) {
	mem := fluxloop.NewMemoryStorage()
	c := install(t, fluxloop.WithStorage(mem))
	u, _ := url.Parse("https://bob:hunter2@api.example.com/v1?api_key=sk-query&q=go&access_token=tok-query")
	h := http.Header{"Authorization": {"Bearer sk-header"}, "Cookie": {"session=cookie-secret"}, "Accept": {"json"}}
	type Creds struct {
		Password string
		APIKey   string `json:"api_key"`
		Name     string
	}
	_, s := fluxloop.Start(context.Background(), "probe",
		fluxloop.WithInput("url", u),
		fluxloop.WithInput("headers", h),
		fluxloop.WithInput("form", url.Values{"client_secret": {"form-secret"}, "x": {"1"}}),
		fluxloop.WithInput("creds", &Creds{"struct-password", "struct-key", "visible-name"}),
		fluxloop.WithInput("m", map[string]any{"password": "map-password", "nested": map[string]string{"X-Api-Key": "map-key", "set-cookie": "map-cookie"}}),
		fluxloop.WithInput("password", "param-password"))
	s.SetAttributes(fluxloop.Attribute("authorization", "Bearer attr-secret"))
	s.End()
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	obs := mem.Observations()
	if len(obs) != 1 {
		t.Fatalf("%d observations", len(obs))
	}
	md, _ := json.Marshal(obs[0].Metadata)
	text := string(obs[0].Input) + string(md)
	for _, secret := range []string{"hunter2", "sk-query", "tok-query", "sk-header", "cookie-secret", "form-secret",
		"struct-password", "struct-key", "map-password", "map-key", "map-cookie", "param-password", "attr-secret"} {
		if strings.Contains(text, secret) {
			t.Errorf("secret %q recorded:\n%s", secret, text)
		}
	}
	for _, kept := range []string{"visible-name", "q=go", `"Accept":["json"]`, `"x":["1"]`, "api.example.com"} {
		if !strings.Contains(text, kept) {
			t.Errorf("%q not recorded:\n%s", kept, text)
		}
	}
}

// The file storage's directory is 0700 and its files 0600, whatever the
// umask allows.
func TestFileStoragePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	c := install(t, fluxloop.WithDir(dir))
	_, s := fluxloop.Start(context.Background(), "root")
	s.End()
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		dir: 0o700,
		filepath.Join(dir, fluxloop.ObservationsFile): 0o600,
		filepath.Join(dir, fluxloop.TracesFile):       0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}
