package redisbus

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sockjs-cluster/sockjs/internal/busutil"
	"github.com/sockjs-cluster/sockjs/pubsub"
)

// subscription is one subscription and the goroutine that serves it.
type subscription struct {
	bus      *Bus
	channels []string // without repetitions
	h        pubsub.Handler
	idle     func() // called when the queue runs empty; may be nil
	limit    int

	gid     atomic.Uint64 // id of the goroutine running h; 0 until it starts
	wake    chan struct{} // a message was queued on an empty queue
	stopped chan struct{} // closed by stop
	done    chan struct{} // closed when the goroutine has exited

	mu        sync.Mutex
	queue     busutil.Ring
	accepting bool   // the reader has read the reply to Subscribe's PING
	isOff     bool   // stopped has been closed
	dropping  uint64 // messages dropped since the queue last took one
}

// Unsubscribe stops delivery and waits until the handler is no longer
// running. If ctx ends first it returns ctx's error: the subscription is
// stopped all the same and its handler will not be called again, but a call
// in progress may not have returned yet. Called from the subscription's own
// handler, it returns without waiting. It does not wait for Redis: the bus
// unsubscribes the channels nobody else wants in the background. It is
// idempotent.
func (s *subscription) Unsubscribe(ctx context.Context) error {
	s.bus.remove(s)
	s.stop()
	select {
	case <-s.done:
		return nil
	default:
	}
	if s.gid.Load() == busutil.GoID() {
		return nil // from within the handler: it is running us.
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redisbus: unsubscribe: %w", ctx.Err())
	}
}

// stop ends delivery: the handler is not called after stop returns, except
// for a call already in progress. Queued messages are dropped.
func (s *subscription) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isOff {
		return
	}
	s.isOff = true
	s.queue = busutil.Ring{}
	close(s.stopped)
}

// accept has the subscription take the messages the reader reads from now
// on.
func (s *subscription) accept() {
	s.mu.Lock()
	s.accepting = true
	s.mu.Unlock()
}

// enqueue appends msg to the queue; it returns false if the queue is full
// and msg was dropped. A subscription that is stopped, or does not accept
// messages yet, takes nothing and returns true. It never blocks for long:
// the reader calls it.
func (s *subscription) enqueue(msg []byte) bool {
	s.mu.Lock()
	if s.isOff || !s.accepting {
		s.mu.Unlock()
		return true
	}
	if s.queue.Len() >= s.limit {
		s.dropping++
		first := s.dropping == 1
		s.mu.Unlock()
		if first {
			s.bus.log.Warn("redisbus: subscription queue full; dropping messages",
				"channels", s.channels, "queue_size", s.limit)
		}
		return false
	}
	wasEmpty := s.queue.Len() == 0
	s.queue.Push(msg)
	dropped := s.dropping
	s.dropping = 0
	s.mu.Unlock()
	if dropped > 0 {
		s.bus.log.Warn("redisbus: subscription queue takes messages again",
			"channels", s.channels, "dropped", dropped)
	}
	if wasEmpty {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// run is the subscription's goroutine: it calls the handler with each queued
// message until the subscription is stopped.
func (s *subscription) run() {
	s.gid.Store(busutil.GoID())
	defer func() {
		s.bus.mu.Lock()
		delete(s.bus.live, s)
		s.bus.mu.Unlock()
		close(s.done)
	}()
	for {
		msg, ok := s.next()
		if !ok {
			return
		}
		s.h(msg)
		if s.idle != nil && s.caughtUp() {
			s.idle()
		}
	}
}

// caughtUp reports whether the queue is empty and the subscription still
// running.
func (s *subscription) caughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.isOff && s.queue.Len() == 0
}

// next waits for the next message; ok is false once the subscription is
// stopped.
func (s *subscription) next() (msg []byte, ok bool) {
	for {
		s.mu.Lock()
		if s.isOff {
			s.mu.Unlock()
			return nil, false
		}
		if s.queue.Len() > 0 {
			msg = s.queue.Pop()
			s.mu.Unlock()
			return msg, true
		}
		s.mu.Unlock()

		select {
		case <-s.wake:
		case <-s.stopped:
		}
	}
}
