package billbridge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	billbridge "github.com/billbridge/caddy-billbridge/module"
)

const callApp = `{"legacy":{"base_url":"http://127.0.0.1:1/base","timeout":"2s"},"bill24":{"tokens":["t"]}}`

// callEnv is a handler whose legacy calls are played back in-process and
// recorded, with its log lines observed.
type callEnv struct {
	h    *billbridge.Handler
	logs *observer.ObservedLogs
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func newCallEnv(t *testing.T, app, src string) *callEnv {
	t.Helper()
	s, err := billbridge.NewStandalone([]byte(app), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	core, logs := observer.New(zapcore.DebugLevel)
	s.Logger = zap.New(core)
	env := &callEnv{logs: logs}
	s.PlayLegacy(func(r *http.Request) (*http.Response, error) {
		var b []byte
		if r.Body != nil {
			b, _ = io.ReadAll(r.Body)
		}
		env.mu.Lock()
		env.reqs = append(env.reqs, r)
		env.body = append(env.body, string(b))
		env.mu.Unlock()
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"name":"n","ccy":"USD","due":1}`))}, nil
	})
	if env.h, err = s.HandlerFromCaddyfile(cfTicks(src)); err != nil {
		t.Fatal(err)
	}
	return env
}

// serve sends a gateway request; with traceparent set, it carries the
// replacer a served Caddy request has.
func (e *callEnv) serve(t *testing.T, body string, header http.Header) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("token", "t")
	for k, v := range header {
		r.Header[k] = v
	}
	repl := caddyhttp.NewTestReplacer(r)
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	if err := e.h.ServeHTTP(w, r, nil); err != nil {
		t.Fatal(err)
	}
	return w.Code, w.Body.String()
}

func (e *callEnv) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.reqs) == 0 {
		t.Fatal("no legacy call was made")
	}
	return e.reqs[len(e.reqs)-1], e.body[len(e.body)-1]
}

func (e *callEnv) calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.reqs)
}

func webhookPayload(id, customer string) string {
	return fmt.Sprintf(`{"tran_id":%q,"tran_amount":45,"fee_amount":0,"total_amount":45,"currency":"USD","bank_ref":"AC1","status":"success","customers":[{"customer_code":%q,"amount":45}]}`, id, customer)
}

// TestCallPlaceholdersAtLoad: {env.*} and {file.*} work the same in a
// call's path, headers, query and fields as in the legacy block.
func TestCallPlaceholdersAtLoad(t *testing.T) {
	t.Setenv("BB_TEST_KEY", "k-123")
	t.Setenv("BB_TEST_TENANT", "acme")
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	app := `{"legacy":{"base_url":"http://127.0.0.1:1","headers":{"X-Api-Key":"{env.BB_TEST_KEY}"}},"bill24":{"tokens":["t"]}}`
	env := newCallEnv(t, app, `billbridge bill24_webhook {
	call POST /{env.BB_TEST_TENANT}/payments {
		encode form
		header X-Key {env.BB_TEST_KEY}
		header X-Secret "{file.`+secret+`}"
		query tenant {env.BB_TEST_TENANT}
		field key "key={env.BB_TEST_KEY}"
		field ref ´req.id´
	}
}`)
	if status, body := env.serve(t, webhookPayload("p-1", "C1"), nil); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	r, body := env.last(t)
	for k, want := range map[string]string{"X-Api-Key": "k-123", "X-Key": "k-123", "X-Secret": "s3cret"} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s: %q, want %q", k, got, want)
		}
	}
	if r.URL.Path != "/acme/payments" || r.URL.RawQuery != "tenant=acme" {
		t.Errorf("URL %s, want /acme/payments?tenant=acme", r.URL)
	}
	if body != "key=key%3Dk-123&ref=p-1" {
		t.Errorf("body %q", body)
	}
}

// TestCallPlaceholdersUnsetAreLoadErrors: an unset variable or a missing
// file is refused when the config loads, named, never sent empty.
func TestCallPlaceholdersUnsetAreLoadErrors(t *testing.T) {
	if err := os.Unsetenv("BB_TEST_UNSET"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BB_TEST_REL", "api")
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct{ name, call, want string }{
		{"header", "call GET /x {\n\t\theader X-Api-Key {env.BB_TEST_UNSET}\n\t}", "call header X-Api-Key: {env.BB_TEST_UNSET}: environment variable BB_TEST_UNSET is not set or empty"},
		{"header part", "call GET /x {\n\t\theader Authorization \"Bearer {env.BB_TEST_UNSET}\"\n\t}", "call header Authorization: {env.BB_TEST_UNSET}: environment variable BB_TEST_UNSET"},
		{"query", "call GET /x {\n\t\tquery key {env.BB_TEST_UNSET}\n\t}", "call query key: {env.BB_TEST_UNSET}"},
		{"file", "call GET /x {\n\t\theader X-Secret \"{file." + missing + "}\"\n\t}", "call header X-Secret: {file." + missing + "}: file " + missing + " cannot be read or is empty"},
		{"path", "call GET /{env.BB_TEST_UNSET}/x", "call path: {env.BB_TEST_UNSET}"},
		// Checked once resolved: "api/x" is no legacy path.
		{"resolved path", "call GET {env.BB_TEST_REL}/x", `call path: legacy path "api/x" must start with /`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := billbridge.NewStandalone([]byte(callApp), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.HandlerFromCaddyfile("billbridge bill24_proxy {\n\t" + tc.call + "\n}")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\n  want %q", err, tc.want)
			}
		})
	}
	t.Run("legacy block", func(t *testing.T) {
		_, err := billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1","headers":{"X-Api-Key":"{env.BB_TEST_UNSET}"}}}`), nil)
		if want := "header X-Api-Key: {env.BB_TEST_UNSET}: environment variable BB_TEST_UNSET is not set or empty"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\n  want %q", err, want)
		}
		_, err = billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1","headers":{"X-Trace":"{http.request.header.traceparent}"}}}`), nil)
		if want := "request placeholders are resolved only in a call's headers"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\n  want %q", err, want)
		}
	})
}

