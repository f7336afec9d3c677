package gateway

import (
	"bytes"
	"encoding/json"
	"testing"
)

// A Requery answer as QM documents it (protocols.md C.3).
var requeryAnswer = []byte(`{"code":0,"message":"Success","data":{"billId":"B1706600000000","merchantReference":"INV-1001",` +
	`"requestReference":"R-20240130-0001","paymentReference":"P-20240130-0001","billAmount":"100.00","currency":"USD",` +
	`"status":1,"statusName":"Successful","isFinal":true,"dateTime":1706600000000}}`)

func BenchmarkDecodeObject(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(requeryAnswer)))
	for b.Loop() {
		if _, err := DecodeObject(requeryAnswer, "the answer"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeObjectEncodingJSON is the way qm and bill24's verify
// decoded answers before (encoding/json with UseNumber), for comparison.
func BenchmarkDecodeObjectEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(requeryAnswer)))
	for b.Loop() {
		dec := json.NewDecoder(bytes.NewReader(requeryAnswer))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			b.Fatal(err)
		}
	}
}
