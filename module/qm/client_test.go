package qm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/mappings"
)

const fixtures = "../../examples/payloads/"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSign(t *testing.T) {
	// QM's documented vector (examples/payloads/README.md): 4-space indent, LF, no
	// trailing newline.
	body := []byte("{\n    \"amount\": 100\n}")
	const want = "e5c8d5c5f4c06e5850897c93a99d7ceb"
	if got := Sign(body, testSecret); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if got := Sign([]byte(`{"amount": 100}`), testSecret); got == want {
		t.Error("a re-serialized body has the same signature")
	}
	if got, want := Sign(nil, testSecret), md5hex(nil, testSecret); got != want {
		t.Errorf("Sign(nil) = %s, want MD5(secret) %s", got, want)
	}
	if !VerifySign(body, testSecret, want) || !VerifySign(body, testSecret, strings.ToUpper(want)) {
		t.Error("VerifySign refuses the vector")
	}
	for _, bad := range []string{"", want[:31], want + "0", "e5c8d5c5f4c06e5850897c93a99d7cec"} {
		if VerifySign(body, testSecret, bad) {
			t.Errorf("VerifySign accepts %q", bad)
		}
	}
}

func TestNew(t *testing.T) {
	good := Config{BaseURL: "https://api.quantummetal.example/", Key: "k", Secret: "s"}
	c, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.base != "https://api.quantummetal.example" || c.timeout != DefaultTimeout || c.maxRetries != DefaultMaxRetries ||
		c.limiter.Limit() != DefaultRate || c.limiter.Burst() != DefaultBurst {
		t.Errorf("defaults: %+v", c)
	}
	if c.gw.HTTPClient().CheckRedirect == nil {
		t.Error("default client follows redirects")
	}
	c, _ = New(Config{BaseURL: "http://127.0.0.1:9/qm/", Key: "k", Secret: "s", MaxRetries: -1})
	if c.base != "http://127.0.0.1:9/qm" || c.maxRetries != 0 {
		t.Errorf("base %q, retries %d", c.base, c.maxRetries)
	}

	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no base url", func(c *Config) { c.BaseURL = "" }, "base url is required"},
		{"not a url", func(c *Config) { c.BaseURL = "http://[::1" }, "not a url"},
		{"ftp", func(c *Config) { c.BaseURL = "ftp://x" }, "http or https"},
		{"relative", func(c *Config) { c.BaseURL = "/v1" }, "http or https"},
		{"no host", func(c *Config) { c.BaseURL = "https:///v1" }, "no host"},
		{"port only", func(c *Config) { c.BaseURL = "https://:443" }, "no host"},
		{"user info", func(c *Config) { c.BaseURL = "https://u:p@x" }, "user info"},
		{"query", func(c *Config) { c.BaseURL = "https://x/?a=1" }, "query"},
		{"fragment", func(c *Config) { c.BaseURL = "https://x/#f" }, "fragment"},
		{"no key", func(c *Config) { c.Key = "" }, "api key"},
		{"no secret", func(c *Config) { c.Secret = "" }, "secret"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "rate"},
		{"burst", func(c *Config) { c.Burst = -1 }, "burst"},
	} {
		cfg := good
		tt.edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want %q", tt.name, err, tt.want)
		}
	}

	// A caller's client is copied, not modified.
	hc := &http.Client{}
	c, _ = New(Config{BaseURL: "https://x", Key: "k", Secret: "s", HTTPClient: hc})
	if hc.CheckRedirect != nil || c.gw.HTTPClient() == hc || c.gw.HTTPClient().CheckRedirect == nil {
		t.Error("HTTPClient handling")
	}
}

