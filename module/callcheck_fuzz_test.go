package billbridge

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzLegacyPath feeds gateway data (a consumer code) into legacy paths:
// raw, as a mapping that forgot to escape would, and through urlpath. The
// check never panics, an accepted path never leaves the base URL, and an
// escaped value stays one segment unless it is a dot segment, which is
// refused as bad data.
func FuzzLegacyPath(f *testing.F) {
	for _, s := range []string{"CU003035", "..", ".", "x?amount=99999&reference=OTHER", "CU 003035", "#", "a/b", "ជា", "%2e%2e", "\t/evil", "//evil.example", "\\evil", "http://x"} {
		f.Add(s)
	}
	l := &Legacy{base: &url.URL{Scheme: "http", Host: "legacy.internal", Path: "/base"}}
	f.Fuzz(func(t *testing.T, code string) {
		for _, p := range []string{code, "/c/" + code} {
			u, err := l.resolveURL(p, "")
			if err != nil {
				var pe *pathError
				if !errors.As(err, &pe) {
					t.Fatalf("%q: %v is not a path error", p, err)
				}
				continue
			}
			pu, err := url.Parse(u)
			if err != nil || pu.Host != "legacy.internal" || !strings.HasPrefix(pu.Path, "/base/") {
				t.Fatalf("%q resolved to %q (%v)", p, u, err)
			}
		}
		u, err := l.resolveURL("/c/"+url.PathEscape(code)+"/bill", "")
		if err != nil {
			if code != ".." && code != "." {
				t.Fatalf("escaped %q refused: %v", code, err)
			}
			return
		}
		pu, err := url.Parse(u)
		if err != nil || pu.Host != "legacy.internal" || pu.RawQuery != "" || pu.Fragment != "" {
			t.Fatalf("escaped %q resolved to %q (%v)", code, u, err)
		}
		seg, ok := strings.CutPrefix(pu.EscapedPath(), "/base/c/")
		seg, ok2 := strings.CutSuffix(seg, "/bill")
		if got, err := url.PathUnescape(seg); !ok || !ok2 || err != nil || got != code {
			t.Fatalf("escaped %q came out as the path %q", code, pu.EscapedPath())
		}
	})
}

// FuzzValueRules runs the load-time rules (a literal that reads as an
// expression, a call path's static check) on any text: they never panic,
// and a value that reads as an expression is never plain letters.
func FuzzValueRules(f *testing.F) {
	for _, s := range []string{"req.amount", "USD", "application/json", `"/c/" + urlpath(req.code)`, "a ? b : c", "let x = req.a; x", "{env.X}", "ជា", "[1, {a: 2}]", "#", "map(req.l, #.x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if why := readsAsExpr(s); why != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ") == "" {
			t.Fatalf("%q reads as an expression (%s)", s, why)
		}
		_ = checkPathExpr(s)
		_, _ = literalOf(s)
	})
}
