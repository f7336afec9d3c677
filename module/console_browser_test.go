package billbridge_test

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

// The console in a real browser: headless Chromium, driven over the
// DevTools protocol (chromedp), against the real Caddy of
// console_caddy_test.go. It clicks what an operator clicks and types
// what they type; the forms' tokens, redirects, Origin and Sec-Fetch-Site
// are the browser's own.

// browser starts headless Chromium, signed in as the operator (basic
// auth on every request), or skips the test when there is none, unless
// BILLBRIDGE_REQUIRE_BROWSER=1 requires one.
func browser(t *testing.T) context.Context {
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

// step runs actions with a deadline, so a page that never comes fails the
// test instead of hanging it.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// read runs one action that returns a value, with a deadline.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// holdPayment posts a bill24 webhook for id and checks it was answered.
func holdPayment(t *testing.T, base, id string) {
	t.Helper()
	payload := `{"tran_id":"` + id + `","tran_amount":12.5,"currency":"USD","tran_date":"2024-11-29T16:58:16","status":"success","customers":[{"customer_code":"C-778812","customer_name":"ម៉ៅ សាមន","amount":12.5}]}`
	req, err := http.NewRequest(http.MethodPost, base+"/webhook", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("token", "tok-webhook")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the gateway got %d for %s", resp.StatusCode, id)
	}
}

func TestConsoleInChromium(t *testing.T) {
	ctx := browser(t)
	stub := newBookStub(t)
	base := runConsoleCaddy(t, stub)
	stub.reject.Store(true)
	redeliver, discard := fmt.Sprintf("br-%d", time.Now().UnixNano()), fmt.Sprintf("bd-%d", time.Now().UnixNano())
	holdPayment(t, base, redeliver)
	holdPayment(t, base, discard)

	// The list of dead payments shows both, once the legacy system has
	// rejected them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		step(t, ctx, "the list", chromedp.Navigate(base+"/ops/?state=dead"), chromedp.WaitVisible(chromedp.CSS("main h1")))
		main := read(t, ctx, "the list", chromedp.OuterHTML(chromedp.CSS("main")))
		if strings.Contains(main, ">"+redeliver+"<") && strings.Contains(main, ">"+discard+"<") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rejected payments never showed as dead:\n%s", main)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if text := read(t, ctx, "the page", chromedp.Text(chromedp.CSS("body"))); strings.Contains(text, "ម៉ៅ") || strings.Contains(text, "C-778812") {
		t.Errorf("the list shows the payload")
	}

	// Its link, its page, its button.
	link := fmt.Sprintf(`a[href="event?e=%s"]`, url.QueryEscape("bill24/webhook/"+redeliver))
	step(t, ctx, "open the event", chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.CSS(`form[action="redeliver"] button`)))
	if s := read(t, ctx, "the state", chromedp.Text(chromedp.CSS("h1 .badge"))); s != "dead" {
		t.Fatalf("the event page shows %q, want dead", s)
	}
	if text := read(t, ctx, "the page", chromedp.Text(chromedp.CSS("body"))); !strings.Contains(text, "rejected by the legacy system") ||
		strings.Contains(text, "ម៉ៅ") || !strings.Contains(text, "bytes, masked") {
		t.Errorf("the event page:\n%s", text)
	}
	// The CSP lets the page's own stylesheet in (by its hash), and the
	// browser applies it.
	if bg := read(t, ctx, "the style", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("form[action=redeliver] button")).backgroundColor`)); bg != "rgb(31, 79, 163)" {
		t.Errorf("the Redeliver button's background is %q: the stylesheet was not applied (CSP?)", bg)
	}
	stub.reject.Store(false)
	step(t, ctx, "redeliver", chromedp.Click(chromedp.CSS(`form[action="redeliver"] button`)), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	if f := read(t, ctx, "the flash", chromedp.Text(chromedp.CSS("p.flash"))); !strings.Contains(f, "Redelivered") {
		t.Errorf("after the click: %q", f)
	}
	if loc := read(t, ctx, "the location", chromedp.Location()); !strings.HasPrefix(loc, base+"/ops/event?e=") {
		t.Errorf("after the click the browser is at %s", loc)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		step(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1 .badge")))
		if read(t, ctx, "the state", chromedp.Text(chromedp.CSS("h1 .badge"))) == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the redelivered payment never showed done")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := stub.times(redeliver); n != 1 {
		t.Errorf("booked %d times, want 1", n)
	}
	if n := read(t, ctx, "the buttons", chromedp.Evaluate[int](`document.querySelectorAll("main form button").length`)); n != 0 {
		t.Errorf("a done payment's page offers %d buttons", n)
	}

	// Discard: the confirmation form, a reason typed in Khmer.
	const reason = "ចំណាយដោយដៃ: booked by hand"
	step(t, ctx, "the other event", chromedp.Navigate(base+"/ops/event?e="+url.QueryEscape("bill24/webhook/"+discard)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="discard"] button`)))
	step(t, ctx, "discard…", chromedp.Click(chromedp.CSS(`form[action="discard"] button`)), chromedp.WaitVisible(chromedp.ID("reason")))
	step(t, ctx, "the reason", chromedp.SendKeys(chromedp.ID("reason"), reason))
	step(t, ctx, "discard for good", chromedp.Click(chromedp.CSS(`form.discard button`)), chromedp.WaitVisible(chromedp.CSS("p.flash")))
	if s := read(t, ctx, "the state", chromedp.Text(chromedp.CSS("h1 .badge"))); s != "discarded" {
		t.Errorf("after the discard the page shows %q", s)
	}
	if got := read(t, ctx, "the reason", chromedp.Text(chromedp.CSS("dd.reason"))); got != reason {
		t.Errorf("the reason reads %q, want %q", got, reason)
	}
	time.Sleep(300 * time.Millisecond)
	if n := stub.times(discard); n != 0 {
		t.Errorf("a discarded payment was booked %d times", n)
	}
}
