// Package mcpgo traces MCP tool calls made with github.com/mark3labs/mcp-go,
// on both ends, as one trace across the process boundary, like
// fluxloopmcp does for the official Go SDK. It is a module of its own, so
// that users of one SDK never get the other.
//
// In the MCP server, one option records every tool, resource and prompt
// call the server handles:
//
//	s := server.NewMCPServer("docs", "v1", mcpgo.ServerOption())
//
// In the agent, wrap the client:
//
//	c = mcpgo.WrapClient(c) // c is a client.MCPClient, e.g. a *client.Client
//
// The wrapped client records each CallTool as a tool observation named after
// the tool, child of the observation active in the call's ctx, with the
// arguments as input and the structured content (else the content) of the
// result as output; a result with isError set is recorded as an error
// (*ToolError), and so is a returned error. ReadResource and GetPrompt are
// recorded as span observations ("resources/read" with the URI as input;
// prompts named after the prompt). The other methods go to c unchanged.
//
// Each recorded request carries the W3C traceparent of its observation in
// params._meta under "traceparent" (TraceparentKey), the key the MCP
// specification reserves for it (SEP-414) and the OpenTelemetry semantic
// conventions for MCP use; a "tracestate" already there is kept. The server
// continues that trace: its observation is a child of the client's, and the
// handler's ctx carries it, so functions marked //fluxloop:trace that the
// handler calls nest under it. A call that arrives without trace context is
// the root of a new trace, of type agent for tools.
//
// mcp-go has no client-side middleware that sees a call's result, which is
// why the client is wrapped rather than configured. To propagate the trace
// without recording the client's side (the server's observations then nest
// under the agent step that made the call), install MetaPropagator instead:
//
//	c := client.NewClient(t, client.WithMetaPropagator(mcpgo.MetaPropagator()))
//
// It needs mcp-go v0.55.0 or later (where MetaPropagator appeared). Not
// covered: sampling requests, and calls of unknown tools on the server (mcp-go
// rejects them before the middleware runs; the client records the error).
// Over the in-process transport the server's handler gets the client's ctx
// itself, so its observation is the client's child without propagation.
package mcpgo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	fluxloop "github.com/fluxloop/fluxloop-go/runtime"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/mark3labs/mcp-go/tracing"
)

// The keys of params._meta that carry the trace context (see the package
// documentation).
const (
	TraceparentKey = "traceparent"
	TracestateKey  = "tracestate"
)

// Option configures ServerOption and WrapClient.
type Option func(*config)

type config struct {
	client *fluxloop.Client
}

// WithClient records the observations that start a trace (or continue a
// remote one) with c instead of the default client.
func WithClient(c *fluxloop.Client) Option {
	return func(cfg *config) { cfg.client = c }
}

func newConfig(opts []Option) config {
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return cfg
}

// ServerOption returns an option for server.NewMCPServer that records the
// tools/call, resources/read and prompts/get requests the server handles,
// continuing the trace of the traceparent in their params._meta.
func ServerOption(opts ...Option) server.ServerOption {
	cfg := newConfig(opts)
	return func(s *server.MCPServer) {
		server.WithToolHandlerMiddleware(cfg.toolMiddleware)(s)
		server.WithResourceHandlerMiddleware(cfg.resourceMiddleware)(s)
		server.WithPromptHandlerMiddleware(cfg.promptMiddleware)(s)
	}
}

func (cfg config) toolMiddleware(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if !fluxloop.Enabled() {
			return next(ctx, req)
		}
		ctx, remote := continueTrace(ctx, req.Params.Meta)
		typ := fluxloop.TypeTool
		if !remote && fluxloop.SpanFromContext(ctx) == nil {
			typ = fluxloop.TypeAgent // a tool call that came in without a trace: the root of one
		}
		ctx, span := cfg.start(ctx, req.Params.Name, typ, kindTool)
		if !span.Recording() {
			defer span.End()
			return next(ctx, req)
		}
		span.Inputs(fluxloop.V(req.Params.Arguments))
		span.SetAttributes(attrCallTool)
		defer recordPanic(span)
		res, err := next(ctx, req)
		endTool(span, res, err)
		return res, err
	}
}

