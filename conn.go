package sockjs

import (
	"context"
	"errors"
	"net/http"
	"time"

	"sync"

	"github.com/sockjs-cluster/sockjs/store"
	"github.com/sockjs-cluster/sockjs/transports"
)

// item is one queued outgoing message of a websocket session; frame, when
// set, is its shared pre-encoded array frame (broadcasts).
type item struct {
	msg   string
	frame []byte
}

// connSession is a websocket session on the node that holds its
// connection. Its own traffic never waits on the store: sends from this
// node are queued here directly, and other nodes' sends arrive over the bus.
// The store knows the session (for Count, Session(id) and values) and
// holds its lease, renewed in the background.
type connSession struct {
	rt     *route
	key    string
	name   string
	kind   transports.Kind
	ctx    context.Context
	handle *Session

	mu      sync.Mutex
	queue   []item
	closing *transports.Close
	notify  chan struct{}

	// owned by the writer goroutine
	sentOpen bool
	hb       *time.Timer
	renew    *time.Ticker
}

// openConn registers a new websocket session bound to this node.
func (rt *route) openConn(ctx context.Context, r *http.Request, id string, kind transports.Kind) (*connSession, error) {
	if kind == transports.KindRawWebSocket {
		id = randomID(16)
	}
	c := &connSession{
		rt: rt, name: rt.newName(), kind: kind, ctx: ctx,
		notify: make(chan struct{}, 1),
	}
	opening := requestOf(r)
	meta := encodeMeta(opening)
	req := store.OpenRequest{
		Create:   true,
		Meta:     meta,
		Owner:    rt.owner(r),
		Node:     rt.srv.nodeID,
		Idle:     rt.opts.DisconnectDelay,
		Receiver: c.name,
		Lease:    rt.opts.ReceiverLease,
	}
	key := id
	for attempt := 0; ; attempt++ {
		res, err := rt.store.Open(ctx, rt.name, key, req)
		if err == nil && res.Created {
			break
		}
		if err != nil && !errors.Is(err, store.ErrReceiverBusy) && !errors.Is(err, store.ErrNotFound) {
			return nil, storeErr("open session", err)
		}
		if err == nil && res.Attached {
			// An older session has this id; leave it as it was.
			_ = rt.store.Release(ctx, rt.name, key, c.name, rt.opts.DisconnectDelay)
		}
		if attempt > 0 {
			return nil, errors.New("sockjs: could not register websocket session")
		}
		// The protocol lets websocket sessions reuse a live id (and an id
		// bound to another identity is none of this client's business):
		// register this one under a unique key.
		key = id + keySep + randomID(8)
	}
	c.key = key
	c.handle = rt.handle(ctx, id, key, meta, opening)
	c.handle.conn = c
	rt.mu.Lock()
	rt.conns[key] = c
	rt.mu.Unlock()
	if !rt.runOnOpen(c.handle) {
		c.closeWith(CodeServerError, "Internal error")
	}
	return c, nil
}

func (c *connSession) wakeUp() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// send queues one message from this node.
func (c *connSession) send(msg string) error {
	return c.enqueue(item{msg: msg})
}

func (c *connSession) enqueue(it item) error {
	c.mu.Lock()
	if c.closing != nil {
		c.mu.Unlock()
		return ErrSessionClosed
	}
	if len(c.queue) >= c.rt.opts.MaxQueue {
		c.closing = &transports.Close{Code: CodeSlowConsumer, Reason: "Slow consumer"}
		c.mu.Unlock()
		c.wakeUp()
		return ErrSlowConsumer
	}
	c.queue = append(c.queue, it)
	c.mu.Unlock()
	c.wakeUp()
	return nil
}

// closeWith asks the writer to send a close frame and end the connection.
func (c *connSession) closeWith(code int, reason string) {
	c.mu.Lock()
	if c.closing == nil {
		c.closing = &transports.Close{Code: code, Reason: reason}
	}
	c.mu.Unlock()
	c.wakeUp()
}

