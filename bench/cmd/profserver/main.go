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
	"flag"
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

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/internal/redisconfig"
	"github.com/sockjs-cluster/sockjs/internal/testservice"
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
		backend, err := redisconfig.Open(ctx, *redisURL, "testserver")
		if err != nil {
			log.Fatal(err)
		}
		defer backend.Close()
		cfg.Store, cfg.Bus = backend.Store, backend.Bus
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
