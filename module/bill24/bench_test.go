package bill24

import (
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
)

const benchWebhookBody = `{"tran_id":"348b4b16-1f06-4563-8204-105a8420a067","tran_no":"6K0BTGwG7HsF","payment_service_type":"Bank Channel","tran_date":"2024-11-29T16:58:16.727168","tran_amount":45,"currency":"USD","bank_code":"AC","bank_name":"ACLEDA","bank_ref":"AC00112301","identity_code":"37627011","purpose_of_transaction":"","device_code":"","status":"success","customers":[{"branch_code":"","branch_name":"","customer_code":"37627011","customer_name":"MAO SAMON","customer_name_latin":"","bill_no":"","amount":45}]}`

// BenchmarkWebhookDecode measures reading a Bill24 webhook: parse,
// validate every field, normalise, fingerprint.
func BenchmarkWebhookDecode(b *testing.B) {
	exps := mappings.DefaultExponents()
	b.ReportAllocs()
	for b.Loop() {
		w, err := DecodeWebhook([]byte(benchWebhookBody), exps)
		if err != nil {
			b.Fatal(err)
		}
		_ = w.Fingerprint()
	}
}
