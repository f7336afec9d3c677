package billbridge

import (
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/bill24"
)

// benchHandler provisions a handler's mappings from Caddyfile tokens,
// without Caddy: only what the mapping benchmarks need.
func benchHandler(b *testing.B, src string) *Handler {
	b.Helper()
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err != nil {
		b.Fatal(err)
	}
	exps := mappings.DefaultExponents()
	h.app = &App{exps: exps, compiler: mappings.NewCompiler(exps), Legacy: &Legacy{Timeout: 5e9},
		Bill24: &Bill24{tokens: [][]byte{[]byte("t")}}}
	if err := flows[h.Flow].provision(&h); err != nil {
		b.Fatal(err)
	}
	return &h
}

const benchWebhookBody = `{"tran_id":"348b4b16-1f06-4563-8204-105a8420a067","tran_no":"6K0BTGwG7HsF","payment_service_type":"Bank Channel","tran_date":"2024-11-29T16:58:16.727168","tran_amount":45,"currency":"USD","bank_code":"AC","bank_name":"ACLEDA","bank_ref":"AC00112301","identity_code":"37627011","purpose_of_transaction":"","device_code":"","status":"success","customers":[{"branch_code":"","branch_name":"","customer_code":"37627011","customer_name":"MAO SAMON","customer_name_latin":"","bill_no":"","amount":45}]}`

// BenchmarkWebhookDecode measures reading a Bill24 webhook: parse,
// validate every field, normalise, fingerprint.
func BenchmarkWebhookDecode(b *testing.B) {
	exps := mappings.DefaultExponents()
	b.ReportAllocs()
	for b.Loop() {
		w, err := bill24.DecodeWebhook([]byte(benchWebhookBody), exps)
		if err != nil {
			b.Fatal(err)
		}
		_ = w.Fingerprint()
	}
}

// BenchmarkWebhookMapping measures a decoded Bill24 webhook through the
// mappings: build the legacy form post (seven fields) and judge the legacy
// answer with the success expression.
func BenchmarkWebhookMapping(b *testing.B) {
	h := benchHandler(b, "billbridge bill24_webhook {\n"+
		"call POST /api/payments {\nencode form\n"+
		"field invoice_no `let bill = first(req.customers)?.bill_no ?? \"\"; bill != \"\" ? bill : req.customer_code`\n"+
		"field cust_no `req.customer_code`\nfield amount `req.amount`\nfield ccy `req.currency`\n"+
		"field txn_ref `req.id`\nfield paid_at `req.date`\nfield channel `req.bank_name`\n}\n"+
		"success `res.status == 200 && res.body.result == \"OK\"`\n}")
	answer := []byte(`{"result":"OK","receipt_no":"RC-000001"}`)
	hdr := http.Header{"Content-Type": {"application/json"}}
	ev, err := bill24Webhook{}.decode(h, nil, []byte(benchWebhookBody))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.compiled.call.build(ev.env); err != nil {
			b.Fatal(err)
		}
		ok, err := h.compiled.success.Bool(ev.respond(mappings.NewResponse(200, hdr, answer)))
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkProxyReplyMapping measures a Bill24 proxy lookup's mapping:
// build the legacy call, decode the legacy answer, run the outcome rules
// and the 13 reply fields, and encode Bill24's envelope.
func BenchmarkProxyReplyMapping(b *testing.B) {
	h := benchHandler(b, "billbridge bill24_proxy {\n"+
		"call GET `\"/api/customers?code=\" + urlquery(req.consumer_code)`\n"+
		"when `res.status == 404` not_found\nwhen `res.body.customer.overdue == true` bill_overdue\n"+
		"when `res.body.customer.amt_due == 0` no_amount_to_pay\n"+
		"when `res.body.customer.ccy not in [\"USD\", \"KHR\"]` currency_not_allowed\n"+
		"reply {\nconsumer_code `res.body.customer.cust_no`\nconsumer_name `res.body.customer.full_name_kh`\n"+
		"consumer_name_latin `res.body.customer.full_name`\nphone `res.body.customer.tel`\ncurrency `res.body.customer.ccy`\n"+
		"due_amount `res.body.customer.amt_due`\nmin_amount `res.body.customer.min_pay`\nmax_amount `res.body.customer.max_pay`\n"+
		"balance `res.body.customer.credit`\ndescription `res.body.customer.memo`\nlast_bill_date `res.body.customer.bill_dt`\n"+
		"last_due_date `res.body.customer.due_dt`\nlast_pay_date `res.body.customer.last_paid_dt`\n}\n}")
	answer := []byte(`{"status":"OK","customer":{"cust_no":"CU003035","full_name":"Nheb Nim","full_name_kh":"ញ៉េប នីម","tel":"010888999","ccy":"USD","amt_due":10.00,"min_pay":-1,"max_pay":5000,"credit":0.00,"memo":"Invoice on Feb-2024","bill_dt":"2024-02-29 10:46:33","due_dt":"2024-03-30 10:46:33","last_paid_dt":"2024-01-05 10:46:33","overdue":false}}`)
	hdr := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	req, _ := http.NewRequest(http.MethodPost, "/proxy", nil)
	ev, err := bill24Proxy{}.decode(h, req, []byte(`{"consumer_code":"CU003035"}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.compiled.call.build(ev.env); err != nil {
			b.Fatal(err)
		}
		res := bill24Proxy{}.settle(h, ev, callOutcome{res: mappings.NewResponse(200, hdr, answer)})
		if res.status != 200 || res.outcome != string(bill24.OutcomeSuccess) {
			b.Fatalf("%d %s %v", res.status, res.body, res.err)
		}
	}
}
