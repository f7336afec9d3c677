package billbridge

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// Payment holds the settings of every flow that moves money: the legacy
// call that books a payment and how exactly-once delivery behaves. Flows
// embed it, so its fields sit beside theirs in JSON.
type Payment struct {
	// Call is the legacy API call that books the payment.
	Call *Call `json:"call,omitempty"`

	// Success decides whether the legacy system took a payment. It may also
	// recognise "already have it" answers. Default: `res.status >= 200 && res.status < 300`.
	Success string `json:"success,omitempty"`

	// Already recognises the legacy system's "I already have this
	// payment" answer, e.g. `res.status == 409 && res.body.result ==
	// "DUPLICATE"`: such an answer completes the event as done, like a
	// success. It is asked when success is false.
	Already string `json:"already,omitempty"`

	// Lookup asks the legacy system whether it already has a payment. It
	// runs before posting again after an attempt that may have reached the
	// legacy system (an answer of 500 or more, a timeout, a cut connection,
	// or a crashed instance).
	Lookup *Lookup `json:"lookup,omitempty"`

	// OnDuplicate is the answer to a delivery of an event already done:
	// "replay" (default) repeats the stored answer byte for byte; "error"
	// answers the gateway's documented duplicate envelope.
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

	// Deliver is how a payment reaches the legacy system. "queued": once
	// verified, it is held in the store and the gateway is answered at
	// once; a delivery worker posts it, under the same exactly-once
	// contract, until the legacy system has it, however long an outage
	// lasts. "sync": the gateway waits for the legacy system's answer, and
	// retries when it fails. Default: queued on a durable store (file,
	// Redis), sync on the memory store, which would lose what it holds at
	// a restart.
	Deliver string `json:"deliver,omitempty"`

	// RetrySchedule is how long a queued payment waits before each new
	// attempt after a failed one; the last delay repeats. Default: 10s 1m
	// 5m 30m 2h 6h 12h 24h.
	RetrySchedule []caddy.Duration `json:"retry_schedule,omitempty"`

	// GiveUpAfter is how long after it arrived a queued payment stops
	// being retried and becomes dead (kept, with its last error, for an
	// operator to redeliver or discard). Default: 7 days; at most the
	// retention.
	GiveUpAfter caddy.Duration `json:"give_up_after,omitempty"`

	// Reject recognises a legacy answer that refuses a queued payment for
	// good, e.g. `res.status == 400 && res.body.error == "UNKNOWN_INVOICE"`:
	// it becomes dead at once instead of being retried. Without it every
	// refusal is retried on the schedule.
	Reject string `json:"reject,omitempty"`

	// OnStoreError is what to do when the store cannot be reached:
	// "reject" (default: 503, the gateway retries, nothing is posted) or
	// "allow" (post without a claim, for legacy APIs that dedupe themselves).
	OnStoreError string `json:"on_store_error,omitempty"`

	call    *CompiledCall
	reject  *mappings.Program
	success *mappings.Program
	already *mappings.Program
	lookup  *CompiledCall
	found   *mappings.Program
}

// Lookup is the call that asks the legacy system about a payment, and the
// expression that reads "it is there" from the answer.
type Lookup struct {
	Call
	Found string `json:"found"`
}

// defaultSuccess is what "the legacy system took the payment" means when
// the config does not say.
const defaultSuccess = "res.status >= 200 && res.status < 300"

const (
	defaultDuplicateWait = 5 * time.Second
	defaultRetention     = 30 * 24 * time.Hour
	defaultIdemHeader    = "Idempotency-Key"
)

// Provision checks the settings, fills in defaults and compiles the call,
// the success test and the lookup against the flow's environments.
func (p *Payment) Provision(app *App, reqEnv, resEnv any) error {
	switch p.OnDuplicate {
	case "", "replay", "error":
	default:
		return fmt.Errorf("on_duplicate must be replay or error, not %q", p.OnDuplicate)
	}
	switch p.OnStoreError {
	case "", "reject", "allow":
	default:
		return fmt.Errorf("on_store_error must be reject or allow, not %q", p.OnStoreError)
	}
	timeout := time.Duration(app.Legacy.Timeout)
	if p.Lease > 0 && time.Duration(p.Lease) <= timeout {
		return fmt.Errorf("lease %s must be longer than the legacy timeout %s, or a slow call could be posted twice",
			time.Duration(p.Lease), timeout)
	}
	if p.DuplicateWait <= 0 {
		p.DuplicateWait = caddy.Duration(defaultDuplicateWait)
	}
	if p.Lease <= 0 {
		p.Lease = caddy.Duration(2*timeout + 10*time.Second)
	}
	if p.Retention <= 0 {
		p.Retention = caddy.Duration(defaultRetention)
	}
	if p.IdempotencyHeader == "" {
		p.IdempotencyHeader = defaultIdemHeader
	}
	if err := p.provisionDelivery(app); err != nil {
		return err
	}
	comp := app.compiler
	var err error
	if p.call, err = CompileCall(p.Call, comp, reqEnv, "call"); err != nil {
		return err
	}
	success := p.Success
	if success == "" {
		success = defaultSuccess
	}
	if p.success, err = comp.Compile(success, resEnv, mappings.KindBool); err != nil {
		return fmt.Errorf("success: %w", err)
	}
	if p.Already != "" {
		if p.already, err = comp.Compile(p.Already, resEnv, mappings.KindBool); err != nil {
			return fmt.Errorf("already: %w", err)
		}
	}
	if p.Reject != "" {
		if p.reject, err = comp.Compile(p.Reject, resEnv, mappings.KindBool); err != nil {
			return fmt.Errorf("reject: %w", err)
		}
	}
	if p.Lookup != nil {
		if p.lookup, err = CompileCall(&p.Lookup.Call, comp, reqEnv, "lookup"); err != nil {
			return err
		}
		if p.Lookup.Found == "" {
			return errors.New("lookup: found is required (how to read 'the payment is there' from the answer)")
		}
		if p.found, err = comp.Compile(p.Lookup.Found, resEnv, mappings.KindBool); err != nil {
			return fmt.Errorf("lookup found: %w", err)
		}
	}
	return nil
}

