package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The file store's custody: the memory store's transitions, each one
// write transaction that moves the record's index entries with it.

// Hold implements Queue.
func (b *FileBackend) Hold(ctx context.Context, e Entry, retention time.Duration) (ClaimResult, error) {
	if err := checkEntry(e, retention); err != nil {
		return ClaimResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ClaimResult{}, err
	}
	var res ClaimResult
	err := b.write(e.Key, func(t *fileTx, now time.Time) error {
		res = ClaimResult{}
		old, err := t.lookup(e.Key, now)
		if err != nil {
			return err
		}
		r := fileRecord{Record: Record{Fingerprint: e.Fingerprint, CreatedAt: now}}
		if old != nil {
			switch {
			case !fingerprintMatches(old.Fingerprint, e.Fingerprint):
				res = ClaimResult{Outcome: Conflict, Record: old.Record}
				return nil
			case old.Custody, old.State == StateDone:
				res = ClaimResult{Outcome: Replay, Record: old.Record}
				return nil
			}
			r = *old
			switch r.State {
			case StateProcessing:
				if now.Before(r.LeaseUntil) {
					res = ClaimResult{Outcome: InFlight, Record: r.Record}
					return nil
				}
				r.Ambiguous = true
			case StateReleased:
			default:
				return &corruptError{key: e.Key, what: "state " + string(r.State)}
			}
		}
		r.State = StateQueued
		r.Custody = true
		r.Flow = e.Flow
		r.Owner = ""
		r.Payload = cloneBytes(e.Payload)
		r.Response = Response{Status: e.Response.Status, ContentType: e.Response.ContentType, Body: cloneBytes(e.Response.Body)}
		r.UpdatedAt = now
		r.NextAttempt = now
		r.LeaseUntil = time.Time{}
		r.expires = now.Add(retention)
		res = ClaimResult{Outcome: Queued, Record: r.Record, Ambiguous: r.Ambiguous}
		return t.put(e.Key, old, &r)
	})
	if err != nil {
		return ClaimResult{}, fmt.Errorf("store: hold %q: %w", e.Key, err)
	}
	return res, nil
}

