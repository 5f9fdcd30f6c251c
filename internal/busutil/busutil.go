// Package busutil holds what the bus backends share: the per-subscription
// worker (its message queue and delivering goroutine) and the goroutine
// identity used to spot a handler that unsubscribes itself.
package busutil

import (
	"bytes"
	"runtime"
	"strconv"
)

// Ring is a FIFO of messages that grows on demand. It keeps up to 1024
// slots (24 KiB) once grown, and gives larger buffers back when it runs
// empty. It is not safe for concurrent use.
type Ring struct {
	buf     [][]byte
	head, n int
}

// Len returns the number of queued messages.
func (r *Ring) Len() int { return r.n }

// Push appends m.
func (r *Ring) Push(m []byte) {
	if r.n == len(r.buf) {
		buf := make([][]byte, max(8, 2*len(r.buf)))
		k := copy(buf, r.buf[r.head:])
		copy(buf[k:], r.buf[:r.head])
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = m
	r.n++
}

// Pop removes and returns the oldest message; the ring must not be empty.
func (r *Ring) Pop() []byte {
	m := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 && len(r.buf) > 1024 {
		*r = Ring{}
	}
	return m
}

// GoID returns the id of the calling goroutine, read from the header of its
// stack trace ("goroutine 18 [running]:"). It is used only to recognise a
// handler that unsubscribes itself or closes its bus, which must not wait
// for its own return.
func GoID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("busutil: cannot parse goroutine id from " + strconv.Quote(string(buf[:])))
	}
	return id
}
