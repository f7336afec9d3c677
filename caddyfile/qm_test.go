package caddyfile

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

const qmCaddyfile = `{
` + testGlobals + `	billbridge {
		legacy %s {
			timeout 1s
		}
		qm %s {
			key qm-key
			secret {env.BB_TEST_QM_SECRET}
			rate 10
		}
	}
}
http://localhost:9080 {
	handle /qm/callback {
		billbridge qm_callback {
			call POST /api/payments {
				encode form
				field txn_ref ` + "`req.billId`" + `
				field invoice ` + "`req.merchantReference`" + `
				field amount  ` + "`req.billAmount`" + `
				field ccy     ` + "`req.currency`" + `
			}
			success ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
			on_failed POST /api/bill-status {
				encode form
				field bill   ` + "`req.billId`" + `
				field status ` + "`req.statusName`" + `
			}
		}
	}
	handle /qm/return {
		billbridge qm_redirect {
			redirect ` + "`\"/orders/\" + urlpath(req.merchantReference) + \"?paid=\" + text(req.status == 1)`" + `
		}
	}
	handle /legacy/qm/bills {
		billbridge qm_create_bill {
			bill {
				amount             ` + "`req.body.total`" + `
				merchant_reference ` + "`req.body.order_no`" + `
				callback_url       https://pay.example.com/qm/callback
			}
			reply {
				bill_id ` + "`res.billId`" + `
				pay_url ` + "`res.billUrl`" + `
				gc      ` + "`res.requireGCAmount`" + `
				amount  ` + "`res.billAmount`" + `
			}
		}
	}
}
`

type qmEnv struct {
	tester *caddytest.Tester
	stub   *legacyStub
	qm     *fakeQM
}

func startQM(t *testing.T) *qmEnv {
	tester := newTester(t)
	t.Setenv("BB_TEST_QM_SECRET", qmSecret)
	env := &qmEnv{stub: newLegacyStub(t), qm: newFakeQM(t), tester: tester}
	initServer(t, env.tester, fmt.Sprintf(qmCaddyfile, env.stub.URL(), env.qm.srv.URL))
	return env
}

func qmCallbackBody(id string, status int, amount string) string {
	return fmt.Sprintf(`{"billId":"%s","merchantReference":"INV-%s","requestReference":"R","paymentReference":"P","billAmount":"%s","currency":"MYR","status":%d,"statusName":"x","isFinal":true,"dateTime":1706600000000}`, id, id, amount, status)
}

const qmCallbackURL = "http://localhost:9080/qm/callback"

func TestQMCallbackPostsVerifiedBillOnce(t *testing.T) {
	env := startQM(t)
	id := uniqueID(t, "B")
	env.qm.setBill(id, 1, "100.00", "MYR")
	for i := range 3 {
		status, body, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(id, 1, "100.00"))
		if status != 200 || body != `{"received":true}` {
			t.Fatalf("delivery %d: %d %s", i+1, status, body)
		}
	}
	got := env.stub.ledger(id)
	if len(got) != 1 {
		t.Fatalf("ledger holds %d, want 1", len(got))
	}
	if f := got[0].Form; f.Get("amount") != "100.00" || f.Get("ccy") != "MYR" || f.Get("invoice") != "INV-"+id {
		t.Errorf("legacy got %v", f)
	}
	if env.qm.requery.Load() != 3 {
		t.Errorf("requeries = %d: every callback is confirmed", env.qm.requery.Load())
	}
}

func TestQMCallbackForgedNeverForwarded(t *testing.T) {
	env := startQM(t)
	cases := []struct {
		name        string
		qmStatus    int
		qmAmount    string
		claimStatus int
		claimAmount string
		status      int
	}{
		{"body says paid, QM says pending", 0, "100.00", 1, "100.00", 409},
		{"body says another amount", 1, "10.00", 1, "100.00", 409},
		{"unknown bill", -1, "", 1, "100.00", 409},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := uniqueID(t, "B")
			if c.qmStatus >= 0 {
				env.qm.setBill(id, c.qmStatus, c.qmAmount, "MYR")
			}
			status, body, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(id, c.claimStatus, c.claimAmount))
			if status != c.status || body != `{"error":"message does not match the gateway's record"}` {
				t.Errorf("got %d %s", status, body)
			}
			if n := len(env.stub.ledger(id)); n != 0 {
				t.Errorf("forged callback posted %d payments", n)
			}
		})
	}
	// The genuine callback still goes through after a forged one.
	id := uniqueID(t, "B")
	env.qm.setBill(id, 1, "100.00", "MYR")
	if status, _, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(id, 1, "999.00")); status != 409 {
		t.Fatalf("forged: %d", status)
	}
	if status, body, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(id, 1, "100.00")); status != 200 {
		t.Fatalf("genuine after forged: %d %s", status, body)
	}
	if n := len(env.stub.ledger(id)); n != 1 {
		t.Errorf("ledger holds %d", n)
	}
}

