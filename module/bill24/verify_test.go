package bill24

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// The fake's credentials. The secret holds a quote and a backslash, which
// %q escapes, to check that the escaped form is blanked out too.
const (
	vtClientID      = "client-0042"
	vtSecret        = `s3cr3t-"Pa55\word`
	vtMerchantToken = "mtok-7f3a9c1e5b"
)

// verifyClock is a clock the tests move by hand. The fake Bill24 and the
// Verifier share it.
type verifyClock struct {
	mu sync.Mutex
	t  time.Time
}

func newVerifyClock() *verifyClock {
	return &verifyClock{t: time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)}
}

func (c *verifyClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *verifyClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeBill24 is Bill24's merchant API as protocols.md B.2 and B.4 describe
// it: /merchantsecurity/authorize issues bearer tokens that expire
// lifetime after issue (by the shared clock), /transaction/v2/verify
// answers 401 to a missing, unknown, revoked or expired token. Its error
// messages quote the secrets it was sent, so that a Verifier quoting them
// carelessly is caught.
type fakeBill24 struct {
	t        testing.TB
	srv      *httptest.Server
	clock    *verifyClock
	lifetime time.Duration

	mu         sync.Mutex
	tokens     map[string]time.Time // valid token → expiry
	issued     []string             // every token issued, in order
	authorizes int
	verifies   int
	refused    map[string]int    // tran_id → verify calls answered 401
	txs        map[string]string // tran_id → data object (raw JSON)
	anyTx      bool              // any tran_id starting with "tx-" exists
	lastAuth   map[string]any    // the last authorize body
	lastBearer string            // the last bearer token a verify call carried
	lastHeader http.Header
	badBody    string // what was wrong with a request body, if anything

	// expireTime writes tokenExpireTime; nil: RFC 3339 with 7 fractional
	// digits in UTC+7, as Bill24 does. Returning nil leaves it out.
	expireTime func(time.Time) any
	// authDelay delays authorize answers.
	authDelay time.Duration
	// authIssued, if set, is called once a token is issued, before it is
	// sent back.
	authIssued func()
	// authHook, if set and returning true, answered the authorize call.
	authHook func(w http.ResponseWriter) bool
	// verifyHook, if set and returning true, answered the verify call
	// (after the token was checked).
	verifyHook func(w http.ResponseWriter, tranID, bearer string) bool
}

func newFakeBill24(t testing.TB, clock *verifyClock) *fakeBill24 {
	f := &fakeBill24{
		t: t, clock: clock, lifetime: 10 * time.Minute,
		tokens: map[string]time.Time{}, refused: map[string]int{}, txs: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/merchantsecurity/authorize", f.authorize)
	mux.HandleFunc("/transaction/v2/verify", f.verify)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBill24) writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// readBody decodes a request body into a map and checks it has exactly
// the keys given.
func (f *fakeBill24) readBody(r *http.Request, keys ...string) (map[string]any, bool) {
	var m map[string]any
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		f.setBad(fmt.Sprintf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type")))
		return nil, false
	}
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		f.setBad(err.Error())
		return nil, false
	}
	if len(m) != len(keys) {
		f.setBad(fmt.Sprintf("body %v, want keys %v", m, keys))
		return nil, false
	}
	for _, k := range keys {
		if _, ok := m[k].(string); !ok {
			f.setBad(fmt.Sprintf("body %v: %s is not a string", m, k))
			return nil, false
		}
	}
	return m, true
}

func (f *fakeBill24) setBad(s string) {
	f.mu.Lock()
	f.badBody = s
	f.mu.Unlock()
}

func (f *fakeBill24) authorize(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.authorizes++
	f.mu.Unlock()
	if f.authDelay > 0 {
		time.Sleep(f.authDelay)
	}
	m, ok := f.readBody(r, "token", "clientId", "secret", "refreshToken")
	if !ok {
		f.writeJSON(w, http.StatusBadRequest, `{"code":400,"message":"bad request"}`)
		return
	}
	f.mu.Lock()
	f.lastAuth = m
	f.mu.Unlock()
	if f.authHook != nil && f.authHook(w) {
		return
	}
	if m["clientId"] != vtClientID || m["secret"] != vtSecret || m["token"] != vtMerchantToken {
		msg, _ := json.Marshal(fmt.Sprintf("invalid credentials: secret %v, token %v", m["secret"], m["token"]))
		f.writeJSON(w, http.StatusUnauthorized, `{"code":401,"message":`+string(msg)+`,"data":null}`)
		return
	}
	f.mu.Lock()
	tok := fmt.Sprintf("eyJhbGciOiJIUzI1NiJ9.%d.%x", len(f.issued)+1, time.Now().UnixNano())
	exp := f.clock.Now().Add(f.lifetime)
	f.tokens[tok] = exp
	f.issued = append(f.issued, tok)
	f.mu.Unlock()
	if f.authIssued != nil {
		f.authIssued()
	}
	var expText any = exp.In(time.FixedZone("", 7*3600)).Format("2006-01-02T15:04:05.0000000-07:00")
	if f.expireTime != nil {
		expText = f.expireTime(exp)
	}
	data := map[string]any{"issuer": "http://merchantapi.bill24.io", "token": tok, "refreshToken": "a1b2c3d4"}
	if expText != nil {
		data["tokenExpireTime"] = expText
	}
	b, _ := json.Marshal(map[string]any{"code": 200, "message": "", "data": data})
	f.writeJSON(w, http.StatusOK, string(b))
}

func (f *fakeBill24) verify(w http.ResponseWriter, r *http.Request) {
	m, ok := f.readBody(r, "identity_code", "purpose_of_transaction", "tran_id", "bank_ref")
	if !ok || m["identity_code"] != "" || m["purpose_of_transaction"] != "" || m["bank_ref"] != "" {
		if ok {
			f.setBad(fmt.Sprintf("verify body %v", m))
		}
		f.writeJSON(w, http.StatusBadRequest, `{"code":"BAD_REQUEST","message":"bad request"}`)
		return
	}
	tranID := m["tran_id"].(string)
	auth := r.Header.Get("Authorization")
	bearer, isBearer := strings.CutPrefix(auth, "Bearer ")

	f.mu.Lock()
	f.verifies++
	f.lastBearer, f.lastHeader = bearer, r.Header.Clone()
	exp, known := f.tokens[bearer]
	if !isBearer || !known || !f.clock.Now().Before(exp) {
		f.refused[tranID]++
		f.mu.Unlock()
		msg, _ := json.Marshal("token " + bearer + " is invalid or expired")
		f.writeJSON(w, http.StatusUnauthorized, `{"code":"UNAUTHORIZED","message":`+string(msg)+`}`)
		return
	}
	data, found := f.txs[tranID]
	if !found && f.anyTx && strings.HasPrefix(tranID, "tx-") {
		data, found = fmt.Sprintf(`{"tran_id":%q,"tran_amount":10.20,"currency":"USD","status":"success"}`, tranID), true
	}
	f.mu.Unlock()

	if f.verifyHook != nil && f.verifyHook(w, tranID, bearer) {
		return
	}
	if !found {
		f.writeJSON(w, http.StatusOK, `{"code":"NOT_FOUND","message":"Transaction not found","data":null}`)
		return
	}
	f.writeJSON(w, http.StatusOK, `{"code":"SUCCESS","message":"Transaction found","data":`+data+`}`)
}

// revokeAll makes Bill24 forget every token it issued.
func (f *fakeBill24) revokeAll() {
	f.mu.Lock()
	clear(f.tokens)
	f.mu.Unlock()
}

func (f *fakeBill24) counts() (authorizes, verifies int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authorizes, f.verifies
}

func (f *fakeBill24) checkBodies(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.badBody != "" {
		t.Errorf("the fake got a bad request: %s", f.badBody)
	}
}

func (f *fakeBill24) verifier(t testing.TB, change ...func(*VerifyConfig)) *Verifier {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := VerifyConfig{
		BaseURL:       f.srv.URL + "/",
		ClientID:      vtClientID,
		Secret:        vtSecret,
		MerchantToken: vtMerchantToken,
		Timeout:       5 * time.Second,
		HTTPClient:    &http.Client{Transport: tr},
		Now:           f.clock.Now,
	}
	for _, c := range change {
		c(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkNoSecrets fails if err, in any form, holds the secret, the merchant
// token or a bearer token the fake issued. Every failure case calls it.
func (f *fakeBill24) checkNoSecrets(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	texts := []string{err.Error(), fmt.Sprintf("%v|%+v|%#v|%s|%q", err, err, err, err, err)}
	var ve *VerifyError
	if errors.As(err, &ve) {
		texts = append(texts, ve.Code, ve.Message, fmt.Sprintf("%#v", *ve))
	}
	f.mu.Lock()
	secrets := append([]string{vtSecret, vtMerchantToken, `s3cr3t-\"Pa55\\word`}, f.issued...)
	f.mu.Unlock()
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("error text holds a secret %q: %s", s, text)
			}
		}
	}
}

const (
	khrData = `{"device_code":"1113","channel_code":"CH1",
		"customers":[{"customer_code":"C-001","customer_name":"Sok Dara","amount":10000}],
		"tran_id":"5DD2B215208D","tran_date":"2023-12-27T17:09:50.253174","tran_amount":10000,
		"fee_amount":800,"total_amount":10800,"currency":"KHR","identity_code":"0000012","bank_code":"",
		"bank_ref":"FT0001","purpose_of_transaction":"INV0000012","status":"success","description":""}`
	usdData = `{"tran_id":"7B9807BB3854","tran_date":"2024-02-29T10:46:33","tran_amount":10.20,
		"fee_amount":"0.20","total_amount":"10.40","currency":"USD","identity_code":"0000013",
		"bank_ref":"","purpose_of_transaction":"INV0000013","status":"success","extra":{"n":1.10}}`
)

func TestVerifyHappyPath(t *testing.T) {
	f := newFakeBill24(t, newVerifyClock())
	f.txs["5DD2B215208D"] = khrData
	f.txs["7B9807BB3854"] = usdData
	v := f.verifier(t)

	khr, err := v.Verify(t.Context(), "5DD2B215208D")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"tran_id":                {khr.TranID, "5DD2B215208D"},
		"status":                 {khr.Status, "success"},
		"tran_amount":            {khr.TranAmount.String(), "10000"},
		"fee_amount":             {khr.FeeAmount.String(), "800"},
		"total_amount":           {khr.TotalAmount.String(), "10800"},
		"currency":               {khr.Currency, "KHR"},
		"identity_code":          {khr.IdentityCode, "0000012"},
		"bank_ref":               {khr.BankRef, "FT0001"},
		"tran_date":              {khr.TranDate, "2023-12-27T17:09:50.253174"},
		"purpose_of_transaction": {khr.PurposeOfTransaction, "INV0000012"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("KHR %s = %q, want %q", name, c[0], c[1])
		}
	}
	if !khr.TranAmount.Equal(mappings.DecimalFromInt(10000)) {
		t.Errorf("KHR amount %s is not 10000", khr.TranAmount)
	}
	if khr.Raw["device_code"] != "1113" || khr.Raw["tran_amount"] != 10000 {
		t.Errorf("raw = %#v", khr.Raw)
	}
	if cs, ok := khr.Raw["customers"].([]any); !ok || len(cs) != 1 || cs[0].(map[string]any)["amount"] != 10000 {
		t.Errorf("raw customers = %#v", khr.Raw["customers"])
	}

	usd, err := v.Verify(t.Context(), "7B9807BB3854")
	if err != nil {
		t.Fatal(err)
	}
	if usd.TranAmount.String() != "10.20" || usd.TranAmount.Scale() != 2 || !usd.TranAmount.Equal(mappings.MustDecimal("10.2")) {
		t.Errorf("USD tran_amount = %s (scale %d), want exactly 10.20", usd.TranAmount, usd.TranAmount.Scale())
	}
	if usd.FeeAmount.String() != "0.20" || usd.TotalAmount.String() != "10.40" || usd.Currency != "USD" {
		t.Errorf("USD = %+v", usd)
	}
	if u, err := usd.TranAmount.MinorUnits(2); err != nil || u != 1020 {
		t.Errorf("USD minor units = %d, %v", u, err)
	}
	if extra, _ := usd.Raw["extra"].(map[string]any); fmt.Sprint(extra["n"]) != "1.10" {
		t.Errorf("raw extra = %#v", usd.Raw["extra"])
	}

	// What went over the wire.
	f.checkBodies(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[string]any{"token": vtMerchantToken, "clientId": vtClientID, "secret": vtSecret, "refreshToken": ""}
	for k, w := range want {
		if f.lastAuth[k] != w {
			t.Errorf("authorize %s = %v, want %v", k, f.lastAuth[k], w)
		}
	}
	if f.authorizes != 1 || f.verifies != 2 || len(f.issued) != 1 || f.lastBearer != f.issued[0] {
		t.Errorf("authorizes %d, verifies %d, issued %v, last bearer %q", f.authorizes, f.verifies, f.issued, f.lastBearer)
	}
	if ct := f.lastHeader.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if f.lastHeader.Get("token") != "" {
		t.Error("verify sent a token header; it takes Authorization: Bearer")
	}
}

func TestVerifyAuthorizeCodeAsString(t *testing.T) {
	f := newFakeBill24(t, newVerifyClock())
	f.txs["A1"] = `{"tran_id":"A1","tran_amount":"5","currency":"USD","status":"success"}`
	f.authHook = func(w http.ResponseWriter) bool {
		f.mu.Lock()
		f.tokens["tok-string-code"] = f.clock.Now().Add(time.Hour)
		f.issued = append(f.issued, "tok-string-code")
		f.mu.Unlock()
		f.writeJSON(w, 200, `{"code":"200","message":"","data":{"token":"tok-string-code","tokenExpireTime":"2999-01-01T00:00:00Z"}}`)
		return true
	}
	v := f.verifier(t)
	if tx, err := v.Verify(t.Context(), "A1"); err != nil || tx.TranAmount.String() != "5" {
		t.Fatalf("Verify = %+v, %v", tx, err)
	}
}

func TestVerifyTokenReused(t *testing.T) {
	clock := newVerifyClock()
	f := newFakeBill24(t, clock)
	f.anyTx = true
	v := f.verifier(t)
	for i := range 10 {
		if _, err := v.Verify(t.Context(), fmt.Sprintf("tx-%d", i)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(30 * time.Second) // 5 minutes in all, of a 10-minute token
	}
	if a, vs := f.counts(); a != 1 || vs != 10 {
		t.Errorf("authorizes %d, verifies %d; want 1 and 10", a, vs)
	}
}

func TestVerifyRefreshBeforeExpiry(t *testing.T) {
	clock := newVerifyClock()
	f := newFakeBill24(t, clock)
	f.anyTx = true
	v := f.verifier(t, func(c *VerifyConfig) { c.RefreshBefore = 0 }) // default: 60s
	verify := func(wantAuthorizes int) {
		t.Helper()
		if _, err := v.Verify(t.Context(), "tx-1"); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.authorizes != wantAuthorizes {
			t.Fatalf("authorizes = %d, want %d", f.authorizes, wantAuthorizes)
		}
		if f.lastBearer != f.issued[len(f.issued)-1] {
			t.Fatalf("verify used %q, not the newest token", f.lastBearer)
		}
	}
	verify(1)
	clock.Advance(8*time.Minute + 59*time.Second) // 1s before expiry - RefreshBefore
	verify(1)
	clock.Advance(2 * time.Second) // 59s before expiry
	verify(2)
	clock.Advance(8*time.Minute + 59*time.Second)
	verify(2)
	clock.Advance(2 * time.Second)
	verify(3)
}

// While the token has not expired, a failed renewal leaves it in use, and
// is tried again a few seconds later, not by every call.
func TestVerifyRefreshFailureKeepsToken(t *testing.T) {
	clock := newVerifyClock()
	f := newFakeBill24(t, clock)
	f.anyTx = true
	v := f.verifier(t)
	if _, err := v.Verify(t.Context(), "tx-1"); err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	f.authHook = func(w http.ResponseWriter) bool {
		if down.Load() {
			f.writeJSON(w, http.StatusInternalServerError, `{"code":500,"message":"down"}`)
		}
		return down.Load()
	}
	down.Store(true)
	clock.Advance(9*time.Minute + 30*time.Second)
	for range 3 {
		if _, err := v.Verify(t.Context(), "tx-1"); err != nil {
			t.Fatalf("Verify with a renewal failing: %v", err)
		}
	}
	if a, _ := f.counts(); a != 2 {
		t.Errorf("authorizes = %d, want 2 (one failed renewal, then quiet)", a)
	}
	clock.Advance(refreshRetry + time.Second)
	if _, err := v.Verify(t.Context(), "tx-1"); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.counts(); a != 3 {
		t.Errorf("authorizes = %d, want 3", a)
	}
	clock.Advance(30 * time.Second) // past expiry
	_, err := v.Verify(t.Context(), "tx-1")
	if err == nil || !IsTemporary(err) || !strings.Contains(err.Error(), "authorize") {
		t.Fatalf("Verify with an expired token and authorize down = %v, want a temporary authorize error", err)
	}
	f.checkNoSecrets(t, err)
	down.Store(false)
	if _, err := v.Verify(t.Context(), "tx-1"); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyTokenExpireTimeUnreadable(t *testing.T) {
	for name, exp := range map[string]func(time.Time) any{
		"garbage":   func(time.Time) any { return "next tuesday" },
		"missing":   func(time.Time) any { return nil },
		"number":    func(e time.Time) any { return e.Unix() },
		"empty":     func(time.Time) any { return "" },
		"only date": func(e time.Time) any { return e.Format("2006-01-02") },
	} {
		t.Run(name, func(t *testing.T) {
			clock := newVerifyClock()
			f := newFakeBill24(t, clock)
			f.anyTx, f.expireTime = true, exp
			f.lifetime = time.Hour // Bill24's token lives longer than we assume
			v := f.verifier(t)
			for _, step := range []struct {
				advance    time.Duration
				authorizes int
			}{{0, 1}, {3*time.Minute + 59*time.Second, 1}, {2 * time.Second, 2}, {3 * time.Minute, 2}, {time.Minute, 3}} {
				clock.Advance(step.advance)
				if _, err := v.Verify(t.Context(), "tx-1"); err != nil {
					t.Fatal(err)
				}
				if a, _ := f.counts(); a != step.authorizes {
					t.Fatalf("after %v: authorizes = %d, want %d", step.advance, a, step.authorizes)
				}
			}
		})
	}
}

func TestTokenTimes(t *testing.T) {
	now := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC) // 16:00 in Phnom Penh
	tests := []struct {
		name, text       string
		renew, expiresIn time.Duration // from now
	}{
		{"Bill24's form", "2025-03-03T16:58:46.9386571+07:00", 58*time.Minute + 46*time.Second + 938657100 - time.Minute, 58*time.Minute + 46*time.Second + 938657100},
		{"UTC", "2025-03-03T10:00:00Z", 59 * time.Minute, time.Hour},
		{"no zone is Phnom Penh", "2025-03-03T17:00:00.5", 59*time.Minute + 500*time.Millisecond, time.Hour + 500*time.Millisecond},
		{"space, no zone", "2025-03-03 17:00:00", 59 * time.Minute, time.Hour},
		{"unreadable", "soon", 4 * time.Minute, 5 * time.Minute},
		{"empty", "", 4 * time.Minute, 5 * time.Minute},
		{"shorter than RefreshBefore", "2025-03-03T09:00:40Z", 20 * time.Second, 40 * time.Second},
		{"very short", "2025-03-03T09:00:04Z", minTokenUse, minTokenUse},
		{"already expired by our clock", "2025-03-03T08:00:00Z", minTokenUse, minTokenUse},
	}
	for _, tt := range tests {
		renew, exp := tokenTimes(now, tt.text, time.Minute)
		if !renew.Equal(now.Add(tt.renew)) || !exp.Equal(now.Add(tt.expiresIn)) {
			t.Errorf("%s: renew in %v, expires in %v; want %v, %v", tt.name, renew.Sub(now), exp.Sub(now), tt.renew, tt.expiresIn)
		}
	}
}

func TestVerifyConcurrentColdStart(t *testing.T) {
	f := newFakeBill24(t, newVerifyClock())
	f.anyTx = true
	f.authDelay = 100 * time.Millisecond // all 50 arrive while the one authorize runs
	v := f.verifier(t)

	start := make(chan struct{})
	errs := make(chan error, 50)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			<-start
			_, err := v.Verify(t.Context(), fmt.Sprintf("tx-%d", i))
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if a, vs := f.counts(); a != 1 || vs != 50 {
		t.Errorf("authorizes %d, verifies %d; want exactly 1 and 50", a, vs)
	}
	f.checkBodies(t)
}

// A caller that gives up waiting for the token fails alone: the authorize
// call goes on for the others.
func TestVerifyWaiterCanceled(t *testing.T) {
	f := newFakeBill24(t, newVerifyClock())
	f.anyTx = true
	release := make(chan struct{})
	f.authIssued = func() { <-release }
	v := f.verifier(t)
	ctx, cancel := context.WithCancel(t.Context())
	var first, second error
	var wg1, wg2 sync.WaitGroup
	wg1.Go(func() { _, first = v.Verify(ctx, "tx-1") })
	for a, _ := f.counts(); a == 0; a, _ = f.counts() {
		time.Sleep(time.Millisecond)
	}
	wg2.Go(func() { _, second = v.Verify(t.Context(), "tx-2") })
	cancel()
	wg1.Wait() // the first gives up while the authorize call is held
	close(release)
	wg2.Wait()
	if !errors.Is(first, context.Canceled) || !IsTemporary(first) {
		t.Errorf("canceled caller: %v, want a temporary context.Canceled", first)
	}
	f.checkNoSecrets(t, first)
	if second != nil {
		t.Errorf("other caller: %v", second)
	}
	if a, vs := f.counts(); a != 1 || vs != 1 {
		t.Errorf("authorizes %d, verifies %d; want 1 and 1", a, vs)
	}
}

func TestVerifyRetriesOnceAfter401(t *testing.T) {
	f := newFakeBill24(t, newVerifyClock())
	f.anyTx = true
	v := f.verifier(t)
	if _, err := v.Verify(t.Context(), "tx-1"); err != nil {
		t.Fatal(err)
	}
	f.revokeAll() // Bill24 drops the token before its time
	if _, err := v.Verify(t.Context(), "tx-2"); err != nil {
		t.Fatalf("Verify after a revocation: %v", err)
	}
	f.mu.Lock()
	if f.authorizes != 2 || f.verifies != 3 || f.refused["tx-2"] != 1 || f.lastBearer != f.issued[1] {
		t.Errorf("authorizes %d, verifies %d, refused %v, bearer %q", f.authorizes, f.verifies, f.refused, f.lastBearer)
	}
	f.mu.Unlock()

	// Bill24 refuses every token: one retry, then a lasting error.
	f.verifyHook = func(w http.ResponseWriter, _, bearer string) bool {
		msg, _ := json.Marshal("token " + bearer + " refused; secret " + vtSecret)
		f.writeJSON(w, http.StatusUnauthorized, `{"code":"401","message":`+string(msg)+`}`)
		return true
	}
	_, err := v.Verify(t.Context(), "tx-3")
	if err == nil || IsTemporary(err) || errors.Is(err, ErrTransactionNotFound) || !strings.Contains(err.Error(), "refused twice") {
		t.Fatalf("Verify with every token refused = %v", err)
	}
	f.checkNoSecrets(t, err)
	if a, vs := f.counts(); a != 3 || vs != 5 {
		t.Errorf("authorizes %d, verifies %d; want 3 and 5", a, vs)
	}
}

// A token issued just before a revocation, and received after a 401 for
// the old one, is not the one the 401 is retried with: it may be (and
// here is) revoked too.
func TestVerifyRevokedWhileAuthorizing(t *testing.T) {
	clock := newVerifyClock()
	f := newFakeBill24(t, clock)
	f.anyTx = true
	v := f.verifier(t)
	if _, err := v.Verify(t.Context(), "tx-1"); err != nil {
		t.Fatal(err)
	}
	issued, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.authIssued = func() { once.Do(func() { close(issued); <-release }) }
	clock.Advance(9*time.Minute + 30*time.Second) // renewal window

	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { _, errA = v.Verify(t.Context(), "tx-a") }) // renews, and waits for it
	<-issued
	f.revokeAll()                                             // both the old token and the one on its way
	wg.Go(func() { _, errB = v.Verify(t.Context(), "tx-b") }) // old token: 401
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		f.mu.Lock()
		n := f.refused["tx-b"]
		f.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	close(release)
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("Verify: %v; %v", errA, errB)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused["tx-b"] != 1 || f.refused["tx-a"] > 1 || f.authorizes > 4 {
		t.Errorf("refused %v, authorizes %d", f.refused, f.authorizes)
	}
}

// Tokens are revoked and expire while 50 goroutines verify. Every Verify
// succeeds; a bounded number of authorize calls are made; no Verify sends a
// dead token more than once, nor a goroutine more than once per event.
func TestVerifyTokenExpiryMidTraffic(t *testing.T) {
	const workers = 50
	clock := newVerifyClock()
	f := newFakeBill24(t, clock)
	f.anyTx = true
	v := f.verifier(t)

	events := []func(){
		f.revokeAll,
		func() { clock.Advance(11 * time.Minute) }, // every token expires
		f.revokeAll,
		func() { clock.Advance(9*time.Minute + 30*time.Second) }, // into the renewal window
		func() { clock.Advance(11 * time.Minute) },
		f.revokeAll,
	}

	var done [workers]atomic.Int64
	var stop atomic.Bool
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if _, err := v.Verify(t.Context(), fmt.Sprintf("tx-g%02d-%05d", g, i)); err != nil {
					errs <- err
					return
				}
				done[g].Add(1)
			}
		})
	}
	// waitAll waits until every goroutine has completed two more Verify
	// calls, so that each has one that began after the event.
	waitAll := func() {
		var base [workers]int64
		for g := range workers {
			base[g] = done[g].Load()
		}
		deadline := time.Now().Add(30 * time.Second)
		for g := 0; g < workers; {
			switch {
			case done[g].Load() >= base[g]+2:
				g++
			case len(errs) > 0:
				return
			case time.Now().After(deadline):
				t.Errorf("goroutine %d stalled", g)
				return
			default:
				time.Sleep(time.Millisecond)
			}
		}
	}
	waitAll()
	for _, event := range events {
		event()
		waitAll()
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Verify failed: %v", err)
	}
	f.checkBodies(t)

	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0
	for g := range workers {
		total += int(done[g].Load())
	}
	// Each event costs at most 2: one begun before the first 401 was
	// seen, which may be refused with it, and one after.
	if max := 1 + 2*len(events); f.authorizes > max {
		t.Errorf("authorizes = %d, want at most %d", f.authorizes, max)
	}
	perWorker := map[string]int{}
	refusals := 0
	for tranID, n := range f.refused {
		refusals += n
		if n > 1 {
			t.Errorf("%s: sent with a dead token %d times", tranID, n)
		}
		perWorker[tranID[:len("tx-g00")]] += n
	}
	for g, n := range perWorker {
		if n > len(events) {
			t.Errorf("goroutine %s sent a dead token %d times, for %d events", g, n, len(events))
		}
	}
	t.Logf("%d verifies by %d goroutines, %d authorizes, %d answered 401", total, workers, f.authorizes, refusals)
	if refusals == 0 {
		t.Error("no verify call was answered 401: the test did not exercise the revocation path")
	}
}

