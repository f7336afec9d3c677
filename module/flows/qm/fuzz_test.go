package qm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/qm"
)

// FuzzCreateBillRequest: whatever the legacy system posts, with whatever
// content type, qm_create_bill answers 400 without calling QM, or creates
// one bill whose amount, reference and URLs QM and every later callback
// can use; the same request gets the same verdict twice.
func FuzzCreateBillRequest(f *testing.F) {
	b, err := os.ReadFile("../../../examples/payloads/qm_create_bill_request.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("application/json", b)
	for _, tc := range []struct{ ct, body string }{
		{"application/json", `{"total":10.50,"order_no":"ORD-1"}`},
		{"application/json", `{"total":"10.505","order_no":"ORD-1"}`},
		{"application/json", `{"total":0.0000001}`},
		{"application/json", `{"total":"1e1000"}`},
		{"application/json", `{"total":1e15}`},
		{"application/json", `{"total":999999999999999.99,"order_no":"x"}`},
		{"application/json", `{"total":10,"order_no":"\t/evil.example"}`},
		{"application/json", `{"total":10,"order_no":"ORD\u0000"}`},
		{"application/json", `{"total":10,"order_no":12345,"back":"https://shop.example/r"}`},
		{"application/json", `{"total":10,"back":"/relative"}`},
		{"application/json", `{"total":10,"back":"https://a@b/"}`},
		{"application/json", `{"total":-1}`},
		{"application/json", `{"total":true}`},
		{"application/json", `{"total":[1]}`},
		{"application/json", `{"total":10,"total":20}`},
		{"application/json", `[]`},
		{"application/x-www-form-urlencoded", "total=10.00&order_no=%FF"},
		{"application/x-www-form-urlencoded", "total=10.00&order_no=ORD%0A1"},
		{"text/plain", `{"total":10}`},
		{"", "total=10"},
		{"application/json; charset=latin1", `{"total":"١٠"}`},
	} {
		f.Add(tc.ct, []byte(tc.body))
	}
	var calls atomic.Int64
	var last atomic.Value // the last create request QM got
	qmSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		_ = dec.Decode(&req)
		last.Store(req)
		w.Header().Set("Content-Type", "application/json")
		out, _ := json.Marshal(map[string]any{"code": 0, "message": "ok", "data": map[string]any{
			"billId": "B1", "billAmount": req["amount"], "currency": "MYR", "merchantReference": req["merchantReference"],
		}})
		_, _ = w.Write(out)
	}))
	defer qmSrv.Close()
	s, err := billbridge.NewStandalone([]byte(fmt.Sprintf(`{"legacy":{"base_url":"http://127.0.0.1:1"},"qm":{"base_url":%q,"key":"k","secret":"s","rate":100000}}`, qmSrv.URL)), nil)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h, err := s.HandlerFromCaddyfile("billbridge qm_create_bill {\n\tbill {\n\t\tamount `req.body.total`\n\t\tmerchant_reference `req.body.order_no`\n" +
		"\t\tredirect_url `coalesce(req.body.back, \"https://shop.example/return\")`\n\t}\n}")
	if err != nil {
		f.Fatal(err)
	}
	post := func(t *testing.T, ct string, body []byte) (int, string, int64) {
		r := httptest.NewRequest(http.MethodPost, "/internal/qm/bills", bytes.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		before := calls.Load()
		w := serve(t, h, r)
		return w.Code, w.Body.String(), calls.Load() - before
	}
	bound := mappings.MustDecimal("1000000000000000")
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		code, answer, n := post(t, ct, body)
		switch code {
		case 400:
			if n != 0 {
				t.Fatalf("refused %q (%q) with 400 after calling QM %d times", body, ct, n)
			}
			var e map[string]string
			if json.Unmarshal([]byte(answer), &e) != nil || e["error"] == "" {
				t.Fatalf("400 answer %q is not a JSON error", answer)
			}
		case 200:
			if n != 1 {
				t.Fatalf("created %q (%q) with %d calls to QM", body, ct, n)
			}
			req := last.Load().(map[string]any)
			amount, err := mappings.AsDecimal(req["amount"])
			if err != nil || amount.Sign() <= 0 || !amount.FitsExponent(2) || amount.Cmp(bound) >= 0 {
				t.Fatalf("QM was asked to bill %v (%v) for %q", req["amount"], err, body)
			}
			if ref, _ := req["merchantReference"].(string); len(ref) > 128 || !utf8.ValidString(ref) || !text.Printable(ref) {
				t.Fatalf("QM got merchant reference %q for %q", ref, body)
			}
			for _, k := range []string{"callbackUrl", "redirectUrl"} {
				u, err := url.Parse(fmt.Sprint(req[k]))
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
					t.Fatalf("QM got %s %v for %q", k, req[k], body)
				}
			}
			if !json.Valid([]byte(answer)) {
				t.Fatalf("200 answer %q is not JSON", answer)
			}
		default:
			t.Fatalf("%q (%q): %d %s, want 200 or 400", body, ct, code, answer)
		}
		if again, _, _ := post(t, ct, body); again != code {
			t.Fatalf("%q (%q): %d, then %d", body, ct, code, again)
		}
	})
}

