package billbridge

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// consoleEnv is the console over the admin tests' memory store, as an
// operator signed in by basic_auth (user ops) sees it, mounted at /ops/.
type consoleEnv struct {
	*adminEnv
	console *ConsoleHandler
	user    string
}

func newConsoleEnv(t *testing.T, s store.Store) *consoleEnv {
	t.Helper()
	env := newAdminEnv(t, s)
	env.app.calls = new(upstreams) // as Provision makes it
	c := &ConsoleHandler{running: func() *App { return env.app }, logger: env.app.logger, now: time.Now, key: []byte("console test key, 32 bytes long!")}
	return &consoleEnv{adminEnv: env, console: c, user: "ops"}
}

// request builds a request as Caddy hands it to the console: the
// replacer holds who basic_auth signed in.
func (e *consoleEnv) request(method, target string, form url.Values) *http.Request {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.RemoteAddr = "192.0.2.7:5150"
	repl := caddy.NewReplacer()
	if e.user != "" {
		repl.Set("http.auth.user.id", e.user)
	}
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
}

func (e *consoleEnv) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	if err := e.console.ServeHTTP(w, r, nil); err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	return w
}

// get GETs a page and checks its status and the headers every page has.
func (e *consoleEnv) get(t *testing.T, target string, want int) string {
	t.Helper()
	w := e.serve(t, e.request(http.MethodGet, target, nil))
	if w.Code != want {
		t.Fatalf("GET %s = %d, want %d:\n%s", target, w.Code, want, mainOf(w.Body.String()))
	}
	checkConsoleHeaders(t, w.Header())
	return w.Body.String()
}

func (e *consoleEnv) post(t *testing.T, target string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	w := e.serve(t, e.request(http.MethodPost, target, form))
	checkConsoleHeaders(t, w.Header())
	return w
}