func TestCreateBill(t *testing.T) {
	f := newFakeQM(t)
	c := f.client(t, Config{})
	ctx := t.Context()

	for i, tt := range []struct {
		req  CreateBillRequest
		body string
	}{
		{
			CreateBillRequest{Amount: mappings.MustDecimal("100.00"), MerchantReference: "INV-1001",
				CallbackURL: "https://pay.example.com/qm/callback?a=1&b=2", RedirectURL: "https://shop.example.com/return"},
			`{"amount":100.00,"merchantReference":"INV-1001","callbackUrl":"https://pay.example.com/qm/callback?a=1&b=2","redirectUrl":"https://shop.example.com/return"}`,
		},
		{CreateBillRequest{Amount: mappings.MustDecimal("99999999999.99")}, `{"amount":99999999999.99}`},
		{CreateBillRequest{Amount: mappings.MustDecimal("999999999999999.99")}, `{"amount":999999999999999.99}`}, // beyond float64, within the 15 integer digits a requeried bill may have
		{CreateBillRequest{Amount: mappings.MustDecimal("0.01"), MerchantReference: "វិក្កយបត្រ"}, `{"amount":0.01,"merchantReference":"វិក្កយបត្រ"}`},
	} {
		cb, err := c.CreateBill(ctx, tt.req)
		if err != nil {
			t.Fatalf("CreateBill(%s): %v", tt.req.Amount, err)
		}
		f.mu.Lock()
		got := string(f.bodies[i])
		f.mu.Unlock()
		if got != tt.body {
			t.Errorf("sent %s\nwant %s", got, tt.body)
		}
		if cb.BillAmount.String() != tt.req.Amount.String() || cb.RequireGCAmount.String() != "2.50000000" ||
			cb.Currency != "USD" || cb.BillID == "" || cb.BillURL != "https://pay.quantummetal.example/b/"+cb.BillID ||
			cb.ExpiredOn != 1706603600000 || cb.Raw["billId"] != cb.BillID {
			t.Errorf("created %+v", cb)
		}
		if tt.req.MerchantReference != "" && cb.MerchantReference != tt.req.MerchantReference {
			t.Errorf("merchantReference %q", cb.MerchantReference)
		}
		// The fake stores billAmount as a string, as QM's requery example.
		b, err := c.Requery(ctx, cb.BillID)
		if err != nil {
			t.Fatal(err)
		}
		if b.BillAmount.String() != tt.req.Amount.String() || b.Status != StatusPending || b.IsFinal {
			t.Errorf("requery %+v", b)
		}
	}

	// The fixture request keeps its amount's places.
	var req CreateBillRequest
	if err := json.Unmarshal(readFixture(t, "qm_create_bill_request.json"), &req); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBill(ctx, req); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	last := string(f.bodies[len(f.bodies)-1])
	f.mu.Unlock()
	if !strings.HasPrefix(last, `{"amount":100.00,"merchantReference":"INV-1001",`) {
		t.Errorf("fixture sent as %s", last)
	}

	n := f.count("/v1/bill/create")
	for _, a := range []string{"0", "0.00", "-1"} {
		_, err := c.CreateBill(ctx, CreateBillRequest{Amount: mappings.MustDecimal(a)})
		if err == nil || !strings.Contains(err.Error(), "amount must be positive") || IsTemporary(err) {
			t.Errorf("amount %s: %v", a, err)
		}
	}
	if _, err := c.CreateBill(ctx, CreateBillRequest{}); err == nil {
		t.Error("zero request accepted")
	}
	if f.count("/v1/bill/create") != n {
		t.Error("an invalid request was sent")
	}
}

func fixtureBill(amount any) map[string]any {
	return map[string]any{
		"billId": "B1706600000000", "merchantReference": "INV-1001", "requestReference": "R-20240130-0001",
		"paymentReference": "P-20240130-0001", "billAmount": amount, "currency": "USD", "status": 1,
		"statusName": "Successful", "isFinal": true, "dateTime": json.Number("1706600000000"),
		"channel": "QMGold",
	}
}

