package billbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/metrics" // admin.api.metrics: /metrics on the admin endpoint
	"github.com/spf13/cobra"

	"github.com/billbridge/caddy-billbridge/module/store"
)

func init() {
	caddy.RegisterModule(eventRecorder{})
}

// eventRecorder is an events handler that keeps what it is given: the
// test's subscriber to billbridge.redelivered and billbridge.discarded.
type eventRecorder struct{}

var recorded struct {
	sync.Mutex
	events []caddy.Event
}

func (eventRecorder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "events.handlers.billbridge_test_recorder", New: func() caddy.Module { return new(eventRecorder) }}
}

func (eventRecorder) Handle(_ context.Context, e caddy.Event) error {
	recorded.Lock()
	recorded.events = append(recorded.events, e)
	recorded.Unlock()
	return nil
}

// runningCaddy runs Caddy in this process with the billbridge app (the
// memory store) and an admin endpoint on a free port, and returns that
// address and the store.
func runningCaddy(t *testing.T) (string, store.Queue) {
	addr, q, _ := runningCaddyCfg(t)
	return addr, q
}

// runningCaddyCfg is runningCaddy, and also returns the config, to reload.
func runningCaddyCfg(t *testing.T) (string, store.Queue, []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg := fmt.Sprintf(`{
		"admin": {"listen": %q, "config": {"persist": false}},
		"logging": {"logs": {"default": {"writer": {"output": "discard"}}}},
		"apps": {
			"billbridge": {},
			"events": {"subscriptions": [{"events": ["billbridge.redelivered", "billbridge.discarded"], "handlers": [{"handler": "billbridge_test_recorder"}]}]}
		}
	}`, addr)
	if err := caddy.Load([]byte(cfg), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := caddy.Load([]byte(`{"admin": {"disabled": true, "config": {"persist": false}}}`), true); err != nil {
			t.Error(err)
		}
		_ = caddy.Stop()
	})
	app := activeApp.Load()
	if app == nil {
		t.Fatal("the billbridge app did not start")
	}
	return addr, app.store.(store.Queue), []byte(cfg)
}

// runEvents runs `caddy billbridge-events args...` as Caddy's command line
// would, and returns what it printed.
func runEvents(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c, ok := caddycmd.Commands()["billbridge-events"]
	if !ok {
		t.Fatal("billbridge-events is not registered")
	}
	cmd := &cobra.Command{Use: c.Name, Short: c.Short, SilenceUsage: true}
	c.CobraFunc(cmd)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	var out strings.Builder
	eventsOut = &out
	t.Cleanup(func() { eventsOut = os.Stdout })
	err := cmd.Execute()
	return out.String(), err
}