func checkConsoleHeaders(t *testing.T, h http.Header) {
	t.Helper()
	for k, want := range map[string]string{
		"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Content-Security-Policy": consoleCSP,
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if ct := h.Get("Content-Type"); ct != "" && ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}

var tokenRE = regexp.MustCompile(`<form method="post" action="(redeliver|discard)"[^>]*>\s*<input type="hidden" name="e" value="([^"]*)">\s*<input type="hidden" name="token" value="([^"]+)">`)

// form finds the page's POST form for action, and returns its fields.
func form(t *testing.T, page, action string) url.Values {
	t.Helper()
	for _, m := range tokenRE.FindAllStringSubmatch(page, -1) {
		if m[1] == action {
			return url.Values{"e": {htmlUnescape(m[2])}, "token": {m[3]}}
		}
	}
	t.Fatalf("no %s form on the page:\n%s", action, mainOf(page))
	return nil
}

// mainOf is the part of a page a failing test prints: its summary and
// content, without the stylesheet.
func mainOf(page string) string {
	if i := strings.Index(page, "<body>"); i >= 0 {
		return page[i:]
	}
	return page
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&#43;", "+").Replace(s)
}

// noPayload checks that a page shows nothing of testPayload.
func noPayload(t *testing.T, page string) {
	t.Helper()
	for _, secret := range []string{"ម៉ៅ", "C-778812", "customer_name", "45.10"} {
		if strings.Contains(page, secret) {
			t.Errorf("the page shows the payload (%q)", secret)
		}
	}
}

func TestConsoleList(t *testing.T) {
	env := newConsoleEnv(t, nil)
	env.dead(t, "bill24:webhook", "l1")
	key := env.hold(t, "qm:callback", "l2")
	env.settle(t, key, func(owner string) error {
		return env.mem.Retry(t.Context(), key, owner, failedAttempt, false, time.Minute, testRetention)
	})
	env.hold(t, "shop-a:bill24:webhook", "l3")
	page := env.get(t, "/ops/", 200)
	for _, want := range []string{
		`<meta charset="utf-8">`,
		`<a href="event?e=bill24%2Fwebhook%2Fl1">l1</a>`,
		`<a href="event?e=shop-a%2Fbill24%2Fwebhook%2Fl3">l3</a>`,
		`<span class="badge dead">dead</span>`,
		`<td class="err">schedule ran out</td>`,                // a dead one's reason
		`<td class="err">legacy system failed (HTTP 503)</td>`, // a queued one's last error
		`<td class="when">next attempt <time datetime=`,
		// The summary: a line per flow, each count linked to its list.
		`<a href="./?flow=bill24%2Fwebhook&amp;state=dead">1</a>`,
		`<a href="./?flow=qm%2Fcallback&amp;state=queued">1</a>`,
		`<a href="./?flow=shop-a%2Fbill24%2Fwebhook">shop-a/bill24/webhook</a>`,
		"Oldest payment not yet delivered:\n<strong>",
		"Store: <strong>memory</strong>,\nreachable, not durable (records die with the process).</p>",
		`<p class="upstream">legacy: no call yet</p>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	noPayload(t, page)
	// Newest first.
	if i1, i2, i3 := strings.Index(page, ">l1<"), strings.Index(page, ">l2<"), strings.Index(page, ">l3<"); i3 > i2 || i2 > i1 || i3 < 0 {
		t.Errorf("not newest first: l3 at %d, l2 at %d, l1 at %d", i3, i2, i1)
	}

	dead := env.get(t, "/ops/?state=dead", 200)
	if !strings.Contains(dead, ">l1<") || strings.Contains(dead, ">l2<") || !strings.Contains(dead, `<option value="dead" selected>`) {
		t.Errorf("state=dead lists:\n%s", mainOf(dead))
	}
	qm := env.get(t, "/ops/?flow=qm%2Fcallback&state=", 200)
	if !strings.Contains(qm, ">l2<") || strings.Contains(qm, ">l1<") || !strings.Contains(qm, `<option value="qm/callback" selected>`) {
		t.Errorf("flow=qm/callback lists:\n%s", mainOf(qm))
	}
	// The admin API's filter, with its messages.
	for _, tc := range []struct{ query, what string }{
		{"state=done", `state &#34;done&#34;: want queued, processing, dead or discarded`},
		{"flow=bill24", `flow &#34;bill24&#34;: want [&lt;namespace&gt;/]&lt;gateway&gt;/&lt;flow&gt;`},
		{"after=garbage", `after: &#34;garbage&#34; is not a cursor`},
		{"page=2", `unknown parameter &#34;page&#34;`},
	} {
		if page := env.get(t, "/ops/?"+tc.query, 400); !strings.Contains(page, tc.what) {
			t.Errorf("?%s: the page does not say %q", tc.query, tc.what)
		}
	}
}

func TestConsolePaging(t *testing.T) {
	env := newConsoleEnv(t, nil)
	var ids []string
	for i := range 5 {
		id := "p" + string(rune('a'+i))
		env.dead(t, "bill24:webhook", id)
		ids = append([]string{id}, ids...) // newest first
	}
	linkRE := regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	rowRE := regexp.MustCompile(`<td class="id"><a href="[^"]+">([^<]+)</a>`)
	var seen []string
	target := "/ops/?state=dead&limit=2"
	for page := 0; ; page++ {
		body := env.get(t, target, 200)
		for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
			seen = append(seen, m[1])
		}
		if page > 0 && !strings.Contains(body, `<a href="./?limit=2&amp;state=dead">« first page</a>`) {
			t.Errorf("page %d has no link to the first", page+1)
		}
		if !strings.Contains(body, `<input type="hidden" name="limit" value="2">`) {
			t.Errorf("page %d: the filter form drops the page size", page+1)
		}
		m := linkRE.FindStringSubmatch(body)
		if m == nil {
			break
		}
		if page > 5 {
			t.Fatal("the pages do not end")
		}
		next := htmlUnescape(m[1])
		if !strings.HasPrefix(next, "./?") {
			t.Fatalf("next link %q is not relative to the console", next)
		}
		target = "/ops/" + strings.TrimPrefix(next, "./")
	}
	if strings.Join(seen, " ") != strings.Join(ids, " ") {
		t.Errorf("paged through %v, want %v", seen, ids)
	}
}

