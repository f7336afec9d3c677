package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// fileSweepInterval is how often the File module removes expired records.
var fileSweepInterval = time.Minute

// fileSweepBatch bounds the records one sweep transaction removes, so a
// sweep after a long stop does not hold the writer lock for long.
var fileSweepBatch = 1000

// sweep removes the expired records, with their index entries and
// counts, in transactions of at most fileSweepBatch. It returns how many
// it removed. An expired record is invisible before (every read checks
// the time); sweeping gives its space back and keeps Stats cheap.
func (b *FileBackend) sweep() (int, error) {
	total := 0
	for {
		n, more := 0, false
		err := b.db.Update(func(tx *bolt.Tx) error {
			n, more = 0, false
			t, err := openTx(tx)
			if err != nil {
				return err
			}
			now := b.clock()
			type entry struct {
				key string
				ms  int64
			}
			var expired []entry
			c := t.expiry.Cursor()
			for k, _ := c.First(); k != nil && len(expired) < fileSweepBatch; k, _ = c.Next() {
				ms, key, ok := splitTimeKey(k)
				if !ok {
					return &corruptError{key: string(k), what: "bad expiry index entry"}
				}
				if ms > now.UnixMilli() {
					break
				}
				expired = append(expired, entry{key, ms})
			}
			for _, e := range expired {
				r, err := t.get(e.key)
				if err != nil {
					return err
				}
				if r == nil || unixMilli(r.expires) != e.ms {
					// An entry its record does not account for: drop it.
					if err := t.expiry.Delete(timeKey(time.UnixMilli(e.ms), e.key)); err != nil {
						return err
					}
					continue
				}
				if err := t.remove(e.key, r); err != nil {
					return err
				}
				n++
			}
			more = len(expired) == fileSweepBatch
			return nil
		})
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// sweepLoop sweeps every interval until stop is closed; done is closed
// when it returns.
func (b *FileBackend) sweepLoop(interval time.Duration, stop <-chan struct{}, done chan<- struct{}, logf func(error)) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, err := b.sweep(); err != nil {
				logf(err)
			}
		}
	}
}
