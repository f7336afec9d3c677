package bill24

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/gateway"
)

// Defaults of VerifyConfig.
const (
	// DefaultVerifyTimeout bounds each HTTP call, reading the answer included.
	DefaultVerifyTimeout = 10 * time.Second
	// DefaultRefreshBefore is how long before its tokenExpireTime a bearer
	// token is renewed.
	DefaultRefreshBefore = 60 * time.Second
	// UnknownTokenLifetime is how long a bearer token is taken to be valid
	// when the authorize answer's tokenExpireTime is missing or unreadable.
	// It is renewed RefreshBefore ahead of that, as any other token.
	UnknownTokenLifetime = 5 * time.Minute
)

const (
	// minTokenUse is how long a token is used, at least, when it expires
	// (by our clock) within RefreshBefore of being issued: a lifetime
	// shorter than RefreshBefore, or a clock that disagrees with Bill24's.
	// Without a floor, every Verify would authorize. A token Bill24 no
	// longer takes is caught by the 401 path.
	minTokenUse = 10 * time.Second
	// refreshRetry is how long, after renewing failed, the current token
	// is used (while it has not expired) before renewing is tried again:
	// while authorize is down, not every Verify waits for it to fail.
	refreshRetry = 5 * time.Second
	// maxAnswerBytes bounds what is read from an answer.
	maxAnswerBytes = 1 << 20
	// maxTokenLen bounds the bearer token Bill24 hands out.
	maxTokenLen = 8 << 10
	// maxMessageLen bounds Bill24's texts quoted in an error.
	maxMessageLen = 200
	// maxQuote bounds a value of ours quoted in an error.
	maxQuote = 64
)

// VerifyConfig configures a Verifier (protocols.md B.2, B.4).
type VerifyConfig struct {
	// BaseURL is the merchant API: https://merchantapi.bill24.io, or
	// https://merchantapi-demo.bill24.io for the demo.
	BaseURL string
	// ClientID and Secret are sent to /merchantsecurity/authorize. Secret
	// is never logged and never appears in an error.
	ClientID string
	Secret   string
	// MerchantToken is the merchant token, sent in the authorize body as
	// "token". Like Secret, it never appears in an error.
	MerchantToken string
	// Timeout bounds each HTTP call; zero means DefaultVerifyTimeout.
	Timeout time.Duration
	// RefreshBefore is how long before tokenExpireTime the bearer token is
	// renewed; zero means DefaultRefreshBefore.
	RefreshBefore time.Duration
	// HTTPClient sends the requests; nil means a client of its own. A
	// client that follows redirects on its own is given a CheckRedirect
	// that does not (gateway.NoRedirects): a redirect would carry the
	// bearer token, or the secret, wherever it points.
	HTTPClient *http.Client
	// Now tells the time; nil means time.Now. For tests.
	Now func() time.Time
}

// String describes c without its secrets, so that c can be logged.
func (c VerifyConfig) String() string {
	return fmt.Sprintf("bill24.VerifyConfig{BaseURL: %q, ClientID: %q, Secret: %s, MerchantToken: %s, Timeout: %v, RefreshBefore: %v}",
		redactURL(c.BaseURL), c.ClientID, masked(c.Secret), masked(c.MerchantToken), c.Timeout, c.RefreshBefore)
}

// GoString is String, so that %#v does not print the secrets either.
func (c VerifyConfig) GoString() string { return c.String() }

