package fluxloopllm

import (
	"net/http"
	"reflect"
	"runtime"
	"testing"
)

func TestLibraryFrames(t *testing.T) {
	for _, c := range []struct {
		fn, file string
		lib      bool
	}{
		// an SDK's function literal inlined into the program: the
		// program's name, the SDK's file
		{"github.com/fluxloop/fluxloop-go/internal/llmtest.TestGenAIStreamCodePosition.Models.GenerateContentStream.func2",
			"/root/go/pkg/mod/google.golang.org/genai@v1.77.0/models.go", true},
		{"main.main.Models.GenerateContentStream.func2", "google.golang.org/genai@v1.77.0/models.go", true}, // -trimpath
		{"main.main.func1", "/src/app/vendor/google.golang.org/genai/models.go", true},
		{"github.com/googleapis/gax-go/v2.invoke", "/root/go/pkg/mod/github.com/googleapis/gax-go/v2@v2.22.0/invoke.go", true},
		{"main.f", "/root/go/pkg/mod/github.com/googleapis/gax-go/v2@v2.22.0/invoke.go", true},
		{"main.f", "/root/go/pkg/mod/cloud.google.com/go/aiplatform@v1.120.0/apiv1/prediction_client.go", true},
		{"main.f", "/root/go/pkg/mod/google.golang.org/api@v0.250.0/transport/http/dial.go", true},
		{"main.f", "/root/go/pkg/mod/github.com/openai/openai-go/v3@v3.2.0/client.go", true},
		{"main.f", "/root/go/pkg/mod/github.com/tmc/langchaingo@v0.1.14/llms/googleai/googleai.go", true},
		// the program: its own files, whatever its directory is called
		{"main.main", "/home/u/app/main.go", false},
		{"main.main", "/home/u/src/github.com/openai/openai-go/examples/main.go", false},
		{"main.main", "/root/go/pkg/mod/github.com/tmc/langchaingox@v1.0.0/x.go", false}, // not the langchaingo module
	} {
		if got := isLibrary(c.fn, c.file, libraryPrefixes); got != c.lib {
			t.Errorf("isLibrary(%s, %s) = %v, want %v", c.fn, c.file, got, c.lib)
		}
	}
	// WithLibraryPackages prefixes, upper case escaped in the module cache
	if !isLibrary("main.f", "/root/go/pkg/mod/github.com/!corp/llm@v1.0.0/wrap.go", []string{"github.com/Corp/llm"}) {
		t.Error("a WithLibraryPackages module in the module cache is not a library")
	}
}

// net/http is library code by file too, wherever GOROOT is.
func TestNetHTTPFrames(t *testing.T) {
	if netHTTPDir == "" {
		t.Fatal("net/http's directory not found")
	}
	f := runtime.FuncForPC(reflect.ValueOf(http.NewRequestWithContext).Pointer())
	file, _ := f.FileLine(f.Entry())
	if !frameOf(f.Entry() + 1).lib {
		t.Errorf("net/http frame in %s not classified as library (net/http directory %s)", file, netHTTPDir)
	}
}
