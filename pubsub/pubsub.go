// Package pubsub defines the Bus: how the nodes of a cluster tell each other
// that a session has something to deliver, that a session was closed, or that
// a route broadcast a message.
//
// The bus carries notifications and the messages of connection-bound
// (websocket) sessions; the store carries everything that must survive a
// node. A bus is therefore allowed to lose messages while a subscription is
// broken (Redis pub/sub is at-most-once), and implementations document what
// is lost and when. The memory bus loses nothing.
//
// # Guarantees every implementation gives
//
// The conformance suite in pubsub/pubsubtest checks each of these.
//
//  1. A message published on a channel reaches every subscription of that
//     channel that was active (Subscribe had returned) before Publish was
//     called and is still active, including subscriptions of the publishing
//     node itself, at most once each.
//  2. Messages published by one caller in sequence (one Publish returned
//     before the next was called), through one Bus value or through several
//     Bus values on the same medium, reach each subscription in that order.
//     This holds across the channels of one subscription too: a subscription
//     to channels a and b that is sent m1 on a, then m2 on b, then m3 on a
//     receives m1, m2, m3. (Two subscriptions are two streams: their
//     handlers run independently, so nothing orders one's calls relative to
//     the other's.)
//  3. A handler is never called concurrently with itself; different
//     subscriptions' handlers may run concurrently. Handlers must not block
//     for long: they hold up delivery on their subscription.
//  4. After Unsubscribe returns, the handler is not called again and is no
//     longer running (unless Unsubscribe was called from that handler, which
//     is allowed and does not deadlock).
//  5. Publish does not retain payload after it returns; handlers must
//     neither retain nor modify it (copy what you keep).
//  6. After Close (for buses that are Closers), Publish and Subscribe
//     return errors wrapping ErrClosed; Close is idempotent.
//
// Publish may block while a subscriber is slow (the memory bus applies
// back-pressure); a Publish that fails because its context ended may still
// have reached some subscriptions. A handler must not publish to its own
// subscription's channel without a deadline.
//
// All methods are safe for concurrent use.
package pubsub

import (
	"context"
	"errors"
)

// ErrClosed is returned by a bus that has been closed.
var ErrClosed = errors.New("pubsub: bus closed")

// Handler receives one message. The payload must not be modified, nor
// retained after the handler returns unless copied.
type Handler func(payload []byte)

// Bus is the publish / subscribe contract between nodes.
type Bus interface {
	// Publish sends payload to every current subscription of channel. It
	// returns once the message is handed to the transport (for Redis: once
	// PUBLISH returned); delivery to subscribers is asynchronous.
	Publish(ctx context.Context, channel string, payload []byte) error

	// Subscribe starts delivering the messages of every listed channel (at
	// least one) to h, through one ordered stream: guarantee 2 holds across
	// these channels. A channel listed twice counts once: each message
	// reaches h once. Subscribe returns once the subscription is active on
	// every channel (guarantee 1 holds from then on); if it returns an
	// error, h is never called.
	Subscribe(ctx context.Context, h Handler, channels ...string) (Subscription, error)
}

// Subscription is one active subscription.
type Subscription interface {
	// Unsubscribe stops delivery; it is idempotent.
	Unsubscribe(ctx context.Context) error
}

// IdleSubscriber is implemented by buses that can tell a subscriber when
// it has caught up with its messages, so that it can act once on what a
// run of messages queued (write once to a connection what several
// broadcasts in a row had for it) instead of once per message.
type IdleSubscriber interface {
	// SubscribeIdle is Subscribe with an idle callback. After one or more
	// calls of h, as soon as no further message is queued for the
	// subscription, idle is called: it follows every run of handler calls,
	// and never follows another idle call or starts the subscription.
	// idle runs on the handler's goroutine, so never concurrently with h,
	// and is covered by guarantees 3 and 4 as h is: it must not block for
	// long, and it is neither called nor running after Unsubscribe
	// returns. A bus knows only the messages it has received: one still
	// on its way (in Redis, or in a socket) does not keep idle from being
	// called.
	SubscribeIdle(ctx context.Context, h Handler, idle func(), channels ...string) (Subscription, error)
}

// Closer is implemented by buses that hold resources of their own. The sockjs
// package never closes a bus it was given; the application does.
type Closer interface {
	Close() error
}
