package sockjs_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

func TestBodyLimit(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(nil), sockjs.Options{MaxBodySize: 1024})
	id := newID()
	tn.poll(id)
	big := `["` + strings.Repeat("x", 2000) + `"]`

	t.Run("content-length", func(t *testing.T) {
		code, _ := post(t, tn.url+"/000/"+id+"/xhr_send", big)
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", code)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, tn.url+"/000/"+id+"/jsonp_send", io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1 // forces chunked encoding
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
	t.Run("announced but never sent", func(t *testing.T) {
		// A client announcing a huge body gets 413 at once: the server
		// does not wait for (or read) the body.
		addr := strings.TrimPrefix(tn.srv.URL, "http://")
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /r/000/%s/xhr_send HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000000000\r\n\r\n", id, addr)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.messages) != 0 {
		t.Fatalf("oversized bodies delivered %d messages", len(rec.messages))
	}
}

func TestUpgradeHeaderOnHTTPTransport(t *testing.T) {
	tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{}, sockjs.Options{})
	req, _ := http.NewRequest(http.MethodPost, tn.url+"/000/"+newID()+"/xhr", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}

func TestWebSocketHostileMessages(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(echo), sockjs.Options{MaxMessageSize: 1024})
	tests := []struct {
		name string
		msg  string
		code int // websocket close code expected, 0: connection just ends
	}{
		{"oversized", `["` + strings.Repeat("x", 2000) + `"]`, websocket.CloseMessageTooBig},
		{"broken json", `["a`, 0},
		{"not strings", `[1,2]`, 0},
		{"nested", strings.Repeat("[", 500), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newID()
			ws := tn.dial(id)
			if err := ws.WriteMessage(websocket.TextMessage, []byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, data, err := ws.ReadMessage()
			if err == nil {
				t.Fatalf("connection still open, got %q", data)
			}
			if tt.code != 0 && !websocket.IsCloseError(err, tt.code) {
				t.Fatalf("error %v, want close %d", err, tt.code)
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection not closed: %v", err)
			}
			rec.waitClosed(t, id)
		})
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.messages) != 0 {
		t.Fatalf("hostile messages delivered: %q", rec.messages)
	}
}

func TestWebSocketSlowConsumer(t *testing.T) {
	rec := newRecorder()
	sent := make(chan error, 1)
	tn := startNode(t, sockjs.Config{}, rec.handler(func(s *sockjs.Session, m string) {
		// Flood the session far beyond its queue while its client reads nothing.
		var err error
		for i := 0; i < 100000 && err == nil; i++ {
			err = s.Send(context.Background(), strings.Repeat("y", 1000))
		}
		sent <- err
	}), sockjs.Options{MaxQueue: 64})
	id := newID()
	ws := tn.dial(id)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`["go"]`)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sent:
		if err == nil {
			t.Fatalf("100000 sends to a stalled client all succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sending blocked on a stalled client")
	}
	rec.waitClosed(t, id)
}

// TestSlowBodiesAreCut: an xhr_send body that trickles in, or that
// announces more than it sends and stalls, is answered 408 once
// SendTimeout has passed, and its connection closed.
func TestSlowBodiesAreCut(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(nil), sockjs.Options{SendTimeout: 300 * time.Millisecond})
	id := newID()
	tn.poll(id)
	addr := strings.TrimPrefix(tn.srv.URL, "http://")
	for _, tc := range []struct {
		name string
		send func(c net.Conn)
	}{
		{"announced and stalled", func(c net.Conn) {
			fmt.Fprintf(c, "POST /r/000/%s/xhr_send HTTP/1.1\r\nHost: %s\r\nContent-Length: 900000\r\n\r\n[\"x", id, addr)
		}},
		{"one byte at a time", func(c net.Conn) {
			fmt.Fprintf(c, "POST /r/000/%s/xhr_send HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\n", id, addr)
			go func() {
				for i := 0; i < 100; i++ {
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			tc.send(c)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer within 5s: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d after %v, want 408", resp.StatusCode, time.Since(start))
			}
			// ... and the connection is closed, not held while net/http
			// drains the rest of the body.
			// (A reset is a close too: the server closed with the
			// trickled bytes unread.)
			if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("after the 408: %v, want the connection closed", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("connection closed %v after the request, want at the body timeout", d)
			}
		})
	}
	if len(rec.messages) != 0 {
		t.Fatalf("OnMessage ran for a cut body: %q", rec.messages)
	}
}

