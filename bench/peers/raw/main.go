// Command raw is the benchmark's ceiling: a plain gorilla/websocket server
// doing the least a SockJS websocket endpoint must do (the "o" frame, JSON
// array frames in both directions) and nothing else: no sessions, no
// heartbeats, no HTTP transports.
//
//	/echo/{server}/{session}/websocket       echoes every message
//	/broadcast/{server}/{session}/websocket  sends each message to every connection
//
// Broadcast follows gorilla's chat example: the frame is encoded once and
// queued to each connection's writer goroutine. It listens on loopback only.
//
//	go run ./peers/raw -addr 127.0.0.1:8084
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// queueLen bounds a broadcast connection's unsent frames, as the
// testserver's MaxQueue does; a consumer further behind is dropped.
const queueLen = 4096

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func main() {
	addr := flag.String("addr", "127.0.0.1:8084", "listen address (loopback)")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("raw: %q is not a loopback address", *addr)
	}
	h := &hub{conns: make(map[*client]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo/", func(w http.ResponseWriter, r *http.Request) {
		if !isWebSocketPath(r.URL.Path) {
			_, _ = w.Write([]byte("raw\n")) // /echo/info: the readiness check
			return
		}
		serveEcho(w, r)
	})
	mux.HandleFunc("/broadcast/", func(w http.ResponseWriter, r *http.Request) {
		if !isWebSocketPath(r.URL.Path) {
			_, _ = w.Write([]byte("raw\n"))
			return
		}
		h.serve(w, r)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("raw listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}

func isWebSocketPath(p string) bool { return strings.HasSuffix(p, "/websocket") }

// encode returns the array frame a[...] carrying msgs.
func encode(msgs []string) []byte {
	b, _ := json.Marshal(msgs)
	return append([]byte{'a'}, b...)
}

func serveEcho(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("o")); err != nil {
		return
	}
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		var msgs []string
		if err := json.Unmarshal(data, &msgs); err != nil {
			return
		}
		if len(msgs) == 0 {
			continue
		}
		if err := c.WriteMessage(websocket.TextMessage, encode(msgs)); err != nil {
			return
		}
	}
}

type client struct {
	conn *websocket.Conn
	send chan []byte
}

type hub struct {
	mu    sync.RWMutex
	conns map[*client]struct{}
}

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	cl := &client{conn: c, send: make(chan []byte, queueLen)}
	cl.send <- []byte("o")
	h.mu.Lock()
	h.conns[cl] = struct{}{}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { // the writer: one per connection
		defer close(done)
		for f := range cl.send {
			if err := c.WriteMessage(websocket.TextMessage, f); err != nil {
				_ = c.Close()
				for range cl.send { // drain until the reader unregisters
				}
				return
			}
		}
	}()
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			break
		}
		var msgs []string
		if err := json.Unmarshal(data, &msgs); err != nil {
			break
		}
		if len(msgs) == 0 {
			continue
		}
		f := encode(msgs)
		h.mu.RLock()
		for o := range h.conns {
			select {
			case o.send <- f:
			default: // slow consumer: close it, its reader unregisters it
				_ = o.conn.Close()
			}
		}
		h.mu.RUnlock()
	}
	h.mu.Lock()
	delete(h.conns, cl)
	h.mu.Unlock()
	close(cl.send)
	<-done
	_ = c.Close()
}
