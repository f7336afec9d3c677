package bill24

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
)

func addFixtures(f *testing.F) {
	names, _ := filepath.Glob(fixtures + "bill24_*.json")
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
}

// FuzzDecodeProxyRequest: DecodeProxyRequest never panics, and what it
// accepts is one valid JSON object with a usable consumer_code.
func FuzzDecodeProxyRequest(f *testing.F) {
	addFixtures(f)
	for _, s := range []string{
		`{"consumer_code":"CU003035"}`, `{"consumer_code":"វិក្កយបត្រ"}`, `{"consumer_code":""}`,
		`{"consumer_code":null}`, `{"consumer_code":123}`, `{"consumer_code":"a\u0000"}`,
		`{"consumer_code":"a\u0085"}`, "{\"consumer_code\":\"\xff\"}", `{"consumer_code":"x"}}`,
		`{"consumer_code":"x"} {}`, `[]`, ``, `{`, `{"Consumer_Code":"x"}`, `{"consumer_code":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := DecodeProxyRequest(body)
		if err != nil {
			if p.ConsumerCode != "" {
				t.Fatalf("error %v with consumer_code %q", err, p.ConsumerCode)
			}
			return
		}
		// decodeObject trims Unicode spaces (U+00A0 too) around the object.
		if !json.Valid(bytes.TrimSpace(body)) || !utf8.Valid(body) {
			t.Fatalf("accepted invalid JSON or UTF-8: %q", body)
		}
		c := p.ConsumerCode
		if c == "" || utf8.RuneCountInString(c) > MaxConsumerCodeLen || !utf8.ValidString(c) || !text.Printable(c) {
			t.Fatalf("accepted consumer_code %q", c)
		}
		if p.Raw["consumer_code"] != c {
			t.Fatalf("raw consumer_code %#v, struct %q", p.Raw["consumer_code"], c)
		}
	})
}

// FuzzDecodeWebhook: DecodeWebhook never panics, and what it accepts has a
// header-safe id, a valid currency, the success status (or none, in the
// tnx shape), a positive amount within the currency's bounds, fees that
// add up to the total, and typed fields that agree with the raw document
// the checks read.
func FuzzDecodeWebhook(f *testing.F) {
	addFixtures(f)
	for _, s := range []string{
		`{"tran_id":"a","currency":"USD","tran_amount":45}`,
		`{"tnx_id":"b","currency":"KHR","total_amount":"50000.00","tran_amount":null}`,
		`{"tran_id":"a","currency":"USD","tran_amount":5,"TRAN_AMOUNT":-5}`,
		`{"tran_id":"a","currency":"USD","tran_amount":5,"cuſtomer_fee":-3}`,
		`{"tran_id":"a","currency":"usd","tran_amount":5}`,
		`{"tran_id":"a","currency":"KHR","tran_amount":100.5}`,
		`{"tran_id":"a","currency":"USD","tran_amount":"1e2","customers":[{"amount":"1.5","customer_code":null}]}`,
		`{"tran_id":"a","currency":"USD","tran_amount":0}`,
		`{"tran_id":"a","currency":"USD","tran_amount":1e-1000}`,
		`{"tran_id":"a","currency":"USD","tran_amount":1e1000}`,
		`{"tran_id":"a","currency":"USD","tran_amount":5,"customers":{}}`,
		`{"tran_id":"a","currency":"USD","tran_amount":5,"customers":[1]}`,
		`{"tran_id":"a","currency":"USD","tran_amount":5,"bills":[{"id":null}],"status":1}`,
		`{"tran_id":"a","currency":"USD","tran_amount":5,"amount":"x","id":7}`,
		`{"tran_id":"a\n","currency":"USD","tran_amount":5}`,
		`{"tran_id":"a","currency":"USD","tran_amount":45,"tran_amount":4500,"status":"success"}`,
		`{"tran_id":"a","currency":"USD","tran_amount":45,"status":"success","customers":[{"amount":1,"amount":2}]}`,
		`{"tran_id":"a","currency":"USD","tran_amount":45,"status":""}`,
		`{"tran_id":"a","currency":"USD","tran_amount":45,"status":null}`,
		`{"tran_id":"a","currency":"USD","tran_amount":45,"status":"SUCCESS"}`,
		`{"tnx_id":"a","currency":"USD","tran_amount":45}`,
		`{"tran_id":"a","currency":"USD","tran_amount":0.1,"fee_amount":0.2,"total_amount":0.4,"status":"success"}`,
		`{"tran_id":"a","currency":"USD","tran_amount":0.1,"fee_amount":0.2,"total_amount":0.3,"status":"success"}`,
		`{"tran_id":"a","currency":"USD","tran_amount":999999999999999,"status":"success"}`,
		`{"tran_id":"a:b:c","currency":"USD","tran_amount":1e2,"status":"success"}`,
		`{"tran_id":"a` + "\x7f" + `","currency":"USD","tran_amount":1,"status":"success"}`,
		`{}`, `[]`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	exps := mappings.DefaultExponents()
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := DecodeWebhook(body, exps)
		if err != nil {
			return
		}
		// decodeObject trims Unicode spaces (U+00A0 too) around the object.
		if !json.Valid(bytes.TrimSpace(body)) || !utf8.Valid(body) {
			t.Fatalf("accepted invalid JSON or UTF-8: %q", body)
		}
		if w.ID == "" || len(w.ID) > MaxIDLen || !text.Printable(w.ID) {
			t.Fatalf("accepted id %q", w.ID)
		}
		for i := 0; i < len(w.ID); i++ {
			if w.ID[i] < ' ' || w.ID[i] > '~' || w.ID[0] == ' ' || w.ID[len(w.ID)-1] == ' ' {
				t.Fatalf("accepted id %q, not header-safe", w.ID)
			}
		}
		st, hasStatus := w.Raw["status"]
		if hasStatus && (st == nil || !strings.EqualFold(w.Status, "success") || len(w.Status) != len("success")) ||
			!hasStatus && w.Shape != ShapeTnx {
			t.Fatalf("accepted status %#v in shape %s", st, w.Shape)
		}
		switch {
		case w.Shape == ShapeTnx && w.ID == w.TnxID && w.TranID == "":
		case (w.Shape == ShapeTran || w.Shape == ShapeCheckout) && w.ID == w.TranID:
		default:
			t.Fatalf("shape %q with id %q (tran_id %q, tnx_id %q)", w.Shape, w.ID, w.TranID, w.TnxID)
		}
		if !mappings.ValidCurrencyCode(w.Currency) || w.Raw["currency"] != w.Currency {
			t.Fatalf("accepted currency %q (raw %#v)", w.Currency, w.Raw["currency"])
		}
		exp, ok := exps.Exponent(w.Currency)
		if !ok {
			exp = 2
		}
		if w.Amount.Sign() <= 0 || !w.Amount.FitsExponent(exp) || exps.CheckAmount("amount", w.Amount, w.Currency) != nil {
			t.Fatalf("accepted amount %s %s", w.Amount, w.Currency)
		}
		if w.Raw["tran_amount"] != nil && w.Raw["fee_amount"] != nil && w.Raw["total_amount"] != nil &&
			w.TranAmount.Add(w.FeeAmount).Cmp(w.TotalAmount) != 0 {
			t.Fatalf("accepted %s + %s = %s", w.TranAmount, w.FeeAmount, w.TotalAmount)
		}
		// The typed amounts are the ones the checks read from the document.
		typed := map[string]mappings.Decimal{
			"tran_amount": w.TranAmount, "fee_amount": w.FeeAmount, "customer_fee": w.CustomerFee,
			"supplier_fee": w.SupplierFee, "total_amount": w.TotalAmount,
		}
		for name, d := range typed {
			if d.Sign() < 0 || !d.FitsExponent(exp) || exps.CheckAmount(name, d, w.Currency) != nil {
				t.Fatalf("accepted %s %s %s", name, d, w.Currency)
			}
			v, present := w.Raw[name]
			if !present || v == nil {
				if d.Sign() != 0 {
					t.Fatalf("%s is %s but absent from the document", name, d)
				}
				continue
			}
			if r, err := amountValue(v); err != nil || r.String() != d.String() {
				t.Fatalf("%s: document says %#v, struct %s", name, v, d)
			}
		}
		if w.Amount.String() != w.TranAmount.String() && w.Amount.String() != w.TotalAmount.String() {
			t.Fatalf("amount %s is neither tran_amount %s nor total_amount %s", w.Amount, w.TranAmount, w.TotalAmount)
		}
		for i, c := range w.Customers {
			if c.Amount.Sign() < 0 || !c.Amount.FitsExponent(exp) || exps.CheckAmount("amount", c.Amount, w.Currency) != nil {
				t.Fatalf("accepted customers[%d].amount %s", i, c.Amount)
			}
		}
		fp := w.Fingerprint()
		if b, err := hex.DecodeString(fp); err != nil || len(b) != 32 {
			t.Fatalf("fingerprint %q", fp)
		}
		if again, err := DecodeWebhook(body, exps); err != nil || again.Fingerprint() != fp {
			t.Fatalf("second decode differs: %v", err)
		}
	})
}
