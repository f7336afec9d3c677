package caddyfile

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

const failoverCaddyfile = `{
` + testGlobals + `	billbridge {
		store redis {
			%s
			timeout 500ms
			dial_timeout 500ms
		}
		legacy %s {
			timeout 2s
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
			success ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
			lookup GET ` + "`\"/api/payments?txn_ref=\" + urlquery(req.id)`" + ` {
				found ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
			}
			duplicate_wait 300ms
			lease 5s
			deliver sync
		}
	}
}
`

// deliverOnce posts a webhook once and reports whether it got 200.
func deliverOnce(client *http.Client, id string) bool {
	req, _ := http.NewRequest(http.MethodPost, "http://localhost:9080/webhook", strings.NewReader(webhookV1(id, "45")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("token", "tok-webhook")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestFailoverForgetsNothing runs a few thousand payments through a real
// Caddy on a Sentinel group and on a Cluster, fails the master over in
// the middle (SENTINEL FAILOVER; kill -9 of a Cluster master), then
// delivers every payment twice more: none is posted twice, none that was
// acknowledged is lost, and billbridge answers 200 again soon after the
// topology is healthy.
func TestFailoverForgetsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("failover tests start many redis-servers")
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (store string, fault func() time.Time)
	}{
		{"sentinel", func(t *testing.T) (string, func() time.Time) {
			g := redistest.StartSentinel(t)
			return "address " + strings.Join(g.SentinelAddrs(), " ") + "\n\t\t\tmaster_name " + redistest.MasterName,
				func() time.Time { _, healthy := g.Failover(); return healthy }
		}},
		{"cluster", func(t *testing.T) (string, func() time.Time) {
			c := redistest.StartCluster(t)
			return "cluster\n\t\t\taddress " + strings.Join(c.Addrs(), " "),
				func() time.Time {
					victim := c.Masters()[0]
					victim.Kill()
					var alive []*redistest.Server
					for _, n := range c.Nodes {
						if n != victim {
							alive = append(alive, n)
						}
					}
					// Healthy again: the victim's replica is a master (the
					// survivors first go on answering ok, until they notice).
					deadline := time.Now().Add(30 * time.Second)
					for len(c.Masters()) < 3 && time.Now().Before(deadline) {
						time.Sleep(50 * time.Millisecond)
					}
					c.WaitOK(alive...)
					return time.Now()
				}
		}},
	} {
		for _, deliver := range []string{"sync", "queued"} {
			t.Run(tc.name+"/"+deliver, func(t *testing.T) {
				failover(t, tc.name, deliver, tc.start)
			})
		}
	}
}

// failover is one run of TestFailoverForgetsNothing. With deliver queued,
// a payment acknowledged is one held, so the count waits for the workers
// to deliver what was held before it looks for lost payments; the
// failover, triggered by the legacy posts, then comes in the middle of the
// workers' deliveries (leases, completions) rather than of the holds.
func failover(t *testing.T, name, deliver string, start func(t *testing.T) (string, func() time.Time)) {
	label := name + "/" + deliver
	storeBlock, fault := start(t)
	stub := newLegacyStub(t)
	tester := newTester(t)
	cfg := strings.Replace(fmt.Sprintf(failoverCaddyfile, storeBlock, stub.URL()), "deliver sync", "deliver "+deliver, 1)
	initServer(t, tester, cfg)

	const payments, workers = 2000, 16
	ids := make([]string, payments)
	for i := range ids {
		ids[i] = fmt.Sprintf("fo-%s-%d-%d", label, i, time.Now().UnixNano())
	}
	acked := make([]atomic.Bool, payments)
	client := &http.Client{Timeout: 10 * time.Second}
	var healthyAt atomic.Int64    // unix ns when the topology was healthy again
	var firstOKAfter atomic.Int64 // unix ns of the first 200 after that
	deliverAll := func() int {
		var oks atomic.Int64
		var wg sync.WaitGroup
		var next atomic.Int64
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= payments {
						return
					}
					if deliverOnce(client, ids[i]) {
						oks.Add(1)
						acked[i].Store(true)
						if h := healthyAt.Load(); h != 0 {
							firstOKAfter.CompareAndSwap(0, time.Now().UnixNano())
						}
					}
				}
			}()
		}
		wg.Wait()
		return int(oks.Load())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for stub.posts.Load() < payments/3 {
			time.Sleep(10 * time.Millisecond)
		}
		healthyAt.Store(fault().UnixNano())
	}()
	round1 := deliverAll()
	<-done
	// Acknowledged before the re-deliveries: these must never be
	// posted again, whatever the failover did.
	ackedFirst := make([]bool, payments)
	for i := range acked {
		ackedFirst[i] = acked[i].Load()
	}
	round2, round3 := deliverAll(), deliverAll()
	// Claims the failover left held run out with their lease: a
	// later retry of the gateway's reconciles them.
	time.Sleep(5 * time.Second)
	round4 := deliverAll()
	if deliver == "queued" {
		eventually(30*time.Second, func() bool {
			for i, id := range ids {
				if acked[i].Load() && len(stub.ledger(id)) == 0 {
					return false
				}
			}
			return true
		})
		time.Sleep(time.Second) // any second post shows
	}
	t.Logf("%s: 200s per round: %d, %d, %d, after the lease %d", label, round1, round2, round3, round4)

	var twice, lost, unacked int
	for i, id := range ids {
		n := len(stub.ledger(id))
		if n > 1 {
			twice++
		}
		if acked[i].Load() && n == 0 {
			lost++
		}
		if !acked[i].Load() {
			unacked++
		}
	}
	var recovery time.Duration
	if ok := firstOKAfter.Load(); ok != 0 {
		recovery = time.Duration(ok - healthyAt.Load())
	}
	t.Logf("%s: %d payments, %d posts, %d lookups; %d never acknowledged; first 200 %v after the topology was healthy",
		label, payments, stub.posts.Load(), stub.lookups.Load(), unacked, recovery)
	if unacked > 0 {
		t.Errorf("%d payments never acknowledged, even after their lease", unacked)
	}
	if twice > 0 {
		t.Errorf("%d payments posted twice", twice)
	}
	if lost > 0 {
		t.Errorf("%d payments acknowledged and not in the ledger (%d of them acknowledged before the re-deliveries)", lost, countLost(ackedFirst, ids, stub))
	}
	if firstOKAfter.Load() == 0 {
		t.Errorf("no payment acknowledged after the topology was healthy again")
	} else if recovery > 2*time.Second {
		t.Errorf("first 200 came %v after the topology was healthy, want within 2s", recovery)
	}
}

func countLost(acked []bool, ids []string, stub *legacyStub) int {
	n := 0
	for i, id := range ids {
		if acked[i] && len(stub.ledger(id)) == 0 {
			n++
		}
	}
	return n
}
