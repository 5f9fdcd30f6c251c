package sockjs

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs/internal/frame"
	"github.com/sockjs-cluster/sockjs/internal/httpx"
	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/store"
	"github.com/sockjs-cluster/sockjs/transports"
)

// route is one SockJS endpoint on one node.
type route struct {
	srv    *Server
	name   string
	prefix string
	h      Handler
	opts   Options
	store  store.Store
	bus    pubsub.Bus
	log    *slog.Logger
	mgr    *Manager
	tcfg   transports.Config
	cors   func(string) bool

	iframe     []byte
	iframeETag string
	transports map[string]transportFunc

	recvSeq atomic.Uint64
	known   knownSessions // sessions recently seen open, for Send

	epoch atomic.Uint64 // this node's epoch on the route (0 before the first renewal)
	ops   routeOps      // readiness (ready.go)

	reapSoon atomic.Bool // this node created or let go of a session: reap at the short period

	sendFails sync.Map // sessions whose failed sends were logged (sendFailed)

	refused refusals // rate limits of the refusal logs (refuse.go)

	batchMu    sync.Mutex
	batches    map[*sendBatch]struct{} // xhr_send requests' pending sends (batch.go)
	batchCount atomic.Int32

	mu        sync.Mutex
	receivers map[string]map[*receiver]struct{} // local attached or attaching receivers, by store key
	byName    map[string]*receiver
	conns     map[string]*connSession // local websocket sessions, by store key
	connList  []*connSession          // conns as a slice, never modified once built; nil when out of date
	subs      []pubsub.Subscription

	// busIdle is set when the bus calls onBusIdle: the subscription's
	// handler then queues messages for websocket sessions without writing
	// them, and unflushed (owned by the handler's goroutine) lists the
	// sessions to write once the bus has no more messages.
	busIdle   bool
	unflushed []*connSession
}

// writeBufferPool is shared by every route's websocket connections.
var writeBufferPool sync.Pool

type transportFunc struct {
	method string
	serve  func(cfg *transports.Config, s transports.Sessions, w http.ResponseWriter, r *http.Request, id string)
}

func newRoute(srv *Server, name, prefix string, h Handler, opts Options) *route {
	opts = opts.withDefaults()
	rt := &route{
		srv:       srv,
		name:      name,
		prefix:    prefix,
		h:         h,
		opts:      opts,
		store:     opts.Store,
		bus:       opts.Bus,
		log:       srv.log.With("route", name),
		receivers: map[string]map[*receiver]struct{}{},
		byName:    map[string]*receiver{},
		conns:     map[string]*connSession{},
	}
	// Set before the route subscribes: its subscription reads the token.
	rt.ops.token = randomID(8)
	rt.ops.started = mono()
	if rt.store == nil {
		rt.store = srv.cfg.Store
	}
	rt.store = observeStore(rt.store, srv.cfg.Observer)
	if rt.bus == nil {
		rt.bus = srv.cfg.Bus
	}
	rt.mgr = &Manager{rt: rt, srv: srv, name: name}
	if len(opts.CORSOrigins) > 0 {
		allowed := opts.CORSOrigins
		rt.cors = func(o string) bool { return slices.Contains(allowed, o) }
	}
	rt.tcfg = transports.Config{
		ResponseLimit:  opts.ResponseLimit,
		MaxBodySize:    opts.MaxBodySize,
		BodyTimeout:    opts.SendTimeout,
		MaxMessageSize: opts.MaxMessageSize,
		MessageTimeout: opts.MessageTimeout,
		WriteTimeout:   opts.WriteTimeout,
		Prepare:        rt.prepare,
		Upgrader: &websocket.Upgrader{
			HandshakeTimeout: opts.WriteTimeout,
			CheckOrigin:      rt.checkOrigin,
			ReadBufferSize:   1024,
			WriteBufferSize:  4096,
			// Idle connections hold no write buffer: one is taken from
			// the pool for each write.
			WriteBufferPool: &writeBufferPool,
		},
		Logger: rt.log,
	}
	rt.iframe = []byte(fmt.Sprintf(iframeTemplate, html.EscapeString(opts.SockJSURL)))
	sum := md5.Sum(rt.iframe)
	rt.iframeETag = `"` + hex.EncodeToString(sum[:]) + `"`

	disabled := func(name string) bool { return slices.Contains(opts.DisabledTransports, name) }
	rt.transports = map[string]transportFunc{}
	if !opts.DisableWebSocket && !disabled(TransportWebSocket) {
		rt.transports["websocket"] = transportFunc{http.MethodGet, transports.WebSocket}
	}
	if !disabled(TransportXHR) {
		rt.transports["xhr"] = transportFunc{http.MethodPost, transports.XHRPolling}
	}
	rt.transports["xhr_send"] = transportFunc{http.MethodPost, transports.XHRSend}
	if !disabled(TransportXHRStreaming) {
		rt.transports["xhr_streaming"] = transportFunc{http.MethodPost, transports.XHRStreaming}
	}
	if !disabled(TransportEventSource) {
		rt.transports["eventsource"] = transportFunc{http.MethodGet, transports.EventSource}
	}
	if !disabled(TransportHTMLFile) {
		rt.transports["htmlfile"] = transportFunc{http.MethodGet, transports.HTMLFile}
	}
	if !disabled(TransportJSONP) {
		rt.transports["jsonp"] = transportFunc{http.MethodGet, transports.JSONP}
		rt.transports["jsonp_send"] = transportFunc{http.MethodPost, transports.JSONPSend}
	}
	return rt
}

