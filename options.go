package sockjs

import (
	"net/http"
	"time"

	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/store"
)

// Transport names, for Options.DisabledTransports.
const (
	TransportWebSocket    = "websocket"
	TransportXHR          = "xhr" // xhr polling; xhr_send stays available to the others
	TransportXHRStreaming = "xhr_streaming"
	TransportEventSource  = "eventsource"
	TransportHTMLFile     = "htmlfile"
	TransportJSONP        = "jsonp" // jsonp polling and jsonp_send
)

// DefaultSockJSURL is where the iframe page loads sockjs-client from when
// Options.SockJSURL is empty: a pinned release, because the iframe page is
// cached for a year and must match the version of the page's own client.
const DefaultSockJSURL = "https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js"

// Options configure one route. The zero value is a conformant SockJS
// endpoint with safe limits; each field says what its zero value means.
type Options struct {
	// HeartbeatDelay is how long a receiver may stay silent before the
	// server sends a heartbeat frame. Zero means 25 seconds.
	HeartbeatDelay time.Duration
	// DisconnectDelay is how long a session lives without a receiver
	// before it expires and OnClose runs. Zero means 5 seconds.
	DisconnectDelay time.Duration
	// ResponseLimit is how many bytes one streaming response (xhr_streaming,
	// eventsource, htmlfile) carries before the server ends it and the
	// client opens the next. Zero means 128 KiB.
	ResponseLimit int

	// DisableWebSocket turns the websocket transport off (and the raw
	// endpoint with it); /info then tells clients so.
	DisableWebSocket bool
	// RawWebSocket serves the unframed /websocket endpoint for non-browser
	// clients. Zero means off.
	RawWebSocket bool
	// DisabledTransports lists transports (Transport* names) this route
	// does not serve; their URLs answer 404.
	DisabledTransports []string

	// SockJSURL is the sockjs-client script the iframe page loads; it must
	// be the same version as the page's client. Empty means DefaultSockJSURL.
	SockJSURL string

	// JSessionID, when set, is called on every session request to set the
	// JSESSIONID cookie some load balancers use for affinity; /info then
	// reports cookie_needed. Use DefaultJSessionID for the usual behaviour.
	// Nil means no cookie.
	JSessionID func(w http.ResponseWriter, r *http.Request)

	// MaxBodySize bounds an xhr_send or jsonp_send body; larger bodies get
	// 413 without being read. Zero means 1 MiB.
	MaxBodySize int64
	// SendTimeout bounds the time an xhr_send or jsonp_send body takes to
	// arrive, from the end of its headers; a slower one gets 408 and its
	// connection is closed. Zero means 5 seconds. (Set the http.Server's
	// ReadHeaderTimeout for the headers.)
	SendTimeout time.Duration
	// MaxSessionID bounds the length of session ids, in bytes; a request
	// for a longer one is answered 404. Zero means 128, more than any
	// SockJS client uses.
	MaxSessionID int
	// MaxMessageSize bounds one incoming websocket message; larger ones
	// close the connection (1009). Zero means 1 MiB.
	MaxMessageSize int64
	// MessageTimeout bounds the time one incoming websocket message takes
	// to arrive, from its first frame to its last: a client that keeps a
	// message open with endless (empty) fragments, which MaxMessageSize
	// does not catch, is disconnected. Zero means 10 seconds.
	MessageTimeout time.Duration
	// MaxQueue bounds a websocket session's unsent outgoing messages; a
	// consumer that falls further behind is closed with 1008 "Slow
	// consumer". Zero means 4096.
	MaxQueue int
	// MaxQueueBytes bounds the bytes of a websocket session's unsent
	// outgoing messages, as MaxQueue bounds their number. Zero means 1 MiB.
	// (The store bounds the queues of the other transports: see its
	// options.)
	MaxQueueBytes int
	// WriteTimeout bounds each write to a client; a client that does not
	// take a frame in time is dropped. A streaming response's deadline is
	// moved only once half of it has passed, so one of its writes may be
	// given between half of WriteTimeout and all of it. Zero means 10
	// seconds.
	WriteTimeout time.Duration
	// ReceiverLease is the node's lease on the route's sessions in the
	// store: every receiving request and websocket session of this node
	// holds its session as long as the lease lives. The node renews it
	// every third of ReceiverLease, one store write per route whatever the
	// number of sessions. It bounds how long the sessions of a crashed,
	// partitioned or paused node stay unreachable; a node that could not
	// renew for that long gives its holds up (see the package's Delivery
	// guarantees). Zero means 30 seconds.
	ReceiverLease time.Duration

	// WebSocketOrigins lists the browser origins (e.g.
	// "https://app.example.com") allowed to open websockets besides the
	// server's own. By default only same-origin pages (and clients that
	// send no Origin) may connect.
	WebSocketOrigins []string
	// CheckOrigin, when set, decides websocket origins instead of the rules
	// above.
	CheckOrigin func(r *http.Request) bool
	// InsecureSkipOriginCheck lets pages from any origin open websockets
	// to this route, with the users' cookies. Only for public data or
	// tests.
	InsecureSkipOriginCheck bool
	// CORSOrigins, when not empty, limits which page origins may read
	// HTTP transport responses ("null" for file:// pages). Empty means
	// every origin, as sockjs-client expects for cross-domain use.
	CORSOrigins []string

	// SessionOwner, when set, binds each session to an identity derived
	// from the request that opened it (a user id from a signed cookie or a
	// header, say): every later request of that session must yield the same
	// identity, or it is answered 404 as if the session did not exist, on
	// every node. Session ids are chosen by clients; without binding, anyone
	// who learns an id can read and inject that session's messages. Nil
	// means no binding.
	SessionOwner func(r *http.Request) string

	// Authorize, when set, decides whether a request may open a new
	// session: it runs on the request that would create one (the first
	// poll or stream of an unknown session id, every websocket handshake,
	// before upgrading), before anything is stored. A non-nil error
	// answers 403 with a short body (the error is logged, rate-limited,
	// never sent) and the client never sees the open frame. Requests of
	// existing sessions are not authorized again: bind them with
	// SessionOwner. Nil means every request may open a session.
	Authorize func(r *http.Request) error

	// RequestHeaders lists the headers of the opening request that the
	// session keeps in the store, for Session.Request in later callbacks
	// and on other nodes (OnOpen sees the whole request). Nil means
	// DefaultRequestHeaders; an empty, non-nil list keeps none. Cookie,
	// Authorization and Proxy-Authorization are kept only when listed:
	// the store may be shared and is not encrypted.
	RequestHeaders []string
	// MaxStoredRequest bounds the stored copy of the opening request, in
	// bytes: headers that would take it past the bound are left out, and
	// a longer URI is cut. Zero means 2048.
	MaxStoredRequest int

	// Store and Bus, when set, replace the server's for this route.
	Store store.Store
	Bus   pubsub.Bus
}

