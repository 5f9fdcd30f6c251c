// Package memory is the in-process pubsub.Bus: a cluster of one process.
//
// Every Bus value is its own medium; two Bus values never see each other's
// messages. Use one Bus for every part of the process that must talk.
//
// # Delivery
//
// The memory bus loses nothing. Each subscription has its own goroutine and
// one ordered queue of at most Options.QueueSize undelivered messages, shared
// by all the channels it subscribed to. Publish copies the payload once and
// appends it to the queue of every subscription of the channel; the
// subscription's goroutine hands the messages to its handler one at a time,
// in queue order. So the messages a subscription gets on its several
// channels arrive in the order in which Publish queued them.
//
// When a subscription's queue is full, Publish waits until its handler has
// worked it down to half: a slow handler slows its publishers down
// (back-pressure) instead of losing messages. Publish gives up when its ctx
// ends and returns ctx's error; the message has then been queued for some of
// the channel's subscriptions but not for the others. Consequently a handler
// that publishes, without a deadline, on a channel it is itself subscribed to
// can deadlock once its own queue is full.
//
// All subscriptions of a channel receive the same payload slice: handlers must
// neither retain nor modify it.
//
// # Stopping
//
// Unsubscribe and Close wait until the handlers concerned are no longer
// running, except a handler that calls them itself: that call returns without
// waiting for its own handler (which could never finish otherwise), and the
// handler is not called again after it returns. If Unsubscribe's ctx ends
// while the handler is still running, Unsubscribe returns ctx's error; the
// subscription is stopped all the same. Messages still queued for a stopped
// subscription are discarded. As with any mutual wait, handlers that wait
// for each other deadlock: two handlers each unsubscribing the other's
// subscription, or both closing the bus, at the same time.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/sockjs-cluster/sockjs/internal/busutil"
	"github.com/sockjs-cluster/sockjs/pubsub"
)

// DefaultQueueSize is the queue bound used when Options.QueueSize is zero.
const DefaultQueueSize = 4096

// Options configures a Bus. The zero value is ready to use.
type Options struct {
	// QueueSize bounds each subscription's undelivered messages; zero (or a
	// negative value) means DefaultQueueSize. Publish waits while a queue is
	// full.
	QueueSize int
}

// Bus is an in-process pubsub.Bus. Create it with New; stop it with Close.
type Bus struct {
	queueSize int

	mu     sync.RWMutex
	closed bool
	// subs holds each channel's active subscriptions. A slice is never
	// modified once stored (copy on write), so Publish can range over it
	// without holding mu.
	subs map[string][]*subscription
	// live holds every subscription whose goroutine has not exited yet,
	// including stopped ones whose handler is still running.
	live map[*subscription]struct{}
}

var (
	_ pubsub.Bus            = (*Bus)(nil)
	_ pubsub.Closer         = (*Bus)(nil)
	_ pubsub.IdleSubscriber = (*Bus)(nil)
)

// New returns an empty, open Bus.
func New(opts Options) *Bus {
	size := opts.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	return &Bus{
		queueSize: size,
		subs:      make(map[string][]*subscription),
		live:      make(map[*subscription]struct{}),
	}
}

// Publish hands payload to every current subscription of channel. It copies
// payload, so the caller may reuse it once Publish returns. It waits while a
// subscription's queue is full; see the package documentation.
func (b *Bus) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: publish: %w", err)
	}
	b.mu.RLock()
	closed, subs := b.closed, b.subs[channel]
	b.mu.RUnlock()
	if closed {
		return fmt.Errorf("memory: publish: %w", pubsub.ErrClosed)
	}
	if len(subs) == 0 {
		return nil
	}
	msg := bytes.Clone(payload)
	for _, s := range subs {
		if err := s.enqueue(ctx, msg); err != nil {
			return fmt.Errorf("memory: publish: %w", err)
		}
	}
	return nil
}

// Subscribe starts delivering the messages of the listed channels to h, from
// one goroutine of its own, in the order in which they were published. The
// subscription is active when Subscribe returns.
func (b *Bus) Subscribe(ctx context.Context, h pubsub.Handler, channels ...string) (pubsub.Subscription, error) {
	return b.subscribe(ctx, h, nil, channels)
}