// start subscribes the route to the bus and starts its reaper. One
// subscription carries both this node's messages and the route's
// broadcasts, so that what one node sends in order arrives in order.
func (rt *route) start(ctx context.Context) error {
	channels := []string{rt.nodeChannel(rt.srv.nodeID), rt.broadcastChannel()}
	var (
		sub pubsub.Subscription
		err error
	)
	if is, ok := rt.bus.(pubsub.IdleSubscriber); ok {
		rt.busIdle = true
		sub, err = is.SubscribeIdle(ctx, rt.onBusMessage, rt.onBusIdle, channels...)
	} else {
		sub, err = rt.bus.Subscribe(ctx, rt.onBusMessage, channels...)
	}
	if err != nil {
		return fmt.Errorf("sockjs: route %q: subscribe: %w", rt.name, err)
	}
	rt.mu.Lock()
	rt.subs = []pubsub.Subscription{sub}
	rt.mu.Unlock()
	// The node's lease, before any request may hold a session; should the
	// store fail now, leaseLoop keeps trying (holds are refused meanwhile).
	if err := rt.renewNode(ctx, true); err != nil {
		rt.log.Warn("sockjs: taking the node lease failed; retrying", "err", err)
	}
	rt.srv.bg.Add(3)
	go rt.reapLoop()
	go rt.drainConns()
	go rt.leaseLoop()
	rt.startPing()
	return nil
}

// stop unsubscribes the route from the bus and gives the node's lease up:
// it is renewed for a millisecond, so that whatever this node still held
// is handed back to the other nodes' reapers at once.
func (rt *route) stop(ctx context.Context) {
	if rt.epoch.Load() != 0 {
		if _, err := rt.store.RenewNode(ctx, rt.name, rt.srv.nodeID, store.NodeRequest{Lease: time.Millisecond}); err != nil && ctx.Err() == nil {
			rt.log.Warn("sockjs: giving the node lease up", "err", err)
		}
	}
	rt.mu.Lock()
	subs := rt.subs
	rt.subs = nil
	rt.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe(ctx)
	}
}

func (rt *route) nodeChannel(node string) string {
	return "sockjs/" + rt.name + "/node/" + node
}

func (rt *route) broadcastChannel() string { return "sockjs/" + rt.name + "/broadcast" }

// prepare sets the headers every session response shares.
func (rt *route) prepare(w http.ResponseWriter, r *http.Request) {
	httpx.CORS(w.Header(), r, rt.cors)
	if rt.opts.JSessionID != nil {
		rt.opts.JSessionID(w, r)
	}
}

