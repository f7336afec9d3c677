package bill24

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/module/gateway"
)

// FuzzDecodeVerifyAnswer: the verify answer decoder never panics; what it
// accepts is one valid JSON object with a SUCCESS code and a usable
// tran_id; a not-found answer gives no transaction. Verify's reading of the
// same body under any HTTP status agrees with it, is temporary only for
// 429 and 5xx, confirms only the transaction asked about, and never quotes
// the secrets or the bearer token.
func FuzzDecodeVerifyAnswer(f *testing.F) {
	for _, s := range []string{
		`{"code":"SUCCESS","message":"Transaction found","data":` + khrData + `}`,
		`{"code":"SUCCESS","message":"Transaction found","data":` + usdData + `}`,
		`{"code":"SUCCESS","data":{"tran_id":"tx-1","status":"pending","tran_amount":"10.20"}}`,
		`{"code":"success","data":{"tran_id":"TX-1","tran_amount":1e3,"fee_amount":"","total_amount":null}}`,
		`{"code":"SUCCESS","data":{"tran_id":"tx-1","tran_amount":1e1000}}`,
		`{"code":"SUCCESS","data":{"tran_id":"tx-1","tran_amount":"1e-1000"}}`,
		`{"code":"SUCCESS","data":{"tran_id":"tx-1","identity_code":12,"status":{}}}`,
		`{"code":"SUCCESS","data":{"tran_id":"tx\u0000"}}`,
		`{"code":"SUCCESS","data":null}`, `{"code":"SUCCESS","data":[]}`, `{"code":"SUCCESS"}`,
		`{"code":"NOT_FOUND","message":"Transaction not found","data":null}`,
		`{"code":"FAIL","message":"transaction NOT FOUND"}`, `{"code":404}`,
		`{"code":"ERROR","message":"token tok-FUZZ-bearer is invalid; secret fuzz-s3cret"}`,
		`{"code":"Efuzz-s3cret","message":"mtok-fuzz"}`,
		`{"code":"SUCCESS","data":{"tran_id":"tx-1"}} x`, `{"code":"SUCCESS","data":{"tran_id":"tx-1"}}}`,
		`{"code":`, ``, ` `, `[]`, `null`, `"SUCCESS"`, "{\"code\":\"\xff\"}", `{"code":{},"data":{}}`,
		`{"code":"SUCCESS","message":7,"data":{"tran_id":"tx-1"}}`,
	} {
		for _, status := range []int{200, 401, 404, 429, 500} {
			f.Add([]byte(s), status)
		}
	}
	v, err := NewVerifier(VerifyConfig{BaseURL: "https://merchantapi.bill24.io", ClientID: "c",
		Secret: "fuzz-s3cret", MerchantToken: "mtok-fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	secrets := []string{"fuzz-s3cret", "mtok-fuzz", "tok-FUZZ-bearer"}

	f.Fuzz(func(t *testing.T, body []byte, status int) {
		tx, err := DecodeVerifyAnswer(body)
		switch {
		case err == nil:
			trimmed := bytes.TrimSpace(body)
			if !json.Valid(trimmed) || !utf8.Valid(body) || trimmed[0] != '{' {
				t.Fatalf("accepted a body that is not one JSON object: %q", body)
			}
			if tx.TranID == "" || len(tx.TranID) > MaxIDLen || !text.Printable(tx.TranID) || tx.Raw == nil {
				t.Fatalf("accepted tran_id %q, raw %v", tx.TranID, tx.Raw)
			}
			var env struct {
				Code any `json:"code"`
			}
			if json.Unmarshal(trimmed, &env) != nil {
				t.Fatalf("cannot reread %q", body)
			}
			if c, _ := env.Code.(string); !strings.EqualFold(strings.TrimSpace(c), "SUCCESS") {
				t.Fatalf("accepted code %#v", env.Code)
			}
			for _, d := range []string{tx.TranAmount.String(), tx.FeeAmount.String(), tx.TotalAmount.String()} {
				if strings.ContainsAny(d, "eE") {
					t.Fatalf("amount %q", d)
				}
			}
		case errors.Is(err, ErrTransactionNotFound):
			if tx.TranID != "" || tx.Raw != nil {
				t.Fatalf("not found, with a transaction: %+v", tx)
			}
		default:
			if tx.TranID != "" || tx.Raw != nil {
				t.Fatalf("error %v, with a transaction: %+v", err, tx)
			}
		}

		const asked = "tx-1"
		status = 100 + (status%500+500)%500 // 100..599
		vtx, verr := v.verifyResult(status, body, asked, "tok-FUZZ-bearer")
		if verr == nil {
			if status < 200 || status > 299 || err != nil || !strings.EqualFold(vtx.TranID, asked) {
				t.Fatalf("HTTP %d: Verify confirmed %q; decoder said %v", status, vtx.TranID, err)
			}
			return
		}
		if IsTemporary(verr) != gateway.TemporaryStatus(status) {
			t.Fatalf("HTTP %d: temporary %v for %v", status, IsTemporary(verr), verr)
		}
		if errors.Is(verr, ErrTransactionNotFound) && IsTemporary(verr) {
			t.Fatalf("HTTP %d: not found and temporary: %v", status, verr)
		}
		if status >= 200 && status <= 299 && errors.Is(err, ErrTransactionNotFound) != errors.Is(verr, ErrTransactionNotFound) {
			t.Fatalf("HTTP %d: decoder %v, Verify %v", status, err, verr)
		}
		var ve *VerifyError
		if !errors.As(verr, &ve) {
			t.Fatalf("%T is not a *VerifyError", verr)
		}
		for _, text := range []string{verr.Error(), ve.Code, ve.Message} {
			if !utf8.ValidString(text) {
				t.Fatalf("error text is not UTF-8: %q", text)
			}
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Fatalf("error text holds %q: %s", s, text)
				}
			}
		}
	})
}
