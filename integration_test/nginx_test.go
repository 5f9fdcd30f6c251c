package integration_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
)

// lookPath finds a program the test needs; it skips without it, except in
// CI, which installs everything.
func lookPath(t *testing.T, name string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (CI must install it)", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// buildExample builds one of the example programs into a temporary
// directory.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "./"+name)
	cmd.Dir = "../examples" // a module of its own
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./%s (in examples/): %v\n%s", name, err, out)
	}
	return bin
}

// process is a program started by a test, stopped with SIGTERM.
type process struct {
	cmd  *exec.Cmd
	done chan error
	out  *output
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), done: make(chan error, 1), out: &output{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// Its own process group, so that children (nginx workers) go with it,
	// and a bounded wait for its output pipes.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	return p
}

// terminate sends SIGTERM and returns the exit error (nil: status 0).
func (p *process) terminate(t *testing.T) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not exit within 20s of SIGTERM", p.cmd.Path)
		return nil
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	waitFor(t, 20*time.Second, addr+" listening", func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		return false
	})
}

// TestNginxRoundRobin runs the repository's nginx configuration in front of
// three chat processes over a real redis-server and chats through it.
func TestNginxRoundRobin(t *testing.T) {
	nginx := lookPath(t, "nginx", "/usr/sbin")
	rs := redistest.Start(t)
	chat := buildExample(t, "chat")

	var nodes []*process
	var addrs []string
	for i := 0; i < 3; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		nodes = append(nodes, startProcess(t, chat, "-addr", addr, "-redis", rs.URL(), "-node", fmt.Sprintf("node%d", i+1)))
		waitListening(t, addr)
		addrs = append(addrs, addr)
	}

	proxy := startNginx(t, nginx, addrs)
	top := "http://" + proxy

	// A websocket session and an xhr-polling session chat through the
	// proxy; every poll and send may land on a different node.
	wsConn, _, err := websocket.DefaultDialer.Dial("ws://"+proxy+"/chat/000/"+newID()+"/websocket", http.Header{"Origin": {top}})
	if err != nil {
		t.Fatalf("websocket through nginx: %v", err)
	}
	defer wsConn.Close()
	if f := readWS(t, wsConn); f != "o" {
		t.Fatalf("websocket open: %q", f)
	}
	id := newID()
	if f := poll(t, top, "chat", id); f != "o\n" {
		t.Fatalf("poll open: %q", f)
	}
	for i := 0; i < 6; i++ {
		send(t, top, "chat", id, fmt.Sprintf(`["hello %d"]`, i))
	}
	// Every message reaches the websocket session, once and in order.
	var texts []string
	for len(texts) < 6 {
		for _, m := range messages(t, readWS(t, wsConn)) {
			var ev struct{ Type, Text string }
			if err := json.Unmarshal([]byte(m), &ev); err != nil {
				t.Fatalf("event %q: %v", m, err)
			}
			if ev.Type == "message" {
				texts = append(texts, ev.Text)
			}
		}
	}
	for i, txt := range texts {
		if txt != fmt.Sprintf("hello %d", i) {
			t.Fatalf("websocket got %q", texts)
		}
	}

	// SIGTERM drains each node and exits 0.
	for _, p := range nodes {
		if err := p.terminate(t); err != nil {
			t.Fatalf("chat node exit: %v\n%s", err, p.out.String())
		}
	}
}

// startNginx runs the repository's deploy/nginx/nginx.conf (round robin, no
// affinity) in front of the upstream addresses, on a free loopback port,
// until the test ends; it returns the proxy's host:port.
func startNginx(t *testing.T, nginx string, upstreams []string) string {
	t.Helper()
	var upstream strings.Builder
	for _, addr := range upstreams {
		fmt.Fprintf(&upstream, "server %s;\n", addr)
	}
	// The repository's nginx.conf, with this test's node list and port.
	dir := t.TempDir()
	conf, err := os.ReadFile("../deploy/nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	for name, body := range map[string]string{
		"nginx.conf":    string(conf),
		"upstream.conf": upstream.String(),
		"listen.conf":   fmt.Sprintf("listen 127.0.0.1:%d;\n", port),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	check := exec.Command(nginx, "-t", "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"))
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	startProcess(t, nginx, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	proxy := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, proxy)
	return proxy
}

// output collects a process's stdout and stderr, which exec copies from two
// goroutines.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
