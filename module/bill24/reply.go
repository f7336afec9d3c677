package bill24

import (
	"bytes"
	"encoding/json"

	"github.com/billbridge/caddy-billbridge/mappings"
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
// escapes for Khmer, no HTML escaping), no trailing newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
