package sockjs_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testNode is one node with one route "r" at /r, served on loopback.
type testNode struct {
	t    *testing.T
	node *sockjs.Server
	srv  *httptest.Server
	url  string // route base URL
}

func startNode(t *testing.T, cfg sockjs.Config, h sockjs.Handler, opts sockjs.Options) *testNode {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	node := sockjs.NewServer(cfg)
	node.Route("r", "/r", h, opts)
	srv := httptest.NewServer(node)
	tn := &testNode{t: t, node: node, srv: srv, url: srv.URL + "/r"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
	})
	return tn
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var client = &http.Client{Timeout: 10 * time.Second}

// post does a POST and returns status and body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := client.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// poll does one xhr poll of session id and returns the frame.
func (tn *testNode) poll(id string) string {
	tn.t.Helper()
	code, body := post(tn.t, tn.url+"/000/"+id+"/xhr", "")
	if code != http.StatusOK {
		tn.t.Fatalf("xhr poll: status %d, body %q", code, body)
	}
	return body
}

// send does one xhr_send and fails the test unless it is accepted.
func (tn *testNode) send(id, payload string) {
	tn.t.Helper()
	code, body := post(tn.t, tn.url+"/000/"+id+"/xhr_send", payload)
	if code != http.StatusNoContent {
		tn.t.Fatalf("xhr_send %s: status %d, body %q", payload, code, body)
	}
}

// dial opens a SockJS websocket session and reads its open frame.
func (tn *testNode) dial(id string) *websocket.Conn {
	tn.t.Helper()
	url := "ws" + strings.TrimPrefix(tn.url, "http") + "/000/" + id + "/websocket"
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		tn.t.Fatalf("dial %s: %v", url, err)
	}
	tn.t.Cleanup(func() { c.Close() })
	if f := readWS(tn.t, c); f != "o" {
		tn.t.Fatalf("websocket first frame: got %q, want o", f)
	}
	return c
}

func readWS(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return string(b)
}

// stream is an open xhr_streaming response read line by line.
type stream struct {
	resp *http.Response
	r    *bufio.Reader
}

func (tn *testNode) stream(id string) *stream {
	tn.t.Helper()
	resp, err := client.Post(tn.url+"/000/"+id+"/xhr_streaming", "text/plain", nil)
	if err != nil {
		tn.t.Fatalf("xhr_streaming: %v", err)
	}
	tn.t.Cleanup(func() { resp.Body.Close() })
	s := &stream{resp: resp, r: bufio.NewReader(resp.Body)}
	if prelude := s.line(tn.t); len(prelude) != 2049 {
		tn.t.Fatalf("prelude length %d", len(prelude))
	}
	return s
}

// line reads one frame with its newline.
func (s *stream) line(t *testing.T) string {
	t.Helper()
	type res struct {
		l   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := s.r.ReadString('\n')
		ch <- res{l, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && r.l == "" {
			return ""
		}
		return r.l
	case <-time.After(5 * time.Second):
		t.Fatalf("stream: no frame within 5s")
		return ""
	}
}

// recorder records handler callbacks.
type recorder struct {
	mu       sync.Mutex
	opened   []string
	messages []string
	closed   []string
	closedCh chan string
}

func newRecorder() *recorder { return &recorder{closedCh: make(chan string, 100)} }

func (r *recorder) handler(onMsg func(s *sockjs.Session, m string)) sockjs.Handler {
	return sockjs.HandlerFuncs{
		Open: func(s *sockjs.Session) {
			r.mu.Lock()
			r.opened = append(r.opened, s.ID())
			r.mu.Unlock()
		},
		Message: func(s *sockjs.Session, m string) {
			r.mu.Lock()
			r.messages = append(r.messages, m)
			r.mu.Unlock()
			if onMsg != nil {
				onMsg(s, m)
			}
		},
		Close: func(s *sockjs.Session) {
			r.mu.Lock()
			r.closed = append(r.closed, s.ID())
			r.mu.Unlock()
			r.closedCh <- s.ID()
		},
	}
}

func (r *recorder) count(id string) (opened, closed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.opened {
		if x == id {
			opened++
		}
	}
	for _, x := range r.closed {
		if x == id {
			closed++
		}
	}
	return
}

func (r *recorder) waitClosed(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, c := r.count(id); c > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("OnClose(%s) did not run within 5s", id)
		}
		select {
		case <-r.closedCh:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func echo(s *sockjs.Session, m string) { _ = s.Send(context.Background(), m) }

// freezable makes tn's node pausable: while the returned flag is set, its
// receivers block before writing what they took and its lease renewals
// wait (sockjs.SetPause), as in a frozen process.
func freezable(tn *testNode) *atomic.Bool {
	var frozen atomic.Bool
	sockjs.SetPause(tn.node, func() {
		for frozen.Load() {
			time.Sleep(2 * time.Millisecond)
		}
	})
	return &frozen
}
