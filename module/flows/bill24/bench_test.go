package bill24_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	billbridge "github.com/billbridge/caddy-billbridge/module"
)

// benchStandalone provisions a handler as Caddy would, with the legacy API
// answered in-process by answer, so a benchmark measures billbridge's own
// work per request: decode, validate, mappings, store, envelope.
func benchStandalone(b *testing.B, src string, answer []byte) *billbridge.Handler {
	b.Helper()
	s, err := billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1"},"bill24":{"tokens":["t"]}}`), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	s.PlayLegacy(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		return &http.Response{StatusCode: 200, ContentLength: int64(len(answer)),
			Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}},
			Body:   io.NopCloser(bytes.NewReader(answer))}, nil
	})
	h, err := s.HandlerFromCaddyfile(src)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func serve(b *testing.B, h *billbridge.Handler, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("token", "t")
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, nil); err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkProxyLookup is a Bill24 proxy lookup through the whole
// pipeline: build the legacy call, decode the legacy JSON, 4 rules, 13
// reply fields, Bill24's envelope.
func BenchmarkProxyLookup(b *testing.B) {
	h := benchStandalone(b, "billbridge bill24_proxy {\n"+
		"call GET `\"/api/customers?code=\" + urlquery(req.consumer_code)`\n"+
		"when `res.status == 404` not_found\nwhen `res.body.customer.overdue == true` bill_overdue\n"+
		"when `res.body.customer.amt_due == 0` no_amount_to_pay\n"+
		"when `res.body.customer.ccy not in [\"USD\", \"KHR\"]` currency_not_allowed\n"+
		"reply {\nconsumer_code `res.body.customer.cust_no`\nconsumer_name `res.body.customer.full_name_kh`\n"+
		"consumer_name_latin `res.body.customer.full_name`\nphone `res.body.customer.tel`\ncurrency `res.body.customer.ccy`\n"+
		"due_amount `res.body.customer.amt_due`\nmin_amount `res.body.customer.min_pay`\nmax_amount `res.body.customer.max_pay`\n"+
		"balance `res.body.customer.credit`\ndescription `res.body.customer.memo`\nlast_bill_date `res.body.customer.bill_dt`\n"+
		"last_due_date `res.body.customer.due_dt`\nlast_pay_date `res.body.customer.last_paid_dt`\n}\n}",
		[]byte(`{"status":"OK","customer":{"cust_no":"CU003035","full_name":"Nheb Nim","full_name_kh":"ញ៉េប នីម","tel":"010888999","ccy":"USD","amt_due":10.00,"min_pay":-1,"max_pay":5000,"credit":0.00,"memo":"Invoice on Feb-2024","bill_dt":"2024-02-29 10:46:33","due_dt":"2024-03-30 10:46:33","last_paid_dt":"2024-01-05 10:46:33","overdue":false}}`))
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(b, h, `{"consumer_code":"CU003035"}`); w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"code":0,`) {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkWebhookPost is a first delivery of a Bill24 webhook through the
// whole pipeline on the memory store: decode and validate, claim, a legacy
// form post of 7 fields, the success test, complete.
func BenchmarkWebhookPost(b *testing.B) {
	h := benchStandalone(b, "billbridge bill24_webhook {\n"+
		"call POST /api/payments {\nencode form\n"+
		"field invoice_no `let bill = first(req.customers)?.bill_no ?? \"\"; bill != \"\" ? bill : req.customer_code`\n"+
		"field cust_no `req.customer_code`\nfield amount `req.amount`\nfield ccy `req.currency`\n"+
		"field txn_ref `req.id`\nfield paid_at `req.date`\nfield channel `req.bank_name`\n}\n"+
		"success `res.status == 200 && res.body.result == \"OK\"`\n}",
		[]byte(`{"result":"OK","receipt_no":"RC-000001"}`))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		body := strings.Replace(benchWebhookBody, "348b4b16", "bench"+strconv.Itoa(n), 1)
		if w := serve(b, h, body); w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

const benchWebhookBody = `{"tran_id":"348b4b16-1f06-4563-8204-105a8420a067","tran_no":"6K0BTGwG7HsF","payment_service_type":"Bank Channel","tran_date":"2024-11-29T16:58:16.727168","tran_amount":45,"currency":"USD","bank_code":"AC","bank_name":"ACLEDA","bank_ref":"AC00112301","identity_code":"37627011","purpose_of_transaction":"","device_code":"","status":"success","customers":[{"branch_code":"","branch_name":"","customer_code":"37627011","customer_name":"MAO SAMON","customer_name_latin":"","bill_no":"","amount":45}]}`