func TestConsoleEventPage(t *testing.T) {
	env := newConsoleEnv(t, nil)
	key := env.hold(t, "bill24:webhook", "e1")
	reason := "វិក្កយបត្រ INV-0042 មិនមានក្នុងប្រព័ន្ធ (no such invoice)"
	env.settle(t, key, func(owner string) error {
		return env.mem.Bury(t.Context(), key, owner, failedAttempt, true, reason, testRetention)
	})
	page := env.get(t, "/ops/event?e=bill24%2Fwebhook%2Fe1", 200)
	for _, want := range []string{
		`<meta charset="utf-8">`,
		`<span class="badge dead">dead</span>`,
		`<dd class="reason">` + reason + `</dd>`, // UTF-8 as is: html/template escapes only what HTML needs
		"<td>attempt</td><td>legacy_failed</td><td class=\"num\">503</td><td class=\"err\">legacy system failed (HTTP 503)</td>",
		"<td>dead</td><td></td><td class=\"num\"></td><td class=\"err\">" + reason + "</td>",
		"<td>received</td>",
		"an attempt may have reached the legacy system",
		strconv.Itoa(len(testPayload)) + " bytes, masked.",
		"the console shows only its size, its flow and its id",
		// The answer its duplicates get.
		"<p>HTTP 200, to every duplicate the gateway sends:</p>\n<pre class=\"response\">{&#34;status&#34;:&#34;Success&#34;}</pre>",
		`<button type="submit" class="primary">Redeliver</button>`,
		`<form method="get" action="discard">`,
		`<a href="./">« all payments</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the event page lacks %q", want)
		}
	}
	noPayload(t, page)
	if f := form(t, page, "redeliver"); f.Get("e") != "bill24/webhook/e1" {
		t.Errorf("the redeliver form names %q", f.Get("e"))
	}

	// Queued: when it is due; processing: no action while it runs.
	env.hold(t, "bill24:webhook", "e2")
	if page := env.get(t, "/ops/event?e=bill24/webhook/e2", 200); !strings.Contains(page, "<td>next attempt</td>") || !strings.Contains(page, "Redeliver") {
		t.Errorf("queued page:\n%s", mainOf(page))
	}
	env.lease(t, "W")
	page = env.get(t, "/ops/event?e=bill24/webhook/e2", 200)
	if !strings.Contains(page, "A delivery attempt is running") || strings.Contains(page, "Redeliver</button>") || strings.Contains(page, "Discard…") {
		t.Errorf("processing page offers actions:\n%s", mainOf(page))
	}
	// Done: no action, the answer shown.
	env.delivered(t, "qm:callback", "e3")
	page = env.get(t, "/ops/event?e=qm/callback/e3", 200)
	if !strings.Contains(page, "<td>done</td>") || strings.Contains(page, "Redeliver</button>") || strings.Contains(page, "Discard…") {
		t.Errorf("done page:\n%s", mainOf(page))
	}

	if page := env.get(t, "/ops/event?e=bill24/webhook/nope", 404); !strings.Contains(page, "no record of bill24:webhook:nope") {
		t.Errorf("missing event:\n%s", mainOf(page))
	}
	if page := env.get(t, "/ops/event?e=bill24", 400); !strings.Contains(page, "The link names no event") {
		t.Errorf("bad address:\n%s", mainOf(page))
	}
}

// A hostile id and reason are shown as text, never as markup.
func TestConsoleEscapes(t *testing.T) {
	env := newConsoleEnv(t, nil)
	id := `<script>alert(1)</script>"'&x`
	reason := `<img src=x onerror=alert(2)>`
	key := env.hold(t, "bill24:webhook", id)
	env.settle(t, key, func(owner string) error {
		return env.mem.Bury(t.Context(), key, owner, store.Attempt{Outcome: "legacy_failed", Error: `</td><b>bold</b>`}, false, reason, testRetention)
	})
	address := "bill24/webhook/" + id
	for _, page := range []string{
		env.get(t, "/ops/", 200),
		env.get(t, "/ops/event?e="+url.QueryEscape(address), 200),
		env.get(t, "/ops/discard?e="+url.QueryEscape(address), 200),
	} {
		for _, raw := range []string{"<script>", "<img", "<b>bold", `"'&x`} {
			if strings.Contains(page, raw) {
				t.Errorf("the page holds %q unescaped", raw)
			}
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;x") {
			t.Errorf("the id is not shown escaped:\n%s", mainOf(page))
		}
	}
	list := env.get(t, "/ops/", 200)
	if !strings.Contains(list, `href="event?e=bill24%2Fwebhook%2F%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%27%26x"`) {
		t.Errorf("the link does not escape the id:\n%s", mainOf(list))
	}
	// The escaped address comes back whole through the form.
	page := env.get(t, "/ops/event?e="+url.QueryEscape(address), 200)
	f := form(t, page, "redeliver")
	if f.Get("e") != address {
		t.Fatalf("the form names %q, want %q", f.Get("e"), address)
	}
	if w := env.post(t, "/ops/redeliver", f); w.Code != http.StatusSeeOther {
		t.Fatalf("redeliver = %d\n%s", w.Code, mainOf(w.Body.String()))
	}
	if r, _, _ := env.mem.Get(t.Context(), key); r.State != store.StateQueued {
		t.Errorf("state = %s, want queued", r.State)
	}
}

func TestConsoleRedeliver(t *testing.T) {
	env := newConsoleEnv(t, nil)
	key := env.dead(t, "bill24:webhook", "r1")
	first := form(t, env.get(t, "/ops/event?e=bill24/webhook/r1", 200), "redeliver")
	w := env.post(t, "/ops/redeliver", first)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "event?e=bill24%2Fwebhook%2Fr1&flash=redelivered" {
		t.Fatalf("redeliver = %d Location %q\n%s", w.Code, w.Header().Get("Location"), mainOf(w.Body.String()))
	}
	if r, _, _ := env.mem.Get(t.Context(), key); r.State != store.StateQueued {
		t.Errorf("state = %s, want queued", r.State)
	}
	entries := env.logs.FilterMessage("operator: redeliver").All()
	if len(entries) != 1 {
		t.Fatalf("log = %+v", env.logs.All())
	}
	if f := entries[0].ContextMap(); f["via"] != "console" || f["user"] != "ops" || f["remote"] != "192.0.2.7:5150" || f["key"] != key {
		t.Errorf("log fields = %v", f)
	}
	page := env.get(t, "/ops/event?e=bill24%2Fwebhook%2Fr1&flash=redelivered", 200)
	if !strings.Contains(page, `<p class="flash" role="status">Redelivered: the payment is back in the queue, due now.</p>`) ||
		!strings.Contains(page, `<span class="badge queued">queued</span>`) {
		t.Errorf("after the redirect:\n%s", mainOf(page))
	}
	// A flash is one of the console's own messages, never the query's text.
	if page := env.get(t, "/ops/event?e=bill24%2Fwebhook%2Fr1&flash=Call+0123", 200); strings.Contains(page, "Call") || strings.Contains(page, `class="flash"`) {
		t.Error("the page shows a flash the query wrote")
	}

	// The same token again, now it is being delivered: 409, said on a page.
	env.lease(t, "W")
	w = env.post(t, "/ops/redeliver", first)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "a delivery attempt is running") ||
		!strings.Contains(w.Body.String(), `<a href="event?e=bill24%2Fwebhook%2Fr1">« back</a>`) {
		t.Errorf("redeliver while processing = %d\n%s", w.Code, mainOf(w.Body.String()))
	}
	if n := env.logs.FilterMessage("operator: redeliver").Len(); n != 1 {
		t.Errorf("%d redeliveries logged", n)
	}
}