// TestLongSessionIDs: session ids longer than MaxSessionID are answered 404
// on every transport and never reach the store.
func TestLongSessionIDs(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(nil), sockjs.Options{})
	ok := strings.Repeat("i", 128)
	if f := tn.poll(ok); f != "o\n" {
		t.Fatalf("poll with a 128-byte id: %q", f)
	}
	long := strings.Repeat("i", 129)
	for _, tr := range []string{"xhr", "xhr_streaming", "xhr_send"} {
		if code, _ := post(t, tn.url+"/000/"+long+"/"+tr, `["x"]`); code != http.StatusNotFound {
			t.Errorf("%s with a 129-byte id: status %d, want 404", tr, code)
		}
	}
	if n, err := tn.node.Manager("r").Count(context.Background()); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want only the 128-byte session", n, err)
	}
}

// TestCloseHandshake: a close the server starts follows RFC 6455: the
// close frame is sent, the TCP connection stays open for the client's
// close frame, and only then (or once the bound has passed, for a client
// that never answers) does the server close it.
func TestCloseHandshake(t *testing.T) {
	h := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
		_ = s.Close(s.Context(), 3000, "Go away!")
	}}
	tn := startNode(t, sockjs.Config{}, h, sockjs.Options{})
	for _, answers := range []bool{true, false} {
		t.Run(fmt.Sprintf("client answers %v", answers), func(t *testing.T) {
			c := tn.dial(newID())
			if !answers {
				c.SetCloseHandler(func(int, string) error { return nil })
			}
			if err := c.WriteMessage(websocket.TextMessage, []byte(`["bye"]`)); err != nil {
				t.Fatal(err)
			}
			if f := readWS(t, c); f != `c[3000,"Go away!"]` {
				t.Fatalf("frame %q, want the close frame", f)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
				t.Fatalf("after the close frame: %v, want a websocket close 1000", err)
			}
			raw := c.UnderlyingConn()
			buf := make([]byte, 16)
			if !answers {
				// No answer yet: the server keeps the connection open.
				_ = raw.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				if _, err := raw.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("the server closed the connection before its closing handshake's bound: %v", err)
				}
			}
			_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := raw.Read(buf); !errors.Is(err, io.EOF) {
				t.Fatalf("the server did not close the connection within 5s: %v", err)
			}
		})
	}
}

// TestWebSocketQueueBoundInBytes: what a websocket session has queued and
// not yet written is bounded in bytes (MaxQueueBytes): past it, Send fails
// with ErrSlowConsumer and the session is closed with 1008.
func TestWebSocketQueueBoundInBytes(t *testing.T) {
	type result struct {
		sent int
		err  error
	}
	got := make(chan result, 1)
	chunk := strings.Repeat("x", 8<<10)
	h := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
		// Nothing is written while OnMessage runs: the sends queue up.
		for i := 0; i < 100; i++ {
			if err := s.Send(s.Context(), chunk); err != nil {
				got <- result{i, err}
				return
			}
		}
		got <- result{100, nil}
	}}
	tn := startNode(t, sockjs.Config{}, h, sockjs.Options{MaxQueueBytes: 64 << 10})
	c := tn.dial(newID())
	if err := c.WriteMessage(websocket.TextMessage, []byte(`["flood"]`)); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if !errors.Is(r.err, sockjs.ErrSlowConsumer) || r.sent*len(chunk) > 64<<10 {
		t.Fatalf("after %d sends of 8 KiB: %v, want ErrSlowConsumer within 64 KiB", r.sent, r.err)
	}
	for {
		f := readWS(t, c)
		if strings.HasPrefix(f, "c[") {
			if f != `c[1008,"Slow consumer"]` {
				t.Fatalf("close frame %q", f)
			}
			break
		}
	}
}

