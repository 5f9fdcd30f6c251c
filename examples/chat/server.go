package main

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sockjs-cluster/sockjs"
)

// SockJSURL is the sockjs-client build the page and the route's iframe page
// load: pinned, and the same for both, as SockJS requires.
const SockJSURL = "https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js"

// MaxMessageLen is the longest chat message, in characters, the room
// relays; longer ones are refused.
const MaxMessageLen = 1000

//go:embed static/index.html
var page []byte

// Event is what the room sends its clients, one JSON object per SockJS
// message. Text is user input: the page renders it as text, never as HTML.
type Event struct {
	Type string `json:"type"` // "welcome", "join", "leave", "message" or "error"
	Name string `json:"name,omitempty"`
	Text string `json:"text,omitempty"`
}

// room is the chat's SockJS handler.
type room struct {
	node *sockjs.Server
	log  *slog.Logger
}

// newServer builds the SockJS node with the chat route, and the handler
// serving it beside the page. cfg chooses the node's store and bus: the zero
// value keeps sessions in memory.
func newServer(cfg sockjs.Config) (*sockjs.Server, http.Handler) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	node := sockjs.NewServer(cfg)
	rm := &room{node: node, log: cfg.Logger}
	chat := node.Route("chat", "/chat", rm, sockjs.Options{
		SockJSURL: SockJSURL,
		// Chat messages are short: refuse big bodies and frames before
		// they are read (the defaults are 1 MiB).
		MaxBodySize:    64 << 10,
		MaxMessageSize: 16 << 10,
		// WebSocketOrigins is left empty: only pages from this server's
		// own origin may open websockets, and the page comes from here.
	})

	mux := http.NewServeMux()
	mux.Handle("/chat/", chat)
	mux.HandleFunc("GET /{$}", servePage)
	return node, mux
}

func servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(page)
}

// nameOf gives a session its name in the room. It is derived from the
// session id, so that any node of a cluster computes the same name,
// including the one that runs OnClose for an expired session. The id is
// chosen by the client: hashing it keeps names short and plain.
func nameOf(s *sockjs.Session) string {
	sum := sha256.Sum256([]byte(s.ID()))
	return "guest-" + hex.EncodeToString(sum[:3])
}

// OnOpen tells the newcomer its name, then everyone that it joined.
func (rm *room) OnOpen(s *sockjs.Session) {
	name := nameOf(s)
	rm.send(s, Event{Type: "welcome", Name: name})
	rm.broadcast(s, Event{Type: "join", Name: name})
}

// OnMessage relays a message to everyone, as "<name>: <text>" on the page.
func (rm *room) OnMessage(s *sockjs.Session, msg string) {
	text := strings.TrimSpace(msg)
	switch {
	case text == "":
		return
	case utf8.RuneCountInString(text) > MaxMessageLen:
		rm.send(s, Event{Type: "error", Text: fmt.Sprintf("message not sent: longer than %d characters", MaxMessageLen)})
		return
	}
	rm.broadcast(s, Event{Type: "message", Name: nameOf(s), Text: text})
}

// OnClose tells everyone that the session left. It runs once per session:
// when its websocket ends, when it is closed, or when it expired because
// its client stopped polling.
func (rm *room) OnClose(s *sockjs.Session) {
	rm.broadcast(s, Event{Type: "leave", Name: nameOf(s)})
}

// callTimeout bounds each call a callback makes to the store and bus.
const callTimeout = 5 * time.Second

func (rm *room) send(s *sockjs.Session, ev Event) {
	b, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(s.Context(), callTimeout)
	defer cancel()
	if err := s.Send(ctx, string(b)); err != nil {
		rm.log.Debug("chat: send", "session", s.ID(), "err", err)
	}
}

// broadcast sends ev to every session, within the context of the session
// whose callback is running.
func (rm *room) broadcast(s *sockjs.Session, ev Event) {
	b, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(s.Context(), callTimeout)
	defer cancel()
	if err := rm.node.Manager("chat").Broadcast(ctx, string(b)); err != nil {
		rm.log.Warn("chat: broadcast", "type", ev.Type, "err", err)
	}
}
