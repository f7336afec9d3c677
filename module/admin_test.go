package billbridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// adminEnv is the admin API over a memory store, routed by a ServeMux as
// Caddy's admin endpoint routes it.
type adminEnv struct {
	app  *App
	mem  *store.MemoryBackend
	mux  *http.ServeMux
	logs *observer.ObservedLogs
}

// testPayload is what a held event keeps: a customer's name in Khmer,
// which the admin API must never show.
var testPayload = []byte(`{"customer_name":"ម៉ៅ សាមន","consumer_code":"C-778812","amount":"45.10"}`)

const testRetention = time.Hour

func newAdminEnv(t *testing.T, s store.Store) *adminEnv {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	env := &adminEnv{logs: logs, mux: http.NewServeMux()}
	if s == nil {
		env.mem = store.NewMemoryBackend()
		s = env.mem
	}
	env.app = &App{store: s, logger: zap.New(core)}
	api := &adminAPI{running: func() *App { return env.app }, logger: zap.New(core)}
	for _, r := range api.Routes() {
		env.mux.Handle(r.Pattern, apiErrors(r.Handler))
	}
	return env
}

// apiErrors writes an AdminHandler's error as Caddy's admin endpoint does:
// its status and {"error": message}.
func apiErrors(h caddy.AdminHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h.ServeHTTP(w, r)
		if err == nil {
			return
		}
		var ae caddy.APIError
		if !errors.As(err, &ae) {
			ae = caddy.APIError{HTTPStatus: 500, Err: err}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ae.HTTPStatus)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": ae.Err.Error()})
	})
}

// do sends a request and returns the status and body.
func (e *adminEnv) do(t *testing.T, method, target, body string) (int, string, http.Header) {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.RemoteAddr = "127.0.0.1:40404"
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w.Code, w.Body.String(), w.Header()
}

// view GETs one event and decodes it.
func (e *adminEnv) view(t *testing.T, path string) eventView {
	t.Helper()
	status, body, _ := e.do(t, http.MethodGet, path, "")
	if status != 200 {
		t.Fatalf("GET %s = %d %s", path, status, body)
	}
	return decodeView(t, body)
}

