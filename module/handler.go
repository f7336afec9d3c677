package billbridge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/bill24"
	"github.com/billbridge/caddy-billbridge/module/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler answers one gateway flow on the merchant's behalf: it reads and
// checks the gateway's request, claims its event id where the flow moves
// money, calls the legacy API through the configured mappings, and answers
// in the gateway's exact format. Every flow runs the same pipeline; a flow
// only supplies its decoder, its envelopes and how it judges the answer.
type Handler struct {
	// Flow is one of bill24_proxy, bill24_webhook, qm_callback,
	// qm_redirect, qm_create_bill.
	Flow string `json:"flow"`

	// MaxBody bounds the gateway's request body, in bytes. Default: 64 KiB.
	// A larger body is answered 413.
	MaxBody int64 `json:"max_body,omitempty"`

	// Call is the legacy API call the flow makes.
	Call *Call `json:"call,omitempty"`

	// Rules choose a bill24_proxy outcome from a legacy answer below 500;
	// the first whose expression is true wins. With none true, a 2xx answer
	// is success, a 404 not_found, anything else a legacy failure (502). A
	// 5xx answer is always a legacy failure.
	Rules []Rule `json:"rules,omitempty"`

	// Messages overrides the English and Khmer message of a proxy outcome.
	Messages map[string]bill24.Message `json:"messages,omitempty"`

	// Reply maps bill24_proxy data fields to expressions over req and res.
	// A field whose expression gives nil keeps its default: the consumer
	// code asked for, -1 (no limit) for min_amount and max_amount, 0 for
	// due_amount and balance, "" for texts and dates.
	Reply map[string]string `json:"reply,omitempty"`

	// OnFailed and OnCancelled are the legacy calls for a QM bill that
	// ended Failed or Cancelled; without one, such a bill is acknowledged
	// and nothing is sent.
	OnFailed    *Call `json:"on_failed,omitempty"`
	OnCancelled *Call `json:"on_cancelled,omitempty"`

	// SkipRequery trusts QM callbacks as sent, without asking QM's Requery
	// API. Never do this in production: anyone who can reach the route
	// could mark a bill paid. It is logged as a warning at start.
	SkipRequery bool `json:"skip_requery,omitempty"`

	// Redirect builds the legacy page a qm_redirect sends the customer to,
	// from the verified bill: a path on this site or an http(s) URL.
	Redirect string `json:"redirect,omitempty"`

	// Bill maps a legacy request to QM's create request in
	// qm_create_bill: amount (required), merchant_reference, callback_url
	// and redirect_url (default: this host's /qm/callback and /qm/return).
	Bill map[string]string `json:"bill,omitempty"`

	// Success decides whether the legacy system took a payment. It may also
	// recognise "already have it" answers. Default: `res.status >= 200 && res.status < 300`.
	Success string `json:"success,omitempty"`

	// Lookup asks the legacy system whether it already has a payment. It
	// runs before posting again after an attempt that may have reached the
	// legacy system (a timeout after sending, or a crashed instance).
	Lookup *Lookup `json:"lookup,omitempty"`

	// OnDuplicate is the answer to a delivery of an event already done:
	// "replay" (default) repeats the stored answer byte for byte; "error"
	// answers Bill24's documented duplicate envelope.
	OnDuplicate string `json:"on_duplicate,omitempty"`

	// DuplicateWait is how long a duplicate of an event still in flight
	// waits for the first delivery to finish before it is answered 503.
	// Default: 5s.
	DuplicateWait caddy.Duration `json:"duplicate_wait,omitempty"`

	// Lease bounds how long a claim is held before another delivery may
	// take over (a crashed instance). Default: twice the legacy timeout
	// plus 10s, which outlasts a lookup and a post.
	Lease caddy.Duration `json:"lease,omitempty"`

	// Retention is how long a finished event is remembered, so that late
	// retries are replayed, not posted. Default: 30 days.
	Retention caddy.Duration `json:"retention,omitempty"`

	// IdempotencyHeader names the header carrying the gateway's transaction
	// id to the legacy API. Default: Idempotency-Key. "-" sends none.
	IdempotencyHeader string `json:"idempotency_header,omitempty"`

	// OnStoreError is what to do when the store cannot be reached:
	// "reject" (default: 503, the gateway retries, nothing is posted) or
	// "allow" (post without a claim, for legacy APIs that dedupe themselves).
	OnStoreError string `json:"on_store_error,omitempty"`

	app      *App
	flow     flow
	compiled compiled
	store    store.Store
	logger   *zap.Logger
	events   *caddyevents.App
	ctx      caddy.Context
	metrics  *flowMetrics
}

