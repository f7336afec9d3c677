package bill24

import (
	"fmt"
	"github.com/billbridge/caddy-billbridge/internal/text"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// Check applies DecodeWebhook's input rules to Bill24's record of a
// transaction, for when mappings see the Verify answer's values rather
// than the webhook's: a tran_id mappings.CheckID accepts, an ISO 4217
// currency, and amounts (tran_amount, fee_amount, total_amount and each
// customers[].amount) that are not negative and within the currency's
// bounds in exps, with tran_amount + fee_amount == total_amount where all
// three are given. Status is the caller's to judge ("success",
// "pending", …), as DecodeVerifyAnswer leaves it.
func (t Transaction) Check(exps mappings.Exponents) error {
	if err := mappings.CheckID("data.tran_id", t.TranID); err != nil {
		return err
	}
	if !mappings.ValidCurrencyCode(t.Currency) {
		return fmt.Errorf("data.currency %q is not an ISO 4217 code", text.Truncate(t.Currency, 32))
	}
	given := func(name string) bool {
		v, ok := t.Raw[name]
		s, isString := v.(string)
		return ok && v != nil && (!isString || s != "") // decodeTransaction reads "" as not given
	}
	for _, a := range []struct {
		name string
		d    mappings.Decimal
	}{{"tran_amount", t.TranAmount}, {"fee_amount", t.FeeAmount}, {"total_amount", t.TotalAmount}} {
		if err := checkVerified("data."+a.name, a.d, exps, t.Currency); err != nil {
			return err
		}
	}
	if given("tran_amount") && given("fee_amount") && given("total_amount") {
		if sum := t.TranAmount.Add(t.FeeAmount); sum.Cmp(t.TotalAmount) != 0 {
			return fmt.Errorf("data.tran_amount %s + data.fee_amount %s is %s, not data.total_amount %s", t.TranAmount, t.FeeAmount, sum, t.TotalAmount)
		}
	}
	customers, _ := t.Raw["customers"].([]any)
	for i, c := range customers {
		m, _ := c.(map[string]any)
		v, ok := m["amount"]
		if !ok || v == nil {
			continue
		}
		d, err := amountValue(v)
		if err != nil {
			return fmt.Errorf("data.customers[%d].amount is not a decimal number", i)
		}
		if err := checkVerified(fmt.Sprintf("data.customers[%d].amount", i), d, exps, t.Currency); err != nil {
			return err
		}
	}
	return nil
}

func checkVerified(name string, d mappings.Decimal, exps mappings.Exponents, currency string) error {
	if err := exps.CheckAmount(name, d, currency); err != nil {
		return err
	}
	if d.Sign() < 0 {
		return fmt.Errorf("%s must not be negative, got %s", name, d)
	}
	return nil
}
