package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockjs-cluster/sockjs/bench/load"
)

// A system is one server under test.
type system struct {
	name  string // as in -systems
	label string // as in the report
	http  bool   // serves the HTTP transports
	nodes int    // >1: a cluster over Redis
}

var allSystems = []system{
	{name: "ours", label: "sockjs-cluster", http: true, nodes: 1},
	{name: "sockjsgo", label: "sockjs-go", http: true, nodes: 1},
	{name: "sockjsnode", label: "sockjs-node", http: true, nodes: 1},
	{name: "raw", label: "raw gorilla", http: false, nodes: 1},
	{name: "cluster", label: "sockjs-cluster ×3 + Redis", http: true, nodes: 3},
}

// proc is one started server process.
type proc struct {
	name string
	cmd  *exec.Cmd
	pid  int
	done chan struct{}
}

// running is a started system.
type running struct {
	sys       system
	procs     []*proc
	target    load.Target
	redisAddr string
}

// env is what starting systems needs.
type env struct {
	binDir    string // built Go binaries
	nodePeer  string // peers/sockjsnode
	logDir    string
	serverCPU string // taskset CPU list for servers
	redisBin  string
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// spawn starts argv pinned to the server CPU; taskset execs the program,
// so the pid is the server's own.
func (e *env) spawn(name, logName string, argv ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(e.logDir, logName+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("taskset", append([]string{"-c", e.serverCPU}, argv...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "GOMAXPROCS=") // let the Go runtime follow the CPU mask
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (r *running) stop() {
	// Servers first, Redis (started first) last.
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].stop()
	}
}

// waitHTTP waits until GET url answers 200.
func waitHTTP(ctx context.Context, p *proc, url string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited at start (see its log)", p.name)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s", p.name, url)
}

// waitRedis waits until redis at addr answers PING.
func waitRedis(p *proc, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("redis-server exited at start (see its log)")
		default:
		}
		if redisCommandStats(addr) != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("redis-server not ready")
}

// start runs sys and waits until it serves. tag names its log files.
func (e *env) start(ctx context.Context, sys system, tag string) (*running, error) {
	r := &running{sys: sys}
	fail := func(err error) (*running, error) {
		r.stop()
		return nil, err
	}
	if sys.nodes > 1 {
		addr, err := freeAddr()
		if err != nil {
			return fail(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		p, err := e.spawn("redis-server", tag+"-redis", e.redisBin, "--bind", "127.0.0.1", "--port", port,
			"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no")
		if err != nil {
			return fail(err)
		}
		r.procs = append(r.procs, p)
		if err := waitRedis(p, addr); err != nil {
			return fail(err)
		}
		r.redisAddr = addr
	}
	for i := range sys.nodes {
		addr, err := freeAddr()
		if err != nil {
			return fail(err)
		}
		var argv []string
		switch sys.name {
		case "ours":
			argv = []string{filepath.Join(e.binDir, "testserver"), "-addr", addr}
		case "cluster":
			argv = []string{filepath.Join(e.binDir, "testserver"), "-addr", addr,
				"-redis", "redis://" + r.redisAddr + "/0", "-node", string(rune('a' + i))}
		case "sockjsgo":
			argv = []string{filepath.Join(e.binDir, "sockjsgo"), "-addr", addr}
		case "sockjsnode":
			argv = []string{"node", filepath.Join(e.nodePeer, "server.js"), addr}
		case "raw":
			argv = []string{filepath.Join(e.binDir, "raw"), "-addr", addr}
		default:
			return fail(fmt.Errorf("unknown system %q", sys.name))
		}
		name := sys.name
		if sys.nodes > 1 {
			name += "-" + strconv.Itoa(i)
		}
		p, err := e.spawn(name, tag+"-"+name, argv...)
		if err != nil {
			return fail(err)
		}
		r.procs = append(r.procs, p)
		base := "http://" + addr
		if err := waitHTTP(ctx, p, base+"/echo/info"); err != nil {
			return fail(err)
		}
		r.target.Bases = append(r.target.Bases, base)
	}
	return r, nil
}

// commandVersion returns the first line of `argv --version`-like output.
func commandVersion(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return "?"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
