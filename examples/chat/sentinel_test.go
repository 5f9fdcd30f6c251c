package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/internal/redistest"
)

// TestSentinel runs -redis-sentinel against a real redis-server and a real
// Sentinel on loopback ports: the node finds the master through Sentinel
// and writes its sessions there. Without redis-server the test is skipped,
// except in CI (CI set), which installs it.
func TestSentinel(t *testing.T) {
	masterSrv := redistest.Start(t)
	master := masterSrv.Addr
	sentinel := redistest.StartSentinel(t, "chatmaster", masterSrv).Addr

	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	var rf redisFlags
	rf.register(fs)
	if err := fs.Parse([]string{"-redis-sentinel", sentinel, "-redis-master", "chatmaster"}); err != nil {
		t.Fatal(err)
	}
	setup, err := rf.parse()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := openBackend(ctx, setup, "chat")
	if err != nil {
		t.Fatalf("openBackend(%v): %v", setup, err)
	}
	defer b.Close()

	// A chat node on that backend: a session it opens lands in the master.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := sockjs.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: b.store, Bus: b.bus}
	go func() { done <- serve(sctx, ln, cfg) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	resp, err := http.Post("http://"+ln.Addr().String()+"/chat/000/"+sessionID()+"/xhr", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "o\n" {
		t.Fatalf("xhr open: %d %q", resp.StatusCode, body)
	}
	direct := redis.NewClient(&redis.Options{Addr: master})
	defer direct.Close()
	keys, err := direct.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("master keys %q, %v; want the session's", keys, err)
	}
}
