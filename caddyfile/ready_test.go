package caddyfile

import (
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// initServer loads a config and waits until the new server answers. Right
// after a config load the listener is handed from the old server to the
// new one, and on a loaded machine a connection made in that moment can be
// reset; a test's first request must not land there.
func initServer(t *testing.T, tester *caddytest.Tester, cfg string) {
	t.Helper()
	tester.InitServer(cfg, "caddyfile")
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for ok := 0; ok < 3; {
		resp, err := client.Get("http://localhost:9080/__billbridge_test_ready")
		if err == nil {
			resp.Body.Close()
			ok++
			continue
		}
		ok = 0
		if time.Now().After(deadline) {
			t.Fatalf("server not answering after the config load: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A reload closes the old server's keep-alive connections; a POST on
	// one the client still holds as idle fails with EOF (Go does not
	// resend a POST, rightly). Start the test's next requests afresh.
	tester.Client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
}
