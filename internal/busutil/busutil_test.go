package busutil

import (
	"strconv"
	"testing"
)

func TestRing(t *testing.T) {
	var r Ring
	next := 0
	for round := 0; round < 3; round++ {
		for i := 0; i < 3000; i++ {
			r.Push([]byte(strconv.Itoa(round*10000 + i)))
		}
		for i := 0; i < 3000; i++ {
			want := strconv.Itoa(round*10000 + i)
			if got := string(r.Pop()); got != want {
				t.Fatalf("pop %d: %q, want %q", next, got, want)
			}
			next++
		}
		if r.Len() != 0 || len(r.buf) != 0 {
			t.Fatalf("empty ring keeps %d slots", len(r.buf))
		}
	}
	// Interleaved pushes and pops wrap around the buffer in order.
	var want []int
	seq := 0
	for i := 0; i < 200; i++ {
		for k := 0; k < 2; k++ {
			r.Push([]byte(strconv.Itoa(seq)))
			want = append(want, seq)
			seq++
		}
		if got := string(r.Pop()); got != strconv.Itoa(want[0]) {
			t.Fatalf("interleaved pop: %q, want %d", got, want[0])
		}
		want = want[1:]
	}
	if r.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", r.Len(), len(want))
	}
}

func TestGoID(t *testing.T) {
	a := GoID()
	ch := make(chan uint64)
	go func() { ch <- GoID() }()
	if b := <-ch; a == 0 || b == 0 || a == b {
		t.Fatalf("GoID: %d and %d", a, b)
	}
}
