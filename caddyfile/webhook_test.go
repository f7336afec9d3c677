package caddyfile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/bill24"
	"github.com/billbridge/caddy-billbridge/module/store"
)

// webhookCaddyfile serves the same bill24_webhook flow at two paths: two
// handler instances sharing one store, as two Caddy instances behind a
// load balancer share one Redis.
const webhookCaddyfile = `{
` + testGlobals + `	billbridge {
		store %s
		legacy %s {
			timeout 1s
			header X-Config %s
		}
		bill24 {
			token tok-webhook
		}
	}
}
(webhook) {
	billbridge bill24_webhook {
		call POST /api/payments {
			encode form
			field txn_ref    ` + "`req.id`" + `
			field cust_no    ` + "`req.customer_code`" + `
			field amount     ` + "`req.amount`" + `
			field ccy        ` + "`req.currency`" + `
			field paid_at    ` + "`req.date`" + `
			field payer_name ` + "`len(req.customers) > 0 ? req.customers[0].customer_name : req.customer_name`" + `
		}
		success ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
		lookup GET ` + "`\"/api/payments?txn_ref=\" + urlquery(req.id)`" + ` {
			found ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
		}
		duplicate_wait 3s
		%s
	}
}
http://localhost:9080 {
	handle /a/webhook {
		import webhook
	}
	handle /b/webhook {
		import webhook
	}
}
`

const (
	webhookA = "http://localhost:9080/a/webhook"
	webhookB = "http://localhost:9080/b/webhook"
	ackOK    = `{"status":"Success","message":"SUCCESS"}`
)

type webhookEnv struct {
	tester *caddytest.Tester
	stub   *legacyStub
	redis  *redistest.Server // started by this test, if any
	addr   string            // Redis address, for the redis store
	prefix string
	cfg    func(marker, extra string) string
}

// storeKinds runs a test against each store. Redis tests start their own
// redis-server (or use BILLBRIDGE_TEST_REDIS when they need not kill it).
func storeKinds(t *testing.T, needOwnRedis bool, fn func(t *testing.T, env *webhookEnv)) {
	for _, kind := range []string{"memory", "file", "redis"} {
		t.Run(kind, func(t *testing.T) {
			fn(t, newWebhookEnv(t, kind, needOwnRedis, ""))
		})
	}
}

func newWebhookEnv(t *testing.T, kind string, ownRedis bool, extra string) *webhookEnv {
	t.Helper()
	tester := newTester(t)
	env := &webhookEnv{stub: newLegacyStub(t), tester: tester}
	storeCfg := "memory"
	if kind == "file" {
		storeCfg = "file " + filepath.Join(t.TempDir(), "events.db")
	}
	if kind == "redis" {
		addr := ""
		if ownRedis || os.Getenv("BILLBRIDGE_TEST_REDIS") == "" {
			env.redis = redistest.Start(t)
			addr = env.redis.Addr
		} else {
			addr = redistest.Addr(t)
		}
		env.addr = addr
		env.prefix = fmt.Sprintf("bbit:%d:", time.Now().UnixNano())
		storeCfg = fmt.Sprintf("redis redis://%s {\n\t\t\tkey_prefix %s\n\t\t\ttimeout 500ms\n\t\t\tdial_timeout 500ms\n\t\t}", addr, env.prefix)
	}
	env.cfg = func(marker, extra string) string {
		if !strings.Contains(extra, "deliver ") {
			// Synchronous delivery, whatever the store's default, unless
			// the test says otherwise (custody_test.go).
			extra = "deliver sync\n\t\t" + extra
		}
		return fmt.Sprintf(webhookCaddyfile, storeCfg, env.stub.URL(), marker, extra)
	}
	initServer(t, env.tester, env.cfg("v1", extra))
	return env
}

