package fluxloopmcp

import (
	"context"
	"reflect"
	"strings"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The keys of a request's params._meta that carry the trace context: the W3C
// Trace Context headers under their own names, as the MCP specification
// reserves them (SEP-414, "OpenTelemetry trace context": an exception to the
// rule that _meta keys carry a DNS prefix) and as the OpenTelemetry semantic
// conventions for MCP propagate them, so that fluxloop, OpenTelemetry
// instrumentations and other SDKs continue each other's traces.
const (
	// TraceparentKey holds the W3C traceparent of the sender's observation,
	// "00-<trace id>-<observation id>-<flags>".
	TraceparentKey = "traceparent"
	// TracestateKey holds the W3C tracestate. fluxloop keeps none of its
	// own: a tracestate already in the request's _meta is sent as it is, and
	// one that came in with a request a server handles is sent on with the
	// requests the handler makes (sampling).
	TracestateKey = "tracestate"
)

// The methods recorded by default.
const (
	methodCallTool      = "tools/call"
	methodReadResource  = "resources/read"
	methodGetPrompt     = "prompts/get"
	methodCreateMessage = "sampling/createMessage"
)

// Option configures ClientMiddleware and ServerMiddleware.
type Option func(*config)

type config struct {
	client  *fluxloop.Client
	all     bool
	methods map[string]bool
}

// WithClient records the observations that start a trace (or continue a
// remote one) with c instead of the default client. Observations made under
// a local parent are recorded by the parent's client, as everywhere in
// fluxloop, and, as for generated code, nothing is recorded while the
// default client is disabled. Tests use it to record each side to its own
// MemoryStorage.
func WithClient(c *fluxloop.Client) Option {
	return func(cfg *config) { cfg.client = c }
}

// WithMethods records the given methods as well, as span observations named
// after the method (for example "tools/list", "initialize", "ping",
// "notifications/progress"), with the params as input and the result as
// output. By default only tools/call, resources/read, prompts/get and
// sampling/createMessage are recorded.
func WithMethods(methods ...string) Option {
	return func(cfg *config) {
		if cfg.methods == nil {
			cfg.methods = map[string]bool{}
		}
		for _, m := range methods {
			cfg.methods[m] = true
		}
	}
}

// WithAllMethods records every method and notification (see WithMethods).
func WithAllMethods() Option {
	return func(cfg *config) { cfg.all = true }
}

// side is the end of the connection a middleware is installed on.
type side uint8

const (
	clientSide side = iota
	serverSide
)

// ClientMiddleware returns the middleware of an mcp.Client. Installed with
// Client.AddSendingMiddleware, it records each tools/call the client makes
// as a tool observation named after the tool, child of the observation
// active in the call's ctx (the agent step making it), and resources/read
// and prompts/get as span observations; each request carries that
// observation's traceparent in params._meta, so that the server's
// observations join the trace under it. Installed with
// Client.AddReceivingMiddleware as well, it records the client's handling of
// the sampling/createMessage requests the server sends, as a generation
// observation continuing the server's trace.
//
// What is recorded: the arguments as input "arguments" (the URI as "uri" for
// resources/read); as output the structured content of a tool result when it
// has one, else its content (a text item as its text, other items as
// summaries without their data); a result with isError set as an error
// (*ToolError, with the content's text), and a protocol error or a cancelled
// call as the returned error. Other methods are not recorded unless
// WithMethods or WithAllMethods asks for them.
func ClientMiddleware(opts ...Option) mcp.Middleware { return newMiddleware(clientSide, opts) }

// ServerMiddleware returns the middleware of an mcp.Server. Installed with
// Server.AddReceivingMiddleware, it records each tools/call the server
// handles as a tool observation named after the tool that continues the
// trace of the traceparent in the request's params._meta, as a child of the
// client's observation; without one it is the root of a new trace, of type
// agent. The tool handler's ctx carries the observation, so the functions
// marked //fluxloop:trace that the handler calls with it nest under it.
// resources/read and prompts/get are recorded the same way as span
// observations (roots of type span). Installed with Server.AddSendingMiddleware
// as well, it records the sampling/createMessage requests a handler sends as
// generation observations and propagates their trace context to the
// client. What is recorded is as for ClientMiddleware; on the server, a tool
// result with isError set records the handler's Go error when the SDK keeps
// it (CallToolResult.GetError, SDK v1.3 and later).
//
// A handler ctx that already carries an observation (an MCP server called
// in-process by traced code, with no transport in between) keeps it as the
// parent, as fluxloophttp does for HTTP handlers.
func ServerMiddleware(opts ...Option) mcp.Middleware { return newMiddleware(serverSide, opts) }

type middleware struct {
	config
	side side
}

func newMiddleware(s side, opts []Option) mcp.Middleware {
	m := &middleware{side: s}
	for _, o := range opts {
		if o != nil {
			o(&m.config)
		}
	}
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			k := m.kindOf(method)
			if k == kindNone || !fluxloop.Enabled() {
				return next(ctx, method, req)
			}
			return m.handle(ctx, next, method, k, req)
		}
	}
}

