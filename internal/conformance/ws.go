package conformance

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is a client websocket connection (the python websocket-client's
// create_connection and ws4py's WebSocket8Client).
type wsConn struct {
	e         *env
	url       string
	c         *websocket.Conn
	closeOnce sync.Once
}

// wsDial opens a websocket to path (relative to the top URL); the connection
// is closed when the test ends at the latest.
func (e *env) wsDial(path string) *wsConn {
	e.t.Helper()
	u := e.top().wsURL(path)
	d := websocket.Dialer{
		NetDialContext:   (&net.Dialer{Timeout: ioTimeout}).DialContext,
		HandshakeTimeout: ioTimeout,
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, u, http.Header{})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		status := ""
		if resp != nil {
			status = " (HTTP status " + resp.Status + ")"
		}
		e.t.Fatalf("websocket dial %s: %v%s", u, err, status)
	}
	w := &wsConn{e: e, url: u, c: c}
	e.track(w)
	return w
}

// Close closes the TCP connection; it may be called more than once.
func (w *wsConn) Close() error {
	var err error
	w.closeOnce.Do(func() { err = w.c.Close() })
	return err
}

// close is the python ws.close(): send a close frame (1000) and close the
// connection.
func (w *wsConn) close() {
	_ = w.c.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(ioTimeout))
	_ = w.Close()
}

// send sends a text message.
func (w *wsConn) send(msg string) {
	w.e.t.Helper()
	_ = w.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := w.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		w.e.t.Fatalf("websocket %s: sending %s: %v", w.url, show(msg), err)
	}
}

// next reads the next message, or the error that ends the connection.
func (w *wsConn) next() (string, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, data, err := w.c.ReadMessage()
	return string(data), err
}

// recv reads the next message; the connection must still be open.
func (w *wsConn) recv() string {
	w.e.t.Helper()
	msg, err := w.next()
	if err != nil {
		w.e.t.Fatalf("websocket %s: expected a message, got %s", w.url, describeWSError(err))
	}
	return msg
}

// expect reads the next message and checks it is want.
func (w *wsConn) expect(want string) {
	w.e.t.Helper()
	w.e.equal("websocket "+w.url+": message", w.recv(), want)
}

// expectClosed reads, expecting the server to end the connection (a close
// frame or the TCP connection closing) rather than to send a message or to
// keep the connection open. It returns the close frame, if any.
func (w *wsConn) expectClosed() *websocket.CloseError {
	w.e.t.Helper()
	msg, err := w.next()
	if err == nil {
		w.e.t.Fatalf("websocket %s: expected the connection to be closed, got a message %s", w.url, show(msg))
	}
	if isTimeout(err) {
		w.e.t.Fatalf("websocket %s: expected the connection to be closed, it is still open after %v", w.url, ioTimeout)
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

func describeWSError(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return "a close frame (code " + strconv.Itoa(ce.Code) + ", reason " + show(ce.Text) + ")"
	case isTimeout(err):
		return "nothing within " + ioTimeout.String()
	default:
		return "error " + err.Error()
	}
}
