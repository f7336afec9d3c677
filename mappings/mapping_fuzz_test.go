package mappings

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeJSON: DecodeJSON never panics; what it decodes holds no float
// and writes back, with EncodeJSONValue, as valid JSON that decodes to an
// equal value (numbers compared by value: 1e3 comes back as 1000).
func FuzzDecodeJSON(f *testing.F) {
	fixtures, _ := filepath.Glob("../examples/payloads/*.json")
	if len(fixtures) == 0 {
		f.Fatal("no fixtures under ../examples/payloads")
	}
	for _, name := range fixtures {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, `0`, `-0`, `-0.0`, `10.20`, `50000.00`, `1e3`, `1E-2`,
		`9223372036854775807`, `9223372036854775808`, `-9223372036854775809`, `1e1000`, `1e-1000`,
		`1e1001`, `0.1`, `"ជា សំណាង"`, `"\ud800"`, `"\u0000<>&"`, "\"\xff\"", `{"a":1,"a":2}`,
		`{"a":{"b":[1,2.5,{"c":null}]}}`, `[[[[[[[[]]]]]]]]`, `{"a":1}}`, `{"a":1} 2`, `{`, ``,
		`{"\u00e9":1}`, "{\"k\xff\":1}", `[1.0e+2, -0.5E-1]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeJSON(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("DecodeJSON accepted invalid JSON %q", b)
		}
		assertExact(t, v, "value")
		out, err := EncodeJSONValue(v)
		if err != nil {
			t.Fatalf("EncodeJSONValue(DecodeJSON(%q)): %v", b, err)
		}
		if !json.Valid(out) {
			t.Fatalf("EncodeJSONValue wrote invalid JSON %q from %q", out, b)
		}
		back, err := DecodeJSON(out)
		if err != nil {
			t.Fatalf("DecodeJSON(%q), from %q: %v", out, b, err)
		}
		if !jsonEqual(v, back) {
			t.Fatalf("round trip of %q changed the value: %#v, then %#v", b, v, back)
		}
		// Writing is deterministic (map keys are sorted).
		if again, err := EncodeJSONValue(back); err != nil || string(again) != string(out) {
			t.Fatalf("second encoding %q differs from %q (%v)", again, out, err)
		}
	})
}
