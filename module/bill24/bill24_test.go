package bill24

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

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

func TestDecodeProxyRequest(t *testing.T) {
	p, err := DecodeProxyRequest(readFixture(t, "bill24_proxy_request.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.ConsumerCode != "CU003035" || p.Raw["consumer_code"] != "CU003035" || len(p.Raw) != 1 {
		t.Errorf("fixture = %+v", p)
	}

	tests := []struct {
		name, body, code string
	}{
		{"whitespace around", " \n\t{\"consumer_code\": \"A1\"}\r\n ", "A1"},
		{"escapes", `{"consumer_code":"A\u0042\/C"}`, "AB/C"},
		{"Khmer", `{"consumer_code":"វិក្កយបត្រ-០០១"}`, "វិក្កយបត្រ-០០១"},
		{"spaces inside", `{"consumer_code":"CU 003 035"}`, "CU 003 035"},
		{"128 characters", `{"consumer_code":"` + strings.Repeat("ក", MaxConsumerCodeLen) + `"}`, strings.Repeat("ក", MaxConsumerCodeLen)},
		{"extra fields", `{"merchant_id":12,"consumer_code":"X","hash":null}`, "X"},
	}
	for _, tt := range tests {
		p, err := DecodeProxyRequest([]byte(tt.body))
		if err != nil || p.ConsumerCode != tt.code {
			t.Errorf("%s: DecodeProxyRequest = %q, %v, want %q", tt.name, p.ConsumerCode, err, tt.code)
		}
	}
	p, _ = DecodeProxyRequest([]byte(`{"merchant_id":12,"consumer_code":"X","hash":null}`))
	if p.Raw["merchant_id"] != 12 || p.Raw["hash"] != nil || len(p.Raw) != 3 {
		t.Errorf("raw = %#v", p.Raw)
	}
}

func TestDecodeProxyRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"malformed", `{"consumer_code":`, "malformed JSON"},
		{"trailing comma", `{"consumer_code":"x",}`, "malformed JSON"},
		{"single quotes", `{'consumer_code':'x'}`, "malformed JSON"},
		{"array", `["CU003035"]`, "must be a JSON object"},
		{"string", `"CU003035"`, "must be a JSON object"},
		{"number", `42`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"empty", ``, "empty"},
		{"blank", " \r\n\t ", "empty"},
		{"missing", `{}`, "consumer_code is required"},
		{"other name", `{"consumerCode":"x"}`, "consumer_code is required"},
		{"other case", `{"Consumer_Code":"x"}`, "consumer_code is required"},
		{"null code", `{"consumer_code":null}`, "consumer_code is required"},
		{"empty code", `{"consumer_code":""}`, "must not be empty"},
		{"number code", `{"consumer_code":3035}`, "must be a string"},
		{"bool code", `{"consumer_code":true}`, "must be a string"},
		{"object code", `{"consumer_code":{"id":"x"}}`, "must be a string"},
		{"array code", `{"consumer_code":["x"]}`, "must be a string"},
		{"too long", `{"consumer_code":"` + strings.Repeat("ក", MaxConsumerCodeLen+1) + `"}`, "longer than 128"},
		{"NUL", `{"consumer_code":"CU\u0000"}`, "control characters"},
		{"newline", `{"consumer_code":"CU\n1"}`, "control characters"},
		{"tab", `{"consumer_code":"\tCU"}`, "control characters"},
		{"DEL", `{"consumer_code":"CU\u007f"}`, "control characters"},
		{"C1 NEL", `{"consumer_code":"CU\u0085"}`, "control characters"},
		{"C1 raw", "{\"consumer_code\":\"CU\u009b1\"}", "control characters"},
		{"invalid UTF-8", "{\"consumer_code\":\"CU\xff\"}", "not valid UTF-8"},
		{"invalid UTF-8 elsewhere", "{\"consumer_code\":\"CU\",\"x\":\"\xc3\"}", "not valid UTF-8"},
		{"second object", `{"consumer_code":"x"} {"consumer_code":"y"}`, "data after"},
		{"stray brace", `{"consumer_code":"x"}}`, "data after"},
		{"stray bracket", `{"consumer_code":"x"}]`, "data after"},
		{"trailing text", `{"consumer_code":"x"} ok`, "data after"},
	}
	for _, tt := range tests {
		p, err := DecodeProxyRequest([]byte(tt.body))
		if err == nil {
			t.Errorf("%s: DecodeProxyRequest(%q) = %+v, want an error with %q", tt.name, tt.body, p, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.want)
		}
		if p.ConsumerCode != "" {
			t.Errorf("%s: failed decode still gave consumer_code %q", tt.name, p.ConsumerCode)
		}
	}
}

