// Package hist is a small log-linear latency histogram for the load
// benchmark: values are nanoseconds, exact below 64 ns and within 1/64
// (about 1.6 %) above, so percentiles are good to about 1 %. Histograms
// from several runs merge by adding their counts. It is not safe for
// concurrent use; give each goroutine its own and merge them.
package hist

import (
	"math/bits"
	"sort"
	"time"
)

// subBits sets the precision: 2^subBits sub-buckets per power of two.
const subBits = 6

const subCount = 1 << subBits

// H is a latency histogram. The zero value is empty and ready to use.
// Its exported fields are its JSON form.
type H struct {
	// Counts maps a bucket index to how many values fell in it.
	Counts map[int]int64 `json:"counts"`
	// N is the number of values recorded.
	N int64 `json:"n"`
	// Sum, Min and Max are in nanoseconds.
	Sum int64 `json:"sum_ns"`
	Min int64 `json:"min_ns"`
	Max int64 `json:"max_ns"`
}

// index returns the bucket of v (v >= 0).
func index(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits - 1 // v>>shift is in [64, 128)
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bounds returns the smallest and largest value of bucket i.
func bounds(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	shift := i/subCount - 1
	m := int64(i%subCount + subCount)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one latency.
func (h *H) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if h.Counts == nil {
		h.Counts = make(map[int]int64)
	}
	h.Counts[index(v)]++
	if h.N == 0 || v < h.Min {
		h.Min = v
	}
	if v > h.Max {
		h.Max = v
	}
	h.N++
	h.Sum += v
}

// Merge adds o's values to h.
func (h *H) Merge(o *H) {
	if o == nil || o.N == 0 {
		return
	}
	if h.Counts == nil {
		h.Counts = make(map[int]int64, len(o.Counts))
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	if h.N == 0 || o.Min < h.Min {
		h.Min = o.Min
	}
	if o.Max > h.Max {
		h.Max = o.Max
	}
	h.N += o.N
	h.Sum += o.Sum
}

// Quantile returns the value at quantile q (0..1): the middle of the bucket
// holding it, clamped to the recorded minimum and maximum. An empty
// histogram gives 0.
func (h *H) Quantile(q float64) time.Duration {
	if h.N == 0 {
		return 0
	}
	if q <= 0 {
		return time.Duration(h.Min)
	}
	if q >= 1 {
		return time.Duration(h.Max)
	}
	rank := int64(q*float64(h.N-1)) + 1 // 1-based rank of the value asked for
	idx := make([]int, 0, len(h.Counts))
	for i := range h.Counts {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var seen int64
	for _, i := range idx {
		seen += h.Counts[i]
		if seen >= rank {
			lo, hi := bounds(i)
			v := lo + (hi-lo)/2
			v = max(v, h.Min)
			v = min(v, h.Max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.Max)
}

// Mean returns the mean value, or 0 when empty.
func (h *H) Mean() time.Duration {
	if h.N == 0 {
		return 0
	}
	return time.Duration(h.Sum / h.N)
}
