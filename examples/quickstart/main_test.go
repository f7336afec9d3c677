package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestCaddyfileFormatted(t *testing.T) {
	if got := caddyfile.Format(embeddedCaddyfile); !bytes.Equal(got, embeddedCaddyfile) {
		t.Errorf("Caddyfile is not formatted as caddy fmt would; want:\n%s", got)
	}
}

func TestCaddyfileParses(t *testing.T) {
	blocks, err := caddyfile.Parse("Caddyfile", embeddedCaddyfile)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || len(blocks[1].Keys) != 1 || !strings.HasPrefix(blocks[1].Keys[0].Text, "http://:") {
		t.Errorf("want a global block and one http://:port site, got %d blocks", len(blocks))
	}
}

func TestSplitListen(t *testing.T) {
	for in, want := range map[string][2]string{
		"127.0.0.1:8080": {"127.0.0.1", "8080"},
		":9000":          {"", "9000"},
		"[::1]:8080":     {"::1", "8080"},
		"localhost:1":    {"localhost", "1"},
	} {
		h, p, err := splitListen(in)
		if err != nil || h != want[0] || p != want[1] {
			t.Errorf("splitListen(%q) = %q, %q, %v", in, h, p, err)
		}
	}
	for _, in := range []string{"8080", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:0", ":65536", ""} {
		if _, _, err := splitListen(in); err == nil {
			t.Errorf("splitListen(%q): want an error", in)
		}
	}
}

