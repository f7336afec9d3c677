package billbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// Comparison in contract tests has money semantics: a number in an
// expectation is an amount, equal to any number of the same decimal value
// (45 matches 45.00). Where the wire has only text (form fields, query,
// headers) a number matches text of that decimal value; a string always
// matches exactly, so "50000.00" insists on that spelling. In a JSON body
// the types must agree: "10.00" where 10 is expected is a difference.

// diffs collects differences, one readable line each.
type diffs []string

func (d *diffs) addf(format string, args ...any) { *d = append(*d, fmt.Sprintf(format, args...)) }

// decodeNumbers decodes JSON keeping every number's text (json.Number):
// amounts never pass through float64.
func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

// show writes a value as JSON for a diff line.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// compareValue compares got with want at path. subset lets got have keys
// want does not name; text says got came from text on the wire.
func compareValue(d *diffs, path string, want, got any, subset, text bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			d.addf("%s: want an object %s, got %s", path, show(w), show(got))
			return
		}
		for _, k := range sortedKeys(w) {
			gv, present := g[k]
			if !present {
				d.addf("%s: missing (want %s)", join(path, k), show(w[k]))
				continue
			}
			compareValue(d, join(path, k), w[k], gv, subset, text)
		}
		if !subset {
			for _, k := range sortedKeys(g) {
				if _, named := w[k]; !named {
					d.addf("%s: unexpected %s (use \"match\": \"subset\" to allow more)", join(path, k), show(g[k]))
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			d.addf("%s: want %s, got %s", path, show(w), show(got))
			return
		}
		for i := range w {
			compareValue(d, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], subset, text)
		}
	case json.Number:
		if !sameAmount(w, got, text) {
			d.addf("%s: want %s, got %s", path, w, show(got))
		}
	default: // string, bool, nil
		if want != got {
			d.addf("%s: want %s, got %s", path, show(want), show(got))
		}
	}
}

// sameAmount reports whether got is the amount want.
func sameAmount(want json.Number, got any, text bool) bool {
	var g string
	switch v := got.(type) {
	case json.Number:
		g = string(v)
	case string:
		if !text {
			return false
		}
		g = v
	default:
		return false
	}
	wd, err1 := mappings.ParseDecimal(string(want))
	gd, err2 := mappings.ParseDecimal(g)
	if err1 != nil || err2 != nil {
		return string(want) == g
	}
	return wd.Equal(gd)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// compareBody compares a body with its expectation: a JSON string is text,
// compared exactly; anything else is compared as a value with the body
// decoded by its content type (JSON, or a form's fields as text).
func compareBody(d *diffs, path string, want json.RawMessage, contentType string, got []byte, subset bool) {
	if len(want) == 0 {
		return
	}
	w, err := decodeNumbers(want)
	if err != nil {
		d.addf("%s: the case's expected body is not JSON: %v", path, err)
		return
	}
	if s, ok := w.(string); ok {
		if s != string(got) {
			d.addf("%s: want text %q, got %q", path, s, truncateText(string(got)))
		}
		return
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(got))
		if err != nil {
			d.addf("%s: not a form: %v", path, err)
			return
		}
		compareValue(d, path, w, formMap(vals), subset, true)
		return
	}
	g, err := decodeNumbers(got)
	if err != nil {
		d.addf("%s: want JSON %s, got %q (%s)", path, show(w), truncateText(string(got)), contentType)
		return
	}
	compareValue(d, path, w, g, subset, false)
}

// formMap is a form or query as a value: one string per key, or an array
// of them when a key repeats.
func formMap(vals url.Values) map[string]any {
	m := make(map[string]any, len(vals))
	for k, v := range vals {
		if len(v) == 1 {
			m[k] = v[0]
			continue
		}
		arr := make([]any, len(v))
		for i, s := range v {
			arr[i] = s
		}
		m[k] = arr
	}
	return m
}

// compareHeaders checks the headers want names (nil: must be absent).
func compareHeaders(d *diffs, path string, want map[string]*string, got http.Header) {
	for _, k := range sortedKeys(want) {
		w := want[k]
		vals, present := got[http.CanonicalHeaderKey(k)]
		switch {
		case w == nil && present:
			d.addf("%s.%s: want absent, got %q", path, k, strings.Join(vals, ", "))
		case w != nil && !present:
			d.addf("%s.%s: missing (want %q)", path, k, *w)
		case w != nil && strings.Join(vals, ", ") != *w:
			d.addf("%s.%s: want %q, got %q", path, k, *w, strings.Join(vals, ", "))
		}
	}
}

func truncateText(s string) string {
	const max = 200
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// compareCall checks an outbound request against its expectation.
func compareCall(d *diffs, path string, want *caseCall, r *http.Request, body []byte) {
	if want == nil {
		return
	}
	if want.Method != "" && want.Method != r.Method {
		d.addf("%s.method: want %s, got %s", path, want.Method, r.Method)
	}
	if want.Path != "" && want.Path != r.URL.Path {
		d.addf("%s.path: want %q, got %q", path, want.Path, r.URL.Path)
	}
	subset := want.Match == "subset"
	if len(want.Query) > 0 {
		q, err := decodeNumbers(want.Query)
		if _, isMap := q.(map[string]any); err != nil || !isMap {
			d.addf("%s.query: the case's query must be an object", path)
		} else {
			compareValue(d, path+".query", q, formMap(r.URL.Query()), subset, true)
		}
	}
	compareHeaders(d, path+".headers", want.Headers, r.Header)
	compareBody(d, path+".body", want.Body, r.Header.Get("Content-Type"), body, subset)
}
