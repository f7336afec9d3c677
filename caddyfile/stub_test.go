package caddyfile

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// legacyStub is a real HTTP legacy billing API for the tests: customers
// to look up and a payments endpoint that records every post (it does not
// dedupe, like the old systems billbridge fronts).
type legacyStub struct {
	srv *httptest.Server

	mu       sync.Mutex
	payments []payment
	statuses []url.Values // POST /api/bill-status
	lastURL  string

	posts      atomic.Int64 // POST /api/payments received
	lookups    atomic.Int64 // GET /api/payments received
	failNext   atomic.Int64 // answer this many posts 500, recording nothing
	refuseNext atomic.Int64 // answer this many posts 200 {"result":"ERROR"}
	slowNext   atomic.Int64 // record, then answer this many posts late
	slowOKNext atomic.Int64 // answer this many posts OK, but only after slow
	down       atomic.Bool  // answer every post 503, recording nothing (an outage)
	bookWait   atomic.Int64 // record each post, then wait this long (ns) before answering OK
	waiting    atomic.Int64 // posts booked and not answered yet (bookWait)
	reject     atomic.Bool  // answer every post 400 UNKNOWN_INVOICE, recording nothing
	slow       time.Duration
}

type payment struct {
	Form   url.Values
	Header http.Header
}

// customers the stub knows, in the stub's own legacy field names.
var stubCustomers = map[string]string{
	"CU003035": `{"cust_no":"CU003035","full_name":"Nheb Nim","full_name_kh":"ញ៉េប នីម","tel":"010888999","ccy":"USD","amt_due":10.20,"min_pay":-1,"max_pay":5000,"credit":0,"memo":"Invoice on Feb-2024","bill_dt":"2024-2-29 10:46:33","due_dt":"2024-03-30","last_paid_dt":"2024-01-05T10:46:33+07:00"}`,
	"12340001": `{"cust_no":"12340001","full_name":"CHEA Samnang","full_name_kh":"ជា សំណាង","tel":"012345678","ccy":"KHR","amt_due":50000.00,"min_pay":-1,"max_pay":-1,"credit":5000,"memo":"វិក្កយបត្រ ខែមីនា","bill_dt":"2024-03-01 08:00:00","due_dt":"2024-03-30 23:59:59","last_paid_dt":""}`,
	"ZERO":     `{"cust_no":"ZERO","full_name":"Paid Up","full_name_kh":"","tel":"","ccy":"USD","amt_due":0,"min_pay":-1,"max_pay":-1,"credit":0,"memo":"","bill_dt":"","due_dt":"2024-03-30","last_paid_dt":""}`,
	"LATE":     `{"cust_no":"LATE","full_name":"Late Payer","full_name_kh":"","tel":"","ccy":"USD","amt_due":5,"overdue":true,"min_pay":-1,"max_pay":-1,"credit":0,"memo":"","bill_dt":"","due_dt":"2024-01-30","last_paid_dt":""}`,
	"EURO":     `{"cust_no":"EURO","full_name":"Euro Customer","full_name_kh":"","tel":"","ccy":"EUR","amt_due":7,"min_pay":-1,"max_pay":-1,"credit":0,"memo":"","bill_dt":"","due_dt":"2024-03-30","last_paid_dt":""}`,
	"BIG":      `{"cust_no":"BIG","full_name":"Big Spender","full_name_kh":"","tel":"","ccy":"USD","amt_due":99999999999.99,"min_pay":0.1,"max_pay":99999999999.99,"credit":0,"memo":"","bill_dt":"","due_dt":"2024-03-30","last_paid_dt":""}`,
	"BADAMT":   `{"cust_no":"BADAMT","full_name":"Bad Amount","full_name_kh":"","tel":"","ccy":"USD","amt_due":10.005,"min_pay":-1,"max_pay":-1,"credit":0,"memo":"","bill_dt":"","due_dt":"2024-03-30","last_paid_dt":""}`,
}

