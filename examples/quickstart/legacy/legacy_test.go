package legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := New()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body keeping numbers exact.
func (a answer) decode(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", a.body, err)
	}
	return m
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, res.Header, b}
}

func get(t *testing.T, u string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func post(t *testing.T, base string, form url.Values, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/payments", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// payment is a valid form for customer 37627011 (USD 45.00 due), like the
// Bill24 V1 webhook fixture would be mapped.
func payment(txnRef, amount string) url.Values {
	return url.Values{
		"invoice_no": {"37627011"},
		"cust_no":    {"37627011"},
		"amount":     {amount},
		"ccy":        {"USD"},
		"txn_ref":    {txnRef},
		"paid_at":    {"2024-11-29T16:58:16.727168"},
		"channel":    {"ACLEDA"},
		"payer_name": {"MAO SAMON"},
	}
}

func TestGetCustomerBytes(t *testing.T) {
	_, ts := newTestServer(t)
	for _, tc := range []struct{ code, want string }{
		{"CU003035", `{"status":"OK","customer":{"cust_no":"CU003035","full_name":"Nheb Nim","full_name_kh":"ញ៉េប នីម","tel":"010888999","ccy":"USD","amt_due":10.00,"min_pay":-1,"max_pay":5000,"credit":0.00,"memo":"Invoice on Feb-2024","bill_dt":"2024-02-29 10:46:33","due_dt":"2024-03-30 10:46:33","last_paid_dt":"2024-01-05 10:46:33","overdue":false}}` + "\n"},
		{"12340001", `{"status":"OK","customer":{"cust_no":"12340001","full_name":"CHEA Samnang","full_name_kh":"ជា សំណាង","tel":"017555123","ccy":"KHR","amt_due":50000.00,"min_pay":1000,"max_pay":-1,"credit":0.00,"memo":"Water bill INV23001","bill_dt":"2023-05-01 09:00:00","due_dt":"2023-05-31 17:00:00","last_paid_dt":"2023-04-10 11:20:45","overdue":false}}` + "\n"},
	} {
		a := get(t, ts.URL+"/api/customers?code="+tc.code)
		if a.status != http.StatusOK {
			t.Fatalf("%s: status %d, body %s", tc.code, a.status, a.body)
		}
		if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tc.code, ct)
		}
		if string(a.body) != tc.want {
			t.Errorf("%s: body\n got %s\nwant %s", tc.code, a.body, tc.want)
		}
	}
}

func TestSeededCustomers(t *testing.T) {
	_, ts := newTestServer(t)
	for _, tc := range []struct {
		code, nameKh, ccy, due, credit string
		overdue                        bool
	}{
		{"CU003035", "ញ៉េប នីម", "USD", "10.00", "0.00", false},
		{"37627011", "", "USD", "45.00", "0.00", false},
		{"12340001", "ជា សំណាង", "KHR", "50000.00", "0.00", false},
		{"CU000000", "សុខ ដារ៉ា", "USD", "0.00", "5.00", false},
		{"CU000001", "កែវ សុភា", "KHR", "120000.00", "0.00", true},
		{"CU000002", "", "EUR", "25.00", "0.00", false},
	} {
		a := get(t, ts.URL+"/api/customers?code="+url.QueryEscape(tc.code))
		if a.status != http.StatusOK {
			t.Fatalf("%s: status %d", tc.code, a.status)
		}
		c := a.decode(t)["customer"].(map[string]any)
		if c["cust_no"] != tc.code || c["full_name_kh"] != tc.nameKh || c["ccy"] != tc.ccy ||
			c["amt_due"] != json.Number(tc.due) || c["credit"] != json.Number(tc.credit) || c["overdue"] != tc.overdue {
			t.Errorf("%s: got %v", tc.code, c)
		}
	}
}

