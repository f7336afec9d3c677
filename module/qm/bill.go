package qm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/gateway"
)

// MaxIDLen bounds a bill id, in bytes (mappings.CheckID).
const MaxIDLen = mappings.MaxIDLen

// Bill statuses (protocols.md C.3).
const (
	StatusPending    = 0 // Pending Payment
	StatusSuccessful = 1 // final
	StatusFailed     = 2 // final
	StatusCancelled  = 3 // final
	StatusProcessing = 4
)

// FinalStatus reports whether a bill status is final: Successful, Failed or
// Cancelled.
func FinalStatus(s int) bool {
	return s == StatusSuccessful || s == StatusFailed || s == StatusCancelled
}

// Bill is QM's bill as Requery returns it, and as a callback claims it.
// Mappings see it as req; the expr names are QM's own wire names.
//
// Act on a bill only when Requery says IsFinal and Status is
// StatusSuccessful and the amount matches: QM's docs say never to trust
// the callback or the redirect.
type Bill struct {
	BillID            string           `json:"billId" expr:"billId"`
	MerchantReference string           `json:"merchantReference" expr:"merchantReference"`
	RequestReference  string           `json:"requestReference" expr:"requestReference"`
	PaymentReference  string           `json:"paymentReference" expr:"paymentReference"`
	BillAmount        mappings.Decimal `json:"billAmount" expr:"billAmount"` // QM writes "100.00" or 100.00
	Currency          string           `json:"currency" expr:"currency"`
	Status            int              `json:"status" expr:"status"`
	StatusName        string           `json:"statusName" expr:"statusName"`
	// IsFinal is QM's isFinal as sent; absent or null is false.
	IsFinal  bool  `json:"isFinal" expr:"isFinal"`
	DateTime int64 `json:"dateTime" expr:"dateTime"` // unix ms

	// Raw is the whole decoded object, unknown fields included; numbers
	// are json.Number.
	Raw map[string]any `json:"-" expr:"raw"`
}

// Fingerprint identifies what a bill is, so that a second callback under
// the same billId with other money in it is caught (409) instead of being
// answered as the first. It covers what decides where the money goes and
// how much: the bill id, the merchant's reference (the legacy invoice the
// bill pays), the amount in canonical form (100 and "100.00" are one
// amount), the currency, and the status (a bill's final status does not
// change). QM's own references, names and times are left out: Requery
// may fill them in later than the callback.
func (b Bill) Fingerprint() string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range []string{"qm/bill/1", b.BillID, b.MerchantReference, b.BillAmount.Canonical(), b.Currency, strconv.Itoa(b.Status)} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))]) // length-prefixed: fields cannot run together
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CreateBillRequest is the body of Create Bill. The amount goes out
// exactly as given: 100.00 is sent as 100.00.
type CreateBillRequest struct {
	Amount            mappings.Decimal `json:"amount"`
	MerchantReference string           `json:"merchantReference,omitempty"`
	CallbackURL       string           `json:"callbackUrl,omitempty"`
	RedirectURL       string           `json:"redirectUrl,omitempty"`
}

// CreatedBill is Create Bill's answer.
type CreatedBill struct {
	BillAmount mappings.Decimal `json:"billAmount" expr:"billAmount"`
	// RequireGCAmount is the Gold Convert needed to pay; zero if absent.
	RequireGCAmount   mappings.Decimal `json:"requireGCAmount" expr:"requireGCAmount"`
	Currency          string           `json:"currency" expr:"currency"`
	MerchantReference string           `json:"merchantReference" expr:"merchantReference"`
	BillID            string           `json:"billId" expr:"billId"`
	// BillURL is where to send the customer (or a QR for the QMGold app).
	BillURL   string `json:"billUrl" expr:"billUrl"`
	ExpiredOn int64  `json:"expiredOn" expr:"expiredOn"` // unix ms

	// Raw is the whole data object, unknown fields included.
	Raw map[string]any `json:"-" expr:"raw"`
}

