package billbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
)

// The pipeline, for every flow:
//
//	method → read the body (bounded) → authenticate → decode and validate →
//	verify with the gateway → claim the event id (flows that move money) →
//	ask lookup (after an uncertain attempt) → send → judge the answer →
//	complete or release the claim → answer in the gateway's envelope.
//
// Verification comes before the claim: a forged message must not claim the
// id (and fingerprint it) ahead of the genuine one.
//
// Every stage returns a Result whose Verdict the policy table below turns
// into the HTTP status, Retry-After, metric, Caddy event, log level and,
// for a claimed event, what becomes of the claim. Nothing else in
// billbridge decides those.

// settle is what becomes of a claimed event after a verdict.
type settle int

const (
	keep         settle = iota // no claim was taken, or it is not ours to settle
	complete                   // the legacy system has it: done, answer kept for replay
	releaseClean               // certainly not booked: the next delivery posts again
	releaseMaybe               // may be booked: the next delivery asks lookup first
	// releaseLater is releaseMaybe after a request that may still be
	// booking: the legacy system gets one more legacy timeout to finish
	// before the next delivery asks lookup (until then it is answered 503
	// with Retry-After), or the lookup would not find a payment that is
	// about to land, and post it again.
	releaseLater
)

// policy is what a verdict means.
type policy struct {
	status     int  // 0: the Result's own (Answered), default 200
	retryAfter bool // tell the gateway when to come back
	level      zapcore.Level
	counter    string // "verify:<result>" or "dedupe:<result>", counted on top of events_total
	event      string // Caddy event emitted, for alerting hooks
	settle     settle
	message    string // default envelope message
}

// Retry-After, in seconds, on every retryable answer.
const retryAfterSeconds = "5"

var policies = map[Verdict]policy{
	Unauthorized:     {status: 401, level: zap.WarnLevel, message: "missing or invalid token"},
	MethodNotAllowed: {status: 405, level: zap.InfoLevel, message: "method not allowed"},
	TooLarge:         {status: 413, level: zap.WarnLevel, message: "request body is too large"},
	BadRequest:       {status: 400, level: zap.WarnLevel, message: "bad request"},

	Verified:          {level: zap.DebugLevel, counter: "verify:verified"},
	NotFinal:          {status: 503, retryAfter: true, level: zap.InfoLevel, counter: "verify:not_final", message: "not final yet; call again later"},
	VerifyPending:     {status: 503, retryAfter: true, level: zap.InfoLevel, counter: "verify:not_final", message: "transaction is still pending at the gateway; retry later"},
	VerifyUnknown:     {status: 503, retryAfter: true, level: zap.WarnLevel, counter: "verify:unknown", message: "transaction not found at the gateway; retry later"},
	VerifyUnavailable: {status: 503, retryAfter: true, level: zap.WarnLevel, counter: "verify:error", message: "unable to verify with the gateway; retry later"},
	VerifyMismatch:    {status: 409, level: zap.WarnLevel, counter: "verify:mismatch", event: "billbridge.verify_mismatch", message: "message does not match the gateway's record"},
	UnknownBill:       {status: 400, level: zap.WarnLevel, counter: "verify:unknown", message: "unknown to the gateway"},

	Held:             {status: 200, level: zap.InfoLevel, counter: "dedupe:queued", event: "billbridge.queued"},
	Replayed:         {level: zap.InfoLevel, counter: "dedupe:replay", event: "billbridge.duplicate"},
	Duplicate:        {status: 200, level: zap.InfoLevel, counter: "dedupe:replay", event: "billbridge.duplicate"},
	InFlight:         {status: 503, retryAfter: true, level: zap.InfoLevel, counter: "dedupe:in_flight", message: "this transaction is being processed; retry later"},
	Conflict:         {status: 409, level: zap.WarnLevel, counter: "dedupe:conflict", event: "billbridge.conflict", message: "transaction id already used for a different payment"},
	StoreUnavailable: {status: 503, retryAfter: true, level: zap.ErrorLevel, counter: "dedupe:store_error", message: "temporarily unable to process; retry later"},

	Posted:            {status: 200, level: zap.InfoLevel, settle: complete},
	Already:           {status: 200, level: zap.InfoLevel, counter: "dedupe:already", settle: complete},
	FoundByLookup:     {status: 200, level: zap.InfoLevel, counter: "dedupe:found_by_lookup", settle: complete},
	LegacyRefused:     {status: 502, level: zap.WarnLevel, event: "billbridge.legacy_failed", settle: releaseClean, message: "legacy system did not accept the payment"},
	LegacyFailed:      {status: 502, level: zap.ErrorLevel, event: "billbridge.legacy_failed", settle: releaseLater, message: "legacy system failed"},
	LegacyTimeout:     {status: 504, level: zap.ErrorLevel, event: "billbridge.legacy_failed", settle: releaseLater, message: "legacy system timed out"},
	LegacyUnreachable: {status: 502, level: zap.ErrorLevel, event: "billbridge.legacy_failed", settle: releaseClean, message: "legacy system unreachable"},
	BadData:           {status: 400, level: zap.InfoLevel, settle: releaseClean, message: "a value in the request cannot form a legacy request"},
	RequestUnmapped:   {status: 500, level: zap.ErrorLevel, event: "billbridge.legacy_failed", settle: releaseClean, message: "cannot build the legacy request"},
	AnswerUnreadable:  {status: 502, level: zap.ErrorLevel, event: "billbridge.legacy_failed", settle: releaseLater, message: "cannot read the legacy answer"},
	LookupFailed:      {status: 503, retryAfter: true, level: zap.WarnLevel, settle: releaseMaybe, message: "temporarily unable to confirm an earlier attempt; retry later"},
	UpstreamRefused:   {status: 502, level: zap.WarnLevel, message: "the gateway refused the request"},
	UpstreamDown:      {status: 503, retryAfter: true, level: zap.ErrorLevel, message: "the gateway is unavailable; retry later"},
	UpstreamFailed:    {status: 502, level: zap.ErrorLevel, message: "unexpected answer from the gateway"},

	Answered: {level: zap.InfoLevel},
	Internal: {status: 500, level: zap.ErrorLevel, message: "internal error"},
}

