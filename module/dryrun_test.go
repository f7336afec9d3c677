package billbridge_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	billbridge "github.com/billbridge/caddy-billbridge/module"
	_ "github.com/billbridge/caddy-billbridge/module/flows/bill24"
	_ "github.com/billbridge/caddy-billbridge/module/flows/qm"
)

func TestDryRun(t *testing.T) {
	t.Setenv("LEGACY_API_KEY", "k")
	src, err := os.ReadFile("../examples/quickstart/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile("../examples/payloads/bill24_webhook_checkout.json")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := billbridge.DryRun(cfg, "bill24_webhook", 1, payload, &out); err != nil {
		t.Fatal(err)
	}
	// The request the real client would send, default Accept included.
	want := `POST http://127.0.0.1:8081/api/payments
Accept: application/json, */*;q=0.5
Content-Type: application/x-www-form-urlencoded; charset=utf-8
Idempotency-Key: 174952172035635
X-Api-Key: k

invoice_no=INV23001&cust_no=12340001&amount=50000.00&ccy=KHR&txn_ref=174952172035635&paid_at=2023-05-10T15%3A47%3A12.890062&channel=AMK&payer_name=%E1%9E%87%E1%9E%B6+%E1%9E%9F%E1%9F%86%E1%9E%8E%E1%9E%B6%E1%9E%84
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	for _, tc := range []struct {
		flow, payload, err string
		n                  int
	}{
		{"bill24_webhook", `{"tran_id":"x"}`, "the gateway would be answered 400", 1},
		{"bill24_webhook", string(payload), "--handler 2: the config has 1 bill24_webhook handler(s)", 2},
		{"qm_callback", string(payload), "no billbridge qm_callback handler in the config", 1},
	} {
		err := billbridge.DryRun(cfg, tc.flow, tc.n, []byte(tc.payload), &out)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s %q: error %v, want %q", tc.flow, tc.payload, err, tc.err)
		}
	}
}