func TestVerifyAuthorizeFailures(t *testing.T) {
	tests := []struct {
		name      string
		hook      func(f *fakeBill24, w http.ResponseWriter) bool
		change    func(*VerifyConfig)
		temporary bool
		want      string
	}{
		{name: "500", temporary: true, want: "(HTTP 500)", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.writeJSON(w, 500, `{"code":500,"message":"Internal error"}`)
			return true
		}},
		{name: "502 HTML", temporary: true, want: "(HTTP 502)", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html>Bad Gateway</html>")
			return true
		}},
		{name: "503 empty", temporary: true, want: "(HTTP 503)", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			w.WriteHeader(503)
			return true
		}},
		{name: "429", temporary: true, want: "(HTTP 429)", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.writeJSON(w, 429, `{"code":429,"message":"Too many requests"}`)
			return true
		}},
		{name: "500 quoting the secrets", temporary: true, want: "HTTP 500", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			msg, _ := json.Marshal("failed for " + vtSecret + " / " + vtMerchantToken)
			f.writeJSON(w, 500, `{"code":500,"message":`+string(msg)+`}`)
			return true
		}},
		{name: "wrong secret", want: "credentials refused", change: func(c *VerifyConfig) { c.Secret = "wrong-" + vtSecret }},
		{name: "wrong merchant token", want: "credentials refused", change: func(c *VerifyConfig) { c.MerchantToken = "x" + vtMerchantToken }},
		{name: "code 401 in a 200", want: `Bill24 refused: code 401: "Invalid client"`, hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.writeJSON(w, 200, `{"code":401,"message":"Invalid client","data":null}`)
			return true
		}},
		{name: "code SUCCESS is not 200", want: "code SUCCESS", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.writeJSON(w, 200, `{"code":"SUCCESS","message":"","data":{"token":"tok-x"}}`)
			return true
		}},
		{name: "refusal quoting the token", want: "code 403", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.mu.Lock()
			f.issued = append(f.issued, "leaky-token-123")
			f.mu.Unlock()
			f.writeJSON(w, 200, `{"code":403,"message":"token leaky-token-123 is for another merchant","data":{"token":"leaky-token-123"}}`)
			return true
		}},
		{name: "no token", want: "no data.token", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.writeJSON(w, 200, `{"code":200,"message":"","data":{"refreshToken":"abc"}}`)
			return true
		}},
		{name: "no data", want: "no data object", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.writeJSON(w, 200, `{"code":200,"message":""}`)
			return true
		}},
		{name: "no code", want: "no code", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.writeJSON(w, 200, `{"data":{"token":"abc"}}`)
			return true
		}},
		{name: "token with a newline", want: "data.token holds", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.mu.Lock()
			f.issued = append(f.issued, "bad\ntoken-987")
			f.mu.Unlock()
			f.writeJSON(w, 200, `{"code":200,"data":{"token":"bad\ntoken-987"}}`)
			return true
		}},
		{name: "malformed JSON", want: "malformed answer", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			f.writeJSON(w, 200, `{"code":200,"data":{"token":"half-a-token`)
			return true
		}},
		{name: "redirect", want: "unexpected redirect", hook: func(f *fakeBill24, w http.ResponseWriter) bool {
			w.Header().Set("Location", "https://evil.example/steal")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return true
		}},
		{name: "timeout", temporary: true, want: "no answer", change: func(c *VerifyConfig) { c.Timeout = 50 * time.Millisecond },
			hook: func(f *fakeBill24, w http.ResponseWriter) bool {
				time.Sleep(300 * time.Millisecond)
				return false
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBill24(t, newVerifyClock())
			f.anyTx = true
			if tt.hook != nil {
				f.authHook = func(w http.ResponseWriter) bool { return tt.hook(f, w) }
			}
			change := func(*VerifyConfig) {}
			if tt.change != nil {
				change = tt.change
			}
			v := f.verifier(t, change)
			_, err := v.Verify(t.Context(), "tx-1")
			if err == nil {
				t.Fatal("Verify succeeded")
			}
			f.checkNoSecrets(t, err)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Op != "authorize" {
				t.Errorf("error %v (%T) is not an authorize *VerifyError", err, err)
			}
			if IsTemporary(err) != tt.temporary || errors.Is(err, ErrTransactionNotFound) {
				t.Errorf("error %v: temporary %v, want %v", err, IsTemporary(err), tt.temporary)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if _, vs := f.counts(); vs != 0 {
				t.Errorf("%d verify calls without a token", vs)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		f := newFakeBill24(t, newVerifyClock())
		v := f.verifier(t)
		f.srv.Close()
		_, err := v.Verify(t.Context(), "tx-1")
		if err == nil || !IsTemporary(err) {
			t.Fatalf("Verify with Bill24 unreachable = %v, want a temporary error", err)
		}
		f.checkNoSecrets(t, err)
	})
}

func TestVerifyAnswers(t *testing.T) {
	const id = "5DD2B215208D"
	tests := []struct {
		name      string
		status    int
		body      string // answered instead of the found transaction; "" with status 0: the fake's own
		notFound  bool
		temporary bool
		want      string
		check     func(t *testing.T, tx Transaction)
	}{
		{name: "pending is returned as is", status: 200,
			body: `{"code":"SUCCESS","message":"Transaction found","data":{"tran_id":"` + id + `","status":"pending","tran_amount":10000,"currency":"KHR"}}`,
			check: func(t *testing.T, tx Transaction) {
				if tx.Status != "pending" || tx.TranAmount.String() != "10000" {
					t.Errorf("tx = %+v", tx)
				}
			}},
		{name: "success in lower case, amounts as strings, id in lower case", status: 200,
			body: `{"code":"success","data":{"tran_id":"5dd2b215208d","status":"Success","tran_amount":"10000.00","fee_amount":"","total_amount":null}}`,
			check: func(t *testing.T, tx Transaction) {
				if tx.TranAmount.String() != "10000.00" || !tx.FeeAmount.IsZero() || !tx.TotalAmount.IsZero() || tx.Status != "Success" {
					t.Errorf("tx = %+v", tx)
				}
			}},
		{name: "numbers for texts", status: 200,
			body: `{"code":"SUCCESS","data":{"tran_id":"` + id + `","identity_code":12,"bank_ref":null,"tran_amount":1e3}}`,
			check: func(t *testing.T, tx Transaction) {
				if tx.IdentityCode != "12" || tx.BankRef != "" || tx.TranAmount.String() != "1000" {
					t.Errorf("tx = %+v", tx)
				}
			}},
		{name: "NOT_FOUND", status: 200, body: `{"code":"NOT_FOUND","message":"Transaction not found","data":null}`, notFound: true},
		{name: "other code, message says not found", status: 200, body: `{"code":"FAIL","message":"Transaction Not Found."}`, notFound: true},
		{name: "HTTP 404", status: 404, body: `<html>404</html>`, notFound: true},
		{name: "HTTP 400 NOT_FOUND", status: 400, body: `{"code":"TRANSACTION_NOT_FOUND","message":"no"}`, notFound: true},
		{name: "the fake's not found", status: -1, notFound: true},
		{name: "500", status: 500, body: `{"code":"ERROR","message":"Internal server error"}`, temporary: true, want: "Internal server error"},
		{name: "502 HTML", status: 502, body: `<html>Bad Gateway</html>`, temporary: true, want: "HTTP 502"},
		{name: "503 malformed", status: 503, body: `{"code":`, temporary: true, want: "HTTP 503"},
		{name: "504 says not found", status: 504, body: `{"code":"NOT_FOUND"}`, temporary: true, want: "HTTP 504"},
		{name: "429", status: 429, body: ``, temporary: true, want: "HTTP 429"},
		{name: "403", status: 403, body: `{"code":"FORBIDDEN","message":"IP not allowed"}`, want: "IP not allowed"},
		{name: "redirect", status: 302, body: ``, want: "unexpected redirect"},
		{name: "other code", status: 200, body: `{"code":"ERROR","message":"Merchant suspended"}`, want: "Merchant suspended"},
		{name: "malformed JSON", status: 200, body: `{"code":"SUCCESS","data":{"tran_id":"` + id + `"`, want: "malformed answer"},
		{name: "trailing data", status: 200, body: `{"code":"SUCCESS","data":{"tran_id":"` + id + `"}}}`, want: "data after"},
		{name: "empty", status: 200, body: ``, want: "empty"},
		{name: "not an object", status: 200, body: `["SUCCESS"]`, want: "not a JSON object"},
		{name: "no code", status: 200, body: `{"message":"ok","data":{"tran_id":"` + id + `"}}`, want: "no code"},
		{name: "code is an object", status: 200, body: `{"code":{},"data":{}}`, want: "code is neither"},
		{name: "data null", status: 200, body: `{"code":"SUCCESS","data":null}`, want: "without a data object"},
		{name: "data array", status: 200, body: `{"code":"SUCCESS","data":[]}`, want: "without a data object"},
		{name: "no tran_id", status: 200, body: `{"code":"SUCCESS","data":{"tran_amount":1}}`, want: "tran_id is missing"},
		{name: "another transaction", status: 200, body: `{"code":"SUCCESS","data":{"tran_id":"OTHER"}}`, want: "answered about"},
		{name: "amount not a number", status: 200, body: `{"code":"SUCCESS","data":{"tran_id":"` + id + `","tran_amount":"ten"}}`, want: "not a decimal"},
		{name: "amount a bool", status: 200, body: `{"code":"SUCCESS","data":{"tran_id":"` + id + `","fee_amount":true}}`, want: "must be a number"},
		{name: "status an object", status: 200, body: `{"code":"SUCCESS","data":{"tran_id":"` + id + `","status":{}}}`, want: "must be a string"},
		{name: "not UTF-8", status: 200, body: "{\"code\":\"SUCCESS\",\"data\":{\"tran_id\":\"\xff\"}}", want: "UTF-8"},
		{name: "answer quoting the secrets", status: 200, body: "", want: "Bill24 refused"},
		{name: "500 quoting the secrets", status: 500, body: "", temporary: true, want: "HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBill24(t, newVerifyClock())
			f.txs[id] = khrData
			if tt.status > 0 {
				f.verifyHook = func(w http.ResponseWriter, _, bearer string) bool {
					body := tt.body
					if strings.Contains(tt.name, "quoting the secrets") {
						msg, _ := json.Marshal(fmt.Sprintf("bearer %s, secret %s, merchant %s", bearer, vtSecret, vtMerchantToken))
						body = `{"code":"E` + bearer + `","message":` + string(msg) + `}`
					}
					f.writeJSON(w, tt.status, body)
					return true
				}
			}
			v := f.verifier(t)
			lookFor := id
			if tt.status < 0 {
				lookFor = "UNKNOWN1"
			}
			tx, err := v.Verify(t.Context(), lookFor)
			f.checkNoSecrets(t, err)
			if tt.check != nil {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, tx)
				return
			}
			if err == nil {
				t.Fatalf("Verify = %+v, want an error", tx)
			}
			if errors.Is(err, ErrTransactionNotFound) != tt.notFound {
				t.Errorf("error %v: not found %v, want %v", err, !tt.notFound, tt.notFound)
			}
			if IsTemporary(err) != tt.temporary {
				t.Errorf("error %v: temporary %v, want %v", err, !tt.temporary, tt.temporary)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tx.TranID != "" || tx.Raw != nil {
				t.Errorf("failed Verify returned %+v", tx)
			}
			if a, vs := f.counts(); a != 1 || vs != 1 {
				t.Errorf("authorizes %d, verifies %d; want 1 and 1 (no retry but for 401)", a, vs)
			}
		})
	}

	t.Run("timeout", func(t *testing.T) {
		f := newFakeBill24(t, newVerifyClock())
		f.anyTx = true
		f.verifyHook = func(http.ResponseWriter, string, string) bool {
			time.Sleep(300 * time.Millisecond)
			return false
		}
		v := f.verifier(t, func(c *VerifyConfig) { c.Timeout = 50 * time.Millisecond })
		_, err := v.Verify(t.Context(), "tx-1")
		if err == nil || !IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Verify timing out = %v, want a temporary deadline error", err)
		}
		f.checkNoSecrets(t, err)
	})

	t.Run("answer too large", func(t *testing.T) {
		f := newFakeBill24(t, newVerifyClock())
		f.verifyHook = func(w http.ResponseWriter, _, _ string) bool {
			f.writeJSON(w, 200, `{"code":"SUCCESS","message":"`+strings.Repeat("x", maxAnswerBytes)+`"}`)
			return true
		}
		_, err := f.verifier(t).Verify(t.Context(), "tx-1")
		if err == nil || IsTemporary(err) || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("Verify = %v", err)
		}
	})
}

