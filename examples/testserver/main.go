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
//	go -C examples run ./testserver -addr 127.0.0.1:8081 [-sockjs-url URL] [-redis redis://127.0.0.1:6379/0 -node a]
//
// With -redis (or -redis-cluster, or -redis-sentinel with -redis-master:
// redis.go), several test servers on one Redis form a cluster: any request
// of a session may go to any of them. -receiver-lease and
// -disconnect-delay set the routes' options of those names (zero: the
// library's defaults). -healthcheck URL only GETs URL and exits 0 or 1.
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

// drainTimeout bounds the shutdown on SIGTERM.
const drainTimeout = 10 * time.Second

func main() {
	fs := flag.CommandLine
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	metrics := fs.Bool("metrics", false, "serve Prometheus metrics at /metrics (readiness is always at /readyz)")
	health := fs.String("healthcheck", "", "only GET this URL and exit 0 on a 2xx answer, 1 otherwise (a container health check)")
	cfg, rf := registerFlags(fs)
	flag.Parse()
	if *health != "" {
		os.Exit(healthcheck(*health))
	}

	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	setup, err := rf.parse()
	if err == nil {
		err = cfg.check()
	}
	if *metrics {
		cfg.Observer, metricsHandler = newMetrics()
	}
	if err == nil {
		err = run(*addr, setup, *cfg)
	}
	if err != nil {
		cfg.Logger.Error("testserver", "err", err)
		os.Exit(1)
	}
}

// registerFlags adds the server's flags to fs; the values land in the
// returned config and redisFlags when fs is parsed.
func registerFlags(fs *flag.FlagSet) (*config, *redisFlags) {
	var cfg config
	var rf redisFlags
	fs.StringVar(&cfg.SockJSURL, "sockjs-url", "", "sockjs-client URL for the iframe page (default: the CDN build)")
	fs.StringVar(&cfg.NodeID, "node", "", "this node's id in the cluster (default: random)")
	fs.DurationVar(&cfg.ReceiverLease, "receiver-lease", 0, "sockjs.Options.ReceiverLease of every route (0: the library's default)")
	fs.DurationVar(&cfg.DisconnectDelay, "disconnect-delay", 0, "sockjs.Options.DisconnectDelay of every route (0: the library's default)")
	rf.register(fs)
	return &cfg, &rf
}

func run(addr string, setup redisSetup, cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if setup.enabled() {
		b, err := openBackend(ctx, setup, "testserver")
		if err != nil {
			return err
		}
		defer b.Close()
		cfg.Store, cfg.Bus = b.store, b.bus
		cfg.Logger.Info("testserver in cluster mode", "store", setup.String())
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	node := newServer(ctx, cfg)
	srv := &http.Server{
		Handler:           withOps(node, node, metricsHandler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	cfg.Logger.Info("testserver listening", "addr", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	err = errors.Join(node.Shutdown(sctx), srv.Shutdown(sctx))
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return err
}
