package qm

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRequeryForPageCaches: pages for one bill share a recent answer, and
// an unknown id costs one Requery per interval, however often it comes.
func TestRequeryForPageCaches(t *testing.T) {
	f := newFakeQM(t)
	f.addBill(fixtureBill("100.00"))
	c := f.client(t, Config{})
	for range 20 {
		if b, err := c.RequeryForPage(t.Context(), "B1706600000000"); err != nil || b.BillID != "B1706600000000" {
			t.Fatalf("%+v %v", b, err)
		}
		if _, err := c.RequeryForPage(t.Context(), "NO-SUCH-BILL"); err == nil || IsTemporary(err) {
			t.Fatalf("unknown bill: %v, want a lasting error", err)
		}
	}
	if n := f.count("/v1/bill/requery"); n != 2 {
		t.Errorf("QM saw %d requeries for 40 page loads of 2 bills, want 2", n)
	}
	// A callback's Requery is never served from the pages' cache.
	if _, err := c.Requery(t.Context(), "B1706600000000"); err != nil {
		t.Fatal(err)
	}
	if n := f.count("/v1/bill/requery"); n != 3 {
		t.Errorf("QM saw %d requeries, want 3", n)
	}
}

// TestRequeryForPageYieldsToPayments: 150 browsers hammering distinct
// bills while 5 callbacks need a Requery each: the callbacks get theirs
// within the rate's own delay, the pages get what is left, and QM never
// sees more than the rate allows.
func TestRequeryForPageYieldsToPayments(t *testing.T) {
	f := newFakeQM(t)
	for i := range 5 {
		b := fixtureBill("100.00")
		b["billId"] = fmt.Sprintf("PAID-%d", i)
		f.addBill(b)
	}
	const perSecond = 8
	c := f.client(t, Config{Rate: perSecond, Burst: 1})
	stop := make(chan struct{})
	var pages, busy atomic.Int64
	var wg sync.WaitGroup
	for w := range 150 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.RequeryForPage(t.Context(), fmt.Sprintf("FLOOD-%d-%d", w, i))
				pages.Add(1)
				if errors.Is(err, ErrBusy) {
					busy.Add(1)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // the flood is on
	start := time.Now()
	var cb sync.WaitGroup
	took := make([]time.Duration, 5)
	for i := range took {
		cb.Go(func() {
			if _, err := c.Requery(t.Context(), fmt.Sprintf("PAID-%d", i)); err != nil {
				t.Errorf("callback %d: %v", i, err)
			}
			took[i] = time.Since(start)
		})
	}
	cb.Wait()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	// Five tokens at 8 a second come within about 5/8 s, behind at most
	// pageMaxWait of pages' tokens; allow the noisy machine three times.
	for i, d := range took {
		if d > 3*time.Second {
			t.Errorf("callback %d waited %v behind the flood", i, d)
		}
	}
	calls := f.count("/v1/bill/requery")
	window := elapsed + 300*time.Millisecond
	if limit := int(window.Seconds()*perSecond) + 2; calls > limit {
		t.Errorf("QM saw %d requeries in %v, over the rate (%d)", calls, window, limit)
	}
	t.Logf("%d page loads (%d refused for the budget), %d requeries at QM, callbacks %v", pages.Load(), busy.Load(), calls, took)
}

// TestRequeryForPageSeesPaymentAtOnce: a pending bill is not cached, so a
// reload right after QM marks it paid shows it paid.
func TestRequeryForPageSeesPaymentAtOnce(t *testing.T) {
	f := newFakeQM(t)
	pending := fixtureBill("100.00")
	pending["status"], pending["isFinal"] = 0, false
	f.addBill(pending)
	c := f.client(t, Config{})
	if b, err := c.RequeryForPage(t.Context(), "B1706600000000"); err != nil || b.Status != StatusPending {
		t.Fatalf("%+v %v", b, err)
	}
	f.addBill(fixtureBill("100.00"))
	if b, err := c.RequeryForPage(t.Context(), "B1706600000000"); err != nil || b.Status != StatusSuccessful {
		t.Errorf("after QM marked it paid: %+v %v", b, err)
	}
}
