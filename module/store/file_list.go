package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// List implements Queue: it walks the list indexes backwards (newest
// first), merging them when no state is asked for, from the cursor's
// place, and reads only the records it shows or passes over.
func (b *FileBackend) List(ctx context.Context, f Filter) (Page, error) {
	f, err := checkFilter(f)
	if err != nil {
		return Page{}, err
	}
	var bound []byte // list keys before it are shown; nil: all
	if f.After != "" {
		at, key, err := parseCursor(f.After)
		if err != nil {
			return Page{}, err
		}
		if at < 0 {
			return Page{}, nil
		}
		bound = listBound(at, key)
	}
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	var p Page
	err = b.read(func(t *fileTx, now time.Time) error {
		var heads []*listHead
		for i, s := range listedStates {
			if f.State == "" || f.State == s {
				heads = append(heads, newListHead(t.lists[i].Cursor(), bound))
			}
		}
		var items []Delivery
		for len(items) <= f.Limit {
			h := newest(heads)
			if h == nil {
				break
			}
			k, flow := h.k, h.v
			h.next()
			if f.Flow != "" && string(flow) != f.Flow {
				continue
			}
			_, key, ok := splitTimeKey(k)
			if !ok {
				return &corruptError{key: string(k), what: "bad list index entry"}
			}
			r, err := t.lookup(key, now)
			if err != nil {
				return err
			}
			if r == nil {
				continue // expired, not yet swept
			}
			items = append(items, Delivery{Key: key, Record: r.Record, Ambiguous: r.Ambiguous})
		}
		if len(items) > f.Limit {
			items = items[:f.Limit]
			last := items[len(items)-1]
			p.Next = formatCursor(last.Record.UpdatedAt.UnixNano(), last.Key)
		}
		p.Items = items
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("store: list: %w", err)
	}
	return p, nil
}

// listBound is the list key that a cursor (at in unix nanoseconds, key)
// ends at: the page shows what sorts before it, as the memory store
// shows what is older than at, or as old and before key. The file keeps
// milliseconds; a cursor between two of them ends after the earlier.
func listBound(at int64, key string) []byte {
	ms := at / int64(time.Millisecond)
	if at%int64(time.Millisecond) != 0 {
		return binary.BigEndian.AppendUint64(nil, msBits(ms+1))
	}
	return timeKey(time.UnixMilli(ms), key)
}

// listHead walks one list index backwards from its bound.
type listHead struct {
	c    *bolt.Cursor
	k, v []byte
}

func newListHead(c *bolt.Cursor, bound []byte) *listHead {
	h := &listHead{c: c}
	if bound == nil {
		h.k, h.v = c.Last()
		return h
	}
	if k, _ := c.Seek(bound); k == nil {
		h.k, h.v = c.Last()
	} else {
		h.k, h.v = c.Prev()
	}
	return h
}

func (h *listHead) next() { h.k, h.v = h.c.Prev() }

// newest is the head with the greatest key, nil when all are done.
func newest(heads []*listHead) *listHead {
	var best *listHead
	for _, h := range heads {
		if h.k != nil && (best == nil || bytes.Compare(h.k, best.k) > 0) {
			best = h
		}
	}
	return best
}

// Stats implements Queue: the counters, less the records that have
// expired but are not swept yet (the expiry index from its start to
// now), and the oldest live record of the active index.
func (b *FileBackend) Stats(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	st := Stats{Count: map[string]map[State]int{}}
	err := b.read(func(t *fileTx, now time.Time) error {
		st = Stats{Count: map[string]map[State]int{}}
		err := t.stats.ForEach(func(k, v []byte) error {
			flow, state, ok := splitStatsKey(k)
			if !ok || len(v) != 8 {
				return &corruptError{key: string(k), what: "bad counter"}
			}
			if st.Count[flow] == nil {
				st.Count[flow] = map[State]int{}
			}
			n := binary.BigEndian.Uint64(v)
			if n > math.MaxInt32 {
				return &corruptError{key: string(k), what: "counter out of range"}
			}
			st.Count[flow][state] = int(n)
			return nil
		})
		if err != nil {
			return err
		}
		c := t.expiry.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			ms, key, ok := splitTimeKey(k)
			if !ok || ms > now.UnixMilli() {
				break
			}
			r, err := t.get(key)
			if err != nil {
				return err
			}
			if r != nil && r.Custody && Listed(r.State) {
				st.uncount(r.Flow, r.State)
			}
		}
		c = t.active.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			_, key, _ := splitTimeKey(k)
			r, err := t.lookup(key, now)
			if err != nil {
				return err
			}
			if r != nil {
				st.OldestQueued = r.CreatedAt
				break
			}
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	return st, nil
}

// uncount takes one record off the counts.
func (s *Stats) uncount(flow string, state State) {
	c := s.Count[flow]
	if c == nil {
		return
	}
	if c[state]--; c[state] <= 0 {
		delete(c, state)
	}
	if len(c) == 0 {
		delete(s.Count, flow)
	}
}