// checkOrigin applies the route's websocket origin policy, and logs what
// it refuses.
func (rt *route) checkOrigin(r *http.Request) bool {
	ok, why := rt.originAllowed(r)
	if !ok {
		rt.logOriginRefused(r, why)
	}
	return ok
}

// originAllowed decides a websocket origin, saying why when it refuses.
func (rt *route) originAllowed(r *http.Request) (bool, string) {
	if rt.opts.InsecureSkipOriginCheck {
		return true, ""
	}
	if rt.opts.CheckOrigin != nil {
		return rt.opts.CheckOrigin(r), "Options.CheckOrigin refused it"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true, "" // not a browser
	}
	if slices.Contains(rt.opts.WebSocketOrigins, origin) {
		return true, ""
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false, "malformed Origin header"
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return false, "not the request's host and not in Options.WebSocketOrigins"
	}
	return true, ""
}

// ServeHTTP routes one request under the route's prefix.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, rt.prefix)
	if !ok {
		httpx.NotFound(w)
		return
	}
	switch {
	case rest == "" || rest == "/":
		rt.serveGreeting(w, r)
		return
	case rest == "/info":
		rt.serveInfo(w, r)
		return
	case isIframePath(rest):
		rt.serveIframe(w, r)
		return
	case rest == "/websocket":
		if !rt.opts.RawWebSocket || rt.transports["websocket"].serve == nil {
			httpx.NotFound(w)
			return
		}
		if r.Method != http.MethodGet {
			httpx.MethodNotAllowed(w, "GET")
			return
		}
		if rt.refuseWebSocket(w, r) {
			return
		}
		transports.RawWebSocket(&rt.tcfg, rt, w, r)
		return
	}
	id, transport, ok := parseSessionPath(rest)
	if !ok || len(id) > rt.opts.MaxSessionID {
		httpx.NotFound(w)
		return
	}
	t, ok := rt.transports[transport]
	if !ok {
		httpx.NotFound(w)
		return
	}
	if transport != "websocket" && httpx.IsWebSocketUpgrade(r) {
		httpx.Text(w, http.StatusBadRequest, "Can \"Upgrade\" only to \"WebSocket\" on a websocket URL.")
		return
	}
	switch {
	case r.Method == t.method:
		if transport == "websocket" && rt.refuseWebSocket(w, r) {
			return
		}
		t.serve(&rt.tcfg, rt, w, r, id)
	case r.Method == http.MethodOptions && t.method == http.MethodPost:
		httpx.Preflight(w, r, "OPTIONS, POST", rt.cors)
	default:
		allow := t.method
		if t.method == http.MethodPost {
			allow = "OPTIONS, POST"
		}
		httpx.MethodNotAllowed(w, allow)
	}
}

// parseSessionPath splits "/{server}/{session}/{transport}" (escaped form):
// three non-empty segments, none containing a dot.
func parseSessionPath(p string) (id, transport string, ok bool) {
	if len(p) < 2 || p[0] != '/' {
		return "", "", false
	}
	parts := strings.Split(p[1:], "/")
	if len(parts) != 3 {
		return "", "", false
	}
	for _, s := range parts {
		if s == "" || strings.Contains(s, ".") {
			return "", "", false
		}
	}
	id, err := url.PathUnescape(parts[1])
	if err != nil || id == "" || strings.Contains(id, ".") || strings.ContainsFunc(id, isControl) {
		return "", "", false
	}
	return id, parts[2], true
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isIframePath matches /iframe.html and versioned forms like
// /iframe-0.1.2.html.
func isIframePath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/iframe")
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, ".html")
	if !ok {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func (rt *route) serveGreeting(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		httpx.MethodNotAllowed(w, "GET")
		return
	}
	httpx.Text(w, http.StatusOK, "Welcome to SockJS!\n")
}

