package transports

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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
		var mc *meteredConn
		gc, err := cfg.Upgrader.Upgrade(hijackMetered{w, &mc}, r, nil)
		if err != nil {
			return // the upgrader has answered
		}
		gc.SetReadLimit(cfg.MaxMessageSize)
		conn = &gorillaConn{c: gc, timeout: cfg.WriteTimeout, msgTimeout: cfg.MessageTimeout, wire: mc}
	}
	// The connection outlives this handler: its context must too.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	rc, err := s.Receive(ctx, r, id, kind)
	if err == nil {
		if _, ok := rc.(ConnReceiver); !ok {
			rc.Release(true)
			err = errors.New("transports: websocket receiver is not a ConnReceiver")
		}
	}
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
	ww := &wsWriter{conn: conn, kind: kind, rc: rc.(ConnReceiver), cancel: cancel, readDone: make(chan struct{})}
	ww.rc.Start(ww)
	// The handler returns here and the reader goroutine owns the
	// connection from now on, so that net/http's per-connection buffers
	// and the handler's stack are not held for the session's lifetime.
	// Writes happen on whichever goroutine the receiver chooses.
	go ww.read(ctx)
}

// wsWriter is a websocket session's connection as its receiver sees it.
type wsWriter struct {
	conn     wsConn
	kind     Kind
	rc       ConnReceiver
	cancel   context.CancelFunc
	once     sync.Once     // guards the release
	closing  atomic.Bool   // the server sent its close frame
	readDone chan struct{} // closed when the reader is done
}

// closeWait bounds the closing handshake of a close the server starts
// (RFC 6455 section 7.1.1): after its close frame, the server waits this
// long at most for the client's before it closes the TCP connection, so
// that the client reads the close frame rather than a reset, and a client
// that never answers is cut off.
const closeWait = time.Second

// WriteBatch implements BatchWriter.
func (w *wsWriter) WriteBatch(b Batch) bool {
	var err error
	if w.kind == KindRawWebSocket {
		err = writeRaw(w.conn, b)
	} else {
		bp := frameBufPool.Get().(*[]byte)
		*bp, err = eachFrame(b, (*bp)[:0], w.conn.writeText)
		if cap(*bp) <= maxPooledFrame {
			frameBufPool.Put(bp)
		}
	}
	if err == nil && !b.ends() {
		return false
	}
	if err == nil && b.Close != nil {
		w.conn.closeWith(w.kind, *b.Close)
		w.closing.Store(true)
		// The closing handshake: the reader reads on until the client's
		// close frame comes (delivering nothing more), then the TCP
		// connection is closed and the session released.
		go func() {
			t := time.NewTimer(closeWait)
			defer t.Stop()
			select {
			case <-w.readDone:
			case <-t.C:
			}
			w.cancel()
			w.conn.close()
			<-w.readDone
			w.rc.Stop()
			w.release(false)
		}()
		return true
	}
	w.release(err != nil)
	w.conn.close() // unblocks the reader
	return true
}

// release ends the session once, whichever side ends first.
func (w *wsWriter) release(aborted bool) {
	w.once.Do(func() {
		w.rc.Release(aborted)
		w.cancel()
	})
}

// read is the connection's goroutine: it hands the client's messages to
// the receiver until the client goes away, breaks the protocol or the
// writer closes the connection, then ends the session.
func (w *wsWriter) read(ctx context.Context) {
	readWebSocket(ctx, w.conn, w.rc, w.kind, &w.closing)
	close(w.readDone)
	if w.closing.Load() {
		return // the closing handshake's goroutine ends the session
	}
	w.cancel()
	w.conn.close() // a blocked write fails now
	w.rc.Stop()
	w.release(true)
}

// frameBufPool holds the buffers SockJS frames are encoded into, so that
// idle connections keep none.
var frameBufPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledFrame bounds the buffers kept in frameBufPool and readBufPool.
const maxPooledFrame = 64 << 10

