package qm

import (
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/qm"
)

func provisionedCallback(t testing.TB) *Callback {
	t.Helper()
	s, err := billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1"},"qm":{"base_url":"http://127.0.0.1:1","key":"k","secret":"s"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	f := new(Callback)
	src := "qm_callback {\n\tcall POST /api/payments {\n\t\tfield ref `req.billId`\n\t}\n\ton_failed POST /api/bill-status\n}"
	if err := f.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err != nil {
		t.Fatal(err)
	}
	if err := f.Provision(s.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestKeepRestoreIsTheSameBill: a held callback comes back as the bill
// QM's Requery gave, unknown fields, exact amounts and Khmer text
// included, with the call its status asks for.
func TestKeepRestoreIsTheSameBill(t *testing.T) {
	f := provisionedCallback(t)
	for _, body := range []string{
		`{"billId":"B-1","merchantReference":"INV-ក-7","billAmount":"100.10","currency":"MYR","status":1,"isFinal":true,"dateTime":1733900000000,"extra":{"n":1e2,"s":"ម៉ៅ"}}`,
		`{"billId":"B-2","billAmount":5,"currency":"MYR","status":2,"isFinal":true}`,
	} {
		b, err := wire.DecodeCallback([]byte(body), nil)
		if err != nil {
			t.Fatal(err)
		}
		ev := f.event(b)
		kept, err := f.Keep(ev, []byte("the body is not what is kept"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Restore(kept)
		if err != nil {
			t.Fatalf("Restore(%s): %v", kept, err)
		}
		// The same bill, and the same document: a number may come back
		// in another spelling of the same value (1e2 as 100).
		gb, wb := got.Payload.(wire.Bill), ev.Payload.(wire.Bill)
		graw, _ := mappings.EncodeJSONValue(gb.Raw)
		wraw, _ := mappings.EncodeJSONValue(wb.Raw)
		gb.Raw, wb.Raw = nil, nil
		if !reflect.DeepEqual(gb, wb) || string(graw) != string(wraw) || got.Fingerprint != ev.Fingerprint || got.Call != ev.Call {
			t.Errorf("restored %+v %s (call %p), want %+v %s (call %p)", gb, graw, got.Call, wb, wraw, ev.Call)
		}
	}
	if _, err := f.Restore([]byte(`{"billId":"B-3"}`)); err == nil {
		t.Error("a kept bill without an amount was restored")
	}
}