// TestCallRequestPlaceholders: request placeholders in a call's headers
// are the request's, resolved per request from its replacer; one that is
// empty sends no header, never an empty one or the placeholder itself.
func TestCallRequestPlaceholders(t *testing.T) {
	for _, src := range []string{
		"billbridge bill24_proxy {\n\tcall GET /c {\n\t\theader traceparent {http.request.header.traceparent}\n\t\theader X-Via \"billbridge {http.request.header.traceparent}\"\n\t}\n\treply {\n\t\tcurrency USD\n\t}\n}",
		"billbridge bill24_webhook {\n\tcall POST /p {\n\t\theader traceparent {http.request.header.traceparent}\n\t\theader X-Via \"billbridge {http.request.header.traceparent}\"\n\t\tfield ref ´req.id´\n\t}\n}",
	} {
		env := newCallEnv(t, callApp, src)
		payload := func(i int) string {
			if strings.Contains(src, "webhook") {
				return webhookPayload(fmt.Sprintf("tp-%d", i), "C1")
			}
			return `{"consumer_code":"CU1"}`
		}
		for i, tp := range []string{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-11111111111111111111111111111111-2222222222222222-01"} {
			if status, body := env.serve(t, payload(i), http.Header{"Traceparent": {tp}}); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			r, _ := env.last(t)
			if got := r.Header.Get("traceparent"); got != tp {
				t.Errorf("traceparent %q, want %q", got, tp)
			}
			if got := r.Header.Get("X-Via"); got != "billbridge "+tp {
				t.Errorf("X-Via %q", got)
			}
		}
		if status, body := env.serve(t, payload(9), nil); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		r, _ := env.last(t)
		if v, ok := r.Header["Traceparent"]; ok {
			t.Errorf("without a traceparent, sent traceparent %q", v)
		}
		if got := r.Header.Get("X-Via"); got != "billbridge " {
			t.Errorf("X-Via %q, want the literal part alone", got)
		}
	}
}

