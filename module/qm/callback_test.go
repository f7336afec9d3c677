package qm

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
)

func TestDecodeCallbackFixture(t *testing.T) {
	b, err := DecodeCallback(readFixture(t, "qm_callback.json"))
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
		{"big amount exact", `{"billId":"B1","billAmount":99999999999999999999.99,"currency":"USD","status":1}`, "99999999999999999999.99", nil},
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
		{"whitespace", " \r\n{\"billId\":\"ក-1\",\"billAmount\":\"0.01\",\"currency\":\"KHR\",\"status\":3}\n", "0.01",
			func(b Bill) bool { return b.BillID == "ក-1" && b.Status == StatusCancelled }},
		{"128-byte id", `{"billId":"` + strings.Repeat("x", MaxIDLen) + `","billAmount":"1","currency":"USD","status":1}`, "1", nil},
	} {
		b, err := DecodeCallback([]byte(tt.body))
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
		{"empty billId", `{"billId":"",` + rest + `}`, "billId must be 1 to 128 printable characters"},
		{"long billId", `{"billId":"` + strings.Repeat("x", MaxIDLen+1) + `",` + rest + `}`, "billId must be 1 to 128"},
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
		b, err := DecodeCallback([]byte(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: DecodeCallback = %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && (b.BillID != "" || b.Raw != nil) {
			t.Errorf("%s: error with a bill %+v", tt.name, b)
		}
	}
	// Error messages stay short whatever the input.
	_, err := DecodeCallback([]byte(`{"billId":"B1","billAmount":"` + strings.Repeat("9x", 5000) + `","currency":"USD","status":1}`))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("long amount: %v", err)
	}
}
