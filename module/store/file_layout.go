package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The file store's buckets. records holds the records; every other bucket
// is an index or a counter derived from them, changed in the same
// transaction as the record (fileTx.put and fileTx.remove are the only
// writers), so they never disagree.
//
//	records          key → encodeRecord
//	due              ms(due) + key → "" for custody records a worker
//	                 needs: queued (by next attempt) and processing (by
//	                 lease_until), so Due reads only what is due
//	expiry           ms(expires) + key → "", for the sweeper and Stats
//	active           ms(created) + key → "" for queued and processing
//	                 custody records, for Stats.OldestQueued
//	list.<state>     ms(updated) + key → flow, one per listed state
//	stats            flow + NUL + state → uint64 count of custody records
//	meta             "version" → the layout's version
//
// ms(t) is t in unix milliseconds, 8 bytes big-endian, so that a bucket's
// byte order is time order, then key order.
var (
	bucketMeta    = []byte("meta")
	bucketRecords = []byte("records")
	bucketDue     = []byte("due")
	bucketExpiry  = []byte("expiry")
	bucketActive  = []byte("active")
	bucketStats   = []byte("stats")
)

// listedStates are the states List shows, in the order of fileTx.lists.
var listedStates = [...]State{StateQueued, StateProcessing, StateDead, StateDiscarded}

const fileLayoutVersion = "1"

var metaVersion = []byte("version")

func listBucket(s State) []byte { return []byte("list." + string(s)) }