func decodeView(t *testing.T, body string) eventView {
	t.Helper()
	var v eventView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

// wantError checks an error answer's status and that its message says what.
func wantError(t *testing.T, status int, body string, wantStatus int, what string) {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if status != wantStatus || !strings.Contains(e.Error, what) {
		t.Errorf("got %d %q, want %d with %q", status, e.Error, wantStatus, what)
	}
}

// The ways a record gets to each state, through the store's own methods.

func (e *adminEnv) hold(t *testing.T, flow, id string) string {
	t.Helper()
	key := flow + ":" + id
	ack := store.Response{Status: 200, ContentType: JSONType, Body: []byte(`{"status":"Success"}`)}
	res, err := e.mem.Hold(t.Context(), store.Entry{Key: key, Flow: flow, Fingerprint: "fp-" + id, Payload: testPayload, Response: ack}, testRetention)
	if err != nil || res.Outcome != store.Queued {
		t.Fatalf("Hold(%s) = %v, %v", key, res.Outcome, err)
	}
	time.Sleep(2 * time.Millisecond) // distinct update times: the list's order is defined
	return key
}

// lease takes every due record for owner.
func (e *adminEnv) lease(t *testing.T, owner string) []store.Delivery {
	t.Helper()
	ds, err := e.mem.Due(t.Context(), owner, 100, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

var failedAttempt = store.Attempt{Outcome: "legacy_failed", Legacy: 503, Error: "legacy system failed (HTTP 503)"}

func (e *adminEnv) dead(t *testing.T, flow, id string) string {
	t.Helper()
	key := e.hold(t, flow, id)
	e.settle(t, key, func(owner string) error {
		return e.mem.Bury(t.Context(), key, owner, failedAttempt, false, "schedule ran out", testRetention)
	})
	return key
}

func (e *adminEnv) delivered(t *testing.T, flow, id string) string {
	t.Helper()
	key := e.hold(t, flow, id)
	e.settle(t, key, func(owner string) error {
		return e.mem.Delivered(t.Context(), key, owner, store.Attempt{Outcome: "posted", Legacy: 200}, testRetention)
	})
	return key
}

// settle leases key alone and ends its attempt with end.
func (e *adminEnv) settle(t *testing.T, key string, end func(owner string) error) {
	t.Helper()
	owner := "W-" + key
	ds, err := e.mem.Due(t.Context(), owner, 100, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Key == key {
			if err := end(owner); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Fatalf("settle(%s) leased %s too: settle each record before holding the next", key, d.Key)
	}
}

func TestAdminShowsCustodyFields(t *testing.T) {
	env := newAdminEnv(t, nil)
	key := env.dead(t, "bill24:webhook", "d1")
	status, body, h := env.do(t, http.MethodGet, "/billbridge/events/bill24/webhook/d1", "")
	if status != 200 || h.Get("Content-Type") != JSONType {
		t.Fatalf("%d %s", status, body)
	}
	for _, secret := range []string{"ម៉ៅ", "C-778812", "customer_name", `"payload"`} {
		if strings.Contains(body, secret) {
			t.Errorf("the view shows the payload (%q): %s", secret, body)
		}
	}
	v := decodeView(t, body)
	if v.Key != key || v.Event != "bill24/webhook/d1" || v.Flow != "bill24:webhook" || v.State != "dead" || !v.Custody ||
		v.Attempts != 1 || v.Reason != "schedule ran out" || v.PayloadBytes != len(testPayload) || v.Fingerprint != "fp-d1" {
		t.Errorf("view = %+v", v)
	}
	if len(v.History) != 1 || v.History[0].Outcome != "legacy_failed" || v.History[0].LegacyStatus != 503 ||
		v.History[0].Error != failedAttempt.Error || v.History[0].At.IsZero() {
		t.Errorf("history = %+v", v.History)
	}
	if !strings.Contains(body, `"legacy_status":503`) {
		t.Errorf("history does not name legacy_status: %s", body)
	}
	if !v.NextAttempt.IsZero() {
		t.Errorf("a dead record shows next_attempt %v", v.NextAttempt)
	}
	// The gateway was answered when the payment was held; its duplicates
	// get that answer again.
	if v.Response == nil || v.Response.Status != 200 || string(v.Response.Body) != `{"status":"Success"}` {
		t.Errorf("a dead record's replayed answer = %+v", v.Response)
	}

	env.hold(t, "bill24:webhook", "q1")
	if q := env.view(t, "/billbridge/events/bill24/webhook/q1"); q.State != "queued" || q.NextAttempt.IsZero() || len(q.History) != 0 {
		t.Errorf("queued view = %+v", q)
	}
	env.lease(t, "W")
	if p := env.view(t, "/billbridge/events/bill24/webhook/q1"); p.State != "processing" || p.LeaseUntil.IsZero() || p.Attempts != 1 {
		t.Errorf("processing view = %+v", p)
	}
}

func TestAdminShowsSynchronousRecords(t *testing.T) {
	env := newAdminEnv(t, nil)
	key := "qm:callback:B-7"
	if _, err := env.mem.Claim(t.Context(), key, "A", "fp", time.Minute, testRetention); err != nil {
		t.Fatal(err)
	}
	if err := env.mem.Complete(t.Context(), key, "A", store.Response{Status: 200, Body: []byte(`{"received":true}`)}, testRetention); err != nil {
		t.Fatal(err)
	}
	v := env.view(t, "/billbridge/events/qm/callback/B-7")
	if v.Key != key || v.State != "done" || v.Custody || v.PayloadBytes != 0 || v.Response == nil ||
		v.Response.Status != 200 || string(v.Response.Body) != `{"received":true}` || v.History == nil {
		t.Errorf("view = %+v", v)
	}
	status, body, _ := env.do(t, http.MethodGet, "/billbridge/events/qm/callback/never-seen", "")
	wantError(t, status, body, 404, "no record of qm:callback:never-seen")
}

// TestAdminEventAddresses: namespaced flows, ids with slashes and with
// characters a URL escapes, and addresses that name no event.
func TestAdminEventAddresses(t *testing.T) {
	env := newAdminEnv(t, nil)
	for _, tc := range []struct{ flow, id, path string }{
		{"shop-a:bill24:webhook", "n1", "/billbridge/events/shop-a/bill24/webhook/n1"},
		{"bill24:webhook", "a/b", "/billbridge/events/bill24/webhook/a/b"},
		{"bill24:webhook", "c/d", "/billbridge/events/bill24/webhook/c%2Fd"},
		{"bill24:webhook", "x/redeliver", "/billbridge/events/bill24/webhook/x%2Fredeliver"},
		{"qm:callback", "50% off?#1", "/billbridge/events/qm/callback/50%25%20off%3F%231"},
		{"qm:callback", "k:1", "/billbridge/events/qm/callback/k:1"},
	} {
		key := env.hold(t, tc.flow, tc.id)
		if v := env.view(t, tc.path); v.Key != key {
			t.Errorf("GET %s shows %s, want %s", tc.path, v.Key, key)
		}
		if p := (eventRef{Flow: tc.flow, ID: tc.id}).Path(); p != tc.path && tc.id != "a/b" {
			t.Errorf("Path() = %s, want %s", p, tc.path)
		}
	}
	for _, tc := range []struct{ path, what string }{
		{"/billbridge/events/bill24", "want [<namespace>/]<gateway>/<flow>/<id>"},
		{"/billbridge/events/bill24/webhook", "want [<namespace>/]<gateway>/<flow>/<id>"},
		{"/billbridge/events/bill24/webhook/", "want [<namespace>/]<gateway>/<flow>/<id>"},
		{"/billbridge/events/shop-a/webhook/bill24/x", `"webhook" is not a gateway`},
		{"/billbridge/events/shop-a/bill24/webhook", "want [<namespace>/]<gateway>/<flow>/<id>"},
		{"/billbridge/events/sh%3Ap/bill24/webhook/x", `bad flow segment "sh:p"`},
	} {
		status, body, _ := env.do(t, http.MethodGet, tc.path, "")
		wantError(t, status, body, 400, tc.what)
	}
}

func TestAdminListsCustody(t *testing.T) {
	env := newAdminEnv(t, nil)
	status, body, _ := env.do(t, http.MethodGet, "/billbridge/events", "")
	if status != 200 || strings.TrimSpace(body) != `{"items":[],"next":""}` {
		t.Fatalf("empty list = %d %s", status, body)
	}
	// Synchronous records are not in custody and are never listed.
	if _, err := env.mem.Claim(t.Context(), "bill24:webhook:sync", "A", "fp", time.Minute, testRetention); err != nil {
		t.Fatal(err)
	}
	// Oldest first; the list answers newest first.
	keys := []string{
		env.dead(t, "bill24:webhook", "l1"),
		env.dead(t, "bill24:webhook", "l5"),
		env.hold(t, "bill24:webhook", "l2"),
		env.hold(t, "qm:callback", "l3"),
		env.hold(t, "shop-a:bill24:webhook", "l4"),
	}
	all := env.listAll(t, "/billbridge/events?limit=2")
	if len(all) != len(keys) {
		t.Fatalf("listed %d, want %d: %+v", len(all), len(keys), all)
	}
	for i, v := range all {
		if want := keys[len(keys)-1-i]; v.Key != want {
			t.Errorf("item %d is %s, want %s (newest first)", i, v.Key, want)
		}
		if ref, _ := parseEventArg(v.Event); ref.Key() != v.Key || v.PayloadBytes != len(testPayload) {
			t.Errorf("item %+v", v)
		}
	}

	dead := env.listAll(t, "/billbridge/events?state=dead")
	if len(dead) != 2 || dead[0].Key != "bill24:webhook:l5" || dead[1].Key != "bill24:webhook:l1" || dead[0].Reason != "schedule ran out" {
		t.Errorf("dead = %+v", dead)
	}
	b24 := env.listAll(t, "/billbridge/events?flow=bill24/webhook")
	if len(b24) != 3 {
		t.Errorf("bill24/webhook lists %d, want 3", len(b24))
	}
	ns := env.listAll(t, "/billbridge/events?flow=shop-a/bill24/webhook&state=queued")
	if len(ns) != 1 || ns[0].Key != "shop-a:bill24:webhook:l4" || ns[0].Event != "shop-a/bill24/webhook/l4" {
		t.Errorf("shop-a = %+v", ns)
	}
	if got := env.listAll(t, "/billbridge/events/?flow=qm/callback"); len(got) != 1 {
		t.Errorf("qm/callback (trailing slash) lists %d, want 1", len(got))
	}

	for _, tc := range []struct{ query, what string }{
		{"state=done", `state "done": want queued, processing, dead or discarded`},
		{"state=lost", `state "lost"`},
		{"limit=0", `limit "0": want a number from 1 to 1000`},
		{"limit=1001", `limit "1001"`},
		{"limit=ten", `limit "ten"`},
		{"after=garbage", `after: "garbage" is not a cursor`},
		{"flow=bill24", `flow "bill24": want [<namespace>/]<gateway>/<flow>`},
		{"flow=bill24:webhook", `flow "bill24:webhook"`},
		{"flow=shop/x/webhook", `flow "shop/x/webhook"`},
		{"flow=bill24/webhook/x", `flow "bill24/webhook/x"`},
		{"status=dead", `unknown parameter "status"`},
		{"state=dead&state=queued", "state given 2 times"},
	} {
		status, body, _ := env.do(t, http.MethodGet, "/billbridge/events?"+tc.query, "")
		wantError(t, status, body, 400, tc.what)
	}
}

// listAll follows the list's pages from target to the end.
func (e *adminEnv) listAll(t *testing.T, target string) []eventView {
	t.Helper()
	var out []eventView
	next := target
	for page := 0; ; page++ {
		status, body, _ := e.do(t, http.MethodGet, next, "")
		if status != 200 {
			t.Fatalf("GET %s = %d %s", next, status, body)
		}
		var p struct {
			Items []eventView
			Next  string
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Items...)
		if p.Next == "" {
			return out
		}
		if page > 10 {
			t.Fatal("the list does not end")
		}
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		next = target + sep + "after=" + url.QueryEscape(p.Next)
	}
}

func TestAdminRedeliver(t *testing.T) {
	env := newAdminEnv(t, nil)
	env.dead(t, "bill24:webhook", "r1")
	status, body, _ := env.do(t, http.MethodPost, "/billbridge/events/bill24/webhook/r1/redeliver", "")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if v := decodeView(t, body); v.State != "queued" || v.Reason != "" || v.NextAttempt.IsZero() || len(v.History) != 1 {
		t.Errorf("after redeliver: %+v", v)
	}
	if ds := env.lease(t, "W2"); len(ds) != 1 || ds[0].Key != "bill24:webhook:r1" {
		t.Errorf("the redelivered event is not due: %+v", ds)
	}
	entries := env.logs.FilterMessage("operator: redeliver").All()
	if len(entries) != 1 || entries[0].Level != zapcore.WarnLevel {
		t.Fatalf("log = %+v", env.logs.All())
	}
	if f := entries[0].ContextMap(); f["remote"] != "127.0.0.1:40404" || f["key"] != "bill24:webhook:r1" || f["state"] != "queued" {
		t.Errorf("log fields = %v", f)
	}

	// Now being delivered: 409, with why.
	status, body, _ = env.do(t, http.MethodPost, "/billbridge/events/bill24/webhook/r1/redeliver", "")
	wantError(t, status, body, 409, "a delivery attempt is running")

	env.delivered(t, "bill24:webhook", "r2")
	status, body, _ = env.do(t, http.MethodPost, "/billbridge/events/bill24/webhook/r2/redeliver", "")
	wantError(t, status, body, 409, "it is done, the legacy system has it")

	if _, err := env.mem.Claim(t.Context(), "bill24:webhook:r3", "A", "fp", time.Minute, testRetention); err != nil {
		t.Fatal(err)
	}
	if err := env.mem.Release(t.Context(), "bill24:webhook:r3", "A", false, testRetention); err != nil {
		t.Fatal(err)
	}
	status, body, _ = env.do(t, http.MethodPost, "/billbridge/events/bill24/webhook/r3/redeliver", "")
	wantError(t, status, body, 409, "kept no payload")

	status, body, _ = env.do(t, http.MethodPost, "/billbridge/events/bill24/webhook/nope/redeliver", "")
	wantError(t, status, body, 404, "no record of bill24:webhook:nope")
	if n := env.logs.FilterMessage("operator: redeliver").Len(); n != 1 {
		t.Errorf("%d redeliveries logged; the refused ones must not be", n)
	}
}

func TestAdminDiscard(t *testing.T) {
	env := newAdminEnv(t, nil)
	env.dead(t, "qm:callback", "x1")
	const path = "/billbridge/events/qm/callback/x1/discard"
	for _, tc := range []struct{ body, what string }{
		{"", `want {"reason":"…"}`},
		{"{}", "a reason is required"},
		{`{"reason":null}`, "a reason is required"},
		{`{"reason":""}`, "the reason is empty"},
		{`{"reason":"  \t "}`, "the reason is empty"},
		{`{"reason":"` + strings.Repeat("ក", 167) + `"}`, "the reason is 501 bytes; at most 500"},
		{"{\"reason\":\"bad \xff byte\"}", "not UTF-8"},
		{`{"reason":"two\nlines"}`, "one line of text"},
		{`{"reason":"x","by":"me"}`, `unknown field "by"`},
		{`{"reason":"x"} {}`, "want one JSON object"},
		{`["x"]`, `want {"reason":"…"}`},
	} {
		status, body, _ := env.do(t, http.MethodPost, path, tc.body)
		wantError(t, status, body, 400, tc.what)
	}
	status, body, _ := env.do(t, http.MethodPost, path, `{"reason":"`+strings.Repeat("x", maxActionBody)+`"}`)
	wantError(t, status, body, 413, "over 8192 bytes")
	if r, _, _ := env.mem.Get(t.Context(), "qm:callback:x1"); r.State != store.StateDead {
		t.Fatalf("a refused discard changed the record: %+v", r)
	}

	// 500 bytes exactly, Khmer mostly: taken as written.
	reason := "បង់ដោយមូលប្បទានបត្រ " + strings.Repeat("ក", 100)
	reason += strings.Repeat("x", MaxDiscardReason-len(reason))
	reqBody, _ := json.Marshal(map[string]string{"reason": reason})
	status, body, _ = env.do(t, http.MethodPost, path, string(reqBody))
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if v := decodeView(t, body); v.State != "discarded" || v.Reason != reason {
		t.Errorf("after discard: %+v", v)
	}
	entries := env.logs.FilterMessage("operator: discard").All()
	if len(entries) != 1 || entries[0].Level != zapcore.WarnLevel || entries[0].ContextMap()["reason"] != reason {
		t.Errorf("log = %+v", entries)
	}
	if ds := env.lease(t, "W"); len(ds) != 0 {
		t.Errorf("a discarded event is due: %+v", ds)
	}

	status, body, _ = env.do(t, http.MethodPost, path, `{"reason":"again"}`)
	wantError(t, status, body, 409, "it was discarded (បង់ដោយ")
	status, body, _ = env.do(t, http.MethodPost, "/billbridge/events/qm/callback/x1/redeliver", "")
	wantError(t, status, body, 409, "it was discarded")
	env.delivered(t, "qm:callback", "x2")
	status, body, _ = env.do(t, http.MethodPost, "/billbridge/events/qm/callback/x2/discard", `{"reason":"r"}`)
	wantError(t, status, body, 409, "it is done")
	status, body, _ = env.do(t, http.MethodPost, "/billbridge/events/qm/callback/x3/discard", `{"reason":"r"}`)
	wantError(t, status, body, 404, "no record of qm:callback:x3")
	env.hold(t, "qm:callback", "x4")
	status, body, _ = env.do(t, http.MethodPost, "/billbridge/events/qm/callback/x4/discard", `{"reason":"\u1780\u17b6"}`)
	if v := decodeView(t, body); status != 200 || v.Reason != "កា" {
		t.Errorf("escaped reason: %d %s", status, body)
	}
}

func TestAdminMethods(t *testing.T) {
	env := newAdminEnv(t, nil)
	env.hold(t, "bill24:webhook", "m1")
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPost, "/billbridge/events", "GET"},
		{http.MethodDelete, "/billbridge/events?state=dead", "GET"},
		{http.MethodPost, "/billbridge/events/bill24/webhook/m1", "GET"},
		{http.MethodPut, "/billbridge/events/bill24/webhook/m1", "GET"},
		{http.MethodGet, "/billbridge/events/bill24/webhook/m1/redeliver", "POST"},
		{http.MethodDelete, "/billbridge/events/bill24/webhook/m1/discard", "POST"},
		{http.MethodPost, "/billbridge/health", "GET"},
	} {
		status, body, h := env.do(t, tc.method, tc.path, "")
		if status != 405 || h.Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d (Allow %q) %s, want 405 (Allow %s)", tc.method, tc.path, status, h.Get("Allow"), body, tc.allow)
		}
	}
	status, body, _ := env.do(t, http.MethodPost, "/billbridge/events/bill24/webhook/m1", "")
	wantError(t, status, body, 405, "POST is for the actions: /billbridge/events/bill24/webhook/m1/redeliver")
	if r, _, _ := env.mem.Get(t.Context(), "bill24:webhook:m1"); r.State != store.StateQueued {
		t.Errorf("a refused method changed the record: %+v", r)
	}
}

// syncOnly is a store that keeps no events in custody.
type syncOnly struct{ store.Store }

func TestAdminStoreWithoutCustody(t *testing.T) {
	mem := store.NewMemoryBackend()
	env := newAdminEnv(t, syncOnly{mem})
	env.app.ops.storeModule = "billbridge.stores.oldstyle"
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/billbridge/events?state=dead", ""},
		{http.MethodPost, "/billbridge/events/bill24/webhook/z/redeliver", ""},
		{http.MethodPost, "/billbridge/events/bill24/webhook/z/discard", `{"reason":"r"}`},
	} {
		status, body, _ := env.do(t, tc.method, tc.path, tc.body)
		wantError(t, status, body, 501, "the store (billbridge.stores.oldstyle) keeps no events in custody")
	}
	// One record is still shown.
	if _, err := mem.Claim(t.Context(), "bill24:webhook:z", "A", "fp", time.Minute, testRetention); err != nil {
		t.Fatal(err)
	}
	if v := env.view(t, "/billbridge/events/bill24/webhook/z"); v.State != "processing" {
		t.Errorf("view = %+v", v)
	}
	env.app.ops.storeModule = ""
	status, body, _ := env.do(t, http.MethodGet, "/billbridge/events", "")
	wantError(t, status, body, 501, "the store (billbridge.syncOnly)")
}