func masked(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// Transaction is what Verify confirms: Bill24's record of a transaction,
// as /transaction/v2/verify answers it. Mappings see the fields by their
// wire names.
//
// Amounts are exact, from JSON numbers or numeric strings; a missing or
// null amount is zero. Status is Bill24's as is ("success", "pending", …):
// whether it settles the bill is the caller's decision.
type Transaction struct {
	TranID               string           `json:"tran_id" expr:"tran_id"`
	Status               string           `json:"status" expr:"status"`
	TranAmount           mappings.Decimal `json:"tran_amount" expr:"tran_amount"`
	FeeAmount            mappings.Decimal `json:"fee_amount" expr:"fee_amount"`
	TotalAmount          mappings.Decimal `json:"total_amount" expr:"total_amount"`
	Currency             string           `json:"currency" expr:"currency"`
	IdentityCode         string           `json:"identity_code" expr:"identity_code"`
	BankRef              string           `json:"bank_ref" expr:"bank_ref"`
	TranDate             string           `json:"tran_date" expr:"tran_date"`
	PurposeOfTransaction string           `json:"purpose_of_transaction" expr:"purpose_of_transaction"`

	// Raw is the whole data object, fields this struct does not know
	// (customers, device_code, channel_code, …) included. Numbers are
	// json.Number.
	Raw map[string]any `json:"-" expr:"raw"`
}

// ErrTransactionNotFound: Bill24 does not know the transaction. It is not
// temporary. Test for it with errors.Is.
var ErrTransactionNotFound = errors.New("bill24: transaction not found")

// VerifyError is a failed authorize or verify call. Its texts never hold
// Secret, MerchantToken or a bearer token: what Bill24 wrote is quoted
// with them blanked out.
type VerifyError struct {
	// Op is "authorize" or "verify".
	Op string
	// StatusCode is the HTTP status of the answer; 0 if none arrived.
	StatusCode int
	// Code is Bill24's code, when the answer had one ("NOT_FOUND", "401").
	Code string
	// Message says what went wrong, Bill24's message included.
	Message string
	// Err is the cause, for errors.Is and errors.As: ErrTransactionNotFound,
	// context.DeadlineExceeded, a *url.Error, …; nil if there is none.
	Err error

	// temporary: a network error, a timeout, HTTP 429 or 5xx.
	temporary bool
}

func (e *VerifyError) Error() string {
	s := "bill24 " + e.Op + ": " + e.Message
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	return s
}

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: a network
// error, a timeout, HTTP 429 or 5xx. The webhook should then be retried.
func (e *VerifyError) Temporary() bool { return e.temporary }

// IsTemporary reports whether err says that trying again later may
// succeed, so that the webhook should be retried rather than refused:
// network errors, timeouts, a canceled context, HTTP 429 and 5xx from
// either endpoint. ErrTransactionNotFound, refused credentials, a
// malformed 2xx answer and a second 401 are not temporary. It is
// gateway.IsTemporary.
func IsTemporary(err error) bool { return gateway.IsTemporary(err) }

// Verifier asks Bill24's Transaction Verify API about transactions. It
// keeps one bearer token, shared by all calls, and renews it before it
// expires. It is safe for concurrent use.
//
// Token lifecycle:
//   - The token from /merchantsecurity/authorize is reused until
//     RefreshBefore ahead of its tokenExpireTime. A missing or unreadable
//     tokenExpireTime counts as UnknownTokenLifetime from now. A zone-less
//     time is Phnom Penh time (UTC+7).
//   - At most one authorize call is in flight (a gateway.Flight): callers
//     that need a token while one is being fetched wait for it (or, while
//     the current token has not yet expired, keep using it).
//   - If renewing fails while the current token has not expired, the
//     current token goes on being used, and renewing is tried again
//     5 seconds later at the earliest.
//   - A verify call answered 401 drops the token and is tried once more
//     with a token from an authorize call that began after the 401 was
//     seen, so that it cannot be one Bill24 revoked along with it.
//   - Nothing else is retried, a 429 or a 5xx included: Verify runs while
//     Bill24 waits for the webhook's answer, and Bill24 delivers the
//     webhook again after a temporary error.
//
// The authorize call runs on its own, with Timeout and the values of the
// context that started it but not its cancellation: a caller that gives
// up does not fail the others waiting for the same token.
type Verifier struct {
	cfg       *verifyConfig // a pointer, so that %v of a Verifier prints no secret
	gw        *gateway.Client
	authorize string // URL
	verify    string // URL
	// tokens runs the authorize calls, one at a time; Keep, as a token is
	// worth having even when every caller that asked for it gave up.
	tokens gateway.Flight[*bearer]

	mu       sync.Mutex
	cur      *bearer // the token in use; nil if none
	renewing bool    // an authorize call is in flight
	seq      uint64  // number of authorize calls begun
	// quietUntil: renewing failed; until then, use cur while it has not
	// expired rather than try again.
	quietUntil time.Time
}

type verifyConfig struct {
	clientID, secret, merchantToken string
	timeout, refreshBefore          time.Duration
	now                             func() time.Time
	base                            string
}

// bearer is a token Bill24 issued.
type bearer struct {
	value     string
	seq       uint64    // of the authorize call that fetched it
	renewAt   time.Time // renew from then on
	expiresAt time.Time // no longer use it from then on
	// deadAfter is set on the first 401 for this token: the number of
	// authorize calls begun by then. Tokens from those calls may have been
	// revoked with this one.
	deadAfter uint64
}

// NewVerifier checks cfg and returns a Verifier. It makes no call: the
// first Verify authorizes.
func NewVerifier(cfg VerifyConfig) (*Verifier, error) {
	base, err := gateway.BaseURL("bill24: verify base url", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.ClientID == "":
		return nil, errors.New("bill24: verify client id is required")
	case cfg.Secret == "":
		return nil, errors.New("bill24: verify secret is required")
	case cfg.Timeout < 0:
		return nil, errors.New("bill24: verify timeout must not be negative")
	case cfg.RefreshBefore < 0:
		return nil, errors.New("bill24: verify refresh_before must not be negative")
	}
	c := &verifyConfig{
		base:          base,
		clientID:      cfg.ClientID,
		secret:        cfg.Secret,
		merchantToken: cfg.MerchantToken,
		timeout:       cmp.Or(cfg.Timeout, DefaultVerifyTimeout),
		refreshBefore: cmp.Or(cfg.RefreshBefore, DefaultRefreshBefore),
		now:           cfg.Now,
	}
	if c.now == nil {
		c.now = time.Now
	}
	v := &Verifier{
		cfg:       c,
		gw:        gateway.NewClient(cfg.HTTPClient, c.timeout, maxAnswerBytes),
		authorize: base + "/merchantsecurity/authorize",
		verify:    base + "/transaction/v2/verify",
		tokens:    gateway.Flight[*bearer]{Keep: true},
	}
	return v, nil
}

// String describes v without its secrets.
func (v *Verifier) String() string {
	return fmt.Sprintf("bill24.Verifier{BaseURL: %q, ClientID: %q}", v.cfg.base, v.cfg.clientID)
}

// GoString is String.
func (v *Verifier) GoString() string { return v.String() }

// Verify asks Bill24 about the transaction tranID: POST
// {base}/transaction/v2/verify with the bearer token and
// {"identity_code":"","purpose_of_transaction":"","tran_id":tranID,"bank_ref":""}.
//
// It returns the transaction if Bill24 found it, whatever its status, and
// checks that Bill24 answered about tranID (letter case aside). Errors:
// ErrTransactionNotFound (wrapped, not temporary) for a non-SUCCESS code
// meaning not found (a code holding NOT_FOUND, a message holding "not
// found") or HTTP 404; otherwise a *VerifyError, temporary for network
// errors, timeouts, HTTP 429 and 5xx (see IsTemporary).
func (v *Verifier) Verify(ctx context.Context, tranID string) (Transaction, error) {
	if tranID == "" {
		return Transaction{}, &VerifyError{Op: "verify", Message: "tran_id is required"}
	}
	if len(tranID) > MaxIDLen || !utf8.ValidString(tranID) || !text.Printable(tranID) {
		return Transaction{}, &VerifyError{Op: "verify", Message: fmt.Sprintf("tran_id must be at most %d printable characters", MaxIDLen)}
	}
	body, err := gateway.Marshal(verifyRequest{TranID: tranID})
	if err != nil {
		return Transaction{}, &VerifyError{Op: "verify", Message: err.Error()}
	}
	var after uint64
	for attempt := 0; ; attempt++ {
		tok, err := v.token(ctx, after)
		if err != nil {
			return Transaction{}, err
		}
		status, answer, err := v.post(ctx, "verify", v.verify, body, tok.value)
		if err != nil {
			return Transaction{}, err
		}
		if status == http.StatusUnauthorized {
			after = v.drop(tok)
			if attempt == 0 {
				continue
			}
			e := v.answerError("verify", status, answer, "the bearer token was refused twice (a fresh token included)", tok.value)
			e.temporary = false
			return Transaction{}, e
		}
		return v.verifyResult(status, answer, tranID, tok.value)
	}
}

// verifyRequest is the verify body. All four search keys are sent, empty
// but for tran_id, as in Bill24's example.
type verifyRequest struct {
	IdentityCode         string `json:"identity_code"`
	PurposeOfTransaction string `json:"purpose_of_transaction"`
	TranID               string `json:"tran_id"`
	BankRef              string `json:"bank_ref"`
}

// verifyResult reads a verify answer other than 401.
func (v *Verifier) verifyResult(status int, body []byte, tranID, token string) (Transaction, error) {
	switch {
	case status == http.StatusNotFound:
		e := v.answerError("verify", status, body, fmt.Sprintf("transaction %q not found", text.Truncate(tranID, maxQuote)), token)
		e.Err, e.temporary = ErrTransactionNotFound, false
		return Transaction{}, e
	case status < 200 || status > 299:
		what := "unexpected answer"
		if status >= 300 && status <= 399 {
			what = "unexpected redirect"
		}
		e := v.answerError("verify", status, body, what, token)
		if !e.temporary {
			if a, err := readAnswer(body); err == nil && a.notFound() {
				e.Message = fmt.Sprintf("transaction %q not found: %s", text.Truncate(tranID, maxQuote), e.Message)
				e.Err = ErrTransactionNotFound
			}
		}
		return Transaction{}, e
	}
	a, err := readAnswer(body)
	if err != nil {
		return Transaction{}, &VerifyError{Op: "verify", StatusCode: status, Message: v.redact(err.Error(), token)}
	}
	tx, err := a.transaction()
	if err != nil {
		e := &VerifyError{Op: "verify", StatusCode: status, Code: v.clean(a.code, token), Message: v.clean(err.Error(), token)}
		if errors.Is(err, ErrTransactionNotFound) {
			e.Message = fmt.Sprintf("transaction %q not found: Bill24 says %q (code %s)", text.Truncate(tranID, maxQuote), v.clean(a.message, token), e.Code)
			e.Err = ErrTransactionNotFound
		}
		return Transaction{}, e
	}
	if !strings.EqualFold(tx.TranID, tranID) {
		return Transaction{}, &VerifyError{Op: "verify", StatusCode: status, Code: v.clean(a.code, token),
			Message: v.clean(fmt.Sprintf("asked about transaction %q, Bill24 answered about %q", tranID, tx.TranID), token)}
	}
	return tx, nil
}

// answerError describes a non-2xx answer: what, then Bill24's code and
// message if the body is its envelope, or else a short quote of the body,
// secrets blanked out. It is temporary for 429 and 5xx.
func (v *Verifier) answerError(op string, status int, body []byte, what, token string) *VerifyError {
	e := &VerifyError{Op: op, StatusCode: status, temporary: gateway.TemporaryStatus(status), Message: what}
	if a, err := readAnswer(body); err == nil {
		e.Code = v.clean(a.code, token)
		if msg := v.clean(a.message, token); msg != "" {
			e.Message += fmt.Sprintf(": Bill24 says %q", msg)
		}
		if e.Code != "" {
			e.Message += fmt.Sprintf(" (code %s)", e.Code)
		}
	} else if q := v.clean(string(body), token); q != "" {
		// Not Bill24's envelope (a proxy's error page): quote its start.
		e.Message += fmt.Sprintf(": Bill24 answered %q", q)
	}
	return e
}

// token returns a token fetched by an authorize call numbered above after
// (0: any), authorizing if needed. Only one authorize call is in flight at
// a time.
func (v *Verifier) token(ctx context.Context, after uint64) (*bearer, error) {
	for {
		v.mu.Lock()
		now := v.cfg.now()
		cur := v.cur
		usable := cur != nil && cur.seq > after && now.Before(cur.expiresAt)
		// Someone else renewing, or renewing just failed: the current
		// token is still good.
		if usable && (now.Before(cur.renewAt) || now.Before(v.quietUntil) || v.renewing) {
			v.mu.Unlock()
			return cur, nil
		}
		v.mu.Unlock()

		tok, err := v.tokens.Do(ctx, "authorize", v.fetch)
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return nil, &VerifyError{Op: "authorize", temporary: true, Err: cerr,
				Message: "gave up waiting for a bearer token: " + cerr.Error()}
		}
		if err != nil {
			// Renewing failed: a token that has not expired will do.
			v.mu.Lock()
			cur := v.cur
			ok := cur != nil && cur.seq > after && v.cfg.now().Before(cur.expiresAt)
			v.mu.Unlock()
			if ok {
				return cur, nil
			}
			return nil, err
		}
		if tok.seq > after {
			return tok, nil
		}
		// That call began before a 401 this caller saw: its token may be
		// revoked too. Ask for a newer one.
	}
}