// CompiledCall returns the booking call, compiled.
func (p *Payment) CompiledCall() *CompiledCall { return p.call }

// idempotency sets the idempotency header to the gateway's id, exactly,
// unless the mapping set it or it is off.
func (p *Payment) idempotency(lr *legacyRequest, id string) {
	if p.IdempotencyHeader == "-" || id == "" {
		return
	}
	if lr.header == nil {
		lr.header = make(http.Header, 1)
	}
	if lr.header.Get(p.IdempotencyHeader) == "" {
		lr.header.Set(p.IdempotencyHeader, id)
	}
}

// UnmarshalSubdirective parses one of the payment subdirectives at the
// dispenser's cursor; handled is false for any other. Syntax:
//
//	call <method> <path> { … }
//	success <expr>
//	already <expr>
//	lookup <method> <path> {
//		<call subdirectives>
//		found <expr>
//	}
//	on_duplicate       replay|error
//	duplicate_wait     <duration>
//	lease              <duration>
//	retention          <duration>
//	idempotency_header <name>|off
//	on_store_error     reject|allow
//	deliver            queued|sync
//	retry_schedule     <duration>...
//	give_up_after      <duration>
//	reject             <expr>
func (p *Payment) UnmarshalSubdirective(d *caddyfile.Dispenser, chk *ExprChecker, seen Once) (handled bool, err error) {
	sub := d.Val()
	switch sub {
	case "call", "success", "already", "lookup", "on_duplicate", "duplicate_wait", "lease", "retention", "idempotency_header", "on_store_error",
		"deliver", "retry_schedule", "give_up_after", "reject":
	default:
		return false, nil
	}
	if err := seen.Check(d); err != nil {
		return true, err
	}
	switch sub {
	case "call":
		c, _, err := ParseCall(d, chk, false)
		if err != nil {
			return true, err
		}
		p.Call = c
	case "success", "already", "reject":
		v, err := OneArg(d)
		if err != nil {
			return true, err
		}
		if err := chk.Response(d, v, mappings.KindBool); err != nil {
			return true, err
		}
		*map[string]*string{"success": &p.Success, "already": &p.Already, "reject": &p.Reject}[sub] = v
	case "deliver":
		v, err := OneArg(d)
		if err != nil {
			return true, err
		}
		if v != deliverQueued && v != deliverSync {
			return true, d.Errf("deliver must be queued or sync, not %q", v)
		}
		p.Deliver = v
	case "retry_schedule":
		s, err := scheduleArgs(d)
		if err != nil {
			return true, err
		}
		p.RetrySchedule = s
	case "give_up_after":
		dur, err := DurationArg(d)
		if err != nil {
			return true, err
		}
		p.GiveUpAfter = dur
	case "lookup":
		c, found, err := ParseCall(d, chk, true)
		if err != nil {
			return true, err
		}
		if found == "" {
			return true, d.Err("lookup: found <expr> is required")
		}
		p.Lookup = &Lookup{Call: *c, Found: found}
	case "on_duplicate":
		v, err := OneArg(d)
		if err != nil {
			return true, err
		}
		if v != "replay" && v != "error" {
			return true, d.Errf("on_duplicate must be replay or error, not %q", v)
		}
		p.OnDuplicate = v
	case "on_store_error":
		v, err := OneArg(d)
		if err != nil {
			return true, err
		}
		if v != "reject" && v != "allow" {
			return true, d.Errf("on_store_error must be reject or allow, not %q", v)
		}
		p.OnStoreError = v
	case "duplicate_wait", "lease", "retention":
		dur, err := DurationArg(d)
		if err != nil {
			return true, err
		}
		*map[string]*caddy.Duration{"duplicate_wait": &p.DuplicateWait, "lease": &p.Lease, "retention": &p.Retention}[sub] = dur
	case "idempotency_header":
		v, err := OneArg(d)
		if err != nil {
			return true, err
		}
		if v == "off" {
			v = "-"
		}
		p.IdempotencyHeader = v
	}
	return true, nil
}

// RequireCall is the error for a payment block without its call.
func (p *Payment) RequireCall(d *caddyfile.Dispenser) error {
	if p.Call == nil {
		return d.Err("a call <method> <path> block is required")
	}
	return nil
}
