package sockjs

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/transports"
)

// Observer is told what a node does, for metrics: set Config.Observer.
// Package sockjsprom (a module of its own, so that this one does not
// depend on a metrics library) implements it with Prometheus collectors.
//
// Every method is called synchronously on the goroutine doing the work
// (a request's, a websocket connection's reader or writer, the bus's
// delivery goroutine, the node's background loops), sometimes with a
// session's lock held: it must be fast, must not block, must not call back
// into this package, and must be safe for concurrent use. A nil Observer
// costs one nil check per event and nothing else.
//
// Labels passed to it are bounded: route names (the application's),
// transport names (see below), store call names (the methods of
// store.Store: "Open", "Pull", ...) and slow-consumer causes are each from
// a fixed set. Close codes are the raw codes, which include whatever codes
// the application closes sessions with: an implementation that turns them
// into labels must bucket them (sockjsprom keeps the server's own codes
// and folds the rest into "app" and "other").
//
// Transport names are those of the SockJS URLs ("websocket", "xhr",
// "xhr_streaming", "eventsource", "htmlfile", "jsonp", "xhr_send",
// "jsonp_send"), "raw_websocket" for the unframed /websocket endpoint and
// "unknown" when the node cannot tell (a session closed on a node that
// only has a truncated copy of its opening request).
//
// Counts are per node. Each session is counted opened once, on the node
// that created it, and closed once, on the node that ran its OnClose
// (OnClose runs exactly once cluster-wide): summed over the nodes of a
// cluster, opened minus closed is the number of sessions open in the
// cluster; on one node it may even be negative.
//
// New methods may be added to Observer in later versions: embed
// NopObserver in an implementation to keep it compiling.
type Observer interface {
	// SessionOpened: a session was created by a request of this node
	// (before OnOpen runs), over transport.
	SessionOpened(route, transport string)
	// SessionClosed: this node ran a session's OnClose. code is its close
	// code (the one c[code,...] carried), or 0 when the session expired
	// without being closed (no receiver for Options.DisconnectDelay).
	// transport is the one the session was opened with.
	SessionClosed(route, transport string, code int)
	// MessagesReceived: n messages arrived from a client (an xhr_send or
	// jsonp_send body, a websocket message), before OnMessage runs for
	// them.
	MessagesReceived(route, transport string, n int)
	// MessagesSent: n messages, of bytes bytes in all (the messages'
	// own, before framing), were handed to a client's connection or
	// response for writing by this node. A websocket writes them at once;
	// an HTTP response may still fail to reach its client (the session is
	// then closed with 1002).
	MessagesSent(route, transport string, n, bytes int)
	// Broadcast: this node stored a broadcast of the route (Manager.Broadcast),
	// before it told the other nodes.
	Broadcast(route string)
	// SlowConsumer: a session was closed with 1008 because it fell
	// behind. cause is "queue" (a websocket's send queue overflowed,
	// Options.MaxQueue or MaxQueueBytes), "store_queue" (the session's
	// queue in the store was full) or "missed_broadcasts" (the route's
	// broadcast log dropped broadcasts the session had not taken).
	SlowConsumer(route, cause string)
	// AnotherConnection: a receiving request was answered
	// c[2010,"Another connection still open"].
	AnotherConnection(route, transport string)
	// StoreCall: a call of the route's store returned after d. err is what
	// it returned, including the outcomes the protocol expects
	// (store.ErrNotFound, store.ErrReceiverBusy and the other sentinels of
	// package store) and the caller's context ending.
	StoreCall(route, call string, d time.Duration, err error)
	// BusPublished: a message was published on the route's bus (err nil)
	// or not (err set). Messages a node handles itself do not go through
	// the bus and are not counted.
	BusPublished(route string, err error)
	// BusLag: the route's readiness self-ping (see Server.Ready) came
	// back through the bus after lag. Called on the bus's delivery
	// goroutine.
	BusLag(route string, lag time.Duration)
	// BusStats: the cumulative counters of the node's buses that report
	// them (pubsub.StatsReporter, such as redisbus), summed over the
	// distinct buses of its routes. Called every Config.ReadinessPing by
	// the readiness pinger of each distinct bus (see Server.Ready).
	BusStats(stats pubsub.Stats)
	// LeaseRenewed: the node renewed (err nil) or failed to renew its lease
	// on the route's sessions (see Options.ReceiverLease).
	LeaseRenewed(route string, err error)
}

// NopObserver does nothing. Embed it in an Observer to implement only some
// methods, and to keep compiling when methods are added.
type NopObserver struct{}

func (NopObserver) SessionOpened(route, transport string)           {}
func (NopObserver) SessionClosed(route, transport string, code int) {}
func (NopObserver) MessagesReceived(route, transport string, n int) {}
func (NopObserver) MessagesSent(route, transport string, n, b int)  {}
func (NopObserver) Broadcast(route string)                          {}
func (NopObserver) SlowConsumer(route, cause string)                {}
func (NopObserver) AnotherConnection(route, transport string)       {}
func (NopObserver) StoreCall(string, string, time.Duration, error)  {}
func (NopObserver) BusPublished(route string, err error)            {}
func (NopObserver) BusLag(route string, lag time.Duration)          {}
func (NopObserver) BusStats(stats pubsub.Stats)                     {}
func (NopObserver) LeaseRenewed(route string, err error)            {}

