package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The memory store's custody: the same records, scanned under the mutex.
// It is for one instance and for trying things out, so a scan per poll is
// fine; what it holds dies with the process (the module's start-up warning
// says so).

// Hold implements Queue.
func (m *MemoryBackend) Hold(ctx context.Context, e Entry, retention time.Duration) (ClaimResult, error) {
	if err := checkEntry(e, retention); err != nil {
		return ClaimResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ClaimResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	ent := m.lookup(e.Key, now)
	if ent == nil {
		ent = &memoryEntry{rec: Record{Fingerprint: e.Fingerprint, CreatedAt: now}}
		m.records[e.Key] = ent
	} else {
		r := &ent.rec
		if !fingerprintMatches(r.Fingerprint, e.Fingerprint) {
			return ClaimResult{Outcome: Conflict, Record: snapshot(*r)}, nil
		}
		if r.Custody || r.State == StateDone {
			return ClaimResult{Outcome: Replay, Record: snapshot(*r)}, nil
		}
		switch r.State {
		case StateProcessing:
			if now.Before(r.LeaseUntil) {
				return ClaimResult{Outcome: InFlight, Record: snapshot(*r)}, nil
			}
			r.Ambiguous = true
		case StateReleased:
		default:
			return ClaimResult{}, &corruptError{key: e.Key, what: "state " + string(r.State)}
		}
	}
	r := &ent.rec
	r.State = StateQueued
	r.Custody = true
	r.Flow = e.Flow
	r.Owner = ""
	r.Payload = cloneBytes(e.Payload)
	r.Response = Response{Status: e.Response.Status, ContentType: e.Response.ContentType, Body: cloneBytes(e.Response.Body)}
	r.UpdatedAt = now
	r.NextAttempt = now
	r.LeaseUntil = time.Time{}
	ent.expires = now.Add(retention)
	return ClaimResult{Outcome: Queued, Record: snapshot(*r), Ambiguous: r.Ambiguous}, nil
}

// due is when a record in custody needs a worker, and whether it does.
func (r *Record) due() (time.Time, bool) {
	switch {
	case !r.Custody:
		return time.Time{}, false
	case r.State == StateQueued:
		return r.NextAttempt, true
	case r.State == StateProcessing:
		return r.LeaseUntil, true
	}
	return time.Time{}, false
}

// Due implements Queue.
func (m *MemoryBackend) Due(ctx context.Context, owner string, max int, lease time.Duration) ([]Delivery, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	if max <= 0 || lease <= 0 {
		return nil, fmt.Errorf("store: due: max %d and lease %v must be positive", max, lease)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	type cand struct {
		key string
		at  time.Time
	}
	var due []cand
	for k, e := range m.records {
		if !now.Before(e.expires) {
			continue
		}
		if at, ok := e.rec.due(); ok && !at.After(now) {
			due = append(due, cand{k, at})
		}
	}
	slices.SortFunc(due, func(a, b cand) int { return cmp.Or(a.at.Compare(b.at), strings.Compare(a.key, b.key)) })
	if len(due) > max {
		due = due[:max]
	}
	out := make([]Delivery, 0, len(due))
	for _, c := range due {
		r := &m.records[c.key].rec
		if r.State == StateProcessing {
			r.Ambiguous = true // the last worker died mid-delivery
		}
		r.State = StateProcessing
		r.Owner = owner
		r.Attempts++
		r.UpdatedAt = now
		r.LeaseUntil = now.Add(lease)
		out = append(out, Delivery{Key: c.key, Record: snapshot(*r), Ambiguous: r.Ambiguous})
	}
	return out, nil
}

// held returns the record owner is delivering, or the error saying why
// not. The caller holds m.mu.
func (m *MemoryBackend) held(key, owner string, now time.Time) (*memoryEntry, error) {
	e := m.lookup(key, now)
	switch {
	case e == nil:
		return nil, errRecordMissing
	case e.rec.State != StateProcessing || e.rec.Owner != owner || !e.rec.Custody:
		return e, ErrLeaseLost
	}
	return e, nil
}

// Delivered implements Queue.
func (m *MemoryBackend) Delivered(ctx context.Context, key, owner string, a Attempt, retention time.Duration) error {
	if err := checkSettle(ctx, key, owner, retention); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, err := m.held(key, owner, now)
	switch {
	case e == nil:
		e = &memoryEntry{rec: Record{Attempts: 1, CreatedAt: now, Custody: true}}
		m.records[key] = e
		err = errMissingRecord
	case e.rec.State == StateDone:
		return nil
	}
	r := &e.rec
	a.At = now
	r.State = StateDone
	r.Owner = owner
	r.History = appendHistory(r.History, a)
	r.UpdatedAt = now
	r.LeaseUntil = time.Time{}
	r.NextAttempt = time.Time{}
	r.Reason = ""
	r.Payload = nil // not needed again, and not kept for the retention
	e.expires = now.Add(retention)
	return err
}

// Retry implements Queue.
func (m *MemoryBackend) Retry(ctx context.Context, key, owner string, a Attempt, ambiguous bool, after, retention time.Duration) error {
	return m.settle(ctx, key, owner, a, ambiguous, StateQueued, max(after, 0), "", retention)
}

// Bury implements Queue.
func (m *MemoryBackend) Bury(ctx context.Context, key, owner string, a Attempt, ambiguous bool, reason string, retention time.Duration) error {
	return m.settle(ctx, key, owner, a, ambiguous, StateDead, 0, reason, retention)
}

func (m *MemoryBackend) settle(ctx context.Context, key, owner string, a Attempt, ambiguous bool, to State, after time.Duration, reason string, retention time.Duration) error {
	if err := checkSettle(ctx, key, owner, retention); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, err := m.held(key, owner, now)
	if err != nil {
		return err
	}
	r := &e.rec
	a.At = now
	r.State = to
	r.Ambiguous = r.Ambiguous || ambiguous
	r.History = appendHistory(r.History, a)
	r.UpdatedAt = now
	r.LeaseUntil = time.Time{}
	r.NextAttempt = time.Time{}
	if to == StateQueued {
		r.NextAttempt = now.Add(after)
	}
	r.Reason = reason
	e.expires = now.Add(retention)
	return nil
}

// Redeliver implements Queue.
func (m *MemoryBackend) Redeliver(ctx context.Context, key string, retention time.Duration) (Record, error) {
	return m.operate(ctx, key, retention, func(r *Record, now time.Time) error {
		return redeliver(r, now)
	})
}

// Discard implements Queue.
func (m *MemoryBackend) Discard(ctx context.Context, key, reason string, retention time.Duration) (Record, error) {
	return m.operate(ctx, key, retention, func(r *Record, _ time.Time) error {
		return discard(r, reason)
	})
}

// operate runs an operator's change on a record.
func (m *MemoryBackend) operate(ctx context.Context, key string, retention time.Duration, change func(*Record, time.Time) error) (Record, error) {
	if err := checkKey(key); err != nil {
		return Record{}, err
	}
	if err := checkRetention(retention); err != nil {
		return Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e := m.lookup(key, now)
	if e == nil {
		return Record{}, ErrNotFound
	}
	if err := change(&e.rec, now); err != nil {
		return snapshot(e.rec), err
	}
	e.rec.UpdatedAt = now
	e.rec.LeaseUntil = time.Time{}
	e.expires = now.Add(retention)
	return snapshot(e.rec), nil
}

// List implements Queue.
func (m *MemoryBackend) List(ctx context.Context, f Filter) (Page, error) {
	f, err := checkFilter(f)
	if err != nil {
		return Page{}, err
	}
	var afterAt int64
	var afterKey string
	if f.After != "" {
		if afterAt, afterKey, err = parseCursor(f.After); err != nil {
			return Page{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var items []Delivery
	for k, e := range m.records {
		r := &e.rec
		if !now.Before(e.expires) || !r.Custody || !Listed(r.State) {
			continue
		}
		if (f.State != "" && r.State != f.State) || (f.Flow != "" && r.Flow != f.Flow) {
			continue
		}
		at := r.UpdatedAt.UnixNano()
		if f.After != "" && (at > afterAt || at == afterAt && k >= afterKey) {
			continue
		}
		items = append(items, Delivery{Key: k, Record: snapshot(*r), Ambiguous: r.Ambiguous})
	}
	slices.SortFunc(items, func(a, b Delivery) int {
		return cmp.Or(b.Record.UpdatedAt.Compare(a.Record.UpdatedAt), strings.Compare(b.Key, a.Key))
	})
	var p Page
	if len(items) > f.Limit {
		items = items[:f.Limit]
		last := items[len(items)-1]
		p.Next = formatCursor(last.Record.UpdatedAt.UnixNano(), last.Key)
	}
	p.Items = items
	return p, nil
}

// Stats implements Queue.
func (m *MemoryBackend) Stats(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	st := Stats{Count: map[string]map[State]int{}}
	for _, e := range m.records {
		r := &e.rec
		if !now.Before(e.expires) || !r.Custody || !Listed(r.State) {
			continue
		}
		st.add(r.Flow, r.State, r.CreatedAt)
	}
	return st, nil
}

// add counts one record in custody.
func (s *Stats) add(flow string, state State, created time.Time) {
	if s.Count == nil {
		s.Count = map[string]map[State]int{}
	}
	if s.Count[flow] == nil {
		s.Count[flow] = map[State]int{}
	}
	s.Count[flow][state]++
	if (state == StateQueued || state == StateProcessing) && (s.OldestQueued.IsZero() || created.Before(s.OldestQueued)) {
		s.OldestQueued = created
	}
}

func checkEntry(e Entry, retention time.Duration) error {
	if err := checkKey(e.Key); err != nil {
		return err
	}
	if e.Flow == "" || !strings.HasPrefix(e.Key, e.Flow+":") {
		return fmt.Errorf("store: entry %q: flow %q must prefix the key", e.Key, e.Flow)
	}
	if len(e.Payload) == 0 {
		return fmt.Errorf("store: entry %q has no payload", e.Key)
	}
	return checkRetention(retention)
}

func checkSettle(ctx context.Context, key, owner string, retention time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkOwner(owner); err != nil {
		return err
	}
	if err := checkRetention(retention); err != nil {
		return err
	}
	return ctx.Err()
}

// formatCursor and parseCursor make List's opaque cursor: a time and the
// last key shown.
func formatCursor(at int64, key string) string {
	return strconv.FormatInt(at, 10) + ":" + key
}

func parseCursor(c string) (int64, string, error) {
	at, key, ok := strings.Cut(c, ":")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || key == "" {
		return 0, "", fmt.Errorf("%w %q", ErrBadCursor, c)
	}
	return n, key, nil
}

// Interface guards
var _ Queue = (*MemoryBackend)(nil)
