package sockjs

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockjs-cluster/sockjs/store"
	"github.com/sockjs-cluster/sockjs/transports"
)

// item is one queued outgoing message of a websocket session; frame, when
// set, is its shared pre-encoded array frame (broadcasts).
type item struct {
	msg    string
	frame  []byte
	charge int // what it counts against the node's budget (see budget.go)
}

// connSession is a websocket session on the node that holds its
// connection. Its own traffic never waits on the store: sends from this
// node are queued here directly, and other nodes' sends arrive over the bus.
// The store knows the session (for Count, Session(id) and values); the
// hold lives on the node's lease (see lease.go), with no write of its own.
//
// No goroutine waits for the queue. Whoever finds it non-empty while
// nobody writes takes the writer (see claim) and writes until the queue is
// empty: the connection's reader after OnMessage, a timer, or a goroutine
// started by enqueue from elsewhere. So an idle connection has only its
// reader goroutine, and an echo is written without a goroutine switch.
type connSession struct {
	rt     *route
	key    string
	name   string
	kind   transports.Kind
	ctx    context.Context
	handle *Session
	owner  string

	mu        sync.Mutex
	w         transports.BatchWriter // set by Start
	queue     []item
	queued    int          // bytes of the messages in queue
	charged   int          // their charge against the node's budget
	inflight  int          // the charge of the batch being written
	held      atomic.Int64 // charged + inflight, for the node's budget
	closing   *transports.Close
	cause     CloseCause // why closing was set
	sentOpen  bool
	hbDue     bool          // a heartbeat is to be written
	writing   bool          // someone holds the writer
	parked    bool          // the writer goroutine waits for kick
	retire    bool          // the writer goroutine exits after this write
	kick      chan bool     // wakes the parked writer goroutine: to write, or to exit
	inDeliver bool          // the reader runs OnMessage and writes afterwards
	ended     bool          // nothing more is written (Stop or Release)
	idle      chan struct{} // closed when writing ends; for Stop
	lastData  time.Time     // when the writer last took something to write
	hb        *time.Timer

	msgs      []string // the writer's reusable Messages slice
	unflushed bool     // in rt.unflushed; owned by the bus's goroutine
}

