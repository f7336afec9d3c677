// Package store is billbridge's idempotency store: it makes sure that each
// gateway event is posted to the legacy system exactly once (design.md §3).
//
// A caller claims an event key with a lease before it calls the legacy
// system, then either completes the claim (the legacy system has the
// payment; the response sent to the gateway is kept and replayed to every
// duplicate) or releases it (the attempt failed; the next delivery may
// claim). Every transition is atomic: a mutex in [MemoryBackend], one Lua
// script per transition in [RedisBackend], one fsynced bbolt transaction
// in [FileBackend].
//
// Three Caddy modules expose the backends to the billbridge app, in the
// namespace billbridge.stores (inline key "type"):
//
//   - billbridge.stores.memory ([Memory]): one process only; state dies with it.
//   - billbridge.stores.redis ([Redis]): single node, Sentinel or Cluster;
//     for production and for several Caddy instances sharing one store.
//   - billbridge.stores.file ([File]): one bbolt file on local disk, owned
//     by one Caddy process; durable through crashes and restarts.
//
// # Keys
//
// Callers pass a logical key such as "bill24:webhook:348b4b16-...". The Redis
// store spreads records over 64 shards by a hash of the logical key (FNV-1a
// modulo 64; changing the number orphans every record) and stores a record
// under prefix + "{" + shard + "}:" + logical (default prefix
// "billbridge:"; shard two digits, e.g. "billbridge:{07}:bill24:webhook:…").
// The shard is a Redis Cluster hash tag: a record and its shard's custody
// queue (prefix + "{" + shard + "}#due", "#open", "#exp", "#flows",
// "#list:<state>:<flow>") hash to one slot, so one script changes them
// together, whatever the prefix. See redis_layout.go.
//
// # Fingerprints
//
// A record's fingerprint identifies the payload that claimed it. A claim with
// another fingerprint is a Conflict, in every state. The one exception is a
// record whose stored fingerprint is empty: [Store.Complete] creates such a
// record when it finds the record missing (lost by the store, or deleted by
// an operator; reported as [ErrRecordLost]) and it matches every fingerprint, because what it knows for
// sure is that the legacy system has the payment.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// State of an event record.
type State string

// The states of an event record.
const (
	StateProcessing State = "processing" // claimed by an owner, lease running
	StateReleased   State = "released"   // an attempt failed; the next delivery may claim
	StateDone       State = "done"       // the legacy system has the payment; Response is replayed
)

// Response is what was sent to the gateway, replayed byte for byte on
// duplicates.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// Record is the stored state of one event key. Its times come from the
// store's clock: the Redis server's for the Redis store (in milliseconds),
// which may differ from the local clock; the local clock, in
// milliseconds, for the file store.
type Record struct {
	State       State
	Owner       string
	Fingerprint string
	// Response is set when done.
	Response Response
	// Ambiguous reports that some earlier attempt may have reached the
	// legacy system (timeout after send, or lease expiry). It is sticky
	// until the record is done.
	Ambiguous  bool
	Attempts   int
	CreatedAt  time.Time
	UpdatedAt  time.Time
	LeaseUntil time.Time // zero unless processing

	// The fields of custody (see [Queue]); zero for a record delivered
	// synchronously.

	// Custody reports that the store holds the event for delivery: the
	// gateway has been answered.
	Custody bool
	// Flow is the flow's store key (Entry.Flow).
	Flow string
	// Payload is what the flow needs to deliver the event again.
	Payload []byte
	// NextAttempt is when a queued record is due.
	NextAttempt time.Time
	// History holds the latest attempts, oldest first.
	History []Attempt
	// Reason says why a record is dead or discarded.
	Reason string
}

// Outcome of a [Store.Claim].
type Outcome int

// The outcomes of a claim.
const (
	Claimed  Outcome = iota + 1 // caller owns the key now and must Complete or Release it
	Replay                      // already done: Record.Response must be replayed
	InFlight                    // another owner holds a live lease
	Conflict                    // the key exists with a different fingerprint: never forward
)

