package billbridge

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// newTestLegacy provisions a Legacy (settings and transport) as the app
// does, and releases it when the test ends.
func newTestLegacy(t *testing.T, l *Legacy) *Legacy {
	t.Helper()
	if err := provisionTestLegacy(t, l); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return l
}

func provisionTestLegacy(t *testing.T, l *Legacy) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(func() {
		l.cleanup()
		cancel()
	})
	if err := l.provision(); err != nil {
		return err
	}
	return l.provisionTransport(ctx)
}

// bookingStub is a legacy API on a raw TCP listener that answers the first
// request on each connection and, on any later request on the same
// (reused, keep-alive) connection, books it and hangs up without a word:
// the legacy system has the payment, billbridge has no answer.
type bookingStub struct {
	ln     net.Listener
	mu     sync.Mutex
	booked map[string]int // "METHOD /path" → requests read
	conns  int
	wg     sync.WaitGroup
}

func newBookingStub(t *testing.T) *bookingStub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &bookingStub{ln: ln, booked: map[string]int{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *bookingStub) url() string { return "http://" + s.ln.Addr().String() }

func (s *bookingStub) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		s.wg.Add(1)
		go s.conn(c)
	}
}

func (s *bookingStub) conn(c net.Conn) {
	defer s.wg.Done()
	defer func() { _ = c.Close() }()
	br := bufio.NewReader(c)
	for n := 1; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		s.mu.Lock()
		s.booked[req.Method+" "+req.URL.Path]++
		s.mu.Unlock()
		if n > 1 {
			return // booked; the reused connection closes without an answer
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"); err != nil {
			return
		}
	}
}

func (s *bookingStub) count(key string) (requests, conns int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.booked[key], s.conns
}

// Go's http.Transport resends a "replayable" request (GET, or any request
// with an Idempotency-Key) when a reused keep-alive connection closes
// before answering. Before oneShotBody, this stub saw 2 POSTs and 2 GETs
// and billbridge got the second attempt's 200.
func TestLegacyNoReplayOnReusedConnection(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			s := newBookingStub(t)
			l := newTestLegacy(t, &Legacy{BaseURL: s.url()})
			if _, err := l.do(context.Background(), legacyRequest{method: http.MethodGet, pathQuery: "/warm"}); err != nil {
				t.Fatalf("warm-up: %v", err)
			}
			lr := legacyRequest{method: method, pathQuery: "/pay", header: http.Header{
				"Idempotency-Key":   {"tx-1"},
				"X-Idempotency-Key": {"tx-1"},
			}}
			if method == http.MethodPost {
				lr.body = []byte(`{"tran_id":"tx-1","amount":"45.00"}`)
				lr.contentType = "application/json"
			}
			_, err := l.do(context.Background(), lr)
			n, conns := s.count(method + " /pay")
			if n != 1 {
				t.Errorf("%d %s requests reached the legacy system, want exactly 1", n, method)
			}
			if conns != 1 {
				t.Errorf("%d connections, want 1 (the warm one, reused)", conns)
			}
			var ce *callError
			if !errors.As(err, &ce) || !ce.uncertain() {
				t.Fatalf("got %v (%T), want an uncertain call error", err, err)
			}
		})
	}
}

// wireStub records how each request arrived, over how many connections.
type wireStub struct {
	*httptest.Server
	mu    sync.Mutex
	conns int
	seen  []string
}