func TestQMCallbackFinalStatuses(t *testing.T) {
	env := startQM(t)
	failed, cancelled, pending := uniqueID(t, "F"), uniqueID(t, "C"), uniqueID(t, "P")
	env.qm.setBill(failed, 2, "5.00", "MYR")
	env.qm.setBill(cancelled, 3, "5.00", "MYR")
	env.qm.setBill(pending, 4, "5.00", "MYR")
	if status, body, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(failed, 2, "5.00")); status != 200 {
		t.Fatalf("failed: %d %s", status, body)
	}
	env.stub.mu.Lock()
	statuses := append([]url.Values(nil), env.stub.statuses...)
	env.stub.mu.Unlock()
	if len(statuses) != 1 || statuses[0].Get("bill") != failed || statuses[0].Get("status") != "Failed" {
		t.Errorf("on_failed call: %v", statuses)
	}
	// Cancelled has no call configured: acknowledged, nothing sent.
	if status, body, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(cancelled, 3, "5.00")); status != 200 || body != `{"received":true}` {
		t.Fatalf("cancelled: %d %s", status, body)
	}
	// Processing is not final: QM is told to call again.
	status, body, hdr := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(pending, 4, "5.00"))
	if status != 503 || hdr.Get("Retry-After") == "" || body != `{"error":"bill is not final yet; call again later"}` {
		t.Errorf("processing: %d %s", status, body)
	}
	if p := env.stub.posts.Load(); p != 0 {
		t.Errorf("%d payments posted for unpaid bills", p)
	}
}

func TestQMCallbackRequeryDownIsRetryable(t *testing.T) {
	env := startQM(t)
	id := uniqueID(t, "B")
	env.qm.setBill(id, 1, "20.00", "MYR")
	env.qm.failNext.Store(10) // more than the client's retries
	status, _, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(id, 1, "20.00"))
	if status != 503 {
		t.Fatalf("requery down: %d", status)
	}
	env.qm.failNext.Store(0)
	if status, body, _ := post(t, env.tester, qmCallbackURL, "", qmCallbackBody(id, 1, "20.00")); status != 200 {
		t.Fatalf("after recovery: %d %s", status, body)
	}
	if n := len(env.stub.ledger(id)); n != 1 {
		t.Errorf("ledger holds %d", n)
	}
}

func TestQMCallbackBadInput(t *testing.T) {
	env := startQM(t)
	for _, body := range []string{`{`, `{"billAmount":"1.00","currency":"MYR","status":1}`, `{"billId":"X","billAmount":"-1.00","currency":"MYR","status":1}`, `{"billId":"X","billAmount":"ten","currency":"MYR","status":1}`} {
		status, got, _ := post(t, env.tester, qmCallbackURL, "", body)
		if status != 400 || !strings.HasPrefix(got, `{"error":`) {
			t.Errorf("%s: %d %s", body, status, got)
		}
	}
	if env.qm.requery.Load() != 0 || env.stub.posts.Load() != 0 {
		t.Errorf("bad input reached QM or the legacy API")
	}
}

func TestQMCallbackConcurrentDuplicates(t *testing.T) {
	env := startQM(t)
	id := uniqueID(t, "B")
	env.qm.setBill(id, 1, "7.50", "MYR")
	client := burstClient()
	var wg sync.WaitGroup
	codes := make([]int, 50)
	for i := range codes {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, qmCallbackURL, strings.NewReader(qmCallbackBody(id, 1, "7.50")))
			resp, err := client.Do(req)
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 && c != 503 {
			t.Errorf("delivery %d: %d", i, c)
		}
	}
	if n := len(env.stub.ledger(id)); n != 1 {
		t.Errorf("50 concurrent callbacks posted %d times", n)
	}
}

func TestQMRedirect(t *testing.T) {
	env := startQM(t)
	id := uniqueID(t, "B")
	env.qm.setBill(id, 0, "100.00", "MYR") // still pending, whatever the query says
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(q string) (int, string, string) {
		resp, err := noFollow.Get("http://localhost:9080/qm/return?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, resp.Header.Get("Location"), b.String()
	}
	status, loc, _ := get("billId=" + id + "&merchantReference=INV-" + id + "&status=1")
	if status != 302 || loc != "/orders/INV-"+id+"?paid=false" {
		t.Errorf("pending bill: %d %q", status, loc)
	}
	env.qm.setBill(id, 1, "100.00", "MYR")
	status, loc, _ = get("billId=" + id + "&status=0")
	if status != 302 || loc != "/orders/INV-"+id+"?paid=true" {
		t.Errorf("paid bill: %d %q", status, loc)
	}
	status, _, body := get("merchantReference=x")
	if status != 400 || !strings.Contains(body, "missing its bill reference") {
		t.Errorf("no billId: %d %s", status, body)
	}
	status, _, body = get("billId=NOPE")
	if status != 400 || !strings.Contains(body, "could not find this bill") {
		t.Errorf("unknown bill: %d %s", status, body)
	}
}

func TestQMCreateBill(t *testing.T) {
	env := startQM(t)
	postForm := func(form string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://localhost:9080/legacy/qm/bills", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := env.tester.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		return resp.StatusCode, string(buf[:n])
	}
	status, body := postForm("order_no=INV-1001&total=100.00")
	want := `{"amount":100.00,"bill_id":"B-NEW-1","gc":12.3456,"pay_url":"https://pay.qm.example/b/B-NEW-1"}`
	if status != 200 || body != want {
		t.Errorf("got %d %s\nwant 200 %s", status, body, want)
	}
	env.qm.mu.Lock()
	created := env.qm.created
	env.qm.mu.Unlock()
	if len(created) != 1 || fmt.Sprint(created[0]["amount"]) != "100.00" || created[0]["callbackUrl"] != "https://pay.example.com/qm/callback" ||
		created[0]["redirectUrl"] != "http://localhost:9080/qm/return" || created[0]["merchantReference"] != "INV-1001" {
		t.Errorf("QM got %v", created)
	}
	status, body = postForm("order_no=REFUSE&total=5")
	if status != 502 || body != `{"error":"Quantum Metal refused the bill: Merchant is not active"}` {
		t.Errorf("refused: %d %s", status, body)
	}
	status, body = postForm("order_no=X&total=-5")
	if status != 400 || body != `{"error":"amount must be positive, got -5"}` {
		t.Errorf("negative: %d %s", status, body)
	}
}
