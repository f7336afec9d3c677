package caddyfile

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Custody (deliver queued), from outside: the gateway is answered once the
// payment is held, and the legacy system gets every held payment exactly
// once, however long it is down.

// queuedExtra is the flow's delivery settings in these tests: a schedule
// of fractions of a second stands for the default one of days.
const queuedExtra = "deliver queued\n\t\tretry_schedule 300ms 700ms\n\t\tgive_up_after 1h"

// custodyKinds runs a custody test on every store that holds payments.
func custodyKinds(t *testing.T, fn func(t *testing.T, env *webhookEnv)) {
	for _, kind := range []string{"memory", "file", "redis"} {
		t.Run(kind, func(t *testing.T) {
			fn(t, newWebhookEnv(t, kind, false, queuedExtra))
		})
	}
}

// eventually waits up to d for cond, polling.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// adminRecord reads an event's record from the admin API.
func adminRecord(t *testing.T, id string) map[string]any {
	t.Helper()
	resp, err := http.Get("http://localhost:2999/billbridge/events/bill24/webhook/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("admin record of %s: HTTP %d: %v", id, resp.StatusCode, err)
	}
	return m
}

func TestCustodyOutageLongerThanTheGatewaysRetries(t *testing.T) {
	custodyKinds(t, func(t *testing.T, env *webhookEnv) {
		env.stub.down.Store(true)
		const n = 100
		ids := make([]string, n)
		client := burstClient()
		var wg sync.WaitGroup
		acked := make([]bool, n)
		for i := range ids {
			ids[i] = uniqueID(t, fmt.Sprintf("out%03d", i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if acked[i], err = deliverLikeBill24(client, webhookA, webhookV1(ids[i], "45.10"), 50*time.Millisecond); err != nil {
					t.Errorf("%s: %v", ids[i], err)
				}
			}()
		}
		wg.Wait()
		// The gateway's whole retry window has passed (it stopped at the
		// first 200), and the legacy system is still down.
		time.Sleep(time.Second)
		booked := 0
		for _, id := range ids {
			booked += len(env.stub.ledger(id))
		}
		if booked != 0 {
			t.Fatalf("%d payments booked while the legacy API was down", booked)
		}
		if p := env.stub.posts.Load(); p < n {
			t.Errorf("%d delivery attempts during the outage, want at least one per payment (%d)", p, n)
		}
		rec := adminRecord(t, ids[0])
		if rec["state"] != "queued" && rec["state"] != "processing" {
			t.Errorf("a payment held during the outage is %v: %v", rec["state"], rec)
		}
		env.stub.down.Store(false)
		all := eventually(20*time.Second, func() bool {
			for _, id := range ids {
				if len(env.stub.ledger(id)) == 0 {
					return false
				}
			}
			return true
		})
		if !all {
			t.Errorf("not every held payment reached the legacy API after it came back")
		}
		once := 0
		for i, id := range ids {
			if !acked[i] {
				t.Errorf("%s was not acknowledged", id)
			}
			switch l := env.stub.ledger(id); len(l) {
			case 1:
				once++
				if got := l[0].Form.Get("payer_name"); got != "ម៉ៅ សាមន" || l[0].Form.Get("amount") != "45.10" {
					t.Errorf("%s booked as %q %q", id, got, l[0].Form.Get("amount"))
				}
			default:
				t.Errorf("%s booked %d times", id, len(l))
			}
		}
		t.Logf("%d of %d acknowledged payments booked exactly once after an outage longer than the gateway's retries; %d attempts in all", once, n, env.stub.posts.Load())
		// Done records replay the first answer, byte for byte.
		if status, body := send(client, webhookB, webhookV1(ids[0], "45.10")); status != 200 || body != ackOK {
			t.Errorf("a late duplicate: %d %s", status, body)
		}
		if len(env.stub.ledger(ids[0])) != 1 {
			t.Errorf("a late duplicate was booked")
		}
	})
}

func TestCustodyUncertainAttemptAsksLookup(t *testing.T) {
	custodyKinds(t, func(t *testing.T, env *webhookEnv) {
		id := uniqueID(t, "unc")
		env.stub.slowNext.Store(1) // books, then answers after the legacy timeout
		if status, body := send(burstClient(), webhookA, webhookV1(id, "7")); status != 200 || body != ackOK {
			t.Fatalf("held payment answered %d %s", status, body)
		}
		if !eventually(10*time.Second, func() bool { return adminRecord(t, id)["state"] == "done" }) {
			t.Fatalf("the payment never ended done: %v", adminRecord(t, id))
		}
		if n := len(env.stub.ledger(id)); n != 1 {
			t.Errorf("booked %d times, want 1", n)
		}
		if env.stub.lookups.Load() == 0 {
			t.Errorf("the attempt after an uncertain one did not ask lookup")
		}
	})
}

// TestCustodyReloadLosesNothing reloads the config while held payments
// are being delivered: the old config's workers finish theirs, the new
// config's take the rest, and each payment is booked once.
func TestCustodyReloadLosesNothing(t *testing.T) {
	env := newWebhookEnv(t, "memory", false, queuedExtra)
	env.stub.bookWait.Store(int64(200 * time.Millisecond))
	ids := make([]string, 60)
	client := burstClient()
	for i := range ids {
		ids[i] = uniqueID(t, fmt.Sprintf("rl%02d", i))
		if status, body := send(client, webhookA, webhookV1(ids[i], "3")); status != 200 || body != ackOK {
			t.Fatalf("%s: %d %s", ids[i], status, body)
		}
	}
	time.Sleep(300 * time.Millisecond) // the first deliveries are in flight
	env.tester.InitServer(env.cfg("v2", queuedExtra), "caddyfile")
	all := eventually(20*time.Second, func() bool {
		for _, id := range ids {
			if len(env.stub.ledger(id)) == 0 {
				return false
			}
		}
		return true
	})
	if !all {
		t.Error("not every held payment was delivered across the reload")
	}
	v1, v2 := 0, 0
	for _, id := range ids {
		l := env.stub.ledger(id)
		if len(l) > 1 {
			t.Errorf("%s booked %d times", id, len(l))
		}
		if len(l) > 0 {
			switch l[0].Header.Get("X-Config") {
			case "v1":
				v1++
			case "v2":
				v2++
			}
		}
	}
	t.Logf("delivered by the old config: %d, by the new one: %d", v1, v2)
	if v1 == 0 || v2 == 0 {
		t.Errorf("the reload did not hand over (old %d, new %d): the test proves nothing", v1, v2)
	}
}

// billbridgeEvents runs `caddy billbridge-events` against the test's
// Caddy and returns what it printed.
func billbridgeEvents(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(caddyBinary(t), append([]string{"billbridge-events", "--address", "localhost:2999"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCustodyDeadLettersRedeliverAndDiscard: a payment the legacy system
// rejects for good, and one it never takes within give_up_after, become
// dead; redelivered through the admin API and the CLI they are booked
// once; a discarded one stays unbooked and says why.
func TestCustodyDeadLettersRedeliverAndDiscard(t *testing.T) {
	extra := "deliver queued\n\t\tretry_schedule 200ms\n\t\tgive_up_after 1500ms\n\t\treject `res.status == 400 && res.body.error == \"UNKNOWN_INVOICE\"`"
	env := newWebhookEnv(t, "memory", false, extra)
	client := burstClient()
	state := func(id string) any { return adminRecord(t, id)["state"] }
	hold := func(id string) {
		t.Helper()
		if status, body := send(client, webhookA, webhookV1(id, "9")); status != 200 || body != ackOK {
			t.Fatalf("%s: %d %s", id, status, body)
		}
	}

	rejected, gaveUp, discarded := uniqueID(t, "rej"), uniqueID(t, "late"), uniqueID(t, "disc")
	env.stub.reject.Store(true)
	hold(rejected)
	if !eventually(5*time.Second, func() bool { return state(rejected) == "dead" }) {
		t.Fatalf("a rejected payment is %v, want dead", adminRecord(t, rejected))
	}
	if rec := adminRecord(t, rejected); !strings.Contains(fmt.Sprint(rec["reason"]), "rejected") || rec["attempts"] != 1.0 {
		t.Errorf("rejected record: %v", rec)
	}
	env.stub.reject.Store(false)
	env.stub.down.Store(true)
	hold(gaveUp)
	hold(discarded)
	if !eventually(10*time.Second, func() bool { return state(gaveUp) == "dead" && state(discarded) == "dead" }) {
		t.Fatalf("payments past give_up_after: %v, %v", adminRecord(t, gaveUp), adminRecord(t, discarded))
	}
	rec := adminRecord(t, gaveUp)
	if !strings.Contains(fmt.Sprint(rec["reason"]), "gave up") || rec["attempts"].(float64) < 2 {
		t.Errorf("given-up record: %v", rec)
	}
	if _, shown := rec["payload"]; shown {
		t.Errorf("the admin API shows the payload: %v", rec)
	}
	out, err := billbridgeEvents(t, "list", "--state", "dead", "--flow", "bill24/webhook")
	if err != nil || !strings.Contains(out, rejected) || !strings.Contains(out, gaveUp) {
		t.Errorf("billbridge-events list --state dead: %v\n%s", err, out)
	}
	var health struct {
		Status  string
		Custody struct{ Dead int }
	}
	if resp, err := http.Get("http://localhost:2999/billbridge/health"); err == nil {
		_ = json.NewDecoder(resp.Body).Decode(&health)
		resp.Body.Close()
	}
	if health.Status != "ok" || health.Custody.Dead < 3 {
		t.Errorf("health with three dead payments: %+v", health)
	}
	env.stub.down.Store(false)

	// Redeliver: through the admin API, and through the CLI.
	resp, err := http.Post("http://localhost:2999/billbridge/events/bill24/webhook/"+rejected+"/redeliver", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("redeliver: HTTP %d", resp.StatusCode)
	}
	if out, err := billbridgeEvents(t, "redeliver", "bill24/webhook/"+gaveUp); err != nil {
		t.Fatalf("billbridge-events redeliver: %v\n%s", err, out)
	}
	if out, err := billbridgeEvents(t, "discard", "bill24/webhook/"+discarded, "--reason", "ចំណាយដោយដៃ: booked by hand"); err != nil {
		t.Fatalf("billbridge-events discard: %v\n%s", err, out)
	}
	if !eventually(5*time.Second, func() bool { return state(rejected) == "done" && state(gaveUp) == "done" }) {
		t.Fatalf("redelivered: %v, %v", adminRecord(t, rejected), adminRecord(t, gaveUp))
	}
	for _, id := range []string{rejected, gaveUp} {
		if n := len(env.stub.ledger(id)); n != 1 {
			t.Errorf("%s booked %d times after redelivery, want 1", id, n)
		}
	}
	time.Sleep(500 * time.Millisecond)
	rec = adminRecord(t, discarded)
	if rec["state"] != "discarded" || rec["reason"] != "ចំណាយដោយដៃ: booked by hand" || len(env.stub.ledger(discarded)) != 0 {
		t.Errorf("discarded: %v, booked %d times", rec, len(env.stub.ledger(discarded)))
	}
	// What is done or discarded cannot be redelivered.
	if out, err := billbridgeEvents(t, "redeliver", "bill24/webhook/"+discarded); err == nil {
		t.Errorf("redelivering a discarded payment succeeded:\n%s", out)
	}
	// The gateway's late duplicate of a discarded payment is still answered as taken.
	if status, body := send(client, webhookB, webhookV1(discarded, "9")); status != 200 || body != ackOK {
		t.Errorf("late duplicate of a discarded payment: %d %s", status, body)
	}
}

// TestCustodyDeadAfterAnUncertainAttemptIsLookedUp: a payment made dead
// by an answer that may have booked it (a 5xx that reject matches) stays
// uncertain, so its redelivery asks lookup before posting.
func TestCustodyDeadAfterAnUncertainAttemptIsLookedUp(t *testing.T) {
	extra := "deliver queued\n\t\tretry_schedule 200ms\n\t\treject `res.status == 500`"
	env := newWebhookEnv(t, "memory", false, extra)
	id := uniqueID(t, "dead5xx")
	env.stub.failNext.Store(1) // 500, books nothing
	if status, body := send(burstClient(), webhookA, webhookV1(id, "4")); status != 200 || body != ackOK {
		t.Fatalf("held: %d %s", status, body)
	}
	if !eventually(5*time.Second, func() bool { return adminRecord(t, id)["state"] == "dead" }) {
		t.Fatalf("not dead: %v", adminRecord(t, id))
	}
	if rec := adminRecord(t, id); rec["ambiguous"] != true {
		t.Errorf("a payment buried after a 5xx is not uncertain: %v", rec)
	}
	before := env.stub.lookups.Load()
	resp, err := http.Post("http://localhost:2999/billbridge/events/bill24/webhook/"+id+"/redeliver", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !eventually(5*time.Second, func() bool { return adminRecord(t, id)["state"] == "done" }) {
		t.Fatalf("redelivered: %v", adminRecord(t, id))
	}
	if env.stub.lookups.Load() == before {
		t.Errorf("the redelivery of an uncertain payment did not ask lookup")
	}
	if n := len(env.stub.ledger(id)); n != 1 {
		t.Errorf("booked %d times, want 1", n)
	}
}