func (cfg config) resourceMiddleware(next server.ResourceHandlerFunc) server.ResourceHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		if !fluxloop.Enabled() {
			return next(ctx, req)
		}
		ctx, _ = continueTrace(ctx, req.Params.Meta)
		ctx, span := cfg.start(ctx, methodReadResource, fluxloop.TypeSpan, kindResource)
		if !span.Recording() {
			defer span.End()
			return next(ctx, req)
		}
		span.Inputs(fluxloop.String(req.Params.URI))
		span.SetAttributes(attrReadResource, fluxloop.Attribute("mcp.resource.uri", req.Params.URI))
		defer recordPanic(span)
		res, err := next(ctx, req)
		span.Return(err, resourcesOutput(res))
		return res, err
	}
}

func (cfg config) promptMiddleware(next server.PromptHandlerFunc) server.PromptHandlerFunc {
	return func(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		if !fluxloop.Enabled() {
			return next(ctx, req)
		}
		ctx, _ = continueTrace(ctx, req.Params.Meta)
		ctx, span := cfg.start(ctx, req.Params.Name, fluxloop.TypeSpan, kindPrompt)
		if !span.Recording() {
			defer span.End()
			return next(ctx, req)
		}
		span.Inputs(fluxloop.V(req.Params.Arguments))
		span.SetAttributes(attrGetPrompt)
		defer recordPanic(span)
		res, err := next(ctx, req)
		endPrompt(span, res, err)
		return res, err
	}
}

// WrapClient returns c with CallTool, ReadResource and GetPrompt recorded
// and their trace context propagated; its other methods are c's.
func WrapClient(c client.MCPClient, opts ...Option) client.MCPClient {
	return &tracedClient{MCPClient: c, cfg: newConfig(opts)}
}

type tracedClient struct {
	client.MCPClient
	cfg config
}

func (c *tracedClient) CallTool(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if !fluxloop.Enabled() {
		return c.MCPClient.CallTool(ctx, req)
	}
	ctx, span := c.cfg.start(ctx, req.Params.Name, fluxloop.TypeTool, kindTool)
	req.Params.Meta = withTraceContext(ctx, span, req.Params.Meta)
	if !span.Recording() {
		defer span.End()
		return c.MCPClient.CallTool(ctx, req)
	}
	span.Inputs(fluxloop.V(req.Params.Arguments))
	span.SetAttributes(attrCallTool)
	defer recordPanic(span)
	res, err := c.MCPClient.CallTool(ctx, req)
	endTool(span, res, err)
	return res, err
}

func (c *tracedClient) ReadResource(ctx context.Context, req mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	if !fluxloop.Enabled() {
		return c.MCPClient.ReadResource(ctx, req)
	}
	ctx, span := c.cfg.start(ctx, methodReadResource, fluxloop.TypeSpan, kindResource)
	req.Params.Meta = withTraceContext(ctx, span, req.Params.Meta)
	if !span.Recording() {
		defer span.End()
		return c.MCPClient.ReadResource(ctx, req)
	}
	span.Inputs(fluxloop.String(req.Params.URI))
	span.SetAttributes(attrReadResource, fluxloop.Attribute("mcp.resource.uri", req.Params.URI))
	defer recordPanic(span)
	res, err := c.MCPClient.ReadResource(ctx, req)
	if res != nil {
		span.Return(err, resourcesOutput(res.Contents))
	} else {
		span.Return(err)
	}
	return res, err
}

func (c *tracedClient) GetPrompt(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	if !fluxloop.Enabled() {
		return c.MCPClient.GetPrompt(ctx, req)
	}
	ctx, span := c.cfg.start(ctx, req.Params.Name, fluxloop.TypeSpan, kindPrompt)
	req.Params.Meta = withTraceContext(ctx, span, req.Params.Meta)
	if !span.Recording() {
		defer span.End()
		return c.MCPClient.GetPrompt(ctx, req)
	}
	span.Inputs(fluxloop.V(req.Params.Arguments))
	span.SetAttributes(attrGetPrompt)
	defer recordPanic(span)
	res, err := c.MCPClient.GetPrompt(ctx, req)
	endPrompt(span, res, err)
	return res, err
}

// MetaPropagator returns a propagator for client.WithMetaPropagator that
// puts the traceparent of the observation active in the call's ctx into
// the _meta of the client's tools/call, resources/read and prompts/get
// requests, recording nothing itself; as a server's propagator
// (server.WithMetaPropagator) it continues the trace of an incoming
// traceparent for every handler, ServerOption's or not.
func MetaPropagator() tracing.MetaPropagator { return metaPropagator{} }

type metaPropagator struct{}

func (metaPropagator) InjectMeta(ctx context.Context, meta *mcp.Meta) *mcp.Meta {
	return withTraceContext(ctx, nil, meta)
}