// openConn registers a new websocket session bound to this node.
func (rt *route) openConn(ctx context.Context, r *http.Request, id string, kind transports.Kind) (*connSession, error) {
	if kind == transports.KindRawWebSocket {
		id = randomID(16)
	}
	c := &connSession{rt: rt, name: rt.newName(), kind: kind, ctx: ctx}
	opening := requestOf(r)
	meta := rt.storedMeta(opening)
	req := store.OpenRequest{
		Create:   true,
		Meta:     meta,
		Owner:    rt.owner(r),
		Node:     rt.srv.nodeID,
		Idle:     rt.opts.DisconnectDelay,
		Receiver: c.name,
		Holder:   rt.srv.nodeID,
	}
	c.owner = req.Owner
	key := id
	for attempt := 0; ; attempt++ {
		res, err := rt.open(ctx, key, req)
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
	rt.observeOpened(kindTransport(kind))
	c.handle = rt.handle(ctx, id, key, meta, opening)
	c.handle.conn = c
	c.handle.owner = c.owner
	rt.mu.Lock()
	rt.conns[key] = c
	rt.connList = nil
	rt.mu.Unlock()
	if !rt.runOnOpen(c.handle) {
		c.closeWith(CodeServerError, "Internal error")
	}
	if rt.srv.isDraining() {
		// Registered after drainConns looked.
		c.closeWith(CodeGoingAway, "Server shutting down")
	}
	return c, nil
}

// drainConns closes the route's websocket sessions when Shutdown starts.
func (rt *route) drainConns() {
	defer rt.srv.bg.Done()
	<-rt.srv.draining
	rt.mu.Lock()
	conns := rt.connSnapshot()
	rt.mu.Unlock()
	for _, c := range conns {
		c.closeWith(CodeGoingAway, "Server shutting down")
	}
}

// send queues one message from this node.
func (c *connSession) send(msg string) error {
	return c.enqueue(item{msg: msg, charge: len(msg) + itemOverhead}, true)
}

// enqueue queues it and, if write is set, has it written. Callers that
// queue many items in a row pass false and call flush once at the end.
func (c *connSession) enqueue(it item, write bool) error {
	srv := c.rt.srv
	if !srv.reserve(c, int64(it.charge)) {
		c.shed(CodeSlowConsumer, ReasonNodeBudget)
		return ErrSlowConsumer
	}
	c.mu.Lock()
	if c.closing != nil {
		ce := c.closeErrorLocked()
		c.mu.Unlock()
		srv.unreserve(c, int64(it.charge))
		return ce
	}
	if len(c.queue) >= c.rt.opts.MaxQueue || c.queued+len(it.msg) > c.rt.opts.MaxQueueBytes {
		c.closing = &transports.Close{Code: CodeSlowConsumer, Reason: "Slow consumer"}
		c.cause = CauseSlowConsumer
		c.dropQueue()
		c.rt.observeSlow(SlowQueue)
		if c.claim() {
			c.writeAsync()
		}
		c.mu.Unlock()
		srv.unreserve(c, int64(it.charge))
		return ErrSlowConsumer
	}
	c.queue = append(c.queue, it)
	c.queued += len(it.msg)
	c.charged += it.charge
	if write && c.claim() {
		c.writeAsync()
	}
	c.mu.Unlock()
	return nil
}

// flush has what is queued written, by a goroutine of its own, unless
// someone is writing already.
func (c *connSession) flush() {
	c.mu.Lock()
	if c.claim() {
		c.writeAsync()
	}
	c.mu.Unlock()
}

// closeWith has a close frame written and the connection ended.
func (c *connSession) closeWith(code int, reason string) {
	c.closeAs(code, reason, causeOf(code, reason, false))
}

// closeAs is closeWith for a close whose cause is known.
func (c *connSession) closeAs(code int, reason string, cause CloseCause) {
	c.mu.Lock()
	if c.closing == nil {
		c.closing = &transports.Close{Code: code, Reason: reason}
		c.cause = cause
	}
	if c.claim() {
		c.writeAsync()
	}
	c.mu.Unlock()
}

// claim takes the writer if there is something to write and nobody holds
// it; the caller must then call write. c.mu must be held.
func (c *connSession) claim() bool {
	if c.writing || c.inDeliver || c.ended || c.w == nil {
		return false
	}
	pending := len(c.queue) > 0 || c.closing != nil || c.hbDue ||
		(c.kind == transports.KindWebSocket && !c.sentOpen)
	if pending {
		c.writing = true
	}
	return pending
}

// writeAsync has the writer, just claimed, write on a goroutine of its own:
// the parked writer goroutine if there is one, a new one otherwise. c.mu
// must be held.
func (c *connSession) writeAsync() {
	if c.parked {
		c.parked = false
		c.kick <- true // never blocks: the writer took the last one
		return
	}
	go c.writeLoop()
}

// writeLoop is the writer goroutine; it starts holding the writer. Once
// the queue is written it parks, so that a connection written to from
// elsewhere (broadcasts, the bus) does not start a goroutine per write. It
// exits when the connection ends, or when a heartbeat delay passed with
// nothing written (see heartbeat), so that a quiet connection keeps only
// its reader.
func (c *connSession) writeLoop() {
	for {
		c.write()
		c.mu.Lock()
		if c.ended || c.retire || c.parked {
			// Ended, retired, or another writer goroutine is parked.
			c.retire = false
			c.mu.Unlock()
			return
		}
		if c.kick == nil {
			c.kick = make(chan bool, 1)
		}
		c.parked = true
		kick := c.kick
		c.mu.Unlock()
		if work := <-kick; !work {
			return
		}
	}
}

// end lets nothing more be written and has a parked writer exit. c.mu
// must be held.
func (c *connSession) end() {
	c.ended = true
	if c.parked {
		c.parked = false
		c.kick <- false
	}
}

// maxKeptMessages bounds the Messages slice a connection keeps for its
// next batch, so that a burst does not leave every connection holding a
// large one.
const maxKeptMessages = 64

// write writes batches until the queue is empty, then lets the writer go.
// Only the holder of the writer calls it.
func (c *connSession) write() {
	for {
		b, ok := c.take()
		if !ok {
			return
		}
		ended := c.w.WriteBatch(b)
		c.mu.Lock()
		written := c.inflight
		c.inflight = 0
		c.mu.Unlock()
		c.rt.srv.unreserve(c, int64(written))
		if b.Messages != nil && cap(b.Messages) <= maxKeptMessages {
			clear(b.Messages)
			c.msgs = b.Messages[:0]
		}
		if ended {
			c.mu.Lock()
			c.end()
			c.letGo()
			c.mu.Unlock()
			return
		}
	}
}

// take returns the next batch to write; when there is none (or nothing
// more may be written) it lets the writer go and returns false.
func (c *connSession) take() (transports.Batch, bool) {
	var b transports.Batch
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		c.letGo()
		return b, false
	}
	if c.kind == transports.KindWebSocket && !c.sentOpen {
		c.sentOpen = true
		b.Open = true
	}
	if n := len(c.queue); n > 0 {
		// Raw websockets carry bare messages, never SockJS frames.
		if n == 1 && c.queue[0].frame != nil && c.kind == transports.KindWebSocket {
			b.Frame = c.queue[0].frame
		} else {
			b.Messages = c.msgs[:0]
			for _, it := range c.queue {
				b.Messages = append(b.Messages, it.msg)
			}
			c.msgs = nil
		}
		c.rt.observeSent(kindTransport(c.kind), n, c.queued)
		clear(c.queue)
		c.queue = c.queue[:0]
		c.queued = 0
		c.inflight += c.charged
		c.charged = 0
	}
	b.Close = c.closing
	if b.Open || b.Frame != nil || b.Messages != nil || b.Close != nil {
		c.hbDue = false
		c.lastData = time.Now()
		return b, true
	}
	if c.hbDue {
		c.hbDue = false
		c.lastData = time.Now()
		return transports.Batch{Heartbeat: true}, true
	}
	c.letGo()
	return b, false
}

