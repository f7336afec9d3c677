package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The states of custody (deliver queued). A record in custody is one the
// gateway has been told is taken: the store keeps the event's payload and
// delivers it to the legacy system until the legacy system has it (done),
// the schedule runs out or the legacy system rejects it for good (dead), or
// an operator closes it (discarded). Processing, released and done are
// shared with synchronous delivery; a processing record in custody is a
// worker's delivery attempt.
const (
	StateQueued    State = "queued"    // held; the next attempt is due at Record.NextAttempt
	StateDead      State = "dead"      // given up, kept with its last error, until redelivered or discarded
	StateDiscarded State = "discarded" // closed for good by an operator, with Record.Reason
)

// Queued is the outcome of a [Queue.Hold] that took the event into
// custody: the caller answers the gateway's success at once.
const Queued Outcome = Conflict + 1

// MaxHistory is how many attempts a record keeps (the latest).
const MaxHistory = 20

// MaxAttemptError bounds Attempt.Error, in bytes.
const MaxAttemptError = 200

// Attempt is one delivery attempt, as the record keeps it.
type Attempt struct {
	// At is when the attempt ended (the store's clock).
	At time.Time `json:"at"`
	// Outcome is the pipeline's verdict: posted, legacy_failed, …
	Outcome string `json:"outcome"`
	// Legacy is the legacy answer's status, 0 if none came.
	Legacy int `json:"legacy,omitempty"`
	// Error says what went wrong, short; "" when nothing did.
	Error string `json:"error,omitempty"`
}

// Entry is what [Queue.Hold] keeps of a new event.
type Entry struct {
	// Key is the record's key: Flow + ":" + the gateway's id.
	Key string
	// Flow is the flow's store key (Profile.Key), e.g. "bill24:webhook":
	// the worker finds the flow that delivers the record by it, and the
	// admin API lists by it.
	Flow        string
	Fingerprint string
	// Payload is what the flow needs to rebuild the event for delivery.
	Payload []byte
	// Response is the gateway's answer, replayed to every duplicate.
	Response Response
}

// Delivery is a record leased to a worker by [Queue.Due].
type Delivery struct {
	Key    string
	Record Record
	// Ambiguous reports that an earlier attempt may have reached the
	// legacy system: the worker asks lookup before posting.
	Ambiguous bool
}

// Filter selects records for [Queue.List].
type Filter struct {
	// State is one of queued, processing, dead, discarded; "" lists them all.
	State State
	// Flow keeps only records of that flow (Entry.Flow).
	Flow string
	// Limit is the page size (default 50, at most 1000).
	Limit int
	// After is the cursor of the previous page (Page.Next).
	After string
}

// Page is one page of [Queue.List]: newest first (by UpdatedAt, then key).
type Page struct {
	Items []Delivery
	// Next is the cursor of the next page; "" on the last one.
	Next string
}

// Stats counts the records in custody.
type Stats struct {
	// Count is the number of records by flow, then by state (queued,
	// processing, dead, discarded).
	Count map[string]map[State]int
	// OldestQueued is the creation time of the oldest queued or processing
	// record in custody; zero if there is none.
	OldestQueued time.Time
}

// ErrNoPayload is returned by Redeliver for a record that kept nothing to
// deliver (an event delivered synchronously).
var ErrNoPayload = errors.New("store: the record kept no payload to deliver")

// ErrNotFound is returned by Redeliver and Discard for a missing record.
var ErrNotFound = errors.New("store: no such record")

// ErrBadCursor is wrapped by List's error when Filter.After is not a
// cursor this store made: the caller's mistake (the admin API answers 400),
// not the store's failure.
var ErrBadCursor = errors.New("store: bad list cursor")

// ErrWrongState is wrapped by Redeliver and Discard when the record's
// state does not allow it (done, or being delivered).
var ErrWrongState = errors.New("store: not in a state that allows it")

