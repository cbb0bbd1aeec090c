package fluxloopllm_test

// Stand-ins for SDK code whose frames are named after the program's package
// but whose files are an SDK's, as the compiler makes them when it inlines
// an SDK function into the program: google.golang.org/genai's
// GenerateContentStream returns a function literal that, inlined into the
// caller, is named pkg.TestX.Models.GenerateContentStream.func2 with genai's
// models.go as its file. The //line directives give these functions the
// files the SDKs' sources have in the module cache. Each directive holds to
// the end of the file: keep them last, and call the HTTP client directly
// (a helper of another file would be a program frame of its own).

import (
	"context"
	"io"
	"iter"
	"net/http"
	"strings"
)

//line /root/go/pkg/mod/google.golang.org/genai@v1.77.0/models.go:5000
func sdkStream(ctx context.Context, c *http.Client, url, body string) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			yield(nil, err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			yield(nil, err)
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		yield(b, err)
	}
}

// as -trimpath writes it
//
//line github.com/googleapis/gax-go/v2@v2.22.0/invoke.go:100
func sdkInvoke(ctx context.Context, c *http.Client, url, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