func (rt *route) serveInfo(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodOptions:
		httpx.Preflight(w, r, "OPTIONS, GET", rt.cors)
		return
	default:
		httpx.MethodNotAllowed(w, "OPTIONS, GET")
		return
	}
	var e [4]byte
	_, _ = rand.Read(e[:])
	body := fmt.Sprintf(`{"websocket":%t,"origins":["*:*"],"cookie_needed":%t,"entropy":%d}`,
		rt.transports["websocket"].serve != nil, rt.opts.JSessionID != nil, binary.BigEndian.Uint32(e[:]))
	h := w.Header()
	httpx.CORS(h, r, rt.cors)
	httpx.NoCache(h)
	h.Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

const iframeTemplate = `<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="%s"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>`

func (rt *route) serveIframe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		httpx.MethodNotAllowed(w, "GET")
		return
	}
	h := w.Header()
	httpx.CacheForever(h)
	h.Set("ETag", rt.iframeETag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, rt.iframeETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(rt.iframe)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// ---- transports.Sessions ----

var errDraining = errors.New("sockjs: node shutting down")

// Receive implements transports.Sessions.
func (rt *route) Receive(ctx context.Context, r *http.Request, id string, kind transports.Kind) (transports.Receiver, error) {
	if !rt.srv.enter() {
		return nil, errDraining
	}
	var (
		rc  transports.Receiver
		err error
	)
	switch kind {
	case transports.KindWebSocket, transports.KindRawWebSocket:
		rc, err = rt.openConn(ctx, r, id, kind)
	default:
		rc, err = rt.attach(ctx, r, id, kind)
	}
	if err != nil {
		rt.srv.leave()
		return nil, err
	}
	return rc, nil
}

// Send implements transports.Sessions: messages from xhr_send/jsonp_send.
func (rt *route) Send(ctx context.Context, r *http.Request, id string, msgs []string) error {
	rt.observeReceived(transportOf(r), len(msgs))
	owner := rt.owner(r)
	meta, ok := rt.known.get(id, owner, time.Now())
	if !ok {
		rec, err := rt.store.Get(ctx, rt.name, id)
		if errors.Is(err, store.ErrNotFound) {
			return transports.ErrNotFound
		}
		if err != nil {
			return err
		}
		if rec.Owner != owner {
			return transports.ErrNotFound // bound to another identity
		}
		if rec.State != store.StateOpen {
			return nil // the protocol drops messages sent to a closed session
		}
		meta = rec.Meta
		if rec.Node == "" {
			rt.known.put(id, owner, meta, time.Now())
		}
	}
	s := rt.handle(ctx, id, id, meta, nil)
	s.owner = owner
	s.batch = rt.beginBatch(id)
	for _, m := range msgs {
		if !rt.runOnMessage(s, m) {
			_ = s.batch.end(ctx)
			return rt.closeSession(ctx, id, CodeServerError, "Internal error")
		}
	}
	// The request fails (5xx) when what its messages sent could not be
	// stored: the client must not believe the exchange went through.
	return s.batch.end(ctx)
}

// ---- delivery ----

// push stores unicast messages for a session and wakes whoever must deliver
// them.
func (rt *route) push(ctx context.Context, key string, msgs []string) error {
	rt.flushBatches(ctx)
	return rt.pushNow(ctx, key, msgs)
}

// pushNow is push without flushing the pending batches first.
func (rt *route) pushNow(ctx context.Context, key string, msgs []string) error {
	res, err := rt.store.Push(ctx, rt.name, key, msgs)
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrClosed) && ctx.Err() == nil {
		rt.sendFailed(key, err)
	}
	if errors.Is(err, store.ErrQueueFull) {
		rt.observeSlow(SlowStoreQueue)
		_ = rt.closeSession(ctx, key, CodeSlowConsumer, "Slow consumer")
	}
	if err != nil {
		return storeErr("send", err)
	}
	switch {
	case res.Node != "":
		return rt.toNode(ctx, res.Node, encodeDeliver(key, msgs))
	case res.Receiver != "" && res.First != 0:
		// The receiver may write these itself rather than pull them.
		node := nodeOf(res.Receiver)
		if node == rt.srv.nodeID {
			rt.offer(key, res.Receiver, res.First, res.Prev, msgs)
			return nil
		}
		if size(msgs) <= maxOffer {
			return rt.toNode(ctx, node, encodeOffer(key, res.Receiver, res.First, res.Prev, msgs))
		}
		return rt.toNode(ctx, node, encodeWake(key))
	case res.Receiver != "":
		return rt.toNode(ctx, nodeOf(res.Receiver), encodeWake(key))
	}
	return nil
}

