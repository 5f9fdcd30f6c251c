package main

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/sockjs-cluster/sockjs"
)

// config is what the test server's flags set.
type config struct {
	SockJSURL string
	Logger    *slog.Logger
}

// newServer builds the node serving every test service. The node is its
// own handler: it routes by prefix without http.ServeMux's path cleaning,
// which would redirect URLs the protocol wants answered with 404.
func newServer(cfg config) *sockjs.Server {
	node := sockjs.NewServer(sockjs.Config{Logger: cfg.Logger})

	base := sockjs.Options{
		ResponseLimit: 4096,
		SockJSURL:     cfg.SockJSURL,
		RawWebSocket:  true,
		// The protocol suite and load tools connect from anywhere: this is a
		// test server, never a model for production.
		InsecureSkipOriginCheck: true,
	}
	add := func(name string, h sockjs.Handler, edit func(*sockjs.Options)) {
		opts := base
		if edit != nil {
			edit(&opts)
		}
		node.Route(name, "/"+name, h, opts)
	}

	echo := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, msg string) {
		_ = s.Send(s.Context(), msg)
	}}
	add("echo", echo, nil)
	add("disabled_websocket_echo", echo, func(o *sockjs.Options) { o.DisableWebSocket = true })
	add("cookie_needed_echo", echo, func(o *sockjs.Options) { o.JSessionID = sockjs.DefaultJSessionID })
	add("close", sockjs.HandlerFuncs{Open: func(s *sockjs.Session) {
		_ = s.Close(s.Context(), 3000, "Go away!")
	}}, nil)
	add("broadcast", sockjs.HandlerFuncs{Message: func(s *sockjs.Session, msg string) {
		_ = node.Manager("broadcast").Broadcast(s.Context(), msg)
	}}, nil)
	add("amplify", sockjs.HandlerFuncs{Message: func(s *sockjs.Session, msg string) {
		_ = s.Send(s.Context(), amplify(msg))
	}}, nil)
	add("ticker", sockjs.HandlerFuncs{Open: func(s *sockjs.Session) {
		go tick(s)
	}}, nil)
	return node
}

// amplify answers message n with 2^n 'x' characters; n outside 1..18 counts
// as 1.
func amplify(msg string) string {
	n, err := strconv.Atoi(strings.TrimSpace(msg))
	if err != nil || n < 1 || n > 18 {
		n = 1
	}
	return strings.Repeat("x", 1<<n)
}

// tick sends "tick" once a second until the session is gone.
func tick(s *sockjs.Session) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		if err := s.Send(s.Context(), "tick"); err != nil {
			return
		}
	}
}
