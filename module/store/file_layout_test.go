package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkFile checks a store file through and through: bbolt's own check
// of its pages, then every index and counter against the records they
// are derived from.
func checkFile(t testing.TB, b *FileBackend) {
	t.Helper()
	err := b.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("bbolt check: %w", errors.Join(errs...))
		}
		ft, err := openTx(tx)
		if err != nil {
			return err
		}
		return checkLayout(ft)
	})
	if err != nil {
		t.Errorf("%s: %v", b.path, err)
	}
}

// checkLayout rebuilds the indexes and counters from the records and
// compares them with what the file holds.
func checkLayout(t *fileTx) error {
	want := map[string]map[string]string{}
	add := func(bucket string, k []byte, v string) {
		if want[bucket] == nil {
			want[bucket] = map[string]string{}
		}
		want[bucket][string(k)] = v
	}
	counts := map[string]uint64{}
	err := t.records.ForEach(func(k, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("record %q: %w", k, err)
		}
		e := t.entries(string(k), r)
		add("expiry", e.expiry, "")
		if e.due != nil {
			add("due", e.due, "")
		}
		if e.active != nil {
			add("active", e.active, "")
		}
		if e.counted {
			add("list."+string(r.State), e.list, r.Flow)
			counts[string(statsKey(r.Flow, r.State))]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	compare := func(name string, bk *bolt.Bucket, want map[string]string) {
		got := map[string]string{}
		_ = bk.ForEach(func(k, v []byte) error {
			got[string(k)] = string(v)
			return nil
		})
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				errs = append(errs, fmt.Errorf("%s: missing or wrong %x (got %q, want %q)", name, k, g, v))
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				errs = append(errs, fmt.Errorf("%s: stray entry %x", name, k))
			}
		}
	}
	compare("due", t.due, want["due"])
	compare("expiry", t.expiry, want["expiry"])
	compare("active", t.active, want["active"])
	for i, s := range listedStates {
		compare("list."+string(s), t.lists[i], want["list."+string(s)])
	}
	gotCounts := map[string]uint64{}
	_ = t.stats.ForEach(func(k, v []byte) error {
		gotCounts[string(k)] = binary.BigEndian.Uint64(v)
		return nil
	})
	if !maps.Equal(gotCounts, counts) {
		errs = append(errs, fmt.Errorf("stats: got %v, want %v", gotCounts, counts))
	}
	return errors.Join(errs...)
}

// newFileStore opens a store on a fresh file in a temporary directory and
// checks the file when the test ends.
func newFileStore(t testing.TB) *FileBackend {
	t.Helper()
	b, err := OpenFileBackend(t.TempDir() + "/events.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkFile(t, b)
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func TestFileLayoutKeys(t *testing.T) {
	at := time.UnixMilli(1_750_000_000_123)
	k := timeKey(at, "bill24:webhook:ក")
	ms, key, ok := splitTimeKey(k)
	if !ok || ms != at.UnixMilli() || key != "bill24:webhook:ក" {
		t.Errorf("splitTimeKey(timeKey) = %d %q %v", ms, key, ok)
	}
	// Byte order is time order, then key order.
	sorted := [][]byte{timeKey(at.Add(time.Millisecond), "a"), timeKey(at, "b"), timeKey(at, "a"), timeKey(at, "ab")}
	slices.SortFunc(sorted, bytes.Compare)
	var got []string
	for _, k := range sorted {
		ms, key, _ := splitTimeKey(k)
		got = append(got, fmt.Sprintf("%d:%s", ms-at.UnixMilli(), key))
	}
	if want := []string{"0:a", "0:ab", "0:b", "1:a"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	flow, state, ok := splitStatsKey(statsKey("qm:callback", StateDead))
	if !ok || flow != "qm:callback" || state != StateDead {
		t.Errorf("splitStatsKey = %q %q %v", flow, state, ok)
	}
}

// TestFileLayoutVersion: a file of another layout version is refused,
// not misread.
func TestFileLayoutVersion(t *testing.T) {
	path := t.TempDir() + "/events.db"
	b, err := OpenFileBackend(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaVersion, []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFileBackend(path); err == nil || !strings.Contains(err.Error(), `layout is version "99"`) {
		t.Errorf("open of a version 99 file = %v", err)
	}
}

// TestFileCheckLayoutCatches: the checker the other tests rely on finds
// a missing index entry, a stray one, and a wrong count.
func TestFileCheckLayoutCatches(t *testing.T) {
	b, err := OpenFileBackend(t.TempDir() + "/events.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	e := Entry{Key: "bill24:webhook:a", Flow: "bill24:webhook", Fingerprint: "fp", Payload: []byte("p")}
	res, err := b.Hold(t.Context(), e, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	check := func() error {
		return b.db.View(func(tx *bolt.Tx) error {
			ft, err := openTx(tx)
			if err != nil {
				return err
			}
			return checkLayout(ft)
		})
	}
	if err := check(); err != nil {
		t.Fatalf("a sound file: %v", err)
	}
	due := timeKey(res.Record.NextAttempt, e.Key)
	for name, damage := range map[string]func(*fileTx) error{
		"missing due entry": func(t *fileTx) error { return t.due.Delete(due) },
		"stray due entry":   func(t *fileTx) error { return t.due.Put(timeKey(time.Now(), "ghost"), nil) },
		"wrong count":       func(t *fileTx) error { return t.count(e.Flow, StateDead, 1) },
		"wrong list flow": func(t *fileTx) error {
			return t.list(StateQueued).Put(timeKey(res.Record.UpdatedAt, e.Key), []byte("qm"))
		},
	} {
		err := b.db.Update(func(tx *bolt.Tx) error {
			ft, err := openTx(tx)
			if err != nil {
				return err
			}
			if err := damage(ft); err != nil {
				return err
			}
			if checkLayout(ft) == nil {
				t.Errorf("%s: not found", name)
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := check(); err != nil {
		t.Fatalf("after the rollbacks: %v", err)
	}
}