var _ Observer = NopObserver{}

// Transport names for Observer labels (see Observer). The SockJS ones are
// the Transport* constants of Options and:
const (
	TransportXHRSend      = "xhr_send"
	TransportJSONPSend    = "jsonp_send"
	TransportRawWebSocket = "raw_websocket"
	TransportUnknown      = "unknown"
)

// Slow-consumer causes (Observer.SlowConsumer).
const (
	SlowQueue            = "queue"
	SlowStoreQueue       = "store_queue"
	SlowMissedBroadcasts = "missed_broadcasts"
)

// transportName returns the bounded label of a transport URL segment.
func transportName(seg string) string {
	switch seg {
	case TransportWebSocket:
		return TransportWebSocket
	case TransportXHR:
		return TransportXHR
	case TransportXHRStreaming:
		return TransportXHRStreaming
	case TransportEventSource:
		return TransportEventSource
	case TransportHTMLFile:
		return TransportHTMLFile
	case TransportJSONP:
		return TransportJSONP
	case TransportXHRSend:
		return TransportXHRSend
	case TransportJSONPSend:
		return TransportJSONPSend
	}
	return TransportUnknown
}

// transportOf returns the transport of a session request: the last segment
// of its path.
func transportOf(r *http.Request) string {
	p := r.URL.Path
	return transportName(p[strings.LastIndexByte(p, '/')+1:])
}

// kindTransport names a websocket session's transport.
func kindTransport(k transports.Kind) string {
	if k == transports.KindRawWebSocket {
		return TransportRawWebSocket
	}
	return TransportWebSocket
}

// metaTransport recovers the transport a session was opened with from its
// stored opening request (see encodeMeta), whose URI is the opening
// request's.
func (rt *route) metaTransport(meta []byte) string {
	const key = `"uri":"`
	i := bytes.Index(meta, []byte(key))
	if i < 0 {
		return TransportUnknown
	}
	uri := meta[i+len(key):]
	if j := bytes.IndexAny(uri, `"?`); j >= 0 {
		uri = uri[:j]
	} else {
		return TransportUnknown // cut short
	}
	seg := string(uri[bytes.LastIndexByte(uri, '/')+1:])
	if seg == TransportWebSocket && string(uri) == rt.prefix+"/websocket" {
		return TransportRawWebSocket
	}
	return transportName(seg)
}

// The hooks below are what the core calls: one nil check when there is no
// observer.

func (rt *route) observeOpened(transport string) {
	if o := rt.srv.cfg.Observer; o != nil {
		o.SessionOpened(rt.name, transport)
	}
}

func (rt *route) observeClosed(transport string, code int) {
	if o := rt.srv.cfg.Observer; o != nil {
		o.SessionClosed(rt.name, transport, code)
	}
}

// observeClosedMeta is observeClosed for a session known by its record.
func (rt *route) observeClosedMeta(meta []byte, code int) {
	if o := rt.srv.cfg.Observer; o != nil {
		o.SessionClosed(rt.name, rt.metaTransport(meta), code)
	}
}

func (rt *route) observeReceived(transport string, n int) {
	if o := rt.srv.cfg.Observer; o != nil && n > 0 {
		o.MessagesReceived(rt.name, transport, n)
	}
}

func (rt *route) observeSent(transport string, n, bytes int) {
	if o := rt.srv.cfg.Observer; o != nil && n > 0 {
		o.MessagesSent(rt.name, transport, n, bytes)
	}
}

func (rt *route) observeBroadcast() {
	if o := rt.srv.cfg.Observer; o != nil {
		o.Broadcast(rt.name)
	}
}

func (rt *route) observeSlow(cause string) {
	if o := rt.srv.cfg.Observer; o != nil {
		o.SlowConsumer(rt.name, cause)
	}
}

func (rt *route) observeBusy(transport string) {
	if o := rt.srv.cfg.Observer; o != nil {
		o.AnotherConnection(rt.name, transport)
	}
}

// publish is bus.Publish, observed.
func (rt *route) publish(ctx context.Context, channel string, payload []byte) error {
	err := rt.bus.Publish(ctx, channel, payload)
	if o := rt.srv.cfg.Observer; o != nil {
		o.BusPublished(rt.name, err)
	}
	return err
}

// Next implements transports.Receiver: next, observed.
func (rc *receiver) Next(ctx context.Context) (transports.Batch, error) {
	b, err := rc.next(ctx)
	if o := rc.rt.srv.cfg.Observer; o != nil && len(b.Messages) > 0 {
		o.MessagesSent(rc.rt.name, rc.transport, len(b.Messages), size(b.Messages))
	}
	return b, err
}
