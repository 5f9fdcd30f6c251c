// Command profserver is the benchmark's profiling harness: it serves the
// same routes as examples/testserver (internal/testservice.Register on an
// in-memory node, or with -redis one node of a cluster) and net/http/pprof
// on a second loopback address, so the library can be profiled under load
// without touching examples/.
//
//	go run ./cmd/profserver -addr 127.0.0.1:8081 -pprof 127.0.0.1:6060
//	go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=15
//
// bench -profile (bench/run.sh -profile) drives it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/internal/testservice"
	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
	redisstore "github.com/sockjs-cluster/sockjs/store/redis"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "SockJS routes (loopback)")
	pprofAddr := flag.String("pprof", "127.0.0.1:6060", "net/http/pprof (loopback)")
	mutex := flag.Int("mutex-fraction", 0, "runtime.SetMutexProfileFraction (0: off)")
	redisURL := flag.String("redis", "", "Redis URL: run as one node of a cluster, as testserver -redis does")
	nodeID := flag.String("node", "", "this node's id in the cluster")
	flag.Parse()
	for _, a := range []string{*addr, *pprofAddr} {
		if host, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(host).IsLoopback() {
			log.Fatalf("profserver: %q is not a loopback address", a)
		}
	}
	runtime.SetMutexProfileFraction(*mutex)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg := sockjs.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NodeID: *nodeID}
	if *redisURL != "" {
		rdb, err := openRedis(ctx, *redisURL)
		if err != nil {
			log.Fatal(err)
		}
		// The same prefixes as examples/testserver -redis.
		bus := redisbus.New(rdb, redisbus.Options{Prefix: "testserver:"})
		defer func() { _ = errors.Join(bus.Close(), rdb.Close()) }()
		cfg.Store, cfg.Bus = redisstore.New(rdb, redisstore.Options{Prefix: "testserver"}), bus
	}
	node := sockjs.NewServer(cfg)
	testservice.Register(ctx, node, sockjs.Options{InsecureSkipOriginCheck: true})

	dbg := http.NewServeMux()
	dbg.HandleFunc("/debug/pprof/", pprof.Index)
	dbg.HandleFunc("/debug/pprof/profile", pprof.Profile)
	dbg.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	dbg.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		log.Fatal((&http.Server{Addr: *pprofAddr, Handler: dbg, ReadHeaderTimeout: 10 * time.Second}).ListenAndServe())
	}()

	srv := &http.Server{Addr: *addr, Handler: node, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = node.Shutdown(sctx)
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("profserver on %s, pprof on %s", *addr, *pprofAddr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Print(err)
	}
}

// openRedis connects to the Redis at url (redis://host:port/db) with the
// timeouts examples/testserver uses, and checks it answers.
func openRedis(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %w", url, err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", opts.Addr, err)
	}
	return rdb, nil
}
