package viewer

import (
	"context"
	"time"

	"github.com/fluxloop/fluxloop-go/runtime/tracefile"
)

// Load reads what src holds now into the index, and returns the follower
// positioned after it, for Follow (a stream is read by Follow only). warn, if not nil,
// gets each line that was skipped.
func (ix *Index) Load(src tracefile.Source, warn func(tracefile.Warning)) (*tracefile.Follower, error) {
	f := tracefile.NewFollower(src)
	f.SkipDecode = true
	if src.IsStream() {
		return f, nil // a stream is read as it arrives, by Follow
	}
	for {
		u, err := f.Poll()
		ix.apply(u, warn)
		if err != nil {
			f.Close()
			return nil, err
		}
		if !u.More {
			return f, nil
		}
	}
}

// Follow applies what f reads every interval until ctx is done (for a
// stream, until its end).
func (ix *Index) Follow(ctx context.Context, f *tracefile.Follower, interval time.Duration, warn func(tracefile.Warning)) error {
	return f.Follow(ctx, interval, func(u tracefile.Update) error {
		ix.apply(u, warn)
		return nil
	})
}

func (ix *Index) apply(u tracefile.Update, warn func(tracefile.Warning)) {
	if warn != nil {
		for _, w := range u.Warnings {
			warn(w)
		}
	}
	if len(u.Records) > 0 || len(u.Reset) > 0 {
		for _, w := range ix.Apply(u).Warnings {
			if warn != nil {
				warn(w)
			}
		}
	}
}