func TestAdminNotRunning(t *testing.T) {
	env := newAdminEnv(t, nil)
	env.mux = http.NewServeMux()
	api := &adminAPI{running: func() *App { return nil }, logger: zap.NewNop()}
	for _, r := range api.Routes() {
		env.mux.Handle(r.Pattern, apiErrors(r.Handler))
	}
	for _, path := range []string{"/billbridge/events", "/billbridge/events/bill24/webhook/a", "/billbridge/health"} {
		status, body, _ := env.do(t, http.MethodGet, path, "")
		wantError(t, status, body, 503, "billbridge is not running")
	}
}

// failingStore answers nothing.
type failingStore struct{ *store.MemoryBackend }

func (failingStore) Get(context.Context, string) (store.Record, bool, error) {
	return store.Record{}, false, errors.New("store: dial tcp 10.0.0.9:6379: connection refused")
}

func (failingStore) List(context.Context, store.Filter) (store.Page, error) {
	return store.Page{}, errors.New("store: dial tcp 10.0.0.9:6379: connection refused")
}

func TestAdminStoreDown(t *testing.T) {
	env := newAdminEnv(t, failingStore{store.NewMemoryBackend()})
	for _, path := range []string{"/billbridge/events", "/billbridge/events/bill24/webhook/a"} {
		status, body, _ := env.do(t, http.MethodGet, path, "")
		wantError(t, status, body, 503, "the store did not answer: store: dial tcp")
	}
}
