package caddyfile

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

const healthCaddyfile = `{
` + testGlobals + `	billbridge {
		store redis redis://%s {
			timeout 300ms
			dial_timeout 300ms
		}
		legacy %s
	}
}
http://localhost:9080 {
	handle /healthz {
		billbridge_health
	}
}
`

func getHealth(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v: %s", url, err, b)
	}
	return resp.StatusCode, m
}

// TestHealth: the load balancer's handler and the admin endpoint say 200
// while the store answers and 503 when it does not, with what is wrong.
func TestHealth(t *testing.T) {
	srv := redistest.Start(t)
	stub := newLegacyStub(t)
	tester := newTester(t)
	initServer(t, tester, fmt.Sprintf(healthCaddyfile, srv.Addr, stub.URL()))
	for _, url := range []string{"http://localhost:9080/healthz", "http://localhost:2999/billbridge/health"} {
		status, m := getHealth(t, url)
		st, _ := m["store"].(map[string]any)
		if status != 200 || m["status"] != "ok" || st["kind"] != "redis" || st["reachable"] != true {
			t.Errorf("%s with Redis up: %d %v", url, status, m)
		}
		// The test's Redis keeps nothing on disk: the report says so.
		if st["durable"] != false || st["detail"] == "" {
			t.Errorf("%s: store %v, want durable false and why", url, st)
		}
	}
	srv.Kill()
	for _, url := range []string{"http://localhost:9080/healthz", "http://localhost:2999/billbridge/health"} {
		status, m := getHealth(t, url)
		st, _ := m["store"].(map[string]any)
		if status != 503 || m["status"] != "down" || st["reachable"] != false || st["detail"] == "" {
			t.Errorf("%s with Redis down: %d %v", url, status, m)
		}
	}
}
