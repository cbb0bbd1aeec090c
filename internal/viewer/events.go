package viewer

import "sync"

// Event is what subscribers of an index get (GET /api/events).
type Event struct {
	// Type is "trace" (Summary is set), "observation" (TraceID and Node
	// are set) or "reset" (files were truncated or replaced: what was
	// shown is gone; fetch again).
	Type    string
	Summary *Summary
	TraceID string
	Node    Node
}

// observationEvent is the JSON of an observation event.
type observationEvent struct {
	TraceID string `json:"trace_id"`
	Node    Node   `json:"node"`
}

type subscriber struct {
	ch chan Event
}

// Subscribe returns a channel of the index's events from now on, and a
// function that ends the subscription. A subscriber that falls more than
// buffer events behind is dropped: its channel is closed (an SSE client
// reconnects and fetches again).
func (ix *Index) Subscribe(buffer int) (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, max(buffer, 1))}
	ix.subMu.Lock()
	ix.subs[s] = struct{}{}
	ix.nsubs.Add(1)
	ix.subMu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			ix.subMu.Lock()
			defer ix.subMu.Unlock()
			if _, ok := ix.subs[s]; ok {
				delete(ix.subs, s)
				ix.nsubs.Add(-1)
				close(s.ch)
			}
		})
	}
}

func (ix *Index) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	ix.subMu.Lock()
	defer ix.subMu.Unlock()
	for s := range ix.subs {
		for _, e := range events {
			select {
			case s.ch <- e:
				continue
			default:
			}
			delete(ix.subs, s)
			ix.nsubs.Add(-1)
			close(s.ch)
			break
		}
	}
}
