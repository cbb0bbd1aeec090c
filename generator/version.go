package generator

import (
	"regexp"
	"strconv"
)

// The version guard. Every instrumented file carries, before its block of
// observation sites, a constant declaration that names the version of the
// generated-code interface it was written for:
//
//	const _ = fluxloop.GeneratedCodeAPI1 // fluxloopgen v0.2.0: a compile error here means ...
//
// The runtime declares a GeneratedCodeAPIN constant for each version N it
// supports (runtime/version.go), so code generated for a runtime that is
// too old or too new fails to compile on that line, with an error that
// names the constant, next to a comment that names this generator's version
// and the fix. Stripping removes the guard with the sites.

// Version is the version of the fluxloop-go module set this generator
// belongs to: the runtime version the guard tells the user to go get. It
// equals the runtime's Version (a test checks it) and is bumped with it.
const Version = "v0.2.0"

// GeneratedCodeAPI is the version of the interface between generated code
// and the runtime that this generator writes code for. Bump it, and add the
// matching constant to the runtime, when generated code starts to need
// something an older runtime lacks; a runtime drops GeneratedCodeAPIN when it
// stops supporting code written for N.
const GeneratedCodeAPI = 1

// guardConst is the runtime constant the guard of generated code names.
var guardConst = "GeneratedCodeAPI" + strconv.Itoa(GeneratedCodeAPI)

// guardConstName matches the names of every version's guard constant, so a
// run strips the guard an older or newer generator wrote.
var guardConstName = regexp.MustCompile(`^GeneratedCodeAPI[0-9]+$`)

// guardComment follows the guard on its line: what a compile error there
// means and how to fix it.
var guardComment = "// fluxloopgen " + Version + ": a compile error here means the runtime module is too old or too new for this code: run " +
	strconv.Quote("go get "+RuntimeModulePath+"@"+Version) + " or regenerate with a matching fluxloopgen"

// guardTypeError matches the type checker's error on the guard of code
// written for a version of the interface the runtime lacks. A run ignores
// it, since it strips the guard and writes the one of its own version: the
// fix the guard's comment gives must not fail on the guard.
var guardTypeError = regexp.MustCompile(`^undefined: [\pL_][\pL\pN_]*\.GeneratedCodeAPI[0-9]+$`)
