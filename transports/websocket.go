package transports

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs/internal/frame"
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
	conn, err := cfg.Upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	defer conn.Close()
	conn.SetReadLimit(cfg.MaxMessageSize)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	rc, err := s.Receive(ctx, r, id, kind)
	if err != nil {
		cfg.Logger.Warn("sockjs: session unavailable", "path", r.URL.Path, "err", err)
		closeWS(cfg, conn, kind, Close{Code: 1011, Reason: "Session store unavailable"})
		return
	}

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
		buf, err = eachFrame(b, buf, func(f []byte) error {
			if kind == KindRawWebSocket {
				return nil // raw sessions carry messages only, below
			}
			_ = conn.SetWriteDeadline(deadline(cfg.WriteTimeout))
			return conn.WriteMessage(websocket.TextMessage, f)
		})
		if err == nil && kind == KindRawWebSocket {
			err = writeRaw(cfg, conn, b)
		}
		if err != nil {
			break
		}
		if b.ends() {
			aborted = false
			if b.Close != nil {
				closeWS(cfg, conn, kind, *b.Close)
			}
			break
		}
	}
	rc.Release(aborted)
	cancel()
	conn.Close() // unblocks the reader
	<-readerDone
}

func readWebSocket(ctx context.Context, conn *websocket.Conn, rc Receiver, kind Kind) {
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if mt != websocket.TextMessage && mt != websocket.BinaryMessage {
			continue
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
func writeRaw(cfg *Config, conn *websocket.Conn, b Batch) error {
	for _, m := range b.Messages {
		_ = conn.SetWriteDeadline(deadline(cfg.WriteTimeout))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			return err
		}
	}
	if b.Frame != nil && len(b.Messages) == 0 {
		// A shared pre-encoded array frame: decode it back into messages.
		msgs, err := frame.ParseMessages(b.Frame[1:])
		if err != nil {
			return err
		}
		return writeRaw(cfg, conn, Batch{Messages: msgs})
	}
	if b.Heartbeat {
		return conn.WriteControl(websocket.PingMessage, nil, deadline(cfg.WriteTimeout))
	}
	return nil
}

// closeWS ends a websocket with a close handshake. SockJS-framed sessions
// have sent their c[...] frame already and close with 1000; raw ones carry
// the session's code and reason in the close message itself.
func closeWS(cfg *Config, conn *websocket.Conn, kind Kind, c Close) {
	code, reason := websocket.CloseNormalClosure, "Normal closure"
	if kind == KindRawWebSocket && validCloseCode(c.Code) {
		code, reason = c.Code, c.Reason
		if len(reason) > 123 {
			reason = reason[:123]
		}
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline(cfg.WriteTimeout))
}

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
