// Package transports speaks SockJS's wire formats: one file per transport,
// each parsing its requests, framing its responses and enforcing its limits.
//
// A transport never holds session state. It sees a session only through the
// Sessions and Receiver interfaces below, which the sockjs package
// implements on top of the store and bus contracts, so every request of a
// session may be served by a different node.
package transports

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// Kind says what a receiving request wants.
type Kind int

const (
	// KindPolling answers with the first frame available, then ends (xhr, jsonp).
	KindPolling Kind = iota + 1
	// KindStreaming writes frames until the response limit, then ends
	// (xhr_streaming, eventsource, htmlfile).
	KindStreaming
	// KindWebSocket is a SockJS-framed websocket session bound to its connection.
	KindWebSocket
	// KindRawWebSocket is the unframed /websocket endpoint.
	KindRawWebSocket
)

func (k Kind) String() string {
	switch k {
	case KindPolling:
		return "polling"
	case KindStreaming:
		return "streaming"
	case KindWebSocket:
		return "websocket"
	case KindRawWebSocket:
		return "raw-websocket"
	}
	return "unknown"
}

// Close is a close frame: c[code,"reason"].
type Close struct {
	Code   int
	Reason string
}

// Batch is what a receiver hands its transport in one step. The transport
// writes, in this order: the open frame, the messages as one array frame
// (Frame if set, else Messages), a heartbeat, the close frame. After a close
// frame, or when End is set, the response (or connection) ends.
type Batch struct {
	Open      bool
	Messages  []string
	Frame     []byte // a pre-encoded array frame, shared; never modified (not for KindRawWebSocket)
	Heartbeat bool
	Close     *Close
	End       bool
}

// Receiver is one receiving request's hold on a session.
type Receiver interface {
	// Next blocks until there is something to write. It returns ctx's error
	// when ctx ends first (the client went away).
	Next(ctx context.Context) (Batch, error)
	// Deliver hands messages the client sent on this connection to the
	// application (websocket transports only).
	Deliver(ctx context.Context, msgs []string) error
	// Release ends the hold; it is called exactly once. aborted reports
	// that the client vanished mid-response.
	Release(aborted bool)
}

// ConnReceiver is the Receiver of a websocket session. It is never polled
// with Next: it is handed its connection's writer and writes each batch
// itself, from whichever goroutine has something to send (the reader's,
// after Deliver, so that a reply needs no goroutine switch; a timer's; or
// one started for the purpose that exits once the queue is empty). An idle
// connection thus costs its reader goroutine and nothing else.
type ConnReceiver interface {
	Receiver
	// Start hands the receiver its connection's writer. It is called once,
	// before the reader starts, and usually writes the open frame before
	// returning. The receiver must never let two WriteBatch calls overlap.
	Start(w BatchWriter)
	// Stop returns once no WriteBatch call is in progress and none will
	// start. The transport calls it when the reader is done, with the
	// connection closed, before Release (if the writer has not released
	// the session already).
	Stop()
}

// BatchWriter writes batches to one connection.
type BatchWriter interface {
	// WriteBatch writes b. It reports true when the connection has ended,
	// because the write failed or b ends it; the transport has then called
	// Release, and the receiver must not write again.
	WriteBatch(b Batch) (ended bool)
}

// Sessions is the session side the transports are given.
type Sessions interface {
	// Receive attaches a receiving request to session id, creating the
	// session when needed (for KindRawWebSocket, id is empty and the
	// session is always new). For the websocket kinds the Receiver must be
	// a ConnReceiver. Refusals (another receiver, a closed session) come
	// back as a Receiver whose first Batch is the close frame; ErrNotFound
	// means the session is not this client's (answered 404), ErrForbidden
	// that it may not be opened (answered 403); any other
	// error means the session layer itself failed.
	Receive(ctx context.Context, r *http.Request, id string, kind Kind) (Receiver, error)
	// Send hands messages from an xhr_send or jsonp_send request to the
	// session. ErrNotFound when the session does not exist.
	Send(ctx context.Context, r *http.Request, id string, msgs []string) error
}

// ErrNotFound is returned by Sessions.Send for an unknown session.
var ErrNotFound = errors.New("transports: session not found")

// ErrForbidden, returned (wrapped) by Sessions.Receive, refuses to open a
// session for the request: it is answered 403.
var ErrForbidden = errors.New("transports: session refused")

// Config is what the transports need from a route. The sockjs package
// fills every field.
type Config struct {
	// ResponseLimit is how many bytes a streaming response carries before
	// it ends and the client reconnects.
	ResponseLimit int
	// MaxBodySize bounds xhr_send and jsonp_send bodies (413 beyond).
	MaxBodySize int64
	// BodyTimeout bounds the time an xhr_send or jsonp_send body takes to
	// arrive (408 beyond); zero means no bound.
	BodyTimeout time.Duration
	// MaxMessageSize bounds one websocket message.
	MaxMessageSize int64
	// MessageTimeout bounds the time one websocket message takes to
	// arrive once its first frame has; zero means no bound.
	MessageTimeout time.Duration
	// WriteTimeout bounds each write to a client.
	WriteTimeout time.Duration
	// Prepare sets the headers every session response shares (CORS,
	// JSESSIONID) on w before anything is written.
	Prepare func(w http.ResponseWriter, r *http.Request)
	// Upgrader upgrades websocket requests (origin policy included).
	Upgrader *websocket.Upgrader
	// Logger receives errors nobody else sees.
	Logger *slog.Logger
}

// drainBody reads what is left of a receiving request's body (there should
// be none), so that net/http starts watching the connection and cancels the
// request's context when the client goes away.
func drainBody(r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
	}
}

// writeDeadline sets the deadline of the next write on w.
func writeDeadline(rc *http.ResponseController, d time.Duration) {
	if d > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(d))
	}
}
