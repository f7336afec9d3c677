package caddyfile

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

// TestProductionExample serves examples/production/Caddyfile on a durable
// Redis: it starts (require_durable passes), posts a payment once, answers
// the health check, refuses an address outside the allow-list with 403,
// and its access log holds the request but not Bill24's token.
func TestProductionExample(t *testing.T) {
	redis := redistest.StartWith(t, "--appendonly", "yes", "--maxmemory-policy", "noeviction")
	stub := newLegacyStub(t)
	const token = "tok-prod-7f3a9c"
	t.Setenv("REDIS_URL", "redis://"+redis.Addr)
	t.Setenv("LEGACY_URL", stub.URL())
	t.Setenv("LEGACY_API_KEY", "k")
	t.Setenv("OPS_PASSWORD_HASH", opsPasswordHash)
	t.Setenv("BILL24_TOKEN", token)
	t.Setenv("SITE", "http://localhost:9080")
	accessLog := filepath.Join(t.TempDir(), "access.log")
	tester := newTester(t)
	cfg := func(allow string) string {
		return exampleConfig(t, "production",
			"output stdout", "output file "+accessLog,
			"203.0.113.0/24", allow)
	}

	initServer(t, tester, cfg("127.0.0.1/32 ::1/128"))
	id := uniqueID(t, "prod")
	for i := range 2 {
		if status, body, _ := post(t, tester, "http://localhost:9080/bill24/webhook", token, webhookV1(id, "45")); status != 200 || body != ackOK {
			t.Fatalf("delivery %d: %d %s", i+1, status, body)
		}
	}
	// A durable store holds the payment: a worker posts it just after
	// the answer.
	eventually(5*time.Second, func() bool { return len(stub.ledger(id)) > 0 })
	time.Sleep(200 * time.Millisecond)
	if n := len(stub.ledger(id)); n != 1 {
		t.Errorf("posted %d times, want 1", n)
	}
	status, m := getHealth(t, "http://localhost:9080/healthz")
	if st, _ := m["store"].(map[string]any); status != 200 || st["durable"] != true {
		t.Errorf("health: %d %v, want 200 with a durable store", status, m)
	}

	// The console, behind basic_auth: refused without the password.
	for _, c := range []struct {
		user, pass string
		want       int
	}{{"", "", 401}, {"ops", "wrong", 401}, {"ops", "ops-secret", 200}} {
		req, _ := http.NewRequest("GET", "http://localhost:9080/ops/", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || c.want == 200 && !strings.Contains(string(page), "<h1>Payments in custody</h1>") {
			t.Errorf("console as %q/%q: %d, want %d (and the list page)", c.user, c.pass, resp.StatusCode, c.want)
		}
	}

	initServer(t, tester, cfg("203.0.113.0/24"))
	outsider := uniqueID(t, "outsider")
	if status, _, _ := post(t, tester, "http://localhost:9080/bill24/webhook", token, webhookV1(outsider, "45")); status != 403 {
		t.Errorf("an address outside the allow-list: %d, want 403", status)
	}
	if n := len(stub.ledger(outsider)); n != 0 {
		t.Errorf("an outsider's webhook was posted %d times", n)
	}

	logged, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logged), "/bill24/webhook") {
		t.Fatalf("the access log has no webhook request:\n%s", logged)
	}
	if strings.Contains(string(logged), token) {
		t.Errorf("the access log holds Bill24's token")
	}
}
