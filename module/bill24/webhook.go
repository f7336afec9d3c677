package bill24

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
)

// MaxIDLen bounds transaction ids, in bytes (mappings.CheckID).
const MaxIDLen = mappings.MaxIDLen

// SuccessStatus is the webhook status Bill24 documents for a completed
// payment (protocols.md A.5: the example is "success"; no other value is
// documented).
const SuccessStatus = "success"

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

// DecodeWebhook parses and validates a payment notification. exps gives
// each currency's places and integer-digit bound (mappings.CheckAmount); a
// currency missing from it may have mappings.DefaultExponent places.
//
// It refuses (each with an error saying why; the caller answers 400):
//   - JSON that is not one object, or holds a key twice at any depth;
//   - no id (tran_id, or tnx_id in the older shape; tran_id wins where
//     both are given), or one mappings.CheckID refuses (over MaxIDLen
//     bytes, or not printable ASCII: it becomes an HTTP header);
//   - a status other than SuccessStatus in ASCII letters of any case
//     ("success", "Success"), "" and null included. Only the older tnx
//     shape may leave status out: Bill24 documents it without one, and
//     the current and Checkout shapes with one;
//   - an amount that is not an exact decimal, is negative (tran_amount and
//     total_amount must be positive), or breaks its currency's bounds in
//     exps: tran_amount, fee_amount, customer_fee, supplier_fee,
//     total_amount and every customers[].amount. An amount may be a JSON
//     number or a numeric string, in exponent form too ("1e2" is exactly
//     100): the bounds apply to its value, so 1e1000 has too many digits;
//   - tran_amount + fee_amount that is not exactly total_amount, where all
//     three are given.
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
		return w, fmt.Errorf("currency %q is not an ISO 4217 code", text.Truncate(currency, 32))
	}
	for _, name := range amountFields {
		if v, ok := raw[name]; ok && v != nil {
			if err := checkAmount(name, v, exps, currency, name == "tran_amount" || name == "total_amount"); err != nil {
				return w, err
			}
		}
	}
	if err := fill(&w, raw); err != nil {
		return w, err
	}
	w.Raw = raw

	// tran_id names the current shapes, tnx_id the older one; where both
	// are given, tran_id is the id.
	idName := "tran_id"
	w.ID, w.Shape = w.TranID, ShapeTran
	if w.ID == "" {
		w.ID, w.Shape, idName = w.TnxID, ShapeTnx, "tnx_id"
	} else if _, ok := raw["channel_code"]; ok {
		w.Shape = ShapeCheckout
	} else if _, ok := raw["fee_amount"]; ok {
		w.Shape = ShapeCheckout
	}
	if w.ID == "" {
		return w, errors.New("tran_id (or tnx_id) is required")
	}
	if err := mappings.CheckID(idName, w.ID); err != nil {
		return w, err
	}
	if err := checkStatus(raw, w.Shape); err != nil {
		return w, err
	}

	for i, c := range w.Customers {
		if err := exps.CheckAmount("amount", c.Amount, currency); err != nil {
			return w, fmt.Errorf("customers[%d].%w", i, err) // customers[0].amount 0.5 has more…
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
	if present(raw, "tran_amount") && present(raw, "fee_amount") && present(raw, "total_amount") {
		if sum := w.TranAmount.Add(w.FeeAmount); sum.Cmp(w.TotalAmount) != 0 {
			return w, fmt.Errorf("tran_amount %s + fee_amount %s is %s, not total_amount %s", w.TranAmount, w.FeeAmount, sum, w.TotalAmount)
		}
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

// checkStatus applies DecodeWebhook's status rule. Case is ignored
// (ASCII only: Bill24 writes "Success" in its acks and "SUCCESS" in its
// codes, so a capitalised success is still the documented value), but
// nothing else is: no spaces, no other word, no empty string, no null.
// A status is required except in the older tnx shape, which Bill24
// documents without one.
func checkStatus(raw map[string]any, shape string) error {
	v, ok := raw["status"]
	if !ok {
		if shape == ShapeTnx {
			return nil
		}
		return fmt.Errorf("status is required (%q for a completed payment)", SuccessStatus)
	}
	s, isString := v.(string)
	if !isString || !asciiEqualFold(s, SuccessStatus) {
		shown := "null"
		if isString {
			shown = strconv.Quote(text.Truncate(s, 32))
		}
		return fmt.Errorf("status %s is not a completed payment; nothing was posted", shown)
	}
	return nil
}

// asciiEqualFold is strings.EqualFold for ASCII letters only: "ſuccess"
// (with U+017F, which Unicode folds to s) is not "success".
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Fingerprint identifies what a payment is, so that a second delivery
// under the same id with other money in it, or money for someone else, is
// caught (409) instead of being answered as the first. It covers every
// field that decides where the money goes and how much: the ids, the
// currency, every amount (tran, fee, customer and supplier fees, total,
// each customer's), the bank reference, the identity, customer and sync
// codes, the bill numbers (purpose_of_transaction, customers' bill_no,
// bills[]), the checkout reference and the customers' branches. Amounts
// are in canonical form (45 and 45.00 are one amount). Fields Bill24 may
// vary between retries of one payment (dates, names, descriptions,
// device and channel) are left out; status is too, as every accepted
// webhook has the one success value.
func (w Webhook) Fingerprint() string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(s string) { // length-prefixed: no two field lists collide
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	for _, s := range []string{
		"bill24/webhook/2", w.TranID, w.TnxID, w.Currency,
		w.TranAmount.Canonical(), w.FeeAmount.Canonical(), w.CustomerFee.Canonical(),
		w.SupplierFee.Canonical(), w.TotalAmount.Canonical(),
		w.BankRef, w.IdentityCode, w.CustomerCode, w.CustomerSyncCode,
		w.PurposeOfTransaction, w.CheckoutRef,
	} {
		put(s)
	}
	put(strconv.Itoa(len(w.Customers)))
	for _, c := range w.Customers {
		put(c.CustomerCode)
		put(c.BillNo)
		put(c.BranchCode)
		put(c.Amount.Canonical())
	}
	put(strconv.Itoa(len(w.Bills)))
	for _, b := range w.Bills {
		put(b.ID)
		put(b.SyncCode)
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

// checkAmount checks that an amount field is an exact decimal within its
// currency's bounds, and positive where it is the payment itself.
func checkAmount(name string, v any, exps mappings.Exponents, currency string, positive bool) error {
	d, err := amountValue(v)
	if err != nil {
		s, _ := v.(string)
		return fmt.Errorf("%s is not a decimal number: %q", name, text.Truncate(s, 32))
	}
	if err := exps.CheckAmount(name, d, currency); err != nil {
		return err
	}
	if positive && d.Sign() <= 0 {
		return fmt.Errorf("%s must be positive, got %s", name, d)
	}
	if d.Sign() < 0 {
		return fmt.Errorf("%s must not be negative, got %s", name, d)
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
		if ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'; !ok {
			return false
		}
	}
	return true
}
