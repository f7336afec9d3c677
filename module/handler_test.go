package billbridge_test

import (
	"strings"
	"testing"

	billbridge "github.com/billbridge/caddy-billbridge/module"
)

// TestNamespaceIsNotAGateway: the admin API reads a first segment naming a
// gateway as that gateway, so JSON refuses such a namespace as the
// Caddyfile does.
func TestNamespaceIsNotAGateway(t *testing.T) {
	s, err := billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1"},"bill24":{"tokens":["t"]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const flow = `"flow":{"name":"bill24_webhook","call":{"method":"POST","path":"\"/pay\""}}`
	if _, err := s.Handler([]byte(`{"namespace":"shop-a",` + flow + `}`)); err != nil {
		t.Fatalf("namespace shop-a: %v", err)
	}
	for _, ns := range []string{"bill24", "qm"} {
		_, err := s.Handler([]byte(`{"namespace":"` + ns + `",` + flow + `}`))
		if err == nil || !strings.Contains(err.Error(), `namespace "`+ns+`" is a gateway's name`) {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
}
