// Package redistest starts real redis-server processes for tests, each on a
// free loopback port with no persistence, stopped when the test ends.
//
// When redis-server is not installed the test is skipped, unless the
// environment variable CI is set: CI installs Redis, so there a missing
// server is a failure, never a silent skip.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one running redis-server.
type Server struct {
	Addr string // host:port on 127.0.0.1
	Port int

	t    testing.TB
	bin  string
	dir  string
	args []string // before the common ones (a sentinel's config file)
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a redis-server for the test and stops it in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, nil)
}

// StartSentinel starts a Redis Sentinel monitoring master (a Server of
// the same test) under the name name, with a quorum of one.
func StartSentinel(t testing.TB, name string, master *Server) *Server {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	line := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\n", name, master.Port)
	if err := os.WriteFile(conf, []byte(line), 0o644); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return start(t, []string{conf, "--sentinel"})
}

func start(t testing.TB, args []string) *Server {
	t.Helper()
	return startOn(t, args, freePort)
}

// serverBin returns the path of redis-server; it skips the test when
// there is none, and fails it under CI.
func serverBin(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redistest: redis-server not installed (CI must install it): %v", err)
		}
		t.Skip("redistest: redis-server not installed; install it to run this test")
	}
	return bin
}

// startOn starts a redis-server with args before the common ones, on a
// port that pick chooses.
func startOn(t testing.TB, args []string, pick func() (int, error)) *Server {
	t.Helper()
	s := &Server{t: t, bin: serverBin(t), dir: t.TempDir(), args: args}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := pick()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.Port, s.Addr = port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

// URL returns a redis:// URL for the server.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

func (s *Server) start() error {
	cmd := exec.Command(s.bin, append(append([]string(nil), s.args...),
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--protected-mode", "yes",
		"--loglevel", "warning",
	)...)
	logf, err := os.Create(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server exited: %s", strings.TrimSpace(string(b)))
		default:
		}
		if ping(s.Addr) == nil {
			s.mu.Lock()
			s.cmd, s.done = cmd, done
			s.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	return errors.New("redis-server did not answer PING within 10s")
}

// Stop stops the server (SIGKILL: like a crash); it is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the server again on the same port after Stop, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for i := 0; i < 50; i++ { // the port may linger for a moment
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restarting redis-server: %v", err)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping sends an inline PING and waits for +PONG.
func ping(addr string) error {
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