// fetch runs an authorize call, numbered as it begins, and publishes its
// result. It runs with the values of the context of the caller that
// started it, not its cancellation (see Verifier).
func (v *Verifier) fetch(ctx context.Context) (*bearer, error) {
	v.mu.Lock()
	v.seq++
	seq := v.seq
	v.renewing = true
	v.mu.Unlock()
	tok, err := v.authorizeCall(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.renewing = false
	if err != nil {
		v.quietUntil = v.cfg.now().Add(refreshRetry)
		return nil, err
	}
	tok.seq = seq
	v.cur = tok
	v.quietUntil = time.Time{}
	return tok, nil
}

// drop forgets tok after Bill24 refused it, and returns the number of
// authorize calls begun before the first refusal: a retry needs a token
// from a later one.
func (v *Verifier) drop(tok *bearer) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if tok.deadAfter == 0 {
		tok.deadAfter = v.seq
	}
	if v.cur == tok {
		v.cur = nil
	}
	return tok.deadAfter
}

// authorizeRequest is the authorize body (protocols.md B.2). refreshToken
// is always empty: clientId and secret alone get a new token.
type authorizeRequest struct {
	Token        string `json:"token"`
	ClientID     string `json:"clientId"`
	Secret       string `json:"secret"`
	RefreshToken string `json:"refreshToken"`
}

