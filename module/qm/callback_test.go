package qm

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
)

func TestDecodeCallbackFixture(t *testing.T) {
	b, err := DecodeCallback(readFixture(t, "qm_callback.json"), mappings.DefaultExponents())
	if err != nil {
		t.Fatal(err)
	}
	want := Bill{
		BillID: "B1706600000000", MerchantReference: "INV-1001", RequestReference: "R-20240130-0001",
		PaymentReference: "P-20240130-0001", BillAmount: mappings.MustDecimal("100.00"), Currency: "USD",
		Status: StatusSuccessful, StatusName: "Successful", IsFinal: true, DateTime: 1706600000000,
	}
	got := b
	got.Raw = nil
	if got.BillAmount.String() != "100.00" || !got.BillAmount.Equal(want.BillAmount) {
		t.Errorf("billAmount %s", got.BillAmount)
	}
	got.BillAmount, want.BillAmount = mappings.Decimal{}, mappings.Decimal{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fixture = %+v\nwant %+v", got, want)
	}
	if len(b.Raw) != 10 || b.Raw["billAmount"] != "100.00" || b.Raw["status"] != 1 || b.Raw["isFinal"] != true {
		t.Errorf("raw = %#v", b.Raw)
	}
}

func TestDecodeCallback(t *testing.T) {
	for _, tt := range []struct {
		name, body, amount string
		check              func(Bill) bool
	}{
		{"amount as a number", `{"billId":"B1","billAmount":100.00,"currency":"USD","status":1}`, "100.00", nil},
		{"amount as a string", `{"billId":"B1","billAmount":"100.00","currency":"USD","status":1}`, "100.00", nil},
		{"big amount exact", `{"billId":"B1","billAmount":999999999999999.99,"currency":"USD","status":1}`, "999999999999999.99", nil},
		{"exponent", `{"billId":"B1","billAmount":1.5e2,"currency":"USD","status":1}`, "150", nil},
		{"status as a string", `{"billId":"B1","billAmount":"1","currency":"MYR","status":"4"}`, "1",
			func(b Bill) bool { return b.Status == StatusProcessing && !b.IsFinal }},
		{"status 1.0", `{"billId":"B1","billAmount":"1","currency":"MYR","status":1.0}`, "1",
			func(b Bill) bool { return b.Status == StatusSuccessful }},
		{"nulls", `{"billId":"B1","billAmount":"1","currency":"USD","status":0,"merchantReference":null,"isFinal":null,"dateTime":null,"statusName":null}`, "1",
			func(b Bill) bool { return b.MerchantReference == "" && !b.IsFinal && b.DateTime == 0 }},
		{"numeric references", `{"billId":"B1","billAmount":"1","currency":"USD","status":2,"merchantReference":1001,"dateTime":"1706600000000"}`, "1",
			func(b Bill) bool {
				return b.MerchantReference == "1001" && b.DateTime == 1706600000000 && FinalStatus(b.Status)
			}},
		{"unknown fields", `{"billId":"B1","billAmount":"1","currency":"USD","status":1,"extra":{"a":[1.10]},"BILLID":"other"}`, "1",
			func(b Bill) bool {
				e, _ := b.Raw["extra"].(map[string]any)
				a, _ := e["a"].([]any)
				return b.BillID == "B1" && len(a) == 1 && fmt.Sprint(a[0]) == "1.10" && b.Raw["BILLID"] == "other"
			}},
		{"whitespace", " \r\n{\"billId\":\"K-1\",\"billAmount\":\"0.01\",\"currency\":\"USD\",\"status\":3}\n", "0.01",
			func(b Bill) bool { return b.BillID == "K-1" && b.Status == StatusCancelled }},
		{"128-byte id", `{"billId":"` + strings.Repeat("x", MaxIDLen) + `","billAmount":"1","currency":"USD","status":1}`, "1", nil},
	} {
		b, err := DecodeCallback([]byte(tt.body), mappings.DefaultExponents())
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if b.BillAmount.String() != tt.amount || (tt.check != nil && !tt.check(b)) {
			t.Errorf("%s: %+v", tt.name, b)
		}
	}
}

