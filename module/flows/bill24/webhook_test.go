package bill24_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap/zaptest"

	billbridge "github.com/billbridge/caddy-billbridge/module"
)

// flowEnv is a handler provisioned as Caddy would, its legacy API played
// back in-process.
type flowEnv struct {
	h     *billbridge.Handler
	posts atomic.Int32
}

const testApp = `{"legacy":{"base_url":"http://127.0.0.1:1","timeout":"2s"},"bill24":{"tokens":["t"]}}`

func newFlowEnv(t *testing.T, src string, status int, answer string) *flowEnv {
	t.Helper()
	s, err := billbridge.NewStandalone([]byte(testApp), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	env := &flowEnv{}
	if testing.Verbose() {
		s.Logger = zaptest.NewLogger(t)
	}
	s.PlayLegacy(func(r *http.Request) (*http.Response, error) {
		env.posts.Add(1)
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(answer))}, nil
	})
	if env.h, err = s.HandlerFromCaddyfile(src); err != nil {
		t.Fatal(err)
	}
	return env
}

func (e *flowEnv) do(t *testing.T, method, token, body string) (int, string, http.Header) {
	t.Helper()
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	if token != "" {
		r.Header.Set("token", token)
	}
	w := httptest.NewRecorder()
	if err := e.h.ServeHTTP(w, r, nil); err != nil {
		t.Fatal(err)
	}
	return w.Code, w.Body.String(), w.Header()
}

func webhookBody(id, status string) string {
	return fmt.Sprintf(`{"tran_id":%q,"tran_amount":45,"fee_amount":0,"total_amount":45,"currency":"USD","bank_ref":"AC1","status":%q,"customers":[{"customer_code":"C1","amount":45}]}`, id, status)
}

const webhookSrc = "billbridge bill24_webhook {\n\tcall POST /api/payments {\n\t\tfield ref `req.id`\n\t}\n}"

func TestWebhookPostsOnceAndReplays(t *testing.T) {
	env := newFlowEnv(t, webhookSrc, 200, `{"ok":true}`)
	for i := range 3 {
		status, body, _ := env.do(t, http.MethodPost, "t", webhookBody("a:b:c", "success"))
		if status != 200 || body != `{"status":"Success","message":"SUCCESS"}` {
			t.Fatalf("delivery %d: %d %s", i+1, status, body)
		}
	}
	if n := env.posts.Load(); n != 1 {
		t.Errorf("legacy saw %d posts, want 1", n)
	}
}

