package billbridge

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// verdictsDeclared lists the Verdict constants flow.go declares, read from
// the source so that a verdict added without a policy fails here.
func verdictsDeclared(t *testing.T) []Verdict {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "flow.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []Verdict
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Verdict" {
				continue
			}
			for _, v := range vs.Values {
				lit := v.(*ast.BasicLit)
				s, _ := strconv.Unquote(lit.Value)
				out = append(out, Verdict(s))
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found %d verdicts in flow.go; the parser missed them", len(out))
	}
	return out
}

// TestPolicyTableIsComplete: every verdict has a policy, and the policies
// keep the promises the pipeline makes to gateways.
func TestPolicyTableIsComplete(t *testing.T) {
	for _, v := range verdictsDeclared(t) {
		pol, ok := policies[v]
		if !ok {
			t.Errorf("verdict %q has no policy", v)
			continue
		}
		if pol.status == http.StatusServiceUnavailable && !pol.retryAfter {
			t.Errorf("%s: a 503 must say when to come back (Retry-After)", v)
		}
		if pol.settle == complete && pol.status != http.StatusOK {
			t.Errorf("%s completes a payment but answers %d: the gateway must be told it is done", v, pol.status)
		}
		if (pol.settle == releaseClean || pol.settle == releaseMaybe || pol.settle == releaseLater) && pol.status < 400 {
			t.Errorf("%s releases the claim but answers %d: the gateway must retry", v, pol.status)
		}
		if pol.status >= 400 && pol.message == "" {
			t.Errorf("%s answers %d without a default message", v, pol.status)
		}
		if pol.counter != "" && !strings.HasPrefix(pol.counter, "verify:") && !strings.HasPrefix(pol.counter, "dedupe:") {
			t.Errorf("%s counts %q, which no metric takes", v, pol.counter)
		}
	}
	for v := range policies {
		found := false
		for _, d := range verdictsDeclared(t) {
			found = found || d == v
		}
		if !found {
			t.Errorf("policy for %q, a verdict flow.go does not declare", v)
		}
	}
}

// TestUncertainVerdictsAreHeld: the answers that may mean "booked" never
// release a claim as certain.
func TestUncertainVerdictsAreHeld(t *testing.T) {
	for _, v := range []Verdict{LegacyFailed, LegacyTimeout, AnswerUnreadable} {
		if s := policies[v].settle; s != releaseLater {
			t.Errorf("%s settles %d, want releaseLater", v, s)
		}
	}
	for _, v := range []Verdict{LegacyRefused, LegacyUnreachable, RequestUnmapped, BadData} {
		if s := policies[v].settle; s != releaseClean {
			t.Errorf("%s settles %d, want releaseClean (certainly not booked)", v, s)
		}
	}
}

func TestFailedCallClassification(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Verdict
		ok   bool
	}{
		{"no error", nil, "", false},
		{"mapping", &mappingError{err: errString("x")}, RequestUnmapped, true},
		{"never sent", &callError{err: errString("refused")}, LegacyUnreachable, true},
		{"sent, then cut", &callError{err: errString("EOF"), sent: true}, LegacyFailed, true},
		{"timeout", &callError{err: errString("deadline"), sent: true, timeout: true}, LegacyTimeout, true},
		{"a Sender's own error", errString("qm down"), "", false},
	} {
		res, ok := failedCall(Outcome{Err: tc.err})
		if ok != tc.ok || res.Verdict != tc.want {
			t.Errorf("%s: %q %v, want %q %v", tc.name, res.Verdict, ok, tc.want, tc.ok)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
