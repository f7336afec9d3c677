package caddyfile

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestQMRedirectFloodCannotStarveCallbacks: 300 anonymous redirects, 150
// at a time, while 5 real callbacks arrive; QM allows 10 Requery calls a
// second. Every callback is posted, each within QM's timeout (10s here),
// and QM never sees more than its rate.
func TestQMRedirectFloodCannotStarveCallbacks(t *testing.T) {
	env := startQM(t)
	var ids []string
	for i := range 5 {
		id := uniqueID(t, fmt.Sprintf("PAID%d", i))
		env.qm.setBill(id, 1, "100.00", "MYR")
		ids = append(ids, id)
	}
	client := &http.Client{
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 200},
	}
	start := time.Now()
	var flood sync.WaitGroup
	var next, pages atomic.Int64
	for range 150 {
		flood.Go(func() {
			for next.Add(1) <= 300 {
				resp, err := client.Get(fmt.Sprintf("http://localhost:9080/qm/return?billId=FLOOD-%d", next.Load()))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					pages.Add(1)
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the flood is on
	took := make([]time.Duration, len(ids))
	var callbacks sync.WaitGroup
	for i, id := range ids {
		callbacks.Go(func() {
			t0 := time.Now()
			status, body, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(id, 1, "100.00"))
			took[i] = time.Since(t0)
			if status != 200 {
				t.Errorf("callback %s: %d %s", id, status, body)
			}
		})
	}
	callbacks.Wait()
	flood.Wait()
	elapsed := time.Since(start)
	for i, id := range ids {
		if n := len(env.stub.ledger(id)); n != 1 {
			t.Errorf("callback %s posted %d times", id, n)
		}
		if took[i] > 10*time.Second {
			t.Errorf("callback %s took %v, past QM's timeout", id, took[i])
		}
	}
	requeries := env.qm.requery.Load()
	if limit := int64(elapsed.Seconds()*10) + 12; requeries > limit {
		t.Errorf("QM saw %d requeries in %v, over its 10 a second", requeries, elapsed)
	}
	t.Logf("%d redirects answered, %d requeries at QM in %v; callbacks took %v", pages.Load(), requeries, elapsed, took)
}
