package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
)

// startServer runs the example's serve on a loopback port for the test's
// lifetime and returns the listen address. Cleanup stops it as a signal
// would and checks that it returns nil (exit status 0).
func startServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not return after shutdown")
		}
	})
	return ln.Addr().String()
}

var client = &http.Client{Timeout: 5 * time.Second}

func sessionID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// post sends a POST and returns the status and body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := client.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestXHRPolling(t *testing.T) {
	base := "http://" + startServer(t) + "/echo/000/" + sessionID(t)
	steps := []struct {
		path, body string
		code       int
		want       string
	}{
		{"/xhr", "", http.StatusOK, "o\n"},
		{"/xhr_send", `["hi"]`, http.StatusNoContent, ""},
		{"/xhr", "", http.StatusOK, "a[\"hi\"]\n"},
	}
	for _, s := range steps {
		code, body := post(t, base+s.path, s.body)
		if code != s.code || body != s.want {
			t.Fatalf("POST %s %q: got %d %q, want %d %q", s.path, s.body, code, body, s.code, s.want)
		}
	}
}

// dial opens a SockJS websocket session with the given Origin header.
func dial(t *testing.T, addr, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := d.Dial("ws://"+addr+"/echo/000/"+sessionID(t)+"/websocket", h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

// read returns the next websocket frame, failing after a few seconds.
func read(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestWebSocket(t *testing.T) {
	addr := startServer(t)
	conn, _, err := dial(t, addr, "http://"+addr)
	if err != nil {
		t.Fatalf("same-origin dial: %v", err)
	}
	if got := read(t, conn); got != "o" {
		t.Fatalf("first frame %q, want %q", got, "o")
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`["hi"]`)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn); got != `a["hi"]` {
		t.Fatalf("echo frame %q, want %q", got, `a["hi"]`)
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

func TestWebSocketForeignOrigin(t *testing.T) {
	addr := startServer(t)
	_, resp, err := dial(t, addr, "http://evil.example")
	if !errors.Is(err, websocket.ErrBadHandshake) {
		t.Fatalf("dial from a foreign origin: err %v, want %v", err, websocket.ErrBadHandshake)
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial from a foreign origin: response %v, want status 403", resp)
	}
}

// TestShutdown checks that stopping serve closes an open websocket session
// with the library's going-away frame and that serve returns nil.
func TestShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	conn, _, err := dial(t, ln.Addr().String(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn); got != "o" {
		t.Fatalf("first frame %q, want %q", got, "o")
	}
	cancel()
	if got, want := read(t, conn), `c[1001,"Server shutting down"]`; got != want {
		t.Fatalf("frame at shutdown %q, want %q", got, want)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
}

func TestPage(t *testing.T) {
	resp, err := client.Get("http://" + startServer(t) + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET /: %d %q, want 200 text/html", resp.StatusCode, ct)
	}
	// The page's client must match the iframe page's (Options.SockJSURL is
	// left empty here).
	for _, want := range []string{sockjs.DefaultSockJSURL, "new SockJS('/echo')"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
