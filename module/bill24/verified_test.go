package bill24

import (
	"errors"
	"strings"
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
)

func TestTransactionCheck(t *testing.T) {
	exps := mappings.DefaultExponents()
	answer := func(data string) Transaction {
		t.Helper()
		tx, err := DecodeVerifyAnswer([]byte(`{"code":"SUCCESS","data":` + data + `}`))
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		return tx
	}
	for _, data := range []string{
		`{"tran_id":"5DD2B215208D","tran_amount":10000,"fee_amount":800,"total_amount":10800,"currency":"KHR","status":"pending","customers":[{"amount":10000}]}`,
		`{"tran_id":"T-1","tran_amount":"45.00","currency":"USD","status":"success"}`,
		`{"tran_id":"a:b:c","tran_amount":45,"fee_amount":"","total_amount":46,"currency":"USD"}`, // "" is not given: no sum
		`{"tran_id":"T-1","tran_amount":999999999999999.99,"currency":"USD"}`,
	} {
		if err := answer(data).Check(exps); err != nil {
			t.Errorf("%s: %v", data, err)
		}
	}
	for _, tt := range []struct{ data, want string }{
		{`{"tran_id":"T-1","tran_amount":1e1000,"currency":"USD"}`, "data.tran_amount 1000"},
		{`{"tran_id":"T-1","tran_amount":45,"fee_amount":1e16,"currency":"USD"}`, "data.fee_amount"},
		{`{"tran_id":"T-1","tran_amount":45.001,"currency":"USD"}`, "more decimal places than USD allows (2)"},
		{`{"tran_id":"T-1","tran_amount":100.5,"currency":"KHR"}`, "more decimal places than KHR allows (0)"},
		{`{"tran_id":"T-1","tran_amount":-45,"currency":"USD"}`, "data.tran_amount must not be negative"},
		{`{"tran_id":"T-1","tran_amount":0.1,"fee_amount":0.2,"total_amount":0.4,"currency":"USD"}`, "is 0.3, not data.total_amount 0.4"},
		{`{"tran_id":"T-1","tran_amount":45,"currency":"USD","customers":[{"amount":1e20}]}`, "data.customers[0].amount"},
		{`{"tran_id":"T-1","tran_amount":45,"currency":"USD","customers":[{"amount":"x"}]}`, "data.customers[0].amount is not a decimal number"},
		{`{"tran_id":"T-1","tran_amount":45,"currency":"usd"}`, `data.currency "usd"`},
		{`{"tran_id":"T-ជា","tran_amount":45,"currency":"USD"}`, "data.tran_id holds byte 0xe1"},
	} {
		err := answer(tt.data).Check(exps)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.data, err, tt.want)
		}
	}
	if err := answer(`{"tran_id":"T-1","tran_amount":1e1000,"currency":"USD"}`).Check(exps); !errors.Is(err, mappings.ErrTooManyDigits) {
		t.Errorf("1e1000: %v is not ErrTooManyDigits", err)
	}
}
