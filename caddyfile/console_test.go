package caddyfile

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The operations console (billbridge_console) in a real browser: headless
// Chromium, driven over the DevTools protocol with chromedp, against the
// test's Caddy, the console behind basic_auth. It clicks what an operator
// clicks: the forms' tokens, the redirect after a POST, Origin and
// Sec-Fetch-Site are the browser's own.

// consoleUser signs in with consolePassword; consoleHash is its bcrypt
// hash at cost 4, so basic_auth checks each request quickly.
const (
	consoleUser     = "ops"
	consolePassword = "console-test-password"
	consoleHash     = "$2a$04$cx1QFxubtYrxcfkj8tuQnunomOjEfxELR3vqHcZ2OUxGEZTFOH7EW"
)

// withConsole adds the console at /ops/ to the webhook tests' site.
func withConsole(t *testing.T, cfg string) string {
	t.Helper()
	const site = "http://localhost:9080 {\n"
	if !strings.Contains(cfg, site) {
		t.Fatalf("no site %q in the config", site)
	}
	return strings.Replace(cfg, site, site+"\thandle_path /ops/* {\n\t\tbasic_auth {\n\t\t\t"+consoleUser+" "+consoleHash+
		"\n\t\t}\n\t\tbillbridge_console\n\t}\n", 1)
}

// chromium starts headless Chromium signed in as the operator (basic auth
// on every request), or skips the test when there is none, unless
// BILLBRIDGE_REQUIRE_BROWSER=1 requires one.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("BILLBRIDGE_REQUIRE_BROWSER") == "1" {
			t.Fatal("BILLBRIDGE_REQUIRE_BROWSER=1 and no chromium: apt-get install chromium")
		}
		t.Skip("no chromium (apt-get install chromium); BILLBRIDGE_REQUIRE_BROWSER=1 makes this a failure")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(consoleUser+":"+consolePassword))
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// browse runs actions in the browser with a deadline, so a page that
// never comes fails the test instead of hanging it.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// look reads one thing from the page, with a deadline.
func look[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestConsoleRedeliverInChromium: a payment the legacy system rejects is
// dead; the console's list shows it; on its page the operator clicks
// Redeliver, and it is booked once and shown done. Another is discarded
// with a reason typed in Khmer, and stays unbooked.
func TestConsoleRedeliverInChromium(t *testing.T) {
	ctx := chromium(t) // skips before Caddy starts when there is no browser
	extra := queuedExtra + "\n\t\treject `res.status == 400 && res.body.error == \"UNKNOWN_INVOICE\"`"
	env := newWebhookEnv(t, "memory", false, extra)
	initServer(t, env.tester, withConsole(t, env.cfg("v1", extra)))
	const base = "http://localhost:9080"
	client := burstClient()

	// Without signing in, basic_auth answers and the console shows nothing.
	resp, err := client.Get(base + "/ops/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the console without signing in: HTTP %d", resp.StatusCode)
	}

	redeliver, discard := uniqueID(t, "cred"), uniqueID(t, "cdisc")
	env.stub.reject.Store(true)
	for _, id := range []string{redeliver, discard} {
		if status, body := send(client, webhookA, webhookV1(id, "9")); status != 200 || body != ackOK {
			t.Fatalf("%s: %d %s", id, status, body)
		}
	}
	if !eventually(10*time.Second, func() bool {
		return adminRecord(t, redeliver)["state"] == "dead" && adminRecord(t, discard)["state"] == "dead"
	}) {
		t.Fatalf("the rejected payments are not dead: %v, %v", adminRecord(t, redeliver), adminRecord(t, discard))
	}

	// The list of dead payments.
	browse(t, ctx, "the list", chromedp.Navigate(base+"/ops/?state=dead"), chromedp.WaitVisible(chromedp.CSS("table.events")))
	list := look(t, ctx, "the list", chromedp.OuterHTML(chromedp.CSS("main")))
	if !strings.Contains(list, ">"+redeliver+"<") || !strings.Contains(list, ">"+discard+"<") {
		t.Fatalf("the list of dead payments lacks them:\n%s", list)
	}
	if text := look(t, ctx, "the list", chromedp.Text(chromedp.CSS("body"))); strings.Contains(text, "ម៉ៅ សាមន") || strings.Contains(text, "MAO SAMON") {
		t.Error("the list shows the payload (the customer's name)")
	}

	// Its page, through its link; the button.
	link := fmt.Sprintf(`a[href="event?e=%s"]`, url.QueryEscape("bill24/webhook/"+redeliver))
	browse(t, ctx, "open the event", chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.CSS(`form[action="redeliver"] button`)))
	if s := look(t, ctx, "the state", chromedp.Text(chromedp.CSS("h1 .badge"))); s != "dead" {
		t.Fatalf("the event page shows %q, want dead", s)
	}
	if text := look(t, ctx, "the page", chromedp.Text(chromedp.CSS("body"))); !strings.Contains(text, "rejected by the legacy system") ||
		strings.Contains(text, "ម៉ៅ សាមន") || !strings.Contains(text, "bytes, masked") {
		t.Errorf("the event page:\n%s", text)
	}
	env.stub.reject.Store(false)
	browse(t, ctx, "redeliver", chromedp.Click(chromedp.CSS(`form[action="redeliver"] button`)), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	if f := look(t, ctx, "the message", chromedp.Text(chromedp.CSS("p.flash"))); !strings.Contains(f, "Redelivered") {
		t.Errorf("after the click: %q", f)
	}
	done := eventually(10*time.Second, func() bool {
		browse(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1 .badge")))
		return look(t, ctx, "the state", chromedp.Text(chromedp.CSS("h1 .badge"))) == "done"
	})
	if !done {
		t.Fatalf("the redelivered payment never showed done: %v", adminRecord(t, redeliver))
	}
	time.Sleep(500 * time.Millisecond) // a second delivery would have come by now
	if n := len(env.stub.ledger(redeliver)); n != 1 {
		t.Errorf("booked %d times after the click, want 1", n)
	}

	// Discard, with a reason typed in Khmer.
	const reason = "ចំណាយដោយដៃ: booked by hand"
	browse(t, ctx, "the other event", chromedp.Navigate(base+"/ops/event?e="+url.QueryEscape("bill24/webhook/"+discard)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="discard"] button`)))
	browse(t, ctx, "discard…", chromedp.Click(chromedp.CSS(`form[action="discard"] button`)), chromedp.WaitVisible(chromedp.ID("reason")))
	browse(t, ctx, "the reason", chromedp.SendKeys(chromedp.ID("reason"), reason))
	browse(t, ctx, "discard for good", chromedp.Click(chromedp.CSS("form.discard button")), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	if got := look(t, ctx, "the reason", chromedp.Text(chromedp.CSS("dd.reason"))); got != reason {
		t.Errorf("the page reads the reason %q, want %q", got, reason)
	}
	if rec := adminRecord(t, discard); rec["state"] != "discarded" || rec["reason"] != reason {
		t.Errorf("the discarded record: %v", rec)
	}
	if n := len(env.stub.ledger(discard)); n != 0 {
		t.Errorf("a discarded payment was booked %d times", n)
	}

	// A POST that did not come from the console's page is refused.
	req, _ := http.NewRequest(http.MethodPost, base+"/ops/redeliver", strings.NewReader(url.Values{"e": {"bill24/webhook/" + discard}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(consoleUser, consolePassword)
	if resp, err := client.Do(req); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a POST without the page's token: HTTP %d, want 403", resp.StatusCode)
		}
	}
}
