package mappings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// stdDecodeJSON is DecodeJSON as it was before ParseJSON: encoding/json
// with UseNumber, then each json.Number to an int or a Decimal. ParseJSON
// must agree with it.
func stdDecodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if len(bytes.Trim(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return stdExactNumbers(v)
}

func stdExactNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 0); err == nil {
			return int(i), nil
		}
		return ParseDecimal(string(v))
	case map[string]any:
		for k, e := range v {
			x, err := stdExactNumbers(e)
			if err != nil {
				return nil, err
			}
			v[k] = x
		}
	case []any:
		for i, e := range v {
			x, err := stdExactNumbers(e)
			if err != nil {
				return nil, err
			}
			v[i] = x
		}
	}
	return v, nil
}

// checkSameAsStdlib fails unless each mode of the parser agrees with
// encoding/json on in. Where encoding/json decodes in:
//   - parseLenient (DecodeJSON) gives exactly what stdDecodeJSON gives;
//   - ParseJSON gives the same, or, if an object in in holds a key twice
//     (stdDuplicateKeys, an independent reading through encoding/json's
//     tokens), refuses it with ErrJSONDuplicateKey naming such a key;
//   - ParseJSONNumbers gives exactly encoding/json's UseNumber values, or
//     refuses the same duplicates.
//
// Where encoding/json refuses in, all three refuse it. The one other
// difference allowed: the parser refuses nesting beyond MaxJSONDepth.
func checkSameAsStdlib(t testing.TB, in []byte) {
	t.Helper()
	want, stdErr := stdDecodeJSON(in)
	lenient, err := parseLenient(in)
	compareWithStdlib(t, "parseLenient", in, lenient, err, want, stdErr, nil)
	var dups map[string]bool
	if stdErr == nil {
		dups = stdDuplicateKeys(t, in)
	}
	got, err := ParseJSON(in)
	compareWithStdlib(t, "ParseJSON", in, got, err, want, stdErr, dups)
	wantNum, stdErr := stdDecodeNumbers(in)
	gotNum, err := ParseJSONNumbers(in)
	compareWithStdlib(t, "ParseJSONNumbers", in, gotNum, err, wantNum, stdErr, dups)
}

func compareWithStdlib(t testing.TB, name string, in []byte, got any, err error, want any, stdErr error, dups map[string]bool) {
	t.Helper()
	switch {
	case err != nil && stdErr != nil:
		var se *JSONSyntaxError
		// A one-pass parser names the first problem it meets: a closed
		// object holding a key twice comes before a later syntax error.
		if !errors.As(err, &se) && !errors.Is(err, ErrInvalidDecimal) && !errors.Is(err, ErrJSONDepth) && !errors.Is(err, ErrJSONDuplicateKey) {
			t.Fatalf("%s(%q): unexpected kind of error %T %v", name, in, err, err)
		}
	case err != nil:
		if errors.Is(err, ErrJSONDepth) && depthOf(want) > MaxJSONDepth {
			return
		}
		if errors.Is(err, ErrJSONDuplicateKey) && len(dups) > 0 {
			for k := range dups {
				if strings.Contains(err.Error(), ": "+quoteKey(k)+" at byte ") {
					return
				}
			}
			t.Fatalf("%s(%q): %v names none of the duplicate keys %v", name, in, err, dups)
		}
		t.Fatalf("%s(%q): %v; encoding/json gives %#v", name, in, err, want)
	case stdErr != nil:
		t.Fatalf("%s(%q) = %#v; encoding/json fails: %v", name, in, got, stdErr)
	case len(dups) > 0:
		t.Fatalf("%s(%q) = %#v; want ErrJSONDuplicateKey for %v", name, in, got, dups)
	case !exactEqual(got, want):
		t.Fatalf("%s(%q) = %#v; encoding/json gives %#v", name, in, got, want)
	}
}