// answer is what goes back to the gateway, and what the log learns.
type answer struct {
	Result
	policy
	status  int
	header  http.Header
	body    []byte
	label   string
	logID   string
	traceID string
}

// ServeHTTP runs the pipeline. Answers, errors included, are written in the
// gateway's envelope: gateways parse them, so a bare Caddy error page would
// be misread. Each answer is also logged, counted and published as
// {http.billbridge.outcome} for log_append and friends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	start := time.Now()
	res, ev, body := h.run(r)
	a := h.shape(res)
	switch {
	case ev != nil:
		a.logID = ev.LogID
	case body != nil:
		a.logID = h.peekID(body)
	}
	if sc := trace.SpanContextFromContext(r.Context()); sc.HasTraceID() {
		a.traceID = sc.TraceID().String()
	}
	h.write(w, r, a)
	h.record(a, time.Since(start))
	return nil
}

// peekID finds the event's id in a body the flow refused, for the log.
func (h *Handler) peekID(body []byte) string {
	if len(h.profile.IDFields) == 0 {
		return ""
	}
	doc, err := mappings.ParseJSON(body)
	if err != nil {
		return ""
	}
	m, _ := doc.(map[string]any)
	for _, f := range h.profile.IDFields {
		if id, ok := m[f].(string); ok && id != "" {
			id = text.Clean(id, 128)
			if h.profile.MaskID {
				id = Mask(id)
			}
			return id
		}
	}
	return ""
}

// run takes a request through the stages and returns the final verdict,
// the event if it was decoded, and the body if it was read.
func (h *Handler) run(r *http.Request) (Result, *Event, []byte) {
	prof := h.profile
	if !slices.Contains(prof.Methods, r.Method) {
		return Result{Verdict: MethodNotAllowed, Header: http.Header{"Allow": {strings.Join(prof.Methods, ", ")}}}, nil, nil
	}
	body, err := readBody(r, h.MaxBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Stop(TooLarge, fmt.Sprintf("request body is larger than %d bytes", h.MaxBody), nil), nil, nil
		}
		return Stop(BadRequest, "cannot read request body", err), nil, nil
	}
	if !h.flow.Authenticate(r, body) {
		return Result{Verdict: Unauthorized}, nil, body
	}
	ev, err := h.flow.Decode(r, body)
	if err != nil {
		return Stop(BadRequest, err.Error(), nil), nil, body
	}
	if v, ok := h.flow.(Verifier); ok {
		res := v.Verify(r.Context(), ev)
		h.count(policies[res.Verdict].counter)
		h.noteCall(res.Verdict) // how the gateway's API answered, for health
		if res.Verdict != Verified {
			h.mark(r, res, ev)
			return res, ev, body
		}
	}
	if prof.Payment == nil {
		return h.answerOf(ev, h.send(r.Context(), ev, false)), ev, body
	}
	return h.once(r, ev, body), ev, body
}

