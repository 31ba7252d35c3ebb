package render

import (
	"fmt"
	"runtime"
	"runtime/debug"
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
	var c catcher
	for w := range workers {
		wg.Add(1)
		goCaught(&wg, &c, func() {
			for i := w; i < n; i += workers {
				do(i)
			}
		})
	}
	wg.Wait()
	c.raise()
}

// A panic in a goroutine of the renderer would end the whole operator, which no
// reconciler can recover from: every goroutine the renderer starts catches it, and the
// goroutine that waits raises it again, where Render turns it into a problem (see
// guard.go).

// catcher keeps the first panic of the goroutines it watches.
type catcher struct {
	mu     sync.Mutex
	caught *goroutinePanic
}

// goroutinePanic is a panic caught in another goroutine, with that goroutine's stack.
type goroutinePanic struct {
	value any
	stack []byte
}

func (p *goroutinePanic) String() string { return fmt.Sprint(p.value) }

// goCaught runs fn in a goroutine counted by wg; a panic in fn is kept in c.
func goCaught(wg *sync.WaitGroup, c *catcher, fn func()) {
	go func() {
		defer wg.Done()
		defer c.catch()
		fn()
	}()
}

// catch is deferred by a goroutine; it must be the deferred call itself for recover
// to work.
func (c *catcher) catch() {
	if v := recover(); v != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.caught == nil {
			if p, ok := v.(*goroutinePanic); ok {
				c.caught = p
			} else {
				c.caught = &goroutinePanic{value: v, stack: debug.Stack()}
			}
		}
	}
}

// raise panics again, in the waiting goroutine, with what a watched goroutine panicked
// with, if any.
func (c *catcher) raise() {
	c.mu.Lock()
	p := c.caught
	c.mu.Unlock()
	if p != nil {
		panic(p)
	}
}
