package billbridge_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/billbridge/caddy-billbridge/module/flows/bill24"
)

// The console served by a real Caddy in this process, behind basic_auth,
// on ports of its own: what an operator's browser sends (basic auth, a
// form's fields, the Origin of a same-site form) and what it gets back.

// consoleUser and consoleHash sign the operator in: a bcrypt hash of
// consolePassword at cost 4, so each request's check is quick.
const (
	consoleUser     = "ops"
	consolePassword = "console-test-password"
	consoleHash     = "$2a$04$cx1QFxubtYrxcfkj8tuQnunomOjEfxELR3vqHcZ2OUxGEZTFOH7EW"
)

const consoleCaddyfile = `{
	admin off
	http_port %[1]d
	https_port %[2]d
	auto_https off
	persist_config off
	skip_install_trust
	storage file_system %[6]s
	log {
		output discard
	}
	billbridge {
		store memory
		legacy %[3]s {
			timeout 1s
		}
		bill24 {
			token tok-webhook
		}
	}
}
http://127.0.0.1:%[1]d {
	handle /webhook {
		billbridge bill24_webhook {
			call POST /api/payments {
				encode form
				field txn_ref ´req.id´
				field amount  ´req.amount´
			}
			success ´res.status == 200 && res.body.result == "OK"´
			lookup GET ´"/api/payments?txn_ref=" + urlquery(req.id)´ {
				found ´res.status == 200 && res.body.result == "OK"´
			}
			deliver queued
			retry_schedule 200ms
			give_up_after 1h
			reject ´res.status == 400´
		}
	}
	handle_path /ops/* {
		basic_auth {
			%[4]s %[5]s
		}
		billbridge_console
	}
}
`

// bookStub is a legacy billing API that books every post it does not
// reject.
type bookStub struct {
	srv    *httptest.Server
	reject atomic.Bool
	mu     sync.Mutex
	booked map[string]int
}

