// Command sockjsgo serves the benchmark's services with igm/sockjs-go v3, as
// a peer to compare with examples/testserver:
//
//	/echo       echoes every message
//	/broadcast  sends each message to every open session of the route
//
// Both use a response limit of 4096 bytes and raw /websocket, as the
// testserver does. It listens on loopback only.
//
//	go run ./peers/sockjsgo -addr 127.0.0.1:8082
package main

import (
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/igm/sockjs-go/v3/sockjs"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "listen address (loopback)")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("sockjsgo: %q is not a loopback address", *addr)
	}

	opts := sockjs.DefaultOptions // a copy: DefaultOptions is a mutable package variable
	opts.ResponseLimit = 4096
	opts.RawWebsocket = true
	opts.WebsocketUpgrader = &websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	opts.CheckOrigin = func(*http.Request) bool { return true }

	var hub hub
	mux := http.NewServeMux()
	mux.Handle("/echo/", sockjs.NewHandler("/echo", opts, echo))
	mux.Handle("/broadcast/", sockjs.NewHandler("/broadcast", opts, hub.serve))

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("sockjsgo listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}

func echo(s sockjs.Session) {
	for {
		msg, err := s.Recv()
		if err != nil {
			return
		}
		if err := s.Send(msg); err != nil {
			return
		}
	}
}

// hub is the set of open sessions of /broadcast.
type hub struct {
	mu       sync.RWMutex
	sessions map[string]sockjs.Session
}

func (h *hub) serve(s sockjs.Session) {
	h.mu.Lock()
	if h.sessions == nil {
		h.sessions = make(map[string]sockjs.Session)
	}
	h.sessions[s.ID()] = s
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.sessions, s.ID())
		h.mu.Unlock()
	}()
	for {
		msg, err := s.Recv()
		if err != nil {
			return
		}
		h.mu.RLock()
		for _, o := range h.sessions {
			if err := o.Send(msg); err != nil && !errors.Is(err, sockjs.ErrSessionNotOpen) {
				log.Printf("broadcast to %s: %v", o.ID(), err)
			}
		}
		h.mu.RUnlock()
	}
}
