package sockjs_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
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
