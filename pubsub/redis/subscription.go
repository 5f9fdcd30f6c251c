package redisbus

import (
	"context"
	"fmt"

	"github.com/sockjs-cluster/sockjs/internal/busutil"
)

// subscription is one subscription and the goroutine that serves it.
type subscription struct {
	busutil.Worker // the queue (its Mu also guards the fields below) and the goroutine
	bus            *Bus
	channels       []string // without repetitions
	limit          int

	accepting bool   // the reader has read the reply to Subscribe's PING
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
	s.Stop()
	if err := s.Wait(ctx); err != nil {
		return fmt.Errorf("redisbus: unsubscribe: %w", err)
	}
	return nil
}

// accept has the subscription take the messages the reader reads from now
// on.
func (s *subscription) accept() {
	s.Mu.Lock()
	s.accepting = true
	s.Mu.Unlock()
}

// enqueue appends msg to the queue; it returns false if the queue is full
// and msg was dropped. A subscription that is stopped, or does not accept
// messages yet, takes nothing and returns true. It never blocks for long:
// the reader calls it.
func (s *subscription) enqueue(msg []byte) bool {
	s.Mu.Lock()
	if s.Off() || !s.accepting {
		s.Mu.Unlock()
		return true
	}
	if s.Queue.Len() >= s.limit {
		s.dropping++
		first := s.dropping == 1
		s.Mu.Unlock()
		if first {
			s.bus.log.Warn("redisbus: subscription queue full; dropping messages",
				"channels", s.channels, "queue_size", s.limit)
		}
		return false
	}
	s.Push(msg)
	dropped := s.dropping
	s.dropping = 0
	s.Mu.Unlock()
	if dropped > 0 {
		s.bus.log.Warn("redisbus: subscription queue takes messages again",
			"channels", s.channels, "dropped", dropped)
	}
	return true
}

// exit runs when the subscription's goroutine ends.
func (s *subscription) exit() {
	s.bus.mu.Lock()
	delete(s.bus.live, s)
	s.bus.mu.Unlock()
}
