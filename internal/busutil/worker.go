package busutil

import (
	"context"
	"sync"
	"sync/atomic"
)

// Worker is the delivering side of a bus subscription: a queue of messages
// handed to a handler, in order, by one goroutine of its own. The backends
// embed it and differ only in how messages get into the queue (the memory
// bus waits for room, the Redis bus drops what does not fit).
type Worker struct {
	handler func([]byte)
	idle    func()
	gid     atomic.Uint64 // id of the goroutine running the handler; 0 until it starts
	wake    chan struct{} // a message was queued on an empty queue
	stopped chan struct{} // closed by Stop
	done    chan struct{} // closed when the goroutine has exited

	// Mu guards Queue and whatever the backend keeps beside it.
	Mu    sync.Mutex
	Queue Ring
	off   bool
	// Taken, when set, is called with Mu held after each message leaves
	// the queue.
	Taken func()
}

// Init prepares w to deliver to h, calling idle (when not nil) after the
// handler whenever the queue is empty.
func (w *Worker) Init(h func([]byte), idle func()) {
	w.handler, w.idle = h, idle
	w.wake = make(chan struct{}, 1)
	w.stopped = make(chan struct{})
	w.done = make(chan struct{})
}

// Push queues m and wakes the goroutine; Mu must be held and the worker
// not stopped.
func (w *Worker) Push(m []byte) {
	w.Queue.Push(m)
	if w.Queue.Len() == 1 {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Off reports whether Stop was called; Mu must be held.
func (w *Worker) Off() bool { return w.off }

// Stopped is closed by Stop.
func (w *Worker) Stopped() <-chan struct{} { return w.stopped }

// Stop ends delivery: the handler is not called after Stop returns, except
// for a call already in progress. Queued messages are dropped. It is
// idempotent.
func (w *Worker) Stop() {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if w.off {
		return
	}
	w.off = true
	w.Queue = Ring{}
	close(w.stopped)
}

// Wait waits, after Stop, until the handler is no longer running, or ctx
// ends (then it returns ctx's error). Called from the handler itself, it
// returns nil at once.
func (w *Worker) Wait(ctx context.Context) error {
	select {
	case <-w.done:
		return nil
	default:
	}
	if w.gid.Load() == GoID() {
		return nil // from within the handler: it is running us
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run is the worker's goroutine: it calls the handler with each queued
// message until Stop, then calls exit.
func (w *Worker) Run(exit func()) {
	w.gid.Store(GoID())
	defer close(w.done)
	defer exit()
	for {
		msg, ok := w.next()
		if !ok {
			return
		}
		w.handler(msg)
		if w.idle != nil && w.caughtUp() {
			w.idle()
		}
	}
}

// caughtUp reports whether the queue is empty and the worker still running.
func (w *Worker) caughtUp() bool {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	return !w.off && w.Queue.Len() == 0
}

// next waits for the next message; ok is false once stopped.
func (w *Worker) next() (msg []byte, ok bool) {
	for {
		w.Mu.Lock()
		if w.off {
			w.Mu.Unlock()
			return nil, false
		}
		if w.Queue.Len() > 0 {
			msg = w.Queue.Pop()
			if w.Taken != nil {
				w.Taken()
			}
			w.Mu.Unlock()
			return msg, true
		}
		w.Mu.Unlock()
		select {
		case <-w.wake:
		case <-w.stopped:
		}
	}
}