func TestGetCustomerNotFound(t *testing.T) {
	_, ts := newTestServer(t)
	a := get(t, ts.URL+"/api/customers?code=NOPE123")
	if a.status != http.StatusNotFound || string(a.body) != `{"status":"NOT_FOUND"}`+"\n" {
		t.Errorf("unknown code: %d %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	a = get(t, ts.URL+"/api/customers")
	if a.status != http.StatusBadRequest || a.decode(t)["status"] != "ERROR" {
		t.Errorf("missing code: %d %s", a.status, a.body)
	}
}

func TestPostPayment(t *testing.T) {
	s, ts := newTestServer(t)
	form := url.Values{
		"invoice_no": {"INV23001"},
		"cust_no":    {"12340001"},
		"amount":     {"50000.00"},
		"ccy":        {"KHR"},
		"txn_ref":    {"174952172035635"},
		"paid_at":    {"2023-05-10T15:47:12.890062"},
		"channel":    {"AMK"},
		"payer_name": {"ជា សំណាង"},
	}
	a := post(t, ts.URL, form, map[string]string{"Idempotency-Key": "bill24:174952172035635"})
	if a.status != http.StatusOK || string(a.body) != `{"result":"OK","receipt_no":"RC-000001"}`+"\n" {
		t.Fatalf("post: %d %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}

	rows := s.Ledger()
	if len(rows) != 1 {
		t.Fatalf("ledger has %d rows", len(rows))
	}
	p := rows[0]
	want := Payment{
		ReceiptNo: "RC-000001", InvoiceNo: "INV23001", CustNo: "12340001", Amount: "50000.00", Ccy: "KHR",
		TxnRef: "174952172035635", PaidAt: "2023-05-10T15:47:12.890062", Channel: "AMK",
		PayerName: "ជា សំណាង", IdempotencyKey: "bill24:174952172035635", PostedAt: p.PostedAt,
	}
	if p != want {
		t.Errorf("row\n got %+v\nwant %+v", p, want)
	}
	if _, err := time.Parse(dateLayout, p.PostedAt); err != nil {
		t.Errorf("posted_at %q: %v", p.PostedAt, err)
	}

	c, _ := s.Customer("12340001")
	if c.AmtDue != "0.00" || c.Credit != "0.00" || c.LastPaidDt != "2023-05-10 15:47:12" {
		t.Errorf("customer after payment: %+v", c)
	}
	a = get(t, ts.URL+"/api/customers?code=12340001")
	if !bytes.Contains(a.body, []byte(`"amt_due":0.00,`)) || !bytes.Contains(a.body, []byte(`"last_paid_dt":"2023-05-10 15:47:12"`)) {
		t.Errorf("customer answer after payment: %s", a.body)
	}

	// The lookup and the ledger show the same row, Khmer intact.
	a = get(t, ts.URL+"/api/payments?txn_ref=174952172035635")
	wantRow := `"receipt_no":"RC-000001","invoice_no":"INV23001","cust_no":"12340001","amount":50000.00,"ccy":"KHR","txn_ref":"174952172035635","paid_at":"2023-05-10T15:47:12.890062","channel":"AMK","payer_name":"ជា សំណាង","idempotency_key":"bill24:174952172035635","posted_at":"` + p.PostedAt + `"`
	if a.status != http.StatusOK || string(a.body) != `{"result":"OK",`+wantRow+"}\n" {
		t.Errorf("lookup: %d %s", a.status, a.body)
	}
	a = get(t, ts.URL+"/api/ledger")
	if a.status != http.StatusOK || string(a.body) != `[{`+wantRow+"}]\n" {
		t.Errorf("ledger: %d %s", a.status, a.body)
	}
}

func TestPostPaymentOptionalFields(t *testing.T) {
	s, ts := newTestServer(t)
	form := payment("T-1", "45")
	form.Del("paid_at")
	form.Del("channel")
	form.Del("payer_name")
	if a := post(t, ts.URL, form, nil); a.status != http.StatusOK {
		t.Fatalf("post: %d %s", a.status, a.body)
	}
	p := s.Ledger()[0]
	if p.Amount != "45.00" || p.PaidAt != "" || p.Channel != "" || p.PayerName != "" || p.IdempotencyKey != "" {
		t.Errorf("row %+v", p)
	}
	if c, _ := s.Customer("37627011"); c.LastPaidDt != p.PostedAt || c.AmtDue != "0.00" {
		t.Errorf("customer %+v, posted_at %s", c, p.PostedAt)
	}
}

func TestPostPaymentRejects(t *testing.T) {
	s, ts := newTestServer(t)
	with := func(k, v string) url.Values {
		f := payment("T-1", "1.00")
		f.Set(k, v)
		return f
	}
	without := func(k string) url.Values {
		f := payment("T-1", "1.00")
		f.Del(k)
		return f
	}
	cases := map[string]url.Values{
		"no invoice_no":    without("invoice_no"),
		"no cust_no":       without("cust_no"),
		"no amount":        without("amount"),
		"no ccy":           without("ccy"),
		"no txn_ref":       without("txn_ref"),
		"blank txn_ref":    with("txn_ref", "  "),
		"unknown customer": with("cust_no", "NOPE123"),
		"wrong currency":   with("ccy", "KHR"),
	}
	for _, bad := range []string{"abc", "1e3", "-5", "+5", "0", "0.00", "1.234", "1,000", " 5", "5.", ".5", "NaN", "Inf", "0x10", "12345678901234"} {
		cases["amount "+bad] = with("amount", bad)
	}
	calls := 0
	for name, form := range cases {
		a := post(t, ts.URL, form, nil)
		calls++
		if a.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, body %s", name, a.status, a.body)
			continue
		}
		m := a.decode(t)
		if m["result"] != "ERROR" || m["error"] == "" || m["error"] == nil {
			t.Errorf("%s: body %s", name, a.body)
		}
	}

	// Not a form post.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/payments", strings.NewReader(`{"amount":1}`))
	req.Header.Set("Content-Type", "application/json")
	a := do(t, req)
	calls++
	if a.status != http.StatusUnsupportedMediaType || a.decode(t)["result"] != "ERROR" {
		t.Errorf("JSON body: %d %s", a.status, a.body)
	}
	// Fields in the query string do not count.
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/api/payments?"+payment("T-1", "1").Encode(), strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a = do(t, req)
	calls++
	if a.status != http.StatusBadRequest {
		t.Errorf("query-string fields: %d %s", a.status, a.body)
	}

	if n := len(s.Ledger()); n != 0 {
		t.Errorf("rejected posts booked %d rows", n)
	}
	if got := s.PaymentCalls(); got != calls {
		t.Errorf("PaymentCalls = %d, want %d", got, calls)
	}
	if c, _ := s.Customer("37627011"); c.AmtDue != "45.00" {
		t.Errorf("amt_due changed to %s", c.AmtDue)
	}
}

func TestAmountsExact(t *testing.T) {
	s, ts := newTestServer(t)
	// 10 - 0.1 - 0.1 - 0.1 in float64 is 9.700000000000001.
	for i := range 3 {
		f := url.Values{"invoice_no": {"Feb-2024"}, "cust_no": {"CU003035"}, "amount": {"0.10"}, "ccy": {"USD"}, "txn_ref": {fmt.Sprint("T-", i)}}
		if a := post(t, ts.URL, f, nil); a.status != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, a.status, a.body)
		}
	}
	a := get(t, ts.URL+"/api/customers?code=CU003035")
	if !bytes.Contains(a.body, []byte(`"amt_due":9.70,`)) {
		t.Errorf("after 3 × 0.10: %s", a.body)
	}
	// Extra zero decimals are fine; overpaying goes to credit.
	f := url.Values{"invoice_no": {"x"}, "cust_no": {"CU003035"}, "amount": {"10.0000"}, "ccy": {"USD"}, "txn_ref": {"T-9"}}
	if a := post(t, ts.URL, f, nil); a.status != http.StatusOK {
		t.Fatalf("overpay: %d %s", a.status, a.body)
	}
	if c, _ := s.Customer("CU003035"); c.AmtDue != "0.00" || c.Credit != "0.30" {
		t.Errorf("after overpaying: %+v", c)
	}
	if got := s.Ledger()[3].Amount; got != "10.00" {
		t.Errorf("booked amount %q", got)
	}
}

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]int64{
		"1": 100, "45": 4500, "45.5": 4550, "45.50": 4550, "0.01": 1, "007": 700,
		"50000.00": 5000000, "50000.000": 5000000, "9999999999999.99": 999999999999999,
	} {
		got, err := parseAmount(in)
		if err != nil || got != want {
			t.Errorf("parseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0.001", "1.001", "-1", "1e2", "1 ", "١٢", "10000000000000"} {
		if got, err := parseAmount(in); err == nil {
			t.Errorf("parseAmount(%q) = %d, want an error", in, got)
		}
	}
	for in, want := range map[int64]string{0: "0.00", 1: "0.01", 1000: "10.00", 5000000: "50000.00", -250: "-2.50"} {
		if got := formatMinor(in); got != want {
			t.Errorf("formatMinor(%d) = %q, want %q", in, got, want)
		}
	}
}

// A real old system books every POST: the same gateway transaction posted
// twice is two rows and is charged twice. That is what billbridge prevents.
func TestDoublePostBooksTwice(t *testing.T) {
	s, ts := newTestServer(t)
	hdr := map[string]string{"Idempotency-Key": "348b4b16-1f06-4563-8204-105a8420a067"}
	for i, want := range []string{"RC-000001", "RC-000002"} {
		a := post(t, ts.URL, payment("348b4b16-1f06-4563-8204-105a8420a067", "45"), hdr)
		if a.status != http.StatusOK || a.decode(t)["receipt_no"] != want {
			t.Fatalf("post %d: %d %s", i, a.status, a.body)
		}
	}
	rows := s.Ledger()
	if len(rows) != 2 || rows[0].TxnRef != rows[1].TxnRef || rows[1].IdempotencyKey != hdr["Idempotency-Key"] {
		t.Fatalf("ledger %+v", rows)
	}
	if c, _ := s.Customer("37627011"); c.AmtDue != "0.00" || c.Credit != "45.00" {
		t.Errorf("customer after the double: %+v", c)
	}
	if s.PaymentCalls() != 2 {
		t.Errorf("PaymentCalls = %d", s.PaymentCalls())
	}
	// The lookup answers with the first row.
	if a := get(t, ts.URL+"/api/payments?txn_ref=348b4b16-1f06-4563-8204-105a8420a067"); a.decode(t)["receipt_no"] != "RC-000001" {
		t.Errorf("lookup: %s", a.body)
	}
}

func TestLookupPayment(t *testing.T) {
	_, ts := newTestServer(t)
	a := get(t, ts.URL+"/api/payments?txn_ref=nope")
	if a.status != http.StatusNotFound || string(a.body) != `{"result":"NOT_FOUND"}`+"\n" {
		t.Errorf("unknown ref: %d %s", a.status, a.body)
	}
	a = get(t, ts.URL+"/api/payments")
	if a.status != http.StatusBadRequest || a.decode(t)["result"] != "ERROR" {
		t.Errorf("missing ref: %d %s", a.status, a.body)
	}
	post(t, ts.URL, payment("a&b=c ü", "1"), nil)
	a = get(t, ts.URL+"/api/payments?txn_ref="+url.QueryEscape("a&b=c ü"))
	if m := a.decode(t); a.status != http.StatusOK || m["result"] != "OK" || m["txn_ref"] != "a&b=c ü" || m["amount"] != json.Number("1.00") {
		t.Errorf("escaped ref: %d %s", a.status, a.body)
	}
}

func TestLedgerEmpty(t *testing.T) {
	_, ts := newTestServer(t)
	a := get(t, ts.URL+"/api/ledger")
	if a.status != http.StatusOK || string(a.body) != "[]\n" {
		t.Errorf("empty ledger: %d %q", a.status, a.body)
	}
}

func TestSetFailNext(t *testing.T) {
	s, ts := newTestServer(t)
	s.SetFailNext(2, http.StatusServiceUnavailable)
	for i := range 2 {
		a := post(t, ts.URL, payment("T-1", "45"), nil)
		if a.status != http.StatusServiceUnavailable || a.decode(t)["result"] != "ERROR" {
			t.Fatalf("post %d: %d %s", i, a.status, a.body)
		}
	}
	if n := len(s.Ledger()); n != 0 {
		t.Fatalf("failed posts booked %d rows", n)
	}
	if a := post(t, ts.URL, payment("T-1", "45"), nil); a.status != http.StatusOK || a.decode(t)["receipt_no"] != "RC-000001" {
		t.Fatalf("third post: %d %s", a.status, a.body)
	}
	if s.PaymentCalls() != 3 || len(s.Ledger()) != 1 {
		t.Errorf("PaymentCalls = %d, rows = %d", s.PaymentCalls(), len(s.Ledger()))
	}
	s.SetFailNext(1, 0) // invalid status: 500
	if a := post(t, ts.URL, payment("T-2", "1"), nil); a.status != http.StatusInternalServerError {
		t.Errorf("status 0: %d", a.status)
	}
	s.SetFailNext(5, 502)
	s.SetFailNext(0, 502) // cleared
	if a := post(t, ts.URL, payment("T-3", "1"), nil); a.status != http.StatusOK {
		t.Errorf("after clearing: %d", a.status)
	}
}

// SetDelay books first and answers late: a client that times out has still
// paid, and the lookup finds it.
func TestSetDelayAmbiguousTimeout(t *testing.T) {
	s, ts := newTestServer(t)
	s.SetDelay(10 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/api/payments", strings.NewReader(payment("T-late", "45").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("expected a timeout, got %s", res.Status)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expected a timeout, got %v", err)
	}
	// The row was booked before the handler started waiting.
	for deadline := time.Now().Add(5 * time.Second); len(s.Ledger()) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if rows := s.Ledger(); len(rows) != 1 || rows[0].TxnRef != "T-late" {
		t.Fatalf("ledger after timeout: %+v", rows)
	}
	s.SetDelay(0)
	if a := get(t, ts.URL+"/api/payments?txn_ref=T-late"); a.status != http.StatusOK || a.decode(t)["receipt_no"] != "RC-000001" {
		t.Errorf("lookup after timeout: %d %s", a.status, a.body)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the handler kept sleeping after the client left")
	}

	// A patient client gets the answer after the delay.
	s.SetDelay(50 * time.Millisecond)
	if a := post(t, ts.URL, payment("T-slow", "1"), nil); a.status != http.StatusOK || a.decode(t)["receipt_no"] != "RC-000002" {
		t.Errorf("slow post: %d %s", a.status, a.body)
	}
}

