package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
)

// wait bounds every wait for the server.
const wait = 5 * time.Second

// startServer runs the chat's serve on a loopback port for the test's
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
	cfg := sockjs.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { done <- serve(ctx, ln, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(3 * wait):
			t.Error("serve did not return after shutdown")
		}
	})
	return ln.Addr().String()
}

func sessionID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// peer is one SockJS session seen from the client: its frames arrive on
// frames, which is closed when the connection ends.
type peer struct {
	frames  chan string
	pending []Event
}

// openWebSocket opens a websocket session from a same-origin page.
func openWebSocket(t *testing.T, addr string) (*peer, *websocket.Conn) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: wait}
	h := http.Header{"Origin": {"http://" + addr}}
	conn, resp, err := d.Dial("ws://"+addr+"/chat/000/"+sessionID()+"/websocket", h)
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	resp.Body.Close()
	p := &peer{frames: make(chan string, 16)}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer close(p.frames)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			p.frames <- string(b)
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-stopped
	})
	return p, conn
}

// openStream opens an xhr-streaming session.
func openStream(t *testing.T, addr string) (*peer, string) {
	t.Helper()
	url := "http://" + addr + "/chat/000/" + sessionID()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/xhr_streaming", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("xhr_streaming: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		t.Fatalf("xhr_streaming: status %d", resp.StatusCode)
	}
	p := &peer{frames: make(chan string, 16)}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer close(p.frames)
		r := bufio.NewReader(resp.Body)
		if _, err := r.ReadString('\n'); err != nil { // the 'h' prelude
			return
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			p.frames <- strings.TrimSuffix(line, "\n")
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-stopped
	})
	return p, url
}

// frame returns the next frame other than a heartbeat.
func (p *peer) frame(t *testing.T) string {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				t.Fatal("connection ended")
			}
			if f != "h" {
				return f
			}
		case <-timer.C:
			t.Fatal("no frame in time")
		}
	}
}

// open checks that the session opens.
func (p *peer) open(t *testing.T) {
	t.Helper()
	if f := p.frame(t); f != "o" {
		t.Fatalf("first frame %q, want %q", f, "o")
	}
}

// next returns the next chat event.
func (p *peer) next(t *testing.T) Event {
	t.Helper()
	for len(p.pending) == 0 {
		f := p.frame(t)
		var msgs []string
		if !strings.HasPrefix(f, "a") || json.Unmarshal([]byte(f[1:]), &msgs) != nil {
			t.Fatalf("unexpected frame %q", f)
		}
		for _, m := range msgs {
			var ev Event
			if err := json.Unmarshal([]byte(m), &ev); err != nil {
				t.Fatalf("message %q is not an event: %v", m, err)
			}
			p.pending = append(p.pending, ev)
		}
	}
	ev := p.pending[0]
	p.pending = p.pending[1:]
	return ev
}

// expect checks that the next chat event is want.
func (p *peer) expect(t *testing.T, who string, want Event) {
	t.Helper()
	if got := p.next(t); got != want {
		t.Fatalf("%s got %s, want %s", who, brief(got), brief(want))
	}
}

// brief shows an event with its text cut short.
func brief(ev Event) string {
	if r := []rune(ev.Text); len(r) > 40 {
		ev.Text = string(r[:40]) + "…"
	}
	return fmt.Sprintf("%+v", ev)
}

// welcome reads a new session's welcome and own join, and returns its name.
func (p *peer) welcome(t *testing.T, who string) string {
	t.Helper()
	p.open(t)
	ev := p.next(t)
	if ev.Type != "welcome" || !strings.HasPrefix(ev.Name, "guest-") {
		t.Fatalf("%s got %s, want a welcome with a guest name", who, brief(ev))
	}
	p.expect(t, who, Event{Type: "join", Name: ev.Name})
	return ev.Name
}

func sendWS(t *testing.T, conn *websocket.Conn, msg string) {
	t.Helper()
	b, _ := json.Marshal([]string{msg})
	_ = conn.SetWriteDeadline(time.Now().Add(wait))
	if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("websocket send: %v", err)
	}
}

var client = &http.Client{Timeout: wait}

