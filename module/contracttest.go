package billbridge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/bill24"
	"github.com/billbridge/caddy-billbridge/module/qm"
	"github.com/billbridge/caddy-billbridge/module/store"
)

// contractHold is the legacy timeout in a contract test. Played calls
// answer at once, so the timeout bounds nothing there; what it still sets
// is how long an uncertain attempt (a 5xx, a timeout, a cut connection)
// holds its claim before the next delivery may ask lookup. Shortened, a
// case's retry step meets the claim released, as a gateway's retry some
// seconds later would, without the suite waiting the real timeout.
const contractHold = 100 * time.Millisecond

// ContractTest runs contract-test case files (or directories of them)
// against the JSON config cfg: every case gets a fresh app and memory
// store, its handler gets the case's gateway requests, and the legacy API
// and the gateways' APIs are played back from the case. Nothing is sent
// anywhere. It writes one line per case and the differences of each
// failure to w, and returns how many cases failed; err is a config or a
// case file that could not be read at all.
func ContractTest(cfg []byte, paths []string, w io.Writer) (failed int, err error) {
	var doc struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return 0, fmt.Errorf("config: %w", err)
	}
	cases, err := loadCases(paths)
	if err != nil {
		return 0, err
	}
	handlers := allHandlers(doc.Apps["http"])
	// Every case's app loads the memory store module, which warns (on
	// stderr, with a stack: a Standalone's context has no logging config)
	// each time its shared state is created. Holding that state for the
	// whole run makes it warn once, not once per case; each case still
	// gets a store of its own (runCase).
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	var keep store.Memory
	if err := keep.Provision(ctx); err == nil {
		defer func() { _ = keep.Cleanup() }()
	}
	for _, c := range cases {
		d, warn := runCase(doc.Apps["billbridge"], handlers, c)
		status := "PASS"
		if len(d) > 0 {
			status = "FAIL"
			failed++
		}
		// A report that could not be written is no report: stop and say so.
		if _, err := fmt.Fprintf(w, "%s %s: %s\n", status, c.file, c.Name); err != nil {
			return failed, err
		}
		for _, line := range d {
			if _, err := fmt.Fprintf(w, "    %s\n", line); err != nil {
				return failed, err
			}
		}
		if warn != "" {
			if _, err := fmt.Fprintf(w, "    warning: %s\n", warn); err != nil {
				return failed, err
			}
		}
	}
	if _, err := fmt.Fprintf(w, "%d case(s), %d failed\n", len(cases), failed); err != nil {
		return failed, err
	}
	return failed, nil
}

// runCase runs one case and returns its differences and its warning.
func runCase(appJSON json.RawMessage, handlers []foundHandler, c *contractCase) (diffs, string) {
	var d diffs
	restore := setEnv(c.Env)
	defer restore()

	found, err := c.Handler.pick(handlers)
	if err != nil {
		d.addf("handler: %v", err)
		return d, ""
	}
	p := &player{}
	s, err := NewStandalone(appJSON, func(a *App) {
		if a.Legacy != nil {
			a.Legacy.Timeout = caddy.Duration(contractHold)
		}
	})
	if err != nil {
		d.addf("config: %v", err)
		return d, ""
	}
	defer s.Close()
	// A store of the case's own: the memory module's is shared by every
	// app of the process, and cases reuse the gateways' ids.
	s.App.store = store.NewMemoryBackend()
	if err := s.playGateways(p.gateway); err != nil {
		d.addf("config: %v", err)
		return d, ""
	}
	s.PlayLegacy(p.legacy)
	// The handler's log says why an answer went wrong (a mapping's error):
	// a failing step shows it under its diff.
	core, logs := observer.New(zap.InfoLevel)
	s.Logger = zap.New(core)
	h, err := s.Handler(found.raw)
	if err != nil {
		d.addf("handler %s: %v", found.where(), err)
		return d, ""
	}

	for i, step := range c.Steps {
		p.begin(step, step.label(i))
		req, err := c.request(step.Request, h, found)
		if err != nil {
			d.addf("%s: request: %v", step.label(i), err)
			return d, ""
		}
		rec := httptest.NewRecorder()
		_ = h.ServeHTTP(rec, req, nil)
		n := len(d)
		d = append(d, p.end()...)
		compareAnswer(&d, step.label(i)+" answer", step.Expect, rec)
		entries := logs.TakeAll()
		if len(d) > n {
			for _, e := range entries {
				d.addf("%s log: %s", step.label(i), logLine(e))
			}
		}
	}
	return d, missingKeys(found.raw, p.played)
}