func TestRequery(t *testing.T) {
	f := newFakeQM(t)
	c := f.client(t, Config{})
	for _, amount := range []any{"100.00", json.Number("100.00"), json.Number("1.0000E+2")} {
		f.addBill(fixtureBill(amount))
		b, err := c.Requery(t.Context(), "B1706600000000")
		if err != nil {
			t.Fatalf("%v: %v", amount, err)
		}
		if !b.BillAmount.Equal(mappings.MustDecimal("100")) || b.BillID != "B1706600000000" ||
			b.MerchantReference != "INV-1001" || b.RequestReference != "R-20240130-0001" ||
			b.PaymentReference != "P-20240130-0001" || b.Currency != "USD" || b.Status != StatusSuccessful ||
			b.StatusName != "Successful" || !b.IsFinal || b.DateTime != 1706600000000 || b.Raw["channel"] != "QMGold" {
			t.Errorf("%v: %+v", amount, b)
		}
		if s := b.BillAmount.String(); amount == "100.00" && s != "100.00" {
			t.Errorf("billAmount %s", s)
		}
	}
	// An id that needs escaping.
	f.addBill(map[string]any{"billId": "B 1&2=3", "billAmount": "1", "currency": "MYR", "status": 0})
	if b, err := c.Requery(t.Context(), "B 1&2=3"); err != nil || b.BillID != "B 1&2=3" || b.Currency != "MYR" {
		t.Errorf("escaped id: %+v, %v", b, err)
	}
	n := f.count("/v1/bill/requery")
	for _, id := range []string{"", strings.Repeat("x", MaxIDLen+1), "a\nb", "\xff"} {
		if _, err := c.Requery(t.Context(), id); err == nil || IsTemporary(err) {
			t.Errorf("id %q: %v", id, err)
		}
		if err := c.Cancel(t.Context(), id); err == nil {
			t.Errorf("cancel id %q accepted", id)
		}
	}
	if f.count("/v1/bill/requery") != n || f.count("/v1/bill/cancel") != 0 {
		t.Error("an invalid id was sent")
	}
}

func TestCancel(t *testing.T) {
	f := newFakeQM(t)
	c := f.client(t, Config{})
	cb, err := c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("5")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(t.Context(), cb.BillID); err != nil {
		t.Fatal(err)
	}
	b, err := c.Requery(t.Context(), cb.BillID)
	if err != nil || b.Status != StatusCancelled || !b.IsFinal || !FinalStatus(b.Status) {
		t.Fatalf("after cancel: %+v, %v", b, err)
	}
	err = c.Cancel(t.Context(), cb.BillID)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != 1 || ae.HTTPStatus != 200 || ae.Message != "Bill is not pending payment" || IsTemporary(err) {
		t.Errorf("second cancel: %v", err)
	}
}

func TestFinalStatus(t *testing.T) {
	for s, want := range map[int]bool{-1: false, 0: false, 1: true, 2: true, 3: true, 4: false, 5: false} {
		if FinalStatus(s) != want {
			t.Errorf("FinalStatus(%d) = %v", s, !want)
		}
	}
}