// SubscribeIdle implements pubsub.IdleSubscriber: it is Subscribe, and idle
// is called after the handler whenever the subscription's queue is empty.
func (b *Bus) SubscribeIdle(ctx context.Context, h pubsub.Handler, idle func(), channels ...string) (pubsub.Subscription, error) {
	if idle == nil {
		return nil, errors.New("memory: subscribe: nil idle callback")
	}
	return b.subscribe(ctx, h, idle, channels)
}

func (b *Bus) subscribe(ctx context.Context, h pubsub.Handler, idle func(), channels []string) (pubsub.Subscription, error) {
	if h == nil {
		return nil, errors.New("memory: subscribe: nil handler")
	}
	if len(channels) == 0 {
		return nil, errors.New("memory: subscribe: no channel")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: subscribe: %w", err)
	}
	s := &subscription{bus: b, channels: unique(channels), limit: b.queueSize}
	s.Init(h, idle)
	s.Taken = s.taken
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("memory: subscribe: %w", pubsub.ErrClosed)
	}
	for _, ch := range s.channels {
		b.subs[ch] = append(slices.Clip(b.subs[ch]), s)
	}
	b.live[s] = struct{}{}
	go s.Run(s.exit)
	return s, nil
}

// Close stops every subscription and waits until their handlers have
// returned (except the caller's own, when called from a handler). Later
// Publish and Subscribe calls return an error wrapping pubsub.ErrClosed.
// Close is idempotent and always returns nil.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	clear(b.subs)
	live := slices.Collect(maps.Keys(b.live))
	b.mu.Unlock()

	for _, s := range live {
		s.Stop()
	}
	for _, s := range live {
		_ = s.Wait(context.Background()) // returns at once for the caller's own
	}
	return nil
}

// remove takes s out of its channels' subscriptions.
func (b *Bus) remove(s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range s.channels {
		subs := b.subs[ch]
		i := slices.Index(subs, s)
		switch {
		case i < 0:
		case len(subs) == 1:
			delete(b.subs, ch)
		default:
			b.subs[ch] = slices.Delete(slices.Clone(subs), i, i+1)
		}
	}
}

// unique returns channels without repetitions, in their first order.
func unique(channels []string) []string {
	out := make([]string, 0, len(channels))
	for _, ch := range channels {
		if !slices.Contains(out, ch) {
			out = append(out, ch)
		}
	}
	return out
}

// subscription is one subscription and the goroutine that serves it.
type subscription struct {
	busutil.Worker // the queue (its Mu also guards roomWait) and the goroutine
	bus            *Bus
	channels       []string // without repetitions
	limit          int

	roomWait chan struct{} // closed when the queue is half empty again; nil if nobody waits
}

// Unsubscribe stops delivery and waits until the handler is no longer
// running. If ctx ends first it returns ctx's error: the subscription is
// stopped all the same and its handler will not be called again, but a call
// in progress may not have returned yet. Called from the subscription's own
// handler, it returns without waiting. It is idempotent.
func (s *subscription) Unsubscribe(ctx context.Context) error {
	s.bus.remove(s)
	s.Stop()
	if err := s.Wait(ctx); err != nil {
		return fmt.Errorf("memory: unsubscribe: %w", err)
	}
	return nil
}

// enqueue appends msg to the queue, waiting while it is full. A stopped
// subscription takes nothing and returns nil.
func (s *subscription) enqueue(ctx context.Context, msg []byte) error {
	for {
		s.Mu.Lock()
		if s.Off() {
			s.Mu.Unlock()
			return nil
		}
		if s.Queue.Len() < s.limit {
			s.Push(msg)
			s.Mu.Unlock()
			return nil
		}
		if s.roomWait == nil {
			s.roomWait = make(chan struct{})
		}
		room := s.roomWait
		s.Mu.Unlock()

		select {
		case <-room:
		case <-s.Stopped():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// taken wakes blocked publishers once the queue is half empty again (s.Mu
// is held): at half capacity rather than at every free slot, which saves a
// context switch per message.
func (s *subscription) taken() {
	if s.roomWait != nil && s.Queue.Len() <= s.limit/2 {
		close(s.roomWait)
		s.roomWait = nil
	}
}

// exit runs when the subscription's goroutine ends.
func (s *subscription) exit() {
	s.bus.mu.Lock()
	delete(s.bus.live, s)
	s.bus.mu.Unlock()
}