func (metaPropagator) ExtractMeta(ctx context.Context, meta *mcp.Meta) context.Context {
	ctx, _ = continueTrace(ctx, meta)
	return ctx
}

// ---- shared ----

const (
	methodReadResource = "resources/read"
)

var (
	attrCallTool     = fluxloop.Attribute("mcp.method.name", "tools/call")
	attrReadResource = fluxloop.Attribute("mcp.method.name", methodReadResource)
	attrGetPrompt    = fluxloop.Attribute("mcp.method.name", "prompts/get")
)

// start starts the observation of a call at its site. The span is nil when
// tracing is off or inside an unsampled trace; it does not record when it is
// the root of an unsampled one (and must still be ended).
func (cfg config) start(ctx context.Context, name string, typ fluxloop.ObservationType, k kind) (context.Context, *fluxloop.Span) {
	if cfg.client != nil && fluxloop.SpanFromContext(ctx) == nil {
		ctx = fluxloop.ContextWithClient(ctx, cfg.client)
	}
	return fluxloop.EnterCaller(ctx, siteFor(name, typ, k), 1)
}

func recordPanic(span *fluxloop.Span) {
	if v := recover(); v != nil {
		span.Panic(v)
		panic(v)
	}
}

type tracestateKey struct{}

// continueTrace returns ctx with the remote parent of the traceparent in
// meta, if it holds a valid one, and the tracestate it came with.
func continueTrace(ctx context.Context, meta *mcp.Meta) (context.Context, bool) {
	if meta == nil {
		return ctx, false
	}
	tp, _ := meta.AdditionalFields[TraceparentKey].(string)
	if tp == "" {
		return ctx, false
	}
	sc, ok := fluxloop.ParseTraceparent(strings.TrimSpace(tp))
	if !ok {
		return ctx, false
	}
	if ts, _ := meta.AdditionalFields[TracestateKey].(string); ts != "" {
		ctx = context.WithValue(ctx, tracestateKey{}, ts)
	}
	return fluxloop.ContextWithRemoteParent(ctx, sc), true
}

// withTraceContext returns a copy of meta with the traceparent of span (or,
// for a nil span, of the observation active in ctx; inside an unsampled trace
// its sampled flag is off, so the server records nothing either), or meta
// itself when there is none. meta is not changed: the caller may share it.
func withTraceContext(ctx context.Context, span *fluxloop.Span, meta *mcp.Meta) *mcp.Meta {
	if span == nil {
		span = fluxloop.SpanFromContext(ctx)
	}
	sc := span.SpanContext()
	if !sc.IsValid() {
		return meta
	}
	m := &mcp.Meta{}
	var old map[string]any
	if meta != nil {
		m.ProgressToken = meta.ProgressToken
		old = meta.AdditionalFields
	}
	m.AdditionalFields = make(map[string]any, len(old)+1)
	for k, v := range old {
		m.AdditionalFields[k] = v
	}
	m.AdditionalFields[TraceparentKey] = sc.Traceparent()
	if _, ok := m.AdditionalFields[TracestateKey]; !ok {
		if ts, _ := ctx.Value(tracestateKey{}).(string); ts != "" {
			m.AdditionalFields[TracestateKey] = ts
		}
	}
	return m
}

// ToolError is the error recorded for a tool result with isError set: the
// text of its content.
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

func endTool(span *fluxloop.Span, res *mcp.CallToolResult, err error) {
	if res == nil {
		span.Return(err)
		return
	}
	if res.IsError && err == nil {
		var texts []string
		for _, c := range res.Content {
			if t, ok := text(c); ok {
				texts = append(texts, t)
			}
		}
		err = &ToolError{Message: strings.Join(texts, "\n")}
	}
	if res.StructuredContent != nil {
		span.Return(err, fluxloop.V(res.StructuredContent))
	} else {
		span.Return(err, contentsOutput(res.Content))
	}
}

func endPrompt(span *fluxloop.Span, res *mcp.GetPromptResult, err error) {
	if res == nil {
		span.Return(err)
		return
	}
	out := make([]message, len(res.Messages))
	for i, m := range res.Messages {
		out[i] = message{Role: string(m.Role), Content: content(m.Content)}
	}
	span.Return(err, fluxloop.V(out))
}

// message is the recorded form of a prompt message.
type message struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

