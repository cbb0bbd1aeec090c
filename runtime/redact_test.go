package fluxloop_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
)

func TestIsSecretKey(t *testing.T) {
	secret := []string{
		"password", "Password", "user_password", "passwd", "apiKey", "api_key", "API_KEY", "APIKey", "x-api-key",
		"authToken", "auth", "Authorization", "client_secret", "clientSecret", "credentials", "credential",
		"session-cookie", "privateKey", "private_key", "accessKey", "AWS_ACCESS_KEY_ID", "token", "refresh.token",
		"apikey", "secrets",
	}
	public := []string{
		"maxTokens", "max_tokens", "tokens", "keyboard", "key", "primaryKey", "author", "authority", "passage",
		"secretary", "query", "monkey", "apiVersion", "access", "cookbook", "",
	}
	for _, k := range secret {
		if !fluxloop.IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false", k)
		}
	}
	for _, k := range public {
		if fluxloop.IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true", k)
		}
	}
}

var siteLogin = fluxloop.Site{Name: "Login", Params: []string{"user", "password", "opts"}}

type loginOpts struct {
	APIKey    string            `json:"apiKey"`
	MaxTokens int               `json:"maxTokens"`
	Headers   map[string]string `json:"headers"`
	List      []map[string]any  `json:"list"`
}

func login(ctx context.Context, user, password string, opts loginOpts) (__fluxloopR0 loginOpts) {
	ctx, sp := fluxloop.Enter(ctx, &siteLogin)
	if sp != nil {
		sp.Inputs(fluxloop.V(user), fluxloop.V(password), fluxloop.V(opts))
		defer func() { sp.Return(nil, fluxloop.V(__fluxloopR0)) }()
	}
	fluxloop.SetAttributes(ctx, fluxloop.Attribute("auth_token", "tok"), fluxloop.Attribute("region", "eu"))
	return opts
}

func TestDefaultRedaction(t *testing.T) {
	rec := fluxlooptest.New(t)
	opts := loginOpts{
		APIKey:    "sk-123",
		MaxTokens: 100,
		Headers:   map[string]string{"Authorization": "Bearer x", "Accept": "json"},
		List:      []map[string]any{{"client_secret": "s", "ok": 1}},
	}
	login(context.Background(), "bob", "hunter2", opts)
	o := rec.MustGet("Login")
	want := `{"user":"bob","password":"***","opts":{"apiKey":"***","maxTokens":100,` +
		`"headers":{"Accept":"json","Authorization":"***"},"list":[{"client_secret":"***","ok":1}]}}`
	assertJSON(t, o.Input, want)
	assertJSON(t, o.Output, `{"apiKey":"***","maxTokens":100,"headers":{"Accept":"json","Authorization":"***"},"list":[{"client_secret":"***","ok":1}]}`)
	if o.Metadata["auth_token"] != "***" || o.Metadata["region"] != "eu" {
		t.Errorf("metadata = %v", o.Metadata)
	}
	for _, s := range []string{"hunter2", "sk-123", "Bearer", `"tok"`} {
		if b, _ := json.Marshal(o); strings.Contains(string(b), s) {
			t.Errorf("secret %q recorded: %s", s, b)
		}
	}
}

func TestCustomRedactor(t *testing.T) {
	var keys []string
	rec := fluxlooptest.New(t, fluxloop.WithRedactor(func(key string, v any) (any, bool) {
		keys = append(keys, key) // the writer calls it from one goroutine
		if key == "user" {
			return "<user>", true
		}
		if key == "Accept" {
			return map[string]any{"replaced": true}, true
		}
		if key == "panic" {
			panic("redactor bug")
		}
		return nil, false
	}))
	login(context.Background(), "bob", "hunter2", loginOpts{Headers: map[string]string{"Accept": "json"}})
	o := rec.MustGet("Login")
	var in struct {
		User     string
		Password string
		Opts     struct {
			Headers map[string]any
		}
	}
	if err := json.Unmarshal(o.Input, &in); err != nil {
		t.Fatal(err)
	}
	if in.User != "<user>" || in.Password != "hunter2" {
		t.Errorf("custom redactor not applied alone: %s", o.Input)
	}
	if m, _ := in.Opts.Headers["Accept"].(map[string]any); m["replaced"] != true {
		t.Errorf("nested key not offered to the redactor: %s", o.Input)
	}
	if !strings.Contains(strings.Join(keys, ","), "maxTokens") {
		t.Errorf("redactor saw keys %v, want nested ones too", keys)
	}
	// A panicking redactor masks the value instead of crashing the writer.
	rec2 := fluxlooptest.New(t, fluxloop.WithRedactor(func(key string, v any) (any, bool) {
		if key == "x" {
			panic("redactor bug")
		}
		return nil, false
	}))
	Helper("value")
	assertJSON(t, rec2.MustGet("Helper").Input, `{"x":"***"}`)
}

func TestDefaultRedactorComposes(t *testing.T) {
	r := func(key string, v any) (any, bool) {
		if key == "ssn" {
			return "XXX", true
		}
		return fluxloop.DefaultRedactor(key, v)
	}
	if v, ok := r("apiKey", "k"); !ok || v != fluxloop.Masked {
		t.Errorf("composed redactor lost the default")
	}
	if v, ok := r("ssn", "1"); !ok || v != "XXX" {
		t.Errorf("composed redactor lost its own rule")
	}
}
