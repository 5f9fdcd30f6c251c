package main

import (
	_ "embed"
	"errors"
	"log/slog"
	"net/http"

	"github.com/sockjs-cluster/sockjs"
)

//go:embed index.html
var page []byte

// newServer builds the SockJS node with its echo route, and the handler
// serving it beside the page.
func newServer(log *slog.Logger) (*sockjs.Server, http.Handler) {
	node := sockjs.NewServer(sockjs.Config{Logger: log})
	echo := node.Route("echo", "/echo", sockjs.HandlerFuncs{
		Message: func(s *sockjs.Session, msg string) {
			// A send fails when the session is closed, or its queue is
			// full (a client that does not read): the library has logged
			// it and closes such a session. Stop echoing to it.
			if err := s.Send(s.Context(), msg); err != nil && !errors.Is(err, sockjs.ErrSessionClosed) {
				log.Debug("echo: send failed", "session", s.ID(), "err", err)
			}
		},
	}, sockjs.Options{})

	mux := http.NewServeMux()
	mux.Handle("/echo/", echo)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(page)
	})
	return node, mux
}