// compiled holds a handler's mappings, ready to run.
type compiled struct {
	call        *compiledCall
	lookup      *compiledCall
	found       *mappings.Program
	success     *mappings.Program
	rules       []compiledRule
	onFailed    *compiledCall
	onCancelled *compiledCall
	redirect    *mappings.Program
	bill        map[string]*mappings.Program
	reply       []replyField
	replyBatch  *mappings.Batch
	messages    map[bill24.Outcome]bill24.Message
}

// Rule is one `when <expr> <outcome>` line.
type Rule struct {
	When    string `json:"when"`
	Outcome string `json:"outcome"`
}

// Lookup is the call that asks the legacy system about a payment, and the
// expression that reads "it is there" from the answer.
type Lookup struct {
	Call
	Found string `json:"found"`
}

// jsonType is the content type of JSON answers.
const jsonType = "application/json; charset=utf-8"

const (
	defaultMaxBody       = 64 << 10
	defaultDuplicateWait = 5 * time.Second
	defaultRetention     = 30 * 24 * time.Hour
	defaultIdemHeader    = "Idempotency-Key"
)

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.billbridge",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision compiles the flow's mappings and connects it to the app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.ctx = ctx
	h.logger = ctx.Logger()
	f, ok := flows[h.Flow]
	if !ok {
		return fmt.Errorf("unknown flow %q (want one of %s)", h.Flow, flowNames())
	}
	h.flow = f
	appIface, err := ctx.App("billbridge")
	if err != nil {
		return err
	}
	h.app = appIface.(*App)
	h.store = h.app.store
	if h.app.Legacy == nil {
		return fmt.Errorf("%s: no legacy upstream: %w", h.Flow, errNoApp)
	}
	if eventsApp, err := ctx.App("events"); err == nil {
		h.events = eventsApp.(*caddyevents.App)
	}

	if h.MaxBody <= 0 {
		h.MaxBody = defaultMaxBody
	}
	h.metrics = registerMetrics(ctx.GetMetricsRegistry(), h.logger)
	return f.provision(h)
}

// Validate checks settings that do not depend on other modules.
func (h *Handler) Validate() error {
	switch h.OnDuplicate {
	case "", "replay", "error":
	default:
		return fmt.Errorf("on_duplicate must be replay or error, not %q", h.OnDuplicate)
	}
	switch h.OnStoreError {
	case "", "reject", "allow":
	default:
		return fmt.Errorf("on_store_error must be reject or allow, not %q", h.OnStoreError)
	}
	if h.Lease > 0 && time.Duration(h.Lease) <= time.Duration(h.app.Legacy.Timeout) {
		return fmt.Errorf("lease %s must be longer than the legacy timeout %s, or a slow call could be posted twice",
			time.Duration(h.Lease), time.Duration(h.app.Legacy.Timeout))
	}
	return nil
}

// ServeHTTP runs the pipeline. Answers, errors included, are written in the
// gateway's envelope: gateways parse them, so a bare Caddy error page would
// be misread. Each answer is also logged, counted and published as
// {http.billbridge.outcome} for log_append and friends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	start := time.Now()
	res := h.serve(r)
	h.write(w, r, res)
	h.logEvent(r, res, time.Since(start))
	return nil
}

// result is a flow's answer to the gateway and what the pipeline learned.
type result struct {
	status    int
	body      []byte
	header    http.Header // extra headers (Retry-After)
	outcome   string      // short label for logs and metrics
	eventID   string      // for logs: the gateway id, masked where it is personal
	legacy    int         // legacy HTTP status, 0 if none
	err       error       // what went wrong, for the log
	done      bool        // the legacy system has the payment: complete the claim
	ambiguous bool        // the attempt may have reached the legacy system
}

