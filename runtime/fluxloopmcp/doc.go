// Package fluxloopmcp traces the tools an agent calls over the Model Context
// Protocol with the official Go SDK (github.com/modelcontextprotocol/go-sdk),
// on both ends of the connection, as one trace across the process boundary:
//
//	agent [agent]                      the agent's //fluxloop:agent function (client process)
//	└─ search [tool]                   the client's tools/call (ClientMiddleware)
//	   └─ search [tool]                the server's handling of it (ServerMiddleware, server process)
//	      └─ Lookup [span]             a //fluxloop:trace function the tool handler calls
//
// One line on each side. In the agent (the MCP client):
//
//	client.AddSendingMiddleware(fluxloopmcp.ClientMiddleware())
//
// In the MCP server:
//
//	server.AddReceivingMiddleware(fluxloopmcp.ServerMiddleware())
//
// The client records each tools/call as a tool observation named after the
// tool, child of the observation active in the ctx given to
// ClientSession.CallTool, with the arguments as input and the result's
// content (or structured content) as output; a result with isError set is
// recorded as an error (*ToolError), and so is a protocol error or a
// cancelled call. resources/read and prompts/get are recorded as span
// observations (resources/read with the URI as input; prompts/get named after
// the prompt). Other methods (initialize, the list calls, notifications) are
// not recorded unless WithMethods or WithAllMethods asks for them.
//
// The server records each tools/call it handles as a tool observation too,
// and the tool handler's ctx carries it, so the functions marked
// //fluxloop:trace that the handler calls with its ctx nest under it. A
// tools/call that arrives without trace context is the root of a new trace,
// of type agent.
//
// # Propagation
//
// The client puts the W3C traceparent of its observation into the request's
// params._meta, under the key "traceparent" (TraceparentKey); a "tracestate"
// (TracestateKey) already there is kept. These are the keys the MCP
// specification reserves for trace context (SEP-414: "traceparent",
// "tracestate" and "baggage", without the DNS prefix other _meta keys need)
// and the ones the OpenTelemetry semantic conventions for MCP use, so other
// instrumentations that follow them (OpenTelemetry's, other SDKs') read and
// write the same trace context. The request the application passed is not
// changed: the middleware sends a copy of its params with a new _meta map.
// The server continues the trace of a valid traceparent: its observation gets
// the trace id and, as parent, the client's observation, and the sampled flag
// decides whether it records (an unsampled agent run records nothing on the
// server either). _meta travels inside the JSON-RPC message, so this works
// over every transport: in-memory, stdio (CommandTransport) and streamable
// HTTP, which the tests cover, and SSE.
//
// # Sampling
//
// For servers that ask the client's model for a completion
// (ServerSession.CreateMessage), install the middleware on the other
// direction of each side as well:
//
//	client.AddReceivingMiddleware(fluxloopmcp.ClientMiddleware())
//	server.AddSendingMiddleware(fluxloopmcp.ServerMiddleware())
//
// Then the server's sampling/createMessage request is a generation
// observation under the tool observation whose handler sent it, its
// traceparent goes to the client, and the client's sampling handler runs
// under a generation observation continuing it, with the model the result
// names.
//
// # Cost
//
// With tracing disabled the middleware costs a switch on the method name and
// an atomic load per call. With both middlewares recording, a tool call over
// the in-memory transport takes about 1.25 times as long as with the bare
// SDK (BenchmarkToolCallRatio, on 2 cores: a bare call is 50 to 130 µs), of
// which 7 to 10 µs is the middlewares' own work (BenchmarkMiddlewares: the two
// observations, the capture of the arguments and the result, and the copy of
// the params that carries the traceparent); profiles show the rest spread
// over the SDK's encoding and decoding of the larger _meta and garbage
// collection.
package fluxloopmcp
