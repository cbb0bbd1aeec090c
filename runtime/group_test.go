package fluxloop

import (
	"context"
	"sync"
)

// errGroup is golang.org/x/sync/errgroup.Group in miniature (Go, TryGo,
// SetLimit, Wait, the first error, a ctx cancelled on it), so that the
// runtime module's tests need nothing outside the standard library. The
// generator's run tests (groups.txtar) use the real errgroup.
type errGroup struct {
	wg      sync.WaitGroup
	sem     chan struct{}
	once    sync.Once
	err     error
	cancel  context.CancelFunc
	limited bool
}

// withErrGroup is errgroup.WithContext.
func withErrGroup(ctx context.Context) (*errGroup, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &errGroup{cancel: cancel}, ctx
}

func (g *errGroup) SetLimit(n int) { g.sem, g.limited = make(chan struct{}, n), true }

func (g *errGroup) Go(f func() error) {
	if g.limited {
		g.sem <- struct{}{}
	}
	g.start(f)
}

func (g *errGroup) TryGo(f func() error) bool {
	if g.limited {
		select {
		case g.sem <- struct{}{}:
		default:
			return false
		}
	}
	g.start(f)
	return true
}

func (g *errGroup) start(f func() error) {
	g.wg.Add(1)
	go func() {
		defer func() {
			if g.limited {
				<-g.sem
			}
			g.wg.Done()
		}()
		if err := f(); err != nil {
			g.once.Do(func() {
				g.err = err
				if g.cancel != nil {
					g.cancel()
				}
			})
		}
	}()
}

func (g *errGroup) Wait() error {
	g.wg.Wait()
	if g.cancel != nil {
		g.cancel()
	}
	return g.err
}

// goWG is sync.WaitGroup.Go (Go 1.25), which the runtime's go 1.24 line
// does not allow.
func goWG(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}