func TestAPIError(t *testing.T) {
	f := newFakeQM(t)
	f.allowBadAuth = true
	const otherSecret = "not-the-secret-0123456789"
	for _, cfg := range []Config{{Secret: otherSecret}, {Key: "wrong-key"}} {
		c := f.client(t, cfg)
		_, err := c.Requery(t.Context(), "B1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != 1 || ae.HTTPStatus != 200 || ae.Message != "Invalid Key or Sign" || ae.Temporary() || IsTemporary(err) {
			t.Fatalf("bad auth: %#v", err)
		}
		if got := err.Error(); got != "qm: error code 1 (http 200): Invalid Key or Sign" {
			t.Errorf("Error() = %q", got)
		}
		for _, s := range []string{otherSecret, testSecret, "wrong-key", testKey} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q shows a credential", err)
			}
		}
		if _, err := c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("1")}); !errors.As(err, &ae) {
			t.Errorf("create: %v", err)
		}
	}
	f.mu.Lock()
	if f.badAuth != 4 {
		t.Errorf("fake refused %d calls, want 4", f.badAuth)
	}
	f.mu.Unlock()

	c := f.client(t, Config{MaxRetries: -1})
	if _, err := c.Requery(t.Context(), "missing"); err == nil || err.Error() != "qm: error code 1 (http 200): Bill not found" {
		t.Errorf("not found: %v", err)
	}
	var answer struct {
		status int
		body   string
	}
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.WriteHeader(answer.status)
		_, _ = w.Write([]byte(answer.body))
		return true
	}
	for _, tt := range []struct {
		status int
		body   string
		code   int
		msg    string
		temp   bool
	}{
		{400, `{"code":2,"message":"Invalid billId"}`, 2, "Invalid billId", false},
		{401, `{"code":"3","message":null}`, 3, "", false},
		{200, `{"code":801,"message":"Customer of this ID does not exist\n\u0000` + strings.Repeat("x", 300) + `"}`, 801, "Customer of this ID does not exist  " + strings.Repeat("x", 164) + "…", false},
		{503, `{"code":5,"message":"Maintenance"}`, 5, "Maintenance", true},
		{429, `{"code":429,"message":"Too Many Requests"}`, 429, "Too Many Requests", true},
		{200, `{"code":-1,"message":"odd"}`, -1, "odd", false},
	} {
		answer.status, answer.body = tt.status, tt.body
		_, err := c.Requery(t.Context(), "B1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != tt.status || ae.Code != tt.code || ae.Message != tt.msg ||
			ae.Temporary() != tt.temp || IsTemporary(err) != tt.temp {
			t.Errorf("%d %s: %#v", tt.status, tt.body, err)
		}
		if !strings.HasPrefix(err.Error(), "qm: error code") {
			t.Errorf("Error() = %q", err)
		}
	}
}

// hookStatus answers every call to path with status, header and body for
// its first n calls (all calls if n < 0), and leaves later calls to the
// fake's normal behaviour.
func hookStatus(path string, n int, status int, header map[string]string, body string) func(http.ResponseWriter, *http.Request, int) bool {
	return func(w http.ResponseWriter, r *http.Request, i int) bool {
		if r.URL.Path != path || (n >= 0 && i > n) {
			return false
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return true
	}
}

func TestRetryAfter429(t *testing.T) {
	f := newFakeQM(t)
	f.addBill(fixtureBill("100.00"))
	c := f.client(t, Config{})
	f.hook = hookStatus("/v1/bill/requery", 1, 429, map[string]string{"Retry-After": "1"}, "Too Many Requests")
	start := time.Now()
	b, err := c.Requery(t.Context(), "B1706600000000")
	if err != nil || b.Status != StatusSuccessful {
		t.Fatalf("Requery after 429: %+v, %v", b, err)
	}
	arr := f.arrivalTimes()
	if len(arr) != 2 || arr[1].Sub(arr[0]) < 900*time.Millisecond || time.Since(start) < 900*time.Millisecond {
		t.Errorf("Retry-After not honoured: %d calls, gap %v", len(arr), arr[len(arr)-1].Sub(arr[0]))
	}

	// CreateBill is retried after a 429 too: QM did nothing.
	f.hook = hookStatus("/v1/bill/create", 1, 429, nil, `{"code":1,"message":"Too many requests"}`)
	cb, err := c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("10.20")})
	if err != nil || cb.BillAmount.String() != "10.20" {
		t.Fatalf("CreateBill after 429: %+v, %v", cb, err)
	}
	f.mu.Lock()
	if f.calls["/v1/bill/create"] != 2 || len(f.bodies) != 1 {
		t.Errorf("create calls %d, bills %d", f.calls["/v1/bill/create"], len(f.bodies))
	}
	f.mu.Unlock()

	f.hook = hookStatus("/v1/bill/cancel", 1, 429, map[string]string{"Retry-After": "0"}, "")
	if err := c.Cancel(t.Context(), cb.BillID); err != nil || f.count("/v1/bill/cancel") != 2 {
		t.Errorf("Cancel after 429: %v, %d calls", err, f.count("/v1/bill/cancel"))
	}
}

