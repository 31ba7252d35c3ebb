package render

import (
	"runtime"
	"sync"
)

// workersFor is how many goroutines share n independent pieces of work, giving each
// at least perWorker of them: below 2, the work is not worth spreading.
func workersFor(n, perWorker int) int { return min(runtime.GOMAXPROCS(0), n/perWorker) }

// parallel runs do(0..n-1) and returns when all are done: on workersFor(n,
// perWorker) goroutines, each taking every workers-th index, or on this one when
// that is below 2. Results must land by index, so nothing depends on scheduling.
func parallel(n, perWorker int, do func(int)) {
	workers := workersFor(n, perWorker)
	if workers < 2 {
		for i := range n {
			do(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				do(i)
			}
		}()
	}
	wg.Wait()
}
