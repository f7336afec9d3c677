package caddyfile

import (
	"fmt"
	"strings"
	"testing"
)

const verifyCaddyfile = `{
` + testGlobals + `	billbridge {
		legacy %s {
			timeout 1s
		}
		bill24 {
			token tok-webhook
			verify %s {
				client_id      client-1
				secret         {env.BB_TEST_B24_SECRET}
				merchant_token merchant-token
				timeout        2s
			}
		}
	}
}
http://localhost:9080 {
	handle /a/webhook {
		billbridge bill24_webhook {
			call POST /api/payments {
				encode form
				field txn_ref ` + "`req.id`" + `
				field amount  ` + "`req.amount`" + `
			}
			success ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
		}
	}
	handle /v/webhook {
		billbridge bill24_webhook {
			call POST /api/payments {
				encode form
				field txn_ref  ` + "`req.id`" + `
				field amount   ` + "`req.amount`" + `
				field fee      ` + "`req.fee_amount`" + `
				field identity ` + "`req.identity_code`" + `
				field purpose  ` + "`req.purpose_of_transaction`" + `
				field bank_ref ` + "`req.bank_ref`" + `
				field customer ` + "`req.customers[0].customer_code`" + `
			}
			success ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
		}
	}
}
`

// TestWebhookVerifyTampering delivers, for each field Transaction Verify
// also gives, a tampered copy first and the genuine webhook after it: the
// copy is refused, and the genuine one is posted once, with Bill24's
// values.
func TestWebhookVerifyTampering(t *testing.T) {
	t.Setenv("BB_TEST_B24_SECRET", "b24-secret")
	stub, b24 := newLegacyStub(t), newFakeBill24(t)
	tester := newTester(t)
	initServer(t, tester, fmt.Sprintf(verifyCaddyfile, stub.URL(), b24.srv.URL))
	for _, tc := range []struct{ field, from, to string }{
		{"identity_code", `"identity_code":"ID1"`, `"identity_code":"ID2"`},
		{"purpose_of_transaction", `"purpose_of_transaction":"INV1"`, `"purpose_of_transaction":"INV9"`},
		{"customer_code", `"customer_code":"C1"`, `"customer_code":"C9"`},
		{"bank_ref", `"bank_ref":"AC1"`, `"bank_ref":"AC9"`},
		{"fee_amount", `"fee_amount":1,"total_amount":46`, `"fee_amount":2,"total_amount":47`},
	} {
		t.Run(tc.field, func(t *testing.T) {
			id := uniqueID(t, "tamper")
			genuine := `{"tran_id":"` + id + `","tran_amount":45,"fee_amount":1,"total_amount":46,"currency":"USD","bank_ref":"AC1","identity_code":"ID1","purpose_of_transaction":"INV1","status":"success","customers":[{"customer_code":"C1","customer_name":"ម៉ៅ សាមន","amount":45}]}`
			b24.setTxData(id, genuine)
			tampered := strings.Replace(genuine, tc.from, tc.to, 1)
			if status, body, _ := post(t, tester, "http://localhost:9080/v/webhook", "tok-webhook", tampered); status != 409 {
				t.Errorf("tampered %s: %d %s, want 409", tc.field, status, body)
			}
			if status, body, _ := post(t, tester, "http://localhost:9080/v/webhook", "tok-webhook", genuine); status != 200 || body != ackOK {
				t.Errorf("genuine after a tampered %s: %d %s", tc.field, status, body)
			}
			got := stub.ledger(id)
			if len(got) != 1 {
				t.Fatalf("posted %d times, want 1", len(got))
			}
			f := got[0].Form
			if f.Get("identity") != "ID1" || f.Get("purpose") != "INV1" || f.Get("customer") != "C1" || f.Get("bank_ref") != "AC1" || f.Get("fee") != "1" || f.Get("amount") != "45" {
				t.Errorf("posted %v, want Bill24's values", f)
			}
		})
	}
}

func TestWebhookVerifiedWithBill24(t *testing.T) {
	tester := newTester(t)
	t.Setenv("BB_TEST_B24_SECRET", "b24-secret")
	stub, b24 := newLegacyStub(t), newFakeBill24(t)
	initServer(t, tester, fmt.Sprintf(verifyCaddyfile, stub.URL(), b24.srv.URL))

	good, wrongAmount, pending, failed, unknown := uniqueID(t, "ok"), uniqueID(t, "amt"), uniqueID(t, "pend"), uniqueID(t, "fail"), uniqueID(t, "unk")
	b24.setTx(good, "success", "45", "USD")
	b24.setTx(wrongAmount, "success", "4.50", "USD")
	b24.setTx(pending, "pending", "45", "USD")
	b24.setTx(failed, "failed", "45", "USD")

	cases := []struct {
		name, id string
		status   int
		body     string
		posted   int
	}{
		{"verified success is posted", good, 200, ackOK, 1},
		{"amount differs from Bill24's record", wrongAmount, 409, `{"status":"Error","message":"message does not match the gateway's record"}`, 0},
		{"still pending at Bill24", pending, 503, `{"status":"Error","message":"transaction is still pending at Bill24; retry later"}`, 0},
		{"failed at Bill24", failed, 409, `{"status":"Error","message":"message does not match the gateway's record"}`, 0},
		{"unknown to Bill24", unknown, 503, `{"status":"Error","message":"transaction not found at Bill24; retry later"}`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := post(t, tester, webhookA, "tok-webhook", webhookV1(c.id, "45"))
			if status != c.status || body != c.body {
				t.Errorf("got %d %s\nwant %d %s", status, body, c.status, c.body)
			}
			if n := len(stub.ledger(c.id)); n != c.posted {
				t.Errorf("posted %d times, want %d", n, c.posted)
			}
		})
	}
	// A forged amount does not poison the id: once Bill24 and the webhook
	// agree, it goes through.
	b24.setTx(wrongAmount, "success", "45", "USD")
	if status, body, _ := post(t, tester, webhookA, "tok-webhook", webhookV1(wrongAmount, "45")); status != 200 || body != ackOK {
		t.Errorf("genuine after mismatch: %d %s", status, body)
	}
	// The bearer token was fetched once and reused.
	if n := b24.authorized.Load(); n != 1 {
		t.Errorf("authorized %d times, want 1", n)
	}
	// Verify API down: retryable, nothing posted.
	b24.down.Store(true)
	id := uniqueID(t, "down")
	b24.setTx(id, "success", "45", "USD")
	if status, _, hdr := post(t, tester, webhookA, "tok-webhook", webhookV1(id, "45")); status != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("verify down: %d", status)
	}
	b24.down.Store(false)
	if status, _, _ := post(t, tester, webhookA, "tok-webhook", webhookV1(id, "45")); status != 200 {
		t.Errorf("verify back: %d", status)
	}
	if n := len(stub.ledger(id)); n != 1 {
		t.Errorf("posted %d times", n)
	}
}