// sendFailed logs a send the store refused (its queue bound, the store out
// of memory, unreachable), once per session: the sender gets the error
// too, and an xhr_send whose messages it was answers 503.
func (rt *route) sendFailed(key string, err error) {
	if _, logged := rt.sendFails.LoadOrStore(key, struct{}{}); !logged {
		rt.log.Warn("sockjs: a message for the session could not be stored; the sender got the error (later failures of this session are not logged)", "session", key, "err", err)
	}
}

// maxOffer is the most message bytes a push hands a remote receiver over
// the bus; a larger push only wakes it, and it pulls them from the store.
const maxOffer = 16 << 10

func size(msgs []string) int {
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	return n
}

// offer hands messages just pushed to session key to its receiver on this
// node, or wakes the session's receivers when that one is gone.
func (rt *route) offer(key, receiver string, first, prev uint64, msgs []string) {
	rt.mu.Lock()
	rc := rt.byName[receiver]
	rt.mu.Unlock()
	if rc == nil || rc.key != key {
		rt.wakeKey(key)
		return
	}
	rc.offer(pushed{first: first, prev: prev, msgs: msgs})
}

// closeSession closes a session in the store, runs OnClose when this call
// closed it, and tells its receiver.
func (rt *route) closeSession(ctx context.Context, key string, code int, reason string) error {
	return rt.closeSessionAs(ctx, key, code, reason, causeOf(code, reason, false))
}

// closeSessionAs is closeSession for a close whose cause is known.
func (rt *route) closeSessionAs(ctx context.Context, key string, code int, reason string, cause CloseCause) error {
	rt.flushBatches(ctx)
	if c := rt.conn(key); c != nil {
		c.closeAs(code, reason, cause)
		return nil
	}
	rec, closed, err := rt.store.CloseSession(ctx, rt.name, key, code, reason, rt.opts.DisconnectDelay)
	if err != nil {
		return storeErr("close", err)
	}
	if closed {
		rt.reapSoon.Store(true)
		rt.forget(ctx, key)
		rt.observeClosedMeta(rec.Meta, code)
		s := rt.handle(ctx, publicID(key), key, rec.Meta, nil)
		s.owner = rec.Owner
		rt.runOnClose(s, &CloseError{Code: code, Reason: reason, Cause: cause})
	}
	switch {
	case rec.Node != "":
		return rt.toNode(ctx, rec.Node, encodeClose(key, code, reason))
	case rec.Receiver != "":
		return rt.toNode(ctx, nodeOf(rec.Receiver), encodeWake(key))
	}
	return nil
}

// forget tells every node that session key is no longer open.
func (rt *route) forget(ctx context.Context, key string) {
	rt.known.forget(key)
	rt.sendFails.Delete(key)
	if err := rt.publish(ctx, rt.broadcastChannel(), encodeForget(key)); err != nil && ctx.Err() == nil {
		rt.log.Warn("sockjs: announcing a closed session", "session", key, "err", err)
	}
}

