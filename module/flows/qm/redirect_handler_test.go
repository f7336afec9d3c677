package qm_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRedirectRefusesWhatTheBillMakesUnsafe is the walk-around: a
// merchant reference that the old check let through `"/" +
// req.merchantReference` as another host, a Location-less 302, or the
// shop's root.
func TestRedirectRefusesWhatTheBillMakesUnsafe(t *testing.T) {
	env := newQMEnv(t)
	h, err := env.s.HandlerFromCaddyfile("billbridge qm_redirect {\n\tredirect `\"/\" + req.merchantReference`\n}")
	if err != nil {
		t.Fatal(err)
	}
	for i, ref := range []string{"\t/evil.example", "\n/evil.example", "x\x00", "..", "%2e%2e", "/evil.example", "\\evil.example", "orders/../../admin"} {
		id := "BAD" + string(rune('A'+i))
		env.bill(id, 1, "10.00")["merchantReference"] = ref
		w := serve(t, h, httptest.NewRequest(http.MethodGet, "/qm/return?billId="+id, nil))
		if w.Code != 400 || w.Header().Get("Location") != "" || !strings.HasPrefix(w.Body.String(), "<!doctype html>") ||
			!strings.Contains(w.Body.String(), "return address is not valid") {
			t.Errorf("reference %q: %d Location %q %s, want the 400 page", ref, w.Code, w.Header().Get("Location"), w.Body)
		}
	}
	env.bill("OK", 1, "10.00")["merchantReference"] = "orders/ORD-1"
	w := serve(t, h, httptest.NewRequest(http.MethodGet, "/qm/return?billId=OK", nil))
	if w.Code != 302 || w.Header().Get("Location") != "/orders/ORD-1" {
		t.Errorf("a plain reference: %d Location %q", w.Code, w.Header().Get("Location"))
	}
}

// A mapping that cannot run is the config's fault, not the bill's: 500.
func TestRedirectMappingFailureIs500(t *testing.T) {
	env := newQMEnv(t)
	h, err := env.s.HandlerFromCaddyfile("billbridge qm_redirect {\n\tredirect `\"/\" + text(req.raw.missing.deeper)`\n}")
	if err != nil {
		t.Fatal(err)
	}
	env.bill("B1", 1, "10.00")
	if w := serve(t, h, httptest.NewRequest(http.MethodGet, "/qm/return?billId=B1", nil)); w.Code != 500 || w.Header().Get("Location") != "" {
		t.Errorf("%d Location %q %s, want 500", w.Code, w.Header().Get("Location"), w.Body)
	}
}
