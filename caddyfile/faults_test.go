package caddyfile

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultyLedger is a legacy payments API that misbehaves the way real ones
// do, once per payment reference: the first post of a reference meets the
// fault, every later one is served normally. It books every post it is
// given (no dedupe of its own, unless the mode is dup), so a payment
// posted twice shows as booked twice.
type faultyLedger struct {
	srv  *httptest.Server
	mode string // 500, drop, slow, dup

	mu        sync.Mutex
	booked    map[string]int  // reference -> times booked
	faulted   map[string]bool // references that met the fault
	uncertain map[string]bool // references whose first attempt billbridge could not know the outcome of
	posts     atomic.Int64
	lookups   atomic.Int64
	slow      time.Duration
}

type connUses struct{ n atomic.Int64 }

type connKey struct{}

func newFaultyLedger(t *testing.T, mode string, slow time.Duration) *faultyLedger {
	l := &faultyLedger{mode: mode, booked: map[string]int{}, faulted: map[string]bool{}, uncertain: map[string]bool{}, slow: slow}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/payments", l.pay)
	mux.HandleFunc("GET /api/payments", l.find)
	l.srv = httptest.NewUnstartedServer(mux)
	// Count the requests each connection serves: the drop fault needs a
	// reused keep-alive connection, where Go's transport would resend.
	l.srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, &connUses{})
	}
	l.srv.Start()
	t.Cleanup(l.srv.Close)
	return l
}

func (l *faultyLedger) pay(w http.ResponseWriter, r *http.Request) {
	l.posts.Add(1)
	uses := r.Context().Value(connKey{}).(*connUses).n.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ref := r.PostForm.Get("txn_ref")
	l.mu.Lock()
	first := !l.faulted[ref] && l.booked[ref] == 0
	fault := first && (l.mode != "drop" || uses > 1)
	if fault {
		l.faulted[ref] = true
	}
	if l.mode == "dup" && l.booked[ref] > 0 {
		l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"result":"DUPLICATE","ref":"`+ref+`"}`)
		return
	}
	if !fault || l.mode != "slow" {
		l.booked[ref]++
	}
	l.mu.Unlock()
	if !fault {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":"OK","ref":"`+ref+`"}`)
		return
	}
	switch l.mode {
	case "500":
		l.markUncertain(ref)
		http.Error(w, "<html><body>Internal Server Error</body></html>", http.StatusInternalServerError)
	case "drop":
		l.markUncertain(ref)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	case "slow":
		// Still booking after billbridge has given up on the call: the
		// booking lands later, whoever is listening.
		l.markUncertain(ref)
		time.Sleep(l.slow)
		l.mu.Lock()
		l.booked[ref]++
		l.mu.Unlock()
	}
}

func (l *faultyLedger) markUncertain(ref string) {
	l.mu.Lock()
	l.uncertain[ref] = true
	l.mu.Unlock()
}

// find answers a lookup by reference; like a real REST API it answers the
// payment itself, which the lookup's found expression must recognise.
func (l *faultyLedger) find(w http.ResponseWriter, r *http.Request) {
	l.lookups.Add(1)
	ref := r.URL.Query().Get("ref")
	l.mu.Lock()
	n := l.booked[ref]
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if n == 0 {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"result":"NOT_FOUND"}`)
		return
	}
	_, _ = io.WriteString(w, `{"result":"OK","ref":"`+ref+`"}`)
}

// preBook books a payment before billbridge sees it (a store that lost
// its records, a payment booked by hand).
func (l *faultyLedger) preBook(ref string) {
	l.mu.Lock()
	l.booked[ref]++
	l.mu.Unlock()
}

const faultsCaddyfile = `{
` + testGlobals + `	billbridge {
		legacy %s {
			timeout 1s
		}
		bill24 {
			token tok-webhook
		}
	}
}
http://localhost:9080 {
	handle /webhook {
		billbridge bill24_webhook {
			call POST /api/payments {
				encode form
				field txn_ref ` + "`req.id`" + `
				field amount  ` + "`req.amount`" + `
			}
			success ` + "`res.status == 200 && res.body.result == \"OK\" && res.body.ref == req.id`" + `
			already ` + "`res.status == 409 && res.body.result == \"DUPLICATE\" && res.body.ref == req.id`" + `
			lookup GET ` + "`\"/api/payments?ref=\" + urlquery(req.id)`" + ` {
				found ` + "`res.status == 200 && res.body.ref == req.id`" + `
			}
			duplicate_wait 200ms
		}
	}
}
`

// deliverLikeBill24 delivers a webhook the way Bill24 does: a first
// attempt and up to five retries, stopping at the first 200. It returns
// whether the payment was acknowledged.
func deliverLikeBill24(client *http.Client, url, body string, pause time.Duration) (bool, error) {
	var lastErr error
	for attempt := 0; attempt < 6; attempt++ {
		if attempt > 0 {
			time.Sleep(pause)
		}
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("token", "tok-webhook")
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return true, nil
		}
		lastErr = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return false, lastErr
}

// TestLegacyFaults delivers a few hundred payments per fault mode, like
// Bill24, and checks the contract from outside: every payment the legacy
// system has ends acknowledged, none is booked twice, and every uncertain
// attempt was reconciled by a lookup before anything was posted again.
func TestLegacyFaults(t *testing.T) {
	const payments, workers = 200, 25
	for _, mode := range []string{"500", "drop", "slow", "dup"} {
		t.Run(mode, func(t *testing.T) {
			ledger := newFaultyLedger(t, mode, 1500*time.Millisecond)
			tester := newTester(t)
			initServer(t, tester, fmt.Sprintf(faultsCaddyfile, ledger.srv.URL))
			client := &http.Client{Timeout: 10 * time.Second}
			ids := make([]string, payments)
			for i := range ids {
				ids[i] = fmt.Sprintf("%s-%d-%d", mode, i, time.Now().UnixNano())
				if mode == "dup" {
					ledger.preBook(ids[i])
				}
			}
			acked := make([]bool, payments)
			var wg sync.WaitGroup
			next := atomic.Int64{}
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= payments {
							return
						}
						ok, err := deliverLikeBill24(client, "http://localhost:9080/webhook", webhookV1(ids[i], "45"), 300*time.Millisecond)
						if !ok {
							t.Logf("%s: not acknowledged after six attempts: %v", ids[i], err)
						}
						acked[i] = ok
					}
				}()
			}
			wg.Wait()
			time.Sleep(2 * time.Second) // let slow bookings land
			ledger.mu.Lock()
			defer ledger.mu.Unlock()
			var bookedUnacked, twice, faulted, uncertain int
			for i, id := range ids {
				n := ledger.booked[id]
				if n > 1 {
					twice++
				}
				if n > 0 && !acked[i] {
					bookedUnacked++
				}
				if ledger.faulted[id] {
					faulted++
				}
				if ledger.uncertain[id] {
					uncertain++
				}
			}
			t.Logf("%s: %d payments, %d met the fault, %d uncertain, %d posts, %d lookups", mode, payments, faulted, uncertain, ledger.posts.Load(), ledger.lookups.Load())
			if twice > 0 {
				t.Errorf("%d payments booked twice", twice)
			}
			if bookedUnacked > 0 {
				t.Errorf("%d payments the legacy system has were never acknowledged", bookedUnacked)
			}
			if faulted == 0 && mode != "dup" {
				t.Errorf("no payment met the fault: the test tested nothing")
			}
			if got := ledger.lookups.Load(); got < int64(uncertain) {
				t.Errorf("%d lookups for %d uncertain attempts: every uncertain attempt must be reconciled by a lookup", got, uncertain)
			}
		})
	}
}

