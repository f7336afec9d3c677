package hist

import (
	"encoding/json"
	"testing"
	"time"
)

// These tests check the histogram's arithmetic only; nothing here measures
// speed (design.md §8: benchmarks are not tests).

func TestBucketsCoverEveryValue(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < 40*subCount; i++ {
		lo, hi := bounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, prevHi+1)
		}
		if index(lo) != i || index(hi) != i {
			t.Fatalf("bucket %d = [%d,%d], but index(lo)=%d index(hi)=%d", i, lo, hi, index(lo), index(hi))
		}
		if lo >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/subCount+1e-12 {
			t.Fatalf("bucket %d = [%d,%d] is wider than 1/%d of its start", i, lo, hi, subCount)
		}
		prevHi = hi
	}
}

func TestQuantiles(t *testing.T) {
	var h H
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0, time.Microsecond}, {0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.Quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d > 0.02 || d < -0.02 {
			t.Errorf("Quantile(%v) = %v, want %v within 2%%", c.q, got, c.want)
		}
	}
	if h.Mean() < 500*time.Microsecond || h.Mean() > 501*time.Microsecond {
		t.Errorf("Mean = %v, want 500.5µs", h.Mean())
	}
}

func TestMergeAndJSON(t *testing.T) {
	var a, b, all H
	for i := range 500 {
		d := time.Duration(i*i) * time.Nanosecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	raw, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	var b2 H
	if err := json.Unmarshal(raw, &b2); err != nil {
		t.Fatal(err)
	}
	a.Merge(&b2)
	if a.N != all.N || a.Sum != all.Sum || a.Min != all.Min || a.Max != all.Max {
		t.Fatalf("merged %+v, want N=%d Sum=%d Min=%d Max=%d", a, all.N, all.Sum, all.Min, all.Max)
	}
	for _, q := range []float64{0.1, 0.5, 0.9, 0.99, 0.999} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("Quantile(%v): merged %v, direct %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
	var empty H
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Error("an empty histogram should give 0")
	}
}
