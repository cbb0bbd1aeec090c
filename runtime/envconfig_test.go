package fluxloop

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// Each invalid variable: Init's error names it and its value, the lazy
// default warns once with the value it uses instead.
func TestEnvInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		name, val string
		warning   string // what the lazy default prints
		check     func(Config) bool
	}{
		{"SAMPLE_RATE", "1.5", `fluxloop: FLUXLOOP_SAMPLE_RATE="1.5": must be a number between 0 and 1; using 1`, func(c Config) bool { return c.SampleRate == 1 }},
		{"SAMPLE_RATE", "NaN", `; using 1`, func(c Config) bool { return c.SampleRate == 1 }},
		{"ENABLED", "flase", `fluxloop: FLUXLOOP_ENABLED="flase": must be true or false; tracing is off until it is fixed`, func(c Config) bool { return !c.Enabled }},
		{"CAPTURE", "inputs", `fluxloop: FLUXLOOP_CAPTURE="inputs": must be all, input, output or none (did you mean "input"?); using none`, func(c Config) bool { return c.Capture == CaptureNone }},
		{"CAPTURE", "some", `must be all, input, output or none; using none`, func(c Config) bool { return c.Capture == CaptureNone }},
		{"MAX_FIELD_BYTES", "1e3", `FLUXLOOP_MAX_FIELD_BYTES="1e3": must be an integer >= 64; using 65536`, func(c Config) bool { return c.MaxFieldBytes == DefaultMaxFieldBytes }},
		{"MAX_QUEUE_SIZE", "0", `; using 16384`, func(c Config) bool { return c.MaxQueueSize == DefaultMaxQueueSize }},
		{"FLUSH_INTERVAL", "soon", `; using 200ms`, func(c Config) bool { return c.FlushInterval == DefaultFlushInterval }},
		{"FLUSH_INTERVAL", "-1s", `; using 200ms`, func(c Config) bool { return c.FlushInterval == DefaultFlushInterval }},
		{"USER_MARSHALERS", "please", `; using false`, func(c Config) bool { return !c.UserMarshalers }},
		{"DEBUG", "2", `; using false`, func(c Config) bool { return !c.Debug }},
	} {
		t.Run(tc.name+"="+tc.val, func(t *testing.T) {
			getenv := envOf(envPrefix+tc.name, tc.val)
			_, err := initConfig(getenv, nil)
			if err == nil || !strings.Contains(err.Error(), envPrefix+tc.name) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.val)) {
				t.Errorf("Init error = %v, want one naming %s and %q", err, envPrefix+tc.name, tc.val)
			}
			var w bytes.Buffer
			cfg := lazyConfig(getenv, &w)
			if strings.Count(w.String(), "\n") != 1 || !strings.Contains(w.String(), tc.warning) {
				t.Errorf("warning %q, want one line containing %q", w.String(), tc.warning)
			}
			if !tc.check(cfg) {
				t.Errorf("lazy config %+v", cfg)
			}
			if err := cfg.validate(); err != nil {
				t.Errorf("lazy config invalid: %v", err)
			}
		})
	}
}

// An option for the same setting wins over an invalid variable, which is
// then ignored; an option for another setting does not excuse it.
func TestEnvInvalidOverriddenByOption(t *testing.T) {
	for _, tc := range []struct {
		name, val string
		opt       Option
		check     func(Config) bool
	}{
		{"SAMPLE_RATE", "1.5", WithSampleRate(0.5), func(c Config) bool { return c.SampleRate == 0.5 }},
		{"ENABLED", "flase", WithEnabled(true), func(c Config) bool { return c.Enabled }},
		{"ENABLED", "flase", WithEnabled(false), func(c Config) bool { return !c.Enabled }},
		{"CAPTURE", "inputs", WithCapture(CaptureInput), func(c Config) bool { return c.Capture == CaptureInput }},
		{"CAPTURE", "inputs", WithCapture(CaptureAll), func(c Config) bool { return c.Capture == CaptureAll }},
		{"MAX_DEPTH", "deep", WithMaxDepth(3), func(c Config) bool { return c.MaxDepth == 3 }},
		{"FLUSH_INTERVAL", "soon", WithFlushInterval(DefaultFlushInterval), func(c Config) bool { return c.FlushInterval == DefaultFlushInterval }},
		{"DEBUG", "2", WithDebug(false), func(c Config) bool { return !c.Debug }},
	} {
		getenv := envOf(envPrefix+tc.name, tc.val)
		cfg, err := initConfig(getenv, []Option{nil, WithServiceName("svc"), tc.opt})
		if err != nil || !tc.check(cfg) {
			t.Errorf("%s=%s with an option for it: %v, %+v", tc.name, tc.val, err, cfg)
		}
		if _, err := initConfig(getenv, []Option{WithServiceName("svc")}); err == nil {
			t.Errorf("%s=%s with an option for another setting: no error", tc.name, tc.val)
		}
	}
}

func TestParseCaptureOneSpelling(t *testing.T) {
	for in, want := range map[string]Capture{"all": CaptureAll, " Input ": CaptureInput, "OUTPUT": CaptureOutput, "none": CaptureNone} {
		if got, err := ParseCapture(in); err != nil || got != want {
			t.Errorf("ParseCapture(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"inputs", "outputs", "", "some", "in put"} {
		if _, err := ParseCapture(in); err == nil {
			t.Errorf("ParseCapture(%q) accepted", in)
		}
	}
}

// Every variable with any value: Init either succeeds with a valid
// configuration or returns an error naming the variable and value; the lazy
// default warns once per invalid variable and always makes a working
// client. Nothing panics or exits.
func FuzzEnvConfig(f *testing.F) {
	for i := range envVars {
		for _, v := range []string{"", "1", "0", "-1", "1.5", "true", "flase", "inputs", "NaN", "1e400", "5s", "99999999999999999999", " x "} {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, val string) {
		name := envPrefix + envVars[int(i)%len(envVars)]
		getenv := envOf(name, val)
		cfg, err := initConfig(getenv, nil)
		trimmed := strings.TrimSpace(val)
		if err != nil {
			if msg := err.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, fmt.Sprintf("%q", trimmed)) {
				t.Fatalf("%s=%q: error %q does not name the variable and value", name, val, msg)
			}
		} else if verr := cfg.validate(); verr != nil {
			t.Fatalf("%s=%q accepted, but the config is invalid: %v", name, val, verr)
		}
		var w bytes.Buffer
		lc := lazyConfig(getenv, &w)
		if warned := w.Len() > 0; warned != (err != nil) {
			t.Fatalf("%s=%q: Init error %v, lazy warning %q", name, val, err, w.String())
		}
		if n := strings.Count(w.String(), "\n"); n > 1 {
			t.Fatalf("%s=%q: %d warnings", name, val, n)
		}
		if verr := lc.validate(); verr != nil {
			t.Fatalf("%s=%q: lazy config invalid: %v", name, val, verr)
		}
		// What defaultClient does, with a storage that cannot touch the disk.
		lc.StorageName, lc.Dir = "memory", ""
		c, cerr := newClient(lc)
		if cerr != nil {
			t.Fatalf("%s=%q: lazy client: %v", name, val, cerr)
		}
		c.Shutdown(context.Background())
	})
}