// Due implements Queue. It reads the due index from its start to now,
// so it costs what is due, not what is held.
func (b *FileBackend) Due(ctx context.Context, owner string, max int, lease time.Duration) ([]Delivery, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	if max <= 0 || lease <= 0 {
		return nil, fmt.Errorf("store: due: max %d and lease %v must be positive", max, lease)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Delivery
	err := b.write("", func(t *fileTx, now time.Time) error {
		out = nil
		// Collect first: bbolt cursors do not survive writes to their bucket.
		type due struct {
			key string
			rec *fileRecord
		}
		var live []due
		var expired []due
		c := t.due.Cursor()
		for k, _ := c.First(); k != nil && len(live) < max; k, _ = c.Next() {
			ms, key, ok := splitTimeKey(k)
			if !ok {
				return &corruptError{key: string(k), what: "bad due index entry"}
			}
			if ms > now.UnixMilli() {
				break
			}
			r, err := t.get(key)
			switch {
			case err != nil:
				return err
			case r == nil:
				return &corruptError{key: key, what: "in the due index without a record"}
			case !now.Before(r.expires):
				expired = append(expired, due{key, r})
			default:
				live = append(live, due{key, r})
			}
		}
		for _, d := range expired {
			if err := t.remove(d.key, d.rec); err != nil {
				return err
			}
		}
		for _, d := range live {
			r := *d.rec
			if r.State == StateProcessing {
				r.Ambiguous = true // the last worker died mid-delivery
			}
			r.State = StateProcessing
			r.Owner = owner
			r.Attempts++
			r.UpdatedAt = now
			r.LeaseUntil = now.Add(lease)
			if err := t.put(d.key, d.rec, &r); err != nil {
				return err
			}
			out = append(out, Delivery{Key: d.key, Record: r.Record, Ambiguous: r.Ambiguous})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: due: %w", err)
	}
	return out, nil
}

// held returns the record owner is delivering. Its error is either an
// outcome, errRecordMissing (no record) or ErrLeaseLost (the record is
// someone else's, or no longer processing), or a failure.
func (t *fileTx) held(key, owner string, now time.Time) (*fileRecord, error) {
	r, err := t.lookup(key, now)
	switch {
	case err != nil:
		return nil, err
	case r == nil:
		return nil, errRecordMissing
	case r.State != StateProcessing || r.Owner != owner || !r.Custody:
		return r, ErrLeaseLost
	}
	return r, nil
}

// lostClaim reports whether err is one of held's outcomes.
func lostClaim(err error) bool {
	return errors.Is(err, errRecordMissing) || errors.Is(err, ErrLeaseLost)
}

// Delivered implements Queue.
func (b *FileBackend) Delivered(ctx context.Context, key, owner string, a Attempt, retention time.Duration) error {
	if err := checkSettle(ctx, key, owner, retention); err != nil {
		return err
	}
	var result error
	err := b.write(key, func(t *fileTx, now time.Time) error {
		old, err := t.held(key, owner, now)
		if err != nil && !lostClaim(err) {
			return err
		}
		result = err
		var r fileRecord
		switch {
		case old == nil:
			r = fileRecord{Record: Record{Attempts: 1, CreatedAt: now, Custody: true}}
			result = errMissingRecord
		case old.State == StateDone:
			result = nil
			return nil
		default:
			r = *old
		}
		a.At = now
		r.State = StateDone
		r.Owner = owner
		r.History = appendHistory(r.History, a)
		r.UpdatedAt = now
		r.LeaseUntil = time.Time{}
		r.NextAttempt = time.Time{}
		r.Reason = ""
		r.Payload = nil // not needed again, and not kept for the retention
		r.expires = now.Add(retention)
		return t.put(key, old, &r)
	})
	if err != nil {
		return fmt.Errorf("store: delivered %q: %w", key, err)
	}
	return result
}

// Retry implements Queue.
func (b *FileBackend) Retry(ctx context.Context, key, owner string, a Attempt, ambiguous bool, after, retention time.Duration) error {
	return b.settle(ctx, "retry", key, owner, a, ambiguous, StateQueued, max(after, 0), "", retention)
}

// Bury implements Queue.
func (b *FileBackend) Bury(ctx context.Context, key, owner string, a Attempt, ambiguous bool, reason string, retention time.Duration) error {
	return b.settle(ctx, "bury", key, owner, a, ambiguous, StateDead, 0, reason, retention)
}

func (b *FileBackend) settle(ctx context.Context, op, key, owner string, a Attempt, ambiguous bool, to State, after time.Duration, reason string, retention time.Duration) error {
	if err := checkSettle(ctx, key, owner, retention); err != nil {
		return err
	}
	var result error
	err := b.write(key, func(t *fileTx, now time.Time) error {
		result = nil
		old, err := t.held(key, owner, now)
		if lostClaim(err) {
			result = err
			return nil
		}
		if err != nil {
			return err
		}
		r := *old
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
		r.expires = now.Add(retention)
		return t.put(key, old, &r)
	})
	if err != nil {
		return fmt.Errorf("store: %s %q: %w", op, key, err)
	}
	return result
}

// Redeliver implements Queue.
func (b *FileBackend) Redeliver(ctx context.Context, key string, retention time.Duration) (Record, error) {
	return b.operate(ctx, "redeliver", key, retention, func(r *fileRecord, now time.Time) error {
		return redeliver(&r.Record, now)
	})
}

// Discard implements Queue.
func (b *FileBackend) Discard(ctx context.Context, key, reason string, retention time.Duration) (Record, error) {
	return b.operate(ctx, "discard", key, retention, func(r *fileRecord, _ time.Time) error {
		return discard(&r.Record, reason)
	})
}

// operate runs an operator's change on a record. change's error is an
// outcome (the record is left alone), not a failure of the transaction.
func (b *FileBackend) operate(ctx context.Context, op, key string, retention time.Duration, change func(*fileRecord, time.Time) error) (Record, error) {
	if err := checkKey(key); err != nil {
		return Record{}, err
	}
	if err := checkRetention(retention); err != nil {
		return Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	var (
		rec    Record
		result error
	)
	err := b.write(key, func(t *fileTx, now time.Time) error {
		rec, result = Record{}, nil
		old, err := t.lookup(key, now)
		switch {
		case err != nil:
			return err
		case old == nil:
			result = ErrNotFound
			return nil
		}
		r := *old
		if result = change(&r, now); result != nil {
			rec = old.Record
			return nil
		}
		r.UpdatedAt = now
		r.LeaseUntil = time.Time{}
		r.expires = now.Add(retention)
		rec = r.Record
		return t.put(key, old, &r)
	})
	if err != nil {
		return Record{}, fmt.Errorf("store: %s %q: %w", op, key, err)
	}
	return rec, result
}