// FuzzRedirectQuery: whatever query the browser comes back with, the
// redirect answers without a panic; a query without a bill id Requery
// could take is refused with the 400 page before QM is asked, and a known
// bill sends the browser where its mapping says, the same way each time.
func FuzzRedirectQuery(f *testing.F) {
	for _, q := range []string{
		"billId=B1&merchantReference=ORD-1&status=1", "billId=B1&status=2", "billId=", "", "billId=NOPE",
		"billId=%00", "billId=B%0A1", "billId=%C2%85", "billId=%FF", "billId=" + strings.Repeat("x", 129),
		"billId=B1&billId=B2", "billid=B1", "billId=B1;x=1", "billId=%zz", "billId=B%201", "%62illId=B1",
		"billId=\t", "billId=B1#frag", "billId=ក",
	} {
		f.Add(q)
	}
	var calls atomic.Int64
	qmSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("billId") != "B1" {
			_, _ = w.Write([]byte(`{"code":404,"message":"bill not found"}`))
			return
		}
		_, _ = w.Write([]byte(`{"code":0,"message":"ok","data":{"billId":"B1","merchantReference":"ORD-1","billAmount":"10.00","currency":"MYR","status":1,"isFinal":true}}`))
	}))
	defer qmSrv.Close()
	s, err := billbridge.NewStandalone([]byte(fmt.Sprintf(`{"legacy":{"base_url":"http://127.0.0.1:1"},"qm":{"base_url":%q,"key":"k","secret":"s","rate":100000}}`, qmSrv.URL)), nil)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h, err := s.HandlerFromCaddyfile("billbridge qm_redirect {\n\tredirect `\"/orders/\" + urlpath(req.merchantReference) + \"?paid=\" + string(req.status == 1)`\n}")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "/qm/return", nil)
		r.URL.RawQuery = rawQuery
		id := r.URL.Query().Get("billId")
		before := calls.Load()
		w := serve(t, h, r)
		n := calls.Load() - before
		usable := wire.CheckBillID(id) == nil
		switch {
		case !usable:
			if w.Code != 400 || n != 0 {
				t.Fatalf("billId %q: %d after %d Requery calls, want 400 before any", id, w.Code, n)
			}
		case id == "B1":
			// At most one Requery: a page's answer is cached briefly.
			if w.Code != 302 || w.Header().Get("Location") != "/orders/ORD-1?paid=true" || n > 1 {
				t.Fatalf("billId B1: %d Location %q, %d calls", w.Code, w.Header().Get("Location"), n)
			}
		default:
			if w.Code != 400 || w.Header().Get("Location") != "" || n > 1 {
				t.Fatalf("unknown billId %q: %d Location %q, %d calls", id, w.Code, w.Header().Get("Location"), n)
			}
		}
		if w.Code != 302 && !strings.HasPrefix(w.Body.String(), "<!doctype html>") {
			t.Fatalf("%q: %d answer %q is not the page", rawQuery, w.Code, w.Body)
		}
	})
}