// uniqueID makes transaction ids unique across tests and runs, since the
// memory store survives config reloads within the test binary.
func uniqueID(t *testing.T, base string) string {
	return fmt.Sprintf("%s-%s-%d", base, strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

func webhookV1(id, amount string) string {
	return `{"tran_id":"` + id + `","tran_no":"6K0BTGwG7HsF","payment_service_type":"Bank Channel","tran_date":"2024-11-29T16:58:16.727168","tran_amount":` + amount + `,"currency":"USD","bank_code":"AC","bank_name":"ACLEDA","bank_ref":"AC00112301","identity_code":"37627011","purpose_of_transaction":"","device_code":"","status":"success","customers":[{"branch_code":"","branch_name":"","customer_code":"37627011","customer_name":"ម៉ៅ សាមន","customer_name_latin":"MAO SAMON","bill_no":"","amount":` + amount + `}]}`
}

func TestWebhookFirstDeliveryThenReplay(t *testing.T) {
	storeKinds(t, false, func(t *testing.T, env *webhookEnv) {
		id := uniqueID(t, "tran")
		var first string
		for i, url := range []string{webhookA, webhookA, webhookB} {
			status, body, _ := post(t, env.tester, url, "tok-webhook", webhookV1(id, "45"))
			if status != 200 || body != ackOK {
				t.Fatalf("delivery %d: got %d %s", i+1, status, body)
			}
			if i == 0 {
				first = body
			} else if body != first {
				t.Errorf("replay %q differs from the first answer %q", body, first)
			}
		}
		got := env.stub.ledger(id)
		if len(got) != 1 {
			t.Fatalf("ledger holds %d payments for %s, want 1", len(got), id)
		}
		f := got[0].Form
		if f.Get("amount") != "45" || f.Get("ccy") != "USD" || f.Get("cust_no") != "37627011" ||
			f.Get("payer_name") != "ម៉ៅ សាមន" || f.Get("paid_at") != "2024-11-29T16:58:16.727168" {
			t.Errorf("legacy got %v", f)
		}
		if k := got[0].Header.Get("Idempotency-Key"); k != id {
			t.Errorf("Idempotency-Key = %q, want %q", k, id)
		}
	})
}

func TestWebhookShapesReachLegacyExactly(t *testing.T) {
	env := newWebhookEnv(t, "memory", false, "")
	v2id, coid := uniqueID(t, "tnx"), uniqueID(t, "co")
	v2, err := os.ReadFile("../examples/payloads/bill24_webhook_v2.json")
	if err != nil {
		t.Fatal(err)
	}
	co, err := os.ReadFile("../examples/payloads/bill24_webhook_checkout.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id, body, amount, ccy, payer string
	}{
		{v2id, strings.Replace(string(v2), `"BUb4CmDE"`, `"`+v2id+`"`, 1), "10", "USD", "Nheb Nim"},
		{coid, strings.Replace(string(co), `"174952172035635"`, `"`+coid+`"`, 1), "50000.00", "KHR", "ជា សំណាង"},
	}
	for _, c := range cases {
		status, body, _ := post(t, env.tester, webhookA, "tok-webhook", c.body)
		if status != 200 || body != ackOK {
			t.Fatalf("%s: got %d %s", c.id, status, body)
		}
		got := env.stub.ledger(c.id)
		if len(got) != 1 {
			t.Fatalf("%s: ledger holds %d", c.id, len(got))
		}
		if f := got[0].Form; f.Get("amount") != c.amount || f.Get("ccy") != c.ccy || f.Get("payer_name") != c.payer {
			t.Errorf("%s: legacy got %v", c.id, f)
		}
	}
}

func TestWebhookConflictNeverForwarded(t *testing.T) {
	storeKinds(t, false, func(t *testing.T, env *webhookEnv) {
		id := uniqueID(t, "tran")
		if status, body, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45")); status != 200 {
			t.Fatalf("first: %d %s", status, body)
		}
		status, body, _ := post(t, env.tester, webhookB, "tok-webhook", webhookV1(id, "4500"))
		want := `{"status":"Error","message":"transaction id already used for a different payment"}`
		if status != http.StatusConflict || body != want {
			t.Errorf("got %d %s, want 409 %s", status, body, want)
		}
		if n := len(env.stub.ledger(id)); n != 1 {
			t.Errorf("ledger holds %d, want 1", n)
		}
	})
}

func TestWebhookLegacyFailureReleasesClaim(t *testing.T) {
	storeKinds(t, false, func(t *testing.T, env *webhookEnv) {
		for _, mode := range []string{"500", "refused"} {
			id := uniqueID(t, "tran-"+mode)
			if mode == "500" {
				env.stub.failNext.Store(1)
			} else {
				env.stub.refuseNext.Store(1)
			}
			status, body, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "12.50"))
			// A 5xx may have booked it (uncertain); a refusal did not.
			want := `{"status":"Error","message":"legacy system did not accept the payment`
			if mode == "500" {
				want = `{"status":"Error","message":"legacy system failed (HTTP 500)`
			}
			if status != http.StatusBadGateway || !strings.HasPrefix(body, want) {
				t.Fatalf("%s: got %d %s", mode, status, body)
			}
			if n := len(env.stub.ledger(id)); n != 0 {
				t.Fatalf("%s: ledger holds %d after a failure", mode, n)
			}
			status, body, _ = post(t, env.tester, webhookB, "tok-webhook", webhookV1(id, "12.50"))
			if status != 200 || body != ackOK {
				t.Fatalf("%s: retry got %d %s", mode, status, body)
			}
			if got := env.stub.ledger(id); len(got) != 1 || got[0].Form.Get("amount") != "12.50" {
				t.Errorf("%s: ledger %v", mode, got)
			}
		}
	})
}

