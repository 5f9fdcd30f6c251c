package load

import (
	"slices"
	"time"
)

// tracker classifies the sequence numbers one receiver sees: a number seen
// before is a duplicate, a number below the highest seen so far is
// reordered. What was sent but never seen is lost.
type tracker struct {
	seen     []bool
	max      int
	unique   int
	dup      int
	reorder  int
	complete time.Time // when unique reached want (broadcast)
}

// got records seq and reports whether it was new.
func (t *tracker) got(seq int) bool {
	if seq < 0 {
		return false
	}
	if seq >= len(t.seen) {
		t.seen = append(t.seen, make([]bool, seq+1-len(t.seen)+len(t.seen)/2)...)
	}
	if t.seen[seq] {
		t.dup++
		return false
	}
	t.seen[seq] = true
	if seq < t.max {
		t.reorder++
	}
	if seq > t.max {
		t.max = seq
	}
	t.unique++
	return true
}

// percentiles returns the p-th percentiles (0..100) of d in milliseconds.
func percentiles(d []time.Duration, ps ...float64) []float64 {
	out := make([]float64, len(ps))
	if len(d) == 0 {
		return out
	}
	slices.Sort(d)
	for i, p := range ps {
		k := int(p / 100 * float64(len(d)-1))
		out[i] = float64(d[k]) / float64(time.Millisecond)
	}
	return out
}
