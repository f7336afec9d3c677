package mappings

import (
	"bytes"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// responseProbes are answer-side mappings of the kinds Caddyfiles hold
// (when rules, reply fields), run on every fuzzed answer: whatever the
// legacy system sends, they give a value or an error, never a panic.
var responseProbes = []string{
	`res.status == 200 && (res.body.ok == true || res.body.error == "duplicate")`,
	`res.body?.customer?.amt_due ?? 0`,
	`format_amount(res.body.amount, "USD")`,
	`text(res.body.code) + res.header["Content-Type"]`,
	`format_date(res.body.paid_at, "2006-01-02 15:04:05")`,
	`from_unix_ms(res.body.ts)`,
	`len(res.text) > 0 ? res.body : nil`,
}

// FuzzNewResponse: a legacy answer of any content type and bytes decodes
// without a panic, the same way every time, to what its content type
// promises: JSON (with or without parameters, and JSON-looking text/plain
// or untyped bodies) to exact values with no float, a form to a map of
// strings, anything else (or anything that fails to decode) to its text.
func FuzzNewResponse(f *testing.F) {
	names, _ := filepath.Glob("../examples/payloads/*.json")
	if len(names) == 0 {
		f.Fatal("no payloads in examples/payloads to seed with")
	}
	for _, name := range names {
		if b, err := os.ReadFile(name); err == nil {
			f.Add("application/json", b)
			f.Add("", b)
		}
	}
	for _, tc := range []struct{ ct, body string }{
		{"application/json; charset=utf-8", `{"ok":true,"amount":10.20,"code":0}`},
		{"application/problem+json", `{"error":"duplicate"}`},
		{"APPLICATION/JSON", `[1,2.5,"x"]`},
		{"application/json", `{"ok":`},
		{"application/json", `1e1000`},
		{"application/x-www-form-urlencoded", "ok=true&amount=10.20&amount=11"},
		{"application/x-www-form-urlencoded", "a=%zz&b=1"},
		{"application/x-www-form-urlencoded; charset=utf-8", "k=%E1%9E%80;x=1"},
		{"text/plain", `  {"ok":true}`},
		{"text/plain", `[1`},
		{"", "OK"},
		{"text/html", "<p>error</p>"},
		{"multipart/form-data; boundary=x", "--x--"},
		{"application/json; charset=\"", `{}`},
		{";;;", `{}`},
		{"application/json", "\xff\xfe{}"},
		{"application/json", `{"paid_at":"2024-11-29T16:58:16.727168","ts":1706600000000}`},
	} {
		f.Add(tc.ct, []byte(tc.body))
	}
	env := ResponseEnv[struct{}]{}
	progs := make([]*Program, len(responseProbes))
	for i, src := range responseProbes {
		p, err := testCompiler.Compile(src, env, KindAny)
		if err != nil {
			f.Fatalf("probe %s: %v", src, err)
		}
		progs[i] = p
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		orig := bytes.Clone(body)
		h := http.Header{"Content-Type": {ct}, "X-Other": {"1"}}
		res := NewResponse(207, h, body)
		if res.Status != 207 || res.Text != string(body) || res.Header["Content-Type"] != ct || res.Header["X-Other"] != "1" {
			t.Fatalf("status, text or header not kept: %+v", res)
		}
		if !bytes.Equal(body, orig) {
			t.Fatalf("NewResponse changed the body it was given")
		}
		assertExact(t, res.Body, "body")
		if again := DecodeBody(ct, body); !reflect.DeepEqual(again, res.Body) {
			t.Fatalf("decoding %q (%q) twice: %#v, then %#v", body, ct, res.Body, again)
		}
		switch v := res.Body.(type) {
		case string:
			if v != string(body) {
				t.Fatalf("undecoded body %q is not the body %q", v, body)
			}
		case map[string]any:
			if _, isJSON := DecodeJSON(body); isJSON != nil {
				// Not JSON, so a form: every value is a string.
				for k, fv := range v {
					if _, ok := fv.(string); !ok {
						t.Fatalf("form field %q is %T", k, fv)
					}
				}
			}
		}
		if _, isText := res.Body.(string); !isText {
			// Decoded: the same bytes as JSON or a form give the same value
			// whatever the media type's parameters.
			if again := DecodeBody(ct+"; x=y", body); validMediaType(ct) && !reflect.DeepEqual(again, res.Body) {
				t.Fatalf("a parameter changed the decoding of %q (%q)", body, ct)
			}
		}
		renv := ResponseEnv[struct{}]{Res: res}
		for _, p := range progs {
			_, _ = p.Run(renv) // an error is fine; a panic fails the fuzz
		}
	})
}

// validMediaType reports whether ct parses as a media type without
// parameters, so that appending one keeps it valid.
func validMediaType(ct string) bool {
	_, params, err := mime.ParseMediaType(ct)
	return err == nil && len(params) == 0 && !strings.Contains(ct, ";")
}
