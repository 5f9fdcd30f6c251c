// Package testservice registers the SockJS services that the
// sockjs-protocol test suite and load tools expect on a node. It backs
// examples/testserver and the multi-node tests.
package testservice

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/sockjs-cluster/sockjs"
)

// Register adds the routes echo, disabled_websocket_echo,
// cookie_needed_echo, close, broadcast, amplify and ticker to node, each at
// "/" + its name. base is applied to every route (then each route's own
// settings); its zero ResponseLimit becomes 4096, as the suite expects.
// The ticker's goroutines stop when ctx ends (or their session does).
func Register(ctx context.Context, node *sockjs.Server, base sockjs.Options) {
	if base.ResponseLimit == 0 {
		base.ResponseLimit = 4096
	}
	base.RawWebSocket = true
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
		_ = s.Send(s.Context(), Amplify(msg))
	}}, nil)
	add("ticker", sockjs.HandlerFuncs{Open: func(s *sockjs.Session) {
		go tick(ctx, s)
	}}, nil)
}

// Amplify answers message n with 2^n 'x' characters; n outside 1..18
// counts as 1.
func Amplify(msg string) string {
	n, err := strconv.Atoi(strings.TrimSpace(msg))
	if err != nil || n < 1 || n > 18 {
		n = 1
	}
	return strings.Repeat("x", 1<<n)
}

// tick sends "tick" once a second until the session is gone or ctx ends.
// It outlives the opening request, so it does not use that request's
// context.
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
