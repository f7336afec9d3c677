package bill24

import (
	"fmt"

	"github.com/billbridge/caddy-billbridge/mappings"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

// reconcile makes the payment the mappings see out of Bill24's record
// (Transaction Verify) and the webhook: every field Bill24's answer gives
// comes from Bill24, and a field both give, non-empty, that differs is a
// mismatch (what is returned as the second value): the webhook was
// tampered with, or Bill24 contradicts itself, and nothing is posted.
// Fields Bill24's answer does not give (names, bank names) stay as the
// webhook has them: they decide nothing about where money goes.
func reconcile(w wire.Webhook, t wire.Transaction) (wire.Webhook, string) {
	if t.TranID != "" && t.TranID != w.ID {
		return w, fmt.Sprintf("tran_id %q vs %q", w.ID, t.TranID)
	}
	for _, f := range []struct {
		name     string
		webhook  *string
		verified string
	}{
		{"currency", &w.Currency, t.Currency},
		{"identity_code", &w.IdentityCode, t.IdentityCode},
		{"purpose_of_transaction", &w.PurposeOfTransaction, t.PurposeOfTransaction},
		{"bank_ref", &w.BankRef, t.BankRef},
	} {
		if f.verified == "" {
			continue
		}
		if *f.webhook != "" && *f.webhook != f.verified {
			return w, fmt.Sprintf("%s %q vs %q", f.name, *f.webhook, f.verified)
		}
		*f.webhook = f.verified
	}
	for _, f := range []struct {
		name     string
		webhook  *mappings.Decimal
		verified mappings.Decimal
	}{
		{"tran_amount", &w.TranAmount, t.TranAmount},
		{"fee_amount", &w.FeeAmount, t.FeeAmount},
		{"total_amount", &w.TotalAmount, t.TotalAmount},
	} {
		if !given(t.Raw, f.name) {
			continue
		}
		if given(w.Raw, f.name) && f.webhook.Cmp(f.verified) != 0 {
			return w, fmt.Sprintf("%s %s vs %s", f.name, f.webhook, f.verified)
		}
		*f.webhook = f.verified
	}
	if what := reconcileCustomers(&w, t.Raw["customers"]); what != "" {
		return w, what
	}
	// The derived fields follow what they derive from.
	if given(w.Raw, "tran_amount") || given(t.Raw, "tran_amount") {
		w.Amount = w.TranAmount
	} else {
		w.Amount = w.TotalAmount
	}
	if code, ok := t.Raw["customer_code"].(string); ok && code != "" {
		if w.Shape == "tnx" && w.CustomerCode != "" && w.CustomerCode != code {
			return w, fmt.Sprintf("customer_code %q vs %q", w.CustomerCode, code)
		}
		if w.Shape == "tnx" {
			w.CustomerCode = code
		}
	}
	if w.Shape != "tnx" {
		// Derived, as DecodeWebhook derives it: the first customer's
		// code, or the identity code.
		w.CustomerCode = w.IdentityCode
		if len(w.Customers) > 0 && w.Customers[0].CustomerCode != "" {
			w.CustomerCode = w.Customers[0].CustomerCode
		}
	}
	return w, ""
}

// reconcileCustomers checks the webhook's customers against Bill24's, by
// position: codes and amounts, where Bill24 gives them, must agree, and
// are taken from Bill24.
func reconcileCustomers(w *wire.Webhook, raw any) string {
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return "" // Bill24's answer has no customers: nothing to check
	}
	if len(w.Customers) > 0 && len(list) != len(w.Customers) {
		return fmt.Sprintf("customers: %d vs %d", len(w.Customers), len(list))
	}
	if len(w.Customers) == 0 {
		w.Customers = make([]wire.Customer, len(list))
	} else {
		w.Customers = append([]wire.Customer(nil), w.Customers...)
	}
	for i, v := range list {
		c, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("customers[%d] in Bill24's answer is not an object", i)
		}
		if code, ok := c["customer_code"].(string); ok && code != "" {
			if got := w.Customers[i].CustomerCode; got != "" && got != code {
				return fmt.Sprintf("customers[%d].customer_code %q vs %q", i, got, code)
			}
			w.Customers[i].CustomerCode = code
		}
		if bill, ok := c["bill_no"].(string); ok && bill != "" {
			if got := w.Customers[i].BillNo; got != "" && got != bill {
				return fmt.Sprintf("customers[%d].bill_no %q vs %q", i, got, bill)
			}
			w.Customers[i].BillNo = bill
		}
		if a, ok := c["amount"]; ok && a != nil {
			d, err := mappings.AsDecimal(a)
			if err != nil {
				return fmt.Sprintf("customers[%d].amount in Bill24's answer: %v", i, err)
			}
			if w.Customers[i].Amount.Cmp(d) != 0 && !w.Customers[i].Amount.IsZero() {
				return fmt.Sprintf("customers[%d].amount %s vs %s", i, w.Customers[i].Amount, d)
			}
			w.Customers[i].Amount = d
		}
	}
	return ""
}

// given reports whether a document has a field, not null.
func given(raw map[string]any, name string) bool {
	v, ok := raw[name]
	return ok && v != nil
}