// item is what is recorded of a content item that is not text: its kind and
// what identifies it, never its data.
type item struct {
	Type     string `json:"type"`
	MIMEType string `json:"mimeType,omitempty"`
	Size     int    `json:"size,omitempty"`
	URI      string `json:"uri,omitempty"`
	Name     string `json:"name,omitempty"`
	Text     string `json:"text,omitempty"`
}

func text(c mcp.Content) (string, bool) {
	switch c := c.(type) {
	case mcp.TextContent:
		return c.Text, true
	case *mcp.TextContent:
		if c != nil {
			return c.Text, true
		}
	}
	return "", false
}

// contentsOutput is the recorded form of a list of content items: the text of
// a single text item, else one entry per item.
func contentsOutput(cs []mcp.Content) fluxloop.Value {
	if len(cs) == 1 {
		if t, ok := text(cs[0]); ok {
			return fluxloop.String(t)
		}
	}
	if len(cs) == 0 {
		return fluxloop.Value{}
	}
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = content(c)
	}
	return fluxloop.V(out)
}

// content is the recorded form of one content item: a text item's text, a
// summary of any other (images and audio by MIME type and size, not data).
func content(c mcp.Content) any {
	if t, ok := text(c); ok {
		return t
	}
	switch c := c.(type) {
	case mcp.ImageContent:
		return item{Type: "image", MIMEType: c.MIMEType, Size: len(c.Data)}
	case mcp.AudioContent:
		return item{Type: "audio", MIMEType: c.MIMEType, Size: len(c.Data)}
	case mcp.ResourceLink:
		return item{Type: "resource_link", URI: c.URI, Name: c.Name, MIMEType: c.MIMEType}
	case mcp.EmbeddedResource:
		return resource(c.Resource)
	case nil:
		return nil
	}
	return item{Type: fmt.Sprintf("%T", c)}
}

func resource(r mcp.ResourceContents) item {
	switch r := r.(type) {
	case mcp.TextResourceContents:
		return item{Type: "resource", URI: r.URI, MIMEType: r.MIMEType, Text: r.Text}
	case *mcp.TextResourceContents:
		return item{Type: "resource", URI: r.URI, MIMEType: r.MIMEType, Text: r.Text}
	case mcp.BlobResourceContents:
		return item{Type: "resource", URI: r.URI, MIMEType: r.MIMEType, Size: len(r.Blob)}
	case *mcp.BlobResourceContents:
		return item{Type: "resource", URI: r.URI, MIMEType: r.MIMEType, Size: len(r.Blob)}
	}
	return item{Type: fmt.Sprintf("%T", r)}
}

// resourcesOutput is the recorded form of the contents of a resources/read
// result: the text of a single text resource, else a summary per resource.
func resourcesOutput(rs []mcp.ResourceContents) fluxloop.Value {
	if len(rs) == 1 {
		if it := resource(rs[0]); it.Size == 0 && it.Type == "resource" {
			return fluxloop.String(it.Text)
		}
	}
	out := make([]item, len(rs))
	for i, r := range rs {
		out[i] = resource(r)
	}
	return fluxloop.V(out)
}

// ---- sites ----

type kind uint8

const (
	kindTool kind = iota
	kindResource
	kindPrompt
)

// Observation sites, one per name, type and kind of call, kept as generated
// code keeps one per function (see fluxloopmcp); bounded, so that a server
// sent ever new tool names makes a fresh site per call beyond maxSites.
type siteKey struct {
	name string
	typ  fluxloop.ObservationType
	k    kind
}

const maxSites = 1024

var (
	sitesMu sync.Mutex
	sites   atomic.Pointer[map[siteKey]*fluxloop.Site]

	argumentsParam = []string{"arguments"}
	uriParam       = []string{"uri"}
)

func siteFor(name string, typ fluxloop.ObservationType, k kind) *fluxloop.Site {
	key := siteKey{name, typ, k}
	if m := sites.Load(); m != nil {
		if s := (*m)[key]; s != nil {
			return s
		}
	}
	s := &fluxloop.Site{Name: name, Type: typ, Params: argumentsParam}
	if k == kindResource {
		s.Params = uriParam
	}
	sitesMu.Lock()
	defer sitesMu.Unlock()
	var old map[siteKey]*fluxloop.Site
	if p := sites.Load(); p != nil {
		old = *p
	}
	if have := old[key]; have != nil {
		return have
	}
	if len(old) >= maxSites {
		return s
	}
	m := make(map[siteKey]*fluxloop.Site, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[key] = s
	sites.Store(&m)
	return s
}
