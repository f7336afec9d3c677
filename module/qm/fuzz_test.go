package qm

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/mappings"
)

var billSeeds = []string{
	`{"billId":"B1","billAmount":"100.00","currency":"USD","status":1,"isFinal":true}`,
	`{"billId":"B1","billAmount":100.00,"currency":"USD","status":"1","dateTime":1706600000000}`,
	`{"billId":"B1","billAmount":"1e1000","currency":"USD","status":0}`,
	`{"billId":"B1","billAmount":1e-1000,"currency":"USD","status":0}`,
	`{"billId":"B1","billAmount":"0","currency":"USD","status":0}`,
	`{"billId":"B1","billAmount":"1","currency":"USD","status":9223372036854775808}`,
	`{"billId":"B1","billAmount":"1","currency":"USD","status":4,"dateTime":-9223372036854775808}`,
	`{"billId":"\u0085","billAmount":"1","currency":"USD","status":1}`,
	`{"billId":"B1","billAmount":"1","currency":"USD","status":1,"isFinal":null,"x":[{}]}`,
	`{"billId":"B1","billAmount":"1","currency":"USD","status":1} x`,
	`{"billId":"B1","billAmount":"\ud800","currency":"USD","status":1}`,
	`{"billId":"B1","billAmount":"1","billAmount":"1000","currency":"USD","status":1}`,
	`{"billId":"B1","billAmount":"1","currency":"USD","status":1,"x":{"a":1,"a":2}}`,
	`{"billId":"a:b:c","billAmount":"1000000000000000","currency":"MYR","status":1}`,
	`{"billId":"B1 ","billAmount":"1","currency":"MYR","status":1}`,
	`{"billId":"B1","billAmount":"1.001","currency":"MYR","status":1}`,
	`{}`, `[]`, ``, `{`, `null`,
}

// checkBill fails if b is not a bill the decoders may accept.
func checkBill(t *testing.T, b Bill) {
	t.Helper()
	if mappings.CheckID("billId", b.BillID) != nil || b.BillAmount.Sign() <= 0 || !mappings.ValidCurrencyCode(b.Currency) ||
		defaultExponents.CheckAmount("billAmount", b.BillAmount, b.Currency) != nil ||
		b.Status < StatusPending || b.Status > StatusProcessing {
		t.Fatalf("accepted %+v", b)
	}
	if b.Raw["billId"] != b.BillID {
		t.Fatalf("raw billId %#v, struct %q", b.Raw["billId"], b.BillID)
	}
	// The amount is exact: it reads back to the text QM sent.
	var s string
	switch v := b.Raw["billAmount"].(type) {
	case int:
		s = strconv.Itoa(v)
	case mappings.Decimal:
		s = v.String()
	case string:
		s = v
	}
	d, err := mappings.ParseDecimal(s)
	if err != nil || !d.Equal(b.BillAmount) || d.Scale() != b.BillAmount.Scale() {
		t.Fatalf("billAmount %s from %q", b.BillAmount, s)
	}
}

// FuzzDecodeCallback: DecodeCallback never panics, and what it accepts is
// one valid JSON object holding a valid bill: a header-safe id, an amount
// within its currency's bounds.
func FuzzDecodeCallback(f *testing.F) {
	names, _ := filepath.Glob(fixtures + "qm_*.json")
	if len(names) == 0 {
		f.Fatalf("no fixtures under %s", fixtures)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range billSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := DecodeCallback(body, defaultExponents)
		if err != nil {
			if b.BillID != "" || b.Raw != nil {
				t.Fatalf("error %v with bill %+v", err, b)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error is not UTF-8: %q", err)
			}
			return
		}
		if !json.Valid(bytes.TrimSpace(body)) || !utf8.Valid(body) {
			t.Fatalf("accepted invalid JSON or UTF-8: %q", body)
		}
		checkBill(t, b)
	})
}