func TestHosts(t *testing.T) {
	for in, want := range map[string]string{"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "localhost": "localhost", "10.0.0.5": "10.0.0.5"} {
		if got := dialHost(in); got != want {
			t.Errorf("dialHost(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"": "", "127.0.0.1": "127.0.0.1", "::1": "[::1]"} {
		if got := caddyBind(in); got != want {
			t.Errorf("caddyBind(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestQuickstart runs the demo end to end: the legacy API and Caddy with
// the embedded Caddyfile, playing Bill24 against it.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs Caddy")
	}
	for _, k := range []string{"QUICKSTART_BIND", "QUICKSTART_PORT", "QUICKSTART_LEGACY", "BILL24_TOKEN", "LEGACY_API_KEY"} {
		t.Setenv(k, "") // restored after the test; start sets them
	}
	if _, err := adapt(); err != nil {
		t.Fatalf("the quickstart Caddyfile does not adapt: %v", err)
	}

	port := freePort(t)
	d, err := start("127.0.0.1:"+port, "127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	})
	if d.caddyURL != "http://127.0.0.1:"+port {
		t.Errorf("caddyURL = %s", d.caddyURL)
	}

	// Bill24's proxy lookup, one customer per answer code.
	for _, tc := range []struct {
		code string
		want int
	}{
		{"CU003035", 0}, {"12340001", 0}, {"37627011", 0},
		{"NOPE123", 1}, {"CU000001", 2}, {"CU000000", 3}, {"CU000002", 4},
	} {
		status, m := call(t, d.caddyURL+"/bill24/proxy", defaultBill24Token, `{"consumer_code":"`+tc.code+`"}`)
		if status != http.StatusOK || m["code"] != json.Number(strconv.Itoa(tc.want)) {
			t.Errorf("proxy %s: %d %v, want code %d", tc.code, status, m, tc.want)
		}
	}
	_, m := call(t, d.caddyURL+"/bill24/proxy", defaultBill24Token, `{"consumer_code":"CU003035"}`)
	data, _ := m["data"].(map[string]any)
	for k, want := range map[string]string{
		"consumer_code": "CU003035", "consumer_name": "ញ៉េប នីម", "consumer_name_latin": "Nheb Nim",
		"phone": "010888999", "currency": "USD", "description": "Invoice on Feb-2024",
		"last_due_date": "2024-03-30 10:46:33",
	} {
		if data[k] != want {
			t.Errorf("proxy CU003035: data.%s = %v, want %q", k, data[k], want)
		}
	}
	for k, want := range map[string]string{"due_amount": "10", "min_amount": "-1", "max_amount": "5000", "balance": "0"} {
		if !sameNumber(data[k], want) {
			t.Errorf("proxy CU003035: data.%s = %v, want %s", k, data[k], want)
		}
	}
	_, m = call(t, d.caddyURL+"/bill24/proxy", defaultBill24Token, `{"consumer_code":"37627011"}`)
	if data, _ := m["data"].(map[string]any); data["consumer_name"] != "MAO SAMON" {
		t.Errorf("proxy 37627011 without a Khmer name: %v", m)
	}
	if status, _ := call(t, d.caddyURL+"/bill24/proxy", "wrong", `{"consumer_code":"CU003035"}`); status != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d", status)
	}

	// The same webhook three times books one payment.
	for i := range 3 {
		status, m := call(t, d.caddyURL+"/bill24/webhook", defaultBill24Token, webhookV1)
		if status != http.StatusOK || m["status"] != "Success" {
			t.Errorf("webhook delivery %d: %d %v", i+1, status, m)
		}
	}
	rows := d.legacy.Ledger()
	if len(rows) != 1 || d.legacy.PaymentCalls() != 1 {
		t.Fatalf("after 3 deliveries: %d rows, %d calls: %+v", len(rows), d.legacy.PaymentCalls(), rows)
	}
	if p := rows[0]; p.InvoiceNo != "37627011" || p.CustNo != "37627011" || p.Amount != "45.00" || p.Ccy != "USD" ||
		p.TxnRef != "348b4b16-1f06-4563-8204-105a8420a067" || p.Channel != "ACLEDA" || p.PayerName != "MAO SAMON" ||
		p.PaidAt == "" {
		t.Errorf("booked %+v", p)
	}
	if _, m := call(t, d.caddyURL+"/bill24/proxy", defaultBill24Token, `{"consumer_code":"37627011"}`); m["code"] != json.Number("3") {
		t.Errorf("after paying, proxy 37627011: %v, want code 3", m)
	}

	// Checkout shape, KHR, Khmer payer name, bill number present.
	checkout := payload(t, "bill24_webhook_checkout.json")
	if status, m := call(t, d.caddyURL+"/bill24/webhook", defaultBill24Token, checkout); status != http.StatusOK || m["status"] != "Success" {
		t.Fatalf("checkout webhook: %d %v", status, m)
	}
	if rows := d.legacy.Ledger(); len(rows) != 2 || rows[1].InvoiceNo != "INV23001" || rows[1].Amount != "50000.00" ||
		rows[1].Ccy != "KHR" || rows[1].PayerName != "ជា សំណាង" || rows[1].Channel != "AMK" {
		t.Errorf("checkout booked %+v", rows)
	}

	// A legacy failure is retryable, and the retry gets through once.
	tnx := payload(t, "bill24_webhook_v2.json") // the older shape
	d.legacy.SetFailNext(1, http.StatusInternalServerError)
	if status, m := call(t, d.caddyURL+"/bill24/webhook", defaultBill24Token, tnx); status == http.StatusOK && m["status"] == "Success" {
		t.Errorf("webhook while the legacy API fails: %d %v, want an error", status, m)
	}
	// A 500 may have booked it: for one legacy timeout (5s here) a retry
	// is told to come back, then the retry asks lookup before it posts.
	if status, m := call(t, d.caddyURL+"/bill24/webhook", defaultBill24Token, tnx); status != http.StatusServiceUnavailable {
		t.Errorf("tnx redelivery at once: %d %v, want 503 while the uncertain attempt is held", status, m)
	}
	time.Sleep(5500 * time.Millisecond)
	for i := range 2 {
		if status, m := call(t, d.caddyURL+"/bill24/webhook", defaultBill24Token, tnx); status != http.StatusOK || m["status"] != "Success" {
			t.Errorf("tnx redelivery %d after the hold: %d %v", i+1, status, m)
		}
	}
	if rows := d.legacy.Ledger(); len(rows) != 3 || rows[2].TxnRef != "BUb4CmDE" || rows[2].Amount != "10.00" || rows[2].InvoiceNo != "CU003035" {
		t.Errorf("after a failure and 2 redeliveries: %+v", rows)
	}
	if c, _ := d.legacy.Customer("CU003035"); c.AmtDue != "0.00" {
		t.Errorf("CU003035 still owes %s", c.AmtDue)
	}
}

// TestWebhookV1MatchesPayload: the webhook the demo prints is the
// repository's sample payload, compacted.
func TestWebhookV1MatchesPayload(t *testing.T) {
	var want bytes.Buffer
	if err := json.Compact(&want, []byte(payload(t, "bill24_webhook_v1.json"))); err != nil {
		t.Fatal(err)
	}
	if webhookV1 != want.String() {
		t.Errorf("webhookV1 differs from examples/payloads/bill24_webhook_v1.json:\n got %s\nwant %s", webhookV1, want.String())
	}
}

// TestPrintUsage: the printed curl commands reach the demo's addresses with
// the demo's secrets, and the webhook one carries the sample payload.
func TestPrintUsage(t *testing.T) {
	d := &demo{legacyURL: "http://127.0.0.1:18081", caddyURL: "http://127.0.0.1:18080"}
	var out strings.Builder
	if err := d.printUsage(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"curl -s http://127.0.0.1:18080/bill24/proxy -H 'token: demo-token'",
		"curl -s http://127.0.0.1:18080/bill24/webhook -H 'token: demo-token'",
		"-d '" + webhookV1 + "'",
		"curl -s http://127.0.0.1:18081/api/ledger -H 'X-Api-Key: demo-key'",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
	d.tokenFromEnv, d.keyFromEnv = true, true
	out.Reset()
	if err := d.printUsage(&out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "demo-token") || strings.Contains(s, "demo-key") ||
		!strings.Contains(s, `"token: $BILL24_TOKEN"`) || !strings.Contains(s, `"X-Api-Key: $LEGACY_API_KEY"`) {
		t.Errorf("with secrets from the environment, usage should name the variables, not the demo values:\n%s", s)
	}
}

// payload reads a sample gateway payload from examples/payloads.
func payload(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "payloads", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// call POSTs a JSON body as Bill24 would and decodes the JSON answer
// (numbers as json.Number).
func call(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Errorf("POST %s: answer %q is not JSON: %v", url, b, err)
	}
	return res.StatusCode, m
}

// sameNumber reports whether v is a JSON number equal to want (10 == 10.00).
func sameNumber(v any, want string) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	a, ok1 := new(big.Rat).SetString(string(n))
	b, ok2 := new(big.Rat).SetString(want)
	return ok1 && ok2 && a.Cmp(b) == 0
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := ln.Close(); err != nil { // free it for the test
		t.Fatal(err)
	}
	return port
}