func newLegacyStub(t *testing.T) *legacyStub {
	s := &legacyStub{slow: 2 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/customers", s.customer)
	mux.HandleFunc("POST /api/payments", s.pay)
	mux.HandleFunc("GET /api/payments", s.findPayment)
	mux.HandleFunc("POST /api/bill-status", s.billStatus)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *legacyStub) URL() string { return s.srv.URL }

func (s *legacyStub) customer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.lastURL = r.URL.RequestURI()
	s.mu.Unlock()
	code := r.URL.Query().Get("code")
	switch code {
	case "CRASH":
		http.Error(w, "Fatal error: Uncaught PDOException", http.StatusInternalServerError)
		return
	case "SLOW":
		select {
		case <-time.After(s.slow):
		case <-r.Context().Done():
		}
		return
	case "GARBAGE":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"OK","customer":{"cust_no":"X","ccy":"USD","amt_due":"ten dollars","due_dt":"2024-03-30"}}`)
		return
	}
	c, ok := stubCustomers[code]
	if !ok {
		if r.URL.Query().Get("echo") != "" || len(code) > 0 && code[0] >= 0x80 {
			// Echo the code back, to prove non-ASCII codes arrive intact.
			b, _ := json.Marshal(code)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, `{"status":"OK","customer":{"cust_no":`+string(b)+`,"full_name_kh":`+string(b)+`,"ccy":"KHR","amt_due":1000,"due_dt":"2024-03-30"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"status":"NOT_FOUND"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = io.WriteString(w, `{"status":"OK","customer":`+c+`}`)
}

func (s *legacyStub) pay(w http.ResponseWriter, r *http.Request) {
	s.posts.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s.down.Load() {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if s.reject.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"result":"ERROR","error":"UNKNOWN_INVOICE"}`)
		return
	}
	if s.failNext.Add(-1) >= 0 {
		http.Error(w, "database is locked", http.StatusInternalServerError)
		return
	}
	s.failNext.Store(0)
	if s.refuseNext.Add(-1) >= 0 {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":"ERROR","error":"invoice closed"}`)
		return
	}
	s.refuseNext.Store(0)
	if s.slowOKNext.Add(-1) >= 0 {
		select {
		case <-time.After(s.slow):
		case <-r.Context().Done():
			return // the caller cut the call: nothing recorded
		}
	}
	s.slowOKNext.Store(0)
	s.mu.Lock()
	s.payments = append(s.payments, payment{Form: r.PostForm, Header: r.Header.Clone()})
	n := len(s.payments)
	s.mu.Unlock()
	if d := time.Duration(s.bookWait.Load()); d > 0 {
		// Booked; the answer takes a while (a slow ledger): a crash of
		// the caller meanwhile leaves the payment uncertain to it.
		s.waiting.Add(1)
		defer s.waiting.Add(-1)
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if s.slowNext.Add(-1) >= 0 {
		// Committed, but answers too late: the ambiguous case.
		select {
		case <-time.After(s.slow):
		case <-r.Context().Done():
		}
		return
	}
	s.slowNext.Store(0)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"result":"OK","receipt_no":"RC-`+strconv.Itoa(n)+`"}`)
}

func (s *legacyStub) findPayment(w http.ResponseWriter, r *http.Request) {
	s.lookups.Add(1)
	ref := r.URL.Query().Get("txn_ref")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.payments {
		if p.Form.Get("txn_ref") == ref {
			w.Header().Set("Content-Type", "application/json")
			b, _ := json.Marshal(map[string]string{"result": "OK", "txn_ref": ref})
			_, _ = w.Write(b)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, `{"result":"NOT_FOUND"}`)
}

// ledger returns the payments recorded for a transaction reference.
func (s *legacyStub) ledger(ref string) []payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []payment
	for _, p := range s.payments {
		if p.Form.Get("txn_ref") == ref {
			out = append(out, p)
		}
	}
	return out
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil { // the port must be closed, not just unused
		t.Fatal(err)
	}
	return addr
}

// billStatus records a bill that ended without payment (failed, cancelled).
func (s *legacyStub) billStatus(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.statuses = append(s.statuses, r.PostForm)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"result":"OK"}`)
}
