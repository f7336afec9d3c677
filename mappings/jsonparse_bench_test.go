package mappings

import (
	"os"
	"testing"
)

// legacyCustomer is a typical legacy customer answer.
const legacyCustomer = `{"status":"OK","customer":{"cust_no":"CU003035","full_name":"Nheb Nim","full_name_kh":"ញ៉េប នីម","tel":"010888999","ccy":"USD","amt_due":10.00,"min_pay":-1,"max_pay":5000,"credit":0.00,"memo":"Invoice on Feb-2024","bill_dt":"2024-02-29 10:46:33","due_dt":"2024-03-30 10:46:33","last_paid_dt":"2024-01-05 10:46:33","overdue":false}}`

type jsonBenchDoc struct {
	name string
	data []byte
}

func jsonBenchDocs(b *testing.B) []jsonBenchDoc {
	webhook, err := os.ReadFile("../examples/payloads/bill24_webhook_checkout.json")
	if err != nil {
		b.Fatal(err)
	}
	return []jsonBenchDoc{{"customer", []byte(legacyCustomer)}, {"webhook", webhook}}
}

func benchDecode(b *testing.B, decode func([]byte) (any, error)) {
	for _, doc := range jsonBenchDocs(b) {
		b.Run(doc.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(doc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseJSON(b *testing.B) { benchDecode(b, ParseJSON) }

// BenchmarkStdlibJSON: encoding/json with UseNumber and the same
// conversion of numbers, as DecodeJSON did before ParseJSON.
func BenchmarkStdlibJSON(b *testing.B) { benchDecode(b, stdDecodeJSON) }
