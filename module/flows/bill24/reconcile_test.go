package bill24

import (
	"strings"
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

const genuineWebhook = `{"tran_id":"T1","tran_amount":45,"fee_amount":1,"total_amount":46,"currency":"USD","bank_ref":"AC1",
"identity_code":"ID1","purpose_of_transaction":"INV1","status":"success",
"customers":[{"customer_code":"C1","customer_name":"ម៉ៅ សាមុន","bill_no":"B1","amount":45}]}`

// bill24Record is what Transaction Verify says of the genuine payment.
func bill24Record(t *testing.T) wire.Transaction {
	t.Helper()
	dec := func(s string) mappings.Decimal {
		d, err := mappings.ParseDecimal(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	doc, err := mappings.ParseJSON([]byte(`{"tran_id":"T1","tran_amount":45,"fee_amount":1,"total_amount":46,"currency":"USD","bank_ref":"AC1",
"identity_code":"ID1","purpose_of_transaction":"INV1","status":"success","customers":[{"customer_code":"C1","bill_no":"B1","amount":45}]}`))
	if err != nil {
		t.Fatal(err)
	}
	raw := doc.(map[string]any)
	return wire.Transaction{TranID: "T1", Status: "success", TranAmount: dec("45"), FeeAmount: dec("1"), TotalAmount: dec("46"),
		Currency: "USD", IdentityCode: "ID1", BankRef: "AC1", PurposeOfTransaction: "INV1", Raw: raw}
}

func decodeWebhook(t *testing.T, s string) wire.Webhook {
	t.Helper()
	w, err := wire.DecodeWebhook([]byte(s), mappings.DefaultExponents())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestReconcileRefusesEveryTamperedField: a copy of the webhook with one
// field changed, that Bill24's record also gives, is a mismatch.
func TestReconcileRefusesEveryTamperedField(t *testing.T) {
	for _, tc := range []struct{ from, to, what string }{
		{`"identity_code":"ID1"`, `"identity_code":"ID2"`, "identity_code"},
		{`"purpose_of_transaction":"INV1"`, `"purpose_of_transaction":"INV9"`, "purpose_of_transaction"},
		{`"bank_ref":"AC1"`, `"bank_ref":"AC2"`, "bank_ref"},
		{`"customer_code":"C1"`, `"customer_code":"C2"`, "customers[0].customer_code"},
		{`"bill_no":"B1"`, `"bill_no":"B2"`, "customers[0].bill_no"},
		{`"fee_amount":1,"total_amount":46`, `"fee_amount":2,"total_amount":47`, "fee_amount"},
		{`"tran_amount":45,"fee_amount":1,"total_amount":46`, `"tran_amount":46,"fee_amount":0,"total_amount":46`, "tran_amount"},
		{`"currency":"USD"`, `"currency":"KHR"`, "currency"},
		{`"amount":45}]`, `"amount":44}]`, "customers[0].amount"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			tampered := strings.Replace(genuineWebhook, tc.from, tc.to, 1)
			if tampered == genuineWebhook {
				t.Fatalf("%s not found in the webhook", tc.from)
			}
			_, what := reconcile(decodeWebhook(t, tampered), bill24Record(t))
			if !strings.HasPrefix(what, tc.what) {
				t.Errorf("mismatch %q, want one about %s", what, tc.what)
			}
		})
	}
	if _, what := reconcile(decodeWebhook(t, genuineWebhook), bill24Record(t)); what != "" {
		t.Errorf("the genuine webhook is a mismatch: %s", what)
	}
}

// TestReconcileTakesBill24sRecord: what the webhook leaves out, Bill24's
// record fills in, and the payment's fingerprint is Bill24's payment's.
func TestReconcileTakesBill24sRecord(t *testing.T) {
	sparse := decodeWebhook(t, `{"tran_id":"T1","tran_amount":45,"currency":"USD","status":"success","customers":[{"customer_name":"ម៉ៅ សាមុន"}]}`)
	got, what := reconcile(sparse, bill24Record(t))
	if what != "" {
		t.Fatal(what)
	}
	if got.IdentityCode != "ID1" || got.BankRef != "AC1" || got.PurposeOfTransaction != "INV1" || got.FeeAmount.String() != "1" ||
		got.Customers[0].CustomerCode != "C1" || got.Customers[0].BillNo != "B1" || got.Customers[0].Amount.String() != "45" ||
		got.Customers[0].CustomerName != "ម៉ៅ សាមុន" || got.CustomerCode != "C1" || got.Amount.String() != "45" {
		t.Errorf("reconciled %+v", got)
	}
	full, _ := reconcile(decodeWebhook(t, genuineWebhook), bill24Record(t))
	if got.Fingerprint() != full.Fingerprint() {
		t.Error("a sparse webhook reconciled with Bill24's record fingerprints differently from the full one")
	}
}

func TestReconcileIDsCompareExactly(t *testing.T) {
	rec := bill24Record(t)
	rec.TranID = "t1"
	if _, what := reconcile(decodeWebhook(t, genuineWebhook), rec); !strings.HasPrefix(what, "tran_id") {
		t.Errorf("mismatch %q, want tran_id", what)
	}
}
