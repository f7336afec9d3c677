package caddyfile

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
	"github.com/billbridge/caddy-billbridge/mappings"
)

// The shipped examples, served by a real Caddy exactly as written except
// for what the test harness needs: the admin endpoint and ports of
// caddytest, and the upstreams' addresses (stub legacy APIs and fake
// gateways on 127.0.0.1). Every flow of every example posts, answers and
// replays with the gateways' own sample payloads.

// fixture reads a gateway sample payload from examples/payloads.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../examples/payloads", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// harnessOptions replace the example's own admin, port and TLS options.
const harnessOptions = `	admin localhost:2999
	http_port 9080
	https_port 9443
	skip_install_trust
	persist_config off
	auto_https off
`

var ownOptions = regexp.MustCompile(`(?m)^\t(admin|http_port|https_port|skip_install_trust|persist_config|auto_https|default_bind)\b.*\n`)

// exampleConfig is an example's Caddyfile made to run under caddytest,
// with each of edits (old → new) applied; every edit must apply once.
func exampleConfig(t *testing.T, example string, edits ...string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../examples", example, "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	open := strings.Index(s, "\n{\n")
	end := strings.Index(s, "\n}\n")
	if open < 0 || end < open {
		t.Fatalf("%s: no global options block", example)
	}
	s = s[:open] + "\n{\n" + harnessOptions + ownOptions.ReplaceAllString(s[open+3:end], "") + s[end:]
	for i := 0; i+1 < len(edits); i += 2 {
		if strings.Count(s, edits[i]) != 1 {
			t.Fatalf("%s: %q does not occur once", example, edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return s
}

// recorded is one request a stub legacy API got.
type recorded struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Form         url.Values     // a form body
	JSON         map[string]any // a JSON body, numbers as json.Number
}

// ledgerStub is a legacy API that records every request and answers by
// route with the function given for it.
type ledgerStub struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []recorded
}

func newLedgerStub(t *testing.T, routes map[string]func(l *ledgerStub, r recorded) (int, string)) *ledgerStub {
	l := &ledgerStub{}
	mux := http.NewServeMux()
	for pattern, fn := range routes {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			rec := recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone()}
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
				rec.Form, _ = url.ParseQuery(string(body))
			} else if len(body) > 0 {
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.UseNumber()
				_ = dec.Decode(&rec.JSON)
			}
			status, answer := fn(l, rec)
			l.mu.Lock()
			l.got = append(l.got, rec)
			l.mu.Unlock()
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, answer)
		})
	}
	l.srv = httptest.NewServer(mux)
	t.Cleanup(l.srv.Close)
	return l
}

// settled returns the requests recorded for method and path once at
// least want have come (a payment held on a durable store is delivered
// by a worker, just after the gateway's answer) and a moment has passed
// for any that should not come, or after 5s.
func (l *ledgerStub) settled(method, path string, want int) []recorded {
	eventually(5*time.Second, func() bool { return len(l.calls(method, path)) >= want })
	time.Sleep(200 * time.Millisecond)
	return l.calls(method, path)
}

// calls returns the requests recorded for method and path.
func (l *ledgerStub) calls(method, path string) []recorded {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []recorded
	for _, r := range l.got {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// exchange sends a request to the Caddy under test; redirects are not
// followed (they are answers to check).
func exchange(t *testing.T, method, target, host string, header map[string]string, body []byte) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// wantFields checks fields of a form (text) against want.
func wantFields(t *testing.T, what string, got url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got.Get(k), v)
		}
	}
}

// wantAmount checks that v is the decimal amount want (45 == 45.00).
func wantAmount(t *testing.T, what string, v any, want string) {
	t.Helper()
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = x
	default:
		t.Errorf("%s = %v (%T), want the amount %s", what, v, v, want)
		return
	}
	got, err := mappings.ParseDecimal(s)
	if err != nil || !got.Equal(mappings.MustDecimal(want)) {
		t.Errorf("%s = %s, want %s", what, s, want)
	}
}

func decodeAnswer(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return m
}

