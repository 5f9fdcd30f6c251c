// Command chat is a chat room on SockJS: every message a visitor sends goes
// to everyone, with notices when visitors join and leave. It serves the page
// at / and the SockJS route at /chat.
//
//	go run ./examples/chat -addr 127.0.0.1:8080
//
// Open the page in a few browser tabs; add ?transport=xhr-polling (or
// xhr-streaming, eventsource, iframe-htmlfile, jsonp-polling, websocket) to
// the page's URL to force one transport.
//
// Sessions live in the in-memory store, so the room is one process. server.go
// builds the handler from a sockjs.Config: filling its Store and Bus (for
// instance with Redis) is all it takes to run several nodes behind a plain
// load balancer.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/internal/redisconfig"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	redisURL := flag.String("redis", "", "Redis URL (redis://host:port/db): run as one node of a cluster; empty: in memory")
	node := flag.String("node", "", "this node's id in the cluster (default: random)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *redisURL, sockjs.Config{Logger: log, NodeID: *node}); err != nil {
		log.Error("chat", "err", err)
		os.Exit(1)
	}
}

func run(addr, redisURL string, cfg sockjs.Config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills the process at once

	if redisURL != "" {
		backend, err := redisconfig.Open(ctx, redisURL, "chat")
		if err != nil {
			return err
		}
		defer backend.Close()
		cfg.Store, cfg.Bus = backend.Store, backend.Bus
		cfg.Logger.Info("chat in cluster mode", "redis", redisURL)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	cfg.Logger.Info("chat listening", "url", "http://"+ln.Addr().String()+"/")
	return serve(ctx, ln, cfg)
}

// serve runs the chat on ln until ctx ends, then shuts the SockJS node and
// the HTTP server down.
func serve(ctx context.Context, ln net.Listener, cfg sockjs.Config) error {
	node, handler := newServer(cfg)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(err, node.Shutdown(context.Background()))
	case <-ctx.Done():
	}

	// The node first: it closes websockets (each with c[1001,"Server
	// shutting down"]) and ends streaming responses, which
	// http.Server.Shutdown would otherwise wait for.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := errors.Join(node.Shutdown(sctx), srv.Shutdown(sctx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