func Test429Forever(t *testing.T) {
	f := newFakeQM(t)
	f.hook = hookStatus("/v1/bill/requery", -1, 429, nil, "slow down")
	c := f.client(t, Config{MaxRetries: 3})
	_, err := c.Requery(t.Context(), "B1")
	var re *ResponseError
	if !errors.As(err, &re) || re.HTTPStatus != 429 || !IsTemporary(err) || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Errorf("Requery: %v", err)
	}
	if n := f.count("/v1/bill/requery"); n != 4 {
		t.Errorf("%d requery calls, want 4", n)
	}

	f.hook = hookStatus("/v1/bill/create", -1, 429, nil, `{"code":1,"message":"Too Many Requests"}`)
	_, err = c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("1")})
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 429 || !IsTemporary(err) {
		t.Errorf("CreateBill: %v", err)
	}
	if n := f.count("/v1/bill/create"); n != 4 {
		t.Errorf("%d create calls, want 4", n)
	}

	// Retries off.
	f.hook = hookStatus("/v1/bill/requery", -1, 429, nil, "slow down")
	c = f.client(t, Config{MaxRetries: -1})
	if _, err := c.Requery(t.Context(), "B1"); !IsTemporary(err) || f.count("/v1/bill/requery") != 5 {
		t.Errorf("no retries: %v, %d calls", err, f.count("/v1/bill/requery"))
	}

	// A Retry-After beyond what the client waits for ends the call at once.
	f.hook = hookStatus("/v1/bill/requery", -1, 429, map[string]string{"Retry-After": "3600"}, "")
	c = f.client(t, Config{})
	start := time.Now()
	if _, err := c.Requery(t.Context(), "B1"); !IsTemporary(err) || f.count("/v1/bill/requery") != 6 || time.Since(start) > time.Second {
		t.Errorf("long Retry-After: %v, %d calls, %v", err, f.count("/v1/bill/requery"), time.Since(start))
	}
	// So does one beyond the context's deadline.
	f.hook = hookStatus("/v1/bill/requery", -1, 429, map[string]string{"Retry-After": "5"}, "")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start = time.Now()
	if _, err := c.Requery(ctx, "B1"); !IsTemporary(err) || f.count("/v1/bill/requery") != 7 || time.Since(start) > time.Second {
		t.Errorf("Retry-After past the deadline: %v, %d calls, %v", err, f.count("/v1/bill/requery"), time.Since(start))
	}
}

func Test5xx(t *testing.T) {
	f := newFakeQM(t)
	f.addBill(fixtureBill("100.00"))
	c := f.client(t, Config{MaxRetries: 3})

	f.hook = hookStatus("/v1/bill/requery", 2, 500, nil, `{"code":1,"message":"Internal error"}`)
	if b, err := c.Requery(t.Context(), "B1706600000000"); err != nil || !b.IsFinal {
		t.Fatalf("Requery after two 500s: %v", err)
	}
	if n := f.count("/v1/bill/requery"); n != 3 {
		t.Errorf("%d requery calls, want 3", n)
	}

	f.hook = hookStatus("/v1/bill/requery", -1, 502, nil, "<html>Bad Gateway</html>")
	_, err := c.Requery(t.Context(), "B1706600000000")
	var re *ResponseError
	if !errors.As(err, &re) || re.HTTPStatus != 502 || !IsTemporary(err) || !strings.Contains(err.Error(), "Bad Gateway: the answer is not a JSON object") {
		t.Errorf("Requery 502: %v", err)
	}
	if n := f.count("/v1/bill/requery"); n != 3+4 {
		t.Errorf("%d requery calls, want 7", n)
	}

	// CreateBill: a 5xx is ambiguous, so never retried.
	f.hook = hookStatus("/v1/bill/create", -1, 500, nil, `{"code":1,"message":"Internal error"}`)
	_, err = c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("1")})
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 500 || !IsTemporary(err) {
		t.Errorf("CreateBill 500: %v", err)
	}
	if n := f.count("/v1/bill/create"); n != 1 {
		t.Errorf("%d create calls, want 1", n)
	}
	f.hook = hookStatus("/v1/bill/cancel", -1, 503, map[string]string{"Retry-After": "0"}, "")
	if err := c.Cancel(t.Context(), "B1706600000000"); !IsTemporary(err) || f.count("/v1/bill/cancel") != 1 {
		t.Errorf("Cancel 503: %v, %d calls", err, f.count("/v1/bill/cancel"))
	}
}

