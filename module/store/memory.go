package store

import (
	"context"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// memoryPoolKey is the one key of memoryPool: every Memory module in the
// process shares one MemoryBackend.
const memoryPoolKey = "memory"

// memoryPool holds the memory store's state across config reloads: the new
// config is provisioned before the old one is cleaned up, so the reference
// count never drops to zero during a reload and in-flight claims and done
// records survive it.
var memoryPool = caddy.NewUsagePool()

// memorySweepInterval is how often expired records are removed from the
// shared memory store.
var memorySweepInterval = time.Minute

// MemoryBackend is the in-memory Store: a map behind one mutex. Its state
// lives in one process and dies with it. The zero value is not usable; call
// NewMemoryBackend.
type MemoryBackend struct {
	mu      sync.Mutex
	records map[string]*memoryEntry
	now     func() time.Time
}

type memoryEntry struct {
	rec     Record
	expires time.Time
}

// NewMemoryBackend returns an empty in-memory store. Expired records are
// invisible at once and removed when touched; nothing runs in the
// background (the Memory module adds a sweeper).
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{records: make(map[string]*memoryEntry), now: time.Now}
}

// lookup returns the live entry for key, deleting it if it has expired.
// The caller holds m.mu.
func (m *MemoryBackend) lookup(key string, now time.Time) *memoryEntry {
	e, ok := m.records[key]
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		delete(m.records, key)
		return nil
	}
	return e
}

// snapshot returns a copy of rec that shares no memory with the store.
func snapshot(rec Record) Record {
	rec.Response.Body = cloneBytes(rec.Response.Body)
	rec.Payload = cloneBytes(rec.Payload)
	rec.History = append([]Attempt(nil), rec.History...)
	if len(rec.History) == 0 {
		rec.History = nil
	}
	return rec
}

// Claim implements Store.
func (m *MemoryBackend) Claim(ctx context.Context, key, owner, fingerprint string, lease, retention time.Duration) (ClaimResult, error) {
	if err := checkClaim(key, owner, lease, retention); err != nil {
		return ClaimResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ClaimResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e := m.lookup(key, now)
	if e == nil {
		e = &memoryEntry{rec: Record{
			State:       StateProcessing,
			Owner:       owner,
			Fingerprint: fingerprint,
			Attempts:    1,
			CreatedAt:   now,
			UpdatedAt:   now,
			LeaseUntil:  now.Add(lease),
		}, expires: now.Add(retention)}
		m.records[key] = e
		return ClaimResult{Outcome: Claimed, Record: snapshot(e.rec)}, nil
	}
	r := &e.rec
	if !fingerprintMatches(r.Fingerprint, fingerprint) {
		return ClaimResult{Outcome: Conflict, Record: snapshot(*r)}, nil
	}
	if r.Custody {
		// The gateway was told it is taken: a worker delivers it.
		return ClaimResult{Outcome: Replay, Record: snapshot(*r)}, nil
	}
	switch r.State {
	case StateDone:
		return ClaimResult{Outcome: Replay, Record: snapshot(*r)}, nil
	case StateProcessing:
		if now.Before(r.LeaseUntil) {
			if r.Owner == owner {
				// The same owner again: a retried claim. It already holds the key.
				return ClaimResult{Outcome: Claimed, Record: snapshot(*r), Ambiguous: r.Ambiguous}, nil
			}
			return ClaimResult{Outcome: InFlight, Record: snapshot(*r)}, nil
		}
		// The owner's lease ran out mid-flight: it may have reached the legacy system.
		r.Ambiguous = true
	case StateReleased:
	default:
		return ClaimResult{}, &corruptError{key: key, what: "state " + string(r.State)}
	}
	r.State = StateProcessing
	r.Owner = owner
	r.Attempts++
	r.UpdatedAt = now
	r.LeaseUntil = now.Add(lease)
	e.expires = now.Add(retention)
	return ClaimResult{Outcome: Claimed, Record: snapshot(*r), Ambiguous: r.Ambiguous}, nil
}

// Complete implements Store.
func (m *MemoryBackend) Complete(ctx context.Context, key, owner string, resp Response, retention time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkOwner(owner); err != nil {
		return err
	}
	if err := checkRetention(retention); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e := m.lookup(key, now)
	var err error
	switch {
	case e == nil:
		e = &memoryEntry{rec: Record{Attempts: 1, CreatedAt: now}}
		m.records[key] = e
		err = errMissingRecord
	case e.rec.State == StateDone:
		return nil
	case e.rec.State != StateProcessing || e.rec.Owner != owner:
		err = ErrLeaseLost
	}
	r := &e.rec
	r.State = StateDone
	r.Owner = owner
	r.Response = Response{Status: resp.Status, ContentType: resp.ContentType, Body: cloneBytes(resp.Body)}
	r.UpdatedAt = now
	r.LeaseUntil = time.Time{}
	e.expires = now.Add(retention)
	return err
}

// Release implements Store.
func (m *MemoryBackend) Release(ctx context.Context, key, owner string, ambiguous bool, retention time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkOwner(owner); err != nil {
		return err
	}
	if err := checkRetention(retention); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e := m.lookup(key, now)
	if e == nil {
		return errRecordMissing
	}
	if e.rec.Owner != owner {
		return ErrLeaseLost
	}
	r := &e.rec
	switch r.State {
	case StateProcessing:
	case StateReleased:
		// A retried release by the owner that released last.
		if !ambiguous || r.Ambiguous {
			return nil
		}
	default:
		return ErrLeaseLost
	}
	r.State = StateReleased
	r.Ambiguous = r.Ambiguous || ambiguous
	r.UpdatedAt = now
	r.LeaseUntil = time.Time{}
	e.expires = now.Add(retention)
	return nil
}

// Get implements Store.
func (m *MemoryBackend) Get(ctx context.Context, key string) (Record, bool, error) {
	if err := checkKey(key); err != nil {
		return Record{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.lookup(key, m.now())
	if e == nil {
		return Record{}, false, nil
	}
	return snapshot(e.rec), true, nil
}

// sweep removes expired records and returns how many it removed.
func (m *MemoryBackend) sweep() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	n := 0
	for k, e := range m.records {
		if !now.Before(e.expires) {
			delete(m.records, k)
			n++
		}
	}
	return n
}

// len returns the number of stored records, expired or not.
func (m *MemoryBackend) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}

// memoryState is the memoryPool value: the shared backend and its sweeper.
type memoryState struct {
	backend *MemoryBackend
	stop    chan struct{}
	done    chan struct{}
}

func newMemoryState(interval time.Duration) *memoryState {
	s := &memoryState{backend: NewMemoryBackend(), stop: make(chan struct{}), done: make(chan struct{})}
	go s.sweepLoop(interval)
	return s
}

func (s *memoryState) sweepLoop(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.backend.sweep()
		}
	}
}