// send runs the outbound step: the flow's own (Sender) or the event's
// legacy call. A payment's post runs to its end (bounded by the legacy
// timeout) even if the gateway hangs up: then it is recorded as done and
// the gateway's retry is a replay, not a cut call that leaves the payment
// uncertain.
func (h *Handler) send(ctx context.Context, ev *Event, payment bool) Outcome {
	if s, ok := h.flow.(Sender); ok {
		return Outcome{Err: s.Send(ctx, ev)}
	}
	if ev.Call == nil {
		return Outcome{}
	}
	if payment {
		ctx = context.WithoutCancel(ctx)
	}
	return h.call(ctx, ev.Call, ev, payment)
}

// answerOf is the answer of a flow that moves no money.
func (h *Handler) answerOf(ev *Event, out Outcome) Result {
	if v, ok := failedCall(out); ok {
		return v
	}
	return h.flow.(Answerer).Answer(ev, out)
}

// failedCall turns a legacy call that produced no answer into its verdict.
func failedCall(out Outcome) (Result, bool) {
	if out.Err == nil {
		return Result{}, false
	}
	var pe *pathError
	if errors.As(out.Err, &pe) {
		return Result{Verdict: BadData, Detail: "legacy path " + pe.reason}, true
	}
	var me *mappingError
	if errors.As(out.Err, &me) {
		return Result{Verdict: RequestUnmapped, Err: out.Err}, true
	}
	var ce *callError
	if !errors.As(out.Err, &ce) {
		return Result{}, false // a Sender's error: the flow's to judge
	}
	if ce.timeout {
		return Result{Verdict: LegacyTimeout, Err: out.Err}, true
	}
	if ce.uncertain() {
		// The request may have reached the legacy system.
		return Result{Verdict: LegacyFailed, Message: "legacy system unreachable", Err: out.Err}, true
	}
	return Result{Verdict: LegacyUnreachable, Err: out.Err}, true
}

// judge decides what a payment's legacy answer means, with the payment
// settings' success expression.
func (h *Handler) judge(ev *Event, out Outcome) Result {
	if v, ok := failedCall(out); ok {
		return v
	}
	if !out.Answered {
		// Nothing to tell the legacy system (a failed QM bill without
		// on_failed): acknowledged as handled.
		return Result{Verdict: Posted}
	}
	p := h.profile.Payment
	ok, err := p.success.Bool(ev.Respond(out.Res))
	if err != nil {
		// The legacy system answered, but we cannot tell what it did: treat
		// it as possibly booked, so the next attempt asks before posting.
		return Result{Verdict: AnswerUnreadable, Err: fmt.Errorf("success: %w", err), Legacy: out.Res.Status}
	}
	if ok {
		return Result{Verdict: Posted, Legacy: out.Res.Status}
	}
	if p.already != nil {
		had, err := p.already.Bool(ev.Respond(out.Res))
		if err != nil {
			return Result{Verdict: AnswerUnreadable, Err: fmt.Errorf("already: %w", err), Legacy: out.Res.Status}
		}
		if had {
			return Result{Verdict: Already, Legacy: out.Res.Status}
		}
	}
	if out.Res.Status >= 500 {
		return Result{Verdict: LegacyFailed, Message: fmt.Sprintf("legacy system failed (HTTP %d)", out.Res.Status), Legacy: out.Res.Status, answer: &out.Res}
	}
	return Result{Verdict: LegacyRefused, Message: fmt.Sprintf("legacy system did not accept the payment (HTTP %d)", out.Res.Status), Legacy: out.Res.Status, answer: &out.Res}
}