func TestWebhookAmbiguousTimeoutAsksLookupFirst(t *testing.T) {
	storeKinds(t, false, func(t *testing.T, env *webhookEnv) {
		id := uniqueID(t, "tran")
		env.stub.slowNext.Store(1) // records the payment, answers after the 1s timeout
		status, body, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45"))
		if status != http.StatusGatewayTimeout || body != `{"status":"Error","message":"legacy system timed out"}` {
			t.Fatalf("got %d %s", status, body)
		}
		posts := env.stub.posts.Load()
		status, body, _ = post(t, env.tester, webhookB, "tok-webhook", webhookV1(id, "45"))
		if status != 200 || body != ackOK {
			t.Fatalf("retry got %d %s", status, body)
		}
		if p := env.stub.posts.Load(); p != posts {
			t.Errorf("the retry posted again (%d posts, want %d): the lookup should have found it", p, posts)
		}
		if env.stub.lookups.Load() != 1 {
			t.Errorf("lookups = %d, want 1", env.stub.lookups.Load())
		}
		if n := len(env.stub.ledger(id)); n != 1 {
			t.Errorf("ledger holds %d, want 1", n)
		}
		// And once done, the next delivery is a plain replay: no lookup.
		if status, body, _ = post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45")); status != 200 || body != ackOK {
			t.Fatalf("replay got %d %s", status, body)
		}
		if env.stub.lookups.Load() != 1 {
			t.Errorf("a replay ran the lookup")
		}
	})
}