func TestDecodeCallbackErrors(t *testing.T) {
	const rest = `"billAmount":"1.00","currency":"USD","status":1`
	for _, tt := range []struct{ name, body, want string }{
		{"empty", ``, "callback body is empty"},
		{"spaces", " \n", "callback body is empty"},
		{"array", `[{"billId":"B1"}]`, "not a JSON object"},
		{"string", `"B1"`, "not a JSON object"},
		{"truncated", `{"billId":"B1",`, "malformed JSON"},
		{"trailing comma", `{"billId":"B1",` + rest + `,}`, "malformed JSON"},
		{"two objects", `{"billId":"B1",` + rest + `}{}`, "data after the JSON value"},
		{"stray brace", `{"billId":"B1",` + rest + `}}`, "data after the JSON value"},
		{"bad UTF-8", "{\"billId\":\"B\xff\"," + rest + "}", "not valid UTF-8"},
		{"no billId", `{` + rest + `}`, "billId is required"},
		{"null billId", `{"billId":null,` + rest + `}`, "billId is required"},
		{"numeric billId", `{"billId":17,` + rest + `}`, "billId must be a string, got 17"},
		{"empty billId", `{"billId":"",` + rest + `}`, "billId must not be empty"},
		{"long billId", `{"billId":"` + strings.Repeat("x", MaxIDLen+1) + `",` + rest + `}`, "billId is longer than 128 bytes"},
		{"control in billId", `{"billId":"B\u0000",` + rest + `}`, "printable"},
		{"C1 in billId", `{"billId":"B\u0085",` + rest + `}`, "printable"},
		{"no amount", `{"billId":"B1","currency":"USD","status":1}`, "billAmount is required"},
		{"null amount", `{"billId":"B1","billAmount":null,"currency":"USD","status":1}`, "billAmount is required"},
		{"bool amount", `{"billId":"B1","billAmount":true,"currency":"USD","status":1}`, "billAmount must be a number, got true"},
		{"object amount", `{"billId":"B1","billAmount":{"v":1},"currency":"USD","status":1}`, "billAmount must be a number, got an object"},
		{"text amount", `{"billId":"B1","billAmount":"ten","currency":"USD","status":1}`, `billAmount is not a decimal number: "ten"`},
		{"comma amount", `{"billId":"B1","billAmount":"1,000.00","currency":"USD","status":1}`, "billAmount is not a decimal number"},
		{"spaced amount", `{"billId":"B1","billAmount":" 1","currency":"USD","status":1}`, "billAmount is not a decimal number"},
		{"empty amount", `{"billId":"B1","billAmount":"","currency":"USD","status":1}`, "billAmount is not a decimal number"},
		{"huge exponent", `{"billId":"B1","billAmount":1e5000,"currency":"USD","status":1}`, "exponent out of range"},
		{"zero amount", `{"billId":"B1","billAmount":"0.00","currency":"USD","status":1}`, "billAmount must be positive, got 0.00"},
		{"negative amount", `{"billId":"B1","billAmount":-5,"currency":"USD","status":1}`, "billAmount must be positive, got -5"},
		{"no currency", `{"billId":"B1","billAmount":1,"status":1}`, `currency "" is not three uppercase letters`},
		{"lowercase currency", `{"billId":"B1","billAmount":1,"currency":"usd","status":1}`, `currency "usd"`},
		{"long currency", `{"billId":"B1","billAmount":1,"currency":"USDT","status":1}`, `currency "USDT"`},
		{"numeric currency", `{"billId":"B1","billAmount":1,"currency":840,"status":1}`, `currency "840"`},
		{"object currency", `{"billId":"B1","billAmount":1,"currency":{},"status":1}`, "currency must be a string"},
		{"no status", `{"billId":"B1","billAmount":1,"currency":"USD"}`, "status is required"},
		{"null status", `{"billId":"B1","billAmount":1,"currency":"USD","status":null}`, "status is required"},
		{"status 5", `{"billId":"B1","billAmount":1,"currency":"USD","status":5}`, "status must be an integer from 0 to 4, got 5"},
		{"status -1", `{"billId":"B1","billAmount":1,"currency":"USD","status":-1}`, "got -1"},
		{"status 1.5", `{"billId":"B1","billAmount":1,"currency":"USD","status":1.5}`, "got 1.5"},
		{"status name", `{"billId":"B1","billAmount":1,"currency":"USD","status":"Successful"}`, `got "Successful"`},
		{"status bool", `{"billId":"B1","billAmount":1,"currency":"USD","status":true}`, "got true"},
		{"status huge", `{"billId":"B1","billAmount":1,"currency":"USD","status":1e30}`, "status must be an integer"},
		{"isFinal string", `{"billId":"B1",` + rest + `,"isFinal":"true"}`, `isFinal must be true or false, got "true"`},
		{"isFinal number", `{"billId":"B1",` + rest + `,"isFinal":1}`, "isFinal must be true or false, got 1"},
		{"dateTime float", `{"billId":"B1",` + rest + `,"dateTime":1706600000000.5}`, "dateTime must be an integer"},
		{"dateTime text", `{"billId":"B1",` + rest + `,"dateTime":"2024-01-30"}`, "dateTime must be an integer"},
		{"reference array", `{"billId":"B1",` + rest + `,"paymentReference":["P"]}`, "paymentReference must be a string, got an array"},
		{"reference bool", `{"billId":"B1",` + rest + `,"requestReference":false}`, "requestReference must be a string, got false"},
	} {
		b, err := DecodeCallback([]byte(tt.body), mappings.DefaultExponents())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: DecodeCallback = %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && (b.BillID != "" || b.Raw != nil) {
			t.Errorf("%s: error with a bill %+v", tt.name, b)
		}
	}
	// Error messages stay short whatever the input.
	_, err := DecodeCallback([]byte(`{"billId":"B1","billAmount":"`+strings.Repeat("9x", 5000)+`","currency":"USD","status":1}`), mappings.DefaultExponents())
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("long amount: %v", err)
	}
}