func (h *Handler) serve(r *http.Request) result {
	if !h.flow.authenticate(h, r) {
		return h.fail(http.StatusUnauthorized, "unauthorized", "missing or invalid token", nil)
	}
	body, err := readBody(r, h.MaxBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return h.fail(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", h.MaxBody), nil)
		}
		return h.fail(http.StatusBadRequest, "bad_request", "cannot read request body", err)
	}
	ev, err := h.flow.decode(h, r, body)
	if err != nil {
		return h.fail(http.StatusBadRequest, "bad_request", err.Error(), nil)
	}
	// Verification comes before the claim: a forged message must not claim
	// the id (and fingerprint it) ahead of the genuine one.
	ev, stop := h.flow.verify(h, r, ev)
	if stop != nil {
		stop.eventID = ev.logID
		return *stop
	}
	if ev.id == "" {
		res := h.flow.settle(h, ev, h.callLegacy(r, ev, false))
		res.eventID = ev.logID
		return res
	}
	res := h.once(r, ev)
	res.eventID = ev.logID
	return res
}

// fail builds an error answer in the flow's envelope.
func (h *Handler) fail(status int, outcome, msg string, err error) result {
	return result{status: status, body: h.flow.envelope(status, msg), outcome: outcome, err: err,
		header: http.Header{"Content-Type": {h.flow.contentType()}}}
}

// retryable builds a 503 that tells the gateway to come back.
func (h *Handler) retryable(outcome, msg string, err error) result {
	res := h.fail(http.StatusServiceUnavailable, outcome, msg, err)
	res.header.Set("Retry-After", "5")
	return res
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request, res result) {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.billbridge.outcome", res.outcome)
		repl.Set("http.billbridge.legacy_status", res.legacy)
	}
	for k, v := range res.header {
		w.Header()[k] = v
	}
	ct := res.header.Get("Content-Type")
	if ct == "" {
		w.Header().Set("Content-Type", jsonType)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

func (h *Handler) logEvent(r *http.Request, res result, d time.Duration) {
	h.metrics.observe(h.Flow, res.outcome, d)
	// Money-moving events are logged at info, an audit trail; lookups and
	// redirects, which move nothing, only at debug unless they fail.
	level := zap.InfoLevel
	if !h.flow.movesMoney() {
		level = zap.DebugLevel
	}
	switch {
	case res.status >= 500:
		level = zap.ErrorLevel
	case res.status >= 400:
		level = zap.WarnLevel
	}
	ce := h.logger.Check(level, "gateway event")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("flow", h.Flow),
		zap.String("event_id", res.eventID),
		zap.String("outcome", res.outcome),
		zap.Int("status", res.status),
		zap.Int("legacy_status", res.legacy),
		zap.Duration("duration", d),
	}
	if res.err != nil {
		fields = append(fields, zap.String("error", res.err.Error()))
	}
	ce.Write(fields...)
}

// emit sends a Caddy event, for users who hook alerts on them.
func (h *Handler) emit(r *http.Request, name string, data map[string]any) {
	if h.events == nil {
		return
	}
	data["flow"] = h.Flow
	h.events.Emit(h.ctx, name, data)
}

// mismatch answers a message the gateway's own record contradicts: it is
// never forwarded, and a person should look.
func (h *Handler) mismatch(r *http.Request, ev event, what string) *result {
	h.metrics.verify(h.Flow, "mismatch")
	h.logger.Warn("gateway record contradicts the message: not forwarded",
		zap.String("flow", h.Flow), zap.String("event_id", ev.logID), zap.String("mismatch", what))
	h.emit(r, "billbridge.verify_mismatch", map[string]any{"event_id": ev.logID, "mismatch": what})
	res := h.fail(http.StatusConflict, "verify_mismatch", "message does not match the gateway's record", nil)
	return &res
}

// newOwner returns a random claim owner token.
func newOwner() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mask hides the middle of personal values (consumer codes, phone
// numbers) in logs: "CU003035" -> "CU****35".
func mask(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return "****"
	}
	keep := 2
	out := make([]rune, 0, len(r))
	out = append(out, r[:keep]...)
	for range r[keep : len(r)-keep] {
		out = append(out, '*')
	}
	return string(append(out, r[len(r)-keep:]...))
}

// envFor wraps a payload in the request environment of its flow.
type envMaker func(payload any) any

// responseEnvMaker wraps a payload and a legacy answer.
type responseEnvMaker func(payload any, res mappings.Response) any

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