// kind is what a method is recorded as.
type kind uint8

const (
	kindNone kind = iota
	kindTool
	kindResource
	kindPrompt
	kindSampling
	kindOther
)

func (m *middleware) kindOf(method string) kind {
	switch method {
	case methodCallTool:
		return kindTool
	case methodReadResource:
		return kindResource
	case methodGetPrompt:
		return kindPrompt
	case methodCreateMessage:
		return kindSampling
	}
	if m.all || m.methods[method] {
		return kindOther
	}
	return kindNone
}

func (m *middleware) handle(ctx context.Context, next mcp.MethodHandler, method string, k kind, req mcp.Request) (mcp.Result, error) {
	var params mcp.Params
	if req != nil {
		params = req.GetParams()
	}
	if nilPointer(params) {
		params = nil
	}
	out, in := m.directions(method)
	remote := false
	if in && params != nil {
		ctx, remote = continueTrace(ctx, params.GetMeta())
	}

	name, typ := method, fluxloop.TypeSpan
	switch k {
	case kindTool:
		name, typ = toolName(params), fluxloop.TypeTool
		if in && !remote && fluxloop.SpanFromContext(ctx) == nil {
			typ = fluxloop.TypeAgent // a tool call that came in without a trace: the root of one
		}
	case kindPrompt:
		name = promptName(params)
	case kindSampling:
		typ = fluxloop.TypeGeneration
	}
	if m.client != nil && fluxloop.SpanFromContext(ctx) == nil {
		ctx = fluxloop.ContextWithClient(ctx, m.client)
	}
	ctx, span := fluxloop.EnterCaller(ctx, siteFor(name, typ, k), 0)
	if out && params != nil {
		sc := span.SpanContext()
		if span == nil {
			// Inside an unsampled trace no span is made: send its ids with
			// the sampled flag off, so that the server records nothing either.
			sc = fluxloop.SpanFromContext(ctx).SpanContext()
		}
		if sc.IsValid() {
			req = withTraceContext(ctx, req, sc)
		}
	}
	if span == nil {
		return next(ctx, method, req)
	}
	recording := span.Recording()
	if recording {
		recordRequest(span, method, req, params)
	}
	defer func() {
		if v := recover(); v != nil {
			span.Panic(v)
			panic(v)
		}
	}()
	res, err := next(ctx, method, req)
	if recording {
		recordResult(span, res, err)
	} else {
		span.End()
	}
	return res, err
}

// directions reports whether method is a request this side sends (out) or
// one it receives (in). A method that both sides send (ping, cancellation and
// progress notifications) is neither: it is recorded but not propagated.
func (m *middleware) directions(method string) (out, in bool) {
	d := directionOf(method)
	if d == both {
		return false, false
	}
	sends := (d == toServer) == (m.side == clientSide)
	return sends, !sends
}

type direction uint8

const (
	both direction = iota
	toServer
	toClient
)

func directionOf(method string) direction {
	switch method {
	case "ping", "notifications/cancelled", "notifications/progress":
		return both
	case "sampling/createMessage", "elicitation/create", "roots/list",
		"notifications/message", "notifications/resources/updated", "notifications/resources/list_changed",
		"notifications/tools/list_changed", "notifications/prompts/list_changed",
		"notifications/elicitation/complete":
		return toClient
	}
	if strings.HasPrefix(method, "tasks/") || strings.HasPrefix(method, "notifications/tasks/") {
		return both
	}
	return toServer
}