// logLine is a handler's log entry on one line.
func logLine(e observer.LoggedEntry) string {
	var b strings.Builder
	b.WriteString(e.Level.String() + " " + e.Message)
	m := e.ContextMap()
	for _, k := range sortedKeys(m) {
		if k != "duration" {
			fmt.Fprintf(&b, " %s=%v", k, m[k])
		}
	}
	return b.String()
}

// missingKeys says which res.body keys the mappings read that no legacy
// answer below 400 the case played holds.
func missingKeys(handlerJSON []byte, played []any) string {
	if len(played) == 0 {
		return ""
	}
	var missing []string
	for _, k := range bodyKeys(handlerJSON) {
		held := false
		for _, b := range played {
			if hasKeyPath(b, strings.Split(k, ".")) {
				held = true
				break
			}
		}
		if !held {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return "the mappings read res.body keys that no legacy answer (below 400) of this case holds; misspelt, or not played: " + strings.Join(missing, ", ")
}

func compareAnswer(d *diffs, label string, want caseAnswer, rec *httptest.ResponseRecorder) {
	n := len(*d)
	if rec.Code != want.Status {
		d.addf("%s.status: want %d, got %d", label, want.Status, rec.Code)
	}
	compareHeaders(d, label+".headers", want.Headers, rec.Header())
	compareBody(d, label+".body", want.Body, rec.Header().Get("Content-Type"), rec.Body.Bytes(), want.Match == "subset")
	if len(*d) > n {
		d.addf("%s was: %d %s", label, rec.Code, truncateText(rec.Body.String()))
	}
}

// request builds a step's gateway request.
func (c *contractCase) request(cr caseRequest, h *Handler, found foundHandler) (*http.Request, error) {
	method := cr.Method
	if method == "" {
		method = h.profile.Methods[0]
	}
	path := cmp.Or(cr.Path, c.Handler.Path, firstOf(found.paths), "/")
	if len(cr.Query) > 0 {
		q := url.Values{}
		for k, v := range cr.Query {
			q.Set(k, v)
		}
		path += "?" + q.Encode()
	}
	var body []byte
	contentType := ""
	switch {
	case cr.Payload != "":
		file := cr.Payload
		if !filepath.IsAbs(file) {
			file = filepath.Join(c.dir, file)
		}
		b, err := os.ReadFile(file) //nolint:gosec // G304: the payload file the operator's case file names
		if err != nil {
			return nil, err
		}
		body, contentType = b, "application/json"
	case len(cr.Body) > 0:
		var s string
		if json.Unmarshal(cr.Body, &s) == nil {
			body, contentType = []byte(s), "text/plain; charset=utf-8"
		} else {
			body, contentType = cr.Body, "application/json"
		}
	case cr.Form != nil:
		f := url.Values{}
		for k, v := range cr.Form {
			f.Set(k, v)
		}
		body, contentType = []byte(f.Encode()), "application/x-www-form-urlencoded"
	}
	host := cmp.Or(c.Handler.Site, firstOf(found.hosts), "localhost")
	req := httptest.NewRequest(method, "http://"+host+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range cr.Headers {
		req.Header.Set(k, v)
	}
	repl := caddy.NewReplacer()
	return req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl)), nil
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// setEnv sets a case's environment and returns what puts it back.
func setEnv(env map[string]string) func() {
	type old struct {
		v  string
		ok bool
	}
	saved := map[string]old{}
	for k, v := range env {
		ov, ok := os.LookupEnv(k)
		saved[k] = old{ov, ok}
		_ = os.Setenv(k, v)
	}
	return func() {
		for k, o := range saved {
			if o.ok {
				_ = os.Setenv(k, o.v)
			} else {
				_ = os.Unsetenv(k)
			}
		}
	}
}

// player plays a step's calls back, in order, and notes each difference
// from what the step expects.
type player struct {
	label          string
	legacyQ, gateQ []caseExchange
	legacyN, gateN int
	d              diffs
	played         []any // decoded legacy bodies, for missingKeys
}

func (p *player) begin(s caseStep, label string) {
	p.label, p.legacyQ, p.gateQ, p.legacyN, p.gateN, p.d = label, s.Legacy, s.Gateway, 0, 0, nil
}

// end returns the step's differences, calls not made included.
func (p *player) end() diffs {
	if n := len(p.legacyQ) - p.legacyN; n > 0 {
		p.d.addf("%s: %d more legacy call(s) expected, %d made", p.label, n, p.legacyN)
	}
	if n := len(p.gateQ) - p.gateN; n > 0 {
		p.d.addf("%s: %d more gateway call(s) expected, %d made", p.label, n, p.gateN)
	}
	return p.d
}

func (p *player) legacy(r *http.Request) (*http.Response, error) {
	return p.next(r, "legacy", p.legacyQ, &p.legacyN)
}

// gateway plays the gateways' APIs. Bill24's authorize is answered by
// itself: it is plumbing, not a mapping, and a case need not script it.
func (p *player) gateway(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/merchantsecurity/authorize" {
		exp := time.Now().Add(time.Hour).Format(time.RFC3339)
		return response(r, 200, nil, []byte(`{"code":200,"message":"","data":{"token":"contract-test","refreshToken":"r","tokenExpireTime":"`+exp+`"}}`), "application/json"), nil
	}
	return p.next(r, "gateway", p.gateQ, &p.gateN)
}

func (p *player) next(r *http.Request, kind string, q []caseExchange, n *int) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	i := *n
	label := fmt.Sprintf("%s %s call %d", p.label, kind, i+1)
	if i >= len(q) {
		p.d.addf("%s: not expected: %s %s %s", label, r.Method, r.URL.RequestURI(), truncateText(string(body)))
		return nil, playedError("refused")
	}
	*n = i + 1
	x := q[i]
	compareCall(&p.d, label, x.Expect, r, body)
	if x.Error != "refused" {
		// As a transport does once a connection is handed to the request:
		// from then on the request may have left, which is how the legacy
		// client tells a cut or a timeout (uncertain) from a refusal.
		if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && tr.GotConn != nil {
			tr.GotConn(httptrace.GotConnInfo{})
		}
	}
	if x.Error != "" {
		return nil, playedError(x.Error)
	}
	a := x.Answer
	raw, ct := answerBody(a.Body)
	resp := response(r, cmp.Or(a.Status, 200), a.Headers, raw, ct)
	if kind == "legacy" && resp.StatusCode < 400 {
		// Error answers rarely carry the fields a mapping reads: a
		// not-found case would warn about every one.
		p.played = append(p.played, mappings.DecodeBody(resp.Header.Get("Content-Type"), raw))
	}
	return resp, nil
}