// DefaultRequestHeaders are the opening request's headers a session keeps
// unless Options.RequestHeaders says otherwise.
var DefaultRequestHeaders = []string{
	"Origin", "Referer", "User-Agent", "Accept-Language",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Real-Ip",
}

func (o Options) withDefaults() Options {
	if o.HeartbeatDelay <= 0 {
		o.HeartbeatDelay = 25 * time.Second
	}
	if o.DisconnectDelay <= 0 {
		o.DisconnectDelay = 5 * time.Second
	}
	if o.ResponseLimit <= 0 {
		o.ResponseLimit = 128 << 10
	}
	if o.SockJSURL == "" {
		o.SockJSURL = DefaultSockJSURL
	}
	if o.MaxBodySize <= 0 {
		o.MaxBodySize = 1 << 20
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 5 * time.Second
	}
	if o.MaxSessionID <= 0 {
		o.MaxSessionID = 128
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 1 << 20
	}
	if o.MessageTimeout <= 0 {
		o.MessageTimeout = 10 * time.Second
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 4096
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = 1 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ReceiverLease <= 0 {
		o.ReceiverLease = 30 * time.Second
	}
	if o.RequestHeaders == nil {
		o.RequestHeaders = DefaultRequestHeaders
	}
	o.RequestHeaders = append([]string(nil), o.RequestHeaders...)
	for i, h := range o.RequestHeaders {
		o.RequestHeaders[i] = http.CanonicalHeaderKey(h)
	}
	if o.MaxStoredRequest <= 0 {
		o.MaxStoredRequest = 2048
	}
	o.DisabledTransports = append([]string(nil), o.DisabledTransports...)
	o.WebSocketOrigins = append([]string(nil), o.WebSocketOrigins...)
	o.CORSOrigins = append([]string(nil), o.CORSOrigins...)
	return o
}

// DefaultJSessionID sets JSESSIONID the way the SockJS protocol expects:
// the request's own value echoed back, or "dummy", with Path=/.
func DefaultJSessionID(w http.ResponseWriter, r *http.Request) {
	v := "dummy"
	if c, err := r.Cookie("JSESSIONID"); err == nil && c.Value != "" {
		v = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: v, Path: "/"})
}