func TestWebhookBadInputPostsNothing(t *testing.T) {
	env := newWebhookEnv(t, "memory", false, "")
	id := uniqueID(t, "tran")
	tests := []struct {
		name, token, body string
		status            int
		msg               string
	}{
		{"no token", "", webhookV1(id, "45"), 401, "missing or invalid token"},
		{"wrong token", "tok-webhooK", webhookV1(id, "45"), 401, "missing or invalid token"},
		{"malformed", "tok-webhook", `{"tran_id":`, 400, "malformed JSON: unexpected end of JSON input"},
		{"no id", "tok-webhook", `{"tran_amount":45,"currency":"USD","status":"success"}`, 400, "tran_id (or tnx_id) is required"},
		{"no amount", "tok-webhook", `{"tran_id":"` + id + `","currency":"USD","status":"success"}`, 400, "tran_amount (or total_amount) is required"},
		{"negative", "tok-webhook", webhookV1(id, "-45"), 400, "tran_amount must be positive, got -45"},
		{"zero", "tok-webhook", webhookV1(id, "0"), 400, "tran_amount must be positive, got 0"},
		{"too many places", "tok-webhook", webhookV1(id, "45.001"), 400, "tran_amount 45.001 has more decimal places than USD allows (2)"},
		{"amount not a number", "tok-webhook", `{"tran_id":"` + id + `","tran_amount":"lots","currency":"USD"}`, 400, `tran_amount is not a decimal number: "lots"`},
		{"amount a bool", "tok-webhook", `{"tran_id":"` + id + `","tran_amount":true,"currency":"USD"}`, 400, "tran_amount must be a number"},
		{"bad currency", "tok-webhook", `{"tran_id":"` + id + `","tran_amount":45,"currency":"dollars"}`, 400, `currency "dollars" is not an ISO 4217 code`},
		{"status not a string", "tok-webhook", `{"tran_id":"` + id + `","tran_amount":45,"currency":"USD","status":1}`, 400, "status must be a string"},
		{"not a success", "tok-webhook", `{"tran_id":"` + id + `","tran_amount":45,"currency":"USD","status":"pending"}`, 400, `status "pending" is not a completed payment; nothing was posted`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := post(t, env.tester, webhookA, tc.token, tc.body)
			want := `{"status":"Error","message":` + jsonString(tc.msg) + `}`
			if status != tc.status || body != want {
				t.Errorf("got %d %s\nwant %d %s", status, body, tc.status, want)
			}
		})
	}
	if p := env.stub.posts.Load(); p != 0 {
		t.Errorf("bad input reached the legacy API %d times", p)
	}
	// Nothing was claimed: the same id, sent correctly, goes through.
	if status, body, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45")); status != 200 || body != ackOK {
		t.Errorf("good delivery after bad ones: %d %s", status, body)
	}
}

func TestWebhookConcurrentDuplicatesPostOnce(t *testing.T) {
	storeKinds(t, false, func(t *testing.T, env *webhookEnv) {
		id := uniqueID(t, "tran")
		payload := webhookV1(id, "45")
		client := burstClient()
		const n = 200
		var wg sync.WaitGroup
		statuses := make([]int, n)
		bodies := make([]string, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				url := webhookA
				if i%2 == 1 {
					url = webhookB
				}
				statuses[i], bodies[i] = send(client, url, payload)
			}()
		}
		close(start)
		wg.Wait()
		ok, retry := 0, 0
		for i := range n {
			switch {
			case statuses[i] == 200 && bodies[i] == ackOK:
				ok++
			case statuses[i] == 503:
				retry++ // allowed: the gateway comes back
			default:
				t.Errorf("delivery %d: wrong answer %d %s", i, statuses[i], bodies[i])
			}
		}
		if p := env.stub.posts.Load(); p != 1 {
			t.Errorf("%d identical deliveries made %d legacy posts, want 1", n, p)
		}
		t.Logf("%d answered success, %d told to retry", ok, retry)
		if ok == 0 {
			t.Errorf("no delivery was answered success")
		}
	})
}