// Queue is a [Store] that also keeps events in custody (deliver queued):
// it holds each one with its payload, leases due ones to delivery workers,
// and keeps what operators act on. Every transition changes the record and
// its place in the queue in one atomic step.
//
// A record in custody answers every Claim and Hold with Replay (the
// gateway was told it is taken) unless the fingerprint differs
// (Conflict).
type Queue interface {
	Store

	// Hold takes an event into custody in one step, without reading back
	// what it wrote: a new key becomes queued with the entry's payload and
	// response, due now (Queued). A released key, or one whose synchronous
	// lease ran out, is taken in the same way, ambiguity kept (an expired
	// lease counts as ambiguous). Otherwise it answers as Claim does:
	// Conflict, Replay (done or in custody: Record.Response answers), or
	// InFlight (a synchronous attempt holds a live lease).
	Hold(ctx context.Context, e Entry, retention time.Duration) (ClaimResult, error)

	// Due leases up to max records in custody that are due, to owner, for
	// lease: queued ones whose next attempt has come, and processing ones
	// whose lease ran out (an instance died mid-delivery: taken over as
	// ambiguous). Each comes back processing, Attempts+1, with its payload,
	// oldest due first.
	Due(ctx context.Context, owner string, max int, lease time.Duration) ([]Delivery, error)

	// Delivered ends owner's attempt: the legacy system has the payment.
	// The record becomes done, its response kept, the attempt recorded,
	// and its payload dropped: it is not needed again, and customers'
	// names and codes are not kept for the retention.
	// Errors as Complete's (it still marks done when the lease was lost).
	Delivered(ctx context.Context, key, owner string, a Attempt, retention time.Duration) error

	// Retry ends owner's attempt without the legacy system having the
	// payment: queued again, due after the delay, the attempt recorded,
	// ambiguous sticky. ErrLeaseLost if owner does not hold it.
	Retry(ctx context.Context, key, owner string, a Attempt, ambiguous bool, after time.Duration, retention time.Duration) error

	// Bury ends owner's attempt for good: dead, the attempt recorded,
	// with reason. ErrLeaseLost if owner does not hold it.
	Bury(ctx context.Context, key, owner string, a Attempt, ambiguous bool, reason string, retention time.Duration) error

	// Redeliver puts a dead, released or queued record with a payload
	// back in the queue, due now (a released one enters custody). Errors:
	// ErrNotFound, ErrNoPayload, ErrWrongState (done, discarded, or
	// processing).
	Redeliver(ctx context.Context, key string, retention time.Duration) (Record, error)

	// Discard closes a queued, dead or released record for good, with the
	// reason. Errors: ErrNotFound, ErrWrongState (done or processing).
	Discard(ctx context.Context, key, reason string, retention time.Duration) (Record, error)

	// List pages the records in custody, newest first.
	List(ctx context.Context, f Filter) (Page, error)

	// Stats counts the records in custody.
	Stats(ctx context.Context) (Stats, error)
}

// Listed reports whether List shows records in state s.
func Listed(s State) bool {
	switch s {
	case StateQueued, StateProcessing, StateDead, StateDiscarded:
		return true
	}
	return false
}

// checkFilter validates f and fills in its default limit.
func checkFilter(f Filter) (Filter, error) {
	if f.State != "" && !Listed(f.State) {
		return f, fmt.Errorf("store: cannot list state %q (queued, processing, dead, discarded)", f.State)
	}
	switch {
	case f.Limit <= 0:
		f.Limit = 50
	case f.Limit > 1000:
		f.Limit = 1000
	}
	return f, nil
}

// clip bounds an attempt's error text, on a rune boundary.
func clip(a Attempt) Attempt {
	if len(a.Error) <= MaxAttemptError {
		return a
	}
	cut := MaxAttemptError
	for cut > 0 && a.Error[cut]&0xC0 == 0x80 {
		cut--
	}
	a.Error = a.Error[:cut]
	return a
}

// appendHistory adds a to h, keeping the latest MaxHistory.
func appendHistory(h []Attempt, a Attempt) []Attempt {
	h = append(h, clip(a))
	if len(h) > MaxHistory {
		h = append([]Attempt(nil), h[len(h)-MaxHistory:]...)
	}
	return h
}

// redeliver is Redeliver's change to a record, the same in every store
// that changes records in Go: a dead, released or queued record with a
// payload goes back in the queue, due now.
func redeliver(r *Record, now time.Time) error {
	switch {
	case r.State != StateDead && r.State != StateReleased && r.State != StateQueued:
		return fmt.Errorf("%w: %s", ErrWrongState, r.State)
	case len(r.Payload) == 0:
		return ErrNoPayload
	}
	r.State = StateQueued
	r.Custody = true
	r.Owner = ""
	r.NextAttempt = now
	r.Reason = ""
	return nil
}

// discard is Discard's change to a record: a dead, released or queued
// record is closed for good, with the reason.
func discard(r *Record, reason string) error {
	if r.State != StateDead && r.State != StateReleased && r.State != StateQueued {
		return fmt.Errorf("%w: %s", ErrWrongState, r.State)
	}
	r.State = StateDiscarded
	r.Custody = true
	r.Owner = ""
	r.NextAttempt = time.Time{}
	r.Reason = reason
	return nil
}
