package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		lease, wait time.Duration
		wantErr     string
	}{
		{name: "defaults", args: nil},
		{name: "set", args: []string{"-receiver-lease", "9s", "-disconnect-delay", "250ms"}, lease: 9 * time.Second, wait: 250 * time.Millisecond},
		{name: "negative lease", args: []string{"-receiver-lease", "-1s"}, lease: -time.Second, wantErr: "-receiver-lease -1s: negative"},
		{name: "negative delay", args: []string{"-disconnect-delay", "-1ms"}, wait: -time.Millisecond, wantErr: "-disconnect-delay -1ms: negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("testserver", flag.ContinueOnError)
			cfg, _ := registerFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if cfg.ReceiverLease != tc.lease || cfg.DisconnectDelay != tc.wait {
				t.Errorf("ReceiverLease %v, DisconnectDelay %v; want %v, %v", cfg.ReceiverLease, cfg.DisconnectDelay, tc.lease, tc.wait)
			}
			err := cfg.check()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("check: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestDisconnectDelayFlag checks that -disconnect-delay reaches the
// routes: a session whose client stopped polling expires after it, and the
// next poll opens a new session.
func TestDisconnectDelayFlag(t *testing.T) {
	fs := flag.NewFlagSet("testserver", flag.ContinueOnError)
	cfg, _ := registerFlags(fs)
	if err := fs.Parse([]string{"-disconnect-delay", "100ms"}); err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node := newServer(ctx, *cfg)
	srv := &http.Server{Handler: node, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = node.Shutdown(sctx)
		_ = srv.Shutdown(sctx)
	}()

	url := "http://" + ln.Addr().String() + "/echo/000/delayflag/xhr"
	poll := func() string {
		t.Helper()
		resp, err := http.Post(url, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if f := poll(); f != "o\n" {
		t.Fatalf("first poll %q", f)
	}
	// With the default delay (5 s) the session would still live, and this
	// poll would wait for messages (25 s heartbeat) instead of opening.
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(300 * time.Millisecond)
		if f := poll(); f == "o\n" {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("poll after the delay %q; want a new session", f)
		}
	}
}
