package gateway

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// heldCall is a shared call the test releases by hand.
type heldCall struct {
	runs    atomic.Int32
	started chan struct{} // gets a value each time the call starts
	release chan struct{}
	ended   chan error // the call's context error when it returned
}

func newHeldCall() *heldCall {
	return &heldCall{started: make(chan struct{}, 10), release: make(chan struct{}), ended: make(chan error, 10)}
}

func (h *heldCall) fn(ctx context.Context) (int, error) {
	n := h.runs.Add(1)
	h.started <- struct{}{}
	select {
	case <-h.release:
		h.ended <- nil
		return int(n), nil
	case <-ctx.Done():
		h.ended <- ctx.Err()
		return 0, errors.New("call ended: " + ctx.Err().Error())
	}
}

func TestFlightShares(t *testing.T) {
	var f Flight[int]
	h := newHeldCall()
	var wg sync.WaitGroup
	results := make(chan int, 5)
	wg.Go(func() {
		v, err := f.Do(t.Context(), "B1", h.fn)
		if err != nil {
			t.Error(err)
		}
		results <- v
	})
	<-h.started
	for range 4 {
		wg.Go(func() {
			v, err := f.Do(t.Context(), "B1", h.fn)
			if err != nil {
				t.Error(err)
			}
			results <- v
		})
	}
	// Let the joiners join: they wait on the held call.
	for f.Waiting("B1") != 5 {
		time.Sleep(time.Millisecond)
	}
	close(h.release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != 1 {
			t.Errorf("a caller got %d, want the first call's 1", v)
		}
	}
	if n := h.runs.Load(); n != 1 {
		t.Errorf("%d calls for one key, want 1", n)
	}
	// A later caller starts a new call; another key, its own.
	if v, _ := f.Do(t.Context(), "B1", h.fn); v != 2 {
		t.Errorf("after the call: got %d, want a new call", v)
	}
	if v, _ := f.Do(t.Context(), "B2", h.fn); v != 3 {
		t.Errorf("another key: got %d, want a new call", v)
	}
}

func TestFlightCallerLeaves(t *testing.T) {
	var f Flight[int]
	h := newHeldCall()
	first, cancel := context.WithCancel(t.Context())
	var firstErr, secondErr error
	var second int
	var wg1, wg2 sync.WaitGroup
	wg1.Go(func() { _, firstErr = f.Do(first, "B1", h.fn) })
	<-h.started
	wg2.Go(func() { second, secondErr = f.Do(t.Context(), "B1", h.fn) })
	for f.Waiting("B1") != 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg1.Wait() // the first leaves at once; the call goes on for the second
	if !errors.Is(firstErr, context.Canceled) {
		t.Errorf("the caller that left: %v", firstErr)
	}
	close(h.release)
	wg2.Wait()
	if secondErr != nil || second != 1 {
		t.Errorf("the caller that stayed: %d, %v", second, secondErr)
	}
	if err := <-h.ended; err != nil {
		t.Errorf("the call was canceled (%v) while a caller waited", err)
	}
}

func TestFlightLastCallerCancels(t *testing.T) {
	var f Flight[int]
	h := newHeldCall()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := f.Do(ctx, "B1", h.fn)
		done <- err
	}()
	<-h.started
	cancel()
	// The lone caller gets the call's own result: it ended on the cancel.
	if err := <-done; err == nil || err.Error() != "call ended: context canceled" {
		t.Errorf("lone caller: %v", err)
	}
	if err := <-h.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the call's context: %v", err)
	}
	// The next caller does not join the canceled call.
	go func() { close(h.release) }()
	if v, err := f.Do(t.Context(), "B1", h.fn); err != nil || v != 2 {
		t.Errorf("after a canceled call: %d, %v", v, err)
	}
}

func TestFlightDeadline(t *testing.T) {
	var f Flight[int]
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	want, _ := ctx.Deadline()
	type key struct{}
	ctx = context.WithValue(ctx, key{}, "v")
	if _, err := f.Do(ctx, "k", func(c context.Context) (int, error) {
		if d, ok := c.Deadline(); !ok || !d.Equal(want) {
			t.Errorf("call deadline %v, %v; want the caller's %v", d, ok, want)
		}
		if c.Value(key{}) != "v" {
			t.Error("the call lost the caller's values")
		}
		return 0, nil
	}); err != nil {
		t.Errorf("call: %v", err)
	}
}

func TestFlightKeep(t *testing.T) {
	f := Flight[int]{Keep: true}
	h := newHeldCall()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := f.Do(ctx, "token", h.fn)
		done <- err
	}()
	<-h.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("caller that left: %v, want its context's error", err)
	}
	// The call runs on, uncanceled, and a new caller joins it.
	got := make(chan int)
	go func() {
		v, _ := f.Do(t.Context(), "token", h.fn)
		got <- v
	}()
	for f.Waiting("token") != 1 {
		time.Sleep(time.Millisecond)
	}
	close(h.release)
	if v := <-got; v != 1 {
		t.Errorf("joined caller got %d, want 1", v)
	}
	if err := <-h.ended; err != nil {
		t.Errorf("a kept call was canceled: %v", err)
	}
	// Keep calls have no deadline but their own.
	dctx, dcancel := context.WithTimeout(t.Context(), time.Hour)
	defer dcancel()
	if _, err := f.Do(dctx, "token", func(c context.Context) (int, error) {
		if _, ok := c.Deadline(); ok {
			t.Error("a kept call has the caller's deadline")
		}
		return 0, nil
	}); err != nil {
		t.Errorf("kept call: %v", err)
	}
}
