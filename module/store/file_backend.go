package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileBackend is the Store and Queue in one bbolt file on local disk (see
// [File] for what an operator must know). Every transition is one bbolt
// read-write transaction, committed and fsynced before the call returns;
// concurrent transitions share a commit (bbolt's Batch), so a storm of
// webhooks costs one fsync per batch rather than one per event.
//
// Times are the local clock, in milliseconds: one machine owns the file,
// so there is no other clock to agree with. A clock stepped backwards
// makes leases and retention run long; one stepped forwards ends them
// early (a lease ended early is taken over as ambiguous).
type FileBackend struct {
	db   *bolt.DB
	path string
	now  func() time.Time
	// writers counts the transitions under way: a lone one commits at
	// once, concurrent ones are batched.
	writers atomic.Int32
}

// fileLockTimeout bounds the wait for the file's lock at open: another
// process holding it is an error, not something to wait out.
var fileLockTimeout = time.Second

// fileBatchDelay is how long a transition waits for others to share its
// commit when others are under way: about two fsyncs on a cloud disk.
// bbolt's default, 10ms, cut a storm's throughput by about three in
// BenchmarkFileHold; no wait at all makes batches of one.
const fileBatchDelay = time.Millisecond

// ErrFileInUse is matched (errors.Is) by OpenFileBackend's error when
// another process holds the file.
var ErrFileInUse = errors.New("store: the file is in use by another process")

// fileInUseError says which file is in use, and by whom if known.
type fileInUseError struct {
	path, holder string
}

func (e *fileInUseError) Error() string {
	return fmt.Sprintf("store: %s is in use by another process%s; one Caddy process owns a file store (stop the other, or give this one another path)", e.path, e.holder)
}

func (e *fileInUseError) Is(target error) bool { return target == ErrFileInUse }

// OpenFileBackend opens (creating it, and its directory, if need be) the
// store file at path. Another process holding it is an error after about
// a second (ErrFileInUse). The caller must Close it.
func OpenFileBackend(path string) (*FileBackend, error) {
	if path == "" {
		return nil, errors.New("store: file store: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil { //nolint:gosec // G703: the operator's own path
		return nil, fmt.Errorf("store: file store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: fileLockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &fileInUseError{path: path, holder: fileHolder(path)}
	}
	if err != nil {
		return nil, fmt.Errorf("store: file store %s: %w", path, err)
	}
	db.MaxBatchDelay = fileBatchDelay
	if err := db.Update(createLayout); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: file store %s: %w", path, err)
	}
	// bbolt fsyncs the file, not the directory entry of a file it has
	// just created: without this, power loss could take a new file away.
	if err := syncDir(filepath.Dir(path)); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: file store %s: %w", path, err)
	}
	return &FileBackend{db: db, path: path, now: time.Now}, nil
}

// syncDir fsyncs a directory, so that the entries made in it last.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: the operator's own path
	if err != nil {
		return err
	}
	serr := d.Sync()
	return errors.Join(serr, d.Close())
}

// Close closes the file.
func (b *FileBackend) Close() error {
	return b.db.Close()
}

// Path is the file's path.
func (b *FileBackend) Path() string { return b.path }

// clock is now, to the millisecond the file keeps.
func (b *FileBackend) clock() time.Time {
	return time.UnixMilli(b.now().UnixMilli())
}

// fileMaxKey is the longest key the file takes: bbolt's limit, less the
// 8 bytes of time in front of it in the indexes.
const fileMaxKey = bolt.MaxKeySize - 8

// write runs one transition on key ("" for none). fn may run more than once (bbolt's Batch
// runs it again, in a new transaction, when another call of its batch
// fails): it must derive everything from the transaction and set its
// results afresh on every run, and return an error only for a failure,
// never for an outcome.
func (b *FileBackend) write(key string, fn func(t *fileTx, now time.Time) error) error {
	// Refused before the transaction: a Put failing inside a batch would
	// make bbolt run the whole batch again.
	if len(key) > fileMaxKey {
		return fmt.Errorf("key of %d bytes is longer than the file store takes (%d)", len(key), fileMaxKey)
	}
	run := func(tx *bolt.Tx) error {
		t, err := openTx(tx)
		if err != nil {
			return err
		}
		return fn(t, b.clock())
	}
	defer b.writers.Add(-1)
	if b.writers.Add(1) == 1 {
		return b.db.Update(run)
	}
	return b.db.Batch(run)
}

// read runs fn in a read-only transaction. It may see a commit whose
// fsync is still under way; only Get, List and Stats read this way.
func (b *FileBackend) read(fn func(t *fileTx, now time.Time) error) error {
	return b.db.View(func(tx *bolt.Tx) error {
		t, err := openTx(tx)
		if err != nil {
			return err
		}
		return fn(t, b.clock())
	})
}

