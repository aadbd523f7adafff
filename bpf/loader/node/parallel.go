package node

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// attachWorkers bounds the threads that attach endpoint programs at once.
// Each TCX attach waits for an RCU grace period in the kernel; attaches
// from several threads share grace periods, so a thousand endpoints take
// seconds instead of a minute.
const attachWorkers = 16

// parallel runs f(0..n-1) on up to workers OS threads that are in the
// caller's network namespace (device names and ifindexes resolve there),
// and returns each call's error.
func parallel(n, workers int, f func(i int) error) []error {
	errs := make([]error, n)
	if n == 0 {
		return errs
	}
	ns, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("opening this thread's network namespace: %w", err)
		}
		return errs
	}
	defer unix.Close(ns)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Never unlocked: the thread may have changed namespace, so it
			// exits with the goroutine instead of going back to the pool.
			runtime.LockOSThread()
			err := unix.Setns(ns, unix.CLONE_NEWNET)
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err != nil {
					errs[i] = fmt.Errorf("entering the network namespace: %w", err)
					continue
				}
				errs[i] = f(i)
			}
		}()
	}
	wg.Wait()
	return errs
}
