package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs"
)

// TestSentinel runs -redis-sentinel against a real redis-server and a real
// Sentinel on loopback ports: the node finds the master through Sentinel
// and writes its sessions there. Without redis-server the test is skipped,
// except in CI (CI set), which installs it.
func TestSentinel(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (CI must install it)")
		}
		t.Skip("redis-server is not installed")
	}
	dir := t.TempDir()
	master := startRedis(t, bin, dir, "master", "--save", "", "--appendonly", "no")
	host, port, _ := net.SplitHostPort(master)
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("sentinel monitor chatmaster %s %s 1\n", host, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	sentinel := startRedis(t, bin, dir, "sentinel", conf, "--sentinel")

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

// startRedis starts redis-server with args on a free loopback port, waits
// for it to answer PING, stops it when the test ends and returns its
// address.
func startRedis(t *testing.T, bin, dir, name string, args ...string) string {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_, port, _ := net.SplitHostPort(addr)
		l.Close()
		logPath := filepath.Join(dir, name+".log")
		cmd := exec.Command(bin, append(args, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--logfile", logPath)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		stop := func() { _ = cmd.Process.Kill(); <-done }
		deadline := time.Now().Add(5 * time.Second)
	wait:
		for time.Now().Before(deadline) {
			select {
			case <-done: // exited, e.g. the port was taken meanwhile
				break wait
			default:
			}
			if pingRedis(addr) == nil {
				t.Cleanup(stop)
				return addr
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		b, _ := os.ReadFile(logPath)
		t.Logf("%s on %s did not start: %s", name, addr, strings.TrimSpace(string(b)))
	}
	t.Fatalf("could not start %s", name)
	return ""
}

// pingRedis sends an inline PING and waits for +PONG.
func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}
