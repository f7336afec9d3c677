package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestFileContract(t *testing.T) {
	runContract(t, func(t *testing.T) Store { return newFileStore(t) })
}

func TestFileQueueContract(t *testing.T) {
	runQueueContract(t, func(t *testing.T) Queue { return newFileStore(t) })
}

// TestFileBatchRetry: a transition that fails inside a shared commit
// makes bbolt run the others of its batch again; each must come out as if
// it had run once. A damaged record makes Claims of it fail amid Holds
// and Claims of other events, and of one event many times over.
func TestFileBatchRetry(t *testing.T) {
	s := newFileStore(t)
	ctx := t.Context()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).Put([]byte("bill24:webhook:damaged"), []byte{1, 0, 99})
	}); err != nil {
		t.Fatal(err)
	}
	const n = 100
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		queued  = map[string]int{}
		claimed = map[string]int{}
		same    = map[Outcome]int{}
		broken  int
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			key := fmt.Sprintf("bill24:webhook:%03d", i)
			res, err := s.Hold(ctx, Entry{Key: key, Flow: "bill24:webhook", Fingerprint: "fp", Payload: []byte{byte(i)}}, time.Hour)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			queued[key] += map[bool]int{true: 1}[res.Outcome == Queued]
		})
		wg.Go(func() {
			<-start
			res, err := s.Hold(ctx, Entry{Key: "bill24:webhook:same", Flow: "bill24:webhook", Fingerprint: "fp", Payload: []byte("p")}, time.Hour)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			same[res.Outcome]++
		})
		wg.Go(func() {
			<-start
			key := fmt.Sprintf("sync:%03d", i)
			res, err := s.Claim(ctx, key, "A", "fp", time.Minute, time.Hour)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			claimed[key] += map[bool]int{true: 1}[res.Outcome == Claimed && res.Record.Attempts == 1]
		})
		wg.Go(func() {
			<-start
			_, err := s.Claim(ctx, "bill24:webhook:damaged", "A", "fp", time.Minute, time.Hour)
			var ce *corruptError
			mu.Lock()
			defer mu.Unlock()
			if errors.As(err, &ce) {
				broken++
			} else {
				t.Errorf("Claim of a damaged record = %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if broken != n {
		t.Errorf("%d of %d claims of the damaged record failed", broken, n)
	}
	if same[Queued] != 1 || same[Replay] != n-1 {
		t.Errorf("holds of one event: %v", same)
	}
	for i := range n {
		if k := fmt.Sprintf("bill24:webhook:%03d", i); queued[k] != 1 {
			t.Errorf("%s queued %d times", k, queued[k])
		}
		if k := fmt.Sprintf("sync:%03d", i); claimed[k] != 1 {
			t.Errorf("%s claimed %d times as new", k, claimed[k])
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Count["bill24:webhook"][StateQueued]; got != n+1 {
		t.Errorf("%d queued, want %d", got, n+1)
	}
	// Remove the damaged record, so that checkFile can read every record.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).Delete([]byte("bill24:webhook:damaged"))
	}); err != nil {
		t.Fatal(err)
	}
}

func TestFileKeyTooLong(t *testing.T) {
	s := newFileStore(t)
	long := "bill24:webhook:" + strings.Repeat("k", fileMaxKey)
	if _, err := s.Claim(t.Context(), long, "A", "fp", time.Minute, time.Hour); err == nil || !strings.Contains(err.Error(), "longer than the file store takes") {
		t.Errorf("Claim of a %d-byte key = %v", len(long), err)
	}
	if _, err := s.Hold(t.Context(), Entry{Key: long, Flow: "bill24:webhook", Payload: []byte("p")}, time.Hour); err == nil {
		t.Error("Hold of an over-long key succeeded")
	}
	// The longest key it takes goes into every index.
	most := "bill24:webhook:" + strings.Repeat("k", fileMaxKey-len("bill24:webhook:"))
	if res, err := s.Hold(t.Context(), Entry{Key: most, Flow: "bill24:webhook", Payload: []byte("p")}, time.Hour); err != nil || res.Outcome != Queued {
		t.Errorf("Hold of a %d-byte key = %v, %v", len(most), res.Outcome, err)
	}
}
