package transports

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs/internal/frame"
	"github.com/sockjs-cluster/sockjs/internal/hixie76"
)

// WebSocket serves GET /{server}/{session}/websocket: a SockJS session bound
// to one websocket connection. Client messages are JSON arrays of strings
// (or a single JSON string); server frames are o, h, a[...] and c[...], one
// per websocket message. Broken JSON ends the connection at once.
func WebSocket(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	serveWebSocket(cfg, s, w, r, id, KindWebSocket)
}

// RawWebSocket serves GET /websocket: a plain websocket with no SockJS
// framing, for programs that are not browsers. Each text message is one
// message; a session close is a websocket close with its code and reason.
func RawWebSocket(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request) {
	serveWebSocket(cfg, s, w, r, "", KindRawWebSocket)
}

func serveWebSocket(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string, kind Kind) {
	var conn wsConn
	if hixie76.IsRequest(r) {
		// The pre-RFC 6455 handshake some old proxies still speak.
		if !cfg.Upgrader.CheckOrigin(r) {
			http.Error(w, "Forbidden origin", http.StatusForbidden)
			return
		}
		hc, err := hixie76.Upgrade(w, r, cfg.Upgrader.HandshakeTimeout)
		if err != nil {
			return // answered
		}
		hc.SetReadLimit(cfg.MaxMessageSize)
		conn = &hixieConn{c: hc, timeout: cfg.WriteTimeout}
	} else {
		gc, err := cfg.Upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader has answered
		}
		gc.SetReadLimit(cfg.MaxMessageSize)
		conn = &gorillaConn{c: gc, timeout: cfg.WriteTimeout}
	}
	// The connection outlives this handler: its context must too.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	rc, err := s.Receive(ctx, r, id, kind)
	if err != nil {
		cancel()
		cfg.Logger.Warn("sockjs: session unavailable", "path", r.URL.Path, "err", err)
		if kind != KindRawWebSocket {
			_ = conn.writeText(frame.AppendClose(nil, 1011, "Session store unavailable"))
		}
		conn.closeWith(kind, Close{Code: 1011, Reason: "Session store unavailable"})
		conn.close()
		return
	}
	// The handler returns here and the connection's two goroutines own it
	// from now on, so that net/http's per-connection buffers and the
	// handler's stack are not held for the session's lifetime.
	go runWebSocket(ctx, cancel, conn, rc, kind)
}

// runWebSocket is a websocket session's writer; it starts the reader and
// ends both, releasing the session, when either side is done.
func runWebSocket(ctx context.Context, cancel context.CancelFunc, conn wsConn, rc Receiver, kind Kind) {
	defer cancel()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer cancel() // the client is gone or broke the protocol: stop the writer
		readWebSocket(ctx, conn, rc, kind)
	}()

	aborted := true
	var buf []byte
	for {
		b, err := rc.Next(ctx)
		if err != nil {
			break
		}
		if kind == KindRawWebSocket {
			err = writeRaw(conn, b)
		} else {
			buf, err = eachFrame(b, buf, conn.writeText)
		}
		if err != nil {
			break
		}
		if b.ends() {
			aborted = false
			if b.Close != nil {
				conn.closeWith(kind, *b.Close)
			}
			break
		}
	}
	rc.Release(aborted)
	cancel()
	conn.close() // unblocks the reader
	<-readerDone
}

func readWebSocket(ctx context.Context, conn wsConn, rc Receiver, kind Kind) {
	for {
		data, err := conn.readMessage()
		if err != nil {
			return
		}
		var msgs []string
		if kind == KindRawWebSocket {
			msgs = []string{string(data)}
		} else {
			if len(data) == 0 {
				continue // the protocol ignores empty messages
			}
			msgs, err = frame.ParseMessages(data)
			if err != nil {
				return // broken JSON: the connection ends abruptly
			}
			if len(msgs) == 0 {
				continue
			}
		}
		if err := rc.Deliver(ctx, msgs); err != nil {
			return
		}
	}
}

// writeRaw writes a batch to a raw websocket: each message as a text
// message, heartbeats as pings.
func writeRaw(conn wsConn, b Batch) error {
	for _, m := range b.Messages {
		if err := conn.writeText([]byte(m)); err != nil {
			return err
		}
	}
	if b.Heartbeat {
		return conn.ping()
	}
	return nil
}

// wsConn is a server websocket connection of either protocol version.
// One reader and one writer may run at once; close may be called
// concurrently with both.
type wsConn interface {
	// readMessage returns the next text or binary message.
	readMessage() ([]byte, error)
	writeText(p []byte) error
	ping() error
	// closeWith ends the websocket with a close handshake. SockJS-framed
	// sessions have sent their c[...] frame already and close with 1000;
	// raw ones carry the session's code and reason in the close message.
	closeWith(kind Kind, c Close)
	close() error
}

type gorillaConn struct {
	c       *websocket.Conn
	timeout time.Duration
}

func (g *gorillaConn) readMessage() ([]byte, error) {
	_, data, err := g.c.ReadMessage()
	return data, err
}

func (g *gorillaConn) writeText(p []byte) error {
	_ = g.c.SetWriteDeadline(deadline(g.timeout))
	return g.c.WriteMessage(websocket.TextMessage, p)
}

func (g *gorillaConn) ping() error {
	return g.c.WriteControl(websocket.PingMessage, nil, deadline(g.timeout))
}

func (g *gorillaConn) closeWith(kind Kind, c Close) {
	code, reason := websocket.CloseNormalClosure, "Normal closure"
	if kind == KindRawWebSocket && validCloseCode(c.Code) {
		code, reason = c.Code, c.Reason
		if len(reason) > 123 {
			reason = reason[:123]
		}
	}
	_ = g.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline(g.timeout))
}

func (g *gorillaConn) close() error { return g.c.Close() }

// hixieConn speaks hixie-76: no close codes, no pings.
type hixieConn struct {
	c       *hixie76.Conn
	timeout time.Duration
}

func (h *hixieConn) readMessage() ([]byte, error) { return h.c.ReadMessage() }

func (h *hixieConn) writeText(p []byte) error {
	_ = h.c.SetWriteDeadline(deadline(h.timeout))
	return h.c.WriteMessage(p)
}

func (h *hixieConn) ping() error { return nil }

func (h *hixieConn) closeWith(Kind, Close) {
	_ = h.c.SetWriteDeadline(deadline(h.timeout))
	_ = h.c.WriteClose()
}

func (h *hixieConn) close() error { return h.c.Close() }

// validCloseCode reports whether code may travel in a websocket close frame
// (RFC 6455 section 7.4).
func validCloseCode(code int) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code >= 1000 && code <= 1014:
		return code != 1004 && code != 1005 && code != 1006
	}
	return false
}

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}