func (v *Verifier) authorizeCall(ctx context.Context) (*bearer, error) {
	body, err := gateway.Marshal(authorizeRequest{Token: v.cfg.merchantToken, ClientID: v.cfg.clientID, Secret: v.cfg.secret})
	if err != nil {
		return nil, &VerifyError{Op: "authorize", Message: "cannot encode the request"}
	}
	status, answer, err := v.post(ctx, "authorize", v.authorize, body, "")
	if err != nil {
		return nil, err
	}
	return v.authorizeResult(status, answer)
}

// authorizeResult reads an authorize answer: the bearer token, with when to
// renew it and when to stop using it, or a *VerifyError.
func (v *Verifier) authorizeResult(status int, answer []byte) (*bearer, error) {
	if status < 200 || status > 299 {
		what := "unexpected answer"
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			what = "credentials refused"
		case status >= 300 && status <= 399:
			what = "unexpected redirect"
		}
		// The answer is not a token, but blank one out in case it is.
		return nil, v.answerError("authorize", status, answer, what, tokenIn(answer))
	}
	a, err := readAnswer(answer)
	if err != nil {
		return nil, &VerifyError{Op: "authorize", StatusCode: status, Message: v.redact(err.Error(), tokenIn(answer))}
	}
	tokText, expText, err := a.authorization()
	if err != nil {
		return nil, &VerifyError{Op: "authorize", StatusCode: status, Code: v.clean(a.code, tokText),
			Message: v.clean(err.Error(), tokText)}
	}
	now := v.cfg.now()
	renewAt, expiresAt := tokenTimes(now, expText, v.cfg.refreshBefore)
	return &bearer{value: tokText, renewAt: renewAt, expiresAt: expiresAt}, nil
}