// runOnClose runs OnClose with ce as the handle's Err.
func (rt *route) runOnClose(s *Session, ce *CloseError) {
	s.setClosed(ce)
	defer func() {
		if p := recover(); p != nil {
			rt.log.Error("sockjs: OnClose panicked", "session", s.id, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	rt.h.OnClose(s)
}

// broadcast stores msg in the route's log, delivers it to this node's
// sessions at once and tells the other nodes.
func (rt *route) broadcast(ctx context.Context, msg string) error {
	rt.flushBatches(ctx)
	seq, err := rt.store.Publish(ctx, rt.name, msg)
	if err != nil {
		return storeErr("broadcast", err)
	}
	rt.observeBroadcast()
	rt.deliverBroadcast(seq, msg, false)
	if err := rt.publish(ctx, rt.broadcastChannel(), encodeBroadcast(rt.srv.nodeID, seq, msg)); err != nil {
		return fmt.Errorf("sockjs: broadcast: %w", err)
	}
	return nil
}

// deliverBroadcast hands a broadcast to this node's websocket sessions
// (encoded once for all of them) and offers it to its HTTP receivers,
// which pull it from the store's log unless it directly follows what they
// have (see store.Store.Publish). With later set (on the bus's goroutine,
// see busIdle), the websocket sessions are written by onBusIdle.
func (rt *route) deliverBroadcast(seq uint64, msg string, later bool) {
	f := frame.AppendMessages(nil, []string{msg})
	rt.mu.Lock()
	conns := rt.connSnapshot()
	var wake []*receiver
	for _, set := range rt.receivers {
		for rc := range set {
			wake = append(wake, rc)
		}
	}
	rt.mu.Unlock()
	// The frame is shared: each session is charged its part of it.
	charge := itemOverhead
	if len(conns) > 0 {
		charge += len(f) / len(conns)
	}
	for _, c := range conns {
		if c.enqueue(item{msg: msg, frame: f, charge: charge}, !later) == nil && later {
			rt.flushLater(c)
		}
	}
	var offer pushed
	if seq > 0 {
		offer = pushed{first: seq, prev: seq - 1, msgs: []string{msg}}
	}
	for _, rc := range wake {
		if seq > 0 {
			rc.offer(offer)
		} else {
			rc.wakeUp()
		}
	}
}

// connSnapshot returns the local websocket sessions; the slice must not be
// modified. rt.mu must be held.
func (rt *route) connSnapshot() []*connSession {
	if rt.connList == nil && len(rt.conns) > 0 {
		rt.connList = make([]*connSession, 0, len(rt.conns))
		for _, c := range rt.conns {
			rt.connList = append(rt.connList, c)
		}
	}
	return rt.connList
}

// flushLater has c written by onBusIdle. Only the bus's goroutine calls it.
func (rt *route) flushLater(c *connSession) {
	if !c.unflushed {
		c.unflushed = true
		rt.unflushed = append(rt.unflushed, c)
	}
}

// onBusIdle writes what the bus's messages queued for websocket sessions,
// once the bus has no more: a run of broadcasts goes out as one write per
// connection rather than one per broadcast.
func (rt *route) onBusIdle() {
	for i, c := range rt.unflushed {
		c.unflushed = false
		c.flush()
		rt.unflushed[i] = nil
	}
	rt.unflushed = rt.unflushed[:0]
}

// conn returns this node's websocket session stored under key, or nil.
func (rt *route) conn(key string) *connSession {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.conns[key]
}

// toNode sends a node message, handling it in place when the node is this
// one.
func (rt *route) toNode(ctx context.Context, node string, payload []byte) error {
	if node == rt.srv.nodeID {
		rt.onNodeMessage(payload)
		return nil
	}
	if err := rt.publish(ctx, rt.nodeChannel(node), payload); err != nil {
		return fmt.Errorf("sockjs: notify node %s: %w", node, err)
	}
	return nil
}

// onBusMessage handles everything the route's subscription receives, in
// order: broadcasts and this node's messages.
func (rt *route) onBusMessage(payload []byte) {
	rt.srv.pausePoint()
	if len(payload) > 0 && payload[0] == msgBroadcast {
		rt.onBroadcastMessage(payload)
		return
	}
	rt.handleNodeMessage(payload, rt.busIdle)
}

func (rt *route) onNodeMessage(payload []byte) { rt.handleNodeMessage(payload, false) }

// handleNodeMessage handles a message to this node; with later set (on the
// bus's goroutine, see busIdle), messages for websocket sessions are
// written by onBusIdle.
func (rt *route) handleNodeMessage(payload []byte, later bool) {
	m, err := decodeNodeMessage(payload)
	if err != nil {
		rt.log.Warn("sockjs: bad bus message", "err", err)
		return
	}
	switch m.kind {
	case msgWake:
		rt.wakeKey(m.key)
	case msgForget:
		rt.known.forget(m.key)
		rt.sendFails.Delete(m.key)
	case msgOffer:
		rt.offer(m.key, m.receiver, m.first, m.prev, m.msgs)
	case msgDeliver:
		if c := rt.conn(m.key); c != nil {
			for _, msg := range m.msgs {
				if c.enqueue(item{msg: msg, charge: len(msg) + itemOverhead}, !later) != nil {
					break
				}
			}
			if later {
				rt.flushLater(c)
			}
		}
	case msgClose:
		if c := rt.conn(m.key); c != nil {
			c.closeWith(m.code, m.reason)
		}
	case msgPing:
		rt.onPing(m)
	}
}

func (rt *route) onBroadcastMessage(payload []byte) {
	origin, seq, msg, err := decodeBroadcast(payload)
	if err != nil {
		rt.log.Warn("sockjs: bad bus message", "err", err)
		return
	}
	if origin == rt.srv.nodeID {
		return // delivered locally when it was sent
	}
	rt.deliverBroadcast(seq, msg, rt.busIdle)
}

func (rt *route) wakeKey(key string) {
	rt.mu.Lock()
	set := rt.receivers[key]
	wake := make([]*receiver, 0, len(set))
	for rc := range set {
		wake = append(wake, rc)
	}
	rt.mu.Unlock()
	for _, rc := range wake {
		rc.wakeUp()
	}
}

// reapLoop expires sessions and runs OnClose for those that expired open.
//
// It reaps every DisconnectDelay/4 (10ms to 1s) while this node's own
// sessions come and go (reapSoon), and less and less often while reaps
// find nothing, down to once per ReceiverLease: an idle route, or one
// whose sessions are all held, costs the store next to nothing, and a
// session whose deadline comes is reaped in time by the node that let it
// go, or, should that node be gone, by any node within ReceiverLease.
func (rt *route) reapLoop() {
	defer rt.srv.bg.Done()
	every := rt.opts.DisconnectDelay / 4
	every = min(max(every, 10*time.Millisecond), time.Second)
	longest := max(rt.opts.ReceiverLease, every)
	t := time.NewTicker(every)
	defer t.Stop()
	ctx := rt.srv.ctx
	failing := false // log a failing store once, and its recovery
	interval := every
	var next time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rt.known.sweep(now)
			if rt.reapSoon.Swap(false) {
				interval = every
			} else if now.Before(next) {
				continue
			}
			next = now.Add(interval)
		}
		reaped := 0
		for {
			expired, err := rt.store.Reap(ctx, rt.name, 256)
			if err != nil {
				if ctx.Err() == nil && !failing {
					rt.log.Warn("sockjs: reaping sessions failed; retrying every tick", "err", err)
				}
				failing = true
				break
			}
			if failing {
				rt.log.Info("sockjs: reaping sessions again")
				failing = false
			}
			reaped += len(expired)
			for _, rec := range expired {
				if rec.Node == "" && rec.State == store.StateOpen {
					rt.forget(ctx, rec.ID) // a closed one was forgotten when it closed
				}
				if rec.State == store.StateOpen {
					rt.observeClosedMeta(rec.Meta, 0)
					s := rt.handle(ctx, publicID(rec.ID), rec.ID, rec.Meta, nil)
					s.final = &rec // its values stay readable in OnClose
					s.owner = rec.Owner
					rt.runOnClose(s, closeErrorOf(&rec))
				}
			}
			if len(expired) < 256 {
				break
			}
		}
		if reaped > 0 || failing {
			interval = every
		} else {
			interval = min(2*interval, longest)
		}
	}
}