// stdDecodeNumbers is encoding/json with UseNumber, one value and only
// whitespace after it.
func stdDecodeNumbers(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if len(bytes.Trim(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// stdDuplicateKeys returns the keys that some object of in, a document
// encoding/json accepts, holds more than once (as decoded: invalid UTF-8
// is U+FFFD), read from encoding/json's token stream.
func stdDuplicateKeys(t testing.TB, in []byte) map[string]bool {
	t.Helper()
	type frame struct {
		object  bool
		keys    map[string]bool
		wantKey bool
	}
	dups := map[string]bool{}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return dups
		}
		if err != nil {
			t.Fatalf("encoding/json decodes %q but its tokens fail: %v", in, err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if top != nil && top.object && top.wantKey {
			k := tok.(string)
			if top.keys[k] {
				dups[k] = true
			}
			top.keys[k] = true
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		default:
			if top != nil && top.object {
				top.wantKey = true
			}
		}
	}
}

// exactEqual compares decoded values strictly: the same types (an int is
// not a Decimal, an empty slice is not nil), Decimals by value and scale.
func exactEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool, int, string, json.Number:
		return a == b
	case Decimal:
		d, ok := b.(Decimal)
		return ok && a.Cmp(d) == 0 && a.Scale() == d.Scale()
	case map[string]any:
		m, ok := b.(map[string]any)
		if !ok || m == nil || a == nil || len(a) != len(m) {
			return false
		}
		for k, v := range a {
			w, ok := m[k]
			if !ok || !exactEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		s, ok := b.([]any)
		if !ok || s == nil || a == nil || len(a) != len(s) {
			return false
		}
		for i := range a {
			if !exactEqual(a[i], s[i]) {
				return false
			}
		}
		return true
	}
	return false // not a type either decoder produces
}

// depthOf returns how deeply arrays and objects nest in v.
func depthOf(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	case []any:
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	}
	return 0
}

func TestParseJSONValid(t *testing.T) {
	big := func(s string) Decimal { return MustDecimal(s) }
	tests := []struct {
		in   string
		want any
	}{
		{`null`, nil},
		{`true`, true},
		{`false`, false},
		{`0`, 0},
		{`-0`, 0},
		{`7`, 7},
		{`-42`, -42},
		{`255`, 255},
		{`256`, 256},
		{`9223372036854775807`, 9223372036854775807},
		{`-9223372036854775808`, -9223372036854775808},
		{`9223372036854775808`, big("9223372036854775808")},
		{`-9223372036854775809`, big("-9223372036854775809")},
		{`9999999999999999999`, big("9999999999999999999")},
		{`18446744073709551616`, big("18446744073709551616")},
		{`123456789012345678901234567890.5`, big("123456789012345678901234567890.5")},
		{`-0.0`, big("0.0")},
		{`0.5`, big("0.5")},
		{`10.20`, big("10.20")},
		{`10.00`, big("10.00")},
		{`50000.00`, big("50000.00")},
		{`1e3`, big("1e3")},
		{`1E3`, big("1000")},
		{`1e+3`, big("1000")},
		{`1.5E-2`, big("0.015")},
		{`2.50e1`, big("25.0")},
		{`0e0`, big("0")},
		{`-1e-2`, big("-0.01")},
		{`1e1000`, big("1e1000")},
		{`1e-1000`, big("1e-1000")},
		{`""`, ""},
		{`"ok"`, "ok"},
		{`"ញ៉េប នីម"`, "ញ៉េប នីម"},
		{`"ជា សំណាង"`, "ជា សំណាង"},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{`"a\u0000b"`, "a\x00b"},
		{`"\u00e9\u00E9"`, "éé"},
		{`"\u1787\u17B6"`, "ជា"},
		{`"\ud83d\ude00"`, "😀"},
		{`"x\uD83D\uDE00y"`, "x😀y"},
		{`"\ud800"`, "\ufffd"},
		{`"\udc00"`, "\ufffd"},
		{`"\ud800x"`, "\ufffdx"},
		{`"\ud800\u0041"`, "\ufffdA"},
		{`"\ud800\ud800\udc00"`, "\ufffd\U00010000"},
		{`"\udc00\ud800"`, "\ufffd\ufffd"},
		{`"\ufffd"`, "\ufffd"},
		{"\"\xff\"", "\ufffd"},
		{"\"a\xffb\\n\"", "a\ufffdb\n"},
		{"\"\xe1\x9e\"", "\ufffd\ufffd"},                                       // a cut sequence: one U+FFFD a byte
		{"\"\xed\xa0\x80\"", "\ufffd\ufffd\ufffd"},                             // a surrogate in UTF-8
		{"\"\xc0\xaf\"", "\ufffd\ufffd"},                                       // overlong
		{"\"\xef\xbf\xbd\xf4\x90\x80\x80\"", "\ufffd\ufffd\ufffd\ufffd\ufffd"}, // beyond U+10FFFF
		{"\"\x7f\"", "\x7f"},
		{"\"<>&'\"", "<>&'"},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{` [ ] `, []any{}},
		{"\t\r\n{\t\r\n}\t\r\n", map[string]any{}},
		{`[1,"a",true,null,1.5,[],{}]`, []any{1, "a", true, nil, big("1.5"), []any{}, map[string]any{}}},
		{`{"a":1,"b":{"c":[2,{"d":"e"}]}}`, map[string]any{"a": 1, "b": map[string]any{"c": []any{2, map[string]any{"d": "e"}}}}},
		{`{"":""}`, map[string]any{"": ""}},
		{`{"k\u00e9\n":1}`, map[string]any{"ké\n": 1}},
		{"{\"k\xff\":1}", map[string]any{"k\ufffd": 1}},
		{`{"ឈ្មោះ":"ញ៉េប"}`, map[string]any{"ឈ្មោះ": "ញ៉េប"}},
		{`[[[[[[[[]]]]]]]]`, []any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{}}}}}}}}},
		{`{"status":"OK","customer":{"amt_due":10.00,"min_pay":-1,"max_pay":5000,"credit":0.00,"overdue":false}}`,
			map[string]any{"status": "OK", "customer": map[string]any{
				"amt_due": big("10.00"), "min_pay": -1, "max_pay": 5000, "credit": big("0.00"), "overdue": false}}},
	}
	for _, tt := range tests {
		got, err := ParseJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseJSON(%q): %v", tt.in, err)
			continue
		}
		if !exactEqual(got, tt.want) {
			t.Errorf("ParseJSON(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		checkSameAsStdlib(t, []byte(tt.in))
	}
	// The scale is kept as written.
	for in, want := range map[string]string{`10.20`: "10.20", `1e3`: "1000", `1.5E-2`: "0.015", `-0.0`: "0.0", `0.00`: "0.00"} {
		v, err := ParseJSON([]byte(in))
		if d, ok := v.(Decimal); err != nil || !ok || d.String() != want {
			t.Errorf("ParseJSON(%q) = %#v, %v; want Decimal %s", in, v, err, want)
		}
	}
}