func TestExampleQuickstartEndToEnd(t *testing.T) {
	legacy := newLedgerStub(t, map[string]func(*ledgerStub, recorded) (int, string){
		"GET /api/customers": func(_ *ledgerStub, r recorded) (int, string) {
			if r.Query.Get("code") != "CU003035" {
				return 404, `{"status":"NOT_FOUND"}`
			}
			return 200, `{"customer":` + stubCustomers["CU003035"] + `}`
		},
		"POST /api/payments": func(*ledgerStub, recorded) (int, string) { return 200, `{"result":"OK","receipt_no":"RC-1"}` },
		"GET /api/payments":  func(*ledgerStub, recorded) (int, string) { return 404, `{"result":"NOT_FOUND"}` },
	})
	t.Setenv("LEGACY_API_KEY", "demo-key")
	t.Setenv("BILL24_TOKEN", "demo-token")
	t.Setenv("QUICKSTART_PORT", "9080")
	t.Setenv("QUICKSTART_LEGACY", strings.TrimPrefix(legacy.srv.URL, "http://"))
	initServer(t, newTester(t), exampleConfig(t, "quickstart"))
	token := map[string]string{"token": "demo-token"}

	t.Run("bill24_proxy answers what the customer owes", func(t *testing.T) {
		status, _, body := exchange(t, "POST", "http://localhost:9080/bill24/proxy", "", token, fixture(t, "bill24_proxy_request.json"))
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		got := decodeAnswer(t, body)
		want := decodeAnswer(t, string(fixture(t, "bill24_proxy_response.json")))
		if got["code"] != want["code"] {
			t.Errorf("code %v, want %v: %s", got["code"], want["code"], body)
		}
		data, _ := got["data"].(map[string]any)
		wantData := want["data"].(map[string]any)
		for _, k := range []string{"consumer_code", "consumer_name", "consumer_name_latin", "phone", "currency", "description"} {
			if data[k] != wantData[k] {
				t.Errorf("data.%s = %v, want %v (Bill24's sample answer)", k, data[k], wantData[k])
			}
		}
		wantAmount(t, "data.due_amount", data["due_amount"], "10.20") // the stub's legacy customer owes 10.20
		wantAmount(t, "data.max_amount", data["max_amount"], "5000")
		if calls := legacy.calls("GET", "/api/customers"); len(calls) != 1 || calls[0].Header.Get("X-Api-Key") != "demo-key" {
			t.Errorf("legacy lookups: %+v", calls)
		}
	})

	t.Run("bill24_webhook posts once and replays", func(t *testing.T) {
		payload := fixture(t, "bill24_webhook_v1.json")
		status, _, first := exchange(t, "POST", "http://localhost:9080/bill24/webhook", "", token, payload)
		if status != 200 || !strings.Contains(first, `"SUCCESS"`) {
			t.Fatalf("first delivery: %d %s", status, first)
		}
		status, _, again := exchange(t, "POST", "http://localhost:9080/bill24/webhook", "", token, payload)
		if status != 200 || again != first {
			t.Errorf("duplicate: %d %q, want the first answer %q", status, again, first)
		}
		posts := legacy.calls("POST", "/api/payments")
		if len(posts) != 1 {
			t.Fatalf("%d posts, want exactly 1", len(posts))
		}
		wantFields(t, "posted", posts[0].Form, map[string]string{
			"invoice_no": "37627011", "cust_no": "37627011", "ccy": "USD", "txn_ref": "348b4b16-1f06-4563-8204-105a8420a067",
			"paid_at": "2024-11-29T16:58:16.727168", "channel": "ACLEDA", "payer_name": "MAO SAMON",
		})
		wantAmount(t, "posted amount", posts[0].Form.Get("amount"), "45")
		if k := posts[0].Header.Get("Idempotency-Key"); k != "348b4b16-1f06-4563-8204-105a8420a067" {
			t.Errorf("Idempotency-Key %q", k)
		}
	})

	t.Run("bill24_webhook refuses a wrong token", func(t *testing.T) {
		status, _, _ := exchange(t, "POST", "http://localhost:9080/bill24/webhook", "", map[string]string{"token": "nope"}, fixture(t, "bill24_webhook_checkout.json"))
		if status != 401 {
			t.Errorf("status %d, want 401", status)
		}
	})
}