// tokenIn returns data.token of an authorize answer, or "", so that it can
// be blanked out of errors about the answer.
func tokenIn(body []byte) string {
	var a struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &a) != nil {
		return ""
	}
	return a.Data.Token
}

// tokenTimes returns when to renew a token and when to stop using it, from
// its tokenExpireTime (see Verifier).
func tokenTimes(now time.Time, expText string, refreshBefore time.Duration) (renewAt, expiresAt time.Time) {
	exp, ok := parseExpireTime(expText)
	if !ok {
		exp = now.Add(UnknownTokenLifetime)
	}
	renewAt = exp.Add(-refreshBefore)
	if renewAt.After(now) {
		return renewAt, exp
	}
	// Expires within refreshBefore (or already, by our clock): use it for
	// half of what remains, at least minTokenUse.
	renewAt = now.Add(max(exp.Sub(now)/2, minTokenUse))
	if exp.Before(renewAt) {
		exp = renewAt
	}
	return renewAt, exp
}

// bill24Zone is Phnom Penh time, which Bill24 writes without a zone.
var bill24Zone = time.FixedZone("ICT", 7*60*60)

// parseExpireTime reads a tokenExpireTime: RFC 3339 with any number of
// fractional digits ("2025-03-03T16:58:46.9386571+07:00"), or the same
// without a zone, in Phnom Penh time.
func parseExpireTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.ParseInLocation(layout, s, bill24Zone); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// post sends one request and reads the answer. Errors are transport
// errors (temporary) and answers too large; any answer is returned for the
// caller to read.
func (v *Verifier) post(ctx context.Context, op, u string, body []byte, token string) (int, []byte, error) {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Accept": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	req := gateway.Request{Method: http.MethodPost, URL: u, Header: h, Body: body}
	resp, err := v.gw.Send(ctx, req)
	switch {
	case err != nil:
		return 0, nil, v.transportError(op, resp.Status, err, token)
	case resp.TooLarge:
		return 0, nil, &VerifyError{Op: op, StatusCode: resp.Status, temporary: gateway.TemporaryStatus(resp.Status),
			Message: fmt.Sprintf("answer larger than %d bytes", maxAnswerBytes)}
	}
	return resp.Status, resp.Body, nil
}