func TestParseJSONInvalid(t *testing.T) {
	tests := []struct {
		in   string
		want string // in the error
	}{
		{``, "unexpected end of JSON input"},
		{` `, "unexpected end of JSON input"},
		{"\t\r\n", "unexpected end of JSON input"},
		{`x`, "invalid character 'x' at byte 0"},
		{`  x`, "invalid character 'x' at byte 2"},
		{`{"a":1,"b":x}`, "invalid character 'x' at byte 11"},
		{"\v1", `invalid character '\v' at byte 0`},
		{"\f1", `invalid character '\f' at byte 0`},
		{"\u00a01", `invalid character '\u00a0' at byte 0`},
		{"\ufeff{}", `invalid character '\ufeff' at byte 0`}, // a BOM
		{"\xff", `invalid character '\xff' at byte 0`},
		{`{`, "unexpected end of JSON input"},
		{`[`, "unexpected end of JSON input"},
		{`[1`, "unexpected end of JSON input"},
		{`[1,`, "unexpected end of JSON input"},
		{`{"a"`, "unexpected end of JSON input"},
		{`{"a":`, "unexpected end of JSON input"},
		{`{"a":1`, "unexpected end of JSON input"},
		{`"abc`, "unexpected end of JSON input"},
		{`"abc\`, "unexpected end of JSON input"},
		{`"\u12`, "unexpected end of JSON input"},
		{`tru`, "unexpected end of JSON input"},
		{`-`, "unexpected end of JSON input"},
		{`1.`, "unexpected end of JSON input"},
		{`1e`, "unexpected end of JSON input"},
		{`1e+`, "unexpected end of JSON input"},
		{`[1,]`, "invalid character ']' at byte 3"},
		{`{"a":1,}`, "invalid character '}' at byte 7"},
		{`[,1]`, "invalid character ',' at byte 1"},
		{`{,}`, "invalid character ',' at byte 1"},
		{`[1 2]`, "invalid character '2' at byte 3"},
		{`{"a" 1}`, "invalid character '1' at byte 5"},
		{`{"a":1 "b":2}`, "invalid character '\"' at byte 7"},
		{`{a:1}`, "invalid character 'a' at byte 1"},
		{`{'a':1}`, `invalid character '\'' at byte 1`},
		{`{1:1}`, "invalid character '1' at byte 1"},
		{`[1}`, "invalid character '}' at byte 2"},
		{`{"a":1]`, "invalid character ']' at byte 6"},
		{`01`, "invalid character '1' at byte 1"},
		{`-01`, "invalid character '1' at byte 2"},
		{`[00]`, "invalid character '0' at byte 2"},
		{`+1`, "invalid character '+' at byte 0"},
		{`.5`, "invalid character '.' at byte 0"},
		{`1.e3`, "invalid character 'e' at byte 2"},
		{`1.x`, "invalid character 'x' at byte 2"},
		{`[1.]`, "invalid character ']' at byte 3"},
		{`1ee`, "invalid character 'e' at byte 2"},
		{`-a`, "invalid character 'a' at byte 1"},
		{`--1`, "invalid character '-' at byte 1"},
		{`0x10`, "data after the JSON value: 'x' at byte 1"},
		{`1_000`, "data after the JSON value: '_' at byte 1"},
		{`NaN`, "invalid character 'N' at byte 0"},
		{`-Infinity`, "invalid character 'I' at byte 1"},
		{`Infinity`, "invalid character 'I' at byte 0"},
		{`True`, "invalid character 'T' at byte 0"},
		{`nul`, "unexpected end of JSON input"},
		{`nulL`, "invalid character 'L' at byte 3"},
		{`truex`, "data after the JSON value: 'x' at byte 4"},
		{`1 2`, "data after the JSON value: '2' at byte 2"},
		{`{"a":1}}`, "data after the JSON value: '}' at byte 7"},
		{`{"a":1}]`, "data after the JSON value: ']' at byte 7"},
		{`[1]]`, "data after the JSON value"},
		{`"x"}`, "data after the JSON value"},
		{`{"a":1} x`, "data after the JSON value: 'x' at byte 8"},
		{`{"a":1} {"b":2}`, "data after the JSON value"},
		{"{}\x00", `data after the JSON value: '\x00' at byte 2`},
		{"\"a\nb\"", `invalid control character '\n' in string at byte 2`},
		{"\"a\tb\"", `invalid control character '\t' in string at byte 2`},
		{"\"\x00\"", `invalid control character '\x00' in string at byte 1`},
		{"\"\\u00e9\x1f\"", `invalid control character '\x1f' in string at byte 7`},
		{"\"\xff\x01\"", `invalid control character '\x01' in string at byte 2`},
		{`"\x41"`, "invalid character 'x' at byte 2"},
		{`"\'"`, `invalid character '\'' at byte 2`},
		{`"\U0041"`, "invalid character 'U' at byte 2"},
		{`"\u00g0"`, "invalid character 'g' at byte 5"},
		{`"\ud800\u12x4"`, "invalid character 'x' at byte 11"},
		{`{"a":1e1001}`, "exponent out of range"},
		{`[1e-1001]`, "exponent out of range"},
		{`0e5000`, "exponent out of range"},
		{strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1), "json nesting too deep"},
		{strings.Repeat(`{"a":`, MaxJSONDepth+1) + "1" + strings.Repeat("}", MaxJSONDepth+1), "json nesting too deep"},
	}
	for _, tt := range tests {
		v, err := ParseJSON([]byte(tt.in))
		if err == nil {
			t.Errorf("ParseJSON(%q) = %#v, want an error", tt.in, v)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseJSON(%q): %q, want %q in it", tt.in, err, tt.want)
		}
		if msg := err.Error(); strings.ToLower(msg[:1]) != msg[:1] {
			t.Errorf("ParseJSON(%q): error %q is not lower case", tt.in, msg)
		}
		if v != nil {
			t.Errorf("ParseJSON(%q) = %#v with an error, want nil", tt.in, v)
		}
		checkSameAsStdlib(t, []byte(tt.in))
	}
}