func TestConsoleDiscard(t *testing.T) {
	env := newConsoleEnv(t, nil)
	key := env.dead(t, "qm:callback", "d1")
	page := env.get(t, "/ops/discard?e=qm/callback/d1", 200)
	for _, want := range []string{
		`<input type="text" id="reason" name="reason" required maxlength="500" autocomplete="off">`,
		`<button type="submit" class="danger">Discard for good</button>`,
		`<a href="event?e=qm%2fcallback%2fd1">Cancel</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the discard page lacks %q:\n%s", want, mainOf(page))
		}
	}
	f := form(t, page, "discard")
	// The reason is checked as the admin API checks it.
	for _, tc := range []struct{ reason, what string }{
		{"", "the reason is empty"},
		{"  ", "the reason is empty"},
		{"two\nlines", "one line of text"},
		{strings.Repeat("ក", 167), "the reason is 501 bytes; at most 500"},
	} {
		f.Set("reason", tc.reason)
		w := env.post(t, "/ops/discard", f)
		if w.Code != 400 || !strings.Contains(w.Body.String(), tc.what) {
			t.Errorf("reason %q: %d\n%s", tc.reason, w.Code, mainOf(w.Body.String()))
		}
	}
	if r, _, _ := env.mem.Get(t.Context(), key); r.State != store.StateDead {
		t.Fatalf("a refused discard changed the record: %s", r.State)
	}
	f.Set("reason", "  បង់ដោយដៃ: booked by hand  ")
	w := env.post(t, "/ops/discard", f)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "event?e=qm%2Fcallback%2Fd1&flash=discarded" {
		t.Fatalf("discard = %d %q\n%s", w.Code, w.Header().Get("Location"), mainOf(w.Body.String()))
	}
	if r, _, _ := env.mem.Get(t.Context(), key); r.State != store.StateDiscarded || r.Reason != "បង់ដោយដៃ: booked by hand" {
		t.Errorf("record = %s %q", r.State, r.Reason)
	}
	if e := env.logs.FilterMessage("operator: discard").All(); len(e) != 1 || e[0].ContextMap()["reason"] != "បង់ដោយដៃ: booked by hand" {
		t.Errorf("log = %+v", e)
	}
	page = env.get(t, "/ops/event?e=qm%2Fcallback%2Fd1&flash=discarded", 200)
	if !strings.Contains(page, "Discarded: the payment will not be delivered.") || !strings.Contains(page, `<dd class="reason">បង់ដោយដៃ: booked by hand</dd>`) ||
		strings.Contains(page, "Redeliver</button>") || strings.Contains(page, "Discard…") {
		t.Errorf("after the discard:\n%s", mainOf(page))
	}
	// Twice: the store says no, the page says why.
	f.Set("reason", "again")
	if w := env.post(t, "/ops/discard", f); w.Code != 409 || !strings.Contains(w.Body.String(), "it was discarded (បង់ដោយដៃ") {
		t.Errorf("discard twice = %d\n%s", w.Code, mainOf(w.Body.String()))
	}
	// A body over the bound.
	f.Set("reason", strings.Repeat("x", maxActionBody))
	if w := env.post(t, "/ops/discard", f); w.Code != 413 {
		t.Errorf("a large form = %d", w.Code)
	}
}

// TestConsoleForgery: an action needs the token of the page it came from,
// made for that action on that event, for that operator, lately, and a
// request that does not come from another site.
func TestConsoleForgery(t *testing.T) {
	env := newConsoleEnv(t, nil)
	key := env.dead(t, "bill24:webhook", "f1")
	env.dead(t, "bill24:webhook", "f2")
	good := form(t, env.get(t, "/ops/event?e=bill24/webhook/f1", 200), "redeliver")
	other := form(t, env.get(t, "/ops/event?e=bill24/webhook/f2", 200), "redeliver")
	discard := form(t, env.get(t, "/ops/discard?e=bill24/webhook/f1", 200), "discard")
	with := func(f url.Values, k, v string) url.Values {
		g := url.Values{}
		for k, vs := range f {
			g[k] = append([]string(nil), vs...)
		}
		g.Set(k, v)
		return g
	}
	cases := []struct {
		name   string
		target string
		form   url.Values
		header map[string]string
		user   string
		what   string
	}{
		{name: "no token", target: "/ops/redeliver", form: url.Values{"e": {"bill24/webhook/f1"}}, what: "the form&#39;s token is missing"},
		{name: "another event's token", target: "/ops/redeliver", form: with(good, "token", other.Get("token"))},
		{name: "the discard's token", target: "/ops/redeliver", form: with(good, "token", discard.Get("token"))},
		{name: "the redeliver's token on discard", target: "/ops/discard", form: with(with(good, "reason", "x"), "token", good.Get("token"))},
		{name: "another operator", target: "/ops/redeliver", form: good, user: "mallory"},
		{name: "tampered", target: "/ops/redeliver", form: with(good, "token", good.Get("token")+"A")},
		{name: "a later time", target: "/ops/redeliver", form: with(good, "token", "9"+good.Get("token"))},
		{name: "garbage", target: "/ops/redeliver", form: with(good, "token", "garbage")},
		{name: "cross-site", target: "/ops/redeliver", form: good, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, what: "sent from another site"},
		{name: "another origin", target: "/ops/redeliver", form: good, header: map[string]string{"Origin": "https://evil.example"}, what: "sent from another site"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env.user = "ops"
			if tc.user != "" {
				env.user = tc.user
			}
			r := env.request(http.MethodPost, tc.target, tc.form)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := env.serve(t, r)
			what := tc.what
			if what == "" {
				what = "Refused: the form&#39;s token is missing, expired, or not for this action."
			}
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), what) {
				t.Errorf("= %d, want 403 saying %q:\n%s", w.Code, what, w.Body)
			}
		})
	}
	env.user = "ops"
	// An old token: made five hours ago.
	env.console.now = func() time.Time { return time.Now().Add(-5 * time.Hour) }
	old := form(t, env.get(t, "/ops/event?e=bill24/webhook/f1", 200), "redeliver")
	env.console.now = time.Now
	if w := env.post(t, "/ops/redeliver", old); w.Code != http.StatusForbidden {
		t.Errorf("a token of five hours ago = %d", w.Code)
	}
	if r, _, _ := env.mem.Get(t.Context(), key); r.State != store.StateDead {
		t.Fatalf("a refused action changed the record: %s", r.State)
	}
	if n := env.logs.FilterMessage("operator: redeliver").Len(); n != 0 {
		t.Errorf("%d refused actions logged as done", n)
	}
	// The good token, from the same site, does it.
	r := env.request(http.MethodPost, "/ops/redeliver", good)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Origin", "http://"+r.Host)
	if w := env.serve(t, r); w.Code != http.StatusSeeOther {
		t.Errorf("the page's own form = %d\n%s", w.Code, mainOf(w.Body.String()))
	}
}

func TestConsoleTokens(t *testing.T) {
	c := &ConsoleHandler{key: []byte("k")}
	now := time.Unix(1_700_000_000, 0)
	tok := c.token("redeliver", "bill24:webhook:a", "ops", now)
	if err := c.checkToken(tok, "redeliver", "bill24:webhook:a", "ops", now.Add(consoleTokenTTL)); err != nil {
		t.Errorf("a token at the end of its life: %v", err)
	}
	for name, check := range map[string]func() error{
		"expired": func() error {
			return c.checkToken(tok, "redeliver", "bill24:webhook:a", "ops", now.Add(consoleTokenTTL+time.Second))
		},
		"from the future": func() error {
			return c.checkToken(tok, "redeliver", "bill24:webhook:a", "ops", now.Add(-2*time.Minute))
		},
		// Fields do not run into each other: "a" + "b:c" is not "a:b" + "c".
		"shifted fields": func() error {
			return (&ConsoleHandler{key: []byte("k")}).checkToken(c.token("redeliver", "bill24:webhook:a", "ops", now), "redeliver", "bill24:webhook:", "aops", now)
		},
		"another key": func() error {
			return (&ConsoleHandler{key: []byte("j")}).checkToken(tok, "redeliver", "bill24:webhook:a", "ops", now)
		},
		"no user": func() error { return c.checkToken(tok, "redeliver", "bill24:webhook:a", "", now) },
	} {
		if err := check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if a, b := consoleKey(), consoleKey(); len(a) != 32 || string(a) != string(b) || strings.Count(string(a), "\x00") == 32 {
		t.Errorf("consoleKey = %x, %x: want one random key per process", a, b)
	}
}

func TestConsoleStoreWithoutCustody(t *testing.T) {
	mem := store.NewMemoryBackend()
	env := newConsoleEnv(t, syncOnly{mem})
	env.app.ops.storeModule = "billbridge.stores.oldstyle"
	page := env.get(t, "/ops/", http.StatusNotImplemented)
	if !strings.Contains(page, "the store (billbridge.stores.oldstyle) keeps no events in custody") || !strings.Contains(page, "Store: <strong>unknown</strong>") {
		t.Errorf("list:\n%s", mainOf(page))
	}
	// One record is still shown, without actions.
	if _, err := mem.Claim(t.Context(), "bill24:webhook:z", "A", "fp", time.Minute, testRetention); err != nil {
		t.Fatal(err)
	}
	if err := mem.Release(t.Context(), "bill24:webhook:z", "A", false, testRetention); err != nil {
		t.Fatal(err)
	}
	page = env.get(t, "/ops/event?e=bill24/webhook/z", 200)
	if !strings.Contains(page, `<span class="badge released">released</span>`) || !strings.Contains(page, "nothing here can be redelivered or discarded") || strings.Contains(page, "Redeliver</button>") {
		t.Errorf("event:\n%s", mainOf(page))
	}
	// A token made elsewhere does not get past the store.
	f := url.Values{"e": {"bill24/webhook/z"}, "token": {env.console.token(actionRedeliver, "bill24:webhook:z", "ops", time.Now())}}
	if w := env.post(t, "/ops/redeliver", f); w.Code != http.StatusNotImplemented || !strings.Contains(w.Body.String(), "keeps no events in custody") {
		t.Errorf("redeliver = %d\n%s", w.Code, mainOf(w.Body.String()))
	}
}

func TestConsoleSynchronousRecordKeepsNoPayload(t *testing.T) {
	env := newConsoleEnv(t, nil)
	if _, err := env.mem.Claim(t.Context(), "bill24:webhook:s", "A", "fp", time.Minute, testRetention); err != nil {
		t.Fatal(err)
	}
	if err := env.mem.Release(t.Context(), "bill24:webhook:s", "A", false, testRetention); err != nil {
		t.Fatal(err)
	}
	page := env.get(t, "/ops/event?e=bill24/webhook/s", 200)
	if !strings.Contains(page, "kept no payload: it cannot be redelivered from here") || strings.Contains(page, "Redeliver</button>") || !strings.Contains(page, "Discard…") {
		t.Errorf("a released synchronous record:\n%s", mainOf(page))
	}
}

func TestConsoleNotRunning(t *testing.T) {
	env := newConsoleEnv(t, nil)
	env.console.running = func() *App { return nil }
	for _, target := range []string{"/ops/", "/ops/event?e=bill24/webhook/a", "/ops/discard?e=bill24/webhook/a"} {
		if page := env.get(t, target, http.StatusServiceUnavailable); !strings.Contains(page, "billbridge is not running") {
			t.Errorf("%s:\n%s", target, mainOf(page))
		}
	}
	f := url.Values{"e": {"bill24/webhook/a"}, "token": {env.console.token(actionRedeliver, "bill24:webhook:a", "ops", time.Now())}}
	if w := env.post(t, "/ops/redeliver", f); w.Code != http.StatusServiceUnavailable {
		t.Errorf("redeliver = %d", w.Code)
	}
}

func TestConsoleStoreDown(t *testing.T) {
	env := newConsoleEnv(t, failingStore{store.NewMemoryBackend()})
	if page := env.get(t, "/ops/", http.StatusServiceUnavailable); !strings.Contains(page, "the store did not answer: store: dial tcp") {
		t.Errorf("list:\n%s", mainOf(page))
	}
	if page := env.get(t, "/ops/event?e=bill24/webhook/a", http.StatusServiceUnavailable); !strings.Contains(page, "the store did not answer") {
		t.Errorf("event:\n%s", mainOf(page))
	}
}

// TestConsoleNeedsSignIn: without basic_auth in front, the console shows
// nothing, unless told something else signs operators in.
func TestConsoleNeedsSignIn(t *testing.T) {
	env := newConsoleEnv(t, nil)
	env.dead(t, "bill24:webhook", "a1")
	env.user = ""
	page := env.get(t, "/ops/", http.StatusForbidden)
	if !strings.Contains(page, "mount it behind basic_auth") || strings.Contains(page, "a1") || strings.Contains(page, "In custody") {
		t.Errorf("anonymous:\n%s", mainOf(page))
	}
	env.console.AllowAnonymous = true
	if page := env.get(t, "/ops/", 200); !strings.Contains(page, ">a1<") {
		t.Errorf("allow_anonymous:\n%s", mainOf(page))
	}
}

func TestConsoleRoutes(t *testing.T) {
	env := newConsoleEnv(t, nil)
	env.dead(t, "bill24:webhook", "m1")
	for _, tc := range []struct{ method, target, allow string }{
		{http.MethodPost, "/ops/", "GET"},
		{http.MethodPut, "/ops/event?e=bill24/webhook/m1", "GET"},
		{http.MethodGet, "/ops/redeliver", "POST"},
		{http.MethodDelete, "/ops/discard", "GET, POST"},
	} {
		w := env.serve(t, env.request(tc.method, tc.target, nil))
		if w.Code != 405 || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d Allow %q, want 405 Allow %q", tc.method, tc.target, w.Code, w.Header().Get("Allow"), tc.allow)
		}
	}
	if page := env.get(t, "/ops/secrets", 404); !strings.Contains(page, "no such page") {
		t.Errorf("unknown page:\n%s", mainOf(page))
	}
	// Mounted without stripping the prefix, the last segment names the page.
	if page := env.get(t, "/ops/event?e=bill24/webhook/m1", 200); !strings.Contains(page, "m1") {
		t.Error("event page")
	}
	// Asked for /ops when mounted at /ops*: the relative links need /ops/.
	r := env.request(http.MethodGet, "/?state=dead", nil)
	orig := httptest.NewRequest(http.MethodGet, "/ops?state=dead", nil)
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, *orig))
	if w := env.serve(t, r); w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != "./ops/?state=dead" {
		t.Errorf("/ops = %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := env.serve(t, env.request(http.MethodHead, "/ops/", nil)); w.Code != 200 {
		t.Errorf("HEAD = %d", w.Code)
	}
}

// The CSP allows the page's one stylesheet by its hash: it must be the
// hash of what the page holds, or the browser drops the style.
func TestConsoleStyleHash(t *testing.T) {
	env := newConsoleEnv(t, nil)
	page := env.get(t, "/ops/", 200)
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no style element")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(consoleCSP, want) {
		t.Errorf("CSP %q does not allow the page's style (%s)", consoleCSP, want)
	}
	if strings.Contains(page, "<script") || strings.Contains(page, " style=") {
		t.Error("the page has a script or a style attribute, which the CSP blocks")
	}
}

func TestConsoleCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ConsoleHandler
		err  string
	}{
		{in: "billbridge_console"},
		{in: "billbridge_console {\n}"},
		{in: "billbridge_console {\n\tallow_anonymous\n}", want: ConsoleHandler{AllowAnonymous: true}},
		{in: "billbridge_console /ops", err: "wrong argument count"},
		{in: "billbridge_console {\n\tallow_anonymous yes\n}", err: "wrong argument count"},
		{in: "billbridge_console {\n\tallow_anonymous\n\tallow_anonymous\n}", err: "allow_anonymous"},
		{in: "billbridge_console {\n\tusers ops\n}", err: `unknown subdirective "users"`},
	} {
		var c ConsoleHandler
		err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		case err == nil && c.AllowAnonymous != tc.want.AllowAnonymous:
			t.Errorf("%q = %+v", tc.in, c)
		}
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	var c ConsoleHandler
	if err := c.Provision(ctx); err != nil || c.running == nil || c.logger == nil || len(c.key) != 32 {
		t.Fatalf("Provision: %v, %+v", err, c)
	}
}