// Next implements transports.Receiver.
func (c *connSession) Next(ctx context.Context) (transports.Batch, error) {
	var b transports.Batch
	if c.kind == transports.KindWebSocket && !c.sentOpen {
		c.sentOpen = true
		b.Open = true
	}
	opts := &c.rt.opts
	if c.hb == nil {
		c.hb = time.NewTimer(opts.HeartbeatDelay)
		c.renew = time.NewTicker(opts.ReceiverLease / 3)
	} else {
		c.hb.Reset(opts.HeartbeatDelay)
	}
	for {
		c.mu.Lock()
		if n := len(c.queue); n > 0 {
			// Raw websockets carry bare messages, never SockJS frames.
			if n == 1 && c.queue[0].frame != nil && c.kind == transports.KindWebSocket {
				b.Frame = c.queue[0].frame
			} else {
				b.Messages = make([]string, n)
				for i, it := range c.queue {
					b.Messages[i] = it.msg
				}
			}
			clear(c.queue)
			c.queue = c.queue[:0]
		}
		b.Close = c.closing
		c.mu.Unlock()
		if b.Open || b.Frame != nil || b.Messages != nil || b.Close != nil {
			return b, nil
		}
		select {
		case <-c.notify:
		case <-c.hb.C:
			return transports.Batch{Heartbeat: true}, nil
		case <-c.renew.C:
			c.renewLease(ctx)
		case <-ctx.Done():
			return b, ctx.Err()
		case <-c.rt.srv.draining:
			c.closeWith(CodeGoingAway, "Server shutting down")
		}
	}
}

func (c *connSession) renewLease(ctx context.Context) {
	opts := &c.rt.opts
	_, err := c.rt.store.Pull(ctx, c.rt.name, c.key, store.PullRequest{
		Receiver: c.name, Lease: opts.ReceiverLease, Idle: opts.DisconnectDelay,
	})
	if err != nil && ctx.Err() == nil {
		c.rt.log.Warn("sockjs: renewing websocket session", "session", c.key, "err", err)
	}
}

// Deliver implements transports.Receiver: the client's messages go to
// OnMessage, in order, on the connection's reader goroutine.
func (c *connSession) Deliver(ctx context.Context, msgs []string) error {
	for _, m := range msgs {
		if !c.rt.runOnMessage(c.handle, m) {
			c.closeWith(CodeServerError, "Internal error")
			return errors.New("sockjs: OnMessage panicked")
		}
	}
	return nil
}

// Release implements transports.Receiver: the connection is over, and so
// is the session.
func (c *connSession) Release(aborted bool) {
	rt := c.rt
	defer rt.srv.leave()
	if c.hb != nil {
		c.hb.Stop()
		c.renew.Stop()
	}
	rt.mu.Lock()
	if rt.conns[c.key] == c {
		delete(rt.conns, c.key)
	}
	rt.mu.Unlock()

	c.mu.Lock()
	code, reason := CodeNormal, "Connection closed"
	if c.closing != nil {
		code, reason = c.closing.Code, c.closing.Reason
	} else {
		c.closing = &transports.Close{Code: code, Reason: reason}
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), rt.opts.WriteTimeout)
	defer cancel()
	_, closed, err := rt.store.CloseSession(ctx, rt.name, c.key, code, reason, 0)
	if err != nil {
		// The lease lapses and the reaper runs OnClose once the store is back.
		rt.log.Warn("sockjs: closing websocket session", "session", c.key, "err", err)
		return
	}
	if closed {
		// The connection's context is over; OnClose gets the release's.
		s := rt.handle(ctx, c.handle.id, c.key, c.handle.meta, c.handle.request)
		s.conn = c
		rt.runOnClose(s)
	}
	if err := rt.store.Release(ctx, rt.name, c.key, c.name, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		rt.log.Warn("sockjs: releasing websocket session", "session", c.key, "err", err)
	}
}
