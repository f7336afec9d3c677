package bill24

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

// provisionedWebhook is a bill24_webhook flow provisioned on its own.
func provisionedWebhook(t testing.TB) *Webhook {
	t.Helper()
	s, err := billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1","timeout":"2s"},"bill24":{"tokens":["t"]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	f := new(Webhook)
	src := "bill24_webhook {\n\tcall POST /api/payments {\n\t\tfield ref `req.id`\n\t}\n}"
	if err := f.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err != nil {
		t.Fatal(err)
	}
	if err := f.Provision(s.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

const khmerWebhook = `{"tran_id":"T-1","tran_amount":"45.10","fee_amount":0.90,"total_amount":46.00,"currency":"USD","bank_ref":"AC1","status":"success",` +
	`"customers":[{"customer_code":"C1","customer_name":"ម៉ៅ សាមន","amount":45.10}],"note":"<b>&</b>"}`

// TestKeepRestoreIsTheSameEvent: a held webhook comes back as the event
// the pipeline had, Khmer names and exact amounts included, with and
// without Bill24's verified record.
func TestKeepRestoreIsTheSameEvent(t *testing.T) {
	f := provisionedWebhook(t)
	plain, err := f.Decode(nil, []byte(khmerWebhook))
	if err != nil {
		t.Fatal(err)
	}
	verifiedEv, _ := f.Decode(nil, []byte(khmerWebhook))
	tx, err := wire.DecodeTransaction([]byte(`{"tran_id":"T-1","status":"success","tran_amount":45.1,"fee_amount":"0.9","total_amount":46,"currency":"USD","bank_ref":"AC1","identity_code":"ID-9","customers":[{"customer_code":"C1","bill_no":"B-7","amount":45.1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	reconciled, what := reconcile(verifiedEv.Payload.(wire.Webhook), tx)
	if what != "" {
		t.Fatal(what)
	}
	verifiedEvent(verifiedEv, reconciled, tx)

	for name, ev := range map[string]*billbridge.Event{"plain": plain, "verified": verifiedEv} {
		t.Run(name, func(t *testing.T) {
			kept, err := f.Keep(ev, []byte(khmerWebhook))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Restore(kept)
			if err != nil {
				t.Fatalf("Restore(%s): %v", kept, err)
			}
			if got.ID != ev.ID || got.Fingerprint != ev.Fingerprint || got.LogID != ev.LogID {
				t.Errorf("restored %q %q, want %q %q", got.ID, got.Fingerprint, ev.ID, ev.Fingerprint)
			}
			w, want := got.Payload.(wire.Webhook), ev.Payload.(wire.Webhook)
			if !reflect.DeepEqual(w, want) {
				t.Errorf("restored payload differs:\n got %+v\nwant %+v", w, want)
			}
			if w.Customers[0].CustomerName != "ម៉ៅ សាមន" || w.Amount.String() != map[string]string{"plain": "45.10", "verified": "45.1"}[name] {
				t.Errorf("restored %q %s", w.Customers[0].CustomerName, w.Amount)
			}
		})
	}
	if verifiedEv.Payload.(wire.Webhook).IdentityCode != "ID-9" {
		t.Fatalf("the verified event does not carry Bill24's record")
	}
}

func TestRestoreRefusesWhatCannotBeDelivered(t *testing.T) {
	f := provisionedWebhook(t)
	for _, kept := range []string{``, `{}`, `not json`, `{"webhook":{"tran_id":"T"}}`,
		`{"webhook":` + khmerWebhook + `,"verified":{"tran_id":"OTHER"}}`} {
		if _, err := f.Restore([]byte(kept)); err == nil {
			t.Errorf("Restore(%s) = nil error", kept)
		} else if strings.Contains(err.Error(), "panic") {
			t.Errorf("Restore(%s): %v", kept, err)
		}
	}
}

func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"webhook":` + khmerWebhook + `}`))
	f.Add([]byte(`{"webhook":` + khmerWebhook + `,"verified":{"tran_id":"T-1","tran_amount":45.1}}`))
	w := provisionedWebhook(f)
	f.Fuzz(func(t *testing.T, kept []byte) {
		ev, err := w.Restore(kept)
		if err == nil && ev.ID == "" {
			t.Errorf("restored an event without an id from %q", kept)
		}
	})
}