// playedError is a failed call as the HTTP transport reports it, so the
// pipeline classifies it as it would a real one.
func playedError(kind string) error {
	switch kind {
	case "timeout":
		return fmt.Errorf("played timeout: %w", context.DeadlineExceeded)
	case "cut":
		return fmt.Errorf("played cut connection: %w", io.ErrUnexpectedEOF)
	}
	return &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("played: %w", syscall.ECONNREFUSED)}
}

// answerBody is a played body: a JSON string is text, anything else JSON
// exactly as written in the case (numbers keep their digits).
func answerBody(b json.RawMessage) ([]byte, string) {
	if len(b) == 0 {
		return nil, ""
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return []byte(s), "text/plain; charset=utf-8"
	}
	return b, "application/json"
}

func response(r *http.Request, status int, headers map[string]*string, body []byte, ct string) *http.Response {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	for k, v := range headers {
		if v == nil {
			h.Del(k)
		} else {
			h.Set(k, *v)
		}
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r,
	}
}

// playTransport is an http.RoundTripper of a function. A pointer, not a
// func type: transports are compared (gateway.Client's tracing wrapper
// checks whether it wrapped one), and comparing funcs panics.
type playTransport struct {
	fn func(*http.Request) (*http.Response, error)
}

func (t *playTransport) RoundTrip(r *http.Request) (*http.Response, error) { return t.fn(r) }

// playGateways gives the app's gateway clients (QM, Bill24 Transaction
// Verify) a transport that plays fn back instead of sending: the same
// clients, signing, retries and answer checks, with no network. Call it
// before provisioning handlers, which take the clients then.
func (s *Standalone) playGateways(fn func(*http.Request) (*http.Response, error)) error {
	hc := &http.Client{Transport: &playTransport{fn}}
	a := s.App
	if a.QM != nil {
		c, err := qm.New(qm.Config{BaseURL: resolve(a.QM.BaseURL), Key: resolve(a.QM.Key), Secret: a.QM.secretValue,
			Rate: 1000, Burst: 100, HTTPClient: hc})
		if err != nil {
			return fmt.Errorf("qm: %w", err)
		}
		a.QM.client = c
	}
	if a.Bill24 != nil && a.Bill24.Verify != nil {
		v := a.Bill24.Verify
		vf, err := bill24.NewVerifier(bill24.VerifyConfig{BaseURL: resolve(v.BaseURL), ClientID: resolve(v.ClientID),
			Secret: resolve(v.Secret), MerchantToken: resolve(v.MerchantToken), HTTPClient: hc})
		if err != nil {
			return fmt.Errorf("bill24 verify: %w", err)
		}
		v.verifier = vf
	}
	return nil
}
