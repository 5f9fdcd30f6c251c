package integration_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Small SockJS client helpers; every request takes its top URL, so a test
// can send each request of a session to a different node.

func poll(t *testing.T, top, route, id string) string {
	t.Helper()
	code, body := do(t, http.MethodPost, top+"/"+route+"/000/"+id+"/xhr", "")
	if code != http.StatusOK {
		t.Fatalf("poll %s: status %d body %q", top, code, body)
	}
	return body
}

func send(t *testing.T, top, route, id, payload string) {
	t.Helper()
	code, body := do(t, http.MethodPost, top+"/"+route+"/000/"+id+"/xhr_send", payload)
	if code != http.StatusNoContent {
		t.Fatalf("xhr_send %s: status %d body %q", top, code, body)
	}
}

// stream is an open xhr_streaming response.
type stream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
	ch   chan string
}

func openStream(t *testing.T, top, route, id string) *stream {
	t.Helper()
	resp, err := client.Post(top+"/"+route+"/000/"+id+"/xhr_streaming", "text/plain", nil)
	if err != nil {
		t.Fatalf("xhr_streaming: %v", err)
	}
	s := &stream{t: t, resp: resp, r: bufio.NewReader(resp.Body), ch: make(chan string, 1024)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.ch)
		for {
			l, err := s.r.ReadString('\n')
			if l != "" {
				s.ch <- l
			}
			if err != nil {
				return
			}
		}
	}()
	if p := s.next(); len(p) != 2049 {
		t.Fatalf("prelude: %q", p)
	}
	return s
}

// next returns the next frame line, or "" once the response ended.
func (s *stream) next() string {
	s.t.Helper()
	select {
	case l := <-s.ch:
		return l
	case <-time.After(10 * time.Second):
		s.t.Fatal("stream: no frame within 10s")
		return ""
	}
}

func dialWS(t *testing.T, top, route, id string) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(top, "http") + "/" + route + "/000/" + id + "/websocket"
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { c.Close() })
	if f := readWS(t, c); f != "o" {
		t.Fatalf("websocket open: %q", f)
	}
	return c
}

func readWS(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return string(b)
}

// messages decodes the messages of an a[...] frame (with or without its
// trailing newline); other frames give nil.
func messages(t *testing.T, f string) []string {
	t.Helper()
	f = strings.TrimRight(f, "\n")
	if !strings.HasPrefix(f, "a") {
		return nil
	}
	var out []string
	if err := json.Unmarshal([]byte(f[1:]), &out); err != nil {
		t.Fatalf("bad frame %q: %v", f, err)
	}
	return out
}