type tracestateKey struct{}

// continueTrace returns ctx with the remote parent of the traceparent in
// meta, if it holds a valid one, and the tracestate it came with.
func continueTrace(ctx context.Context, meta map[string]any) (context.Context, bool) {
	tp, _ := meta[TraceparentKey].(string)
	if tp == "" {
		return ctx, false
	}
	sc, ok := fluxloop.ParseTraceparent(strings.TrimSpace(tp))
	if !ok {
		return ctx, false
	}
	if ts, _ := meta[TracestateKey].(string); ts != "" {
		ctx = context.WithValue(ctx, tracestateKey{}, ts)
	}
	return fluxloop.ContextWithRemoteParent(ctx, sc), true
}

// withTraceContext returns req with a copy of its params whose _meta holds
// sc's traceparent; req and its params are left alone, so a caller may reuse
// them, even concurrently. Requests of a kind the SDK does not send from its
// sending methods are returned as they are.
func withTraceContext(ctx context.Context, req mcp.Request, sc fluxloop.SpanContext) mcp.Request {
	switch r := req.(type) {
	case *mcp.ClientRequest[mcp.Params]:
		if p := copyParams(ctx, r.Params, sc); p != nil {
			c := *r
			c.Params = p
			return &c
		}
	case *mcp.ServerRequest[mcp.Params]:
		if p := copyParams(ctx, r.Params, sc); p != nil {
			c := *r
			c.Params = p
			return &c
		}
	}
	return req
}

// copyParams returns a shallow copy of p with a new _meta: p's entries, the
// traceparent and, when p has none, the tracestate that came in with ctx's
// request. It returns nil when p is not a pointer to a struct.
func copyParams(ctx context.Context, p mcp.Params, sc fluxloop.SpanContext) mcp.Params {
	if tp, ok := p.(*mcp.CallToolParams); ok && tp != nil { // the common case, without reflection
		c := *tp
		c.Meta = traceMeta(ctx, tp.Meta, sc)
		return &c
	}
	v := reflect.ValueOf(p)
	if p == nil || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	cp, ok := c.Interface().(mcp.Params)
	if !ok {
		return nil
	}
	cp.SetMeta(traceMeta(ctx, p.GetMeta(), sc))
	return cp
}

// traceMeta returns a new _meta map: old's entries, sc's traceparent and,
// when old has no tracestate, the one that came in with ctx's request.
func traceMeta(ctx context.Context, old map[string]any, sc fluxloop.SpanContext) map[string]any {
	meta := make(map[string]any, len(old)+1)
	for k, v := range old {
		meta[k] = v
	}
	meta[TraceparentKey] = sc.Traceparent()
	if _, ok := meta[TracestateKey]; !ok {
		if ts, _ := ctx.Value(tracestateKey{}).(string); ts != "" {
			meta[TracestateKey] = ts
		}
	}
	return meta
}

