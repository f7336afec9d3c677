package bill24

import (
	"errors"
	"strings"
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// TestDecodeVerifyAnswerDuplicateKeys: a Verify answer that holds a key
// twice, at any depth, is malformed: which amount or status Bill24 meant
// cannot be known.
func TestDecodeVerifyAnswerDuplicateKeys(t *testing.T) {
	for _, tt := range []struct{ body, key string }{
		{`{"code":"SUCCESS","code":"FAILED","data":{"tran_id":"T-1"}}`, "code"},
		{`{"code":"SUCCESS","data":{"tran_id":"T-1","tran_amount":45,"tran_amount":4500}}`, "tran_amount"},
		{`{"code":"SUCCESS","data":{"tran_id":"T-1","status":"pending","status":"success"}}`, "status"},
		{`{"code":"SUCCESS","data":{"tran_id":"T-1","customers":[{"customer_code":"A","customer_code":"B"}]}}`, "customer_code"},
	} {
		_, err := DecodeVerifyAnswer([]byte(tt.body))
		if !errors.Is(err, mappings.ErrJSONDuplicateKey) || !strings.Contains(err.Error(), `"`+tt.key+`"`) ||
			!strings.HasPrefix(err.Error(), "malformed answer: ") {
			t.Errorf("DecodeVerifyAnswer(%s) = %v, want a duplicate %q", tt.body, err, tt.key)
		}
	}
	// Numbers are still exact, never float64.
	tx, err := DecodeVerifyAnswer([]byte(`{"code":"SUCCESS","data":{"tran_id":"T-1","tran_amount":10000.00,"customers":[{"amount":1e2}]}}`))
	if err != nil || tx.TranAmount.String() != "10000.00" {
		t.Fatalf("DecodeVerifyAnswer = %+v, %v", tx, err)
	}
	amt, err := mappings.AsDecimal(tx.Raw["customers"].([]any)[0].(map[string]any)["amount"])
	if err != nil || amt.Cmp(mappings.MustDecimal("100")) != 0 {
		t.Errorf("customers[0].amount = %v, %v; want exactly 100", amt, err)
	}
}