// String returns the outcome's name in lower case, for logs and metrics.
func (o Outcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Replay:
		return "replay"
	case InFlight:
		return "in_flight"
	case Conflict:
		return "conflict"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// ClaimResult is the result of a [Store.Claim].
type ClaimResult struct {
	Outcome Outcome
	// Record is the record as it is after the call.
	Record Record
	// Ambiguous reports, for Claimed, that an earlier attempt may have
	// reached the legacy system (the record was ambiguous, or this claim
	// took over an expired lease, which itself counts as ambiguous and is
	// stored as such).
	Ambiguous bool
}

// ErrLeaseLost is returned by Complete and Release when owner no longer
// holds the claim because its lease ran out and another owner claimed.
var ErrLeaseLost = errors.New("store: lease lost to another owner")

// ErrRecordLost is returned by Complete and Release when the store lost
// the record or the claim: the record is missing, or (Redis) it is back
// to a state from before the owner's claim, as after a failover to a
// replica that never had the claim. It is not ErrLeaseLost: raising the
// lease would not help.
var ErrRecordLost = errors.New("store: the store lost this record (failover?)")

// ErrNotReplicated is wrapped by the errors of the Redis store when the
// replicas did not confirm a transition in time (Redis WAIT). The
// transition happened on the master but a failover could still erase
// it, so it must not be acted on: the caller answers 503 and the
// gateway retries.
var ErrNotReplicated = errors.New("store: the write was not confirmed by the replicas in time")

// ErrNotDurable is wrapped by Claim's error when require_durable is set
// and the last check found a Redis master that may forget payments.
var ErrNotDurable = errors.New("store: require_durable: a Redis master may forget finished payments (no AOF, or an evicting maxmemory-policy)")

// Store is the idempotency store.
//
// Owner tokens must be unique per attempt. A call repeated by the same owner
// is idempotent (a client may retry a command after a network error without
// knowing whether the first one ran): Claim by the owner that already holds
// a live lease returns Claimed again without changing anything, and Release
// by the owner that released last returns nil.
type Store interface {
	// Claim takes key for owner unless it is done, held by a live lease, or
	// has another fingerprint.
	//
	// Order of checks on an existing record: fingerprint mismatch ->
	// Conflict (always, whatever the state); done -> Replay; processing
	// with live lease -> InFlight; processing with expired lease -> Claimed
	// (Ambiguous=true, stored ambiguous, Attempts++); released -> Claimed
	// (Ambiguous = record.Ambiguous, Attempts++).
	//
	// New key -> Claimed, Attempts=1. The whole record expires after
	// retention (refreshed on every write).
	Claim(ctx context.Context, key, owner, fingerprint string, lease, retention time.Duration) (ClaimResult, error)

	// Complete marks key done with resp. If the record is already done it
	// changes nothing and returns nil. If owner no longer holds the claim
	// (lease expired and someone else claimed) it STILL marks done (the
	// legacy system has the payment; that is the truth) and returns an
	// error that is ErrLeaseLost, so the caller can log it. A missing
	// record is recreated as done (with an empty fingerprint) and
	// reported as ErrRecordLost, as is (Redis) a record that has gone
	// back to a state from before owner's claim.
	Complete(ctx context.Context, key, owner string, resp Response, retention time.Duration) error

	// Release gives the claim up after a failed attempt: state released,
	// ambiguous = old || ambiguous. If owner does not hold the claim it
	// changes nothing and returns ErrLeaseLost (ErrRecordLost if the
	// record is missing, or has lost owner's claim). Never releases a
	// done record.
	Release(ctx context.Context, key, owner string, ambiguous bool, retention time.Duration) error

	// Get reads a record (admin API, waiting for an in-flight duplicate).
	// found=false if absent.
	Get(ctx context.Context, key string) (rec Record, found bool, err error)
}

// Module is implemented by every billbridge.stores.* Caddy module: after
// Provision, Backend returns the store to use.
type Module interface {
	caddy.Module
	Backend() Store
}

// The ErrRecordLost cases.
var (
	errMissingRecord    = fmt.Errorf("%w: the record was missing and has been recreated as done", ErrRecordLost)
	errRecordMissing    = fmt.Errorf("%w: the record is missing", ErrRecordLost)
	errRecordRolledBack = fmt.Errorf("%w: the record is back to a state from before this claim", ErrRecordLost)
)

func checkKey(key string) error {
	if key == "" {
		return errors.New("store: empty key")
	}
	return nil
}

func checkOwner(owner string) error {
	if owner == "" {
		return errors.New("store: empty owner")
	}
	return nil
}

func checkRetention(retention time.Duration) error {
	if retention <= 0 {
		return fmt.Errorf("store: retention must be positive, got %v", retention)
	}
	return nil
}

func checkClaim(key, owner string, lease, retention time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkOwner(owner); err != nil {
		return err
	}
	if lease <= 0 {
		return fmt.Errorf("store: lease must be positive, got %v", lease)
	}
	return checkRetention(retention)
}

// fingerprintMatches reports whether a claim with fp may proceed on a record
// stored with stored; an empty stored fingerprint is unknown and matches.
func fingerprintMatches(stored, fp string) bool {
	return stored == "" || stored == fp
}

// corruptError reports a stored record the store cannot read.
type corruptError struct {
	key  string
	what string
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("store: corrupt record %q: %s", e.key, e.what)
}

// cloneBytes copies b; empty becomes nil so both backends agree.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