func TestExampleQMEndToEnd(t *testing.T) {
	legacy := newLedgerStub(t, map[string]func(*ledgerStub, recorded) (int, string){
		"POST /billing/payments.php":     func(*ledgerStub, recorded) (int, string) { return 200, `{"ok":true}` },
		"GET /billing/payments.php":      func(*ledgerStub, recorded) (int, string) { return 200, `{"found":false}` },
		"POST /billing/order_status.php": func(*ledgerStub, recorded) (int, string) { return 200, `{"ok":true}` },
	})
	qm := newFakeQM(t)
	var paid map[string]any
	if err := json.Unmarshal(fixture(t, "qm_callback.json"), &paid); err != nil {
		t.Fatal(err)
	}
	paid["billAmount"] = json.RawMessage(`"100.00"`)
	failed := map[string]any{"billId": "B2", "merchantReference": "INV-1002", "requestReference": "R2", "paymentReference": "P2",
		"billAmount": json.RawMessage(`"25.50"`), "currency": "USD", "status": 2, "statusName": "Failed", "isFinal": true, "dateTime": 1706600000000}
	qm.mu.Lock()
	qm.bills["B1706600000000"], qm.bills["B2"] = paid, failed
	qm.mu.Unlock()

	t.Setenv("LEGACY_API_KEY", "k")
	t.Setenv("QM_KEY", qmKey)
	t.Setenv("QM_SECRET", qmSecret)
	t.Setenv("REDIS_URL", "redis://"+redistest.Addr(t))
	initServer(t, newTester(t), exampleConfig(t, "qm",
		"http://127.0.0.1:8081", legacy.srv.URL,
		"https://api.quantummetal.example", qm.srv.URL,
		"pay.example.com {", "http://pay.example.com:9080 {",
		// The legacy servers' network, as the test's client is seen.
		"remote_ip 10.0.0.0/8", "remote_ip 10.0.0.0/8 127.0.0.1/32",
	))
	const host = "pay.example.com"

	t.Run("qm_callback posts the paid bill once and replays", func(t *testing.T) {
		payload := fixture(t, "qm_callback.json")
		status, _, first := exchange(t, "POST", "http://localhost:9080/qm/callback", host, nil, payload)
		if status != 200 {
			t.Errorf("callback: %d %s", status, first)
		}
		status, _, again := exchange(t, "POST", "http://localhost:9080/qm/callback", host, nil, payload)
		if status != 200 || again != first {
			t.Errorf("repeated callback: %d %q, want the first answer %q", status, again, first)
		}
		posts := legacy.settled("POST", "/billing/payments.php", 1)
		if len(posts) != 1 {
			t.Fatalf("%d posts of the paid bill, want exactly 1", len(posts))
		}
		wantFields(t, "posted", posts[0].Form, map[string]string{
			"order_no": "INV-1001", "amount": "100.00", "currency": "USD", "gateway_ref": "B1706600000000",
			// 1706600000000 ms is 2024-01-30T07:33:20Z, 15:33:20 in Kuala Lumpur.
			"paid_at": "2024-01-30 15:33:20",
		})
		if qm.requery.Load() < 2 {
			t.Errorf("QM asked %d times, want every callback requeried", qm.requery.Load())
		}
	})

	t.Run("qm_callback sends a failed bill to on_failed", func(t *testing.T) {
		body := []byte(`{"billId":"B2","merchantReference":"INV-1002","requestReference":"R2","paymentReference":"P2","billAmount":"25.50","currency":"USD","status":2,"statusName":"Failed","isFinal":true,"dateTime":1706600000000}`)
		status, _, answer := exchange(t, "POST", "http://localhost:9080/qm/callback", host, nil, body)
		if status != 200 {
			t.Errorf("failed bill: %d %s", status, answer)
		}
		st := legacy.settled("POST", "/billing/order_status.php", 1)
		if len(st) != 1 {
			t.Fatalf("%d order_status calls, want 1", len(st))
		}
		wantFields(t, "on_failed", st[0].Form, map[string]string{"order_no": "INV-1002", "status": "failed"})
	})

	t.Run("qm_redirect sends the customer to the order page", func(t *testing.T) {
		status, h, body := exchange(t, "GET", "http://localhost:9080/qm/return?billId=B1706600000000", host, nil, nil)
		if want := "https://shop.example.com/orders/INV-1001?paid=1"; status != 302 || h.Get("Location") != want {
			t.Errorf("redirect: %d Location %q, want 302 %q (%s)", status, h.Get("Location"), want, body)
		}
	})

	t.Run("qm_create_bill creates the bill at QM and maps the answer", func(t *testing.T) {
		status, _, body := exchange(t, "POST", "http://localhost:9080/internal/qm/bills", host, nil, []byte(`{"total": 100.00, "order_no": "INV-1001"}`))
		if status != 200 {
			t.Fatalf("create: %d %s", status, body)
		}
		got := decodeAnswer(t, body)
		if got["payment_url"] != "https://pay.qm.example/b/B-NEW-1" || got["qm_bill_id"] != "B-NEW-1" || got["expires_ms"] != json.Number("1706603600000") {
			t.Errorf("answer %s", body)
		}
		qm.mu.Lock()
		defer qm.mu.Unlock()
		if len(qm.created) != 1 {
			t.Fatalf("%d bills created at QM, want 1", len(qm.created))
		}
		c := qm.created[0]
		wantAmount(t, "QM's amount", c["amount"], "100")
		if c["merchantReference"] != "INV-1001" || c["callbackUrl"] != "https://pay.example.com/qm/callback" || c["redirectUrl"] != "https://pay.example.com/qm/return" {
			t.Errorf("QM got %v", c)
		}
	})
}