// letGo releases the writer; c.mu must be held.
func (c *connSession) letGo() {
	c.writing = false
	if c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
}

// Start implements transports.ConnReceiver: it writes the open frame and
// whatever OnOpen sent, and starts the heartbeat timer.
func (c *connSession) Start(w transports.BatchWriter) {
	opts := &c.rt.opts
	c.mu.Lock()
	c.w = w
	c.lastData = time.Now()
	c.hb = time.AfterFunc(opts.HeartbeatDelay, c.heartbeat)
	start := c.claim()
	c.mu.Unlock()
	if start {
		c.write()
	}
}

// heartbeat runs when HeartbeatDelay may have passed without a write: it
// writes a heartbeat if so, and waits for the rest of the delay otherwise.
// Re-arming the timer here rather than on every write keeps timer updates
// off the write path.
func (c *connSession) heartbeat() {
	delay := c.rt.opts.HeartbeatDelay
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	if quiet := time.Since(c.lastData); quiet < delay {
		c.hb.Reset(delay - quiet)
		c.mu.Unlock()
		return
	}
	c.hbDue = true
	c.hb.Reset(delay)
	if c.parked {
		// Quiet for a whole delay: the parked writer writes the
		// heartbeat and exits.
		c.retire = c.claim()
		if c.retire {
			c.writeAsync()
		}
		c.mu.Unlock()
		return
	}
	start := c.claim()
	c.mu.Unlock()
	if start {
		c.write() // on the timer's own goroutine
	}
}

// Next implements transports.Receiver. A websocket session is never
// polled; see Start.
func (c *connSession) Next(ctx context.Context) (transports.Batch, error) {
	return transports.Batch{}, errors.New("sockjs: websocket sessions are not polled")
}

// Stop implements transports.ConnReceiver: it waits for a write in
// progress, then lets nothing more be written.
func (c *connSession) Stop() {
	c.mu.Lock()
	var idle chan struct{}
	if c.writing {
		if c.idle == nil {
			c.idle = make(chan struct{})
		}
		idle = c.idle
	}
	c.end()
	c.mu.Unlock()
	if idle != nil {
		<-idle
	}
	c.stopTimers()
}

// stopTimers stops the heartbeat. c.ended must be set.
func (c *connSession) stopTimers() {
	c.mu.Lock()
	hb := c.hb
	c.mu.Unlock()
	if hb != nil {
		hb.Stop()
	}
}

// Deliver implements transports.Receiver: the client's messages go to
// OnMessage, in order, on the connection's reader goroutine, which then
// writes what was queued meanwhile unless someone else is writing. While
// OnMessage runs, nothing is written to its connection: its replies, and
// what others send it, go out together when it returns.
func (c *connSession) Deliver(ctx context.Context, msgs []string) error {
	c.rt.observeReceived(kindTransport(c.kind), len(msgs))
	c.mu.Lock()
	c.inDeliver = true
	c.mu.Unlock()
	for _, m := range msgs {
		if !c.rt.runOnMessage(c.handle, m) {
			c.mu.Lock()
			c.inDeliver = false
			c.mu.Unlock()
			c.closeWith(CodeServerError, "Internal error")
			return errors.New("sockjs: OnMessage panicked")
		}
	}
	c.mu.Lock()
	c.inDeliver = false
	start := c.claim()
	c.mu.Unlock()
	if start {
		c.write()
	}
	return nil
}

// Release implements transports.Receiver: the connection is over, and so
// is the session.
func (c *connSession) Release(aborted bool) {
	rt := c.rt
	defer rt.srv.leave()
	rt.reapSoon.Store(true)
	c.mu.Lock()
	c.end()
	c.dropQueue()
	c.mu.Unlock()
	c.stopTimers()
	rt.mu.Lock()
	if rt.conns[c.key] == c {
		delete(rt.conns, c.key)
		rt.connList = nil
	}
	rt.mu.Unlock()

	c.mu.Lock()
	code, reason := CodeNormal, reasonClientClosed
	if c.closing != nil {
		code, reason = c.closing.Code, c.closing.Reason
	} else {
		c.closing = &transports.Close{Code: code, Reason: reason}
		c.cause = CauseClient
	}
	ce := c.closeErrorLocked()
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
		rt.observeClosed(kindTransport(c.kind), code)
		s := rt.handle(ctx, c.handle.id, c.key, c.handle.meta, c.handle.request)
		s.conn = c
		s.owner = c.owner
		c.handle.setClosed(ce)
		rt.runOnClose(s, ce)
	}
	if err := rt.store.Release(ctx, rt.name, c.key, c.name, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		rt.log.Warn("sockjs: releasing websocket session", "session", c.key, "err", err)
	}
}