// TestDecodeCallbackStrict: duplicate keys, unbounded amounts and ids
// that cannot go unchanged in a header are refused, in the callback and
// in Requery's answer alike.
func TestDecodeCallbackStrict(t *testing.T) {
	exps := mappings.DefaultExponents()
	exps.SetMaxIntDigits("SGD", 6)
	for _, tt := range []struct{ name, body, want string }{
		{"amount twice", `{"billId":"B1","billAmount":"1.00","billAmount":"1000.00","currency":"USD","status":1}`,
			`callback body is malformed JSON: duplicate object key: "billAmount" at byte 35`},
		{"billId twice", `{"billId":"B1","billId":"B2","billAmount":"1.00","currency":"USD","status":1}`, `duplicate object key: "billId"`},
		{"status twice", `{"billId":"B1","billAmount":"1.00","currency":"USD","status":2,"status":1}`, `"status"`},
		{"deep duplicate", `{"billId":"B1","billAmount":"1.00","currency":"USD","status":1,"x":[{"y":{"z":1,"z":1}}]}`, `"z"`},
		{"1e1000", `{"billId":"B1","billAmount":1e1000,"currency":"USD","status":1}`, "billAmount 10000000000000000000000000000000... has more integer digits than USD allows (15)"},
		{"1e1000 text", `{"billId":"B1","billAmount":"1e1000","currency":"MYR","status":1}`, "more integer digits than MYR allows (15)"},
		{"16 digits", `{"billId":"B1","billAmount":"1000000000000000.00","currency":"MYR","status":1}`, "more integer digits"},
		{"configured bound", `{"billId":"B1","billAmount":"1000000","currency":"SGD","status":1}`, "more integer digits than SGD allows (6)"},
		{"places", `{"billId":"B1","billAmount":"1.001","currency":"MYR","status":1}`, "billAmount 1.001 has more decimal places than MYR allows (2)"},
		{"KHR places", `{"billId":"B1","billAmount":"0.5","currency":"KHR","status":1}`, "more decimal places than KHR allows (0)"},
		{"Khmer id", `{"billId":"ក-1","billAmount":"1","currency":"USD","status":1}`, "billId holds byte 0xe1 at 0; an id must be printable ASCII"},
		{"DEL in id", `{"billId":"B\u007f","billAmount":"1","currency":"USD","status":1}`, "billId holds byte 0x7f at 1"},
		{"CR LF in id", `{"billId":"B1\r\nX: y","billAmount":"1","currency":"USD","status":1}`, "billId holds byte 0x0d at 2"},
		{"space at the end", `{"billId":"B1 ","billAmount":"1","currency":"USD","status":1}`, "billId must not begin or end with a space"},
	} {
		_, err := DecodeCallback([]byte(tt.body), exps)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: DecodeCallback = %v, want %q", tt.name, err, tt.want)
		}
		// Requery's answer: the same bill is unusable.
		var data map[string]any
		if json.Unmarshal([]byte(tt.body), &data) == nil && tt.name != "configured bound" {
			_, err := decodeRequery(200, []byte(`{"code":0,"data":`+tt.body+`}`), "B1")
			if err == nil {
				t.Errorf("%s: requery answer accepted", tt.name)
			}
		}
	}
	// The exact id, ':' and all; exponent form is the value.
	b, err := DecodeCallback([]byte(`{"billId":"a:b:c","billAmount":1e2,"currency":"MYR","status":1}`), exps)
	if err != nil || b.BillID != "a:b:c" || b.BillAmount.Canonical() != "100" {
		t.Errorf("DecodeCallback = %+v, %v", b, err)
	}
	// An envelope with a key twice is malformed too.
	if _, err := decodeRequery(200, []byte(`{"code":1,"code":0,"data":{"billId":"B1","billAmount":"1","currency":"USD","status":1}}`), "B1"); err == nil ||
		!strings.Contains(err.Error(), `duplicate object key: "code"`) {
		t.Errorf("envelope with code twice: %v", err)
	}
}

