package caddyfile

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

// custodyProcessCaddyfile is a Caddy process taking Bill24 webhooks into
// custody: a legacy timeout of 1s and a lease of 3s, so that a takeover
// after a crash comes within the test's patience.
const custodyProcessCaddyfile = `{
{{globals}}	billbridge {
		store %s
		legacy %s {
			timeout 1s
		}
		bill24 {
			token tok-webhook
		}
	}
}
http://127.0.0.1:{{port}} {
	handle /webhook {
		billbridge bill24_webhook {
			call POST /api/payments {
				encode form
				field txn_ref    ` + "`req.id`" + `
				field amount     ` + "`req.amount`" + `
				field payer_name ` + "`req.customers[0].customer_name`" + `
			}
			success ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
			lookup GET ` + "`\"/api/payments?txn_ref=\" + urlquery(req.id)`" + ` {
				found ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
			}
			deliver queued
			retry_schedule 300ms
			lease 3s
		}
	}
}
`

// holdAll delivers every id like Bill24 to the instances, round robin,
// and fails the test unless each is acknowledged.
func holdAll(t *testing.T, path string, ids []string, procs ...*caddyProc) {
	t.Helper()
	client := burstClient()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := procs[i%len(procs)]
			if ok, err := deliverLikeBill24(client, p.URL(path), webhookV1(id, "12.30"), 100*time.Millisecond); !ok {
				t.Errorf("%s not acknowledged by %s: %v", id, p.name, err)
			}
		}()
	}
	wg.Wait()
}

// bookedOnce waits until every id is booked and reports those booked
// other than once.
func bookedOnce(t *testing.T, stub *legacyStub, ids []string, patience time.Duration) {
	t.Helper()
	all := eventually(patience, func() bool {
		for _, id := range ids {
			if len(stub.ledger(id)) == 0 {
				return false
			}
		}
		return true
	})
	lost, twice := 0, 0
	for _, id := range ids {
		switch n := len(stub.ledger(id)); {
		case n == 0:
			lost++
		case n > 1:
			twice++
			t.Errorf("%s booked %d times", id, n)
		}
		// Where the mapping sends the payer's name, it arrives intact.
		if l := stub.ledger(id); len(l) > 0 && l[0].Form.Has("payer_name") && l[0].Form.Get("payer_name") != "ម៉ៅ សាមន" {
			t.Errorf("%s booked with payer %q", id, l[0].Form.Get("payer_name"))
		}
	}
	if !all || lost > 0 {
		t.Errorf("%d of %d acknowledged payments never booked", lost, len(ids))
	}
	t.Logf("%d payments: %d lost, %d booked twice; %d posts and %d lookups in all",
		len(ids), lost, twice, stub.posts.Load(), stub.lookups.Load())
}

// allDone waits until the store (read through admin, a Caddy's admin
// address) has every id done, and reports those that are not.
func allDone(t *testing.T, admin string, ids []string, patience time.Duration) {
	t.Helper()
	state := func(id string) string {
		resp, err := http.Get("http://" + admin + "/billbridge/events/bill24/webhook/" + id)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var rec struct{ State string }
		_ = json.NewDecoder(resp.Body).Decode(&rec)
		return rec.State
	}
	pending := ids
	eventually(patience, func() bool {
		var still []string
		for _, id := range pending {
			if state(id) != "done" {
				still = append(still, id)
			}
		}
		pending = still
		return len(pending) == 0
	})
	for _, id := range pending {
		t.Errorf("%s is %s, not done", id, state(id))
	}
}

// crashStores are the durable stores a crash test runs on.
func crashStores(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"file": func(t *testing.T) string { return "file " + filepath.Join(t.TempDir(), "events.db") },
		"redis": func(t *testing.T) string {
			srv := redistest.Start(t)
			return fmt.Sprintf("redis redis://%s {\n\t\t\tkey_prefix crash%d:\n\t\t}", srv.Addr, time.Now().UnixNano())
		},
	}
}

