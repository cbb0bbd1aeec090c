package llmtest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Requests whose bodies cannot be read twice (no GetBody: a plain reader,
// a pipe sent chunked): the transport reads the body to record it, and the
// server must still get every byte.
func TestRawNonRewindableBodies(t *testing.T) {
	t.Parallel()
	const reqBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello"}]}`
	for _, tc := range []struct {
		name string
		body func() io.Reader
	}{
		{"reader", func() io.Reader { return io.NopCloser(strings.NewReader(reqBody)) }},
		{"pipe", func() io.Reader {
			pr, pw := io.Pipe()
			go func() {
				for i := 0; i < len(reqBody); i += 5 {
					pw.Write([]byte(reqBody[i:min(i+5, len(reqBody))]))
				}
				pw.Close()
			}()
			return pr
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, routes(t, route{"POST", "/v1/chat/completions", jsonReply(t, 200, "openai/chat.json")}))
			ctx, agent := r.agent()
			req, err := http.NewRequestWithContext(ctx, "POST", r.URL+"/v1/chat/completions", tc.body())
			if err != nil {
				t.Fatal(err)
			}
			if req.GetBody != nil {
				t.Fatal("the request has GetBody")
			}
			req.Header.Set("Content-Type", "application/json")
			// Below the tee, which would read the body itself.
			resp, err := (&http.Client{Transport: r.tee.Next}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, fixture(t, "openai/chat.json")) {
				t.Errorf("client read %q", got)
			}
			if ex := r.exchanges(); len(ex) != 1 || string(ex[0].reqBody) != reqBody {
				t.Fatalf("server got %q, want %q", ex[0].reqBody, reqBody)
			}
			g := oneGen(t, r, agent)
			checkGen(t, g, want{
				name:   "chat gpt-4o",
				prompt: 19, completion: 10, total: 29,
				input:  []string{"Say hello"},
				output: []string{"Hello! How can I assist you today?"},
				file:   "-",
			})
		})
	}
}