func TestParseJSONErrorKinds(t *testing.T) {
	_, err := ParseJSON([]byte(`{"a":1,"b":x}`))
	var se *JSONSyntaxError
	if !errors.As(err, &se) || se.Offset != 11 || se.Error() != "invalid character 'x' at byte 11, expected a value" {
		t.Errorf("error = %#v", err)
	}
	_, err = ParseJSON([]byte(`[1, 2, 1e1001]`))
	if !errors.Is(err, ErrInvalidDecimal) || !errors.Is(err, ErrExponentRange) || !strings.Contains(err.Error(), "at byte 7") {
		t.Errorf("exponent error = %v", err)
	}
	_, err = ParseJSON([]byte(strings.Repeat("[", 2000)))
	if !errors.Is(err, ErrJSONDepth) || !strings.Contains(err.Error(), "at byte 1000") {
		t.Errorf("depth error = %v", err)
	}
}

func TestParseJSONDepth(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat(`[{"a":`, n/2) + strings.Repeat("[", n%2) + "0" + strings.Repeat("]", n%2) + strings.Repeat("}]", n/2))
	}
	v, err := ParseJSON(nest(MaxJSONDepth))
	if err != nil || depthOf(v) != MaxJSONDepth {
		t.Errorf("depth %d: %v", MaxJSONDepth, err)
	}
	checkSameAsStdlib(t, nest(MaxJSONDepth))
	for _, n := range []int{MaxJSONDepth + 1, 5000, 10000, 10001, 20000} {
		if _, err := ParseJSON(nest(n)); !errors.Is(err, ErrJSONDepth) {
			t.Errorf("depth %d: %v, want ErrJSONDepth", n, err)
		}
		checkSameAsStdlib(t, nest(n))
	}
}