func (v *Verifier) transportError(op string, status int, err error, token string) *VerifyError {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Err.Error() // without the URL, which is known
	}
	what := "no answer"
	if status != 0 {
		what = "answer cut short"
	}
	return &VerifyError{Op: op, StatusCode: status, temporary: true, Err: err, Message: what + ": " + v.redact(msg, token)}
}

// redact blanks out the secrets, and the bearer tokens given, from s.
func (v *Verifier) redact(s string, tokens ...string) string {
	secrets := append([]string{v.cfg.secret, v.cfg.merchantToken}, tokens...)
	// Longest first, so that a secret inside another does not leave the
	// rest of the longer one behind.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		s = strings.ReplaceAll(s, sec, "[redacted]")
		// The texts quote Bill24's with %q, which escapes quotes,
		// backslashes and control characters.
		if q := strconv.Quote(sec); q[1:len(q)-1] != sec {
			s = strings.ReplaceAll(s, q[1:len(q)-1], "[redacted]")
		}
	}
	return s
}

// clean makes a text Bill24 wrote fit for an error: secrets blanked out,
// control characters and invalid UTF-8 replaced, shortened.
func (v *Verifier) clean(s string, tokens ...string) string {
	s = v.redact(strings.ToValidUTF8(s, "\uFFFD"), tokens...)
	s = text.Clean(s, math.MaxInt)
	// Again: the spaces may have completed a secret holding one. Cut
	// only then, so that no part of a secret is left to quote.
	return text.Truncate(v.redact(s, tokens...), maxMessageLen)
}

// answer is Bill24's envelope, read leniently: {"code", "message", "data"}.
type answer struct {
	hasCode bool
	code    string // a string as is; a number as written
	message string
	data    any
}

// readAnswer decodes an envelope exactly: one JSON object without a key
// twice, numbers as json.Number, nothing after it, valid UTF-8.
func readAnswer(body []byte) (answer, error) {
	var a answer
	m, err := gateway.DecodeObject(body, "body")
	if err != nil {
		return a, fmt.Errorf("malformed answer: %w", err)
	}
	switch c := m["code"].(type) {
	case nil:
	case string:
		a.hasCode, a.code = true, strings.TrimSpace(c)
	case int, mappings.Decimal:
		a.hasCode = true
		a.code, _ = gateway.Number(c)
	default:
		return a, errors.New("malformed answer: code is neither a string nor a number")
	}
	switch msg := m["message"].(type) {
	case nil:
	case string:
		a.message = msg
	default:
		return a, errors.New("malformed answer: message is not a string")
	}
	a.data = m["data"]
	return a, nil
}

// notFound reports whether a non-SUCCESS answer means "no such
// transaction": a code holding NOT_FOUND (or NOTFOUND, or 404), or a
// message holding "not found".
func (a answer) notFound() bool {
	code := strings.ToUpper(a.code)
	return strings.Contains(code, "NOT_FOUND") || strings.Contains(code, "NOTFOUND") || code == "404" ||
		strings.Contains(strings.ToLower(a.message), "not found")
}

// authorization returns the token and tokenExpireTime of an authorize
// answer. code must be 200, as a number or a string.
func (a answer) authorization() (token, expires string, err error) {
	if !a.hasCode {
		return "", "", errors.New("malformed answer: no code")
	}
	data, _ := a.data.(map[string]any)
	token, _ = data["token"].(string)
	if a.code != "200" {
		msg := a.message
		if msg == "" {
			msg = "no message"
		}
		return token, "", fmt.Errorf("Bill24 refused: code %s: %q", a.code, msg)
	}
	if data == nil {
		return "", "", errors.New("malformed answer: no data object")
	}
	switch {
	case token == "":
		return "", "", errors.New("malformed answer: no data.token")
	case len(token) > maxTokenLen:
		return token, "", fmt.Errorf("malformed answer: data.token longer than %d bytes", maxTokenLen)
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] >= 0x7f {
			// Not usable in a header; the text is not quoted.
			return token, "", errors.New("malformed answer: data.token holds spaces, control or non-ASCII characters")
		}
	}
	expires, _ = data["tokenExpireTime"].(string)
	return token, expires, nil
}

