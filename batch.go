package sockjs

import (
	"context"
	"errors"
	"sync"
)

// An xhr_send or jsonp_send body may carry hundreds of thousands of
// messages. OnMessage still runs once per message, in order, but what it
// sends to its own session through the handle it was given is pushed to
// the store in batches: one store call per maxBatch messages or
// maxBatchBytes bytes, and at the end of the request, rather than one per
// message. Anything else the route does that the batch must not be
// overtaken by (a broadcast, a close, another push) pushes the pending
// batches first, so the session still sees everything in send order.
const (
	maxBatch      = 4096
	maxBatchBytes = 256 << 10
)

// sendBatch is the messages an xhr_send request's OnMessage calls sent to
// their session and that are not pushed yet.
type sendBatch struct {
	rt  *route
	key string

	mu     sync.Mutex
	msgs   []string
	size   int
	err    error // the first push that failed; later sends fail with it
	closed bool  // the handle closed the session: later sends fail
}

// beginBatch registers a batch for session key's sends.
func (rt *route) beginBatch(key string) *sendBatch {
	b := &sendBatch{rt: rt, key: key}
	rt.batchMu.Lock()
	if rt.batches == nil {
		rt.batches = make(map[*sendBatch]struct{})
	}
	rt.batches[b] = struct{}{}
	rt.batchCount.Add(1)
	rt.batchMu.Unlock()
	return b
}

// end pushes what is left and unregisters the batch; it returns the first
// error any of its pushes met, but for a session closed or gone meanwhile,
// whose messages the protocol drops.
func (b *sendBatch) end(ctx context.Context) error {
	err := b.flush(ctx)
	b.rt.batchMu.Lock()
	delete(b.rt.batches, b)
	b.rt.batchCount.Add(-1)
	b.rt.batchMu.Unlock()
	if errors.Is(err, ErrSessionClosed) || errors.Is(err, ErrSessionNotFound) {
		return nil
	}
	return err
}

// markClosed makes later sends fail with ErrSessionClosed, once the
// handle closed its session (after pushing what came before).
func (b *sendBatch) markClosed() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// add queues msg, pushing the batch once it is full.
func (b *sendBatch) add(ctx context.Context, msg string) error {
	b.mu.Lock()
	if b.err != nil || b.closed {
		err := b.err
		if err == nil {
			err = ErrSessionClosed
		}
		b.mu.Unlock()
		return err
	}
	b.msgs = append(b.msgs, msg)
	b.size += len(msg)
	full := len(b.msgs) >= maxBatch || b.size >= maxBatchBytes
	b.mu.Unlock()
	if full {
		return b.flush(ctx)
	}
	return nil
}

// flush pushes the pending messages, in one store call.
func (b *sendBatch) flush(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked(ctx)
}

// flushLocked is flush with b.mu held (across the push, so that two
// flushes never reorder the session's messages).
func (b *sendBatch) flushLocked(ctx context.Context) error {
	if b.err != nil || len(b.msgs) == 0 {
		return b.err
	}
	msgs := b.msgs
	b.msgs, b.size = nil, 0
	if err := b.rt.pushNow(ctx, b.key, msgs); err != nil {
		b.err = err
	}
	return b.err
}

// flushBatches pushes every pending batch of the route, before something
// that must not overtake them.
func (rt *route) flushBatches(ctx context.Context) {
	if rt.batchCount.Load() == 0 {
		return
	}
	rt.batchMu.Lock()
	pending := make([]*sendBatch, 0, len(rt.batches))
	for b := range rt.batches {
		pending = append(pending, b)
	}
	rt.batchMu.Unlock()
	for _, b := range pending {
		// A batch being flushed is skipped: either by this very goroutine
		// (a callback run by its push, e.g. OnClose of a slow consumer),
		// or by another one, whose order with this one is not defined.
		if b.mu.TryLock() {
			_ = b.flushLocked(ctx) // its error is the batch's, reported by end
			b.mu.Unlock()
		}
	}
}
