package store

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// storedCounts reads the stats bucket as it is, with no correction for
// expired records.
func storedCounts(t *testing.T, b *FileBackend) map[string]uint64 {
	t.Helper()
	got := map[string]uint64{}
	if err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStats).ForEach(func(k, v []byte) error {
			flow, state, _ := splitStatsKey(k)
			got[flow+"/"+string(state)] = binary.BigEndian.Uint64(v)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func recordCount(t *testing.T, b *FileBackend) int {
	t.Helper()
	n := 0
	if err := b.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketRecords).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFileSweep: expired records are out of Stats at once, and the sweep
// removes them with their index entries and counts, in batches.
func TestFileSweep(t *testing.T) {
	b := newFileStore(t)
	clock := &fakeClock{t: time.Now()}
	b.now = clock.now
	ctx := t.Context()
	old := fileSweepBatch
	fileSweepBatch = 3
	t.Cleanup(func() { fileSweepBatch = old })

	const flow = "bill24:webhook"
	hold := func(id string, ret time.Duration) {
		t.Helper()
		e := Entry{Key: flow + ":" + id, Flow: flow, Fingerprint: "fp", Payload: []byte("p"), Response: Response{Status: 200}}
		if res, err := b.Hold(ctx, e, ret); err != nil || res.Outcome != Queued {
			t.Fatalf("Hold(%s) = %v, %v", id, res.Outcome, err)
		}
		clock.add(time.Millisecond)
	}
	for i := range 7 {
		hold(fmt.Sprintf("short%d", i), time.Minute)
	}
	hold("kept", time.Hour)
	// One expires dead, one processing, one synchronous.
	ds, err := b.Due(ctx, "W", 2, time.Hour)
	if err != nil || len(ds) != 2 || ds[0].Key != flow+":short0" || ds[1].Key != flow+":short1" {
		t.Fatalf("Due = %v, %v", ds, err)
	}
	if err := b.Bury(ctx, ds[0].Key, "W", Attempt{Outcome: "legacy_refused"}, false, "no", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Claim(ctx, "sync", "A", "fp", time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}

	clock.add(2 * time.Minute)
	st, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Count[flow]; len(c) != 1 || c[StateQueued] != 1 {
		t.Errorf("Stats before the sweep = %v, want 1 queued", st.Count)
	}
	if got := storedCounts(t, b); got[flow+"/queued"] != 6 || got[flow+"/dead"] != 1 || got[flow+"/processing"] != 1 {
		t.Fatalf("stored counts before the sweep = %v", got)
	}

	n, err := b.sweep()
	if err != nil || n != 8 {
		t.Fatalf("sweep = %d, %v; want the 8 expired records (7 held, 1 synchronous)", n, err)
	}
	if got := storedCounts(t, b); len(got) != 1 || got[flow+"/queued"] != 1 {
		t.Errorf("stored counts after the sweep = %v, want 1 queued", got)
	}
	if n := recordCount(t, b); n != 1 {
		t.Errorf("%d records left, want 1", n)
	}
	if st2, _ := b.Stats(ctx); !st2.OldestQueued.Equal(st.OldestQueued) || st2.Count[flow][StateQueued] != 1 {
		t.Errorf("Stats after the sweep = %+v, before %+v", st2, st)
	}
	if n, err := b.sweep(); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v", n, err)
	}
	// checkFile (at cleanup) checks the indexes against the records.
}

// TestFileSweeperRuns: the module's sweeper removes expired records by
// itself and stops with the state.
func TestFileSweeperRuns(t *testing.T) {
	b, err := OpenFileBackend(t.TempDir() + "/events.db")
	if err != nil {
		t.Fatal(err)
	}
	st := newFileState(b, 10*time.Millisecond, func(err error) { t.Error(err) })
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := b.Claim(ctx, k, "A", "fp", time.Minute, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Claim(ctx, "kept", "A", "fp", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for recordCount(t, b) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := recordCount(t, b); n != 1 {
		t.Fatalf("%d records left, want 1", n)
	}
	checkFile(t, b)
	if err := st.Destruct(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.done:
	default:
		t.Error("sweeper still running after Destruct")
	}
	if _, _, err := b.Get(ctx, "kept"); err == nil {
		t.Error("the file is still open after Destruct")
	}
}
