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
// what names the document in errors ("the answer", "request body"). Its
// error is a *DecodeError.
func DecodeObject(body []byte, what string) (map[string]any, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, &DecodeError{What: what, Problem: Empty}
	case !utf8.Valid(body):
		return nil, &DecodeError{What: what, Problem: NotUTF8}
	case body[0] != '{':
		return nil, &DecodeError{What: what, Problem: NotObject}
	}
	v, err := mappings.ParseJSON(body)
	if err != nil {
		return nil, &DecodeError{What: what, Problem: Malformed, Err: err}
	}
	m, ok := v.(map[string]any)
	if !ok { // cannot happen: the body starts with '{'
		return nil, &DecodeError{What: what, Problem: NotObject}
	}
	return m, nil
}

// Problem is what DecodeObject found wrong with a document.
type Problem int

// The problems DecodeObject reports.
const (
	Empty     Problem = iota + 1 // nothing but whitespace
	NotUTF8                      // not valid UTF-8
	NotObject                    // valid, but not a JSON object
	Malformed                    // not JSON, or more than one value
)

// A DecodeError is DecodeObject's error. A gateway that answers with
// its own wording of these errors reads Problem; Error is a sentence
// naming the document: "the answer is not a JSON object".
type DecodeError struct {
	What    string
	Problem Problem
	// Err is mappings.ParseJSON's error, for Malformed.
	Err error
}

func (e *DecodeError) Error() string {
	switch e.Problem {
	case Empty:
		return e.What + " is empty"
	case NotUTF8:
		return e.What + " is not valid UTF-8"
	case NotObject:
		return e.What + " is not a JSON object"
	}
	return e.What + " is malformed JSON: " + e.Err.Error()
}

// Unwrap returns the parser's error, if any.
func (e *DecodeError) Unwrap() error { return e.Err }

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
