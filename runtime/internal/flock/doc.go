// Package flock appends to the JSON lines files of the runtime's storages
// (the file storage, and the collector storage's spill) so that processes
// sharing a file never interleave lines.
package flock
