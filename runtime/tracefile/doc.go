// Package tracefile reads the JSON lines that fluxloop's file and stdout
// storages write: observations.jsonl and traces.jsonl in a directory
// (FLUXLOOP_DIR, default ./.fluxloop), or the record lines of a program's
// standard output (FLUXLOOP_STORAGE=stdout) mixed with its own output. It is
// what the fluxloop command and its viewer read with, and is meant for other
// tooling too (a test that checks what a run wrote, a script that exports
// runs).
//
// Read everything there is, then group it into traces:
//
//	src, err := tracefile.Locate(".fluxloop") // a directory, an observations.jsonl path, or "-"
//	if err != nil { ... }
//	records, warnings, err := tracefile.ReadAll(src)
//	if err != nil { ... }
//	for _, w := range warnings {
//		log.Print(w) // a partial last line, a line that is not JSON
//	}
//	for _, run := range tracefile.Group(records) { // newest first
//		fmt.Println(run.ID, run.Name(), len(run.Observations), run.InProgress())
//	}
//
// or follow the files as a program appends to them:
//
//	f := tracefile.NewFollower(src)
//	defer f.Close()
//	err = f.Follow(ctx, 250*time.Millisecond, func(u tracefile.Update) error {
//		for _, r := range u.Records { ... }
//		return nil
//	})
//
// # What is read
//
// Only whole lines are read: a last line without its newline (being written,
// or cut short by a crash) is skipped with a Warning when reading to the end
// (ReadAll, Reader), and held back until its newline arrives when following.
// A line that is not a record (bad JSON, no id) is skipped with a Warning. In
// standard output and other mixed streams, lines that do not hold a record
// tag ({"record":"observation", ... or {"record":"trace", ...) are the
// program's own output and are ignored without a warning; a record tag after
// other text on the same line (a program's print without a newline) is found
// there.
//
// # Traces
//
// An observation line is written when the observation ends, and a trace
// line when the run's root observation ends, right after the root's own
// line. A trace whose trace line, or root observation, has been read is
// complete; until then it is in progress: its observations are those that
// have ended, and the observations they name as parents that are not there
// yet are still running (Run.Running). When several processes write to one
// trace (an agent and the MCP server it calls, each with its own local root),
// each writes a trace line; the one that starts first is the trace's.
package tracefile
