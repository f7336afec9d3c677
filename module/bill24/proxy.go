// Package bill24 holds Bill24's wire formats: the merchant proxy lookup, the
// payment webhook in its three documented shapes, and the envelopes Bill24
// expects back. It knows nothing of Caddy; the module wires it in.
package bill24

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/module/gateway"
)

// MaxConsumerCodeLen bounds consumer_code. Bill24's examples are 8–15
// characters; anything near this limit is not a code a bank app sends.
const MaxConsumerCodeLen = 128

// ProxyRequest is what Bill24 POSTs to the merchant's /proxy:
// {"consumer_code": "CU003035"}. Mappings see it as req.
type ProxyRequest struct {
	// ConsumerCode is the code the customer typed into the bank app.
	ConsumerCode string `json:"consumer_code" expr:"consumer_code"`
	// Query holds the URL query parameters Bill24 may add
	// (merchant_id, transaction_id, hash), first value of each.
	Query map[string]string `json:"-" expr:"query"`
	// Raw is the whole decoded document, for fields this struct does not know.
	Raw map[string]any `json:"-" expr:"raw"`
}

// DecodeProxyRequest parses and validates a proxy lookup body.
func DecodeProxyRequest(body []byte) (ProxyRequest, error) {
	var p ProxyRequest
	raw, err := decodeBody(body)
	if err != nil {
		return p, err
	}
	v, ok := raw["consumer_code"]
	if !ok || v == nil {
		return p, errors.New("consumer_code is required")
	}
	code, ok := v.(string)
	if !ok {
		return p, errors.New("consumer_code must be a string")
	}
	if code == "" {
		return p, errors.New("consumer_code must not be empty")
	}
	if utf8.RuneCountInString(code) > MaxConsumerCodeLen {
		return p, fmt.Errorf("consumer_code is longer than %d characters", MaxConsumerCodeLen)
	}
	if !text.Printable(code) {
		return p, errors.New("consumer_code contains control characters")
	}
	p.ConsumerCode = code
	p.Raw = raw
	return p, nil
}

// decodeBody decodes a request body with gateway.DecodeObject, its errors
// worded as Bill24 has always been answered them.
func decodeBody(body []byte) (map[string]any, error) {
	m, err := gateway.DecodeObject(body, "request body")
	var de *gateway.DecodeError
	if errors.As(err, &de) {
		switch de.Problem {
		case gateway.NotObject:
			return nil, errors.New("request body must be a JSON object")
		case gateway.Malformed:
			return nil, fmt.Errorf("malformed JSON: %w", de.Err)
		}
	}
	return m, err
}