func TestVerifyBadTranID(t *testing.T) {
	f := newFakeBill24(t, newVerifyClock())
	v := f.verifier(t)
	for _, id := range []string{"", strings.Repeat("A", MaxIDLen+1), "A\nB", "\xff"} {
		_, err := v.Verify(t.Context(), id)
		if err == nil || IsTemporary(err) {
			t.Errorf("Verify(%q) = %v", id, err)
		}
	}
	if a, vs := f.counts(); a != 0 || vs != 0 {
		t.Errorf("calls made for bad ids: %d authorize, %d verify", a, vs)
	}
}

func TestNewVerifier(t *testing.T) {
	good := VerifyConfig{BaseURL: "https://merchantapi.bill24.io", ClientID: "c", Secret: "s"}
	v, err := NewVerifier(good)
	if err != nil {
		t.Fatal(err)
	}
	if v.cfg.timeout != DefaultVerifyTimeout || v.cfg.refreshBefore != DefaultRefreshBefore || v.cfg.now == nil {
		t.Errorf("defaults: %+v", *v.cfg)
	}
	if v.verify != "https://merchantapi.bill24.io/transaction/v2/verify" || v.authorize != "https://merchantapi.bill24.io/merchantsecurity/authorize" {
		t.Errorf("urls %q %q", v.verify, v.authorize)
	}
	if v.gw.HTTPClient().CheckRedirect == nil {
		t.Error("the default client follows redirects")
	}
	own := &http.Client{}
	if v, _ := NewVerifier(VerifyConfig{BaseURL: "http://h/api/", ClientID: "c", Secret: "s", HTTPClient: own}); v.verify != "http://h/api/transaction/v2/verify" || own.CheckRedirect != nil {
		t.Errorf("trailing slash or client copy: %q, %v", v.verify, own.CheckRedirect != nil)
	}
	for name, change := range map[string]func(*VerifyConfig){
		"no base":         func(c *VerifyConfig) { c.BaseURL = "" },
		"ftp":             func(c *VerifyConfig) { c.BaseURL = "ftp://h" },
		"no host":         func(c *VerifyConfig) { c.BaseURL = "https://" },
		"user info":       func(c *VerifyConfig) { c.BaseURL = "https://u:" + vtSecret + "@h" },
		"query":           func(c *VerifyConfig) { c.BaseURL = "https://h/?key=" + vtSecret },
		"no client":       func(c *VerifyConfig) { c.ClientID = "" },
		"no secret":       func(c *VerifyConfig) { c.Secret = "" },
		"negative":        func(c *VerifyConfig) { c.Timeout = -1 },
		"negative before": func(c *VerifyConfig) { c.RefreshBefore = -time.Second },
		"bad url":         func(c *VerifyConfig) { c.BaseURL = "https://h/%zz" + vtSecret },
	} {
		cfg := good
		change(&cfg)
		if _, err := NewVerifier(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), vtSecret) {
			t.Errorf("%s: error holds the secret: %v", name, err)
		}
	}
}