// Destruct stops the sweeper. It runs when the last Memory module using the
// state is cleaned up.
func (s *memoryState) Destruct() error {
	close(s.stop)
	<-s.done
	return nil
}

// Memory is the billbridge.stores.memory module: the embedded default store
// for one Caddy instance and for trying things out. Its state survives
// config reloads but dies with the process and is not shared between Caddy
// instances; use billbridge.stores.redis in production.
type Memory struct {
	backend     *MemoryBackend
	provisioned bool
}

// CaddyModule returns the Caddy module information.
func (Memory) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.stores.memory",
		New: func() caddy.Module { return new(Memory) },
	}
}

// Provision attaches the module to the process-wide memory state, creating
// it (and logging a warning) if no other config holds it.
func (m *Memory) Provision(ctx caddy.Context) error {
	val, loaded, err := memoryPool.LoadOrNew(memoryPoolKey, func() (caddy.Destructor, error) {
		return newMemoryState(memorySweepInterval), nil
	})
	if err != nil {
		return err
	}
	m.provisioned = true
	m.backend = val.(*memoryState).backend
	if !loaded {
		ctx.Logger().Warn("billbridge memory store: state dies with the process, payments held for delivery (deliver queued) with it, and is not shared between Caddy instances; use the file store on one machine or the redis store in production")
	}
	return nil
}

// Cleanup releases the module's hold on the memory state; the state goes
// away when no config uses it any more.
func (m *Memory) Cleanup() error {
	if !m.provisioned {
		return nil
	}
	m.provisioned = false
	_, err := memoryPool.Delete(memoryPoolKey)
	return err
}

// Backend returns the store. It is nil before Provision.
func (m *Memory) Backend() Store {
	if m.backend == nil {
		return nil
	}
	return m.backend
}

// Interface guards
var (
	_ Store              = (*MemoryBackend)(nil)
	_ Module             = (*Memory)(nil)
	_ caddy.Provisioner  = (*Memory)(nil)
	_ caddy.CleanerUpper = (*Memory)(nil)
	_ caddy.Destructor   = (*memoryState)(nil)
)
