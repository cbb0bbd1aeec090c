package otlp_test

import (
	"context"
	"os"
	"testing"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/fluxloop/fluxloop-go/runtime/fluxlooptest"
	"github.com/fluxloop/fluxloop-go/runtime/otlp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTracer returns an OpenTelemetry SDK tracer whose ended spans rec holds.
func newTracer(t *testing.T, opts ...sdktrace.TracerProviderOption) (trace.Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(rec)}, opts...)...)
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp.Tracer("test"), rec
}

// withBridge installs the bridge for the test and removes it after, leaving
// the state importing the package makes: no bridge.
func withBridge(t *testing.T) {
	otlp.InstallBridge()
	t.Cleanup(func() { fluxloop.SetBridge(nil) })
}

// bridgedAtStart is whether the bridge was installed before any test ran,
// with the package only imported.
var bridgedAtStart bool

func TestMain(m *testing.M) {
	bridgedAtStart = bridged()
	os.Exit(m.Run())
}

// bridged reports whether fluxloop's bridge joins an observation started
// under an OpenTelemetry span to that span's trace.
func bridged() bool {
	c, err := fluxloop.NewClient(fluxloop.WithStorage(fluxloop.NewMemoryStorage()))
	if err != nil {
		panic(err)
	}
	defer c.Shutdown(context.Background())
	otel := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	_, obs := c.Start(trace.ContextWithSpanContext(context.Background(), otel), "probe")
	defer obs.End()
	return obs.SpanContext().TraceID == [16]byte(otel.TraceID())
}

func TestImportLeavesBridgeUnset(t *testing.T) {
	if bridgedAtStart {
		t.Fatal("importing the package installed the bridge")
	}
	fluxloop.SetBridge(nil)
	t.Cleanup(func() { fluxloop.SetBridge(nil) })
	if bridged() {
		t.Fatal("bridged after SetBridge(nil)")
	}
	otlp.InstallBridge()
	if !bridged() {
		t.Fatal("InstallBridge did not install the bridge")
	}
	otlp.InstallBridge() // again: no harm
	if !bridged() {
		t.Fatal("a second InstallBridge removed the bridge")
	}
}

var siteStep = fluxloop.Site{Name: "Step", Type: fluxloop.TypeTool, Params: []string{"n"}}

// step is a function as fluxloopgen instruments it, which starts an
// OpenTelemetry span inside.
func step(ctx context.Context, tr trace.Tracer, n int) (r0 int) {
	ctx, span := fluxloop.Enter(ctx, &siteStep)
	if span != nil {
		span.Inputs(fluxloop.V(n))
		defer func() { span.Return(nil, fluxloop.V(r0)) }()
	}
	_, db := tr.Start(ctx, "db.query")
	db.End()
	return n + 1
}

func TestObservationJoinsOTelTrace(t *testing.T) {
	withBridge(t)
	rec := fluxlooptest.New(t)
	tr, spans := newTracer(t)

	ctx, server := tr.Start(context.Background(), "HTTP GET /ask", trace.WithSpanKind(trace.SpanKindServer))
	_, agent := fluxloop.Start(ctx, "Agent", fluxloop.WithType(fluxloop.TypeAgent))
	agent.End()
	server.End()

	sc := server.SpanContext()
	o := rec.MustGet("Agent")
	if o.TraceID != sc.TraceID().String() || o.ParentObservationID != sc.SpanID().String() {
		t.Errorf("Agent is in trace %s under %s, want trace %s under %s", o.TraceID, o.ParentObservationID, sc.TraceID(), sc.SpanID())
	}
	if len(rec.Traces()) != 1 {
		t.Errorf("the observation is a local root, its run should have a trace record: %v", rec.Traces())
	}
	if len(spans.Ended()) != 1 {
		t.Errorf("ended OpenTelemetry spans: %v", spans.Ended())
	}
}

func TestUnsampledOTelParentIsNotRecorded(t *testing.T) {
	withBridge(t)
	rec := fluxlooptest.New(t)
	tr, _ := newTracer(t, sdktrace.WithSampler(sdktrace.NeverSample()))

	ctx, server := tr.Start(context.Background(), "HTTP GET /ask")
	_, agent := fluxloop.Start(ctx, "Agent")
	agent.End()
	server.End()
	if obs := rec.Observations(); len(obs) != 0 {
		t.Errorf("recorded under an unsampled OpenTelemetry span:\n%s", rec.Tree())
	}
}

func TestOTelSpanNestsUnderObservation(t *testing.T) {
	withBridge(t)
	rec := fluxlooptest.New(t)
	tr, spans := newTracer(t)

	// OpenTelemetry root -> fluxloop agent -> generated step -> OpenTelemetry db.query
	ctx, server := tr.Start(context.Background(), "HTTP POST /run")
	actx, agent := fluxloop.Start(ctx, "Agent", fluxloop.WithType(fluxloop.TypeAgent))
	if got := step(actx, tr, 1); got != 2 {
		t.Fatalf("step returned %d", got)
	}
	_, direct := tr.Start(actx, "cache.get")
	direct.End()
	agent.End()
	server.End()

	agentObs, stepObs := rec.MustGet("Agent"), rec.MustGet("Step")
	if stepObs.ParentObservationID != agentObs.ID {
		t.Errorf("Step not under Agent:\n%s", rec.Tree())
	}
	ended := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		ended[s.Name()] = s
	}
	root := server.SpanContext().TraceID().String()
	for name, parent := range map[string]fluxloop.Observation{"db.query": stepObs, "cache.get": agentObs} {
		s := ended[name]
		if s == nil {
			t.Fatalf("no OpenTelemetry span %q", name)
		}
		if s.SpanContext().TraceID().String() != root || s.Parent().SpanID().String() != parent.ID {
			t.Errorf("%s: trace %s parent %s, want trace %s parent %s (%s)", name,
				s.SpanContext().TraceID(), s.Parent().SpanID(), root, parent.ID, parent.Name)
		}
		if s.Parent().IsRemote() {
			t.Errorf("%s: the observation parent is marked remote", name)
		}
		if !s.SpanContext().IsSampled() {
			t.Errorf("%s: not sampled", name)
		}
	}
}

func TestBridgeRemoved(t *testing.T) {
	withBridge(t)
	fluxloop.SetBridge(nil)
	rec := fluxlooptest.New(t)
	tr, spans := newTracer(t)

	ctx, server := tr.Start(context.Background(), "HTTP GET /")
	actx, agent := fluxloop.Start(ctx, "Agent")
	_, child := tr.Start(actx, "child")
	child.End()
	agent.End()
	server.End()

	if o := rec.MustGet("Agent"); o.TraceID == server.SpanContext().TraceID().String() {
		t.Errorf("joined the OpenTelemetry trace without a bridge")
	}
	for _, s := range spans.Ended() {
		if s.Name() == "child" && s.Parent().SpanID() != server.SpanContext().SpanID() {
			t.Errorf("child's parent is %s, want the OpenTelemetry server span", s.Parent().SpanID())
		}
	}
}