// TestParseJSONReuse: a parser put back after an error holds nothing of
// the failed document.
func TestParseJSONReuse(t *testing.T) {
	for range 3 {
		if _, err := ParseJSON([]byte(`{"a":[1,2,{"b":"\u00e9","c":[3,`)); err == nil {
			t.Fatal("no error")
		}
		v, err := ParseJSON([]byte(`{"x":[4],"y":{}}`))
		if err != nil || !exactEqual(v, map[string]any{"x": []any{4}, "y": map[string]any{}}) {
			t.Fatalf("after an error: %#v, %v", v, err)
		}
	}
	// A big document: scratch beyond what is pooled.
	var b strings.Builder
	b.WriteString("[")
	for i := range 5000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"k%d":"%s\n"}`, i, strings.Repeat("x", i%70))
	}
	b.WriteString("]")
	checkSameAsStdlib(t, []byte(b.String()))
}

func readFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob("../examples/payloads/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := make(map[string][]byte)
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(name)] = b
	}
	return out
}

func TestParseJSONFixtures(t *testing.T) {
	for name, b := range readFixtures(t) {
		t.Run(name, func(t *testing.T) {
			v, err := ParseJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			assertExact(t, v, name)
			checkSameAsStdlib(t, b)
		})
	}
}

// jsonCorpus: valid and invalid documents, tricky where the two parsers
// could disagree.
var jsonCorpus = []string{
	``, ` `, `{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `-0.0`, `1`, `-1`, `10.20`, `50000.00`,
	`1e3`, `1E-2`, `1.0e+2`, `-0.5E-1`, `0e0`, `0.0e-0`, `1e1000`, `1e-1000`, `1e1001`, `1e-1001`,
	`1e0000000000000000000001`, `1e00001001`, `123456789012345678901234567890`,
	`9223372036854775807`, `9223372036854775808`, `-9223372036854775808`, `-9223372036854775809`,
	`99999999999999999999`, `00`, `01`, `-`, `--1`, `+1`, `.5`, `1.`, `1.e1`, `1e`, `1e+`, `1e-`, `-.5`,
	`0.`, `0x1`, `1_0`, `NaN`, `Infinity`, `-Infinity`, `1 2`, `1,`, `[1,]`, `{"a":1,}`, `[,]`, `{,}`,
	`"`, `"\`, `"\"`, `"\u"`, `"\u123"`, `"\u123g"`, `"\ud800"`, `"\ud800\"`, `"\ud800\u"`, `"\ud800\udc00"`,
	`"\udbff\udfff"`, `"\udc00\ud800"`, `"\ud800\ud800"`, `"\ud800\\"`, `"\ud800\n"`, `"\uDFFF"`,
	`"\u0000"`, `"\/"`, `"\a"`, `"\x00"`, `"\'"`, "\"\x00\"", "\"\x1f\"", "\"\x7f\"", "\"\x80\"",
	"\"\xc2\"", "\"\xc2\xa0\"", "\"\xe1\x9e\x87\"", "\"\xe1\x9e\"", "\"\xe1\x9e\\n\"", "\"\xf0\x9f\x98\x80\"",
	"\"\xf0\x9f\x98\"", "\"\xf8\x88\x80\x80\x80\"", "\"\xed\xa0\x80\xed\xb0\x80\"", "\"\xef\xbb\xbf\"",
	"\xef\xbb\xbf{}", "{}\xef\xbb\xbf", "\"\xff\\u00e9\xfe\"", "{\"\xff\":\"\xfe\"}",
	"\v{}", "\f{}", "{}\v", "\u00a0{}", "{}\u2028", "{\"a\"\u00a0:1}", "[1\u3000]",
	`{"a":1,"a":2}`, `{"a":{"b":1},"a":[2]}`, `{"a":1}}`, `{"a":1}]`, `[1]]`, `"x"}`, `{"a":1} x`,
	`{"a":1} {"b":2}`, `{"a":1}` + "\n\r\t ", `{"a" : 1 , "b" : [ 1 , 2 ] }`, `{"a":01}`, `{'a':1}`,
	`[tru]`, `[true1]`, `[nulll]`, `[fals]`, `tRue`, `[1:2]`, `{"a",1}`, `{"a":1:2}`, `{"a"}`, `{:1}`,
	`[[[[[[[[[[]]]]]]]]]]`, `[[[[[[[[[[]]]]]]]]]`, `{"a":[{"b":[{"c":null}]}]}`,
	`{"status":"OK","customer":{"cust_no":"CU003035","full_name_kh":"ញ៉េប នីម","amt_due":10.00,"min_pay":-1}}`,
}

