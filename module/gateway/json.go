// Package gateway is the plumbing every payment gateway's client shares:
// JSON in and out of wire types, the text of an error about an answer, an
// HTTP client that never follows a redirect and retries only as the caller
// allows, the classification of errors as temporary, and single-flighting
// of calls many requests need at once (a bearer token, a requery). A
// gateway's own package (bill24, qm) holds only its wire formats and
// rules. It knows nothing of Caddy.
package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// Marshal encodes v as gateways read it: UTF-8 passed through as is (no \u
// escapes for Khmer, no HTML escaping, so a URL's "&" stays "&"), and no
// trailing newline. The bytes it returns are the ones to sign and send.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeObject decodes body, which must be exactly one JSON object, with
// mappings.ParseJSON: whole numbers that fit become int and every other
// number a mappings.Decimal, so that no amount ever passes through
// float64. Whitespace around the object is allowed, anything else after
// it is not, and invalid UTF-8 is refused rather than silently replaced.
// what names the document in errors ("the answer", "request body").
func DecodeObject(body []byte, what string) (map[string]any, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, fmt.Errorf("%s is empty", what)
	case !utf8.Valid(body):
		return nil, fmt.Errorf("%s is not valid UTF-8", what)
	case body[0] != '{':
		return nil, fmt.Errorf("%s is not a JSON object", what)
	}
	v, err := mappings.ParseJSON(body)
	if err != nil {
		return nil, fmt.Errorf("%s is malformed JSON: %w", what, err)
	}
	m, ok := v.(map[string]any)
	if !ok { // cannot happen: the body starts with '{'
		return nil, fmt.Errorf("%s is not a JSON object", what)
	}
	return m, nil
}

// ErrNotNumber: Number was given a value that is not a JSON number.
var ErrNotNumber = errors.New("not a number")

// Number returns the text of a JSON number as DecodeObject gives it (an
// int or a mappings.Decimal), or of a json.Number, so that callers can
// take a number as its text (a code, an id written as a number).
func Number(v any) (string, error) {
	switch v := v.(type) {
	case int:
		return fmt.Sprint(v), nil
	case mappings.Decimal:
		return v.String(), nil
	case json.Number:
		return string(v), nil
	}
	return "", ErrNotNumber
}