// TestCallPathRulesInJSON: a JSON config gets the same path rules as the
// Caddyfile, when it loads.
func TestCallPathRulesInJSON(t *testing.T) {
	s, err := billbridge.NewStandalone([]byte(callApp), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ path, want string }{
		{`"api/x"`, `call path: legacy path "api/x" must start with /`},
		{`'/a/../b'`, "has dot segments"},
		{`"/c/" + req.consumer_code`, "gateway data `req.consumer_code` in a call path must be escaped"},
		{`"/c?code=" + urlpath(req.consumer_code)`, "escape values with urlquery, not urlpath"},
		{`"/c/" + "{env.HOME}"`, "{env.HOME} is not replaced inside an expression"},
	} {
		_, err := s.Handler([]byte(`{"flow":{"name":"bill24_proxy","call":{"method":"GET","path":` + strconvQuote(tc.path) + `}}}`))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("path %s: error %v\n  want %q", tc.path, err, tc.want)
		}
	}
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// TestGatewayDataNeverShapesTheQuery: a consumer code that carries a query
// of its own reaches the legacy API as one escaped value.
func TestGatewayDataNeverShapesTheQuery(t *testing.T) {
	const evil = "x?amount=99999&reference=OTHER"
	for _, tc := range []struct {
		path  string
		check func(u *url.URL) error
	}{
		{`´"/c/" + urlpath(req.consumer_code)´`, func(u *url.URL) error {
			if u.Path != "/base/c/"+evil || u.RawQuery != "" {
				return fmt.Errorf("path %q query %q", u.Path, u.RawQuery)
			}
			return nil
		}},
		{`´"/c?code=" + urlquery(req.consumer_code) + "&lang=km"´`, func(u *url.URL) error {
			q := u.Query()
			if len(q) != 2 || q.Get("code") != evil || q.Get("lang") != "km" {
				return fmt.Errorf("query %q", u.RawQuery)
			}
			return nil
		}},
	} {
		env := newCallEnv(t, callApp, "billbridge bill24_proxy {\n\tcall GET "+tc.path+"\n\treply {\n\t\tcurrency USD\n\t}\n}")
		if status, body := env.serve(t, `{"consumer_code":"`+evil+`"}`, nil); status != 200 {
			t.Fatalf("%s: %d %s", tc.path, status, body)
		}
		r, _ := env.last(t)
		if q := r.URL.Query(); q.Has("amount") || q.Has("reference") {
			t.Errorf("%s: the consumer code became query parameters: %s", tc.path, r.URL)
		}
		if err := tc.check(r.URL); err != nil {
			t.Errorf("%s: %v", tc.path, err)
		}
	}
	// Codes that no raw path could hold go out escaped.
	env := newCallEnv(t, callApp, "billbridge bill24_proxy {\n\tcall GET ´\"/c/\" + urlpath(req.consumer_code)´\n\treply {\n\t\tcurrency USD\n\t}\n}")
	for code, want := range map[string]string{"CU 003035": "/base/c/CU%20003035", "#": "/base/c/%23", "a/b": "/base/c/a%2Fb", "ជា": "/base/c/%E1%9E%87%E1%9E%B6"} {
		if status, body := env.serve(t, `{"consumer_code":"`+code+`"}`, nil); status != 200 {
			t.Fatalf("%q: %d %s", code, status, body)
		}
		if r, _ := env.last(t); r.URL.EscapedPath() != want {
			t.Errorf("%q: sent %s, want %s", code, r.URL.EscapedPath(), want)
		}
	}
}

// TestBadGatewayDataIs400: data that cannot form a legal legacy path is
// the gateway's fault: 400 in its envelope, nothing sent, logged at info
// with the code masked, the claim released for the next delivery.
func TestBadGatewayDataIs400(t *testing.T) {
	t.Run("proxy", func(t *testing.T) {
		env := newCallEnv(t, callApp, "billbridge bill24_proxy {\n\tcall GET ´\"/c/\" + urlpath(req.consumer_code) + \"/bill\"´\n}")
		for _, code := range []string{"..", "."} {
			status, body := env.serve(t, `{"consumer_code":"`+code+`"}`, nil)
			if want := `{"code":400,"message":"a value in the request cannot form a legacy request"`; status != 400 || !strings.HasPrefix(body, want) {
				t.Errorf("%q: %d %s, want 400 %s…", code, status, body, want)
			}
		}
		checkBadDataLogs(t, env, 2, "/c/..")
	})
	t.Run("webhook", func(t *testing.T) {
		env := newCallEnv(t, callApp, "billbridge bill24_webhook {\n\tcall POST ´\"/customers/\" + urlpath(first(req.customers).customer_code) + \"/payments\"´ {\n\t\tfield ref ´req.id´\n\t}\n}")
		for i := range 2 {
			// The same delivery twice: the claim was released, so the
			// second is judged afresh (400 again), not held in flight.
			status, body := env.serve(t, webhookPayload("bad-1", ".."), nil)
			if status != 400 || !strings.Contains(body, "a value in the request cannot form a legacy request") {
				t.Errorf("delivery %d: %d %s", i+1, status, body)
			}
		}
		checkBadDataLogs(t, env, 2, "/customers/..")
	})
}

func checkBadDataLogs(t *testing.T, env *callEnv, n int, raw string) {
	t.Helper()
	if c := env.calls(); c != 0 {
		t.Errorf("the legacy API got %d calls, want none", c)
	}
	lines := env.logs.FilterMessage("gateway event").All()
	if len(lines) != n {
		t.Fatalf("%d gateway event lines, want %d", len(lines), n)
	}
	for _, l := range lines {
		f := l.ContextMap()
		if l.Level != zapcore.InfoLevel || f["outcome"] != "bad_data" || f["status"] != int64(400) {
			t.Errorf("logged %s %v, want info, outcome bad_data, status 400", l.Level, f)
		}
		if _, ok := f["error"]; ok {
			t.Errorf("logged an error field: %v", f)
		}
		for k, v := range f {
			if s, ok := v.(string); ok && (strings.Contains(s, raw) || s == "..") {
				t.Errorf("field %s logs the raw value: %q", k, s)
			}
		}
	}
	for _, l := range env.logs.All() {
		if l.Level >= zapcore.ErrorLevel {
			t.Errorf("logged at %s: %s %v", l.Level, l.Message, l.ContextMap())
		}
	}
}
