package load

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeSockJS is the least of a SockJS server Hold needs, shared by several
// "nodes": o on a session's first receiving request, h every beat.
type fakeSockJS struct {
	beat time.Duration
	mu   sync.Mutex
	seen map[string]bool // sessions opened
	reqs map[string]int  // receiving requests by transport
}

func (f *fakeSockJS) first(sid, transport string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs[transport]++
	if f.seen[sid] {
		return false
	}
	f.seen[sid] = true
	return true
}

func (f *fakeSockJS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /echo/000/<sid>/<transport>
	parts := strings.Split(r.URL.Path, "/")
	if len(parts) != 5 {
		http.NotFound(w, r)
		return
	}
	sid, transport := parts[3], parts[4]
	switch transport {
	case "websocket":
		up := websocket.Upgrader{}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		f.first(sid, transport)
		go func() { // notice the client closing
			for {
				if _, _, err := c.NextReader(); err != nil {
					c.Close()
					return
				}
			}
		}()
		if c.WriteMessage(websocket.TextMessage, []byte("o")) != nil {
			return
		}
		for {
			time.Sleep(f.beat)
			if c.WriteMessage(websocket.TextMessage, []byte("h")) != nil {
				return
			}
		}
	case "xhr":
		if !f.first(sid, transport) {
			select {
			case <-time.After(f.beat):
			case <-r.Context().Done():
				return
			}
			fmt.Fprint(w, "h\n")
			return
		}
		fmt.Fprint(w, "o\n")
	case "xhr_streaming":
		fl := w.(http.Flusher)
		fmt.Fprint(w, strings.Repeat("h", 2048)+"\n")
		if f.first(sid, transport) {
			fmt.Fprint(w, "o\n")
		}
		fl.Flush()
		// End the response after three beats, as a response limit would.
		for range 3 {
			select {
			case <-time.After(f.beat):
			case <-r.Context().Done():
				return
			}
			fmt.Fprint(w, "h\n")
			fl.Flush()
		}
	default:
		http.NotFound(w, r)
	}
}

// memProbe is a probe whose store grows by perSession bytes per session
// between its first and second reading.
type memProbe struct {
	mu             sync.Mutex
	reads          int
	started, ended time.Time
	perSession     int64
	sessions       int64
}

func (p *memProbe) Start()      { p.started = time.Now() }
func (p *memProbe) Stop()       { p.ended = time.Now() }
func (p *memProbe) RSS() int64  { return 0 }
func (p *memProbe) Note(string) {}

func (p *memProbe) StoreMemory() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads++
	if p.reads == 1 {
		return 1 << 20
	}
	return 1<<20 + p.perSession*p.sessions
}

func TestHold(t *testing.T) {
	const beat = 50 * time.Millisecond
	for _, kind := range []Kind{HoldWS, HoldStreaming, HoldPolling} {
		t.Run(string(kind), func(t *testing.T) {
			f := &fakeSockJS{beat: beat, seen: map[string]bool{}, reqs: map[string]int{}}
			a, b := httptest.NewServer(f), httptest.NewServer(f)
			defer a.Close()
			defer b.Close()
			cfg := Config{Hold: 6, HoldOpen: 60 * time.Millisecond, HoldWindow: 400 * time.Millisecond, Concurrency: 4, Wait: 2 * time.Second}
			p := &memProbe{perSession: 300, sessions: 6}
			t0 := time.Now()
			r := Hold(t.Context(), Target{Bases: []string{a.URL, b.URL}}, "echo", kind, cfg, p)
			if r.Errors != 0 || r.Ops != 6 || r.Sent != 6 || r.Lost != 0 {
				t.Fatalf("ops %d sent %d lost %d errors %d (%s)", r.Ops, r.Sent, r.Lost, r.Errors, r.FirstErr)
			}
			// The window follows the opening, which took at least HoldOpen.
			if open := p.started.Sub(t0); open < cfg.HoldOpen*5/6 {
				t.Errorf("window started %s after the first session: opening not paced", open)
			}
			if w := p.ended.Sub(p.started); w < cfg.HoldWindow || w > cfg.HoldWindow+200*time.Millisecond || r.Elapsed < cfg.HoldWindow {
				t.Errorf("window %s, elapsed %s, want %s", w, r.Elapsed, cfg.HoldWindow)
			}
			// About 6 × 400/50 = 48 heartbeats (poll cycles) in the window.
			if r.Cycles < 24 || r.Cycles > 60 {
				t.Errorf("%d heartbeats in the window, want about 48", r.Cycles)
			}
			if r.StorePer != 300 {
				t.Errorf("store bytes per session = %v, want 300", r.StorePer)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if kind != HoldWS && f.reqs[string(kind)] < 6*2 {
				t.Errorf("%d %s requests: the sessions did not poll or reconnect", f.reqs[string(kind)], kind)
			}
		})
	}
}