func newWireStub(t *testing.T) *wireStub {
	s := &wireStub{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, strings.Join([]string{r.Method, r.URL.Path, strings.Join(r.TransferEncoding, ","),
			r.Header.Get("Content-Length"), string(b)}, "|"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// The one-shot body keeps connections reused, and changes the wire only
// for a bodiless POST (chunked, empty), as oneShotBody says.
func TestLegacyKeepAliveAndWire(t *testing.T) {
	s := newWireStub(t)
	l := newTestLegacy(t, &Legacy{BaseURL: s.URL})
	calls := []legacyRequest{
		{method: http.MethodGet, pathQuery: "/lookup?ref=1"},
		{method: http.MethodPost, pathQuery: "/pay", body: []byte("a=1&b=2"), contentType: "application/x-www-form-urlencoded"},
		{method: http.MethodDelete, pathQuery: "/hold/1"},
		{method: http.MethodPost, pathQuery: "/ping"},
		{method: http.MethodHead, pathQuery: "/lookup"},
	}
	for _, lr := range calls {
		if ans, err := l.do(context.Background(), lr); err != nil || ans.status != 200 {
			t.Fatalf("%s %s: %d, %v", lr.method, lr.pathQuery, ans.status, err)
		}
	}
	want := []string{
		"GET|/lookup|||",
		"POST|/pay||7|a=1&b=2",
		"DELETE|/hold/1|||",
		"POST|/ping|chunked||",
		"HEAD|/lookup|||",
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Join(s.seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests arrived as\n%s\nwant\n%s", strings.Join(s.seen, "\n"), strings.Join(want, "\n"))
	}
	if s.conns != 1 {
		t.Errorf("%d connections for %d sequential calls, want 1 (keep-alive)", s.conns, len(calls))
	}
}

// The legacy timeout is the request context's deadline: it bounds the
// call from dial to the last byte of the answer.
func TestLegacyTimeoutIsTheDeadline(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "12345")
		w.(http.Flusher).Flush()
		<-release // the rest of the body never comes in time
	}))
	t.Cleanup(func() { close(release); s.Close() })
	l := newTestLegacy(t, &Legacy{BaseURL: s.URL, Timeout: caddy.Duration(200 * time.Millisecond)})
	start := time.Now()
	_, err := l.do(context.Background(), legacyRequest{method: http.MethodGet, pathQuery: "/slow"})
	took := time.Since(start)
	var ce *callError
	if !errors.As(err, &ce) || !ce.timeout || !ce.uncertain() {
		t.Fatalf("got %v, want an uncertain timeout", err)
	}
	if took > 5*time.Second {
		t.Errorf("the call took %v with a 200ms legacy timeout", took)
	}
}

// rawStub answers every connection with fn, for the error cases.
func rawStub(t *testing.T, fn func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = c.Close() }()
				fn(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequest reads one whole request, as a legacy system that has it.
func readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return true
}

// dnsStub is a DNS server on UDP that answers every query NXDOMAIN, or
// never answers.
func dnsStub(t *testing.T, answer bool) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if !answer || n < 12 {
				continue
			}
			// Same id and question; QR, RD, RA set; RCODE 3 (NXDOMAIN);
			// no answers.
			resp := append([]byte{}, buf[:n]...)
			resp[2], resp[3] = 0x81, 0x83
			for i := 6; i < 12; i++ {
				resp[i] = 0
			}
			_, _ = pc.WriteTo(resp, addr)
		}
	}()
	return pc.LocalAddr().String()
}