func TestVerifierStringsHideSecrets(t *testing.T) {
	cfg := VerifyConfig{BaseURL: "https://user:" + vtSecret + "@merchantapi.bill24.io/?k=" + vtMerchantToken, ClientID: vtClientID,
		Secret: vtSecret, MerchantToken: vtMerchantToken, Timeout: time.Second}
	f := newFakeBill24(t, newVerifyClock())
	f.anyTx = true
	v := f.verifier(t)
	if _, err := v.Verify(t.Context(), "tx-1"); err != nil { // v now holds a bearer token
		t.Fatal(err)
	}
	texts := []string{
		cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v %#v %v %s", cfg, cfg, &cfg, []VerifyConfig{cfg}),
		struct{ C VerifyConfig }{cfg}.C.String(), fmt.Sprintf("%+v", struct{ C VerifyConfig }{cfg}),
		v.String(), fmt.Sprintf("%v %+v %#v %s", v, v, v, v),
	}
	secrets := append([]string{vtSecret, vtMerchantToken}, f.issued...)
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%q holds %q", text, s)
			}
		}
	}
	if !strings.Contains(cfg.String(), vtClientID) || !strings.Contains(cfg.String(), "[redacted]") {
		t.Errorf("String() = %s", cfg.String())
	}
}

func TestRedactEscapedForms(t *testing.T) {
	v, err := NewVerifier(VerifyConfig{BaseURL: "https://h", ClientID: "c", Secret: vtSecret, MerchantToken: "mt"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"plain " + vtSecret, fmt.Sprintf("quoted %q", vtSecret), fmt.Sprintf("bearer %q", "tok\"1"),
	} {
		got := v.redact(s, `tok"1`)
		if strings.Contains(got, vtSecret) || strings.Contains(got, `s3cr3t-\"Pa55\\word`) || strings.Contains(got, `tok\"1`) {
			t.Errorf("redact(%q) = %q", s, got)
		}
	}
	// A token holding the secret is blanked out whole.
	if got := v.redact("x "+vtSecret+"-tail y", vtSecret+"-tail"); got != "x [redacted] y" {
		t.Errorf("overlapping secrets: %q", got)
	}
}

func TestVerifyQuotesAnErrorPage(t *testing.T) {
	f := newFakeBill24(t, newVerifyClock())
	f.txs["5DD2B215208D"] = khrData
	f.verifyHook = func(w http.ResponseWriter, _, bearer string) bool {
		// A proxy's error page, echoing what it was sent.
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>\r\nBad Gateway for bearer "+bearer+" and "+vtSecret+strings.Repeat(" ជ", 300)+"</html>")
		return true
	}
	v := f.verifier(t)
	_, err := v.Verify(t.Context(), "5DD2B215208D")
	f.checkNoSecrets(t, err)
	var ve *VerifyError
	if !errors.As(err, &ve) || !IsTemporary(err) ||
		!strings.HasPrefix(ve.Message, `unexpected answer: Bill24 answered "<html>  Bad Gateway for bearer [redacted] and [redacted] ជ`) ||
		!strings.Contains(err.Error(), "…\" (HTTP 502)") || len(ve.Message) > 300 {
		t.Errorf("Verify = %v", err)
	}
}
