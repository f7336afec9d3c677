package mappings

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// assertExact fails if v holds a float64, a float32 or a json.Number
// anywhere: decoded legacy bodies carry only ints and Decimals.
func assertExact(t testing.TB, v any, path string) {
	t.Helper()
	switch v := v.(type) {
	case float32, float64, json.Number:
		t.Fatalf("%s is %T %v, want int or Decimal", path, v, v)
	case map[string]any:
		for k, e := range v {
			assertExact(t, e, path+"."+k)
		}
	case []any:
		for i, e := range v {
			assertExact(t, e, path+"["+itoa(i)+"]")
		}
	case nil, string, bool, int, Decimal:
	default:
		t.Fatalf("%s is %T, not a type DecodeJSON produces", path, v)
	}
}

func itoa(i int) string { s, _ := Text(i); return s }

func TestDecodeBodyJSON(t *testing.T) {
	body := `{"a":1,"b":10.20,"neg":-5,"zero":-0,"whole":1.0,"exp":1e3,"small":1.5E-2,
		"big":12345678901234567890,"c":{"d":[1,2.5,"x",true,null,{"e":0.00}]},"name":"ញ៉េប នីម"}`
	v := DecodeBody("application/json", []byte(body))
	assertExact(t, v, "body")
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("body = %T, want a map", v)
	}
	want := map[string]any{
		"a":     1,
		"b":     MustDecimal("10.20"),
		"neg":   -5,
		"zero":  0,
		"whole": MustDecimal("1.0"),
		"exp":   MustDecimal("1000"),
		"small": MustDecimal("0.015"),
		"big":   MustDecimal("12345678901234567890"),
		"name":  "ញ៉េប នីម",
	}
	for k, w := range want {
		if !sameValue(m[k], w) {
			t.Errorf("%s = %T %v, want %T %v", k, m[k], m[k], w, w)
		}
	}
	d := m["c"].(map[string]any)["d"].([]any)
	if len(d) != 6 || d[0] != 1 || !sameValue(d[1], MustDecimal("2.5")) || d[2] != "x" || d[3] != true || d[4] != nil {
		t.Errorf("c.d = %#v", d)
	}
	if e := d[5].(map[string]any)["e"]; !sameValue(e, MustDecimal("0.00")) {
		t.Errorf("c.d[5].e = %#v, want Decimal 0.00", e)
	}
}

func TestDecodeBodyContentTypes(t *testing.T) {
	obj := map[string]any{"a": 1}
	tests := []struct {
		name, ct, body string
		want           any
	}{
		{"json", "application/json", `{"a":1}`, obj},
		{"json charset", "application/json; charset=utf-8", `{"a":1}`, obj},
		{"json upper case", "Application/JSON", `{"a":1}`, obj},
		{"problem+json", "application/problem+json", `{"a":1}`, obj},
		{"vnd+json", "application/vnd.api+json; charset=utf-8", `{"a":1}`, obj},
		{"json array", "application/json", `[1, 0.50]`, []any{1, MustDecimal("0.50")}},
		{"json string", "application/json", `"ok"`, "ok"},
		{"json number", "application/json", `42`, 42},
		{"json decimal", "application/json", ` 10.20 `, MustDecimal("10.20")},
		{"json null", "application/json", `null`, nil},
		{"json invalid", "application/json", `{"a":`, `{"a":`},
		{"json empty", "application/json", ``, ``},
		{"json trailing brace", "application/json", `{"a":1}}`, `{"a":1}}`},
		{"json trailing value", "application/json", `{"a":1} {"b":2}`, `{"a":1} {"b":2}`},
		{"json exponent too big", "application/json", `{"a":1e1001}`, `{"a":1e1001}`},
		{"text/plain holding JSON", "text/plain; charset=utf-8", "\n {\"a\":1}\n", obj},
		{"text/plain holding array", "text/plain", `[1]`, []any{1}},
		{"no type holding JSON", "", `{"a":1}`, obj},
		{"text/plain not JSON", "text/plain", `OK`, `OK`},
		{"text/plain number stays text", "text/plain", `42`, `42`},
		{"text/plain broken JSON", "text/plain", `{oops}`, `{oops}`},
		{"text/plain Khmer", "text/plain; charset=utf-8", "ជា សំណាង", "ជា សំណាង"},
		{"html is text", "text/html", `{"a":1}`, `{"a":1}`},
		{"xml is text", "application/xml", `<a>1</a>`, `<a>1</a>`},
		{"bad parameter, still JSON", "application/json; =", `{"a":1}`, obj},
		{"unknown media type", "json", `{"a":1}`, `{"a":1}`},
		{"form", "application/x-www-form-urlencoded", `a=1&b=x+y&b=2&name=%E1%9E%87%E1%9E%B6&e=`,
			map[string]any{"a": "1", "b": "x y", "name": "ជា", "e": ""}},
		{"form charset", "application/x-www-form-urlencoded; charset=utf-8", `status=OK`, map[string]any{"status": "OK"}},
		{"form invalid", "application/x-www-form-urlencoded", `a=%zz`, `a=%zz`},
		{"form empty", "application/x-www-form-urlencoded", ``, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecodeBody(tt.ct, []byte(tt.body))
			if !sameValue(got, tt.want) {
				t.Errorf("DecodeBody(%q, %q) = %T %#v, want %T %#v", tt.ct, tt.body, got, got, tt.want, tt.want)
			}
			assertExact(t, got, "body")
		})
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, in := range []string{
		``, ` `, `{`, `{"a":1}}`, `{"a":1}]`, `[1]]`, `1 2`, `"x"}`, `{"a":1} x`,
		`{"a":1e1001}`, `[1e-1001]`, `NaN`, `{'a':1}`, `{"a":01}`,
	} {
		if v, err := DecodeJSON([]byte(in)); err == nil {
			t.Errorf("DecodeJSON(%q) = %#v, want an error", in, v)
		}
	}
	for _, in := range []string{"{}\n", " \t\r\n[] \t\r\n", `"ជា"`} {
		if _, err := DecodeJSON([]byte(in)); err != nil {
			t.Errorf("DecodeJSON(%q): %v", in, err)
		}
	}
}

