package qm_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	billbridge "github.com/billbridge/caddy-billbridge/module"
	_ "github.com/billbridge/caddy-billbridge/module/flows/qm"
)

// requeryQM answers Requery from its bills, as QM's envelope does; it does
// not check signatures (module/qm's own fake does).
type requeryQM struct {
	mu    sync.Mutex
	bills map[string]map[string]any
	calls int
}

func (q *requeryQM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	b, ok := q.bills[r.URL.Query().Get("billId")]
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		_, _ = io.WriteString(w, `{"code":404,"message":"bill not found"}`)
		return
	}
	out, _ := json.Marshal(map[string]any{"code": 0, "message": "ok", "data": b})
	_, _ = w.Write(out)
}

type qmEnv struct {
	s     *billbridge.Standalone
	qm    *requeryQM
	posts []*http.Request
}

func newQMEnv(t *testing.T) *qmEnv {
	t.Helper()
	env := &qmEnv{qm: &requeryQM{bills: map[string]map[string]any{}}}
	srv := httptest.NewServer(env.qm)
	t.Cleanup(srv.Close)
	s, err := billbridge.NewStandalone([]byte(fmt.Sprintf(`{"legacy":{"base_url":"http://127.0.0.1:1"},"qm":{"base_url":%q,"key":"k","secret":"s","rate":1000}}`, srv.URL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.PlayLegacy(func(r *http.Request) (*http.Response, error) {
		env.posts = append(env.posts, r)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"ok":true}`))}, nil
	})
	env.s = s
	return env
}

func (e *qmEnv) bill(id string, status int, amount string) map[string]any {
	b := map[string]any{"billId": id, "merchantReference": "ORD-1", "billAmount": json.Number(amount), "currency": "MYR",
		"status": status, "statusName": "x", "isFinal": status != 0, "dateTime": 1700000000000}
	e.qm.bills[id] = b
	return b
}

func serve(t *testing.T, h *billbridge.Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCallbackActsOnTheRequeriedBill(t *testing.T) {
	env := newQMEnv(t)
	h, err := env.s.HandlerFromCaddyfile("billbridge qm_callback {\n\tcall POST /paid {\n\t\tfield bill `req.billId`\n\t\tfield amount `req.billAmount`\n\t}\n}")
	if err != nil {
		t.Fatal(err)
	}
	genuine := env.bill("B1", 1, "10.00")
	body, _ := json.Marshal(genuine)
	forged := strings.Replace(string(body), `"billAmount":10.00`, `"billAmount":99.00`, 1)
	if w := serve(t, h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(forged))); w.Code != 409 {
		t.Errorf("forged amount: %d %s, want 409", w.Code, w.Body)
	}
	for i := range 2 {
		if w := serve(t, h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))); w.Code != 200 || w.Body.String() != `{"received":true}` {
			t.Fatalf("delivery %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	if len(env.posts) != 1 {
		t.Fatalf("legacy saw %d posts, want 1", len(env.posts))
	}
	pending := env.bill("B2", 0, "10.00")
	pb, _ := json.Marshal(pending)
	if w := serve(t, h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(pb)))); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("pending bill: %d %s, want 503 with Retry-After", w.Code, w.Body)
	}
	unknown := strings.Replace(string(body), `"B1"`, `"B404"`, 1)
	if w := serve(t, h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(unknown))); w.Code != 409 {
		t.Errorf("unknown bill: %d %s, want 409", w.Code, w.Body)
	}
	if len(env.posts) != 1 {
		t.Errorf("legacy saw %d posts, want 1", len(env.posts))
	}
}

func TestRedirect(t *testing.T) {
	env := newQMEnv(t)
	h, err := env.s.HandlerFromCaddyfile("billbridge qm_redirect {\n\tredirect `\"/thanks?ref=\" + urlquery(req.merchantReference) + \"&paid=\" + string(req.status == 1)`\n}")
	if err != nil {
		t.Fatal(err)
	}
	env.bill("B1", 1, "10.00")
	w := serve(t, h, httptest.NewRequest(http.MethodGet, "/return?billId=B1&status=2", nil))
	if w.Code != 302 || w.Header().Get("Location") != "/thanks?ref=ORD-1&paid=true" {
		t.Errorf("got %d Location %q", w.Code, w.Header().Get("Location"))
	}
	for _, tc := range []struct {
		url    string
		status int
	}{{"/return", 400}, {"/return?billId=NOPE", 400}} {
		if w := serve(t, h, httptest.NewRequest(http.MethodGet, tc.url, nil)); w.Code != tc.status || !strings.HasPrefix(w.Body.String(), "<!doctype html>") {
			t.Errorf("%s: %d %s", tc.url, w.Code, w.Body)
		}
	}
	if w := serve(t, h, httptest.NewRequest(http.MethodPost, "/return?billId=B1", nil)); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// TestRedirectJSONIsStrict is the config from the issue that passed
// `caddy validate`: a qm_redirect with another flow's settings.
func TestRedirectJSONIsStrict(t *testing.T) {
	env := newQMEnv(t)
	for _, field := range []string{
		`"success":"this is not even an expression"`,
		`"rules":[{"when":"???","outcome":"x"}]`,
		`"reply":{"a":"((("}`,
		`"bill":{"amount":")"}`,
	} {
		_, err := env.s.Handler([]byte(`{"flow":{"name":"qm_redirect","redirect":"\"/\"",` + field + `}}`))
		if err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("%s: error %v, want an unknown field", field, err)
		}
	}
}

func TestCreateBillRefusesWhatQMCannotBill(t *testing.T) {
	env := newQMEnv(t)
	h, err := env.s.HandlerFromCaddyfile("billbridge qm_create_bill {\n\tbill {\n\t\tamount `req.body.total`\n\t}\n}")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"total":0}`, `{"total":-5}`, `{"total":"abc"}`, `{}`} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if w := serve(t, h, r); w.Code != 400 || !strings.Contains(w.Body.String(), `"error":"amount`) {
			t.Errorf("%s: %d %s, want 400 about the amount", body, w.Code, w.Body)
		}
	}
	if env.qm.calls != 0 {
		t.Errorf("QM saw %d calls for bills it could not create", env.qm.calls)
	}
}

// TestCallbackFeedsTheHealthReport: QM's and the legacy API's answers
// reach the health report, under a namespace too.
func TestCallbackFeedsTheHealthReport(t *testing.T) {
	env := newQMEnv(t)
	h, err := env.s.HandlerFromCaddyfile("billbridge qm_callback {\n\tnamespace shop2\n\tcall POST /paid\n}")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(env.bill("H1", 1, "10.00"))
	if w := serve(t, h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	calls := env.s.App.Health(t.Context()).Calls
	if calls["qm"].LastOKAt.IsZero() || calls["legacy"].LastOKAt.IsZero() {
		t.Errorf("health after a posted callback: %+v, want QM's and the legacy's last success", calls)
	}
	unknown := strings.Replace(string(body), `"H1"`, `"H404"`, 1)
	serve(t, h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(unknown)))
	if calls := env.s.App.Health(t.Context()).Calls; calls["qm"].LastError != "" {
		t.Errorf("an unknown bill is QM answering, not QM failing: %+v", calls["qm"])
	}
}