// shape turns a verdict into the answer: status, headers and body.
func (h *Handler) shape(res Result) answer {
	pol, ok := policies[res.Verdict]
	if !ok {
		pol = policies[Internal]
		res.Err = fmt.Errorf("verdict %q has no policy", res.Verdict)
		res.Verdict = Internal
	}
	a := answer{Result: res, policy: pol, label: string(res.Verdict), header: http.Header{}}
	if res.Label != "" {
		a.label = res.Label
	}
	for k, v := range res.Header {
		a.header[k] = v
	}
	a.status = pol.status
	if a.status == 0 {
		a.status = res.Status
		if a.status == 0 {
			a.status = http.StatusOK
		}
	}
	a.body = res.Body
	if a.body == nil {
		msg := res.Message
		if msg == "" {
			msg = pol.message
		}
		a.body = h.flow.Envelope(a.status, msg)
	}
	if a.header.Get("Content-Type") == "" {
		a.header.Set("Content-Type", h.profile.ContentType)
	}
	if pol.retryAfter {
		a.header.Set("Retry-After", retryAfterSeconds)
	}
	return a
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request, a answer) {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.billbridge.outcome", a.label)
		repl.Set("http.billbridge.legacy_status", a.Legacy)
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// record logs and counts the answer: one line per gateway event.
func (h *Handler) record(a answer, d time.Duration) {
	h.metrics.observe(h.name, a.label, d)
	h.noteCall(a.Verdict)
	ce := h.logger.Check(a.level, "gateway event")
	if ce == nil || !h.sampled(a) {
		return
	}
	fields := []zap.Field{
		zap.String("flow", h.name),
		zap.String("event_id", a.logID),
		zap.String("outcome", a.label),
		zap.Int("status", a.status),
		zap.Int("legacy_status", a.Legacy),
		zap.Duration("duration", d),
	}
	if a.status >= 400 {
		msg := a.Message
		if msg == "" {
			msg = a.message // the policy's default reason
		}
		fields = append(fields, zap.String("reason", msg))
	}
	if a.Detail != "" {
		fields = append(fields, zap.String("detail", a.Detail))
	}
	if a.traceID != "" {
		fields = append(fields, zap.String("traceID", a.traceID))
	}
	if a.Err != nil {
		fields = append(fields, zap.String("error", a.Err.Error()))
	}
	ce.Write(fields...)
}

// sampled reports whether an event's line is written under log_sample:
// every refusal and every warning is; one in LogSample of the rest.
func (h *Handler) sampled(a answer) bool {
	if h.LogSample <= 1 || a.status >= 400 || a.level > zapcore.InfoLevel {
		return true
	}
	return (h.logged.Add(1)-1)%uint64(h.LogSample) == 0
}

// noteCall tells the health report how an upstream call went, by the
// verdict it produced.
func (h *Handler) noteCall(v Verdict) {
	u := h.app.calls.of(v, h.gateway)
	if u == nil {
		return
	}
	if policies[v].status >= 500 {
		u.failed(string(v))
	} else {
		u.ok()
	}
}

// mark counts a verdict's dedupe or verify result and emits its event:
// what a person or an alert should know about beyond the log line.
func (h *Handler) mark(r *http.Request, res Result, ev *Event) {
	pol := policies[res.Verdict]
	if pol.event == "" || h.events == nil {
		return
	}
	data := map[string]any{"flow": h.name}
	if ev != nil {
		data["event_id"] = ev.LogID
	}
	if res.Detail != "" {
		data["detail"] = res.Detail
	}
	if res.Legacy != 0 {
		data["legacy_status"] = res.Legacy
	}
	if pol.settle != keep {
		data["uncertain"] = pol.settle == releaseMaybe || pol.settle == releaseLater
	}
	h.events.Emit(h.ctx, pol.event, data)
}

// count increments a "verify:<result>" or "dedupe:<result>" counter.
func (h *Handler) count(counter string) {
	kind, result, ok := strings.Cut(counter, ":")
	if !ok {
		return
	}
	switch kind {
	case "verify":
		h.metrics.verify(h.name, result)
	case "dedupe":
		h.metrics.dedupe(h.name, result)
	}
}