func TestClassifyCallErrors(t *testing.T) {
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		return "http://" + addr
	}()
	tlsStub := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(tlsStub.Close)
	get := legacyRequest{method: http.MethodGet, pathQuery: "/x"}
	post := legacyRequest{method: http.MethodPost, pathQuery: "/pay", body: []byte(`{"a":1}`), contentType: "application/json",
		header: http.Header{"Idempotency-Key": {"tx-1"}}}
	cases := []struct {
		name      string
		legacy    Legacy
		req       legacyRequest
		uncertain bool
		timeout   bool
	}{
		// Certain: the request never left.
		{name: "connection refused", legacy: Legacy{BaseURL: refused}, req: post},
		{name: "name does not resolve", legacy: Legacy{BaseURL: "http://legacy.billbridge.test:8081",
			TransportRaw: json.RawMessage(`{"protocol":"http","resolver":{"addresses":["` + dnsStub(t, true) + `"]}}`)}, req: post},
		{name: "deadline while resolving", legacy: Legacy{BaseURL: "http://legacy.billbridge.test:8081", Timeout: caddy.Duration(300 * time.Millisecond),
			TransportRaw: json.RawMessage(`{"protocol":"http","resolver":{"addresses":["` + dnsStub(t, false) + `"]}}`)}, req: post},
		{name: "TLS handshake refused (unknown CA)", legacy: Legacy{BaseURL: tlsStub.URL}, req: post},
		{name: "request cannot be built (method)", legacy: Legacy{BaseURL: refused}, req: legacyRequest{method: "PO ST", pathQuery: "/pay"}},
		{name: "request cannot be built (header)", legacy: Legacy{BaseURL: refused},
			req: legacyRequest{method: http.MethodPost, pathQuery: "/pay", header: http.Header{"X-Ref": {"a\nb"}}}},
		{name: "URL refused", legacy: Legacy{BaseURL: refused}, req: legacyRequest{method: http.MethodPost, pathQuery: "//elsewhere/pay"}},
		// Uncertain: it may have arrived.
		{name: "connection cut after the request", legacy: Legacy{BaseURL: rawStub(t, func(c net.Conn, br *bufio.Reader) {
			readRequest(br)
		})}, req: post, uncertain: true},
		{name: "connection reset after the request", legacy: Legacy{BaseURL: rawStub(t, func(c net.Conn, br *bufio.Reader) {
			readRequest(br)
			_ = c.(*net.TCPConn).SetLinger(0)
		})}, req: post, uncertain: true},
		{name: "cut while the request is sent", legacy: Legacy{BaseURL: rawStub(t, func(c net.Conn, br *bufio.Reader) {
			_, _ = br.ReadString('\n')
			_ = c.(*net.TCPConn).SetLinger(0)
		})}, req: legacyRequest{method: http.MethodPost, pathQuery: "/pay", body: make([]byte, 8<<20)}, uncertain: true},
		{name: "timeout waiting for the answer", legacy: Legacy{Timeout: caddy.Duration(200 * time.Millisecond), BaseURL: rawStub(t, func(c net.Conn, br *bufio.Reader) {
			readRequest(br)
			_, _ = br.ReadByte() // until billbridge gives up
		})}, req: post, uncertain: true, timeout: true},
		{name: "answer is not HTTP", legacy: Legacy{BaseURL: rawStub(t, func(c net.Conn, br *bufio.Reader) {
			readRequest(br)
			_, _ = io.WriteString(c, "HELLO\r\n\r\n")
		})}, req: get, uncertain: true},
		{name: "answer cut short", legacy: Legacy{BaseURL: rawStub(t, func(c net.Conn, br *bufio.Reader) {
			readRequest(br)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\":")
		})}, req: post, uncertain: true},
		{name: "answer over the size limit", legacy: Legacy{MaxResponseSize: 16, BaseURL: rawStub(t, func(c net.Conn, br *bufio.Reader) {
			readRequest(br)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"ok\":true,\"a\":1}")
		})}, req: post, uncertain: true},
		{name: "answer over the size limit, chunked", legacy: Legacy{MaxResponseSize: 16, BaseURL: rawStub(t, func(c net.Conn, br *bufio.Reader) {
			readRequest(br)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n{\"ok\":true,\"a\":1}\r\n0\r\n\r\n")
		})}, req: post, uncertain: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLegacy(t, &tc.legacy)
			ans, err := l.do(context.Background(), tc.req)
			var ce *callError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v (status %d), want a call error", err, ans.status)
			}
			if ce.uncertain() != tc.uncertain || ce.timeout != tc.timeout {
				t.Errorf("%v: uncertain %v, timeout %v; want %v, %v", err, ce.uncertain(), ce.timeout, tc.uncertain, tc.timeout)
			}
		})
	}
}

func TestLegacyBaseURLErrorsHideSecrets(t *testing.T) {
	cases := []struct{ raw, want string }{
		{"http://alice:s3cret@billing.internal", `base URL "http://REDACTED@billing.internal" must not carry`},
		{"https://s3cret@billing.internal/api", `"https://REDACTED@billing.internal/api" must not carry`},
		{"http://alice:p@ss@s3cret@billing.internal", `"http://REDACTED@billing.internal" must not carry`},
		{"http://alice:p ss@s3cret@billing.internal", "not a valid URL (net/url: invalid userinfo)"},
		{"http://alice:p#ss@s3cret@billing.internal", "not a valid URL (malformed)"},
		{"http://alice:s3cret%zz@billing.internal", "not a valid URL (a bad %-escape)"},
		{"http://alice:s3cret@billing.internal:s3cret", "not a valid URL (malformed)"},
		{"http://billing internal/s3cret?key=s3cret", "not a valid URL (an invalid character in the host)"},
		{"https://billing.internal/api?key=s3cret", `"https://billing.internal/api?REDACTED" must not carry`},
		{"https://billing.internal/api#s3cret", `"https://billing.internal/api#REDACTED" must not carry`},
		{"ftp://alice:s3cret@billing.internal", `"ftp://REDACTED@billing.internal" must be http:// or https://`},
		{"http:alice:s3cret@billing.internal", `"http:REDACTED" must be http:// or https://`},
		{"alice:s3cret@billing.internal", `"REDACTED" must be http:// or https://`},
		{"https:///api?key=s3cret", `"https:///api?REDACTED" must be http:// or https://`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			t.Setenv("BB_LEGACY_URL", tc.raw)
			for _, base := range []string{tc.raw, "{env.BB_LEGACY_URL}"} {
				l := Legacy{BaseURL: base}
				err := l.provision()
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("%s: got %v, want %q", base, err, tc.want)
				}
				if msg := err.Error(); strings.Contains(msg, "s3cret") || strings.Contains(msg, "alice") || strings.Contains(msg, "zz") {
					t.Errorf("%s: error shows a secret: %s", base, msg)
				}
			}
		})
	}
}

