package bill24

import (
	"strconv"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/gateway"
)

// ProxyData is the data object of a proxy answer, field for field as
// protocols.md A.3 lists it. Amounts are exact decimals written as JSON
// numbers; dates are Bill24's "YYYY-MM-DD HH:mm:ss" in Phnom Penh time.
type ProxyData struct {
	ConsumerCode      string           `json:"consumer_code"`
	ConsumerName      string           `json:"consumer_name"`
	ConsumerNameLatin string           `json:"consumer_name_latin"`
	Phone             string           `json:"phone"`
	Currency          string           `json:"currency"`
	DueAmount         mappings.Decimal `json:"due_amount"`
	MinAmount         mappings.Decimal `json:"min_amount"`
	MaxAmount         mappings.Decimal `json:"max_amount"`
	Balance           mappings.Decimal `json:"balance"`
	Description       string           `json:"description"`
	LastBillDate      string           `json:"last_bill_date"`
	LastDueDate       string           `json:"last_due_date"`
	LastPayDate       string           `json:"last_pay_date"`
}

// Unlimited is Bill24's "no limit" for min_amount and max_amount.
var Unlimited = mappings.DecimalFromInt(-1)

// NewProxyData returns data with the documented defaults: the consumer code
// asked for, no payment limits (-1), a zero balance, empty texts.
func NewProxyData(consumerCode string) ProxyData {
	return ProxyData{ConsumerCode: consumerCode, MinAmount: Unlimited, MaxAmount: Unlimited}
}

// ProxyReply is the envelope Bill24 expects from the proxy.
type ProxyReply struct {
	Code      Code       `json:"code"`
	Message   string     `json:"message"`
	MessageKH string     `json:"message_kh"`
	Data      *ProxyData `json:"data"`
}

// WebhookAck is the envelope Bill24 expects from the webhook.
type WebhookAck struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// AckSuccess is the documented success acknowledgement.
var AckSuccess = WebhookAck{Status: "Success", Message: "SUCCESS"}

// AckDuplicate is what Bill24's docs list for a webhook pushed twice with the
// same data (response-code-856578m0).
var AckDuplicate = WebhookAck{Status: "Error", Message: "Error"}

// Marshal encodes v as Bill24 reads it: UTF-8 passed through as is (no \u
// escapes for Khmer, no HTML escaping), no trailing newline. It is
// gateway.Marshal.
func Marshal(v any) ([]byte, error) { return gateway.Marshal(v) }

// AppendJSON appends r as JSON, byte for byte what Marshal(r) writes, without
// reflection: this is the answer to every proxy lookup.
func (r ProxyReply) AppendJSON(b []byte) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(r.Code), 10)
	b = append(b, `,"message":`...)
	b = appendString(b, r.Message)
	b = append(b, `,"message_kh":`...)
	b = appendString(b, r.MessageKH)
	b = append(b, `,"data":`...)
	if r.Data == nil {
		return append(b, "null}"...)
	}
	d := r.Data
	for i, f := range [...]struct {
		name string
		s    *string
		n    *mappings.Decimal
	}{
		{"consumer_code", &d.ConsumerCode, nil}, {"consumer_name", &d.ConsumerName, nil},
		{"consumer_name_latin", &d.ConsumerNameLatin, nil}, {"phone", &d.Phone, nil},
		{"currency", &d.Currency, nil}, {"due_amount", nil, &d.DueAmount}, {"min_amount", nil, &d.MinAmount},
		{"max_amount", nil, &d.MaxAmount}, {"balance", nil, &d.Balance}, {"description", &d.Description, nil},
		{"last_bill_date", &d.LastBillDate, nil}, {"last_due_date", &d.LastDueDate, nil}, {"last_pay_date", &d.LastPayDate, nil},
	} {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, `":`...)
		if f.s != nil {
			b = appendString(b, *f.s)
		} else {
			b = f.n.AppendText(b)
		}
	}
	return append(b, "}}"...)
}

// appendString writes s as a JSON string the way encoding/json does with
// HTML escaping off: UTF-8 passes through, invalid bytes become U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