// nilPointer reports whether x is nil or a nil pointer (the SDK's params,
// results and sessions are pointers).
func nilPointer(x any) bool {
	if x == nil {
		return true
	}
	v := reflect.ValueOf(x)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

func toolName(p mcp.Params) string {
	switch p := p.(type) {
	case *mcp.CallToolParams:
		return p.Name
	case *mcp.CallToolParamsRaw:
		return p.Name
	}
	return methodCallTool
}

func promptName(p mcp.Params) string {
	if p, ok := p.(*mcp.GetPromptParams); ok {
		return p.Name
	}
	return methodGetPrompt
}

// recordRequest records the method, the session and the request's inputs.
func recordRequest(span *fluxloop.Span, method string, req mcp.Request, params mcp.Params) {
	var attrs [3]fluxloop.Attr
	attrs[0] = methodAttr(method)
	n := 1
	if s := req.GetSession(); !nilPointer(s) {
		if id := s.ID(); id != "" {
			attrs[n] = fluxloop.Attribute("mcp.session.id", id)
			n++
		}
	}
	switch p := params.(type) {
	case nil:
	// The sites of tools, resources and prompts name their one input (see
	// siteFor); Inputs stores it in the span, without SetInput's list.
	case *mcp.CallToolParams:
		span.Inputs(fluxloop.V(p.Arguments))
	case *mcp.CallToolParamsRaw:
		span.Inputs(fluxloop.V(p.Arguments))
	case *mcp.ReadResourceParams:
		span.Inputs(fluxloop.String(p.URI))
		attrs[n] = fluxloop.Attribute("mcp.resource.uri", p.URI)
		n++
	case *mcp.GetPromptParams:
		span.Inputs(fluxloop.V(p.Arguments))
	case *mcp.CreateMessageParams:
		span.SetInput("messages", fluxloop.V(samplingMessages(p.Messages)))
		if p.SystemPrompt != "" {
			span.SetInput("systemPrompt", fluxloop.String(p.SystemPrompt))
		}
		if p.MaxTokens != 0 {
			span.SetInput("maxTokens", fluxloop.Int(p.MaxTokens))
		}
	default:
		span.SetInput("params", fluxloop.V(p))
	}
	span.SetAttributes(attrs[:n]...)
}

// The mcp.method.name attributes of the methods recorded by default, made
// once.
var (
	attrCallTool      = fluxloop.Attribute("mcp.method.name", methodCallTool)
	attrReadResource  = fluxloop.Attribute("mcp.method.name", methodReadResource)
	attrGetPrompt     = fluxloop.Attribute("mcp.method.name", methodGetPrompt)
	attrCreateMessage = fluxloop.Attribute("mcp.method.name", methodCreateMessage)
)

func methodAttr(method string) fluxloop.Attr {
	switch method {
	case methodCallTool:
		return attrCallTool
	case methodReadResource:
		return attrReadResource
	case methodGetPrompt:
		return attrGetPrompt
	case methodCreateMessage:
		return attrCreateMessage
	}
	return fluxloop.Attribute("mcp.method.name", method)
}

// recordResult records a result as the output and errors as the
// observation's error, and ends the span.
func recordResult(span *fluxloop.Span, res mcp.Result, err error) {
	if nilPointer(res) {
		span.Return(err)
		return
	}
	switch r := res.(type) {
	case *mcp.CallToolResult:
		if r.IsError && err == nil {
			err = toolError(r)
		}
		if r.StructuredContent != nil {
			span.Return(err, fluxloop.V(r.StructuredContent))
		} else {
			span.Return(err, contentsOutput(r.Content))
		}
	case *mcp.ReadResourceResult:
		span.Return(err, resourcesOutput(r.Contents))
	case *mcp.GetPromptResult:
		span.Return(err, fluxloop.V(promptMessages(r.Messages)))
	case *mcp.CreateMessageResult:
		if r.Model != "" {
			span.SetUsage(fluxloop.Usage{Model: r.Model})
		}
		if r.StopReason != "" {
			span.SetAttributes(fluxloop.Attribute("stop_reason", r.StopReason))
		}
		span.Return(err, contentOutput(r.Content))
	default:
		span.Return(err, fluxloop.V(res))
	}
}

// ToolError is the error recorded for a tool result with isError set: the
// tool ran and reported a failure in its content, which the model sees (the
// MCP way for tools to fail), as opposed to a protocol error, which the call
// returns and which is recorded as it is.
type ToolError struct {
	// Message is the text of the result's content.
	Message string
}

// Error returns the message, or "tool returned an error result" when the
// content had no text.
func (e *ToolError) Error() string {
	if e.Message == "" {
		return "tool returned an error result"
	}
	return e.Message
}

// toolError is the error recorded for r, whose IsError is set: on a server
// built with an SDK that keeps the handler's error (CallToolResult.GetError,
// v1.3 and later), that error; else a *ToolError with the content's text.
func toolError(r *mcp.CallToolResult) error {
	if g, ok := any(r).(interface{ GetError() error }); ok {
		if err := g.GetError(); err != nil {
			return err
		}
	}
	var texts []string
	for _, c := range r.Content {
		if t, ok := c.(*mcp.TextContent); ok && t != nil {
			texts = append(texts, t.Text)
		}
	}
	return &ToolError{Message: strings.Join(texts, "\n")}
}
