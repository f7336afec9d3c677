package mappings

import (
	"strings"
	"testing"
)

// FuzzParseJSON: for every input, each mode of the parser and
// encoding/json (UseNumber, numbers then made ints or Decimals as
// DecodeJSON did) both refuse it or both decode it to exactly equal
// values, except that ParseJSON and ParseJSONNumbers refuse an object
// holding a key twice, and nesting beyond MaxJSONDepth is refused
// (checkSameAsStdlib).
func FuzzParseJSON(f *testing.F) {
	for _, b := range readFixtures(f) {
		f.Add(b)
	}
	for _, s := range jsonCorpus {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"status":"OK","customer":{"cust_no":"CU003035","full_name":"Nheb Nim","full_name_kh":"ញ៉េប នីម","tel":"010888999","ccy":"USD","amt_due":10.00,"min_pay":-1,"max_pay":5000,"credit":0.00,"memo":"Invoice on Feb-2024","bill_dt":"2024-02-29 10:46:33","due_dt":"2024-03-30 10:46:33","last_paid_dt":"2024-01-05 10:46:33","overdue":false}}`,
		`["\ud83d\ude00\ud83d","\u17a0\u17b6\ud800\udbff\udfff", "a\u0000\u001f\u007f\u0080"]`,
		"[\"\xe1\x9e\x87\xe1\x9e\xb6\xe1\x9e\", \"\\\\\\\"\\/\\b\\f\\n\\r\\t\"]",
		`{"a":[1,-1,0.0,-0,1e2,1E-2,12345678901234567890,-9223372036854775808,9223372036854775807]}`,
		`{"tran_amount":45,"customers":[{"amount":45,"bill_no":"A","bill_no":"B"}],"tran_amount":4500}`,
		`{"a":1,"\u0061":2}`, `{"a":{"a":1},"b":{"a":2}}`, `{"a":1,"A":2}`,
		strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth),
		strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSameAsStdlib(t, b)
	})
}
