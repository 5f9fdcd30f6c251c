package sockjs_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/internal/redistest"
	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
	redisstore "github.com/sockjs-cluster/sockjs/store/redis"
)

// Readiness timings of these tests: a ping every 50ms, 400ms without one
// is a failure; the lease is renewed every 300ms.
const (
	readyPing    = 50 * time.Millisecond
	readyTimeout = 400 * time.Millisecond
	readyLease   = 900 * time.Millisecond
)

// readyNode starts a node whose store talks to storeAddr and whose bus
// talks to busAddr (a proxy, say), with one route, stopped at cleanup.
func readyNode(t *testing.T, storeAddr, busAddr string, obs sockjs.Observer) *sockjs.Server {
	t.Helper()
	rs := redis.NewClient(&redis.Options{Addr: storeAddr, MaxRetries: -1, DialTimeout: time.Second})
	rb := redis.NewClient(&redis.Options{Addr: busAddr, MaxRetries: -1, DialTimeout: time.Second})
	bus := redisbus.New(rb, redisbus.Options{Prefix: "ready:", HealthCheckInterval: 100 * time.Millisecond, Logger: quiet})
	t.Cleanup(func() {
		_ = bus.Close()
		_ = rb.Close()
		_ = rs.Close()
	})
	node := sockjs.NewServer(sockjs.Config{
		Store:            redisstore.New(rs, redisstore.Options{Prefix: "ready"}),
		Bus:              bus,
		Logger:           quiet,
		Observer:         obs,
		ReadinessPing:    readyPing,
		ReadinessTimeout: readyTimeout,
	})
	node.Route("r", "/r", sockjs.HandlerFuncs{}, sockjs.Options{ReceiverLease: readyLease})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return node
}

// waitReady waits up to bound for Ready to answer as wanted and returns
// its last error.
func waitReady(t *testing.T, node *sockjs.Server, ready bool, bound time.Duration, what string) error {
	t.Helper()
	start := time.Now()
	for {
		err := node.Ready(context.Background())
		if (err == nil) == ready {
			t.Logf("%s after %v (%v)", what, time.Since(start).Round(time.Millisecond), err)
			return err
		}
		if time.Since(start) > bound {
			t.Fatalf("%s: not within %v; Ready: %v", what, bound, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func redisDo(t *testing.T, addr string, args ...any) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("redis %v: %v", args, err)
	}
}

// TestReadyRedis: ready over a real redis-server; not ready while the
// bus's pub/sub connection is killed and cannot come back (CLIENT KILL
// TYPE pubsub with SUBSCRIBE forbidden by ACL, so that publishes still
// succeed), nor while redis-server is stopped; ready again after each.
func TestReadyRedis(t *testing.T) {
	srv := redistest.Start(t)
	obs := newCountingObserver()
	node := readyNode(t, srv.Addr, srv.Addr, obs)
	waitReady(t, node, true, 5*time.Second, "ready at start")

	// One CLIENT KILL alone: the bus resubscribes at once; readiness may
	// blink but comes back by itself.
	redisDo(t, srv.Addr, "CLIENT", "KILL", "TYPE", "pubsub")
	time.Sleep(readyTimeout + readyPing)
	waitReady(t, node, true, time.Second, "ready after a CLIENT KILL")

	// The pub/sub connection killed, and no new one allowed to subscribe.
	redisDo(t, srv.Addr, "ACL", "SETUSER", "default", "-subscribe")
	redisDo(t, srv.Addr, "CLIENT", "KILL", "TYPE", "pubsub")
	err := waitReady(t, node, false, readyTimeout+time.Second, "not ready without pub/sub")
	if !strings.Contains(err.Error(), "bus") {
		t.Errorf("Ready: %v, want a bus failure", err)
	}
	// The bus retries its refused resubscription (redisbus) until Redis
	// allows it: ready again by itself, without replacing a connection.
	redisDo(t, srv.Addr, "ACL", "SETUSER", "default", "+subscribe")
	waitReady(t, node, true, 5*time.Second, "ready after pub/sub is back")

	// redis-server stopped, then restarted (empty).
	srv.Stop()
	waitReady(t, node, false, readyTimeout+time.Second, "not ready with redis-server stopped")
	// The bus fails first (a ping every 50ms); the store at its next lease
	// renewal, or when a renewal hangs past two periods and a second.
	stale := 2*(readyLease/3) + time.Second
	deadline := time.Now().Add(stale + time.Second)
	for {
		err := node.Ready(context.Background())
		if err != nil && strings.Contains(err.Error(), "store") {
			t.Logf("store failure seen: %v", err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no store failure within %v; Ready: %v", stale+time.Second, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Restart()
	waitReady(t, node, true, 10*time.Second, "ready after redis-server restarted")

	if obs.get("lease failed r") == 0 {
		t.Error("no failed lease renewal observed while redis-server was stopped")
	}
}

// TestReadyBusBlackhole: pub/sub delivery stops while publishes still
// succeed (a proxy between the bus and Redis swallows what Redis sends the
// subscribing connections); Ready fails within the bound, and recovers
// when delivery resumes.
func TestReadyBusBlackhole(t *testing.T) {
	srv := redistest.Start(t)
	px := startProxy(t, srv.Addr)
	obs := newCountingObserver()
	node := readyNode(t, srv.Addr, px.addr(), obs)
	waitReady(t, node, true, 5*time.Second, "ready at start")

	px.blackhole.Store(true)
	err := waitReady(t, node, false, readyTimeout+time.Second, "not ready with pub/sub blackholed")
	if !strings.Contains(err.Error(), "bus") || strings.Contains(err.Error(), "publishing it failed") {
		t.Errorf("Ready: %v, want a bus failure with publishes succeeding", err)
	}
	if obs.get("busok r") == 0 {
		t.Error("no successful publish observed")
	}
	px.blackhole.Store(false)
	waitReady(t, node, true, 5*time.Second, "ready after pub/sub resumed")
}

// proxy forwards TCP connections to a Redis; with blackhole set, it
// swallows what Redis sends connections that have subscribed.
type proxy struct {
	ln        net.Listener
	target    string
	blackhole atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		var sub atomic.Bool
		p.wg.Add(2)
		go func() { // client to Redis: watch for SUBSCRIBE
			defer p.wg.Done()
			defer s.Close()
			buf := make([]byte, 16<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if bytes.Contains(bytes.ToLower(buf[:n]), []byte("subscribe")) {
						sub.Store(true)
					}
					if _, werr := s.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // Redis to client: swallowed for subscribers while blackholed
			defer p.wg.Done()
			defer c.Close()
			buf := make([]byte, 16<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && !(sub.Load() && p.blackhole.Load()) {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