// FuzzDecodeRequery: the Requery answer decoder never panics, classifies
// every failure as an *APIError or a *ResponseError, temporary exactly
// for 429 and 5xx, and accepts only a valid bill about the asked id.
func FuzzDecodeRequery(f *testing.F) {
	f.Add(200, []byte(`{"code":0,"message":"Success","data":`+billSeeds[0]+`}`), "B1")
	f.Add(200, []byte(`{"code":0,"message":"Success","data":`+billSeeds[1]+`}`), "B1")
	f.Add(200, []byte(`{"code":0,"data":`+billSeeds[0]+`}`), "B2")
	f.Add(200, []byte(`{"code":1,"message":"Bill not found"}`), "B1")
	f.Add(429, []byte(`{"code":429,"message":"Too Many Requests"}`), "B1")
	f.Add(500, []byte(`<html>`), "B1")
	f.Add(503, []byte(`{"code":0,"data":`+billSeeds[0]+`}`), "B1")
	f.Add(302, []byte(``), "B1")
	f.Add(200, []byte(`{"code":"0","data":[]}`), "B1")
	f.Add(200, []byte(`{"code":1e999,"data":{}}`), "B1")
	for _, s := range billSeeds {
		f.Add(200, []byte(`{"code":0,"data":`+s+`}`), "B1")
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, id string) {
		b, err := decodeRequery(status, body, id)
		if err != nil {
			var ae *APIError
			var re *ResponseError
			switch {
			case errors.As(err, &ae):
				if ae.HTTPStatus != status || ae.Code == 0 || !utf8.ValidString(ae.Message) || len(ae.Message) > 200+len("…") {
					t.Fatalf("APIError %#v", ae)
				}
			case errors.As(err, &re):
				if re.HTTPStatus != status {
					t.Fatalf("ResponseError %#v", re)
				}
			default:
				t.Fatalf("error of type %T: %v", err, err)
			}
			if IsTemporary(err) != (status == 429 || status >= 500) {
				t.Fatalf("status %d: temporary %v", status, IsTemporary(err))
			}
			if b.BillID != "" || b.Raw != nil {
				t.Fatalf("error %v with bill %+v", err, b)
			}
			return
		}
		if status < 200 || status > 299 || b.BillID != id {
			t.Fatalf("accepted status %d, bill %q for %q", status, b.BillID, id)
		}
		checkBill(t, b)
	})
}

// FuzzDecodeCreate: the Create Bill answer decoder never panics,
// classifies every failure as an *APIError or a *ResponseError, temporary
// exactly for 429 and 5xx, and accepts only a 2xx holding a valid bill id
// and an exact billAmount that reads back to the text QM sent.
func FuzzDecodeCreate(f *testing.F) {
	ok := `{"billAmount":100.00,"requireGCAmount":"2.50000000","currency":"USD","merchantReference":"INV-1001",` +
		`"billId":"B1706600000000","billUrl":"https://pay.quantummetal.example/b/B1706600000000","expiredOn":1706603600000}`
	for _, s := range []string{
		`{"code":0,"message":"Success","data":` + ok + `}`,
		`{"code":0,"data":{"billId":"B1","billAmount":"1.10"}}`,
		`{"code":0,"data":{"billId":"B1","billAmount":1e1000}}`,
		`{"code":0,"data":{"billId":"B1","billAmount":"1","expiredOn":"1.5"}}`,
		`{"code":0,"data":{"billId":"B1","billAmount":"1","currency":{}}}`,
		`{"code":0,"data":{"billId":"B\u0000","billAmount":"1"}}`,
		`{"code":0,"data":{"billAmount":"1"}}`, `{"code":0,"data":null}`, `{"code":0}`,
		`{"code":3,"message":"Invalid amount"}`, `{"code":"0","data":[]}`, `<html>`, ``, `{"code":0,"data":{}} x`,
	} {
		for _, status := range []int{200, 201, 302, 400, 429, 500} {
			f.Add(status, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		cb, err := decodeCreate(status, body)
		if err != nil {
			var ae *APIError
			var re *ResponseError
			switch {
			case errors.As(err, &ae):
				if ae.HTTPStatus != status || ae.Code == 0 || !utf8.ValidString(ae.Message) || len(ae.Message) > 200+len("…") {
					t.Fatalf("APIError %#v", ae)
				}
			case errors.As(err, &re):
				if re.HTTPStatus != status || !utf8.ValidString(re.Reason) {
					t.Fatalf("ResponseError %#v", re)
				}
			default:
				t.Fatalf("error of type %T: %v", err, err)
			}
			if IsTemporary(err) != (status == 429 || status >= 500) {
				t.Fatalf("status %d: temporary %v", status, IsTemporary(err))
			}
			if cb.BillID != "" || cb.Raw != nil {
				t.Fatalf("error %v with bill %+v", err, cb)
			}
			return
		}
		if status < 200 || status > 299 || !validBillID(cb.BillID) || cb.Raw["billId"] != cb.BillID {
			t.Fatalf("accepted status %d, bill %+v", status, cb)
		}
		var s string
		switch v := cb.Raw["billAmount"].(type) {
		case int:
			s = strconv.Itoa(v)
		case mappings.Decimal:
			s = v.String()
		case string:
			s = v
		}
		if d, err := mappings.ParseDecimal(s); err != nil || !d.Equal(cb.BillAmount) || d.Scale() != cb.BillAmount.Scale() {
			t.Fatalf("billAmount %s from %q", cb.BillAmount, s)
		}
	})
}
