package bill24

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
)

// MaxIDLen bounds transaction ids; Bill24's are UUIDs or shorter.
const MaxIDLen = 128

// The webhook shapes Bill24 has documented (protocols.md A.5).
const (
	ShapeTran     = "tran"     // current: tran_id, customers[]
	ShapeTnx      = "tnx"      // older: tnx_id, customer_fee, supplier_fee, bills[]
	ShapeCheckout = "checkout" // Checkout light mode: tran_id, fee_amount, total_amount, channel_code
)

// Customer is one entry of a webhook's customers[].
type Customer struct {
	BranchCode        string           `json:"branch_code" expr:"branch_code"`
	BranchName        string           `json:"branch_name" expr:"branch_name"`
	CustomerCode      string           `json:"customer_code" expr:"customer_code"`
	CustomerName      string           `json:"customer_name" expr:"customer_name"`
	CustomerNameLatin string           `json:"customer_name_latin" expr:"customer_name_latin"`
	BillNo            string           `json:"bill_no" expr:"bill_no"`
	Amount            mappings.Decimal `json:"amount" expr:"amount"`
}

// Bill is one entry of the older shape's bills[].
type Bill struct {
	ID       string `json:"id" expr:"id"`
	SyncCode string `json:"sync_code" expr:"sync_code"`
}

// Webhook is a payment notification in any of Bill24's shapes, decoded into
// one type. Mappings see it as req. Fields a shape lacks are zero; the
// normalized fields (id, amount, date, customer_code) are filled from
// whichever field the shape carries.
type Webhook struct {
	// ID is the gateway's transaction id: tran_id, or tnx_id in the older shape.
	ID string `json:"-" expr:"id"`
	// Shape is "tran", "tnx" or "checkout".
	Shape string `json:"-" expr:"shape"`
	// Amount is what was paid for the bill: tran_amount, or total_amount
	// where tran_amount is missing (the KHQR wording).
	Amount mappings.Decimal `json:"-" expr:"amount"`
	// Date is when it was paid, as Bill24 wrote it: tran_date or paid_date
	// (no zone; Phnom Penh time).
	Date string `json:"-" expr:"date"`

	TranID               string           `json:"tran_id" expr:"tran_id"`
	TnxID                string           `json:"tnx_id" expr:"tnx_id"`
	TranNo               string           `json:"tran_no" expr:"tran_no"`
	PaymentServiceType   string           `json:"payment_service_type" expr:"payment_service_type"`
	TranDate             string           `json:"tran_date" expr:"tran_date"`
	TranAmount           mappings.Decimal `json:"tran_amount" expr:"tran_amount"`
	FeeAmount            mappings.Decimal `json:"fee_amount" expr:"fee_amount"`
	CustomerFee          mappings.Decimal `json:"customer_fee" expr:"customer_fee"`
	SupplierFee          mappings.Decimal `json:"supplier_fee" expr:"supplier_fee"`
	TotalAmount          mappings.Decimal `json:"total_amount" expr:"total_amount"`
	Currency             string           `json:"currency" expr:"currency"`
	BankCode             string           `json:"bank_code" expr:"bank_code"`
	BankName             string           `json:"bank_name" expr:"bank_name"`
	BankRef              string           `json:"bank_ref" expr:"bank_ref"`
	IdentityCode         string           `json:"identity_code" expr:"identity_code"`
	PurposeOfTransaction string           `json:"purpose_of_transaction" expr:"purpose_of_transaction"`
	DeviceCode           string           `json:"device_code" expr:"device_code"`
	ChannelCode          string           `json:"channel_code" expr:"channel_code"`
	Status               string           `json:"status" expr:"status"`
	Description          string           `json:"description" expr:"description"`
	CustomerSyncCode     string           `json:"customer_sync_code" expr:"customer_sync_code"`
	// CustomerCode is the older shape's customer_code; for the other shapes,
	// the first customer's code, or identity_code when there is none.
	CustomerCode  string     `json:"customer_code" expr:"customer_code"`
	CustomerName  string     `json:"customer_name" expr:"customer_name"`
	CustomerPhone string     `json:"customer_phone" expr:"customer_phone"`
	PaidBy        string     `json:"paid_by" expr:"paid_by"`
	PaidDate      string     `json:"paid_date" expr:"paid_date"`
	CheckoutRef   string     `json:"checkout_ref" expr:"checkout_ref"`
	Customers     []Customer `json:"customers" expr:"customers"`
	Bills         []Bill     `json:"bills" expr:"bills"`

	// Raw is the whole document, unknown fields included.
	Raw map[string]any `json:"-" expr:"raw"`
}

