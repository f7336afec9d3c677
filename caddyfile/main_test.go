package caddyfile

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// shortSkip is the reason every integration test gives under -short.
const shortSkip = "integration test (a real Caddy through caddytest, admin on localhost:2999): skipped under -short"

// TestMain says once, under -short, that the integration tests are
// skipped, since a t.Skip is only visible with -v. The adapt golden tests
// and the example validation need no running server and still run.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Fprintln(os.Stderr, "caddyfile: -short: skipping the caddytest integration tests; the Caddyfile adapt and example validation tests still run")
	}
	os.Exit(m.Run())
}

// newTester is the only way a test here gets a caddytest.Tester, so every
// integration test skips under -short before it starts anything.
func newTester(t *testing.T) *caddytest.Tester {
	t.Helper()
	if testing.Short() {
		t.Skip(shortSkip)
	}
	return caddytest.NewTester(t)
}

// testGlobals are the global options every integration test's Caddyfile
// starts with: caddytest's admin endpoint and ports, no trust store.
const testGlobals = `	admin localhost:2999
	http_port 9080
	https_port 9443
	skip_install_trust
	persist_config off
`
