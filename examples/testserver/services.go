package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/sockjs-cluster/sockjs"
)

// registerServices adds the routes echo, disabled_websocket_echo,
// cookie_needed_echo, close, broadcast, amplify and ticker to node, each at
// "/" + its name, as the sockjs-protocol suite expects them. base applies
// to every route before the route's own settings; a zero ResponseLimit
// becomes 4096, the suite's value. Ticker goroutines stop when ctx ends or
// their session is gone.
//
// The multi-node tests and the profiling harness register the same
// services from the repository's internal/testservice; the protocol suite
// runs against both.
func registerServices(ctx context.Context, node *sockjs.Server, base sockjs.Options) {
	if base.ResponseLimit == 0 {
		base.ResponseLimit = 4096
	}
	base.RawWebSocket = true
	route := func(name string, h sockjs.Handler, edit func(*sockjs.Options)) {
		opts := base
		if edit != nil {
			edit(&opts)
		}
		node.Route(name, "/"+name, h, opts)
	}

	echo := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, msg string) {
		_ = s.Send(s.Context(), msg)
	}}
	route("echo", echo, nil)
	route("disabled_websocket_echo", echo, func(o *sockjs.Options) { o.DisableWebSocket = true })
	route("cookie_needed_echo", echo, func(o *sockjs.Options) { o.JSessionID = sockjs.DefaultJSessionID })
	route("close", sockjs.HandlerFuncs{Open: func(s *sockjs.Session) {
		_ = s.Close(s.Context(), 3000, "Go away!")
	}}, nil)
	route("broadcast", sockjs.HandlerFuncs{Message: func(s *sockjs.Session, msg string) {
		_ = node.Manager("broadcast").Broadcast(s.Context(), msg)
	}}, nil)
	route("amplify", sockjs.HandlerFuncs{Message: func(s *sockjs.Session, msg string) {
		_ = s.Send(s.Context(), amplify(msg))
	}}, nil)
	route("ticker", sockjs.HandlerFuncs{Open: func(s *sockjs.Session) {
		go tick(ctx, s)
	}}, nil)
}

// amplify answers message n with 2^n 'x' characters; n outside 1..18
// counts as 1.
func amplify(msg string) string {
	n, err := strconv.Atoi(strings.TrimSpace(msg))
	if err != nil || n < 1 || n > 18 {
		n = 1
	}
	return strings.Repeat("x", 1<<n)
}

// tick sends "tick" every second until its session is gone or ctx ends.
// It outlives the request that opened the session, so it uses ctx, not
// the session's context.
func tick(ctx context.Context, s *sockjs.Session) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Send(ctx, "tick"); err != nil {
			return
		}
	}
}