func sendXHR(t *testing.T, url, msg string) {
	t.Helper()
	b, _ := json.Marshal([]string{msg})
	resp, err := client.Post(url+"/xhr_send", "text/plain", strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("xhr_send: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("xhr_send: status %d, want 204", resp.StatusCode)
	}
}

func TestChat(t *testing.T) {
	addr := startServer(t)

	a, urlA := openStream(t, addr)
	nameA := a.welcome(t, "A")

	b, connB := openWebSocket(t, addr)
	nameB := b.welcome(t, "B")
	if nameA == nameB {
		t.Fatalf("A and B are both named %q", nameA)
	}
	a.expect(t, "A", Event{Type: "join", Name: nameB})

	both := func(ev Event) {
		t.Helper()
		a.expect(t, "A", ev)
		b.expect(t, "B", ev)
	}

	sendWS(t, connB, "hello")
	both(Event{Type: "message", Name: nameB, Text: "hello"})

	// Markup is data: it arrives as sent, for the page to show as text.
	markup := `<img src=x onerror="alert(1)"> & </script>`
	sendXHR(t, urlA, markup)
	both(Event{Type: "message", Name: nameA, Text: markup})

	// The limit counts characters, not bytes.
	longest := strings.Repeat("é", MaxMessageLen)
	sendWS(t, connB, longest)
	both(Event{Type: "message", Name: nameB, Text: longest})

	// One character more is refused: the sender is told, nobody else hears
	// of it (A's next event is the message sent after it).
	sendWS(t, connB, longest+"!")
	if ev := b.next(t); ev.Type != "error" {
		t.Fatalf("B got %s after an over-long message, want an error", brief(ev))
	}
	sendXHR(t, urlA, strings.Repeat("x", MaxMessageLen+1))
	if ev := a.next(t); ev.Type != "error" {
		t.Fatalf("A got %s after an over-long message, want an error", brief(ev))
	}
	sendWS(t, connB, "after")
	both(Event{Type: "message", Name: nameB, Text: "after"})

	// Blank messages are dropped.
	sendXHR(t, urlA, "  ")
	sendXHR(t, urlA, "still here")
	both(Event{Type: "message", Name: nameA, Text: "still here"})

	// B leaves: its websocket ends with a close handshake, and A is told.
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := connB.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	a.expect(t, "A", Event{Type: "leave", Name: nameB})
}

func TestForeignOriginRefused(t *testing.T) {
	addr := startServer(t)
	d := websocket.Dialer{HandshakeTimeout: wait}
	h := http.Header{"Origin": {"https://evil.example"}}
	conn, resp, err := d.Dial("ws://"+addr+"/chat/000/"+sessionID()+"/websocket", h)
	if conn != nil {
		conn.Close()
	}
	if resp != nil {
		resp.Body.Close()
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial from a foreign origin: err %v, response %v; want a 403 handshake error", err, resp)
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPage(t *testing.T) {
	base := "http://" + startServer(t)

	resp, body := get(t, base+"/")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET /: %d %q, want 200 text/html", resp.StatusCode, ct)
	}
	// The pinned client, with its integrity hash (checked against the npm
	// package by integration_test) and crossorigin, which the check needs.
	tag := regexp.MustCompile(`<script id="sockjs-client" src="` + regexp.QuoteMeta(SockJSURL) +
		`"\s+integrity="sha384-[A-Za-z0-9+/]{64}"\s+crossorigin="anonymous"></script>`)
	if !tag.MatchString(body) {
		t.Errorf("page does not load %s with integrity sha384-… and crossorigin=\"anonymous\"", SockJSURL)
	}
	// It says so when the client or the server cannot be reached, and
	// retries with back-off up to 30 s.
	for _, want := range []string{"Could not load the chat client", "Cannot connect to the chat server", "maxDelay = 30000", `role="status"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
		if strings.Contains(body, bad) {
			t.Errorf("page uses %s: render server data with textContent", bad)
		}
	}

	// The iframe page loads the same client as the page.
	resp, body = get(t, base+"/chat/iframe.html")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, SockJSURL) {
		t.Errorf("GET /chat/iframe.html: %d, want 200 with %s", resp.StatusCode, SockJSURL)
	}

	resp, _ = get(t, base+"/nothing-here")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d, want 404", resp.StatusCode)
	}
}

// TestShutdown stops the server under open sessions, as SIGTERM does: the
// websocket gets the going-away close frame, the streaming response ends,
// and serve returns nil.
func TestShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, sockjs.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	addr := ln.Addr().String()

	a, _ := openStream(t, addr)
	a.welcome(t, "A")
	b, _ := openWebSocket(t, addr)
	b.welcome(t, "B")

	cancel()
	for {
		f := b.frame(t)
		if f == `c[1001,"Server shutting down"]` {
			break
		}
		if !strings.HasPrefix(f, "a") {
			t.Fatalf("B got %q at shutdown, want the going-away close frame", f)
		}
	}
	deadline := time.After(wait)
	for open := true; open; {
		select {
		case _, open = <-a.frames:
		case <-deadline:
			t.Fatal("A's streaming response did not end at shutdown")
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(3 * wait):
		t.Fatal("serve did not return after shutdown")
	}
}
