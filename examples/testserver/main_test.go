package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/internal/conformance"
)

// startServer runs the test server on a loopback port for the test's
// lifetime and returns its top URL.
func startServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	node := newServer(ctx, config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := &http.Server{Handler: node, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			t.Errorf("node shutdown: %v", err)
		}
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("http shutdown: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// TestProtocolConformance runs the SockJS protocol suite against one node.
func TestProtocolConformance(t *testing.T) {
	url := startServer(t)
	conformance.Run(t, conformance.Target{URL: func() string { return url }})
}
