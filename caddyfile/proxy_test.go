package caddyfile

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/billbridge/caddy-billbridge"
)

const proxyCaddyfile = `{
` + testGlobals + `	billbridge {
		legacy %s {
			timeout 1s
			header X-Api-Key secret-key
		}
		bill24 {
			token tok-current tok-previous
		}
	}
}
http://localhost:9080 {
	handle /bill24/proxy {
		billbridge bill24_proxy {
			max_body 1KiB
			call GET ` + "`" + `"/api/customers?code=" + urlquery(req.consumer_code)` + "`" + `
			when ` + "`res.status == 404`" + ` not_found
			when ` + "`res.body.customer.overdue == true`" + ` bill_overdue
			when ` + "`res.body.customer.amt_due == 0`" + ` no_amount_to_pay
			when ` + "`res.body.customer.ccy not in [\"USD\", \"KHR\"]`" + ` currency_not_allowed
			message not_found "Customer not found" "រកមិនឃើញអតិថិជន"
			reply {
				consumer_code       ` + "`res.body.customer.cust_no`" + `
				consumer_name       ` + "`res.body.customer.full_name_kh`" + `
				consumer_name_latin ` + "`res.body.customer.full_name`" + `
				phone               ` + "`res.body.customer.tel`" + `
				currency            ` + "`res.body.customer.ccy`" + `
				due_amount          ` + "`res.body.customer.amt_due`" + `
				min_amount          ` + "`res.body.customer.min_pay`" + `
				max_amount          ` + "`res.body.customer.max_pay`" + `
				balance             ` + "`res.body.customer.credit`" + `
				description         ` + "`res.body.customer.memo`" + `
				last_bill_date      ` + "`res.body.customer.bill_dt`" + `
				last_due_date       ` + "`res.body.customer.due_dt`" + `
				last_pay_date       ` + "`res.body.customer.last_paid_dt`" + `
			}
		}
	}
}
`

const proxyURL = "http://localhost:9080/bill24/proxy"

func startProxy(t *testing.T, legacyURL string) *caddytest.Tester {
	t.Helper()
	tester := newTester(t)
	initServer(t, tester, fmt.Sprintf(proxyCaddyfile, legacyURL))
	return tester
}

func post(t *testing.T, tester *caddytest.Tester, url, token, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("token", token)
	}
	resp, err := tester.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String(), resp.Header
}