func TestWebhookRedisOutageFailsClosedAndRecovers(t *testing.T) {
	env := newWebhookEnv(t, "redis", true, "")
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = uniqueID(t, fmt.Sprintf("tran%02d", i))
	}
	client := burstClient()
	answers := make([]int, len(ids))
	bodies := make([]string, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		if i == len(ids)/3 {
			env.redis.Kill()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], bodies[i] = send(client, webhookA, webhookV1(id, "7"))
		}()
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	down := 0
	for i, s := range answers {
		switch {
		case s == 0:
			// A transport error (seen once on a loaded machine) is not an
			// answer; the gateway retries it, as the loop below does.
			t.Logf("%s: no answer during the outage: %s", ids[i], bodies[i])
		case s != 200 && s != 503:
			t.Errorf("%s: answered %d %s during the outage, want 200 or 503", ids[i], s, bodies[i])
		}
		if s == 503 {
			down++
		}
	}
	if down == 0 {
		t.Fatalf("no delivery failed closed while Redis was down")
	}
	// While Redis is down nothing unclaimed reached the legacy API. A
	// delivery sent before the kill may have claimed and posted, then found
	// no Redis to record the booking in: it answers 503 (the gateway must
	// come back) after one post, never more.
	for i, id := range ids {
		if answers[i] != 503 {
			continue
		}
		switch n := len(env.stub.ledger(id)); {
		case i >= len(ids)/3 && n != 0:
			t.Errorf("%s was sent after the kill and posted without a claim", id)
		case n > 1:
			t.Errorf("%s was posted %d times before Redis came back", id, n)
		}
	}

	env.redis.Restart()
	// The gateway retries everything not acknowledged; all go through once.
	deadline := time.Now().Add(20 * time.Second)
	for i, id := range ids {
		for answers[i] != 200 && time.Now().Before(deadline) {
			answers[i], _ = send(client, webhookB, webhookV1(id, "7"))
			if answers[i] != 200 {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	for i, id := range ids {
		if answers[i] != 200 {
			t.Errorf("%s never went through after Redis came back (last %d)", id, answers[i])
		}
		// Redis restarted empty: ids acknowledged before the outage may be
		// posted again only if they were lost with Redis' memory. Those
		// acknowledged before the kill were done; none answered 503 was posted.
		if n := len(env.stub.ledger(id)); n < 1 || n > 1 && i >= len(ids)/3 {
			t.Errorf("%s posted %d times", id, n)
		}
	}
	t.Logf("%d of %d deliveries failed closed during the outage", down, len(ids))
}

func TestWebhookConfigReloadLosesNothing(t *testing.T) {
	env := newWebhookEnv(t, "memory", false, "")
	ids := make([]string, 80)
	for i := range ids {
		ids[i] = uniqueID(t, fmt.Sprintf("tran%02d", i))
	}
	client := burstClient()
	answers := make([]int, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		if i == len(ids)/2 {
			env.tester.InitServer(env.cfg("v2", ""), "caddyfile") // a real reload: the config differs
		}
		wg.Add(2)
		go func() { // and a duplicate of each, racing it
			defer wg.Done()
			answers[i], _ = send(client, webhookA, webhookV1(id, "3"))
		}()
		go func() {
			defer wg.Done()
			send(client, webhookB, webhookV1(id, "3"))
		}()
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	for i, id := range ids {
		for try := 0; answers[i] != 200 && try < 50; try++ {
			time.Sleep(50 * time.Millisecond)
			answers[i], _ = send(client, webhookA, webhookV1(id, "3"))
		}
		if answers[i] != 200 {
			t.Errorf("%s never acknowledged", id)
		}
		if n := len(env.stub.ledger(id)); n != 1 {
			t.Errorf("%s posted %d times across the reload, want 1", id, n)
		}
	}
}

func TestWebhookLeaseExpiryCountsAsAmbiguous(t *testing.T) {
	env := newWebhookEnv(t, "redis", false, "")
	id := uniqueID(t, "tran")
	// An instance claimed the event and died: its lease runs out.
	c := redistest.NewClient(t, env.addr)
	dead := store.NewRedisBackend(c, env.prefix)
	ctx := context.Background()
	fp := fingerprintOf(t, webhookV1(id, "45"))
	if r, err := dead.Claim(ctx, "bill24:webhook:"+id, "dead-owner", fp, 100*time.Millisecond, time.Hour); err != nil || r.Outcome != store.Claimed {
		t.Fatalf("claim: %+v %v", r, err)
	}
	time.Sleep(150 * time.Millisecond)
	status, body, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45"))
	if status != 200 || body != ackOK {
		t.Fatalf("got %d %s", status, body)
	}
	if env.stub.lookups.Load() != 1 {
		t.Errorf("lookups = %d: a taken-over lease must ask the legacy system first", env.stub.lookups.Load())
	}
	if n := len(env.stub.ledger(id)); n != 1 {
		t.Errorf("ledger holds %d, want 1", n)
	}
}

func TestWebhookOnDuplicateError(t *testing.T) {
	env := newWebhookEnv(t, "memory", false, "on_duplicate error")
	id := uniqueID(t, "tran")
	if status, body, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45")); status != 200 || body != ackOK {
		t.Fatalf("first: %d %s", status, body)
	}
	status, body, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45"))
	if status != 200 || body != `{"status":"Error","message":"Error"}` {
		t.Errorf("duplicate got %d %s", status, body)
	}
	if n := len(env.stub.ledger(id)); n != 1 {
		t.Errorf("ledger holds %d", n)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// burstClient sends many requests at once without queueing on connections.
func burstClient() *http.Client {
	return &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0},
	}
}

// send posts a webhook and returns its status and body (0 on a transport error).
func send(c *http.Client, url, body string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("token", "tok-webhook")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func fingerprintOf(t *testing.T, body string) string {
	w, err := bill24.DecodeWebhook([]byte(body), mappings.DefaultExponents())
	if err != nil {
		t.Fatal(err)
	}
	return w.Fingerprint()
}

func TestWebhookStoreErrorAllowPostsWithoutClaim(t *testing.T) {
	env := newWebhookEnv(t, "redis", true, "on_store_error allow")
	env.redis.Kill()
	id := uniqueID(t, "tran")
	status, body, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45"))
	if status != 200 || body != ackOK {
		t.Fatalf("got %d %s", status, body)
	}
	if got := env.stub.ledger(id); len(got) != 1 || got[0].Header.Get("Idempotency-Key") != id {
		t.Errorf("ledger %v: with on_store_error allow the payment goes through, keyed for the legacy API to dedupe", got)
	}
}

func TestWebhookGatewayHangsUpPostStillRecorded(t *testing.T) {
	env := newWebhookEnv(t, "memory", false, "")
	env.stub.slow = 300 * time.Millisecond // slow, but within the 1s legacy timeout
	env.stub.slowOKNext.Store(1)
	id := uniqueID(t, "tran")
	impatient := &http.Client{Timeout: 100 * time.Millisecond}
	if status, _ := send(impatient, webhookA, webhookV1(id, "45")); status != 0 {
		t.Fatalf("expected the impatient gateway to give up, got %d", status)
	}
	time.Sleep(600 * time.Millisecond)
	// The post ran to its end although the gateway left: the retry is a
	// plain replay, with no lookup (a cut call would have left it ambiguous).
	if status, body, _ := post(t, env.tester, webhookB, "tok-webhook", webhookV1(id, "45")); status != 200 || body != ackOK {
		t.Fatalf("retry: %d %s", status, body)
	}
	if n := len(env.stub.ledger(id)); n != 1 {
		t.Errorf("ledger holds %d, want 1", n)
	}
	if n := env.stub.lookups.Load(); n != 0 {
		t.Errorf("lookups = %d: the payment was left ambiguous", n)
	}
}

func TestAdminShowsEventState(t *testing.T) {
	storeKinds(t, false, func(t *testing.T, env *webhookEnv) {
		id := uniqueID(t, "tran")
		if status, _, _ := post(t, env.tester, webhookA, "tok-webhook", webhookV1(id, "45")); status != 200 {
			t.Fatal(status)
		}
		resp, err := http.Get("http://localhost:2999/billbridge/events/bill24/webhook/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			Key, State string
			Attempts   int
			Response   struct {
				Status int
				Body   json.RawMessage
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		if v.Key != "bill24:webhook:"+id || v.State != "done" || v.Attempts != 1 || v.Response.Status != 200 || string(v.Response.Body) != ackOK {
			t.Errorf("admin shows %+v", v)
		}
		resp2, err := http.Get("http://localhost:2999/billbridge/events/bill24/webhook/never-seen")
		if err != nil {
			t.Fatal(err)
		}
		resp2.Body.Close()
		if resp2.StatusCode != 404 {
			t.Errorf("unknown event: %d", resp2.StatusCode)
		}
	})
}