// amountFields are checked for exactness, sign and places.
var amountFields = []string{"tran_amount", "fee_amount", "customer_fee", "supplier_fee", "total_amount"}

// DecodeWebhook parses and validates a payment notification. exps gives each
// currency's number of decimal places; a currency missing from it may have 2.
func DecodeWebhook(body []byte, exps mappings.Exponents) (Webhook, error) {
	var w Webhook
	raw, err := decodeBody(body)
	if err != nil {
		return w, err
	}
	// Check the types of the fields we rely on before decoding into the
	// struct, so that errors name the field instead of a Go type.
	for name, v := range raw {
		if err := checkName(name); err != nil {
			return w, err
		}
		if err := checkType(name, v); err != nil {
			return w, err
		}
	}
	currency, _ := raw["currency"].(string)
	if !mappings.ValidCurrencyCode(currency) {
		return w, fmt.Errorf("currency %q is not an ISO 4217 code", currency)
	}
	exp, ok := exps.Exponent(currency)
	if !ok {
		exp = 2
	}
	for _, name := range amountFields {
		if v, ok := raw[name]; ok && v != nil {
			if err := checkAmount(name, v, exp, currency, name == "tran_amount" || name == "total_amount"); err != nil {
				return w, err
			}
		}
	}
	if err := fill(&w, raw); err != nil {
		return w, err
	}
	w.Raw = raw

	w.ID, w.Shape = w.TranID, ShapeTran
	if w.ID == "" {
		w.ID, w.Shape = w.TnxID, ShapeTnx
	} else if _, ok := raw["channel_code"]; ok {
		w.Shape = ShapeCheckout
	} else if _, ok := raw["fee_amount"]; ok {
		w.Shape = ShapeCheckout
	}
	if w.ID == "" {
		return w, errors.New("tran_id (or tnx_id) is required")
	}
	if len(w.ID) > MaxIDLen || !text.Printable(w.ID) {
		return w, fmt.Errorf("transaction id must be at most %d printable characters", MaxIDLen)
	}

	for i, c := range w.Customers {
		if err := checkPlaces(fmt.Sprintf("customers[%d].amount", i), c.Amount, exp, currency); err != nil {
			return w, err
		}
		if c.Amount.Sign() < 0 {
			return w, fmt.Errorf("customers[%d].amount must not be negative", i)
		}
	}

	switch {
	case present(raw, "tran_amount"):
		w.Amount = w.TranAmount
	case present(raw, "total_amount"):
		w.Amount = w.TotalAmount
	default:
		return w, errors.New("tran_amount (or total_amount) is required")
	}

	w.Date = w.TranDate
	if w.Date == "" {
		w.Date = w.PaidDate
	}
	if w.CustomerCode == "" {
		if len(w.Customers) > 0 && w.Customers[0].CustomerCode != "" {
			w.CustomerCode = w.Customers[0].CustomerCode
		} else {
			w.CustomerCode = w.IdentityCode
		}
	}
	return w, nil
}