// TestCustodyKill9LosesNothing kills Caddy with payments queued and in
// flight (booked by the legacy system, not yet recorded as done), starts
// it again on the same store, and counts.
func TestCustodyKill9LosesNothing(t *testing.T) {
	for name, storeFor := range crashStores(t) {
		t.Run(name, func(t *testing.T) {
			stub := newLegacyStub(t)
			stub.bookWait.Store(int64(600 * time.Millisecond))
			cfg := fmt.Sprintf(custodyProcessCaddyfile, storeFor(t), stub.URL())
			first := startCaddy(t, "caddy-1", cfg)
			ids := make([]string, 200)
			for i := range ids {
				ids[i] = uniqueID(t, fmt.Sprintf("k%03d", i))
			}
			holdAll(t, "/webhook", ids, first)
			// Some delivered, some in flight (booked, not answered), most queued.
			if !eventually(10*time.Second, func() bool { return stub.waiting.Load() > 0 }) {
				t.Fatal("no delivery in flight to kill")
			}
			inFlight := stub.waiting.Load()
			first.Kill()
			before := 0
			for _, id := range ids {
				before += min(len(stub.ledger(id)), 1)
			}
			t.Logf("killed with %d of %d booked, %d of them in flight", before, len(ids), inFlight)
			if before == len(ids) || inFlight == 0 {
				t.Fatalf("nothing was queued or in flight at the kill: the test proves nothing")
			}
			stub.bookWait.Store(0)
			second := startCaddy(t, "caddy-2", cfg)
			bookedOnce(t, stub, ids, 30*time.Second)
			allDone(t, second.Admin, ids, 15*time.Second)
			bookedOnce(t, stub, ids, 0)
			if stub.lookups.Load() < inFlight {
				t.Errorf("%d lookups for %d deliveries cut in flight: each must be asked before it is posted again", stub.lookups.Load(), inFlight)
			}
			second.Stop()
		})
	}
}

// TestCustodyThreeInstancesOneKilled runs three Caddy instances on one
// Redis (and on a Redis Cluster), kills one mid-delivery, and counts.
func TestCustodyThreeInstancesOneKilled(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"redis": crashStores(t)["redis"],
		"cluster": func(t *testing.T) string {
			c := redistest.StartCluster(t)
			var addrs []string
			for _, n := range c.Nodes {
				addrs = append(addrs, n.Addr)
			}
			return fmt.Sprintf("redis {\n\t\t\taddress %s\n\t\t\tcluster\n\t\t\tkey_prefix three%d:\n\t\t}", strings.Join(addrs, " "), time.Now().UnixNano())
		},
	}
	for name, storeFor := range stores {
		t.Run(name, func(t *testing.T) {
			stub := newLegacyStub(t)
			stub.bookWait.Store(int64(300 * time.Millisecond))
			cfg := fmt.Sprintf(custodyProcessCaddyfile, storeFor(t), stub.URL())
			procs := []*caddyProc{startCaddy(t, "caddy-a", cfg), startCaddy(t, "caddy-b", cfg), startCaddy(t, "caddy-c", cfg)}
			ids := make([]string, 300)
			for i := range ids {
				ids[i] = uniqueID(t, fmt.Sprintf("m%03d", i))
			}
			holdAll(t, "/webhook", ids, procs...)
			if !eventually(10*time.Second, func() bool { return stub.waiting.Load() > 2 }) {
				t.Fatal("no deliveries in flight to kill")
			}
			procs[0].Kill()
			stub.bookWait.Store(int64(50 * time.Millisecond))
			bookedOnce(t, stub, ids, 60*time.Second)
			allDone(t, procs[1].Admin, ids, 15*time.Second)
			bookedOnce(t, stub, ids, 0)
		})
	}
}

// TestCustodySIGTERMFinishesInFlight stops Caddy the way systemd does,
// with deliveries in flight: they finish before it exits, so after a
// restart nothing is uncertain (no lookup is needed) and nothing is lost.
func TestCustodySIGTERMFinishesInFlight(t *testing.T) {
	stub := newLegacyStub(t)
	stub.bookWait.Store(int64(400 * time.Millisecond))
	cfg := fmt.Sprintf(custodyProcessCaddyfile, "file "+filepath.Join(t.TempDir(), "events.db"), stub.URL())
	first := startCaddy(t, "caddy-1", cfg)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = uniqueID(t, fmt.Sprintf("term%03d", i))
	}
	holdAll(t, "/webhook", ids, first)
	if !eventually(10*time.Second, func() bool { return stub.waiting.Load() > 0 }) {
		t.Fatal("no delivery in flight to stop")
	}
	inFlight := stub.waiting.Load()
	first.Stop()
	if w := stub.waiting.Load(); w != 0 {
		t.Errorf("%d deliveries were cut by SIGTERM", w)
	}
	t.Logf("stopped with %d deliveries in flight", inFlight)
	stub.bookWait.Store(0)
	second := startCaddy(t, "caddy-2", cfg)
	bookedOnce(t, stub, ids, 30*time.Second)
	allDone(t, second.Admin, ids, 15*time.Second)
	if n := stub.lookups.Load(); n != 0 {
		t.Errorf("%d lookups after a clean stop: a delivery was left uncertain", n)
	}
	second.Stop()
}
