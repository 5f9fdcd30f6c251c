// Command echo is the smallest SockJS server: every message a client sends
// comes back to it. It serves the SockJS route at /echo and a page at / that
// connects to it with sockjs-client.
//
//	go -C examples run ./echo -addr 127.0.0.1:8080
//
// server.go builds the handler; this file listens and shuts down gracefully
// on SIGINT or SIGTERM.
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
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, log); err != nil {
		log.Error("echo", "err", err)
		os.Exit(1)
	}
}

func run(addr string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills the process at once

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("echo listening", "url", "http://"+ln.Addr().String()+"/")
	return serve(ctx, ln, log)
}

// serve runs the example on ln until ctx ends, then shuts the SockJS node
// and the HTTP server down.
func serve(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	node, handler := newServer(log)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(err, node.Shutdown(context.Background()))
	case <-ctx.Done():
	}

	// The node first: it closes websockets and ends streaming responses,
	// which http.Server.Shutdown would otherwise wait for.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := errors.Join(node.Shutdown(sctx), srv.Shutdown(sctx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