// h2RefusingStub is a legacy API speaking HTTP/2 (hand-written frames, so
// the test states exactly what the server does): it answers the first
// stream 200 and refuses every later one with RST_STREAM REFUSED_STREAM,
// which lets Go's HTTP/2 client resend a request on its own.
func h2RefusingStub(t *testing.T, cert tls.Certificate) (url string, streams func() int) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		l := len(payload)
		h := []byte{byte(l >> 16), byte(l >> 8), byte(l), typ, flags, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
		return append(h, payload...)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = c.Close() }()
				preface := make([]byte, 24)
				if _, err := io.ReadFull(c, preface); err != nil {
					return
				}
				if _, err := c.Write(frame(0x4, 0, 0, nil)); err != nil { // SETTINGS
					return
				}
				for {
					hdr := make([]byte, 9)
					if _, err := io.ReadFull(c, hdr); err != nil {
						return
					}
					payload := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
					if _, err := io.ReadFull(c, payload); err != nil {
						return
					}
					typ, flags := hdr[3], hdr[4]
					stream := (uint32(hdr[5])<<24 | uint32(hdr[6])<<16 | uint32(hdr[7])<<8 | uint32(hdr[8])) & 0x7fffffff
					var out []byte
					switch {
					case typ == 0x4 && flags&0x1 == 0: // SETTINGS: acknowledge
						out = frame(0x4, 0x1, 0, nil)
					case typ == 0x1: // HEADERS: a request
						mu.Lock()
						n++
						first := n == 1
						mu.Unlock()
						if first {
							out = frame(0x1, 0x4|0x1, stream, []byte{0x88}) // :status 200, END_HEADERS|END_STREAM
						} else {
							out = frame(0x3, 0, stream, []byte{0, 0, 0, 0x7}) // RST_STREAM REFUSED_STREAM
						}
					}
					if out != nil {
						if _, err := c.Write(out); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "https://" + ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// HTTP/2: Go's client resends a refused stream when the request's body is
// nil or rewindable, whatever the method. Before oneShotBody, the POST and
// the GET each reached this stub 3 times (at 0, ~1 and ~3s of backoff)
// before the 3s deadline.
func TestLegacyNoReplayOverHTTP2(t *testing.T) {
	pki := newTestPKI(t)
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			url, streams := h2RefusingStub(t, pki.server)
			l := newTestLegacy(t, &Legacy{BaseURL: url, Timeout: caddy.Duration(3 * time.Second), TransportRaw: json.RawMessage(
				`{"protocol":"http","tls":{"ca":{"provider":"file","pem_files":["` + pki.caFile + `"]}}}`)})
			if ans, err := l.do(context.Background(), legacyRequest{method: http.MethodGet, pathQuery: "/warm"}); err != nil || ans.status != 200 {
				t.Fatalf("warm-up over HTTP/2: %d %v", ans.status, err)
			}
			lr := legacyRequest{method: method, pathQuery: "/pay", header: http.Header{"Idempotency-Key": {"tx-1"}}}
			if method == http.MethodPost {
				lr.body = []byte(`{"tran_id":"tx-1"}`)
			}
			_, err := l.do(context.Background(), lr)
			if got := streams() - 1; got != 1 {
				t.Errorf("%d %s streams reached the legacy system, want exactly 1", got, method)
			}
			var ce *callError
			if !errors.As(err, &ce) || !ce.uncertain() {
				t.Fatalf("got %v, want an uncertain call error", err)
			}
		})
	}
}