// TestLegacyFaultsQueued is TestLegacyFaults with the payments held in
// custody on the file store: the gateway is answered at once, and the
// delivery workers meet the faults. Every payment must end booked exactly
// once, and every uncertain attempt must be looked up before anything is
// posted again.
func TestLegacyFaultsQueued(t *testing.T) {
	const payments = 200
	for _, mode := range []string{"500", "drop", "slow", "dup"} {
		t.Run(mode, func(t *testing.T) {
			ledger := newFaultyLedger(t, mode, 1500*time.Millisecond)
			tester := newTester(t)
			cfg := fmt.Sprintf(faultsCaddyfile, ledger.srv.URL)
			for old, repl := range map[string]string{
				"\tbillbridge {\n":             "\tbillbridge {\n\t\tstore file " + filepath.Join(t.TempDir(), "events.db") + "\n",
				"\t\t\tduplicate_wait 200ms\n": "\t\t\tduplicate_wait 200ms\n\t\t\tdeliver queued\n\t\t\tretry_schedule 200ms\n",
			} {
				if strings.Count(cfg, old) != 1 {
					t.Fatalf("faultsCaddyfile: %q does not occur once", old)
				}
				cfg = strings.Replace(cfg, old, repl, 1)
			}
			initServer(t, tester, cfg)
			client := &http.Client{Timeout: 10 * time.Second}
			ids := make([]string, payments)
			for i := range ids {
				ids[i] = fmt.Sprintf("q%s-%d-%d", mode, i, time.Now().UnixNano())
				if mode == "dup" {
					ledger.preBook(ids[i])
				}
				if ok, err := deliverLikeBill24(client, "http://localhost:9080/webhook", webhookV1(ids[i], "45"), 300*time.Millisecond); !ok {
					t.Fatalf("%s not acknowledged: %v", ids[i], err)
				}
			}
			booked := func(id string) int {
				ledger.mu.Lock()
				defer ledger.mu.Unlock()
				return ledger.booked[id]
			}
			eventually(30*time.Second, func() bool {
				for _, id := range ids {
					if booked(id) == 0 {
						return false
					}
				}
				return true
			})
			time.Sleep(2500 * time.Millisecond) // let slow bookings land, and any second post show
			ledger.mu.Lock()
			defer ledger.mu.Unlock()
			var never, twice, faulted, uncertain int
			for _, id := range ids {
				switch n := ledger.booked[id]; {
				case n == 0:
					never++
				case n > 1:
					twice++
				}
				if ledger.faulted[id] {
					faulted++
				}
				if ledger.uncertain[id] {
					uncertain++
				}
			}
			t.Logf("%s, queued: %d payments, %d met the fault, %d uncertain, %d posts, %d lookups", mode, payments, faulted, uncertain, ledger.posts.Load(), ledger.lookups.Load())
			if never > 0 || twice > 0 {
				t.Errorf("%d acknowledged payments never booked, %d booked twice", never, twice)
			}
			if faulted == 0 && mode != "dup" {
				t.Errorf("no payment met the fault: the test tested nothing")
			}
			if got := ledger.lookups.Load(); got < int64(uncertain) {
				t.Errorf("%d lookups for %d uncertain attempts", got, uncertain)
			}
		})
	}
}
