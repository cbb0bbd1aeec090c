// Package viewer is the server of fluxloop's trace viewer (fluxloop serve):
// an in-memory Index of the traces in a fluxloop directory, kept up to date
// by following its files, and an http.Handler with a JSON API over it and
// the browser UI.
//
// # Index
//
// The index holds, per trace, a Summary and the skeleton of its
// observations (Node: no inputs, outputs or metadata) with each line's byte
// offset in its file; an observation's full JSON is read from the file when
// asked for, so traces of tens of thousands of observations stay cheap.
// Lines read from a stream (standard input) are kept in memory instead. A
// file that is truncated or replaced is read again from its start and what
// was read from it before is forgotten.
//
// # API
//
// Every response is JSON (errors: {"error": "message"} with status 400,
// 403, 404 or 500). Times are RFC 3339 UTC with nanoseconds, durations
// milliseconds as numbers (microsecond precision).
//
//	GET /api/traces?q=&name=&error=1&in_progress=1&since=&model=&limit=100&offset=0
//	    {"traces": [Summary...], "total": N}
//	    Newest (latest start) first. q matches part of the trace's id, name,
//	    observation names, models, errors, status messages, tags, session
//	    and user ids; name part of the trace's name; model part of a model
//	    name (all case-insensitive); error=1 selects traces with an error,
//	    in_progress=1 those in progress; since is a duration back from now
//	    (15m, 2h, 3d) or an RFC 3339 time. limit defaults to 100 (0: all).
//	    total counts every match.
//
//	Summary: {"id", "name", "start_time", "end_time", "duration_ms",
//	    "observations", "errors", "prompt_tokens", "completion_tokens",
//	    "total_tokens", "cost_usd" (absent without fluxloop.llm.cost_usd
//	    metadata), "models": [...], "in_progress": bool}
//	    A trace in progress (neither its trace line nor its root observation
//	    written yet) has "end_time": null, a "duration_ms" up to the last end
//	    written so far, and "name": "" (its root's name is not known yet).
//
//	GET /api/traces/{id}
//	    {"trace": Summary, "observations": [Node...]}
//	    id is a trace id, a unique prefix of one, or "last" (the newest).
//	    Nodes are sorted by start time (a parent before a child starting at
//	    the same time).
//
//	Node: {"id", "parent_id", "type", "name", "start_time", "end_time",
//	    "duration_ms", "level", "error", "status_message", "model",
//	    "prompt_tokens", "completion_tokens", "has_input", "has_output",
//	    "running": bool}
//	    "parent_id" is "" for a root; one that names no node of the trace is
//	    a parent in another process that did not write here (show the node
//	    as a root). In a trace in progress, an observation named as a
//	    parent but not written yet (it is still running) is a node with
//	    "running": true, "name": "", "type": "", "parent_id": "" (not known
//	    yet), "start_time" its earliest child's, "end_time": null and
//	    "duration_ms" up to its children's last end.
//
//	GET /api/traces/{id}/observations/{oid}
//	    The observation's line as written: a fluxloop.Observation with
//	    input, output and metadata. 404 for a running node.
//
//	GET /api/compare?a=ID&b=ID
//	    {"a": Summary, "b": Summary, "rows": [{"path", "a": Node|null,
//	    "b": Node|null, "duration_delta_ms", "tokens_delta",
//	    "error_changed", "output_changed"}...]}
//	    Observations aligned by path: the names from the root down, each
//	    followed by #n for the (n+1)th same-named sibling in start order
//	    ("Agent/Search", "Agent/Search#1"; a "/", "#" or "\" in a name is
//	    escaped with "\"); running nodes are named "(running)". Rows come
//	    depth first, a's order, rows only b has after a's siblings. Deltas
//	    are b minus a (total tokens), a missing side counting as 0;
//	    error_changed and output_changed compare the error messages and
//	    outputs (a missing side has neither).
//
//	GET /api/events
//	    Server-Sent Events. "event: trace" with a Summary whenever a trace
//	    is added or changes (new observations, completed);
//	    "event: observation" with {"trace_id", "node": Node} for each
//	    observation line read, preceded by one for a running parent it
//	    names that was not known; "event: reset" ({}) when files were
//	    truncated or replaced, or more than 2000 observations were read at
//	    once (fetch everything again); a ": ping" comment
//	    every 15 s. Events of one read of the files come together. A client
//	    that falls 4096 events behind is disconnected (EventSource
//	    reconnects; fetch again on reconnect).
//
//	POST /v1/traces (with Options.OTLP)
//	    OTLP/HTTP JSON (Content-Type application/json, gzip accepted; not
//	    protobuf), so that programs exporting OpenTelemetry spans show up:
//	    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:7777
//	    OTEL_EXPORTER_OTLP_PROTOCOL=http/json. Each span becomes an
//	    observation (type from fluxloop.observation.type or
//	    gen_ai.operation.name, model and tokens from the gen_ai.*
//	    attributes, input and output from fluxloop.input and
//	    fluxloop.output or gen_ai.input.messages and
//	    gen_ai.output.messages, error from an error status or an exception
//	    event, other attributes as metadata), a root span also a trace.
//	    They are kept in memory only: a restart forgets them.
//
// The UI: index.html for /, /trace/{id}, /trace/{id}/{oid} and
// /compare/{a}/{b} (deep links), its files under /static/.
//
// # Security
//
// The viewer binds a loopback address by default and has no
// authentication. The handler refuses with 403 a request whose Host header
// is not localhost, 127.0.0.1 or [::1] with the port the request came in
// on, or whose Origin, when present, is not that same origin: a web page on
// another site cannot read traces through DNS rebinding or cross-site
// requests.
package viewer