func readWebSocket(ctx context.Context, conn wsConn, rc Receiver, kind Kind, closing *atomic.Bool) {
	for {
		msgs, err := readMessages(conn, kind)
		if err != nil {
			return
		}
		if len(msgs) == 0 || closing.Load() {
			continue // the protocol ignores empty messages; after our close, everything
		}
		if err := rc.Deliver(ctx, msgs); err != nil {
			return
		}
	}
}

// readMessages reads the next websocket message into a pooled buffer and
// returns the messages it carries, which do not alias the buffer. An error
// ends the connection: the client went away, sent too large a message or
// broke the JSON.
func readMessages(conn wsConn, kind Kind) ([]string, error) {
	bp := readBufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledFrame {
			readBufPool.Put(bp)
		}
	}()
	data, err := conn.readMessage((*bp)[:0])
	*bp = data
	if err != nil {
		return nil, err
	}
	if kind == KindRawWebSocket {
		return []string{string(data)}, nil
	}
	if len(data) == 0 {
		return nil, nil
	}
	return frame.ParseMessages(data) // copies what it returns
}

// readBufPool holds the buffers websocket messages are read into.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

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
	// readMessage appends the next text or binary message to buf.
	readMessage(buf []byte) ([]byte, error)
	writeText(p []byte) error
	ping() error
	// closeWith ends the websocket with a close handshake. SockJS-framed
	// sessions have sent their c[...] frame already and close with 1000;
	// raw ones carry the session's code and reason in the close message.
	closeWith(kind Kind, c Close)
	close() error
}

type gorillaConn struct {
	c          *websocket.Conn
	timeout    time.Duration
	msgTimeout time.Duration
	wire       *meteredConn // nil when the connection could not be metered
}

// wireSlack is what one incoming message may take on the wire beyond its
// payload: frame headers (a masked client frame's is 6 to 14 bytes),
// control frames in between, and what the reader buffered ahead. Thousands
// of fragments fit; an endless run of empty ones does not (about 11000
// empty fragments are read before the connection is cut).
const wireSlack = 64 << 10

// errWireBudget ends a connection whose message took more bytes on the
// wire than its payload bound allows.
var errWireBudget = errors.New("transports: websocket message takes too many bytes on the wire (endless fragments?)")

// meteredConn counts the bytes a websocket client sends since the current
// message started, and fails reads past a bound: gorilla's read limit
// counts payload only, so empty fragments, or pings, would pass it forever.
type meteredConn struct {
	net.Conn
	read  atomic.Int64
	limit atomic.Int64 // 0: none
}

func (m *meteredConn) Read(p []byte) (int, error) {
	n, err := m.Conn.Read(p)
	if l := m.limit.Load(); l > 0 && m.read.Add(int64(n)) > l && err == nil {
		err = errWireBudget
	}
	return n, err
}

// hijackMetered hands the upgrader a hijacked connection wrapped in a
// meteredConn (gorilla reads through it when it has a read buffer of its
// own, which Config.Upgrader's ReadBufferSize gives it).
type hijackMetered struct {
	http.ResponseWriter
	mc **meteredConn
}

func (h hijackMetered) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	*h.mc = &meteredConn{Conn: c}
	return *h.mc, brw, nil
}

func (g *gorillaConn) readMessage(buf []byte) ([]byte, error) {
	if g.wire != nil {
		// Until the first data frame: its header, and control frames.
		g.wire.read.Store(0)
		g.wire.limit.Store(wireSlack)
	}
	_, r, err := g.c.NextReader()
	if err != nil {
		return buf, err
	}
	if g.msgTimeout > 0 {
		// The message's frames must all come within msgTimeout: gorilla
		// reads continuation frames without returning, however many.
		_ = g.c.SetReadDeadline(time.Now().Add(g.msgTimeout))
		defer g.c.SetReadDeadline(time.Time{})
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		if g.wire != nil {
			// This read may take what the buffer has room for, plus
			// frame headers: an endless run of empty fragments, which
			// the read loops over without returning, soon passes it.
			g.wire.limit.Store(int64(cap(buf)) + wireSlack)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
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

func (h *hixieConn) readMessage(buf []byte) ([]byte, error) {
	data, err := h.c.ReadMessage()
	return append(buf, data...), err
}

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