// DecodeVerifyAnswer reads the body of a verify answer (protocols.md B.4).
// A SUCCESS code (any letter case) with a data object holding a tran_id
// gives the Transaction. A non-SUCCESS code meaning not found (a code
// holding NOT_FOUND, a message holding "not found") gives an error
// wrapping ErrTransactionNotFound; another code, or a malformed answer, an
// error saying so.
//
// It does not look at the HTTP status, nor check which transaction the
// answer is about: Verify does both.
func DecodeVerifyAnswer(body []byte) (Transaction, error) {
	a, err := readAnswer(body)
	if err != nil {
		return Transaction{}, err
	}
	return a.transaction()
}

func (a answer) transaction() (Transaction, error) {
	if !strings.EqualFold(a.code, "SUCCESS") {
		msg := a.message
		if msg == "" {
			msg = "no message"
		}
		switch {
		case a.notFound():
			return Transaction{}, fmt.Errorf("%w: code %q: %q", ErrTransactionNotFound, a.code, msg)
		case !a.hasCode:
			return Transaction{}, fmt.Errorf("malformed answer: no code (message %q)", msg)
		}
		return Transaction{}, fmt.Errorf("Bill24 refused: code %q: %q", a.code, msg)
	}
	data, ok := a.data.(map[string]any)
	if !ok {
		return Transaction{}, errors.New("malformed answer: SUCCESS without a data object")
	}
	return decodeTransaction(data)
}

// decodeTransaction reads a verify answer's data object. Text fields may
// be strings, numbers (taken as written) or null (empty); amounts JSON
// numbers or numeric strings, missing, null or "" being zero.
func decodeTransaction(data map[string]any) (Transaction, error) {
	tx := Transaction{Raw: data}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"tran_id", &tx.TranID},
		{"status", &tx.Status},
		{"currency", &tx.Currency},
		{"identity_code", &tx.IdentityCode},
		{"bank_ref", &tx.BankRef},
		{"tran_date", &tx.TranDate},
		{"purpose_of_transaction", &tx.PurposeOfTransaction},
	} {
		switch v := data[f.name].(type) {
		case nil:
		case string:
			*f.dst = v
		case int, mappings.Decimal:
			*f.dst, _ = gateway.Number(v)
		default:
			return Transaction{}, fmt.Errorf("malformed answer: data.%s must be a string", f.name)
		}
	}
	for _, f := range []struct {
		name string
		dst  *mappings.Decimal
	}{
		{"tran_amount", &tx.TranAmount},
		{"fee_amount", &tx.FeeAmount},
		{"total_amount", &tx.TotalAmount},
	} {
		var s string
		switch v := data[f.name].(type) {
		case nil:
			continue
		case int:
			*f.dst = mappings.DecimalFromInt(int64(v))
			continue
		case mappings.Decimal:
			*f.dst = v
			continue
		case string:
			if s = strings.TrimSpace(v); s == "" {
				continue
			}
		default:
			return Transaction{}, fmt.Errorf("malformed answer: data.%s must be a number", f.name)
		}
		d, err := mappings.ParseDecimal(s)
		if err != nil {
			return Transaction{}, fmt.Errorf("malformed answer: data.%s is not a decimal number: %q", f.name, text.Truncate(s, 32))
		}
		*f.dst = d
	}
	switch {
	case tx.TranID == "":
		return Transaction{}, errors.New("malformed answer: data.tran_id is missing")
	case len(tx.TranID) > MaxIDLen || !text.Printable(tx.TranID):
		return Transaction{}, fmt.Errorf("malformed answer: data.tran_id must be at most %d printable characters", MaxIDLen)
	}
	return tx, nil
}

// DecodeTransaction reads a verify answer's data object alone, as
// billbridge keeps it for a payment it holds (see Transaction.Raw).
func DecodeTransaction(data []byte) (Transaction, error) {
	m, err := gateway.DecodeObject(data, "kept transaction")
	if err != nil {
		return Transaction{}, err
	}
	return decodeTransaction(m)
}
