package store

import (
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestFileBytesPerPayment measures the file's size after 100,000 held
// events with a 300-byte payload (the figure is logged, not asserted):
// as written, and as bbolt compact would leave it.
func TestFileBytesPerPayment(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 100,000 events")
	}
	const n = 100_000
	dir := t.TempDir()
	path := filepath.Join(dir, "events.db")
	b, err := OpenFileBackend(path)
	if err != nil {
		t.Fatal(err)
	}
	fillHeld(t, b, n)
	st, err := b.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Count["bill24:webhook"][StateQueued]; got != n {
		t.Fatalf("%d held, want %d", got, n)
	}
	checkFile(t, b)
	var inUse, free int64
	if err := b.db.View(func(tx *bolt.Tx) error {
		inUse = tx.Size()
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			s := bk.Stats()
			if s.KeyN > 0 {
				t.Logf("bucket %-16s %6d keys: %5.0f bytes/payment allocated, %5.0f in use",
					name, s.KeyN, float64(s.LeafAlloc+s.BranchAlloc)/n, float64(s.LeafInuse+s.BranchInuse)/n)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	free = int64(b.db.Stats().FreePageN) * int64(os.Getpagesize())

	compacted := filepath.Join(dir, "compacted.db")
	dst, err := bolt.Open(compacted, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bolt.Compact(dst, b.db, 0); err != nil {
		t.Fatal(err)
	}
	var cInUse int64
	if err := dst.View(func(tx *bolt.Tx) error { cInUse = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, path)
	csize := fileSize(t, compacted)
	t.Logf("%d held events, 300-byte payload: file %d bytes (%.0f bytes/payment), pages up to %d bytes (%.0f/payment), %d free",
		n, size, float64(size)/n, inUse, float64(inUse)/n, free)
	t.Logf("compacted: file %d bytes, pages up to %d bytes (%.0f/payment)", csize, cInUse, float64(cInUse)/n)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