func TestWebhookRefusals(t *testing.T) {
	env := newFlowEnv(t, webhookSrc, 200, `{}`)
	for _, tc := range []struct {
		name, method, token, body string
		status                    int
		contains                  string
	}{
		{"GET", http.MethodGet, "t", "", 405, "method not allowed"},
		{"no token", http.MethodPost, "", webhookBody("x1", "success"), 401, "missing or invalid token"},
		{"wrong token", http.MethodPost, "nope", webhookBody("x2", "success"), 401, "missing or invalid token"},
		{"pending", http.MethodPost, "t", webhookBody("x3", "pending"), 400, "not a completed payment"},
		{"not JSON", http.MethodPost, "t", "amount=45", 400, `"status":"Error"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := env.do(t, tc.method, tc.token, tc.body)
			if status != tc.status || !strings.Contains(body, tc.contains) {
				t.Errorf("got %d %s, want %d containing %q", status, body, tc.status, tc.contains)
			}
			if tc.status == 405 && hdr.Get("Allow") != "POST" {
				t.Errorf("Allow %q, want POST", hdr.Get("Allow"))
			}
		})
	}
	if n := env.posts.Load(); n != 0 {
		t.Errorf("legacy saw %d posts of refused webhooks", n)
	}
}

// TestWebhookIdempotencyKeyIsTheID checks the header carries the gateway's
// id exactly, colons and all: two ids sharing a tail must not collide.
func TestWebhookIdempotencyKeyIsTheID(t *testing.T) {
	s, err := billbridge.NewStandalone([]byte(testApp), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	var keys []string
	s.PlayLegacy(func(r *http.Request) (*http.Response, error) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(""))}, nil
	})
	h, err := s.HandlerFromCaddyfile(webhookSrc)
	if err != nil {
		t.Fatal(err)
	}
	env := &flowEnv{h: h}
	for _, id := range []string{"a:b:c", "x:c"} {
		if status, body, _ := env.do(t, http.MethodPost, "t", webhookBody(id, "success")); status != 200 {
			t.Fatalf("%s: %d %s", id, status, body)
		}
	}
	if len(keys) != 2 || keys[0] != "a:b:c" || keys[1] != "x:c" {
		t.Errorf("idempotency keys %q, want [a:b:c x:c]", keys)
	}
}

// TestWebhookJSONIsStrict: JSON configs refuse what a flow does not take,
// as the Caddyfile does.
func TestWebhookJSONIsStrict(t *testing.T) {
	s, err := billbridge.NewStandalone([]byte(testApp), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	for _, field := range []string{`"rules":[{"when":"true","outcome":"not_found"}]`, `"reply":{"phone":"x"}`, `"redirect":"\"/\""`} {
		_, err := s.Handler([]byte(`{"flow":{"name":"bill24_webhook","call":{"method":"POST","path":"\"/p\""},` + field + `}}`))
		if err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("%s: error %v, want an unknown field", field, err)
		}
	}
}

func TestWebhookCaddyfileRefusesForeignSubdirectives(t *testing.T) {
	var h billbridge.Handler
	for _, sub := range []string{"when `true` not_found", "reply {\n\t}", "redirect `\"/\"`", "requery off"} {
		err := h.UnmarshalCaddyfile(newDispenser("billbridge bill24_webhook {\n\tcall POST /p\n\t" + sub + "\n}"))
		if err == nil || !strings.Contains(err.Error(), "unrecognized subdirective") || !strings.HasSuffix(err.Error(), "Testfile:3") {
			t.Errorf("%q: error %v, want unrecognized subdirective at line 3", sub, err)
		}
	}
}

func standalone(t *testing.T) *billbridge.Standalone {
	t.Helper()
	s, err := billbridge.NewStandalone([]byte(testApp), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestWebhookAlready: the legacy system's "I already have it" completes
// the payment; without `already` the same answer is a refusal to retry.
func TestWebhookAlready(t *testing.T) {
	src := "billbridge bill24_webhook {\n\tcall POST /api/payments\n\tsuccess `res.status == 200`\n\talready `res.status == 409 && res.body.result == \"DUPLICATE\"`\n}"
	env := newFlowEnv(t, src, 409, `{"result":"DUPLICATE"}`)
	for i := range 2 {
		if status, body, _ := env.do(t, http.MethodPost, "t", webhookBody("dup-1", "success")); status != 200 || body != `{"status":"Success","message":"SUCCESS"}` {
			t.Fatalf("delivery %d: %d %s", i+1, status, body)
		}
	}
	if n := env.posts.Load(); n != 1 {
		t.Errorf("legacy saw %d posts, want 1 (the second delivery is a replay)", n)
	}
	other := newFlowEnv(t, src, 409, `{"result":"CONFLICT"}`)
	if status, _, _ := other.do(t, http.MethodPost, "t", webhookBody("dup-2", "success")); status != 502 {
		t.Errorf("a 409 that is not DUPLICATE: %d, want 502", status)
	}
}

// TestWebhookAmountDigitsBound: the app's currency_digits bound refuses
// an amount with more integer digits, before anything is posted.
func TestWebhookAmountDigitsBound(t *testing.T) {
	s, err := billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1"},"bill24":{"tokens":["t"]},"currency_digits":{"USD":3}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	var posts int
	s.PlayLegacy(func(*http.Request) (*http.Response, error) {
		posts++
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(""))}, nil
	})
	h, err := s.HandlerFromCaddyfile(webhookSrc)
	if err != nil {
		t.Fatal(err)
	}
	env := &flowEnv{h: h}
	big := `{"tran_id":"big-1","tran_amount":1000,"currency":"USD","status":"success"}`
	if status, body, _ := env.do(t, http.MethodPost, "t", big); status != 400 || !strings.Contains(body, "digits") {
		t.Errorf("1000 USD under a 3-digit bound: %d %s, want 400 about digits", status, body)
	}
	ok := `{"tran_id":"small-1","tran_amount":999,"currency":"USD","status":"success"}`
	if status, body, _ := env.do(t, http.MethodPost, "t", ok); status != 200 {
		t.Errorf("999 USD: %d %s", status, body)
	}
	if posts != 1 {
		t.Errorf("legacy saw %d posts, want 1", posts)
	}
}
