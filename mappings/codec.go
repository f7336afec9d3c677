package mappings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DecodeBody decodes a legacy answer by its content type: JSON to maps,
// slices, strings, bools, ints and Decimals (never float64); a form to a map
// of first values; anything else, or JSON that does not parse, to its text.
func DecodeBody(contentType string, body []byte) any {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if v, err := DecodeJSON(body); err == nil {
			return v
		}
	case mt == "application/x-www-form-urlencoded":
		if vals, err := url.ParseQuery(string(body)); err == nil {
			m := make(map[string]any, len(vals))
			for k, v := range vals {
				m[k] = v[0]
			}
			return m
		}
	case mt == "" || mt == "text/plain":
		// Old systems often send JSON as text/plain or with no type.
		if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			if v, err := DecodeJSON(body); err == nil {
				return v
			}
		}
	}
	return string(body)
}

// DecodeJSON decodes one JSON value exactly: whole numbers that fit become
// int, other numbers Decimal. It is ParseJSON, except that of duplicate
// keys the last one wins: it reads legacy answers, and the legacy
// system's own clients (PHP, JavaScript, encoding/json) read them that
// way. A gateway's message is read with ParseJSON, which refuses them.
func DecodeJSON(body []byte) (any, error) {
	return parseLenient(body)
}

// Encodings for a legacy request body.
const (
	EncodeJSON  = "json"
	EncodeForm  = "form"
	EncodeQuery = "query"
)

// Field is a named value of a legacy request, in the order it was written.
type Field struct {
	Name  string
	Value any
}

// EncodeJSONFields writes fields as one JSON object, in order.
func EncodeJSONFields(fields []Field) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		buf.Write(k)
		buf.WriteByte(':')
		if err := writeJSON(&buf, f.Value); err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// EncodeJSONValue writes any value a mapping produced as JSON.
func EncodeJSONValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case float32, float64:
		return errFloatMoney
	case Decimal:
		buf.Write(v.AppendText(nil))
		return nil
	case time.Time:
		buf.WriteString(strconv.Quote(v.Format(time.RFC3339)))
		return nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			if err := writeJSON(buf, v[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

// EncodeValues writes fields as a form or query string, in order.
func EncodeValues(fields []Field) (string, error) {
	var b strings.Builder
	for i, f := range fields {
		s, err := Text(f.Value)
		if err != nil {
			return "", fmt.Errorf("field %s: %w", f.Name, err)
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(s))
	}
	return b.String(), nil
}

// Text renders a scalar a mapping produced as text for a form, a query, a
// header or a path: Decimals exactly, times in RFC 3339, nil as empty.
func Text(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case Decimal:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case time.Time:
		return v.Format(time.RFC3339), nil
	case float32, float64:
		return "", errFloatMoney
	}
	if d, ok := toDecimal(v); ok {
		return d.String(), nil
	}
	return "", fmt.Errorf("cannot write %T as text", v)
}
