package billbridge

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEventPaths(t *testing.T) {
	for _, tc := range []struct {
		in, flow, id, action string
	}{
		{"bill24/webhook/348b4b16-aa", "bill24:webhook", "348b4b16-aa", ""},
		{"qm/create_bill/B1", "qm:create_bill", "B1", ""},
		{"shop-a/bill24/webhook/x", "shop-a:bill24:webhook", "x", ""},
		{"bill24/webhook/a/b/c", "bill24:webhook", "a/b/c", ""},
		{"bill24/webhook/x/redeliver", "bill24:webhook", "x", "redeliver"},
		{"shop_2/qm/callback/x/discard", "shop_2:qm:callback", "x", "discard"},
		{"bill24/webhook/a/b/discard", "bill24:webhook", "a/b", "discard"},
		{"bill24/webhook/a%2Fdiscard", "bill24:webhook", "a/discard", ""},
		{"bill24/webhook/redeliver", "bill24:webhook", "redeliver", ""}, // an id, there is no other
		{"bill24/webhook/redelive%72", "bill24:webhook", "redeliver", ""},
		{"bill24/webhook/x/redelive%72", "bill24:webhook", "x/redeliver", ""},
		{"bill24/webhook/%E1%9E%80", "bill24:webhook", "ក", ""},
	} {
		ref, action, err := parseEventPath(tc.in)
		if err != nil || ref.Flow != tc.flow || ref.ID != tc.id || action != tc.action {
			t.Errorf("parseEventPath(%q) = %+v, %q, %v; want %s %q %q", tc.in, ref, action, err, tc.flow, tc.id, tc.action)
		}
	}
	for _, in := range []string{"", "bill24", "bill24/webhook", "bill24/webhook/", "shop/bill24/webhook", "shop/bill24/webhook/",
		"x/y/webhook/1", "/bill24/webhook/1", "bill24//1", "bill24/web:hook/1", "bill24/webhook/a%zz", "sh%2Fp/bill24/webhook/1"} {
		if ref, action, err := parseEventPath(in); err == nil {
			t.Errorf("parseEventPath(%q) = %+v, %q: want an error", in, ref, action)
		}
	}
}

func TestEventArgs(t *testing.T) {
	ref, err := parseEventArg("shop-a/qm/callback/B/1")
	if err != nil || ref.Key() != "shop-a:qm:callback:B/1" || ref.String() != "shop-a/qm/callback/B/1" ||
		ref.Path() != "/billbridge/events/shop-a/qm/callback/B%2F1" {
		t.Errorf("parseEventArg = %+v (%s), %v", ref, ref.Path(), err)
	}
	if ref, err := parseEventArg("bill24:webhook:1"); err == nil {
		t.Errorf("a store key is taken as an address: %+v", ref)
	}
	for _, tc := range []struct{ in, key string }{
		{"bill24/webhook", "bill24:webhook"},
		{"shop-a/qm/callback", "shop-a:qm:callback"},
	} {
		if key, err := parseFlow(tc.in); err != nil || key != tc.key {
			t.Errorf("parseFlow(%q) = %q, %v", tc.in, key, err)
		}
	}
	if p := (eventRef{Flow: "qm:callback", ID: ".."}).Path(); p != "/billbridge/events/qm/callback/%2E%2E" {
		t.Errorf("Path of .. = %s", p)
	}
}

// checkRoundTrip: what parses names one event, and its own path and
// address name it again.
func checkRoundTrip(t *testing.T, ref eventRef) {
	t.Helper()
	if !strings.HasPrefix(ref.Key(), ref.Flow+":") || ref.ID == "" {
		t.Fatalf("ref %+v", ref)
	}
	again, action, err := parseEventPath(strings.TrimPrefix(ref.Path(), eventsPath+"/"))
	if err != nil || again != ref || action != "" {
		t.Fatalf("path %s parses to %+v %q %v, want %+v", ref.Path(), again, action, err, ref)
	}
	for _, act := range []string{actionRedeliver, actionDiscard} {
		again, action, err = parseEventPath(strings.TrimPrefix(ref.Path(), eventsPath+"/") + "/" + act)
		if err != nil || again != ref || action != act {
			t.Fatalf("path %s/%s parses to %+v %q %v", ref.Path(), act, again, action, err)
		}
	}
	if again, err := parseEventArg(ref.String()); err != nil || again != ref {
		t.Fatalf("address %s parses to %+v %v", ref, again, err)
	}
}

func FuzzEventPath(f *testing.F) {
	for _, s := range []string{"bill24/webhook/1", "shop/qm/callback/a%2Fb/redeliver", "bill24/webhook/a/b/discard", "x/y/z/w", "bill24/webhook/%2E%2E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ref, _, err := parseEventPath(in)
		if err == nil {
			checkRoundTrip(t, ref)
		}
		if ref, err := parseEventArg(in); err == nil {
			checkRoundTrip(t, ref)
		}
	})
}

func FuzzParseDiscard(f *testing.F) {
	for _, s := range []string{`{"reason":"paid by cheque"}`, `{"reason":"\u1780"}`, `{}`, `{"reason":""}`, `{"reason":"a"} x`, "{\"reason\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		reason, err := parseDiscard(body)
		if err != nil {
			return
		}
		if reason == "" || len(reason) > MaxDiscardReason || !utf8.ValidString(reason) || strings.TrimSpace(reason) != reason ||
			strings.ContainsFunc(reason, func(c rune) bool { return c < ' ' || c == 0x7f }) {
			t.Fatalf("parseDiscard(%q) took %q", body, reason)
		}
	})
}