func decodeFixture(t *testing.T, name string) Webhook {
	t.Helper()
	w, err := DecodeWebhook(readFixture(t, name), mappings.DefaultExponents())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return w
}

func TestDecodeWebhookV1(t *testing.T) {
	w := decodeFixture(t, "bill24_webhook_v1.json")
	checks := map[string][2]string{
		"shape":         {w.Shape, ShapeTran},
		"id":            {w.ID, "348b4b16-1f06-4563-8204-105a8420a067"},
		"amount":        {w.Amount.String(), "45"},
		"tran_amount":   {w.TranAmount.String(), "45"},
		"date":          {w.Date, "2024-11-29T16:58:16.727168"},
		"currency":      {w.Currency, "USD"},
		"customer_code": {w.CustomerCode, "37627011"},
		"bank_ref":      {w.BankRef, "AC00112301"},
		"tran_no":       {w.TranNo, "6K0BTGwG7HsF"},
		"status":        {w.Status, "success"},
		"service type":  {w.PaymentServiceType, "Bank Channel"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if len(w.Customers) != 1 || w.Customers[0].CustomerName != "MAO SAMON" || w.Customers[0].Amount.String() != "45" {
		t.Errorf("customers = %+v", w.Customers)
	}
	if w.Raw["tran_amount"] != 45 || w.TnxID != "" || w.TotalAmount.Sign() != 0 {
		t.Errorf("raw/other fields: %v %q %s", w.Raw["tran_amount"], w.TnxID, w.TotalAmount)
	}
}

func TestDecodeWebhookV2(t *testing.T) {
	w := decodeFixture(t, "bill24_webhook_v2.json")
	checks := map[string][2]string{
		"shape":         {w.Shape, ShapeTnx},
		"id":            {w.ID, "BUb4CmDE"},
		"amount":        {w.Amount.String(), "10"}, // tran_amount, not total_amount 10.20
		"total_amount":  {w.TotalAmount.String(), "10.20"},
		"customer_fee":  {w.CustomerFee.String(), "0.20"},
		"supplier_fee":  {w.SupplierFee.String(), "0"},
		"date":          {w.Date, "2024-02-29 10:46:33"}, // paid_date
		"customer_code": {w.CustomerCode, "CU003035"},
		"customer_name": {w.CustomerName, "Nheb Nim"},
		"paid_by":       {w.PaidBy, "893-349-349-3449"},
		"bank_ref":      {w.BankRef, "FT00003941"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if w.Bills == nil || len(w.Bills) != 0 || len(w.Customers) != 0 {
		t.Errorf("bills = %#v, customers = %#v", w.Bills, w.Customers)
	}
}

func TestDecodeWebhookCheckout(t *testing.T) {
	w := decodeFixture(t, "bill24_webhook_checkout.json")
	checks := map[string][2]string{
		"shape":         {w.Shape, ShapeCheckout},
		"id":            {w.ID, "174952172035635"},
		"amount":        {w.Amount.String(), "50000.00"},
		"fee_amount":    {w.FeeAmount.String(), "500.00"},
		"total_amount":  {w.TotalAmount.String(), "50500.00"},
		"currency":      {w.Currency, "KHR"},
		"date":          {w.Date, "2023-05-10T15:47:12.890062"},
		"customer_code": {w.CustomerCode, "12340001"}, // customers[0], not identity_code
		"identity_code": {w.IdentityCode, "234000545"},
		"channel_code":  {w.ChannelCode, "001"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if len(w.Customers) != 1 {
		t.Fatalf("customers = %+v", w.Customers)
	}
	c := w.Customers[0]
	if c.CustomerName != "ជា សំណាង" || c.CustomerNameLatin != "CHEA Samnang" || c.BillNo != "INV23001" || c.Amount.String() != "50000.00" {
		t.Errorf("customer = %+v", c)
	}
	// The Khmer name survives a round trip through Bill24's encoder.
	b, err := Marshal(c)
	if err != nil || !bytes.Contains(b, []byte(`"customer_name":"ជា សំណាង"`)) {
		t.Errorf("Marshal(customer) = %s, %v", b, err)
	}
}

// webhook returns a valid tran-shape body with the members changed: a nil
// value removes the member, a json.RawMessage is written as is.
func webhook(t testing.TB, changes map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"tran_id":     "T-1",
		"tran_amount": json.RawMessage(`45.00`),
		"currency":    "USD",
		"bank_ref":    "REF1",
		"status":      "success",
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeWebhookNormalisation(t *testing.T) {
	exps := mappings.DefaultExponents()
	tests := []struct {
		name    string
		changes map[string]any
		check   func(w Webhook) bool
	}{
		{"total_amount stands in for tran_amount",
			map[string]any{"tran_amount": nil, "total_amount": json.RawMessage(`10.20`)},
			func(w Webhook) bool { return w.Amount.String() == "10.20" && w.TranAmount.Sign() == 0 }},
		{"tran_amount null, total_amount given",
			map[string]any{"tran_amount": json.RawMessage(`null`), "total_amount": json.RawMessage(`7`)},
			func(w Webhook) bool { return w.Amount.String() == "7" }},
		{"amount as a JSON string",
			map[string]any{"tran_amount": "100.00"},
			func(w Webhook) bool { return w.Amount.String() == "100.00" && w.Raw["tran_amount"] == "100.00" }},
		{"fee as a JSON string",
			map[string]any{"fee_amount": "0.50"},
			func(w Webhook) bool { return w.FeeAmount.String() == "0.50" && w.Shape == ShapeCheckout }},
		{"KHR whole riel with .00",
			map[string]any{"currency": "KHR", "tran_amount": json.RawMessage(`50000.00`)},
			func(w Webhook) bool { return w.Amount.String() == "50000.00" }},
		{"unknown currency may have 2 places",
			map[string]any{"currency": "XYZ", "tran_amount": json.RawMessage(`1.25`)},
			func(w Webhook) bool { return w.Currency == "XYZ" && w.Amount.String() == "1.25" }},
		{"BHD has 3 places",
			map[string]any{"currency": "BHD", "tran_amount": json.RawMessage(`1.125`)},
			func(w Webhook) bool { return w.Amount.String() == "1.125" }},
		{"customer_code from identity_code without customers",
			map[string]any{"identity_code": "ID-9"},
			func(w Webhook) bool { return w.CustomerCode == "ID-9" }},
		{"customer_code from the first customer",
			map[string]any{"identity_code": "ID-9", "customers": []any{map[string]any{"customer_code": "C-1"}, map[string]any{"customer_code": "C-2"}}},
			func(w Webhook) bool { return w.CustomerCode == "C-1" }},
		{"empty first customer code falls back to identity_code",
			map[string]any{"identity_code": "ID-9", "customers": []any{map[string]any{"customer_code": ""}}},
			func(w Webhook) bool { return w.CustomerCode == "ID-9" }},
		{"customer_code given wins",
			map[string]any{"customer_code": "OWN", "identity_code": "ID-9"},
			func(w Webhook) bool { return w.CustomerCode == "OWN" }},
		{"tran_id wins over tnx_id",
			map[string]any{"tnx_id": "X-2"},
			func(w Webhook) bool { return w.ID == "T-1" && w.Shape == ShapeTran }},
		{"empty tran_id, tnx_id",
			map[string]any{"tran_id": "", "tnx_id": "X-2"},
			func(w Webhook) bool { return w.ID == "X-2" && w.Shape == ShapeTnx }},
		{"channel_code makes checkout",
			map[string]any{"channel_code": "001"},
			func(w Webhook) bool { return w.Shape == ShapeCheckout }},
		{"paid_date when tran_date is missing",
			map[string]any{"paid_date": "2024-02-29 10:46:33"},
			func(w Webhook) bool { return w.Date == "2024-02-29 10:46:33" }},
		{"tran_date wins",
			map[string]any{"paid_date": "2024-02-29 10:46:33", "tran_date": "2024-03-01 00:00:00"},
			func(w Webhook) bool { return w.Date == "2024-03-01 00:00:00" }},
		{"null members are not given",
			map[string]any{"fee_amount": json.RawMessage(`null`), "description": json.RawMessage(`null`),
				"customers": []any{map[string]any{"customer_code": "C", "amount": nil}}},
			func(w Webhook) bool {
				return w.FeeAmount.Sign() == 0 && w.Description == "" && w.Customers[0].CustomerCode == "C"
			}},
		{"customer amount as string",
			map[string]any{"customers": []any{map[string]any{"amount": "45.00"}}},
			func(w Webhook) bool { return w.Customers[0].Amount.String() == "45.00" }},
		{"128-byte id",
			map[string]any{"tran_id": strings.Repeat("a", MaxIDLen)},
			func(w Webhook) bool { return len(w.ID) == MaxIDLen }},
		{"unknown fields via Raw",
			map[string]any{"merchant_ref": "M-1", "extra": map[string]any{"n": json.RawMessage(`1.50`), "name": "ជា"}},
			func(w Webhook) bool {
				e, _ := w.Raw["extra"].(map[string]any)
				return w.Raw["merchant_ref"] == "M-1" && fmt.Sprint(e["n"]) == "1.50" && e["name"] == "ជា"
			}},
	}
	for _, tt := range tests {
		w, err := DecodeWebhook(webhook(t, tt.changes), exps)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !tt.check(w) {
			t.Errorf("%s: got %+v", tt.name, w)
		}
	}
}

// TestWebhookRawInMappings: fields the struct does not know are usable in
// mappings, and their numbers behave as numbers.
func TestWebhookRawInMappings(t *testing.T) {
	w, err := DecodeWebhook(webhook(t, map[string]any{
		"merchant_id": json.RawMessage(`12`), "surcharge": json.RawMessage(`1.50`), "note": "ជា",
	}), mappings.DefaultExponents())
	if err != nil {
		t.Fatal(err)
	}
	env := mappings.RequestEnv[Webhook]{Req: w}
	comp := mappings.NewCompiler(mappings.DefaultExponents())
	for src, want := range map[string]string{
		`req.raw.merchant_id`:                       "12",
		`req.raw.merchant_id == 12`:                 "true",
		`req.raw.surcharge > 1`:                     "true",
		`req.amount + req.raw.surcharge`:            "46.50",
		`req.raw.note + "!"`:                        "ជា!",
		`coalesce(req.customer_code, req.raw.note)`: "ជា",
		`format_amount(req.amount, "USD")`:          "45.00",
		`text(req.tran_amount)`:                     "45.00",
		`req.raw.missing ?? req.raw.surcharge`:      "1.50",
	} {
		p, err := comp.Compile(src, env, mappings.KindString)
		if err != nil {
			t.Errorf("Compile(%s): %v", src, err)
			continue
		}
		if got, err := p.String(env); err != nil || got != want {
			t.Errorf("%s = %q, %v, want %q", src, got, err, want)
		}
	}
}

func TestDecodeWebhookErrors(t *testing.T) {
	exps := mappings.DefaultExponents()
	tests := []struct {
		name    string
		changes map[string]any
		want    string
	}{
		{"missing id", map[string]any{"tran_id": nil}, "tran_id (or tnx_id) is required"},
		{"empty ids", map[string]any{"tran_id": "", "tnx_id": ""}, "tran_id (or tnx_id) is required"},
		{"null id", map[string]any{"tran_id": json.RawMessage(`null`)}, "tran_id (or tnx_id) is required"},
		{"id too long", map[string]any{"tran_id": strings.Repeat("a", MaxIDLen+1)}, "tran_id is longer than 128 bytes"},
		{"id with control character", map[string]any{"tran_id": "T\n1"}, "tran_id holds byte 0x0a at 1"},
		{"id with DEL", map[string]any{"tran_id": "T\u007f"}, "tran_id holds byte 0x7f at 1"},
		{"id not ASCII", map[string]any{"tran_id": "T-ជា"}, "tran_id holds byte 0xe1 at 2; an id must be printable ASCII"},
		{"id with a C1 control", map[string]any{"tran_id": "T\u0085"}, "printable ASCII"},
		{"id with a space at the end", map[string]any{"tran_id": "T-1 "}, "must not begin or end with a space"},
		{"tnx_id not ASCII", map[string]any{"tran_id": nil, "tnx_id": "é"}, "tnx_id holds byte 0xc3"},
		{"tnx_id too long", map[string]any{"tran_id": nil, "tnx_id": strings.Repeat("b", MaxIDLen+1)}, "tnx_id is longer than 128 bytes"},
		{"id not a string", map[string]any{"tran_id": json.RawMessage(`123`)}, "tran_id must be a string"},
		{"lower-case currency", map[string]any{"currency": "usd"}, `currency "usd" is not an ISO 4217 code`},
		{"two-letter currency", map[string]any{"currency": "US"}, `currency "US"`},
		{"missing currency", map[string]any{"currency": nil}, `currency "" is not`},
		{"numeric currency", map[string]any{"currency": json.RawMessage(`840`)}, "currency must be a string"},
		{"negative amount", map[string]any{"tran_amount": json.RawMessage(`-45`)}, "tran_amount must be positive"},
		{"zero amount", map[string]any{"tran_amount": json.RawMessage(`0`)}, "tran_amount must be positive"},
		{"zero amount with places", map[string]any{"tran_amount": json.RawMessage(`0.00`)}, "tran_amount must be positive"},
		{"zero total", map[string]any{"tran_amount": nil, "total_amount": json.RawMessage(`0`)}, "total_amount must be positive"},
		{"negative fee", map[string]any{"fee_amount": json.RawMessage(`-1`)}, "fee_amount must not be negative"},
		{"negative customer amount", map[string]any{"customers": []any{map[string]any{"amount": json.RawMessage(`-1`)}}}, "customers[0].amount must not be negative"},
		{"USD 10.001", map[string]any{"tran_amount": json.RawMessage(`10.001`)}, "more decimal places than USD allows (2)"},
		{"KHR 100.5", map[string]any{"currency": "KHR", "tran_amount": json.RawMessage(`100.5`)}, "more decimal places than KHR allows (0)"},
		{"KHR fee 0.5", map[string]any{"currency": "KHR", "tran_amount": json.RawMessage(`100`), "fee_amount": json.RawMessage(`0.5`)}, "fee_amount"},
		{"customer amount places", map[string]any{"customers": []any{map[string]any{"amount": json.RawMessage(`1.234`)}}}, "customers[0].amount"},
		{"amount not numeric", map[string]any{"tran_amount": "abc"}, `tran_amount is not a decimal number: "abc"`},
		{"amount with comma", map[string]any{"tran_amount": "1,000.00"}, "tran_amount is not a decimal number"},
		{"amount with spaces", map[string]any{"tran_amount": " 45 "}, "tran_amount is not a decimal number"},
		{"empty amount", map[string]any{"tran_amount": ""}, "tran_amount is not a decimal number"},
		{"amount bool", map[string]any{"tran_amount": true}, "tran_amount must be a number"},
		{"amount object", map[string]any{"tran_amount": map[string]any{}}, "tran_amount must be a number"},
		{"no amount", map[string]any{"tran_amount": nil}, "tran_amount (or total_amount) is required"},
		{"null amount", map[string]any{"tran_amount": json.RawMessage(`null`)}, "tran_amount (or total_amount) is required"},
		{"status not a string", map[string]any{"status": json.RawMessage(`1`)}, "status must be a string"},
		{"status object", map[string]any{"status": map[string]any{"code": "success"}}, "status must be a string"},
		{"customers not an array", map[string]any{"customers": map[string]any{"customer_code": "C"}}, "customers must be an array"},
		{"customers a string", map[string]any{"customers": "C"}, "customers must be an array"},
		{"bills not an array", map[string]any{"bills": 1}, "bills must be an array"},
		{"customer not an object", map[string]any{"customers": []any{"C"}}, "malformed webhook"},
		{"customer amount bool", map[string]any{"customers": []any{map[string]any{"amount": true}}}, "malformed webhook"},
		// encoding/json matches names case-insensitively: a second spelling
		// must not replace, in the struct, what was validated.
		{"upper-case amount", map[string]any{"TRAN_AMOUNT": json.RawMessage(`-45`)}, `unknown field "TRAN_AMOUNT"`},
		{"mixed-case amount", map[string]any{"Tran_Amount": json.RawMessage(`10.001`)}, "case-sensitive"},
		{"upper-case currency", map[string]any{"Currency": "usd"}, `did you mean "currency"`},
		{"upper-case id", map[string]any{"TRAN_ID": "T-2"}, `did you mean "tran_id"`},
		{"long s in customer_fee", map[string]any{"cuſtomer_fee": json.RawMessage(`-3`)}, `did you mean "customer_fee"`},
		{"Kelvin sign in bank_ref", map[string]any{"ban\u212a_ref": "X"}, `did you mean "bank_ref"`},
	}
	for _, tt := range tests {
		body := webhook(t, tt.changes)
		w, err := DecodeWebhook(body, exps)
		if err == nil {
			t.Errorf("%s: DecodeWebhook(%s) = amount %s id %q, want an error with %q", tt.name, body, w.Amount, w.ID, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.want)
		}
	}
	// The second spelling last, where encoding/json would let it win.
	body := `{"tran_id":"a","currency":"USD","tran_amount":5,"TRAN_AMOUNT":-5}`
	if w, err := DecodeWebhook([]byte(body), exps); err == nil || !strings.Contains(err.Error(), `unknown field "TRAN_AMOUNT"`) {
		t.Errorf("DecodeWebhook(%s) = amount %s, %v", body, w.Amount, err)
	}
	for _, body := range []string{``, `[]`, `{"tran_id":`, `{"tran_id":"a"}}`, "{\"tran_id\":\"\xff\"}"} {
		if _, err := DecodeWebhook([]byte(body), exps); err == nil {
			t.Errorf("DecodeWebhook(%q) succeeded", body)
		}
	}
}

func TestDecodeWebhookKHRExponent(t *testing.T) {
	body := webhook(t, map[string]any{"currency": "KHR", "tran_amount": json.RawMessage(`100.50`)})
	if _, err := DecodeWebhook(body, mappings.DefaultExponents()); err == nil {
		t.Errorf("KHR 100.50 accepted with exponent 0")
	}
	// A configuration that gives KHR its ISO 4217 exponent accepts it.
	exps := mappings.DefaultExponents()
	exps.SetExponent("KHR", 2)
	w, err := DecodeWebhook(body, exps)
	if err != nil || w.Amount.String() != "100.50" {
		t.Errorf("KHR 100.50 with exponent 2 = %s, %v", w.Amount, err)
	}
	// A nil Exponents knows nothing: 2 places.
	if w, err := DecodeWebhook(webhook(t, nil), nil); err != nil || w.Amount.String() != "45.00" {
		t.Errorf("nil exponents = %s, %v", w.Amount, err)
	}
}

func TestFingerprint(t *testing.T) {
	exps := mappings.DefaultExponents()
	customer := func(changes map[string]any) []any {
		c := map[string]any{"customer_code": "C-1", "customer_name": "MAO SAMON", "bill_no": "B-1",
			"branch_code": "PP", "amount": json.RawMessage(`45`)}
		for k, v := range changes {
			c[k] = v
		}
		return []any{c}
	}
	fp := func(changes map[string]any) string {
		t.Helper()
		all := map[string]any{"customers": customer(nil), "identity_code": "C-1"}
		for k, v := range changes {
			all[k] = v
		}
		w, err := DecodeWebhook(webhook(t, all), exps)
		if err != nil {
			t.Fatalf("%v: %v", changes, err)
		}
		return w.Fingerprint()
	}
	base := fp(nil)
	if len(base) != 64 {
		t.Fatalf("fingerprint %q is not hex SHA-256", base)
	}
	same := []map[string]any{
		{"tran_amount": json.RawMessage(`45`)},
		{"tran_amount": json.RawMessage(`45.0`)},
		{"tran_amount": "45.00"},
		{"tran_amount": json.RawMessage(`4.5e1`)},
		{"customers": customer(map[string]any{"amount": "45.00"})},
		{"fee_amount": json.RawMessage(`0.00`)}, // a zero fee is no fee
		{"status": "SUCCESS"},
		{"tran_date": "2024-11-29T16:58:16"},                                // may vary between retries
		{"description": "retry"},                                            // idem
		{"customers": customer(map[string]any{"customer_name": "x"})},       // idem
		{"customers": customer(map[string]any{"customer_name_latin": "x"})}, // idem
	}
	for _, c := range same {
		if got := fp(c); got != base {
			t.Errorf("fingerprint changed with %v", c)
		}
	}
	differs := []map[string]any{
		{"tran_amount": json.RawMessage(`46`)},
		{"tran_amount": json.RawMessage(`4.5`)},
		{"tran_amount": json.RawMessage(`450`)},
		{"fee_amount": json.RawMessage(`1`), "total_amount": json.RawMessage(`46`)},
		{"total_amount": json.RawMessage(`46`)},
		{"customer_fee": json.RawMessage(`1`)},
		{"supplier_fee": json.RawMessage(`1`)},
		{"bank_ref": "REF2"},
		{"currency": "KHR", "tran_amount": json.RawMessage(`45`)},
		{"tran_id": "T-2"},
		{"tran_id": "a:b:c"},
		{"tran_id": "x:c"},
		{"identity_code": "ID"},
		{"customer_code": "C"},
		{"customer_sync_code": "S-1"},
		{"purpose_of_transaction": "INV-2"},
		{"checkout_ref": "ORDER-2"},
		{"bills": []any{map[string]any{"id": "B-9", "sync_code": "S"}}},
		{"bills": []any{map[string]any{"id": "B-9", "sync_code": "T"}}},
		{"customers": customer(map[string]any{"bill_no": "B-2"})},
		{"customers": customer(map[string]any{"bill_no": ""})},
		{"customers": customer(map[string]any{"customer_code": "C-2"})},
		{"customers": customer(map[string]any{"branch_code": "SR"})},
		{"customers": customer(map[string]any{"amount": json.RawMessage(`44`)})},
		{"customers": append(customer(nil), customer(nil)...)},
		{"customers": []any{}},
	}
	seen := map[string]bool{base: true}
	for _, c := range differs {
		got := fp(c)
		if seen[got] {
			t.Errorf("fingerprint with %v equals another's", c)
		}
		seen[got] = true
	}
	// The older shape: tnx_id and tran_id are different fields.
	tnx := fp(map[string]any{"tran_id": nil, "tnx_id": "T-1"})
	if seen[tnx] {
		t.Errorf("tnx_id T-1 has tran_id T-1's fingerprint")
	}
	// Fields are separated: moving text from one field to the next changes it.
	pairs := [][2]Webhook{
		{{TranID: "ab", BankRef: "c"}, {TranID: "a", BankRef: "bc"}},
		{{TranID: "a", TnxID: ""}, {TranID: "", TnxID: "a"}},
		{{Customers: []Customer{{CustomerCode: "a", BillNo: ""}}}, {Customers: []Customer{{CustomerCode: "", BillNo: "a"}}}},
		{{Customers: []Customer{{BillNo: "1"}}}, {Bills: []Bill{{ID: "1"}}}},
		{{Customers: []Customer{{}, {}}}, {Customers: []Customer{{}}}},
	}
	for _, p := range pairs {
		if p[0].Fingerprint() == p[1].Fingerprint() {
			t.Errorf("fingerprint does not separate %+v from %+v", p[0], p[1])
		}
	}
}

func TestMarshal(t *testing.T) {
	b, err := Marshal(WebhookAck{Status: "Error", Message: "<ជា> & \"x\""})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"status":"Error","message":"<ជា> & \"x\""}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	for _, ack := range []WebhookAck{AckSuccess, AckDuplicate} {
		b, _ := Marshal(ack)
		if bytes.HasSuffix(b, []byte("\n")) || !json.Valid(b) {
			t.Errorf("Marshal(%+v) = %q", ack, b)
		}
	}
	if b, _ := Marshal(AckSuccess); string(b) != `{"status":"Success","message":"SUCCESS"}` {
		t.Errorf("AckSuccess = %s", b)
	}
	if _, err := Marshal(make(chan int)); err == nil {
		t.Errorf("Marshal(chan) succeeded")
	}
}

// TestProxyReplyMatchesFixture builds the documented proxy answer and checks
// it byte for byte (field order as in protocols.md A.3) against the fixture.
func TestProxyReplyMatchesFixture(t *testing.T) {
	d := NewProxyData("CU003035")
	d.ConsumerName = "ញ៉េប នីម"
	d.ConsumerNameLatin = "Nheb Nim"
	d.Phone = "010888999"
	d.Currency = "USD"
	d.DueAmount = mappings.DecimalFromInt(10)
	d.MaxAmount = mappings.DecimalFromInt(5000)
	d.Description = "Invoice on Feb-2024"
	d.LastBillDate = "2024-2-29 10:46:33"
	d.LastDueDate = "2024-3-30 10:46:33"
	d.LastPayDate = "2024-01-05 10:46:33"
	got, err := Marshal(ProxyReply{Code: OutcomeSuccess.Code(), Message: "Success", Data: &d})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, readFixture(t, "bill24_proxy_response.json")); err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("proxy reply =\n%s\nwant\n%s", got, want.String())
	}
}

func TestProxyReplyAmountsExact(t *testing.T) {
	d := NewProxyData("C")
	if d.MinAmount.String() != "-1" || d.MaxAmount.String() != "-1" || d.Balance.String() != "0" {
		t.Errorf("defaults = %+v", d)
	}
	d.Currency = "KHR"
	d.DueAmount = mappings.MustDecimal("50000.00")
	d.Balance = mappings.MustDecimal("10.20")
	b, err := Marshal(ProxyReply{Code: CodeNoAmountToPay, Message: "m", MessageKH: "មិនមាន", Data: &d})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"code":3,`, `"due_amount":50000.00,`, `"balance":10.20,`, `"min_amount":-1,`, `"message_kh":"មិនមាន"`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("%s missing from %s", s, b)
		}
	}
	b, _ = Marshal(ProxyReply{Code: CodeNotFound, Message: "Error Not Found"})
	if string(b) != `{"code":1,"message":"Error Not Found","message_kh":"","data":null}` {
		t.Errorf("reply without data = %s", b)
	}
}

func TestOutcomes(t *testing.T) {
	want := map[Outcome]Code{
		OutcomeSuccess: 0, OutcomeNotFound: 1, OutcomeBillOverdue: 2,
		OutcomeNoAmountToPay: 3, OutcomeCurrencyNotAllowed: 4,
	}
	for i, o := range Outcomes() {
		if o.Code() != Code(i) || want[o] != o.Code() {
			t.Errorf("Outcomes()[%d] = %s code %d", i, o, o.Code())
		}
		if got, err := ParseOutcome(string(o)); err != nil || got != o {
			t.Errorf("ParseOutcome(%s) = %s, %v", o, got, err)
		}
		m := o.DefaultMessage()
		if m.EN == "" || m.KH == "" {
			t.Errorf("%s has no default message: %+v", o, m)
		}
	}
	if len(Outcomes()) != len(want) {
		t.Errorf("Outcomes() = %v", Outcomes())
	}
	if OutcomeNotFound.DefaultMessage().EN != "Error Not Found" || OutcomeCurrencyNotAllowed.DefaultMessage().EN != "Error Currency Not Allow" {
		t.Errorf("English messages are not Bill24's")
	}
	for _, s := range []string{"", "NOT_FOUND", "paid", "not found"} {
		if _, err := ParseOutcome(s); err == nil || !strings.Contains(err.Error(), "not_found") {
			t.Errorf("ParseOutcome(%q) = %v", s, err)
		}
	}
}