func TestMalformedAnswers(t *testing.T) {
	f := newFakeQM(t)
	var answer struct {
		status int
		body   string
	}
	f.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.WriteHeader(answer.status)
		_, _ = w.Write([]byte(answer.body))
		return true
	}
	c := f.client(t, Config{MaxRetries: 1})
	okBill := `"billId":"B1","billAmount":"1.00","currency":"USD","status":1`
	for _, tt := range []struct {
		status int
		body   string
		want   string
	}{
		{200, ``, "the answer is empty"},
		{200, `OK`, "not a JSON object"},
		{200, `[]`, "not a JSON object"},
		{200, `{"code":0,"data":{`, "malformed JSON"},
		{200, `{"code":0,"data":{` + okBill + `}} {}`, "data after the JSON value"},
		{200, "{\"code\":0,\"message\":\"\xff\"}", "not valid UTF-8"},
		{200, `{"message":"ok"}`, "no code"},
		{200, `{"code":null}`, "no code"},
		{200, `{"code":"zero"}`, "code is not an integer"},
		{200, `{"code":0.5}`, "code is not an integer"},
		{200, `{"code":1e100}`, "code is not an integer"},
		{200, `{"code":0,"message":"ok"}`, "no data"},
		{200, `{"code":0,"data":null}`, "no data"},
		{200, `{"code":0,"data":[]}`, "data is not an object: an array"},
		{200, `{"code":0,"data":{}}`, "data: billId is required"},
		{200, `{"code":0,"data":{"billId":7}}`, "billId must be a string"},
		{200, `{"code":0,"data":{"billId":"B1","billAmount":true}}`, "billAmount must be a number, got true"},
		{200, `{"code":0,"data":{"billId":"B1","billAmount":"ten"}}`, `billAmount is not a decimal number: "ten"`},
		{200, `{"code":0,"data":{"billId":"B1","billAmount":"1","currency":"usd","status":1}}`, "currency"},
		{200, `{"code":0,"data":{"billId":"B1","billAmount":"1","currency":"USD","status":"paid"}}`, "status must be an integer"},
		{200, `{"code":0,"data":{` + okBill + `,"isFinal":"yes"}}`, "isFinal must be true or false"},
		{200, `{"code":0,"data":{` + okBill + `,"dateTime":"yesterday"}}`, "dateTime must be an integer"},
		{200, `{"code":0,"data":{` + okBill + `,"statusName":{}}}`, "statusName must be a string, got an object"},
		{200, `{"code":0,"data":{"billId":"B2","billAmount":"1.00","currency":"USD","status":1}}`, `the answer is about bill "B2", not "B1"`},
		{200, `{"code":0,"data":{` + okBill + `,"pad":"` + strings.Repeat("x", maxAnswer) + `"}}`, "longer than"},
		{302, ``, "Found: the answer is empty"},
		{404, `<html>Not Found</html>`, "Not Found: the answer is not a JSON object"},
		{500, `{"code":0,"data":{` + okBill + `}}`, "code 0 with a failing status"},
		{504, ``, "Gateway Timeout: the answer is empty"},
	} {
		answer.status, answer.body = tt.status, tt.body
		before := f.count("/v1/bill/requery")
		_, err := c.Requery(t.Context(), "B1")
		var re *ResponseError
		if !errors.As(err, &re) || re.HTTPStatus != tt.status || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%d %.60q: %v, want %q", tt.status, tt.body, err, tt.want)
			continue
		}
		temp := tt.status >= 500
		if IsTemporary(err) != temp {
			t.Errorf("%d %.60q: temporary %v", tt.status, tt.body, !temp)
		}
		want := 1
		if temp {
			want = 2
		}
		if n := f.count("/v1/bill/requery") - before; n != want {
			t.Errorf("%d %.60q: %d calls, want %d", tt.status, tt.body, n, want)
		}
	}

	// CreateBill's data.
	for _, tt := range []struct{ body, want string }{
		{`{"code":0,"data":{"billAmount":"1"}}`, "billId is required"},
		{`{"code":0,"data":{"billId":"B1"}}`, "billAmount is required"},
		{`{"code":0,"data":{"billId":"B1","billAmount":1,"requireGCAmount":"lots"}}`, "requireGCAmount is not a decimal"},
		{`{"code":0,"data":{"billId":"B1","billAmount":1,"expiredOn":1.5}}`, "expiredOn must be an integer"},
		{`{"code":0,"data":{"billId":"B1","billAmount":1,"billUrl":["x"]}}`, "billUrl must be a string"},
	} {
		answer.status, answer.body = 200, tt.body
		_, err := c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("1")})
		var re *ResponseError
		if !errors.As(err, &re) || IsTemporary(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("create %s: %v, want %q", tt.body, err, tt.want)
		}
	}
	answer.status, answer.body = 200, `{"code":0,"data":{"billId":"B1","billAmount":1,"requireGCAmount":null,"currency":null,"expiredOn":"1706603600000"}}`
	if cb, err := c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("1")}); err != nil || cb.ExpiredOn != 1706603600000 || !cb.RequireGCAmount.IsZero() {
		t.Errorf("lenient create answer: %+v, %v", cb, err)
	}
	// Cancel needs no data, but a real envelope.
	answer.status, answer.body = 200, `{"code":0,"message":"Success"}`
	if err := c.Cancel(t.Context(), "B1"); err != nil {
		t.Errorf("cancel: %v", err)
	}
	answer.status, answer.body = 200, `Success`
	if err := c.Cancel(t.Context(), "B1"); err == nil {
		t.Error("cancel accepted a non-JSON answer")
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var leaked sync.Mutex
	hits := 0
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Lock()
		hits++
		leaked.Unlock()
	}))
	defer other.Close()
	f := newFakeQM(t)
	f.hook = hookStatus("/v1/bill/requery", -1, http.StatusFound, map[string]string{"Location": other.URL}, "")
	c := f.client(t, Config{})
	_, err := c.Requery(t.Context(), "B1")
	var re *ResponseError
	if !errors.As(err, &re) || re.HTTPStatus != http.StatusFound || IsTemporary(err) {
		t.Errorf("redirect: %v", err)
	}
	leaked.Lock()
	defer leaked.Unlock()
	if hits != 0 {
		t.Error("the redirect was followed, Key and Sign with it")
	}
}

