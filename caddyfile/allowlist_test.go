package caddyfile

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

// readmeAllowList returns the allow-list snippet as the README writes it.
func readmeAllowList(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "<!-- allow-list snippet")
	if !ok {
		t.Fatal("README has no allow-list snippet marker")
	}
	_, block, ok := strings.Cut(after, "```caddyfile\n")
	if !ok {
		t.Fatal("no caddyfile block after the marker")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("the caddyfile block does not end")
	}
	return block
}

// TestREADMEAllowList runs the README's allow-list snippet as written: a
// caller outside the list gets an error status (the gateway retries), never
// an empty 200, and nothing is posted; with the caller's address in the
// list, the payment goes through.
func TestREADMEAllowList(t *testing.T) {
	snippet := readmeAllowList(t)
	stub := newLegacyStub(t)
	tester := newTester(t)
	site := func(block string) string {
		return fmt.Sprintf(`{
`+testGlobals+`	billbridge {
		legacy %s
		bill24 {
			token tok-webhook
		}
	}
}
http://localhost:9080 {
%s
}
`, stub.URL(), block)
	}

	initServer(t, tester, site(snippet))
	id := uniqueID(t, "outsider")
	status, body, _ := post(t, tester, "http://localhost:9080/bill24/webhook", "tok-webhook", webhookV1(id, "45"))
	if status != http.StatusForbidden {
		t.Errorf("a caller outside the list: %d %q, want 403", status, body)
	}
	if n := len(stub.ledger(id)); n != 0 {
		t.Errorf("posted %d times for an outsider", n)
	}

	// The same snippet with this test's own address in the list.
	initServer(t, tester, site(strings.Replace(snippet, "203.0.113.0/24", "127.0.0.1/32 ::1/128", 1)))
	id = uniqueID(t, "insider")
	if status, body, _ := post(t, tester, "http://localhost:9080/bill24/webhook", "tok-webhook", webhookV1(id, "45")); status != http.StatusOK {
		t.Errorf("a caller in the list: %d %q, want 200", status, body)
	}
	if n := len(stub.ledger(id)); n != 1 {
		t.Errorf("posted %d times, want 1", n)
	}
}