// DecodeCallback parses and validates the body of a QM bill callback. The
// caller bounds its size. billId (see CheckBillID), billAmount (a positive
// exact decimal, as a string or a number, within its currency's bounds in
// exps: mappings.CheckAmount), currency (three uppercase letters) and
// status (an integer 0–4) are required; the other fields may be absent or
// null. An object holding a key twice, at any depth, is refused. Unknown
// fields are kept in Raw.
//
// A callback is a claim, not a fact: confirm it with Requery.
func DecodeCallback(body []byte, exps mappings.Exponents) (Bill, error) {
	raw, err := gateway.DecodeObject(body, "callback body")
	if err != nil {
		return Bill{}, err
	}
	return decodeBillIn(raw, exps)
}

// CheckBillID checks a bill id from QM (a callback, a Requery answer, the
// redirect's billId query parameter): it becomes the store key and the
// legacy call's Idempotency-Key exactly as it is, so it must be 1 to
// MaxIDLen bytes of printable ASCII without a space at either end
// (mappings.CheckID). The error says which rule it breaks.
func CheckBillID(id string) error { return mappings.CheckID("billId", id) }

// defaultExponents bounds the amount of a Requery answer, which the
// client decodes without the app's table: a requeried bill is compared
// with the callback, which DecodeCallback checked against the app's.
// Create Bill's answer is not bounded here: the bill exists at QM by then,
// and the flow compares its amount with the one asked for.
var defaultExponents = mappings.DefaultExponents()

// decodeBill reads a bill from a Requery answer's data.
func decodeBill(m map[string]any) (Bill, error) { return decodeBillIn(m, defaultExponents) }

// decodeBillIn reads a bill from a decoded object: the callback body, or
// the data of a Requery answer.
func decodeBillIn(m map[string]any, exps mappings.Exponents) (Bill, error) {
	var b Bill
	var err error
	if b.BillID, err = billID(m); err != nil {
		return Bill{}, err
	}
	if b.BillAmount, err = decimalField(m, "billAmount", true); err != nil {
		return Bill{}, err
	}
	if b.BillAmount.Sign() <= 0 {
		return Bill{}, fmt.Errorf("billAmount must be positive, got %s", b.BillAmount)
	}
	if b.Currency, err = stringField(m, "currency"); err != nil {
		return Bill{}, err
	}
	if !mappings.ValidCurrencyCode(b.Currency) {
		return Bill{}, fmt.Errorf("currency %q is not three uppercase letters", text.Truncate(b.Currency, maxQuote))
	}
	if err := exps.CheckAmount("billAmount", b.BillAmount, b.Currency); err != nil {
		return Bill{}, err
	}
	v, ok := m["status"]
	if !ok || v == nil {
		return Bill{}, errors.New("status is required")
	}
	status, err := intValue(v)
	if err != nil || status < StatusPending || status > StatusProcessing {
		return Bill{}, fmt.Errorf("status must be an integer from 0 to 4, got %s", describe(v))
	}
	b.Status = int(status)
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"merchantReference", &b.MerchantReference},
		{"requestReference", &b.RequestReference},
		{"paymentReference", &b.PaymentReference},
		{"statusName", &b.StatusName},
	} {
		if *f.dst, err = stringField(m, f.name); err != nil {
			return Bill{}, err
		}
	}
	switch v := m["isFinal"].(type) {
	case nil:
	case bool:
		b.IsFinal = v
	default:
		return Bill{}, fmt.Errorf("isFinal must be true or false, got %s", describe(v))
	}
	if b.DateTime, err = intField(m, "dateTime"); err != nil {
		return Bill{}, err
	}
	b.Raw = m
	return b, nil
}