// Fingerprint identifies what a payment is, so that a second delivery under
// the same id with other money in it is caught. It covers the fields that
// decide where money goes, in canonical form (45 and 45.00 are one amount),
// and ignores the rest, which Bill24 may legitimately vary between retries.
func (w Webhook) Fingerprint() string {
	h := sha256.New()
	for _, s := range []string{
		w.ID, w.Amount.Canonical(), w.Currency, w.BankRef, w.IdentityCode,
		w.CustomerCode, strings.ToLower(w.Status),
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func present(raw map[string]any, name string) bool {
	v, ok := raw[name]
	return ok && v != nil
}

// webhookFields are the JSON names of Webhook's decoded fields.
var webhookFields = func() []string {
	var names []string
	t := reflect.TypeFor[Webhook]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}()

// checkName refuses a member whose name differs from a known field's only
// in case. encoding/json matches names case-insensitively, so a
// "TRAN_AMOUNT" after "tran_amount" would replace, in the struct, the
// amount the checks here read from the raw document.
func checkName(name string) error {
	if plainName(name) {
		return nil // lower-case ASCII: exactly a known field or not one at all
	}
	for _, f := range webhookFields {
		if name != f && strings.EqualFold(name, f) {
			return fmt.Errorf("unknown field %q: did you mean %q? (names are case-sensitive)", text.Truncate(name, 32), f)
		}
	}
	return nil
}

// checkType rejects a known field holding the wrong JSON type.
func checkType(name string, v any) error {
	if v == nil {
		return nil
	}
	switch name {
	case "tran_amount", "fee_amount", "customer_fee", "supplier_fee", "total_amount":
		switch v.(type) {
		case int, mappings.Decimal, json.Number, string:
			return nil
		}
		return fmt.Errorf("%s must be a number", name)
	case "customers", "bills":
		if _, ok := v.([]any); !ok {
			return fmt.Errorf("%s must be an array", name)
		}
		return nil
	case "tran_id", "tnx_id", "currency", "status", "tran_no", "payment_service_type",
		"tran_date", "bank_code", "bank_name", "bank_ref", "identity_code",
		"purpose_of_transaction", "device_code", "channel_code", "description",
		"customer_sync_code", "customer_code", "customer_name", "customer_phone",
		"paid_by", "paid_date", "checkout_ref":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s must be a string", name)
		}
	}
	return nil
}

// checkAmount checks that an amount field is an exact decimal with no more
// places than its currency has, and positive where it is the payment itself.
func checkAmount(name string, v any, exp int32, currency string, positive bool) error {
	d, err := amountValue(v)
	if err != nil {
		s, _ := v.(string)
		return fmt.Errorf("%s is not a decimal number: %q", name, text.Truncate(s, 32))
	}
	if positive && d.Sign() <= 0 {
		return fmt.Errorf("%s must be positive, got %s", name, d)
	}
	if d.Sign() < 0 {
		return fmt.Errorf("%s must not be negative, got %s", name, d)
	}
	return checkPlaces(name, d, exp, currency)
}

func checkPlaces(name string, d mappings.Decimal, exp int32, currency string) error {
	if !d.FitsExponent(exp) {
		return fmt.Errorf("%s %s has more decimal places than %s allows (%d)", name, d, currency, exp)
	}
	return nil
}

// Where each decoded field goes. The document was decoded once, into raw;
// the struct is filled from it by exact name, so what the checks read is
// what mappings see.
var (
	webhookText = map[string]func(*Webhook) *string{
		"tran_id": func(w *Webhook) *string { return &w.TranID }, "tnx_id": func(w *Webhook) *string { return &w.TnxID },
		"tran_no": func(w *Webhook) *string { return &w.TranNo }, "payment_service_type": func(w *Webhook) *string { return &w.PaymentServiceType },
		"tran_date": func(w *Webhook) *string { return &w.TranDate }, "currency": func(w *Webhook) *string { return &w.Currency },
		"bank_code": func(w *Webhook) *string { return &w.BankCode }, "bank_name": func(w *Webhook) *string { return &w.BankName },
		"bank_ref": func(w *Webhook) *string { return &w.BankRef }, "identity_code": func(w *Webhook) *string { return &w.IdentityCode },
		"purpose_of_transaction": func(w *Webhook) *string { return &w.PurposeOfTransaction },
		"device_code":            func(w *Webhook) *string { return &w.DeviceCode }, "channel_code": func(w *Webhook) *string { return &w.ChannelCode },
		"status": func(w *Webhook) *string { return &w.Status }, "description": func(w *Webhook) *string { return &w.Description },
		"customer_sync_code": func(w *Webhook) *string { return &w.CustomerSyncCode },
		"customer_code":      func(w *Webhook) *string { return &w.CustomerCode }, "customer_name": func(w *Webhook) *string { return &w.CustomerName },
		"customer_phone": func(w *Webhook) *string { return &w.CustomerPhone }, "paid_by": func(w *Webhook) *string { return &w.PaidBy },
		"paid_date": func(w *Webhook) *string { return &w.PaidDate }, "checkout_ref": func(w *Webhook) *string { return &w.CheckoutRef },
	}
	webhookAmounts = map[string]func(*Webhook) *mappings.Decimal{
		"tran_amount": func(w *Webhook) *mappings.Decimal { return &w.TranAmount }, "fee_amount": func(w *Webhook) *mappings.Decimal { return &w.FeeAmount },
		"customer_fee": func(w *Webhook) *mappings.Decimal { return &w.CustomerFee }, "supplier_fee": func(w *Webhook) *mappings.Decimal { return &w.SupplierFee },
		"total_amount": func(w *Webhook) *mappings.Decimal { return &w.TotalAmount },
	}
	customerText = map[string]func(*Customer) *string{
		"branch_code": func(c *Customer) *string { return &c.BranchCode }, "branch_name": func(c *Customer) *string { return &c.BranchName },
		"customer_code": func(c *Customer) *string { return &c.CustomerCode }, "customer_name": func(c *Customer) *string { return &c.CustomerName },
		"customer_name_latin": func(c *Customer) *string { return &c.CustomerNameLatin }, "bill_no": func(c *Customer) *string { return &c.BillNo },
	}
)

// fill sets w's fields from the checked document. null means "not given".
func fill(w *Webhook, raw map[string]any) error {
	for name, v := range raw {
		if v == nil {
			continue
		}
		if f, ok := webhookText[name]; ok {
			*f(w) = v.(string) // checkType made sure
			continue
		}
		if f, ok := webhookAmounts[name]; ok {
			d, err := amountValue(v)
			if err != nil {
				return fmt.Errorf("%s is not a decimal number", name)
			}
			*f(w) = d
			continue
		}
		switch name {
		case "customers":
			arr := v.([]any)
			w.Customers = make([]Customer, 0, len(arr))
			for i, e := range arr {
				m, ok := e.(map[string]any)
				if !ok {
					return fmt.Errorf("malformed webhook: customers[%d] must be an object", i)
				}
				var c Customer
				for k, cv := range m {
					if cv == nil {
						continue
					}
					if f, ok := customerText[k]; ok {
						s, ok := cv.(string)
						if !ok {
							return fmt.Errorf("malformed webhook: customers[%d].%s must be a string", i, k)
						}
						*f(&c) = s
					} else if k == "amount" {
						d, err := amountValue(cv)
						if err != nil {
							return fmt.Errorf("malformed webhook: customers[%d].amount is not a decimal number", i)
						}
						c.Amount = d
					}
				}
				w.Customers = append(w.Customers, c)
			}
		case "bills":
			arr := v.([]any)
			w.Bills = make([]Bill, 0, len(arr))
			for i, e := range arr {
				m, ok := e.(map[string]any)
				if !ok {
					return fmt.Errorf("malformed webhook: bills[%d] must be an object", i)
				}
				var b Bill
				for k, dst := range map[string]*string{"id": &b.ID, "sync_code": &b.SyncCode} {
					if bv, ok := m[k]; ok && bv != nil {
						if *dst, ok = bv.(string); !ok {
							return fmt.Errorf("malformed webhook: bills[%d].%s must be a string", i, k)
						}
					}
				}
				w.Bills = append(w.Bills, b)
			}
		}
	}
	return nil
}

// amountValue reads an amount given as a JSON number or a numeric string.
func amountValue(v any) (mappings.Decimal, error) {
	switch v := v.(type) {
	case json.Number:
		return mappings.ParseDecimal(string(v))
	case string:
		return mappings.ParseDecimal(v)
	}
	return mappings.AsDecimal(v)
}

// plainName reports whether name is only a–z, 0–9 and _, as every field
// name is; only other names can be case variants of one.
func plainName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