func TestCheckBillID(t *testing.T) {
	for _, id := range []string{"B1706600000000", "a:b:c", "x:c", strings.Repeat("x", MaxIDLen)} {
		if err := CheckBillID(id); err != nil {
			t.Errorf("CheckBillID(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", strings.Repeat("x", MaxIDLen+1), "B\x00", "ក", " B", "B\n"} {
		if err := CheckBillID(id); err == nil || !strings.HasPrefix(err.Error(), "billId ") {
			t.Errorf("CheckBillID(%q) = %v", id, err)
		}
	}
}

func TestBillFingerprint(t *testing.T) {
	exps := mappings.DefaultExponents()
	fp := func(body string) string {
		t.Helper()
		b, err := DecodeCallback([]byte(body), exps)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return b.Fingerprint()
	}
	const base = `{"billId":"B1","merchantReference":"INV-1001","billAmount":"100.00","currency":"MYR","status":1`
	fp0 := fp(base + `}`)
	if len(fp0) != 64 {
		t.Fatalf("fingerprint %q is not hex SHA-256", fp0)
	}
	for _, same := range []string{
		`{"billId":"B1","merchantReference":"INV-1001","billAmount":100,"currency":"MYR","status":1}`,
		`{"billId":"B1","merchantReference":"INV-1001","billAmount":"1e2","currency":"MYR","status":"1"}`,
		base + `,"paymentReference":"P-2","dateTime":1706600000001,"statusName":"Successful","isFinal":true}`,
	} {
		if fp(same) != fp0 {
			t.Errorf("fingerprint changed with %s", same)
		}
	}
	seen := map[string]bool{fp0: true}
	for _, differs := range []string{
		`{"billId":"B2","merchantReference":"INV-1001","billAmount":"100.00","currency":"MYR","status":1}`,
		`{"billId":"B1","merchantReference":"INV-1002","billAmount":"100.00","currency":"MYR","status":1}`,
		`{"billId":"B1","billAmount":"100.00","currency":"MYR","status":1}`,
		`{"billId":"B1","merchantReference":"INV-1001","billAmount":"100.01","currency":"MYR","status":1}`,
		`{"billId":"B1","merchantReference":"INV-1001","billAmount":"10.00","currency":"MYR","status":1}`,
		`{"billId":"B1","merchantReference":"INV-1001","billAmount":"100.00","currency":"SGD","status":1}`,
		`{"billId":"B1","merchantReference":"INV-1001","billAmount":"100.00","currency":"MYR","status":2}`,
	} {
		got := fp(differs)
		if seen[got] {
			t.Errorf("fingerprint of %s equals another's", differs)
		}
		seen[got] = true
	}
	// Fields cannot run together.
	a := Bill{BillID: "B1", MerchantReference: "0"}
	b := Bill{BillID: "B10", MerchantReference: ""}
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("fingerprint does not separate billId from merchantReference")
	}
}
