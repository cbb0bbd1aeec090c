package fluxloophttp_test

import "sync"

// goWG is sync.WaitGroup.Go (Go 1.25), which the runtime's go 1.24 line
// does not allow.
func goWG(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}
