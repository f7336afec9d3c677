package qm

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// holdRequery holds requery answers until release is closed, and signals
// each arrival on arrived.
func holdRequery(arrived chan<- struct{}, release <-chan struct{}) func(http.ResponseWriter, *http.Request, int) bool {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/v1/bill/requery" {
			arrived <- struct{}{}
			<-release
		}
		return false // the fake answers
	}
}

func TestRequeryShared(t *testing.T) {
	f := newFakeQM(t)
	f.addBill(fixtureBill("100.00"))
	c := f.client(t, Config{})
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	f.hook = holdRequery(arrived, release)

	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	wg.Go(func() {
		_, err := c.Requery(t.Context(), "B1706600000000")
		errs <- err
	})
	<-arrived
	// One of the later callers gives up; the others wait for the answer.
	leaving, leave := context.WithCancel(t.Context())
	var leftErr error
	var left sync.WaitGroup
	left.Go(func() { _, leftErr = c.Requery(leaving, "B1706600000000") })
	for range callers - 1 {
		wg.Go(func() {
			b, err := c.Requery(t.Context(), "B1706600000000")
			if err == nil && b.BillID != "B1706600000000" {
				t.Errorf("bill %q", b.BillID)
			}
			errs <- err
		})
	}
	for c.requeries.Waiting("B1706600000000") != callers+1 {
		time.Sleep(time.Millisecond)
	}
	leave()
	left.Wait()
	var te *TransportError
	if !errors.Is(leftErr, context.Canceled) || !errors.As(leftErr, &te) || te.Call != "requery" || !IsTemporary(leftErr) {
		t.Errorf("the caller that left: %v", leftErr)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := f.count("/v1/bill/requery"); n != 1 {
		t.Errorf("%d requery calls for %d concurrent callers, want 1", n, callers+1)
	}
	// Another bill, or a later call, is a call of its own.
	if _, err := c.Requery(t.Context(), "B1706600000000"); err != nil || f.count("/v1/bill/requery") != 2 {
		t.Errorf("later requery: %v, %d calls", err, f.count("/v1/bill/requery"))
	}
}
