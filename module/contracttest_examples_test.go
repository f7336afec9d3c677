package billbridge_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	// The examples use Caddy's standard modules (the production one's log
	// filter), as the caddy binary that runs billbridge-test has them.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	billbridge "github.com/billbridge/caddy-billbridge/module"
)

// TestExampleCases runs every example's contract-test cases
// (examples/*/cases/*.json) against its Caddyfile, as
// `caddy billbridge-test --config examples/x/Caddyfile examples/x/cases`
// does. Every example must ship cases, and every case must pass.
func TestExampleCases(t *testing.T) {
	dirs, err := filepath.Glob("../examples/*/Caddyfile")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, cf := range dirs {
		dir := filepath.Dir(cf)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cases, _ := filepath.Glob(filepath.Join(dir, "cases", "*.json"))
			if len(cases) == 0 {
				t.Fatalf("%s ships no cases", dir)
			}
			cfg := adapt(t, cf)
			var out strings.Builder
			failed, err := billbridge.ContractTest(cfg, []string{filepath.Join(dir, "cases")}, &out)
			if err != nil {
				t.Fatal(err)
			}
			t.Log("\n" + out.String())
			if failed > 0 {
				t.Errorf("%d case(s) failed:\n%s", failed, out.String())
			}
			if n := strings.Count(out.String(), "PASS "); n != len(cases) {
				t.Errorf("%d cases passed, want %d", n, len(cases))
			}
		})
	}
}

// adapt adapts a Caddyfile as `caddy billbridge-test --config` does.
func adapt(t *testing.T, path string) []byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": path})
	if err != nil {
		t.Fatalf("adapt %s: %v", path, err)
	}
	return cfg
}