// TestDecodeFixture decodes Bill24's documented proxy answer as a legacy
// body and checks that it writes back exactly.
func TestDecodeFixture(t *testing.T) {
	b, err := os.ReadFile("../examples/payloads/bill24_proxy_response.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	assertExact(t, v, "fixture")
	data := v.(map[string]any)["data"].(map[string]any)
	if data["consumer_name"] != "ញ៉េប នីម" || data["due_amount"] != 10 || data["min_amount"] != -1 {
		t.Errorf("data = %#v", data)
	}
	out, err := EncodeJSONValue(v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeJSON(out)
	if err != nil || !jsonEqual(v, back) {
		t.Errorf("round trip: %s, %v", out, err)
	}
	if !strings.Contains(string(out), `"consumer_name":"ញ៉េប នីម"`) {
		t.Errorf("Khmer was escaped: %s", out)
	}
}

func TestEncodeJSONFields(t *testing.T) {
	when := time.Date(2024, 3, 30, 10, 46, 33, 0, PhnomPenh)
	fields := []Field{
		{"z", 1},
		{"amount", MustDecimal("10.20")},
		{"khr", MustDecimal("50000.00")},
		{"name", "ជា <b>&"},
		{"none", nil},
		{"when", when},
		{"ok", true},
		{"list", []any{MustDecimal("0.10"), "x", 3}},
		{"obj", map[string]any{"b": 1, "a": MustDecimal("2.50"), "c": map[string]any{"y": nil, "x": []any{}}}},
		{"raw", json.Number("1e3")},
		{"big", uint64(math.MaxUint64)},
		{"a\"b", "q\"uote\n"},
	}
	got, err := EncodeJSONFields(fields)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"z":1,"amount":10.20,"khr":50000.00,"name":"ជា <b>&","none":null,` +
		`"when":"2024-03-30T10:46:33+07:00","ok":true,"list":[0.10,"x",3],` +
		`"obj":{"a":2.50,"b":1,"c":{"x":[],"y":null}},"raw":1e3,"big":18446744073709551615,` +
		`"a\"b":"q\"uote\n"}`
	if string(got) != want {
		t.Errorf("EncodeJSONFields =\n%s\nwant\n%s", got, want)
	}
	if !json.Valid(got) {
		t.Errorf("not valid JSON: %s", got)
	}
	if got, err := EncodeJSONFields(nil); err != nil || string(got) != "{}" {
		t.Errorf("no fields = %s, %v", got, err)
	}
}

func TestEncodeJSONRefusesFloats(t *testing.T) {
	for _, v := range []any{
		1.5, float32(2), math.NaN(),
		[]any{1, 0.1},
		map[string]any{"a": map[string]any{"b": 10.2}},
	} {
		_, err := EncodeJSONFields([]Field{{"amount", v}})
		if !errors.Is(err, errFloatMoney) || !strings.Contains(err.Error(), "field amount") {
			t.Errorf("EncodeJSONFields(%#v) error = %v, want errFloatMoney naming the field", v, err)
		}
		if _, err := EncodeJSONValue(v); !errors.Is(err, errFloatMoney) {
			t.Errorf("EncodeJSONValue(%#v) error = %v, want errFloatMoney", v, err)
		}
	}
	if _, err := EncodeJSONValue(make(chan int)); err == nil {
		t.Errorf("EncodeJSONValue(chan) succeeded")
	}
}

func TestEncodeJSONValue(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{map[string]any{"b": 2, "a": 1, "ជ": "ា", "A": "<&>"}, `{"A":"<&>","a":1,"b":2,"ជ":"ា"}`},
		{[]any{map[string]any{"z": MustDecimal("0.30"), "y": nil}}, `[{"y":null,"z":0.30}]`},
		{MustDecimal("50000.00"), `50000.00`},
		{MustDecimal("-0.05"), `-0.05`},
		{"ជា សំណាង", `"ជា សំណាង"`},
		{nil, `null`},
		{42, `42`},
		{false, `false`},
		{[]string{"a", "b"}, `["a","b"]`},
		{map[string]any{}, `{}`},
		{[]any{}, `[]`},
	}
	for _, tt := range tests {
		got, err := EncodeJSONValue(tt.v)
		if err != nil || string(got) != tt.want {
			t.Errorf("EncodeJSONValue(%#v) = %s, %v, want %s", tt.v, got, err, tt.want)
		}
	}
}

func TestEncodeValues(t *testing.T) {
	fields := []Field{
		{"amount", MustDecimal("10.20")},
		{"khr", MustDecimal("50000.00")},
		{"name", "ជា សំណាង"},
		{"ref", "a&b=c+d%"},
		{"empty", nil},
		{"n", 5},
		{"ok", true},
		{"a b", "x/y?"},
		{"when", time.Date(2024, 3, 30, 3, 0, 0, 0, time.UTC)},
	}
	got, err := EncodeValues(fields)
	if err != nil {
		t.Fatal(err)
	}
	want := "amount=10.20&khr=50000.00&name=%E1%9E%87%E1%9E%B6+%E1%9E%9F%E1%9F%86%E1%9E%8E%E1%9E%B6%E1%9E%84" +
		"&ref=a%26b%3Dc%2Bd%25&empty=&n=5&ok=true&a+b=x%2Fy%3F&when=2024-03-30T03%3A00%3A00Z"
	if got != want {
		t.Errorf("EncodeValues =\n%s\nwant\n%s", got, want)
	}
	back, err := url.ParseQuery(got)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"name": "ជា សំណាង", "ref": "a&b=c+d%", "a b": "x/y?", "amount": "10.20"} {
		if back.Get(name) != v {
			t.Errorf("parsed back %s = %q, want %q", name, back.Get(name), v)
		}
	}
	if got, err := EncodeValues(nil); err != nil || got != "" {
		t.Errorf("no fields = %q, %v", got, err)
	}
	_, err = EncodeValues([]Field{{"a", 1}, {"rate", 0.5}})
	if !errors.Is(err, errFloatMoney) || !strings.Contains(err.Error(), "field rate") {
		t.Errorf("float field error = %v", err)
	}
	if _, err := EncodeValues([]Field{{"m", map[string]any{}}}); err == nil || !strings.Contains(err.Error(), "field m") {
		t.Errorf("map field error = %v", err)
	}
}

func TestTextOfValues(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, ""},
		{"ជា", "ជា"},
		{MustDecimal("10.20"), "10.20"},
		{MustDecimal("50000.00"), "50000.00"},
		{MustDecimal("123456789012345678901234567890.12"), "123456789012345678901234567890.12"},
		{true, "true"},
		{false, "false"},
		{-7, "-7"},
		{int64(math.MinInt64), "-9223372036854775808"},
		{int8(-8), "-8"},
		{int16(16), "16"},
		{int32(32), "32"},
		{uint(7), "7"},
		{uint8(8), "8"},
		{uint16(16), "16"},
		{uint32(32), "32"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{json.Number("1.50"), "1.50"},
		{time.Date(2024, 3, 30, 10, 46, 33, 0, PhnomPenh), "2024-03-30T10:46:33+07:00"},
		{time.Date(2024, 3, 30, 3, 46, 33, 0, time.UTC), "2024-03-30T03:46:33Z"},
	}
	for _, tt := range tests {
		got, err := Text(tt.v)
		if err != nil || got != tt.want {
			t.Errorf("Text(%#v) = %q, %v, want %q", tt.v, got, err, tt.want)
		}
	}
	for _, v := range []any{1.5, float32(1), 0.0} {
		if got, err := Text(v); !errors.Is(err, errFloatMoney) || got != "" {
			t.Errorf("Text(%#v) = %q, %v, want errFloatMoney", v, got, err)
		}
	}
	for _, v := range []any{[]any{1}, map[string]any{}, struct{}{}, json.Number("x")} {
		if got, err := Text(v); err == nil {
			t.Errorf("Text(%#v) = %q, want an error", v, got)
		}
	}
}

// jsonEqual compares two decoded JSON values, numbers by value: 1000 and
// 1e3 (a Decimal) are the same number.
func jsonEqual(a, b any) bool {
	if da, ok := toDecimal(a); ok {
		db, ok := toDecimal(b)
		return ok && da.Cmp(db) == 0
	}
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], bs[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestJSONEqual(t *testing.T) {
	// The comparison the fuzz target relies on must be able to fail.
	pairs := []struct {
		a, b any
		eq   bool
	}{
		{1000, MustDecimal("1e3"), true},
		{MustDecimal("10.20"), MustDecimal("10.2"), true},
		{1, 2, false},
		{1, "1", false},
		{map[string]any{"a": 1}, map[string]any{"a": 1, "b": 2}, false},
		{map[string]any{"a": 1}, map[string]any{"b": 1}, false},
		{[]any{1, "x"}, []any{1, "x"}, true},
		{[]any{1}, []any{1, 1}, false},
		{nil, nil, true},
		{nil, false, false},
	}
	for _, p := range pairs {
		if jsonEqual(p.a, p.b) != p.eq {
			t.Errorf("jsonEqual(%#v, %#v) = %v", p.a, p.b, !p.eq)
		}
	}
}