func TestProxyOutcomes(t *testing.T) {
	stub := newLegacyStub(t)
	tester := startProxy(t, stub.URL())

	tests := []struct {
		name, code string
		want       string
	}{
		{"success, USD with cents, dates normalised, Khmer name", "CU003035",
			`{"code":0,"message":"Success","message_kh":"ជោគជ័យ","data":{"consumer_code":"CU003035","consumer_name":"ញ៉េប នីម","consumer_name_latin":"Nheb Nim","phone":"010888999","currency":"USD","due_amount":10.20,"min_amount":-1,"max_amount":5000,"balance":0,"description":"Invoice on Feb-2024","last_bill_date":"2024-02-29 10:46:33","last_due_date":"2024-03-30 00:00:00","last_pay_date":"2024-01-05 10:46:33"}}`},
		{"success, KHR 50000.00 kept exact, Khmer description", "12340001",
			`{"code":0,"message":"Success","message_kh":"ជោគជ័យ","data":{"consumer_code":"12340001","consumer_name":"ជា សំណាង","consumer_name_latin":"CHEA Samnang","phone":"012345678","currency":"KHR","due_amount":50000.00,"min_amount":-1,"max_amount":-1,"balance":5000,"description":"វិក្កយបត្រ ខែមីនា","last_bill_date":"2024-03-01 08:00:00","last_due_date":"2024-03-30 23:59:59","last_pay_date":""}}`},
		{"largest amounts exact", "BIG",
			`{"code":0,"message":"Success","message_kh":"ជោគជ័យ","data":{"consumer_code":"BIG","consumer_name":"","consumer_name_latin":"Big Spender","phone":"","currency":"USD","due_amount":99999999999.99,"min_amount":0.1,"max_amount":99999999999.99,"balance":0,"description":"","last_bill_date":"","last_due_date":"2024-03-30 00:00:00","last_pay_date":""}}`},
		{"not found, overridden messages", "NOPE",
			`{"code":1,"message":"Customer not found","message_kh":"រកមិនឃើញអតិថិជន","data":null}`},
		{"overdue", "LATE",
			`{"code":2,"message":"Error Bill Over Due","message_kh":"វិក្កយបត្រហួសកាលកំណត់","data":null}`},
		{"no amount to pay", "ZERO",
			`{"code":3,"message":"Error No Amount To Pay","message_kh":"មិនមានទឹកប្រាក់ត្រូវបង់","data":null}`},
		{"currency not allowed", "EURO",
			`{"code":4,"message":"Error Currency Not Allow","message_kh":"រូបិយប័ណ្ណមិនត្រូវបានអនុញ្ញាត","data":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := post(t, tester, proxyURL, "tok-current", `{"consumer_code":"`+tc.code+`"}`)
			if status != http.StatusOK || body != tc.want {
				t.Errorf("got %d %s\nwant 200 %s", status, body, tc.want)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestProxyKhmerConsumerCodeRoundTrip(t *testing.T) {
	stub := newLegacyStub(t)
	tester := startProxy(t, stub.URL())
	code := "គណនី-១២៣"
	status, body, _ := post(t, tester, proxyURL, "tok-current", `{"consumer_code":"`+code+`"}`)
	if status != 200 || !strings.Contains(body, `"consumer_code":"`+code+`"`) || !strings.Contains(body, `"consumer_name":"`+code+`"`) {
		t.Fatalf("got %d %s", status, body)
	}
	stub.mu.Lock()
	got := stub.lastURL
	stub.mu.Unlock()
	if want := "/api/customers?code=%E1%9E%82%E1%9E%8E%E1%9E%93%E1%9E%B8-%E1%9F%A1%E1%9F%A2%E1%9F%A3"; got != want {
		t.Errorf("legacy saw %s, want %s", got, want)
	}
}

func TestProxyBadInput(t *testing.T) {
	stub := newLegacyStub(t)
	tester := startProxy(t, stub.URL())
	long := strings.Repeat("A", 129)
	tests := []struct {
		name, token, body string
		status            int
		want              string
	}{
		{"no token", "", `{"consumer_code":"CU003035"}`, 401, `{"code":401,"message":"missing or invalid token","message_kh":"","data":null}`},
		{"wrong token", "tok-wrong", `{"consumer_code":"CU003035"}`, 401, `{"code":401,"message":"missing or invalid token","message_kh":"","data":null}`},
		{"token prefix", "tok-curren", `{"consumer_code":"CU003035"}`, 401, `{"code":401,"message":"missing or invalid token","message_kh":"","data":null}`},
		{"malformed JSON", "tok-current", `{"consumer_code":`, 400, `{"code":400,"message":"malformed JSON: unexpected end of JSON input","message_kh":"","data":null}`},
		{"not an object", "tok-current", `["CU003035"]`, 400, `{"code":400,"message":"request body must be a JSON object","message_kh":"","data":null}`},
		{"empty body", "tok-current", ``, 400, `{"code":400,"message":"request body is empty","message_kh":"","data":null}`},
		{"missing code", "tok-current", `{"code":"CU003035"}`, 400, `{"code":400,"message":"consumer_code is required","message_kh":"","data":null}`},
		{"empty code", "tok-current", `{"consumer_code":""}`, 400, `{"code":400,"message":"consumer_code must not be empty","message_kh":"","data":null}`},
		{"number code", "tok-current", `{"consumer_code":3035}`, 400, `{"code":400,"message":"consumer_code must be a string","message_kh":"","data":null}`},
		{"null code", "tok-current", `{"consumer_code":null}`, 400, `{"code":400,"message":"consumer_code is required","message_kh":"","data":null}`},
		{"absurdly long code", "tok-current", `{"consumer_code":"` + long + `"}`, 400, `{"code":400,"message":"consumer_code is longer than 128 characters","message_kh":"","data":null}`},
		{"trailing data", "tok-current", `{"consumer_code":"CU003035"} {}`, 400, `{"code":400,"message":"malformed JSON: data after the JSON value: '{' at byte 29","message_kh":"","data":null}`},
		{"over max_body", "tok-current", `{"consumer_code":"CU003035","pad":"` + strings.Repeat("x", 1100) + `"}`, 413, `{"code":413,"message":"request body is larger than 1024 bytes","message_kh":"","data":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := post(t, tester, proxyURL, tc.token, tc.body)
			if status != tc.status || body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", status, body, tc.status, tc.want)
			}
		})
	}
}

func TestProxyTokenRotation(t *testing.T) {
	stub := newLegacyStub(t)
	tester := startProxy(t, stub.URL())
	for _, tok := range []string{"tok-current", "tok-previous"} {
		status, body, _ := post(t, tester, proxyURL, tok, `{"consumer_code":"CU003035"}`)
		if status != 200 || !strings.HasPrefix(body, `{"code":0,`) {
			t.Errorf("token %s: got %d %s", tok, status, body)
		}
	}
}

func TestProxyLegacyFailures(t *testing.T) {
	stub := newLegacyStub(t)
	tester := startProxy(t, stub.URL())
	tests := []struct {
		name, code string
		status     int
		want       string
	}{
		{"legacy 500", "CRASH", 502, `{"code":502,"message":"legacy system answered HTTP 500","message_kh":"","data":null}`},
		{"legacy amount not a number", "GARBAGE", 502, `{"code":502,"message":"cannot map the legacy answer","message_kh":"","data":null}`},
		{"legacy amount finer than the currency", "BADAMT", 502, `{"code":502,"message":"cannot map the legacy answer","message_kh":"","data":null}`},
		{"legacy timeout", "SLOW", 504, `{"code":504,"message":"legacy system timed out","message_kh":"","data":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			status, body, _ := post(t, tester, proxyURL, "tok-current", `{"consumer_code":"`+tc.code+`"}`)
			if status != tc.status || body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", status, body, tc.status, tc.want)
			}
			// The timeout is 1s; the stub would take 2s. Generous bound:
			// this checks that the answer does not wait for the stub.
			if d := time.Since(start); d > 1900*time.Millisecond {
				t.Errorf("answered after %s, past the 1s legacy timeout", d)
			}
		})
	}
}

func TestProxyLegacyRefused(t *testing.T) {
	tester := startProxy(t, "http://"+closedPort(t))
	status, body, _ := post(t, tester, proxyURL, "tok-current", `{"consumer_code":"CU003035"}`)
	want := `{"code":502,"message":"legacy system unreachable","message_kh":"","data":null}`
	if status != 502 || body != want {
		t.Errorf("got %d %s\nwant 502 %s", status, body, want)
	}
}