func newBookStub(t *testing.T) *bookStub {
	s := &bookStub{booked: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/payments", func(w http.ResponseWriter, r *http.Request) {
		if s.reject.Load() {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"UNKNOWN_INVOICE"}`)
			return
		}
		s.mu.Lock()
		s.booked[r.FormValue("txn_ref")]++
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"result":"OK"}`)
	})
	mux.HandleFunc("GET /api/payments", func(w http.ResponseWriter, r *http.Request) {
		if s.times(r.URL.Query().Get("txn_ref")) == 0 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, `{"result":"OK"}`)
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *bookStub) times(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.booked[id]
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// runConsoleCaddy runs Caddy with the console and a held bill24 flow and
// returns the site's base URL.
func runConsoleCaddy(t *testing.T, stub *bookStub) string {
	t.Helper()
	port := freePort(t)
	cf := fmt.Sprintf(strings.ReplaceAll(consoleCaddyfile, "´", "`"), port, freePort(t), stub.srv.URL, consoleUser, consoleHash, t.TempDir())
	adapter := caddyconfig.GetAdapter("caddyfile")
	cfg, _, err := adapter.Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatalf("adapting: %v\n%s", err, cf)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := caddy.Load([]byte(`{"admin": {"disabled": true, "config": {"persist": false}}}`), true); err != nil {
			t.Error(err)
		}
		_ = caddy.Stop()
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// operator is a browser signed in as the operator: it sends basic auth
// and, on a POST, the Origin a same-site form sends; it does not follow
// redirects, so a test sees them.
type operator struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (o *operator) do(method, path string, form url.Values, auth bool) (int, string, http.Header) {
	o.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, o.base+path, body)
	if err != nil {
		o.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", o.base)
	}
	if auth {
		req.SetBasicAuth(consoleUser, consolePassword)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		o.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

var (
	redeliverForm = regexp.MustCompile(`<form method="post" action="redeliver">\s*<input type="hidden" name="e" value="([^"]*)">\s*<input type="hidden" name="token" value="([^"]+)">`)
	stateBadge    = regexp.MustCompile(`<h1>Event <span class="id">[^<]*</span> <span class="badge (\w+)">`)
)

func TestConsoleInCaddy(t *testing.T) {
	stub := newBookStub(t)
	base := runConsoleCaddy(t, stub)
	op := &operator{t: t, base: base, client: &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	// A payment the legacy system rejects: held, answered, then dead.
	id := fmt.Sprintf("con-%d", time.Now().UnixNano())
	stub.reject.Store(true)
	payload := `{"tran_id":"` + id + `","tran_amount":12.5,"currency":"USD","tran_date":"2024-11-29T16:58:16","status":"success","customers":[{"customer_code":"C-778812","customer_name":"ម៉ៅ សាមន","amount":12.5}]}`
	req, _ := http.NewRequest(http.MethodPost, base+"/webhook", strings.NewReader(payload))
	req.Header.Set("token", "tok-webhook")
	req.Header.Set("Content-Type", "application/json")
	resp, err := op.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ack, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the gateway got %d %s", resp.StatusCode, ack)
	}

	// Without signing in: basic_auth answers, the console shows nothing.
	if status, body, _ := op.do(http.MethodGet, "/ops/", nil, false); status != http.StatusUnauthorized || strings.Contains(body, id) {
		t.Errorf("anonymous: %d", status)
	}
	var list string
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body, h := op.do(http.MethodGet, "/ops/?state=dead", nil, true)
		if status != 200 || h.Get("Content-Security-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("list: %d %v", status, h)
		}
		if strings.Contains(body, ">"+id+"<") {
			list = body
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rejected payment never showed as dead:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	link := `href="event?e=` + url.QueryEscape("bill24/webhook/"+id) + `"`
	if !strings.Contains(list, link) || !strings.Contains(list, "rejected by the legacy system") {
		t.Errorf("the list lacks the event's link %s or its reason", link)
	}

	// Its page: dead, why, the payload masked; the form's token.
	eventPath := "/ops/event?e=" + url.QueryEscape("bill24/webhook/"+id)
	_, page, _ := op.do(http.MethodGet, eventPath, nil, true)
	if m := stateBadge.FindStringSubmatch(page); m == nil || m[1] != "dead" {
		t.Fatalf("the event page shows state %v", m)
	}
	for _, secret := range []string{"ម៉ៅ", "C-778812", "customer_name"} {
		if strings.Contains(page, secret) {
			t.Errorf("the event page shows the payload (%q)", secret)
		}
	}
	m := redeliverForm.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no redeliver form on the event page")
	}
	fields := url.Values{"e": {m[1]}, "token": {m[2]}}

	// Forged: no token, or from another site.
	if status, _, _ := op.do(http.MethodPost, "/ops/redeliver", url.Values{"e": {m[1]}}, true); status != http.StatusForbidden {
		t.Errorf("redeliver without a token = %d", status)
	}
	evil, _ := http.NewRequest(http.MethodPost, base+"/ops/redeliver", strings.NewReader(fields.Encode()))
	evil.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	evil.Header.Set("Origin", "https://evil.example")
	evil.SetBasicAuth(consoleUser, consolePassword)
	if resp, err := op.client.Do(evil); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("redeliver from another origin: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}
	if stub.times(id) != 0 {
		t.Fatal("a forged request delivered the payment")
	}

	// The operator's button: 303 to the event's page, which says so.
	stub.reject.Store(false)
	status, _, h := op.do(http.MethodPost, "/ops/redeliver", fields, true)
	if status != http.StatusSeeOther {
		t.Fatalf("redeliver = %d", status)
	}
	to, err := url.Parse(base + "/ops/redeliver")
	if err != nil {
		t.Fatal(err)
	}
	to, err = to.Parse(h.Get("Location"))
	if err != nil || to.Path != "/ops/event" || to.Query().Get("flash") != "redelivered" {
		t.Fatalf("redirected to %q (%v)", h.Get("Location"), err)
	}
	if _, page, _ := op.do(http.MethodGet, to.RequestURI(), nil, true); !strings.Contains(page, "Redelivered: the payment is back in the queue") {
		t.Errorf("the page after the redirect does not say it was redelivered")
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, page, _ := op.do(http.MethodGet, eventPath, nil, true)
		if m := stateBadge.FindStringSubmatch(page); m != nil && m[1] == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redelivered payment never showed done")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a second delivery would have come by now
	if n := stub.times(id); n != 1 {
		t.Errorf("booked %d times, want 1", n)
	}
	// The old token again: the store says it is done.
	if status, body, _ := op.do(http.MethodPost, "/ops/redeliver", fields, true); status != http.StatusConflict || !strings.Contains(body, "it is done") {
		t.Errorf("redeliver a done payment = %d", status)
	}
}
