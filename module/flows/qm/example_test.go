package qm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// exampleBlock returns the `billbridge <flow> { … }` block of a shipped
// example Caddyfile, exactly as written there.
func exampleBlock(t *testing.T, path, flow string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	start := strings.Index(s, "billbridge "+flow+" {")
	if start < 0 {
		t.Fatalf("%s has no %s block", path, flow)
	}
	depth := 0
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return s[start : i+1]
			}
		}
	}
	t.Fatalf("%s: the %s block does not close", path, flow)
	return ""
}

// TestQMExamplePostsThePaidBill runs the shipped QM example's callback
// mappings (its paid_at used to validate and then fail every callback with
// "interface {} is mappings.Decimal, not string") on QM's own callback
// fixture, with Requery answering that bill.
func TestQMExamplePostsThePaidBill(t *testing.T) {
	env := newQMEnv(t)
	fixture, err := os.ReadFile("../../../examples/payloads/qm_callback.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(fixture))
	dec.UseNumber()
	var bill map[string]any
	if err := dec.Decode(&bill); err != nil {
		t.Fatal(err)
	}
	env.qm.bills[bill["billId"].(string)] = bill

	var mu sync.Mutex
	var posted []url.Values
	env.s.PlayLegacy(func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("legacy body %q: %v", body, err)
		}
		mu.Lock()
		posted = append(posted, form)
		mu.Unlock()
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"ok":true}`))}, nil
	})
	h, err := env.s.HandlerFromCaddyfile(exampleBlock(t, "../../../examples/qm/Caddyfile", "qm_callback"))
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, h, httptest.NewRequest(http.MethodPost, "/qm/callback", bytes.NewReader(fixture)))
	if w.Code != 200 {
		t.Fatalf("callback: %d %s", w.Code, w.Body)
	}
	if len(posted) != 1 {
		t.Fatalf("legacy saw %d posts, want 1", len(posted))
	}
	// dateTime 1706600000000 is 2024-01-30T07:33:20Z, 15:33:20 in Kuala Lumpur.
	want := url.Values{"order_no": {"INV-1001"}, "amount": {"100.00"}, "currency": {"USD"},
		"gateway_ref": {"B1706600000000"}, "paid_at": {"2024-01-30 15:33:20"}}
	for k, v := range want {
		if got := posted[0][k]; len(got) != 1 || got[0] != v[0] {
			t.Errorf("%s = %q, want %q", k, got, v[0])
		}
	}
}

// TestQMExampleOldPaidAtIsRefusedAtLoad: the expression the example used
// to ship now fails where `caddy validate` sees it, with its line.
func TestQMExampleOldPaidAtIsRefusedAtLoad(t *testing.T) {
	env := newQMEnv(t)
	block := exampleBlock(t, "../../../examples/qm/Caddyfile", "qm_callback")
	lines := strings.Split(block, "\n")
	at := -1
	for i, l := range lines {
		if strings.Contains(l, "field paid_at ") {
			at = i
			lines[i] = "field paid_at `format_date(date(req.dateTime / 1000), \"2006-01-02 15:04:05\")`"
		}
	}
	if at < 0 {
		t.Fatal("the example has no paid_at field")
	}
	_, err := env.s.HandlerFromCaddyfile(strings.Join(lines, "\n"))
	want := fmt.Sprintf("Testfile:%d", at+1)
	if err == nil || !strings.Contains(err.Error(), "cannot use float64 as argument (type string) to call date") || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want the date call refused at %s", err, want)
	}
}