// decodeCreated reads Create Bill's data. billId and billAmount are
// required; the rest may be absent.
func decodeCreated(m map[string]any) (CreatedBill, error) {
	var c CreatedBill
	var err error
	if c.BillID, err = billID(m); err != nil {
		return CreatedBill{}, err
	}
	if c.BillAmount, err = decimalField(m, "billAmount", true); err != nil {
		return CreatedBill{}, err
	}
	if c.RequireGCAmount, err = decimalField(m, "requireGCAmount", false); err != nil {
		return CreatedBill{}, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"currency", &c.Currency},
		{"merchantReference", &c.MerchantReference},
		{"billUrl", &c.BillURL},
	} {
		if *f.dst, err = stringField(m, f.name); err != nil {
			return CreatedBill{}, err
		}
	}
	if c.ExpiredOn, err = intField(m, "expiredOn"); err != nil {
		return CreatedBill{}, err
	}
	c.Raw = m
	return c, nil
}

// validBillID reports whether CheckBillID accepts id.
func validBillID(id string) bool { return CheckBillID(id) == nil }

func billID(m map[string]any) (string, error) {
	v, ok := m["billId"]
	if !ok || v == nil {
		return "", errors.New("billId is required")
	}
	id, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("billId must be a string, got %s", describe(v))
	}
	if err := CheckBillID(id); err != nil {
		return "", err
	}
	return id, nil
}

// decimalField reads an exact decimal written as a JSON number or a string.
func decimalField(m map[string]any, name string, required bool) (mappings.Decimal, error) {
	v, ok := m[name]
	if !ok || v == nil {
		if required {
			return mappings.Decimal{}, fmt.Errorf("%s is required", name)
		}
		return mappings.Decimal{}, nil
	}
	var s string
	switch v := v.(type) {
	case int:
		return mappings.DecimalFromInt(int64(v)), nil
	case mappings.Decimal:
		return v, nil
	case json.Number:
		s = string(v)
	case string:
		s = v
	default:
		return mappings.Decimal{}, fmt.Errorf("%s must be a number, got %s", name, describe(v))
	}
	d, err := mappings.ParseDecimal(s)
	if err != nil {
		return mappings.Decimal{}, fmt.Errorf("%s is not a decimal number: %q", name, text.Truncate(s, maxQuote))
	}
	return d, nil
}

// stringField reads an optional text field; a number is taken as its text
// (QM's tables are loose about types), null and absent are "".
func stringField(m map[string]any, name string) (string, error) {
	switch v := m[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int, mappings.Decimal, json.Number:
		return gateway.Number(v)
	default:
		return "", fmt.Errorf("%s must be a string, got %s", name, describe(v))
	}
}

// intField reads an optional integer (a number or a string holding one);
// null and absent are 0.
func intField(m map[string]any, name string) (int64, error) {
	v := m[name]
	if v == nil {
		return 0, nil
	}
	n, err := intValue(v)
	if err != nil {
		return 0, fmt.Errorf("%s must be an integer, got %s", name, describe(v))
	}
	return n, nil
}

// intValue reads an integer from a JSON number or a string, exactly:
// 1, 1.0 and 1e3 are integers, 1.5 and 1e30 are not (the latter does not
// fit an int64).
func intValue(v any) (int64, error) {
	var d mappings.Decimal
	switch v := v.(type) {
	case int:
		return int64(v), nil
	case mappings.Decimal:
		d = v
	case json.Number, string:
		s, _ := v.(string)
		if n, ok := v.(json.Number); ok {
			s = string(n)
		}
		var err error
		if d, err = mappings.ParseDecimal(s); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("not a number")
	}
	n, ok := d.Int64()
	if !ok {
		return 0, errors.New("not an int64")
	}
	return n, nil
}

// describe names a JSON value for an error message, shortened.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(v)
	case int, mappings.Decimal, json.Number:
		n, _ := gateway.Number(v)
		return text.Truncate(n, maxQuote)
	case string:
		return fmt.Sprintf("%q", text.Truncate(v, maxQuote))
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