// Claim implements Store.
func (b *FileBackend) Claim(ctx context.Context, key, owner, fingerprint string, lease, retention time.Duration) (ClaimResult, error) {
	if err := checkClaim(key, owner, lease, retention); err != nil {
		return ClaimResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ClaimResult{}, err
	}
	var res ClaimResult
	err := b.write(key, func(t *fileTx, now time.Time) error {
		res = ClaimResult{}
		old, err := t.lookup(key, now)
		if err != nil {
			return err
		}
		if old == nil {
			r := &fileRecord{Record: Record{
				State:       StateProcessing,
				Owner:       owner,
				Fingerprint: fingerprint,
				Attempts:    1,
				CreatedAt:   now,
				UpdatedAt:   now,
				LeaseUntil:  now.Add(lease),
			}, expires: now.Add(retention)}
			res = ClaimResult{Outcome: Claimed, Record: r.Record}
			return t.put(key, nil, r)
		}
		switch {
		case !fingerprintMatches(old.Fingerprint, fingerprint):
			res = ClaimResult{Outcome: Conflict, Record: old.Record}
			return nil
		case old.Custody, old.State == StateDone:
			res = ClaimResult{Outcome: Replay, Record: old.Record}
			return nil
		}
		r := *old
		switch r.State {
		case StateProcessing:
			if now.Before(r.LeaseUntil) {
				if r.Owner == owner {
					res = ClaimResult{Outcome: Claimed, Record: r.Record, Ambiguous: r.Ambiguous}
				} else {
					res = ClaimResult{Outcome: InFlight, Record: r.Record}
				}
				return nil
			}
			r.Ambiguous = true // the owner's lease ran out mid-flight
		case StateReleased:
		default:
			return &corruptError{key: key, what: "state " + string(r.State)}
		}
		r.State = StateProcessing
		r.Owner = owner
		r.Attempts++
		r.UpdatedAt = now
		r.LeaseUntil = now.Add(lease)
		r.expires = now.Add(retention)
		res = ClaimResult{Outcome: Claimed, Record: r.Record, Ambiguous: r.Ambiguous}
		return t.put(key, old, &r)
	})
	if err != nil {
		return ClaimResult{}, fmt.Errorf("store: claim %q: %w", key, err)
	}
	return res, nil
}

// Complete implements Store.
func (b *FileBackend) Complete(ctx context.Context, key, owner string, resp Response, retention time.Duration) error {
	if err := checkSettle(ctx, key, owner, retention); err != nil {
		return err
	}
	var result error
	err := b.write(key, func(t *fileTx, now time.Time) error {
		result = nil
		old, err := t.lookup(key, now)
		if err != nil {
			return err
		}
		var r fileRecord
		switch {
		case old == nil:
			r = fileRecord{Record: Record{Attempts: 1, CreatedAt: now}}
			result = errMissingRecord
		case old.State == StateDone:
			return nil
		case old.State != StateProcessing || old.Owner != owner:
			r = *old
			result = ErrLeaseLost
		default:
			r = *old
		}
		r.State = StateDone
		r.Owner = owner
		r.Response = Response{Status: resp.Status, ContentType: resp.ContentType, Body: cloneBytes(resp.Body)}
		r.UpdatedAt = now
		r.LeaseUntil = time.Time{}
		r.expires = now.Add(retention)
		return t.put(key, old, &r)
	})
	if err != nil {
		return fmt.Errorf("store: complete %q: %w", key, err)
	}
	return result
}

// Release implements Store.
func (b *FileBackend) Release(ctx context.Context, key, owner string, ambiguous bool, retention time.Duration) error {
	if err := checkSettle(ctx, key, owner, retention); err != nil {
		return err
	}
	var result error
	err := b.write(key, func(t *fileTx, now time.Time) error {
		result = nil
		old, err := t.lookup(key, now)
		switch {
		case err != nil:
			return err
		case old == nil:
			result = errRecordMissing
			return nil
		case old.Owner != owner:
			result = ErrLeaseLost
			return nil
		}
		switch old.State {
		case StateProcessing:
		case StateReleased:
			// A retried release by the owner that released last.
			if !ambiguous || old.Ambiguous {
				return nil
			}
		default:
			result = ErrLeaseLost
			return nil
		}
		r := *old
		r.State = StateReleased
		r.Ambiguous = r.Ambiguous || ambiguous
		r.UpdatedAt = now
		r.LeaseUntil = time.Time{}
		r.expires = now.Add(retention)
		return t.put(key, old, &r)
	})
	if err != nil {
		return fmt.Errorf("store: release %q: %w", key, err)
	}
	return result
}

// Get implements Store. It reads without a write transaction, so it may
// see a transition whose fsync has not finished (see [FileBackend.read]).
func (b *FileBackend) Get(ctx context.Context, key string) (Record, bool, error) {
	if err := checkKey(key); err != nil {
		return Record{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	var rec *fileRecord
	err := b.read(func(t *fileTx, now time.Time) error {
		var err error
		rec, err = t.lookup(key, now)
		return err
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("store: get %q: %w", key, err)
	}
	if rec == nil {
		return Record{}, false, nil
	}
	return rec.Record, true, nil
}

// Health reports the file store: reachable while the file can be read,
// and durable (every transition is fsynced before it returns).
func (b *FileBackend) Health(context.Context) Health {
	h := Health{Kind: "file"}
	if err := b.db.View(func(tx *bolt.Tx) error { _, err := openTx(tx); return err }); err != nil {
		h.Detail = b.path + ": " + err.Error()
		return h
	}
	yes := true
	h.Reachable, h.Durable = true, &yes
	return h
}

// Interface guards
var (
	_ Queue          = (*FileBackend)(nil)
	_ HealthReporter = (*FileBackend)(nil)
)
