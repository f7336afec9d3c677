package billbridge

import (
	"context"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// Flow is a guest module of the handler, in the namespace billbridge.flows:
// one gateway conversation (a Bill24 webhook, a QM callback, …). It holds
// only its own settings, compiles its own mappings in Provision, and is
// data to the pipeline: it decodes the gateway's request into an Event and
// writes the gateway's envelopes. It never builds an error answer, touches
// a metric or the store: it returns verdicts, and pipeline.go decides what
// each one means.
type Flow interface {
	caddy.Module

	// Profile says how the pipeline treats the flow.
	Profile() Profile

	// Authenticate checks the gateway's credentials: a token header, a
	// signature over the body (which has been read, bounded, already).
	Authenticate(r *http.Request, body []byte) bool

	// Decode parses and validates the request into an event. An error is
	// the gateway's fault: its text is answered with 400.
	Decode(r *http.Request, body []byte) (*Event, error)

	// Envelope writes msg in the gateway's error format, of
	// Profile().ContentType.
	Envelope(status int, msg string) []byte
}

// Verifier is a flow that confirms an event with the gateway's own record
// (QM's Requery, Bill24's Transaction Verify) before anything is acted
// on. It may replace the event's payload with the gateway's record, so the
// mappings see what the gateway recorded, not what was sent. Verified
// lets the event through; any other verdict stops it.
type Verifier interface {
	Verify(ctx context.Context, ev *Event) Result
}

// Sender is a flow whose outbound step is not a legacy call: qm_create_bill
// sends to QM. It records what it got back in the event, for Answer.
type Sender interface {
	Send(ctx context.Context, ev *Event) error
}

// Answerer is a flow that does not move money and builds its own answer
// from the outbound step's outcome: a proxy lookup's data, a redirect, a
// created bill. Flows that move money have no Answerer: the pipeline judges
// their legacy answer with the payment settings and answers Profile().Ack.
type Answerer interface {
	Answer(ev *Event, out Outcome) Result
}

// Keeper is a flow that moves money and whose events can be held in
// custody (deliver queued): Keep encodes what Restore needs to rebuild the
// event later, in another process if need be, exactly as the pipeline had
// it after verification, so a delivery worker never asks the gateway
// again and the mappings see the same payment.
type Keeper interface {
	// Keep encodes a verified event; body is the gateway's request body.
	Keep(ev *Event, body []byte) ([]byte, error)
	// Restore rebuilds the event Keep encoded, with the flow's current
	// settings (a fixed mapping fixes a redelivery).
	Restore(kept []byte) (*Event, error)
}

// Profile describes a flow to the pipeline.
type Profile struct {
	// Key prefixes the store keys of its events, e.g. "bill24:webhook";
	// the admin API reads it back as /billbridge/events/bill24/webhook/<id>.
	Key string
	// Methods are the HTTP methods the gateway uses; others get 405.
	Methods []string
	// ContentType is the content type of the flow's answers.
	ContentType string
	// Payment, for flows that move money, holds the settings of the
	// exactly-once delivery (provisioned by the flow). Nil otherwise.
	Payment *Payment
	// IDFields name the body fields that hold the event's id, so that even
	// a refused request's log line can say which event it was.
	IDFields []string
	// MaskID hides the id in logs (a consumer code is personal).
	MaskID bool
	// Ack is the answer to a payment the legacy system has.
	Ack []byte
	// Duplicate is the answer to a finished event under on_duplicate error.
	Duplicate []byte
}

// Event is a decoded gateway request.
type Event struct {
	// Payload is the gateway's typed request (or its verified record).
	Payload any
	// Env is the request environment mappings run in: {req: Payload}.
	Env any
	// Respond makes the answer environment for a legacy answer.
	Respond func(mappings.Response) any
	// ID is the gateway's own id of a payment, exactly as sent; "" for
	// flows that move no money. It is the store key (under Profile.Key)
	// and the idempotency key sent to the legacy API.
	ID string
	// Fingerprint identifies the payment's content: the same id with
	// another fingerprint is never forwarded.
	Fingerprint string
	// LogID is what logs show of the event (masked where personal).
	LogID string
	// Call is the legacy call to make; nil: nothing to tell the legacy
	// system (e.g. a failed QM bill without on_failed).
	Call *CompiledCall
	// State is the flow's own, from Send to Answer.
	State any
}

// Outcome is what the outbound step produced.
type Outcome struct {
	// Res is the legacy answer, decoded for mappings, when one came.
	Res mappings.Response
	// Answered reports that Res holds an answer.
	Answered bool
	// Err is a mapping that could not build the request, a *callError,
	// or a Sender's error.
	Err error
}

// Result is a flow's or a stage's verdict, with what the answer needs.
type Result struct {
	Verdict Verdict
	// Message overrides the verdict's default message in the envelope.
	Message string
	// Body is the whole answer, for verdicts whose answer the flow
	// builds (Answered); the envelope of Message otherwise.
	Body []byte
	// Status is the answer's status for Answered (default 200).
	Status int
	// Header adds headers to the answer (Location).
	Header http.Header
	// Label names an Answered outcome in logs and metrics (a proxy's
	// not_found); default: the verdict.
	Label string
	// Detail says what went wrong, for the log (never for the gateway).
	Detail string
	// Err is the underlying error, for the log.
	Err error
	// Legacy is the legacy answer's status, 0 if none.
	Legacy int

	// answer is the legacy answer a payment's verdict was judged on, for
	// a delivery's reject expression.
	answer *mappings.Response
}

// Verdicts a flow or a stage returns. pipeline.go's policy table gives
// each its status, Retry-After, metric, event, log level and what becomes
// of a claimed event.
type Verdict string

// The verdicts.
const (
	// At the door.
	Unauthorized     Verdict = "unauthorized"
	MethodNotAllowed Verdict = "method_not_allowed"
	TooLarge         Verdict = "too_large"
	BadRequest       Verdict = "bad_request"
	// BadData is gateway data that cannot form a legal legacy request
	// (a consumer code of ".."): the gateway's fault, not the legacy's.
	BadData Verdict = "bad_data"

	// Verification with the gateway.
	Verified          Verdict = "verified"
	NotFinal          Verdict = "not_final"
	VerifyPending     Verdict = "verify_pending"
	VerifyUnknown     Verdict = "verify_unknown"
	VerifyUnavailable Verdict = "verify_unavailable"
	VerifyMismatch    Verdict = "verify_mismatch"
	UnknownBill       Verdict = "unknown_bill"

	// The store.
	Held             Verdict = "queued" // in custody: a worker delivers it
	Replayed         Verdict = "replay"
	Duplicate        Verdict = "duplicate"
	InFlight         Verdict = "in_flight"
	Conflict         Verdict = "conflict"
	StoreUnavailable Verdict = "store_unavailable"

	// The outbound step.
	Posted            Verdict = "posted"
	Already           Verdict = "already"
	FoundByLookup     Verdict = "found_by_lookup"
	LegacyRefused     Verdict = "legacy_refused"
	LegacyFailed      Verdict = "legacy_failed"
	LegacyTimeout     Verdict = "legacy_timeout"
	LegacyUnreachable Verdict = "legacy_unreachable"
	RequestUnmapped   Verdict = "mapping_failed"
	AnswerUnreadable  Verdict = "answer_unreadable"
	LookupFailed      Verdict = "lookup_failed"
	UpstreamRefused   Verdict = "upstream_refused"
	UpstreamDown      Verdict = "upstream_unavailable"
	UpstreamFailed    Verdict = "upstream_failed"

	// A flow's own answer (a proxy outcome, a redirect, a created bill).
	Answered Verdict = "answered"
	Internal Verdict = "internal"
)

// Stop returns a result with verdict v and message msg.
func Stop(v Verdict, msg string, err error) Result {
	return Result{Verdict: v, Message: msg, Err: err}
}