// mutations returns in cut at every byte and with each byte replaced by a
// few others: many near-valid documents.
func mutations(in []byte) [][]byte {
	var out [][]byte
	for i := range len(in) + 1 {
		out = append(out, in[:i])
	}
	for i := range in {
		for _, c := range []byte{' ', '"', '\\', '0', '-', '.', 'e', ',', ']', '}', 0x00, 0x80, 0xff} {
			m := bytes.Clone(in)
			m[i] = c
			out = append(out, m)
		}
		out = append(out, append(bytes.Clone(in[:i]), in[i+1:]...))
	}
	return out
}

func TestParseJSONSameAsStdlib(t *testing.T) {
	var inputs [][]byte
	for _, s := range jsonCorpus {
		inputs = append(inputs, []byte(s))
	}
	for _, b := range readFixtures(t) {
		inputs = append(inputs, b)
	}
	n := 0
	for _, in := range inputs {
		checkSameAsStdlib(t, in)
		n++
		if len(in) <= 800 {
			for _, m := range mutations(in) {
				checkSameAsStdlib(t, m)
				n++
			}
		}
	}
	t.Logf("%d inputs", n)
}

func TestParseJSONDuplicateKeys(t *testing.T) {
	tests := []struct {
		in   string
		want string // in the error
	}{
		{`{"tran_amount":45,"tran_amount":4500}`, `duplicate object key: "tran_amount" at byte 18`},
		{`{"a":1,"b":2,"a":{"x":3}}`, `duplicate object key: "a" at byte 13`},
		{`{"a":null,"a":null}`, `duplicate object key: "a" at byte 10`},
		{`{"a":1,"\u0061":1}`, `duplicate object key: "a" at byte 7`}, // the same key once decoded
		{`{"x":{"y":{"z":[{"k":1,"k":2}]}}}`, `duplicate object key: "k" at byte 23`},
		{`{"customers":[{"amount":45},{"amount":45,"amount":4500}]}`, `duplicate object key: "amount" at byte 41`},
		{`[{"a":1},{"b":1,"b":1}]`, `duplicate object key: "b" at byte 16`},
		{"{\"k\xff\":1,\"k\xfe\":2}", "duplicate object key: \"k\ufffd\" at byte 8"}, // both decode to U+FFFD
		{`{"` + strings.Repeat("x", 100) + `":1,"` + strings.Repeat("x", 100) + `":2}`, `"` + strings.Repeat("x", 64) + `"…`},
		{`{"a\n":1,"a\n":2}`, `duplicate object key: "a\n" at byte 9`},
	}
	for _, tt := range tests {
		for name, parse := range map[string]func([]byte) (any, error){"ParseJSON": ParseJSON, "ParseJSONNumbers": ParseJSONNumbers} {
			v, err := parse([]byte(tt.in))
			if !errors.Is(err, ErrJSONDuplicateKey) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s(%q) = %#v, %v; want ErrJSONDuplicateKey with %q", name, tt.in, v, err, tt.want)
			}
		}
		if _, err := DecodeJSON([]byte(tt.in)); err != nil {
			t.Errorf("DecodeJSON(%q): %v; legacy answers keep the last key", tt.in, err)
		}
		checkSameAsStdlib(t, []byte(tt.in))
	}
	// Not duplicates: keys differ in case or in a byte; the same key in
	// different objects.
	for _, in := range []string{`{"a":1,"A":2}`, `{"tran_amount":1,"TRAN_AMOUNT":2}`, `{"a":{"a":{"a":1}}}`,
		`[{"a":1},{"a":2}]`, `{"a":1,"a ":2,"\u00e9":3,"e\u0301":4}`} {
		if _, err := ParseJSON([]byte(in)); err != nil {
			t.Errorf("ParseJSON(%q): %v", in, err)
		}
		checkSameAsStdlib(t, []byte(in))
	}
	// Legacy answers: the last key wins, as encoding/json has it.
	v, err := DecodeJSON([]byte(`{"result":"FAILED","result":"OK"}`))
	if err != nil || !exactEqual(v, map[string]any{"result": "OK"}) {
		t.Errorf("DecodeJSON = %#v, %v", v, err)
	}
}

func TestParseJSONNumbers(t *testing.T) {
	in := `{"a":45,"b":"45","c":45.00,"d":-0.0,"e":1e100000,"f":[12345678901234567890123,1E-2]}`
	v, err := ParseJSONNumbers([]byte(in))
	want := map[string]any{"a": json.Number("45"), "b": "45", "c": json.Number("45.00"), "d": json.Number("-0.0"),
		"e": json.Number("1e100000"), "f": []any{json.Number("12345678901234567890123"), json.Number("1E-2")}}
	if err != nil || !exactEqual(v, want) {
		t.Errorf("ParseJSONNumbers = %#v, %v", v, err)
	}
	checkSameAsStdlib(t, []byte(in))
	for _, bad := range []string{`01`, `1.`, `-`, `1e`, `+1`, `{"a":.5}`, `[1,]`} {
		if v, err := ParseJSONNumbers([]byte(bad)); err == nil {
			t.Errorf("ParseJSONNumbers(%q) = %#v, want an error", bad, v)
		}
	}
}