// createLayout creates the buckets of a new file, or checks an existing
// file's layout version.
func createLayout(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	switch v := meta.Get(metaVersion); {
	case v == nil && tx.Bucket(bucketRecords) != nil:
		return errors.New("the file has records but no layout version: not a billbridge store?")
	case v == nil:
		if err := meta.Put(metaVersion, []byte(fileLayoutVersion)); err != nil {
			return err
		}
	case string(v) != fileLayoutVersion:
		return fmt.Errorf("the file's layout is version %q; this billbridge reads version %s", v, fileLayoutVersion)
	}
	names := [][]byte{bucketRecords, bucketDue, bucketExpiry, bucketActive, bucketStats}
	for _, s := range listedStates {
		names = append(names, listBucket(s))
	}
	for _, name := range names {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// fileTx is a transaction on the store's buckets.
type fileTx struct {
	tx                                  *bolt.Tx
	records, due, expiry, active, stats *bolt.Bucket
	lists                               [len(listedStates)]*bolt.Bucket
}

func openTx(tx *bolt.Tx) (*fileTx, error) {
	t := &fileTx{
		tx:      tx,
		records: tx.Bucket(bucketRecords),
		due:     tx.Bucket(bucketDue),
		expiry:  tx.Bucket(bucketExpiry),
		active:  tx.Bucket(bucketActive),
		stats:   tx.Bucket(bucketStats),
	}
	ok := t.records != nil && t.due != nil && t.expiry != nil && t.active != nil && t.stats != nil
	for i, s := range listedStates {
		t.lists[i] = tx.Bucket(listBucket(s))
		ok = ok && t.lists[i] != nil
	}
	if !ok {
		return nil, errors.New("the file lacks the store's buckets")
	}
	// The indexes are keyed by time, so they grow at their end: pages
	// filled before they split, not halved, make them half the size.
	for _, bk := range append([]*bolt.Bucket{t.due, t.expiry, t.active}, t.lists[:]...) {
		bk.FillPercent = timeIndexFill
	}
	return t, nil
}

// timeIndexFill is the FillPercent of the time-keyed indexes.
const timeIndexFill = 0.9

// list returns the list index of state s, nil if s is not listed.
func (t *fileTx) list(s State) *bolt.Bucket {
	for i, st := range listedStates {
		if st == s {
			return t.lists[i]
		}
	}
	return nil
}

// get reads key's record, expired or not; nil if absent.
func (t *fileTx) get(key string) (*fileRecord, error) {
	v := t.records.Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, &corruptError{key: key, what: err.Error()}
	}
	return r, nil
}

// lookup reads key's live record; nil if absent or expired. In a
// writable transaction an expired record is removed, as the sweeper
// would, so a write that follows starts from nothing.
func (t *fileTx) lookup(key string, now time.Time) (*fileRecord, error) {
	r, err := t.get(key)
	if r == nil || err != nil {
		return nil, err
	}
	if now.Before(r.expires) {
		return r, nil
	}
	if t.tx.Writable() {
		return nil, t.remove(key, r)
	}
	return nil, nil
}

// put stores r under key, moving its index entries from old's (nil for
// a new record).
func (t *fileTx) put(key string, old, r *fileRecord) error {
	v, err := encodeRecord(r)
	if err != nil {
		return &corruptError{key: key, what: err.Error()}
	}
	if old != nil {
		if err := t.unindex(key, old); err != nil {
			return err
		}
	}
	if err := t.index(key, r); err != nil {
		return err
	}
	return t.records.Put([]byte(key), v)
}

// remove deletes key's record r and its index entries.
func (t *fileTx) remove(key string, r *fileRecord) error {
	if err := t.unindex(key, r); err != nil {
		return err
	}
	return t.records.Delete([]byte(key))
}

// fileEntries are the index entries of one record.
type fileEntries struct {
	due, expiry, active, list []byte
	listBucket                *bolt.Bucket
	counted                   bool
}

func (t *fileTx) entries(key string, r *fileRecord) fileEntries {
	e := fileEntries{expiry: timeKey(r.expires, key)}
	if at, ok := r.due(); ok {
		e.due = timeKey(at, key)
	}
	if !r.Custody || !Listed(r.State) {
		return e
	}
	e.counted = true
	e.listBucket = t.list(r.State)
	e.list = timeKey(r.UpdatedAt, key)
	if r.State == StateQueued || r.State == StateProcessing {
		e.active = timeKey(r.CreatedAt, key)
	}
	return e
}

func (t *fileTx) index(key string, r *fileRecord) error {
	e := t.entries(key, r)
	errs := []error{t.expiry.Put(e.expiry, nil)}
	if e.due != nil {
		errs = append(errs, t.due.Put(e.due, nil))
	}
	if e.active != nil {
		errs = append(errs, t.active.Put(e.active, nil))
	}
	if e.counted {
		errs = append(errs, e.listBucket.Put(e.list, []byte(r.Flow)), t.count(r.Flow, r.State, 1))
	}
	return errors.Join(errs...)
}

func (t *fileTx) unindex(key string, r *fileRecord) error {
	e := t.entries(key, r)
	errs := []error{t.expiry.Delete(e.expiry)}
	if e.due != nil {
		errs = append(errs, t.due.Delete(e.due))
	}
	if e.active != nil {
		errs = append(errs, t.active.Delete(e.active))
	}
	if e.counted {
		errs = append(errs, e.listBucket.Delete(e.list), t.count(r.Flow, r.State, -1))
	}
	return errors.Join(errs...)
}

// count adds one (delta > 0) to the custody records of flow in state,
// or takes one off.
func (t *fileTx) count(flow string, state State, delta int) error {
	k := statsKey(flow, state)
	n := uint64(0)
	if v := t.stats.Get(k); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	switch {
	case delta < 0 && n <= 1:
		return t.stats.Delete(k)
	case delta < 0:
		n--
	default:
		n++
	}
	return t.stats.Put(k, binary.BigEndian.AppendUint64(nil, n))
}

// timeKey is an index key: ms(at), then key.
func timeKey(at time.Time, key string) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(key)), msBits(unixMilli(at)))
	return append(b, key...)
}

// splitTimeKey is the inverse of timeKey.
func splitTimeKey(k []byte) (ms int64, key string, ok bool) {
	if len(k) <= 8 {
		return 0, "", false
	}
	return msFromBits(binary.BigEndian.Uint64(k)), string(k[8:]), true
}

// msBits is a time in unix ms as an index key's first 8 bytes. The local
// clock is past 1970: a time before it sorts as 1970.
func msBits(ms int64) uint64 {
	if ms < 0 {
		return 0
	}
	return uint64(ms)
}

// msFromBits is the inverse of msBits; a damaged key past int64's range
// reads as the latest time.
func msFromBits(u uint64) int64 {
	if u > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(u)
}

func statsKey(flow string, state State) []byte {
	return []byte(flow + "\x00" + string(state))
}

func splitStatsKey(k []byte) (flow string, state State, ok bool) {
	i := strings.LastIndexByte(string(k), 0)
	if i < 0 {
		return "", "", false
	}
	return string(k[:i]), State(k[i+1:]), true
}
