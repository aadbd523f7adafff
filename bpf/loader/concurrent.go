package loader

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// concurrently calls f(0), ..., f(n-1) on up to GOMAXPROCS goroutines, in
// order of i as goroutines come free, and returns when all have returned.
// Creating a large map and verifying a program are kernel work on the
// calling thread, so this is as many at once as there are CPUs to do it.
func concurrently(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}
