package qm

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

const (
	testKey    = "test-api-key"
	testSecret = "5f4dcc3b5aa765d61d8327deb882cf99"
)

// fakeQM behaves like QM's billing API as protocols.md C describes it. It
// checks Key, Sign and Content-Type on every call, answering QM's error
// envelope when they are wrong, and records what arrived.
type fakeQM struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	bills    map[string]map[string]any
	seq      int
	arrivals []time.Time
	calls    map[string]int // by path
	bodies   [][]byte       // create bodies, as received
	badAuth  int            // calls refused for a wrong Key or Sign
	// hook, if set, may answer a call itself after the Key and Sign
	// checks; n counts the calls to the path, from 1. It runs without
	// the lock held.
	hook func(w http.ResponseWriter, r *http.Request, n int) bool
	// allowBadAuth: the test expects refused calls.
	allowBadAuth bool
}

func newFakeQM(t testing.TB) *fakeQM {
	f := &fakeQM{t: t, bills: map[string]map[string]any{}, calls: map[string]int{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(func() {
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.badAuth > 0 && !f.allowBadAuth {
			t.Errorf("fake QM refused %d calls for a wrong Key or Sign", f.badAuth)
		}
	})
	return f
}

// client returns a client of the fake with quick backoffs.
func (f *fakeQM) client(t testing.TB, cfg Config) *Client {
	t.Helper()
	cfg.BaseURL = f.srv.URL
	if cfg.Key == "" {
		cfg.Key = testKey
	}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1000
		cfg.Burst = 1000
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.backoffBase = 5 * time.Millisecond
	c.backoffMax = 20 * time.Millisecond
	return c
}

func (f *fakeQM) addBill(b map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bills[b["billId"].(string)] = b
}

func (f *fakeQM) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

func (f *fakeQM) arrivalTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.arrivals...)
}

func md5hex(b []byte, secret string) string {
	h := md5.Sum(append(append([]byte(nil), b...), secret...))
	return hex.EncodeToString(h[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func envelope(code int, msg string, data any) map[string]any {
	m := map[string]any{"code": code, "message": msg}
	if data != nil {
		m["data"] = data
	}
	return m
}

func (f *fakeQM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.arrivals = append(f.arrivals, time.Now())
	f.calls[r.URL.Path]++
	n := f.calls[r.URL.Path]
	ok := r.Header.Get("Key") == testKey && r.Header.Get("Sign") == md5hex(body, testSecret)
	if !ok {
		f.badAuth++
	}
	hook := f.hook
	f.mu.Unlock()

	if !ok {
		writeJSON(w, http.StatusOK, envelope(1, "Invalid Key or Sign", nil))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("Content-Type %q", ct)
	}
	if hook != nil && hook(w, r, n) {
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/v1/bill/create":
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, envelope(1, "Method not allowed", nil))
			return
		}
		f.bodies = append(f.bodies, body)
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var req map[string]any
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusOK, envelope(1, "Invalid request", nil))
			return
		}
		amount, ok := req["amount"].(json.Number)
		if !ok {
			writeJSON(w, http.StatusOK, envelope(1, "Invalid amount", nil))
			return
		}
		f.seq++
		id := fmt.Sprintf("B%013d", 1706600000000+f.seq)
		ref, _ := req["merchantReference"].(string)
		if ref == "" {
			ref = "QM-" + id
		}
		f.bills[id] = map[string]any{
			"billId": id, "merchantReference": ref, "requestReference": "", "paymentReference": "",
			"billAmount": string(amount), "currency": "USD", "status": 0, "statusName": "Pending Payment",
			"isFinal": false, "dateTime": json.Number("1706600000000"),
		}
		writeJSON(w, http.StatusOK, envelope(0, "Success", map[string]any{
			"billAmount": amount, "requireGCAmount": json.Number("2.50000000"), "currency": "USD",
			"merchantReference": ref, "billId": id, "billUrl": "https://pay.quantummetal.example/b/" + id,
			"expiredOn": json.Number("1706603600000"),
		}))
	case "/v1/bill/requery":
		if r.Method != http.MethodGet || len(body) != 0 {
			writeJSON(w, http.StatusMethodNotAllowed, envelope(1, "Method not allowed", nil))
			return
		}
		b, ok := f.bills[r.URL.Query().Get("billId")]
		if !ok {
			writeJSON(w, http.StatusOK, envelope(1, "Bill not found", nil))
			return
		}
		writeJSON(w, http.StatusOK, envelope(0, "Success", b))
	case "/v1/bill/cancel":
		if r.Method != http.MethodPost || len(body) != 0 {
			writeJSON(w, http.StatusMethodNotAllowed, envelope(1, "Method not allowed", nil))
			return
		}
		b, ok := f.bills[r.URL.Query().Get("billId")]
		if !ok {
			writeJSON(w, http.StatusOK, envelope(1, "Bill not found", nil))
			return
		}
		if b["status"] != 0 {
			writeJSON(w, http.StatusOK, envelope(1, "Bill is not pending payment", nil))
			return
		}
		b["status"], b["statusName"], b["isFinal"] = 3, "Cancelled", true
		writeJSON(w, http.StatusOK, envelope(0, "Success", nil))
	default:
		writeJSON(w, http.StatusNotFound, envelope(1, "Not found", nil))
	}
}