func TestExampleBill24CheckoutEndToEnd(t *testing.T) {
	legacy := newLedgerStub(t, map[string]func(*ledgerStub, recorded) (int, string){
		"POST /api/orders/paid": func(*ledgerStub, recorded) (int, string) { return 201, `{"id":1}` },
		"GET /api/orders/{ref}/payments": func(l *ledgerStub, r recorded) (int, string) {
			return 200, `{"items":[]}`
		},
	})
	b24 := newFakeBill24(t)
	payload := fixture(t, "bill24_webhook_checkout.json")
	b24.setTxData("174952172035635", string(payload))

	t.Setenv("LEGACY_API_KEY", "k")
	t.Setenv("BILL24_TOKEN", "b24-token")
	t.Setenv("BILL24_CLIENT_ID", "client-1")
	t.Setenv("BILL24_SECRET", "b24-secret")
	t.Setenv("BILL24_MERCHANT_TOKEN", "merchant-token")
	t.Setenv("REDIS_URL", "redis://"+redistest.Addr(t))
	initServer(t, newTester(t), exampleConfig(t, "bill24-checkout",
		"http://127.0.0.1:8081", legacy.srv.URL,
		"https://merchantapi.bill24.io", b24.srv.URL,
		"pay.example.com {", "http://pay.example.com:9080 {",
	))
	const host = "pay.example.com"
	token := map[string]string{"token": "b24-token"}

	t.Run("bill24_webhook verified, posted once, replayed", func(t *testing.T) {
		status, _, first := exchange(t, "POST", "http://localhost:9080/bill24/webhook", host, token, payload)
		if status != 200 || !strings.Contains(first, `"SUCCESS"`) {
			t.Fatalf("first delivery: %d %s", status, first)
		}
		status, _, again := exchange(t, "POST", "http://localhost:9080/bill24/webhook", host, token, payload)
		if status != 200 || again != first {
			t.Errorf("duplicate: %d %q, want %q", status, again, first)
		}
		posts := legacy.settled("POST", "/api/orders/paid", 1)
		if len(posts) != 1 {
			t.Fatalf("%d posts, want exactly 1", len(posts))
		}
		p := posts[0].JSON
		for k, v := range map[string]string{"order_ref": "234000545", "bill_no": "INV23001", "currency": "KHR",
			"bill24_tran_id": "174952172035635", "bank": "AMK", "paid_at": "2023-05-10 15:47:12"} {
			if p[k] != v {
				t.Errorf("posted %s = %v, want %q", k, p[k], v)
			}
		}
		wantAmount(t, "posted amount", p["amount"], "50000")
		wantAmount(t, "posted fee", p["fee"], "500")
		if b24.verifies.Load() != 2 {
			t.Errorf("%d verifications, want one per delivery", b24.verifies.Load())
		}
	})

	t.Run("bill24_webhook that Bill24 contradicts is never posted", func(t *testing.T) {
		// Consistent in itself (amount + fee = total), so only Bill24's
		// own record can tell it is not what was paid.
		tampered := bytes.Replace(payload, []byte(`"tran_amount": 50000.00`), []byte(`"tran_amount": 5.00`), 1)
		tampered = bytes.Replace(tampered, []byte(`"total_amount": 50500.00`), []byte(`"total_amount": 505.00`), 1)
		tampered = bytes.Replace(tampered, []byte(`"tran_id": "174952172035635"`), []byte(`"tran_id": "174952172035636"`), 1)
		b24.setTxData("174952172035636", strings.Replace(string(payload), "174952172035635", "174952172035636", 1))
		status, _, body := exchange(t, "POST", "http://localhost:9080/bill24/webhook", host, token, tampered)
		if status != 409 {
			t.Errorf("tampered: %d %s, want 409", status, body)
		}
		if n := len(legacy.settled("POST", "/api/orders/paid", 1)); n != 1 {
			t.Errorf("%d posts, want still 1", n)
		}
	})
}