func TestAPIKey(t *testing.T) {
	s, ts := newTestServer(t)
	s.SetAPIKey("demo-key")
	for _, key := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/customers?code=CU003035", nil)
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		if a := do(t, req); a.status != http.StatusUnauthorized || a.decode(t)["result"] != "ERROR" {
			t.Errorf("key %q: %d %s", key, a.status, a.body)
		}
	}
	if a := post(t, ts.URL, payment("T-1", "1"), nil); a.status != http.StatusUnauthorized {
		t.Errorf("post without key: %d", a.status)
	}
	if a := post(t, ts.URL, payment("T-1", "1"), map[string]string{"X-Api-Key": "demo-key"}); a.status != http.StatusOK {
		t.Errorf("post with key: %d %s", a.status, a.body)
	}
	if len(s.Ledger()) != 1 {
		t.Errorf("rows = %d", len(s.Ledger()))
	}
}

func TestRouting(t *testing.T) {
	_, ts := newTestServer(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/", 404, ""},
		{http.MethodGet, "/api/customer", 404, ""},
		{http.MethodPost, "/api/customers", 405, "GET, HEAD"},
		{http.MethodDelete, "/api/payments", 405, "GET, HEAD, POST"},
		{http.MethodPut, "/api/ledger", 405, "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		a := do(t, req)
		if a.status != tc.status || a.header.Get("Allow") != tc.allow || a.decode(t)["result"] != "ERROR" {
			t.Errorf("%s %s: %d Allow=%q %s", tc.method, tc.path, a.status, a.header.Get("Allow"), a.body)
		}
	}
}

func TestConcurrent(t *testing.T) {
	s, ts := newTestServer(t)
	const n = 40 // 40 × 1,000 KHR of KEO Sophea's 120,000
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := range n {
		wg.Add(3)
		go func() {
			defer wg.Done()
			f := url.Values{"invoice_no": {"Dec-2023"}, "cust_no": {"CU000001"}, "amount": {"1000"}, "ccy": {"KHR"}, "txn_ref": {fmt.Sprint("C-", i)}, "payer_name": {"កែវ សុភា"}}
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/payments", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("post %d: %s", i, res.Status)
			}
		}()
		go func() {
			defer wg.Done()
			for _, p := range []string{"/api/ledger", "/api/customers?code=CU000001", fmt.Sprint("/api/payments?txn_ref=C-", i)} {
				res, err := http.Get(ts.URL + p)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
		go func() {
			defer wg.Done()
			_ = s.Ledger()
			_, _ = s.Customer("CU000001")
			_ = s.PaymentCalls()
			s.SetDelay(0)
			s.SetFailNext(0, 500)
			s.SetAPIKey("")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	rows := s.Ledger()
	if len(rows) != n || s.PaymentCalls() != n {
		t.Fatalf("rows = %d, calls = %d, want %d", len(rows), s.PaymentCalls(), n)
	}
	refs := make(map[string]bool)
	for i, p := range rows {
		if want := fmt.Sprintf("RC-%06d", i+1); p.ReceiptNo != want {
			t.Errorf("row %d has receipt %s, want %s", i, p.ReceiptNo, want)
		}
		if p.PayerName != "កែវ សុភា" {
			t.Errorf("row %d payer %q", i, p.PayerName)
		}
		refs[p.TxnRef] = true
	}
	if len(refs) != n {
		t.Errorf("%d distinct txn_refs, want %d", len(refs), n)
	}
	if c, _ := s.Customer("CU000001"); c.AmtDue != "80000.00" {
		t.Errorf("amt_due = %s, want 80000.00", c.AmtDue)
	}
}
