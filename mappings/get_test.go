package mappings

import (
	"strings"
	"testing"
)

// Field access on decoded bodies goes through _get instead of expr's
// reflective fetch; it must mean the same thing.
func TestUntypedFieldAccess(t *testing.T) {
	body, err := DecodeJSON([]byte(`{"a":{"b":"x","n":null,"list":[1,2,{"c":"deep"}]},"k":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	env := ResponseEnv[struct{}]{Res: Response{Status: 200, Body: body}}
	c := NewCompiler(DefaultExponents())
	for _, tc := range []struct {
		src  string
		want any
		err  string
	}{
		{`res.body.a.b`, "x", ""},
		{`res.body.a.missing`, nil, ""},
		{`res.body.a.n`, nil, ""},
		{`res.body.a[res.body.k]`, "x", ""},
		{`res.body.a.list[2].c`, "deep", ""},
		{`res.body.a.list[-1].c`, "deep", ""},
		{`res.body.a.missing?.c`, nil, ""},
		{`res.body.a.missing.c`, nil, "cannot fetch c from <nil>"},
		{`res.body.a.list[7]`, nil, "index out of range"},
	} {
		p, err := c.Compile(tc.src, env, KindAny)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got, err := p.Run(env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, %v; want error %q", tc.src, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %#v, %v; want %#v", tc.src, got, err, tc.want)
		}
	}
}
