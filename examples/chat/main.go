// Command chat is a chat room on SockJS: every message a visitor sends goes
// to everyone, with notices when visitors join and leave. It serves the page
// at / and the SockJS route at /chat.
//
//	go -C examples run ./chat -addr 127.0.0.1:8080
//
// Open the page in a few browser tabs; add ?transport=xhr-polling (or
// xhr-streaming, eventsource, iframe-htmlfile, jsonp-polling, websocket) to
// the page's URL to force one transport.
//
// Sessions live in the in-memory store, so the room is one process. server.go
// builds the handler from a sockjs.Config: filling its Store and Bus (for
// instance with Redis) is all it takes to run several nodes behind a plain
// load balancer. One of these flags does it (redis.go):
//
//	-redis redis://127.0.0.1:6379/0                      one Redis server
//	-redis-cluster 10.0.0.1:6379,10.0.0.2:6379           a Redis Cluster
//	-redis-sentinel 10.0.0.1:26379 -redis-master mymaster Redis Sentinel
//
// On SIGTERM or SIGINT the node drains (its websockets get a close frame,
// its streams and polls end; their sessions carry on through other nodes)
// for at most drainTimeout, then exits 0. -healthcheck URL only GETs URL
// and exits 0 or 1, for containers without curl (healthcheck.go).
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
)

// drainTimeout bounds the shutdown on SIGTERM. A container's stop grace
// period (docker-compose.yml's stop_grace_period) must be longer.
const drainTimeout = 10 * time.Second

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	node := flag.String("node", "", "this node's id in the cluster (default: random)")
	metrics := flag.Bool("metrics", false, "serve Prometheus metrics at /metrics (readiness is always at /readyz)")
	health := flag.String("healthcheck", "", "only GET this URL and exit 0 on a 2xx answer, 1 otherwise (a container health check)")
	var rf redisFlags
	rf.register(flag.CommandLine)
	flag.Parse()
	if *health != "" {
		os.Exit(healthcheck(*health))
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	setup, err := rf.parse()
	if err == nil {
		cfg := sockjs.Config{Logger: log, NodeID: *node}
		if *metrics {
			cfg.Observer, metricsHandler = newMetrics()
		}
		err = run(*addr, setup, cfg)
	}
	if err != nil {
		log.Error("chat", "err", err)
		os.Exit(1)
	}
}

func run(addr string, setup redisSetup, cfg sockjs.Config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills the process at once

	if setup.enabled() {
		b, err := openBackend(ctx, setup, "chat")
		if err != nil {
			return err
		}
		defer b.Close()
		cfg.Store, cfg.Bus = b.store, b.bus
		cfg.Logger.Info("chat in cluster mode", "store", setup.String())
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
		Handler:           withOps(handler, node, metricsHandler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
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
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	err := errors.Join(node.Shutdown(sctx), srv.Shutdown(sctx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
