package gateway

import (
	"context"
	"strconv"
	"sync"

	"golang.org/x/sync/singleflight"
)

// Flight shares one call among the concurrent callers that ask for the
// same key, as singleflight does, and lets each caller give up on its own
// context without failing the others. The zero Flight is ready to use.
//
// The call runs with the values of the context of the caller that
// started it, but not its cancellation, so that the first caller leaving
// does not fail the rest:
//   - If Keep is false, the call's context also has that caller's
//     deadline, and is canceled as soon as every caller waiting for it has
//     given up: nobody wants the result, so it stops spending the
//     gateway's rate limit. The last caller to leave then waits for the
//     call to return (promptly, its context being canceled) and gets its
//     result, so that a lone caller sees exactly what an unshared call
//     would have given it. A caller arriving after that starts a new call.
//   - If Keep is true, the call runs to its end regardless, for a result
//     worth having later (a bearer token), and each caller that gives up
//     gets its own context's error at once.
type Flight[V any] struct {
	Keep bool

	g     singleflight.Group
	mu    sync.Mutex
	calls map[string]*flightCall
	gen   uint64
}

// flightCall is one call in flight, with the callers waiting for it.
type flightCall struct {
	key    string // the singleflight key: the caller's key and a generation
	n      int    // callers waiting
	cancel context.CancelFunc
	run    func() (any, error)
}

// Do returns the result of fn for key, run once for all the concurrent
// callers with that key. If ctx ends first, Do returns ctx's error, or,
// for the last caller to leave when Keep is false, the canceled call's
// own result.
func (f *Flight[V]) Do(ctx context.Context, key string, fn func(context.Context) (V, error)) (V, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	c := f.calls[key]
	if c == nil {
		// The singleflight key changes with every call, so that a caller
		// never joins a call that is over, or canceled, but not yet
		// forgotten.
		f.gen++
		c = &flightCall{key: key + "\x00" + strconv.FormatUint(f.gen, 10)}
		cctx, cancel := f.callContext(ctx)
		c.cancel = cancel
		c.run = func() (any, error) {
			defer f.forget(key, c)
			return fn(cctx)
		}
		f.calls[key] = c
	}
	c.n++
	// Under f.mu, so that a call found in f.calls is still in singleflight.
	ch := f.g.DoChan(c.key, c.run)
	f.mu.Unlock()

	select {
	case res := <-ch:
		f.leave(key, c, false)
		return result[V](res)
	case <-ctx.Done():
	}
	if f.leave(key, c, true) {
		return result[V](<-ch)
	}
	var zero V
	return zero, ctx.Err()
}

// Waiting is how many callers wait for key's call in flight; 0 if none.
func (f *Flight[V]) Waiting(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.calls[key]; c != nil {
		return c.n
	}
	return 0
}

// callContext is the context a shared call runs with.
func (f *Flight[V]) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	cctx := context.WithoutCancel(ctx)
	if f.Keep {
		return context.WithCancel(cctx) // canceled only once the call is over
	}
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(cctx, d)
	}
	return context.WithCancel(cctx)
}

// leave counts a caller out. When the last one gives up and Keep is false,
// it cancels the call, forgets it (a later caller starts afresh) and
// reports true: that caller waits for the call's result.
func (f *Flight[V]) leave(key string, c *flightCall, gaveUp bool) (wait bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.n--
	if c.n > 0 || !gaveUp || f.Keep {
		return false
	}
	c.cancel()
	if f.calls[key] == c {
		delete(f.calls, key)
	}
	return true
}

// forget drops a call that has returned.
func (f *Flight[V]) forget(key string, c *flightCall) {
	f.mu.Lock()
	if f.calls[key] == c {
		delete(f.calls, key)
	}
	f.mu.Unlock()
	c.cancel()
}

func result[V any](r singleflight.Result) (V, error) {
	v, _ := r.Val.(V)
	return v, r.Err
}