// hang answers nothing until the request's context ends (or 5s pass).
func hang(path string) func(http.ResponseWriter, *http.Request, int) bool {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != path {
			return false
		}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return true
	}
}

func TestTimeout(t *testing.T) {
	f := newFakeQM(t)
	f.hook = hang("/v1/bill/requery")
	c := f.client(t, Config{Timeout: 100 * time.Millisecond, MaxRetries: 1})
	start := time.Now()
	_, err := c.Requery(t.Context(), "B1")
	var te *TransportError
	if !errors.As(err, &te) || te.Call != "requery" || !errors.Is(err, context.DeadlineExceeded) || !IsTemporary(err) ||
		!strings.Contains(err.Error(), "no answer within 100ms") || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Errorf("Requery: %v", err)
	}
	if n := f.count("/v1/bill/requery"); n != 2 {
		t.Errorf("%d requery calls, want 2", n)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}

	f.hook = hang("/v1/bill/create")
	_, err = c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("1")})
	if !errors.As(err, &te) || te.Call != "create" || !IsTemporary(err) {
		t.Errorf("CreateBill: %v", err)
	}
	if n := f.count("/v1/bill/create"); n != 1 {
		t.Errorf("%d create calls, want 1 (a timed-out create is ambiguous)", n)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Error("the secret is in an error")
	}
}

func TestNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(Config{BaseURL: url, Key: testKey, Secret: testSecret, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	c.backoffBase, c.backoffMax = time.Millisecond, time.Millisecond
	_, err = c.Requery(t.Context(), "B1")
	var te *TransportError
	if !errors.As(err, &te) || !IsTemporary(err) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("Requery: %v", err)
	}
	_, err = c.CreateBill(t.Context(), CreateBillRequest{Amount: mappings.MustDecimal("1")})
	if !errors.As(err, &te) || strings.Contains(err.Error(), "attempts") {
		t.Errorf("CreateBill: %v", err)
	}
	if IsTemporary(errors.New("x")) || IsTemporary(nil) {
		t.Error("IsTemporary of a plain error")
	}
}

func TestRateLimit(t *testing.T) {
	const (
		rate  = 20.0
		burst = 5
		calls = 30
	)
	f := newFakeQM(t)
	// One bill per call: concurrent requeries of one bill share a call.
	for i := range calls {
		b := fixtureBill("100.00")
		b["billId"] = fmt.Sprintf("B%d", i)
		f.addBill(b)
	}
	c := f.client(t, Config{Rate: rate, Burst: burst})
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			_, err := c.Requery(t.Context(), fmt.Sprintf("B%d", i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	arr := f.arrivalTimes()
	slices.SortFunc(arr, func(a, b time.Time) int { return a.Compare(b) })
	if len(arr) != calls {
		t.Fatalf("%d arrivals", len(arr))
	}
	// A token bucket lets burst requests through at once and rate per
	// second after that, so the whole run cannot be shorter than this. (A
	// windowed upper bound would be a timing test: on a loaded machine,
	// requests the limiter spaced out can still arrive bunched.)
	// Without a limiter the 30 would arrive within milliseconds.
	const slack = 200 * time.Millisecond
	if total := arr[len(arr)-1].Sub(arr[0]); total < time.Duration(float64(calls-burst)/rate*float64(time.Second))-slack {
		t.Errorf("%d requests in %v", calls, total)
	}
}

func TestContextCancel(t *testing.T) {
	f := newFakeQM(t)
	f.addBill(fixtureBill("100.00"))

	// Waiting for the rate limiter.
	c := f.client(t, Config{Rate: 0.5, Burst: 1})
	if _, err := c.Requery(t.Context(), "B1706600000000"); err != nil {
		t.Fatal(err)
	}
	cancelAfter := func(d time.Duration) context.Context {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(d, cancel)
		return ctx
	}
	start := time.Now()
	_, err := c.Requery(cancelAfter(50*time.Millisecond), "B1706600000000")
	if !errors.Is(err, context.Canceled) || !IsTemporary(err) || !strings.Contains(err.Error(), "rate limiter") {
		t.Errorf("limiter wait: %v", err)
	}
	// A deadline the limiter cannot meet fails at once.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Requery(ctx, "B1706600000000"); err == nil {
		t.Error("limiter wait past the deadline succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("limiter waits took %v", d)
	}
	if n := f.count("/v1/bill/requery"); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}

	// Waiting for an answer: not retried.
	c = f.client(t, Config{})
	f.hook = hang("/v1/bill/requery")
	start = time.Now()
	_, err = c.Requery(cancelAfter(50*time.Millisecond), "B1706600000000")
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("answer wait: %v after %v", err, time.Since(start))
	}
	if n := f.count("/v1/bill/requery"); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}

	// Waiting to retry after a 429.
	f.hook = hookStatus("/v1/bill/requery", -1, 429, map[string]string{"Retry-After": "5"}, "")
	start = time.Now()
	_, err = c.Requery(cancelAfter(100*time.Millisecond), "B1706600000000")
	var re *ResponseError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &re) || re.HTTPStatus != 429 || !IsTemporary(err) || time.Since(start) > time.Second {
		t.Errorf("retry wait: %v after %v", err, time.Since(start))
	}
	if n := f.count("/v1/bill/requery"); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}
