package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// statusServer answers each request with the next status of a script
// (the last one repeating), with the Retry-After given, and records when
// requests arrived.
type statusServer struct {
	srv        *httptest.Server
	mu         sync.Mutex
	script     []int
	retryAfter string
	arrivals   []time.Time
}

func newStatusServer(t *testing.T, retryAfter string, script ...int) *statusServer {
	s := &statusServer{script: script, retryAfter: retryAfter}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.arrivals)
		s.arrivals = append(s.arrivals, time.Now())
		s.mu.Unlock()
		status := s.script[min(n, len(s.script)-1)]
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			if s.retryAfter != "" {
				w.Header().Set("Retry-After", s.retryAfter)
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *statusServer) calls() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...)
}

// statusCheck accepts 2xx, retries 429 (and 5xx if idempotent).
func statusCheck(idempotent bool) Check {
	return func(resp Response, err error) (bool, error) {
		switch {
		case err != nil:
			return idempotent, err
		case TemporaryStatus(resp.Status):
			return resp.Status == http.StatusTooManyRequests || idempotent, errors.New(AnswerText(resp.Status, resp.Body))
		}
		return false, nil
	}
}

var quick = Retry{Max: 3, Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxRetryAfter: 5 * time.Second}

func TestDoRetriesAfter429(t *testing.T) {
	s := newStatusServer(t, "1", 429, 200)
	c := NewClient(nil, time.Second, 1<<10)
	start := time.Now()
	resp, err := c.Do(t.Context(), Request{Method: http.MethodGet, URL: s.srv.URL}, quick, statusCheck(false))
	if err != nil || resp.Status != 200 {
		t.Fatalf("Do = %+v, %v", resp, err)
	}
	arr := s.calls()
	if len(arr) != 2 || arr[1].Sub(arr[0]) < 900*time.Millisecond || time.Since(start) < 900*time.Millisecond {
		t.Errorf("Retry-After: 1 not honoured: %d calls over %v", len(arr), time.Since(start))
	}
}

func TestDoGivesUp(t *testing.T) {
	c := NewClient(nil, time.Second, 1<<10)
	get := func(s *statusServer) Request { return Request{Method: http.MethodGet, URL: s.srv.URL} }

	s := newStatusServer(t, "", 429)
	_, err := c.Do(t.Context(), get(s), quick, statusCheck(false))
	if err == nil || !strings.Contains(err.Error(), "HTTP 429") || !strings.Contains(err.Error(), "gave up after 4 attempts") || len(s.calls()) != 4 {
		t.Errorf("429 forever: %v, %d calls", err, len(s.calls()))
	}

	// A 5xx is retried only when check says so.
	s = newStatusServer(t, "", 500)
	_, err = c.Do(t.Context(), get(s), quick, statusCheck(false))
	if err == nil || strings.Contains(err.Error(), "attempts") || len(s.calls()) != 1 {
		t.Errorf("500, not idempotent: %v, %d calls", err, len(s.calls()))
	}
	s = newStatusServer(t, "", 500, 500, 200)
	if resp, err := c.Do(t.Context(), get(s), quick, statusCheck(true)); err != nil || resp.Status != 200 || len(s.calls()) != 3 {
		t.Errorf("500 twice, idempotent: %v, %d calls", err, len(s.calls()))
	}

	// No retries.
	s = newStatusServer(t, "", 429)
	if _, err := c.Do(t.Context(), get(s), Retry{}, statusCheck(true)); err == nil || len(s.calls()) != 1 {
		t.Errorf("Max 0: %v, %d calls", err, len(s.calls()))
	}

	// A Retry-After beyond MaxRetryAfter ends the call at once.
	s = newStatusServer(t, "3600", 429)
	start := time.Now()
	if _, err := c.Do(t.Context(), get(s), quick, statusCheck(true)); err == nil || len(s.calls()) != 1 || time.Since(start) > time.Second {
		t.Errorf("long Retry-After: %v, %d calls, %v", err, len(s.calls()), time.Since(start))
	}
	// So does one past the context's deadline.
	s = newStatusServer(t, "3", 503)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start = time.Now()
	if _, err := c.Do(ctx, get(s), quick, statusCheck(true)); err == nil || !strings.Contains(err.Error(), "HTTP 503") || len(s.calls()) != 1 || time.Since(start) > time.Second {
		t.Errorf("Retry-After past the deadline: %v, %d calls, %v", err, len(s.calls()), time.Since(start))
	}
	// An HTTP-date Retry-After in the past means now.
	s = newStatusServer(t, "Sun, 06 Nov 1994 08:49:37 GMT", 429, 204)
	if resp, err := c.Do(t.Context(), get(s), quick, statusCheck(false)); err != nil || resp.Status != 204 {
		t.Errorf("past HTTP-date: %+v, %v", resp, err)
	}
}

func TestDoCanceledWhileWaiting(t *testing.T) {
	s := newStatusServer(t, "5", 429)
	c := NewClient(nil, time.Second, 1<<10)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(ctx, Request{Method: http.MethodGet, URL: s.srv.URL}, quick, statusCheck(true))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "HTTP 429") || !strings.Contains(err.Error(), "stopped waiting to retry") || time.Since(start) > time.Second {
		t.Errorf("Do = %v after %v", err, time.Since(start))
	}
}

func TestDoBefore(t *testing.T) {
	s := newStatusServer(t, "", 429, 200)
	c := NewClient(nil, time.Second, 1<<10)
	r := quick
	var n int
	r.Before = func(context.Context) error { n++; return nil }
	if _, err := c.Do(t.Context(), Request{Method: http.MethodGet, URL: s.srv.URL}, r, statusCheck(false)); err != nil || n != 2 {
		t.Errorf("Before ran %d times for 2 attempts: %v", n, err)
	}
	stop := errors.New("limiter says no")
	r.Before = func(context.Context) error { return stop }
	if _, err := c.Do(t.Context(), Request{Method: http.MethodGet, URL: s.srv.URL}, r, statusCheck(false)); !errors.Is(err, stop) || len(s.calls()) != 2 {
		t.Errorf("Before's error: %v, %d calls", err, len(s.calls()))
	}
}

func TestDoNoAnswerAfterCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	c := NewClient(nil, 5*time.Second, 1<<10)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	// Idempotent, retries allowed: still one attempt, as the caller left.
	_, err := c.Do(ctx, Request{Method: http.MethodGet, URL: srv.URL}, quick, statusCheck(true))
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "attempts") {
		t.Errorf("Do = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	r := Retry{Base: 200 * time.Millisecond, Cap: 2 * time.Second}
	for n, want := range []time.Duration{200, 400, 800, 1600, 2000, 2000} {
		want *= time.Millisecond
		for range 20 {
			if d := r.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
	if d := r.backoff(1000); d < time.Second || d > 2*time.Second {
		t.Errorf("backoff(1000) = %v", d)
	}
	if d := (Retry{}).backoff(0); d != 0 {
		t.Errorf("no backoff configured: %v", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 5 ", 5 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"1048576", 1 << 20 * time.Second, true},
		{"1048577", 0, false},
		{"99999999999999999999999", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"5s", 0, false},
		{"", 0, false},
		{"Tue, 01 Dec 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Tuesday, 01-Dec-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Tue Dec  1 12:00:10 2026", 10 * time.Second, true},   // asctime
		{"Tue, 01 Dec 2026 11:00:00 GMT", 0, true},             // past: now
		{"tomorrow", 0, false},
	} {
		got, ok := ParseRetryAfter(tt.v, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}
