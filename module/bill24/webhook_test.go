package bill24

import (
	"errors"
	"strings"
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// TestDecodeWebhookStrict: the input rules of DecodeWebhook's doc, each
// refused with an error naming what is wrong.
func TestDecodeWebhookStrict(t *testing.T) {
	exps := mappings.DefaultExponents()
	exps.SetMaxIntDigits("THB", 6)
	tests := []struct {
		name, body, want string
	}{
		// Duplicate keys, at any depth.
		{"duplicate amount", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"tran_amount":4500}`,
			`duplicate object key: "tran_amount" at byte 70`},
		{"duplicate id", `{"tran_id":"T-1","tran_id":"T-2","currency":"USD","status":"success","tran_amount":45}`, `"tran_id"`},
		{"duplicate status", `{"tran_id":"T-1","currency":"USD","status":"failed","status":"success","tran_amount":45}`, `"status"`},
		{"duplicate in customers", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"customers":[{"amount":45,"amount":4500}]}`,
			`duplicate object key: "amount"`},
		{"duplicate bill_no", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"customers":[{"bill_no":"A"},{"bill_no":"B","bill_no":"C"}]}`,
			`"bill_no"`},
		{"duplicate in an unknown field", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"extra":{"x":[{"y":1,"y":2}]}}`,
			`duplicate object key: "y"`},
		{"duplicate as an escape", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"tran_\u0061mount":4500}`,
			`"tran_amount"`},
		// Status.
		{"status empty", `{"tran_id":"T-1","currency":"USD","status":"","tran_amount":45}`, `status "" is not a completed payment; nothing was posted`},
		{"status null", `{"tran_id":"T-1","currency":"USD","status":null,"tran_amount":45}`, `status null is not a completed payment`},
		{"status missing", `{"tran_id":"T-1","currency":"USD","tran_amount":45}`, `status is required ("success" for a completed payment)`},
		{"status missing, checkout", `{"tran_id":"T-1","currency":"KHR","tran_amount":100,"fee_amount":1,"total_amount":101}`, `status is required`},
		{"status failed", `{"tran_id":"T-1","currency":"USD","status":"failed","tran_amount":45}`, `status "failed"`},
		{"status pending", `{"tran_id":"T-1","currency":"USD","status":"pending","tran_amount":45}`, `status "pending"`},
		{"status with a space", `{"tran_id":"T-1","currency":"USD","status":"success ","tran_amount":45}`, `status "success "`},
		{"status with long s", `{"tran_id":"T-1","currency":"USD","status":"ſuccess","tran_amount":45}`, `status "ſuccess"`},
		{"status successful", `{"tran_id":"T-1","currency":"USD","status":"successful","tran_amount":45}`, `status "successful"`},
		{"tnx status empty", `{"tnx_id":"X-1","currency":"USD","status":"","tran_amount":45}`, `status ""`},
		{"tnx status null", `{"tnx_id":"X-1","currency":"USD","status":null,"tran_amount":45}`, `status null`},
		// Bounded amounts.
		{"1e1000", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":1e1000}`,
			"tran_amount 10000000000000000000000000000000... has more integer digits than USD allows (15)"},
		{"1e1000 as text", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":"1e1000"}`, "more integer digits than USD allows (15)"},
		{"16 digits", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":1000000000000000}`, "tran_amount 1000000000000000 has more integer digits"},
		{"total 1e16", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":null,"total_amount":1e16}`, "total_amount"},
		{"fee 1e1000", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"fee_amount":1e1000}`, "fee_amount 1000"},
		{"customer_fee 1e20", `{"tnx_id":"X-1","currency":"USD","tran_amount":45,"customer_fee":1e20}`, "customer_fee"},
		{"supplier_fee 1e20", `{"tnx_id":"X-1","currency":"USD","tran_amount":45,"supplier_fee":1e20}`, "supplier_fee"},
		{"customer amount 1e1000", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"customers":[{"amount":45},{"amount":1e1000}]}`,
			"customers[1].amount 1000"},
		{"configured THB bound", `{"tran_id":"T-1","currency":"THB","status":"success","tran_amount":1000000}`, "more integer digits than THB allows (6)"},
		{"unknown currency", `{"tran_id":"T-1","currency":"ZZZ","status":"success","tran_amount":1e15}`, "than ZZZ allows (15)"},
		{"places in exponent form", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":1e-3}`, "more decimal places than USD allows (2)"},
		{"KHR places", `{"tran_id":"T-1","currency":"KHR","status":"success","tran_amount":50000.5}`, "more decimal places than KHR allows (0)"},
		{"KHR customer places", `{"tran_id":"T-1","currency":"KHR","status":"success","tran_amount":50000,"customers":[{"amount":0.5}]}`, "customers[0].amount 0.5 has more decimal places"},
		// tran_amount + fee_amount == total_amount.
		{"0.1 + 0.2 vs 0.4", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":0.1,"fee_amount":0.2,"total_amount":0.4}`,
			"tran_amount 0.1 + fee_amount 0.2 is 0.3, not total_amount 0.4"},
		{"fee left out of total", `{"tran_id":"T-1","currency":"KHR","status":"success","tran_amount":50000,"fee_amount":500,"total_amount":50000}`,
			"is 50500, not total_amount 50000"},
		{"total below", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":"45.00","fee_amount":"0.01","total_amount":"45"}`, "not total_amount 45"},
		// Ids.
		{"empty tran_id alone", `{"tran_id":"","currency":"USD","status":"success","tran_amount":45}`, "tran_id (or tnx_id) is required"},
		{"id with CR LF", `{"tran_id":"T-1\r\nX-Injected: 1","currency":"USD","status":"success","tran_amount":45}`, "tran_id holds byte 0x0d at 3"},
		{"id with a tab", `{"tran_id":"T\t1","currency":"USD","status":"success","tran_amount":45}`, "holds byte 0x09"},
		{"id Khmer", `{"tran_id":"ជា","currency":"USD","status":"success","tran_amount":45}`, "printable ASCII"},
		{"id leading space", `{"tran_id":" T-1","currency":"USD","status":"success","tran_amount":45}`, "must not begin or end with a space"},
	}
	for _, tt := range tests {
		w, err := DecodeWebhook([]byte(tt.body), exps)
		if err == nil {
			t.Errorf("%s: DecodeWebhook(%s) = amount %s id %q, want an error with %q", tt.name, tt.body, w.Amount, w.ID, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.want)
		}
	}
	// The amount errors are the mappings kinds.
	_, err := DecodeWebhook([]byte(`{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":1e1000}`), exps)
	if !errors.Is(err, mappings.ErrTooManyDigits) {
		t.Errorf("1e1000: %v is not ErrTooManyDigits", err)
	}
	_, err = DecodeWebhook([]byte(`{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":1.001}`), exps)
	if !errors.Is(err, mappings.ErrTooManyPlaces) {
		t.Errorf("1.001: %v is not ErrTooManyPlaces", err)
	}
}

// TestDecodeWebhookAccepted: what the rules still let through.
func TestDecodeWebhookAccepted(t *testing.T) {
	exps := mappings.DefaultExponents()
	tests := []struct {
		name, body string
		check      func(w Webhook) bool
	}{
		{"Success", `{"tran_id":"T-1","currency":"USD","status":"Success","tran_amount":45}`, func(w Webhook) bool { return w.Status == "Success" }},
		{"SUCCESS", `{"tran_id":"T-1","currency":"USD","status":"SUCCESS","tran_amount":45}`, func(w Webhook) bool { return w.Shape == ShapeTran }},
		{"tnx without status", `{"tnx_id":"X-1","currency":"USD","tran_amount":10,"customer_fee":0.20,"total_amount":10.20}`,
			func(w Webhook) bool { return w.Shape == ShapeTnx && w.Status == "" }},
		{"tnx with success", `{"tnx_id":"X-1","currency":"USD","status":"success","tran_amount":10}`, func(w Webhook) bool { return w.ID == "X-1" }},
		{"15 integer digits", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":999999999999999.99}`,
			func(w Webhook) bool { return w.Amount.String() == "999999999999999.99" }},
		{"exponent form is its value", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":1e2,"customers":[{"amount":"4.5e1"}]}`,
			func(w Webhook) bool {
				return w.Amount.Canonical() == "100" && w.Customers[0].Amount.Canonical() == "45"
			}},
		{"0.1 + 0.2 vs 0.3", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":0.1,"fee_amount":0.2,"total_amount":0.3}`,
			func(w Webhook) bool { return w.Amount.String() == "0.1" }},
		{"sum across scales", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":"45","fee_amount":0,"total_amount":45.00}`,
			func(w Webhook) bool { return w.TotalAmount.String() == "45.00" }},
		{"no total: no sum", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"fee_amount":1}`,
			func(w Webhook) bool { return w.FeeAmount.String() == "1" }},
		{"null fee: no sum", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"fee_amount":null,"total_amount":46}`,
			func(w Webhook) bool { return w.TotalAmount.String() == "46" }},
		{"ids with ':' stay whole", `{"tran_id":"a:b:c","currency":"USD","status":"success","tran_amount":45}`,
			func(w Webhook) bool { return w.ID == "a:b:c" }},
		{"tnx id with ':'", `{"tnx_id":"x:c","currency":"USD","tran_amount":45}`, func(w Webhook) bool { return w.ID == "x:c" }},
		{"id with every printable", `{"tran_id":"!#$%&'()*+,-./09:;<=>?@AZ[\\]^_` + "`" + `az{|}~ \"","currency":"USD","status":"success","tran_amount":45}`,
			func(w Webhook) bool { return w.ID == "!#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~ \"" }},
		{"same key in two customers", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":90,"customers":[{"amount":45},{"amount":45}]}`,
			func(w Webhook) bool { return len(w.Customers) == 2 }},
		{"keys differing in case in an unknown object", `{"tran_id":"T-1","currency":"USD","status":"success","tran_amount":45,"extra":{"a":1,"A":2}}`,
			func(w Webhook) bool { return len(w.Raw["extra"].(map[string]any)) == 2 }},
	}
	for _, tt := range tests {
		w, err := DecodeWebhook([]byte(tt.body), exps)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !tt.check(w) {
			t.Errorf("%s: got %+v", tt.name, w)
		}
	}
	// The three documented shapes carry what the rules need.
	for _, name := range []string{"bill24_webhook_v1.json", "bill24_webhook_v2.json", "bill24_webhook_checkout.json"} {
		if _, err := DecodeWebhook(readFixture(t, name), exps); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestFingerprintTamper: each field the issue names, changed under the
// same id, changes the fingerprint; equal amounts written differently do
// not.
func TestFingerprintTamper(t *testing.T) {
	exps := mappings.DefaultExponents()
	fixture := readFixture(t, "bill24_webhook_checkout.json")
	decode := func(b []byte) Webhook {
		t.Helper()
		w, err := DecodeWebhook(b, exps)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return w
	}
	base := decode(fixture).Fingerprint()
	for _, tt := range []struct{ from, to string }{
		{`"bill_no": "INV23001"`, `"bill_no": "INV23002"`},
		{`"amount": 50000.00`, `"amount": 49999`},
		{`"customer_code": "12340001"`, `"customer_code": "12340002"`},
		{`"identity_code": "234000545"`, `"identity_code": "234000546"`},
		{`"purpose_of_transaction": "INV23001"`, `"purpose_of_transaction": "INV23009"`},
		{`"fee_amount": 500.00,`, `"fee_amount": 400.00,`},
		{`"bank_ref": "FT1234567890"`, `"bank_ref": "FT1234567891"`},
	} {
		b := []byte(strings.Replace(string(fixture), tt.from, tt.to, 1))
		if string(b) == string(fixture) {
			t.Fatalf("%s is not in the fixture", tt.from)
		}
		if tt.from == `"fee_amount": 500.00,` { // keep the total right
			b = []byte(strings.Replace(string(b), `"total_amount": 50500.00`, `"total_amount": 50400`, 1))
		}
		if decode(b).Fingerprint() == base {
			t.Errorf("%s → %s: same fingerprint", tt.from, tt.to)
		}
	}
	// "45" and "45.00": one amount.
	v1 := readFixture(t, "bill24_webhook_v1.json")
	a := decode(v1).Fingerprint()
	b := decode([]byte(strings.ReplaceAll(string(v1), `: 45`, `: "45.00"`))).Fingerprint()
	c := decode([]byte(strings.ReplaceAll(string(v1), `: 45`, `: 45.0`))).Fingerprint()
	if a != b || a != c {
		t.Errorf("45, \"45.00\" and 45.0 have different fingerprints: %s %s %s", a, b, c)
	}
}

func TestDecodeProxyRequestDuplicate(t *testing.T) {
	for _, body := range []string{`{"consumer_code":"A","consumer_code":"B"}`, `{"consumer_code":"A","x":{"k":1,"k":2}}`} {
		_, err := DecodeProxyRequest([]byte(body))
		if err == nil || !strings.Contains(err.Error(), "duplicate object key") {
			t.Errorf("DecodeProxyRequest(%s) = %v, want a duplicate key error", body, err)
		}
	}
}