// TestEventsCommand runs every subcommand against a real Caddy admin
// endpoint: the routes as Caddy serves them (origin checks, error
// answers, escaped paths), and the command's output.
func TestEventsCommand(t *testing.T) {
	addr, q := runningCaddy(t)
	recorded.Lock()
	recorded.events = nil
	recorded.Unlock()
	ctx := t.Context()
	const flow = "bill24:webhook"
	hold := func(id string) string {
		t.Helper()
		key := flow + ":" + id
		if _, err := q.Hold(ctx, store.Entry{Key: key, Flow: flow, Fingerprint: "fp", Payload: testPayload,
			Response: store.Response{Status: 200, Body: []byte(`{"status":"Success"}`)}}, testRetention); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		return key
	}
	// A dead event, whose id holds a slash and a space; one queued.
	deadKey := hold("T/1 a")
	ds, err := q.Due(ctx, "W", 10, time.Hour)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Due = %v, %v", ds, err)
	}
	if err := q.Bury(ctx, deadKey, "W", failedAttempt, false, "legacy refused: unknown invoice", testRetention); err != nil {
		t.Fatal(err)
	}
	hold("T2")

	out, err := runEvents(t, "list", "--address", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("list:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "STATE") || !strings.Contains(lines[0], "LAST ERROR") ||
		!strings.HasPrefix(lines[1], "queued") || !strings.Contains(lines[1], "bill24/webhook/T2") || !strings.Contains(lines[1], "next ") ||
		!strings.HasPrefix(lines[2], "dead") || !strings.Contains(lines[2], "bill24/webhook/T/1 a") || !strings.Contains(lines[2], failedAttempt.Error) {
		t.Errorf("list:\n%s", out)
	}
	if strings.Contains(out, "ម៉ៅ") {
		t.Errorf("list shows the payload:\n%s", out)
	}

	// Paged, as JSON: the API's own answer, and its cursor leads on.
	out, err = runEvents(t, "list", "--address", addr, "--limit", "1", "--json")
	var p listPage
	if err != nil || json.Unmarshal([]byte(out), &p) != nil || len(p.Items) != 1 || p.Next == "" {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	out, err = runEvents(t, "list", "--address", addr, "--limit", "1", "--after", p.Next, "--state", "dead", "--flow", "bill24/webhook")
	if err != nil || !strings.Contains(out, "bill24/webhook/T/1 a") || strings.Contains(out, "more:") {
		t.Errorf("second page: %v\n%s", err, out)
	}
	out, err = runEvents(t, "list", "--address", addr, "--limit", "1")
	if err != nil || !strings.Contains(out, "more: --after '") {
		t.Errorf("a first page does not say how to get the next: %v\n%s", err, out)
	}

	out, err = runEvents(t, "show", "--address", addr, "bill24/webhook/T/1 a")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`key: +` + regexp.QuoteMeta(deadKey) + `\n`, `state: +dead\n`, `reason: +legacy refused: unknown invoice\n`,
		fmt.Sprintf(`payload: +%d bytes \(not shown\)\n`, len(testPayload)), `history:\n +\S+Z +legacy_failed +503 +legacy system failed`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("show lacks %s:\n%s", want, out)
		}
	}

	out, err = runEvents(t, "redeliver", "--address", addr, "bill24/webhook/T/1 a")
	if err != nil || !strings.HasPrefix(out, "redelivered bill24/webhook/T/1 a: queued") {
		t.Errorf("redeliver: %v\n%s", err, out)
	}
	if r, _, _ := q.Get(ctx, deadKey); r.State != store.StateQueued {
		t.Errorf("after redeliver: %s", r.State)
	}

	// Errors are the API's messages, and the command fails.
	if _, err := runEvents(t, "show", "--address", addr, "bill24/webhook/nope"); err == nil ||
		err.Error() != "no record of bill24:webhook:nope (never seen, or older than retention) (HTTP 404)" {
		t.Errorf("show of a missing event: %v", err)
	}
	if _, err := runEvents(t, "discard", "--address", addr, "bill24/webhook/T2"); err == nil || !strings.Contains(err.Error(), "discard needs --reason") {
		t.Errorf("discard without a reason: %v", err)
	}
	if _, err := runEvents(t, "list", "--address", addr, "--state", "done"); err == nil || !strings.Contains(err.Error(), `state "done": want queued`) ||
		!strings.Contains(err.Error(), "(HTTP 400)") {
		t.Errorf("list --state done: %v", err)
	}
	if _, err := runEvents(t, "show", "--address", addr, "paypal/webhook/1"); err == nil || !strings.Contains(err.Error(), `"webhook" is not a gateway`) {
		t.Errorf("show of a bad address: %v", err)
	}

	out, err = runEvents(t, "discard", "--address", addr, "bill24/webhook/T2", "--reason", "test payment, never charged")
	if err != nil || !strings.HasPrefix(out, "discarded bill24/webhook/T2: test payment, never charged") {
		t.Errorf("discard: %v\n%s", err, out)
	}
	if _, err := runEvents(t, "redeliver", "--address", addr, "bill24/webhook/T2"); err == nil ||
		err.Error() != "cannot redeliver bill24:webhook:T2: it was discarded (test payment, never charged) (HTTP 409)" {
		t.Errorf("redeliver of a discarded event: %v", err)
	}

	// The admin address from a config file, as `caddy reload` finds it.
	caddyfile := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte("{\n\tadmin "+addr+"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runEvents(t, "show", "--config", caddyfile, "--json", "bill24/webhook/T2")
	var v eventView
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.State != "discarded" || v.Reason != "test payment, never charged" {
		t.Errorf("show --config --json: %v\n%s", err, out)
	}

	// Both actions reached the events app's subscribers.
	recorded.Lock()
	var got []string
	for _, e := range recorded.events {
		got = append(got, fmt.Sprintf("%s %v %v", e.Name(), e.Data["key"], e.Data["reason"]))
	}
	recorded.Unlock()
	want := []string{"billbridge.redelivered bill24:webhook:T/1 a <nil>", "billbridge.discarded bill24:webhook:T2 test payment, never charged"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCustodyGaugesOnCaddyMetrics: the gauges are on the registry Caddy
// serves at /metrics, and on the new one after a reload.
func TestCustodyGaugesOnCaddyMetrics(t *testing.T) {
	addr, q, cfg := runningCaddyCfg(t)
	const key = "qm:callback:M1"
	if _, err := q.Hold(t.Context(), store.Entry{Key: key, Flow: "qm:callback", Fingerprint: "fp", Payload: testPayload,
		Response: store.Response{Status: 200}}, testRetention); err != nil {
		t.Fatal(err)
	}
	const want = `caddy_billbridge_custody_events{flow="qm_callback",state="queued"} 1`
	scrape := func() string {
		t.Helper()
		// After a reload the old admin server stops asynchronously, and
		// may reset a connection it had accepted: ask again.
		resp, err := caddycmd.AdminAPIRequest(addr, "GET", "/metrics", nil, nil)
		for try := 0; err != nil && try < 20; try++ {
			time.Sleep(50 * time.Millisecond)
			resp, err = caddycmd.AdminAPIRequest(addr, "GET", "/metrics", nil, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if m := scrape(); !strings.Contains(m, want) || !strings.Contains(m, "caddy_billbridge_custody_oldest_queued_seconds ") {
		t.Fatalf("/metrics lacks the custody gauges:\n%s", grepLines(m, "billbridge"))
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	if m := scrape(); !strings.Contains(m, want) || strings.Count(m, "# TYPE caddy_billbridge_custody_events ") != 1 {
		t.Fatalf("after a reload, /metrics shows:\n%s", grepLines(m, "billbridge"))
	}
}

// grepLines keeps the lines of s that hold word.
func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestEventsCommandNoAdmin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	if _, err := runEvents(t, "list", "--address", addr); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("list with no admin endpoint: %v", err)
	}
}

func TestEventsOutput(t *testing.T) {
	if got := oneLine("a\tb\nc"+strings.Repeat("ក", 30), 20); got != "a b c"+strings.Repeat("ក", 4)+"…" || len(got) > 20 {
		t.Errorf("oneLine = %q (%d bytes)", got, len(got))
	}
	if got := shellQuote("1:it's"); got != `'1:it'\''s'` {
		t.Errorf("shellQuote = %s", got)
	}
	var b strings.Builder
	if err := writeList(&b, listPage{Items: []eventView{}}); err != nil || b.String() != "no events in custody\n" {
		t.Errorf("empty list: %q %v", b.String(), err)
	}
}