// TestFallingBehindTheBroadcastLog: a session that has not taken
// broadcasts the log had to drop (here by its byte bound) is closed with a
// reason that says so, after what it could still take, instead of
// skipping them silently.
func TestFallingBehindTheBroadcastLog(t *testing.T) {
	st := storemem.New(storemem.Options{MaxBroadcastBytes: 100})
	tn := startNode(t, sockjs.Config{Store: st}, newRecorder().handler(nil), sockjs.Options{})
	id := newID()
	if f := tn.poll(id); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	mgr := tn.node.Manager("r")
	for i := 0; i < 10; i++ {
		if err := mgr.Broadcast(context.Background(), strings.Repeat(fmt.Sprint(i), 30)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, ok := frameMessages(tn.poll(id))
	if !ok || len(msgs) == 0 || msgs[len(msgs)-1] != strings.Repeat("9", 30) {
		t.Fatalf("poll after the broadcasts: %q, want what the log still holds", msgs)
	}
	if f := tn.poll(id); f != `c[1008,"Missed broadcasts: fell behind the broadcast log"]`+"\n" {
		t.Fatalf("next poll: %q, want the close frame saying why", f)
	}
}

// TestEndlessFragmentsAreCut: a websocket message kept open with empty
// continuation frames (which no byte limit catches) is cut once
// MessageTimeout has passed: the server closes the connection.
func TestEndlessFragmentsAreCut(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(nil), sockjs.Options{MessageTimeout: 300 * time.Millisecond})
	c := tn.dial(newID())
	raw := c.UnderlyingConn()
	// Masked client frames with an empty payload: a text frame without
	// FIN, then continuation frames without FIN, forever.
	if _, err := raw.Write([]byte{0x01, 0x80, 1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	cont := []byte{0x00, 0x80, 1, 2, 3, 4}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := raw.Write(cont); err != nil {
			return // the server closed the connection
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the server still read an endless fragmented message after 5s")
}

// TestEmptyFragmentsCountOnTheWire: with the default MessageTimeout, an
// endless run of empty fragments is cut by the bytes it takes on the wire,
// after thousands of frames, not millions.
func TestEmptyFragmentsCountOnTheWire(t *testing.T) {
	for _, path := range []string{"sockjs", "raw"} {
		t.Run(path, func(t *testing.T) {
			tn := startNode(t, sockjs.Config{}, newRecorder().handler(nil), sockjs.Options{RawWebSocket: true})
			var raw net.Conn
			if path == "raw" {
				url := "ws" + strings.TrimPrefix(tn.url, "http") + "/websocket"
				c, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				raw = c.UnderlyingConn()
			} else {
				raw = tn.dial(newID()).UnderlyingConn()
			}
			if _, err := raw.Write([]byte{0x01, 0x80, 1, 2, 3, 4}); err != nil {
				t.Fatal(err)
			}
			// Far fewer than the kernel's socket buffers hold, so that the
			// writes succeed until the server has read them.
			batch := bytes.Repeat([]byte{0x00, 0x80, 1, 2, 3, 4}, 1000)
			start := time.Now()
			for sent := 0; sent < 2_000_000; sent += 1000 {
				_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := raw.Write(batch); err != nil {
					// Cut by the bytes on the wire, long before MessageTimeout
					// (10 s) would have cut it.
					if d := time.Since(start); d > 3*time.Second {
						t.Fatalf("cut after %v", d)
					}
					return
				}
				time.Sleep(time.Millisecond)
			}
			t.Fatalf("the server still read after 2 000 000 empty fragments, %v", time.Since(start))
		})
	}
}
