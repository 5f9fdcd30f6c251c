// Command testserver serves the SockJS services the sockjs-protocol test
// suite and load tools expect:
//
//	/echo                     echoes every message (response limit 4096, raw /websocket on)
//	/disabled_websocket_echo  the same without websockets
//	/cookie_needed_echo       the same with the JSESSIONID cookie
//	/close                    closes every session with 3000 "Go away!"
//	/broadcast                sends each message to every session of the route
//	/amplify                  answers message n with 2^n 'x' (n outside 1..18 counts as 1)
//	/ticker                   sends "tick" once a second
//
// Websocket origins are not checked: this server is for tests only.
//
//	go run ./examples/testserver -addr 127.0.0.1:8081 [-sockjs-url URL] [-redis redis://127.0.0.1:6379/0 -node a]
//		[-receiver-lease 3s] [-disconnect-delay 2s]
//
// With -redis, several test servers on one Redis form a cluster: any
// request of a session may go to any of them.
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

	"github.com/sockjs-cluster/sockjs/internal/redisconfig"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	sockjsURL := flag.String("sockjs-url", "", "sockjs-client URL for the iframe page (default: the CDN build)")
	redisURL := flag.String("redis", "", "Redis URL (redis://host:port/db): run as one node of a cluster; empty: in memory")
	node := flag.String("node", "", "this node's id in the cluster (default: random)")
	lease := flag.Duration("receiver-lease", 0, "the node's lease on its sessions (sockjs.Options.ReceiverLease; 0: the library's default, 30s)")
	delay := flag.Duration("disconnect-delay", 0, "how long a session outlives its last receiver (sockjs.Options.DisconnectDelay; 0: the library's default, 5s)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := config{SockJSURL: *sockjsURL, Logger: log, NodeID: *node, ReceiverLease: *lease, DisconnectDelay: *delay}
	if err := run(*addr, *redisURL, cfg); err != nil {
		log.Error("testserver", "err", err)
		os.Exit(1)
	}
}

func run(addr, redisURL string, cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if redisURL != "" {
		backend, err := redisconfig.Open(ctx, redisURL, "testserver")
		if err != nil {
			return err
		}
		defer backend.Close()
		cfg.Store, cfg.Bus = backend.Store, backend.Bus
		cfg.Logger.Info("testserver in cluster mode", "redis", redisURL)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	node := newServer(ctx, cfg)
	srv := &http.Server{Handler: node, ReadHeaderTimeout: 10 * time.Second}
	cfg.Logger.Info("testserver listening", "addr", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(node.Shutdown(sctx), srv.Shutdown(sctx))
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return err
}
