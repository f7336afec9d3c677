package qm_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	billbridge "github.com/billbridge/caddy-billbridge/module"
)

// createQM answers Create Bill with a bill of the amount asked for, in MYR,
// and records every request it got.
type createQM struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (q *createQM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	_ = dec.Decode(&req)
	q.mu.Lock()
	q.bodies = append(q.bodies, req)
	n := len(q.bodies)
	q.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	out, _ := json.Marshal(map[string]any{"code": 0, "message": "ok", "data": map[string]any{
		"billId": fmt.Sprintf("B%d", n), "billAmount": req["amount"], "currency": "MYR",
		"merchantReference": req["merchantReference"], "billUrl": "https://qm.example/pay", "expiredOn": 1706603600000,
	}})
	_, _ = w.Write(out)
}

func (q *createQM) calls() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.bodies)
}

// newCreateBill provisions a qm_create_bill handler against a createQM.
func newCreateBill(t *testing.T, flow string) (*billbridge.Handler, *createQM) {
	t.Helper()
	qm := &createQM{}
	srv := httptest.NewServer(qm)
	t.Cleanup(srv.Close)
	s, err := billbridge.NewStandalone([]byte(fmt.Sprintf(`{"legacy":{"base_url":"http://127.0.0.1:1"},"qm":{"base_url":%q,"key":"k","secret":"s","rate":1000}}`, srv.URL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	h, err := s.HandlerFromCaddyfile(flow)
	if err != nil {
		t.Fatal(err)
	}
	return h, qm
}

const createFlow = "billbridge qm_create_bill {\n\tbill {\n\t\tamount `req.body.total`\n\t\tmerchant_reference `req.body.order_no`\n\t}\n}"

func postJSON(t *testing.T, h *billbridge.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/internal/qm/bills", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return serve(t, h, r)
}

// TestCreateBillRefusesAmountsNoCallbackCouldPost: QM would create these
// bills, and every later callback's format_amount would fail on them.
func TestCreateBillRefusesAmountsNoCallbackCouldPost(t *testing.T) {
	h, qm := newCreateBill(t, createFlow)
	for _, tc := range []struct{ total, want string }{
		{`10.505`, "more decimal places than MYR allows (2)"},
		{`"10.505"`, "more decimal places than MYR allows (2)"},
		{`0.0000001`, "more decimal places than MYR allows (2)"},
		{`"1e-7"`, "more decimal places than MYR allows (2)"},
		{`1000000000000000`, "more integer digits than MYR allows (15)"},
		{`"1e1000"`, "more integer digits than MYR allows (15)"},
		{`99999999999999999999.00`, "more integer digits than MYR allows (15)"},
	} {
		w := postJSON(t, h, `{"total":`+tc.total+`,"order_no":"ORD-1"}`)
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"error":"amount `) || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("total %s: %d %s, want 400 with %q", tc.total, w.Code, w.Body, tc.want)
		}
	}
	if n := qm.calls(); n != 0 {
		t.Fatalf("QM saw %d create calls for refused amounts", n)
	}
	// What the currency allows goes through, exactly.
	for i, total := range []string{`10.50`, `10.5`, `"10.500"`, `999999999999999.99`, `1`} {
		w := postJSON(t, h, `{"total":`+total+`,"order_no":"ORD-1"}`)
		if w.Code != 200 {
			t.Errorf("total %s: %d %s", total, w.Code, w.Body)
			continue
		}
		if got := qm.bodies[i]["amount"]; got == nil {
			t.Errorf("total %s: QM got no amount", total)
		}
	}
}

// TestCreateBillCurrency: the places come from the configured currency.
func TestCreateBillCurrency(t *testing.T) {
	h, qm := newCreateBill(t, "billbridge qm_create_bill {\n\tcurrency JPY\n\tbill {\n\t\tamount `req.body.total`\n\t}\n}")
	if w := postJSON(t, h, `{"total":10.5}`); w.Code != 400 || !strings.Contains(w.Body.String(), "more decimal places than JPY allows (0)") {
		t.Errorf("10.5 JPY: %d %s", w.Code, w.Body)
	}
	if qm.calls() != 0 {
		t.Errorf("QM called for a refused amount")
	}
	if w := postJSON(t, h, `{"total":"1000.00"}`); w.Code != 200 {
		t.Errorf("1000.00 JPY: %d %s", w.Code, w.Body)
	}
	for flow, want := range map[string]string{
		"billbridge qm_create_bill {\n\tcurrency myr\n\tbill {\n\t\tamount `1`\n\t}\n}":                 `currency "myr": want an ISO 4217 code`,
		"billbridge qm_create_bill {\n\tcurrency MYR MYR\n\tbill {\n\t\tamount `1`\n\t}\n}":             "wrong argument count",
		"billbridge qm_create_bill {\n\tcurrency MYR\n\tcurrency USD\n\tbill {\n\t\tamount `1`\n\t}\n}": "currency",
		"billbridge qm_create_bill {\n\tcurrency XYZ\n\tbill {\n\t\tamount `1`\n\t}\n}":                 `currency "XYZ": unknown`,
	} {
		s, err := billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1"},"qm":{"base_url":"http://127.0.0.1:1","key":"k","secret":"s"}}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.HandlerFromCaddyfile(flow); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", flow, err, want)
		}
		s.Close()
	}
}

// TestCreateBillRefusesReferencesThatComeBackAsSomethingElse: the
// reference returns in every redirect and callback; a tab at its start
// turned "/" + merchantReference into another host.
func TestCreateBillRefusesReferencesThatComeBackAsSomethingElse(t *testing.T) {
	h, qm := newCreateBill(t, createFlow)
	for _, ref := range []string{"\t/evil.example", "ORD\n1", "ORD\r\nSet-Cookie: x", "ORD\x00", "ORD\u0085", "ORD\x7f",
		strings.Repeat("x", 129)} {
		body, _ := json.Marshal(map[string]any{"total": json.Number("10.00"), "order_no": ref})
		w := postJSON(t, h, string(body))
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"error":"merchant_reference: `) {
			t.Errorf("reference %q: %d %s, want 400 about merchant_reference", ref, w.Code, w.Body)
		}
	}
	// A form body keeps its bytes as sent: invalid UTF-8 reaches the check.
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("total=10.00&order_no=%FF%FE"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := serve(t, h, r); w.Code != 400 || !strings.Contains(w.Body.String(), "not valid UTF-8") {
		t.Errorf("invalid UTF-8 reference: %d %s", w.Code, w.Body)
	}
	if n := qm.calls(); n != 0 {
		t.Fatalf("QM saw %d create calls for refused references", n)
	}
	for _, ref := range []string{"ORD-1", "INV 1001/ក", strings.Repeat("x", 128), ".."} {
		body, _ := json.Marshal(map[string]any{"total": json.Number("10.00"), "order_no": ref})
		if w := postJSON(t, h, string(body)); w.Code != 200 {
			t.Errorf("reference %q: %d %s", ref, w.Code, w.Body)
		}
	}
}

func TestCreateBillRefusesURLsQMCannotCall(t *testing.T) {
	h, qm := newCreateBill(t, "billbridge qm_create_bill {\n\tbill {\n\t\tamount `10`\n\t\tredirect_url `req.body.back`\n\t}\n}")
	for _, back := range []string{"/return", "javascript:alert(1)", "https://shop.example/re turn", "https://shop.example/\tx",
		"https://user:pw@shop.example/", "ftp://shop.example/", "https://", "https://shop.example/" + strings.Repeat("x", 2048)} {
		body, _ := json.Marshal(map[string]string{"back": back})
		if w := postJSON(t, h, string(body)); w.Code != 400 || !strings.Contains(w.Body.String(), `"error":"redirect_url: `) {
			t.Errorf("redirect_url %q: %d %s", back, w.Code, w.Body)
		}
	}
	if n := qm.calls(); n != 0 {
		t.Fatalf("QM saw %d create calls for refused URLs", n)
	}
	if w := postJSON(t, h, `{"back":"https://shop.example/return?x=1"}`); w.Code != 200 {
		t.Errorf("a good URL: %d %s", w.Code, w.Body)
	}
	// The default URLs are built from the host called.
	if got := qm.bodies[0]["callbackUrl"]; got != "http://example.com/qm/callback" {
		t.Errorf("default callbackUrl %v", got)
	}
}
