package caddyfile

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

// opsPasswordHash is the production example's console password, ops-secret.
const opsPasswordHash = "$2a$14$bMcfXRz28DEe4Lhi3CSidOm06vvd7Z7SlNlUVrVed6.7PkzB3H6zm"

// TestExamplesValidate runs each example Caddyfile through what
// `caddy validate` does: adapt, then provision every module.
func TestExamplesValidate(t *testing.T) {
	env := map[string]string{
		"LEGACY_API_KEY": "k", "BILL24_TOKEN": "t", "BILL24_CLIENT_ID": "c", "BILL24_SECRET": "s",
		"BILL24_MERCHANT_TOKEN": "m", "QM_KEY": "k", "QM_SECRET": "s",
		// Durable, as the production example's require_durable wants.
		"REDIS_URL":  "redis://" + redistest.StartWith(t, "--appendonly", "yes", "--maxmemory-policy", "noeviction").Addr,
		"LEGACY_URL": "http://127.0.0.1:8081",
		// caddy hash-password --plaintext ops-secret
		"OPS_PASSWORD_HASH": opsPasswordHash,
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	for _, path := range []string{"../examples/quickstart/Caddyfile", "../examples/qm/Caddyfile", "../examples/bill24-checkout/Caddyfile", "../examples/production/Caddyfile"} {
		t.Run(path, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			adapted, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": path})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("adapt warning: %s", w)
			}
			var cfg caddy.Config
			if err := json.Unmarshal(adapted, &cfg); err != nil {
				t.Fatal(err)
			}
			if err := caddy.Validate(&cfg); err != nil {
				t.Fatalf("validate: %v", err)
			}
		})
	}
}
