package redisbus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/pubsub/pubsubtest"
	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
)

// wait bounds every wait of these tests.
const wait = 10 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// prefixSeq makes the Redis prefix of every test and subtest unique, so that
// they may share a server.
var prefixSeq atomic.Uint64

func uniquePrefix() string {
	return fmt.Sprintf("redisbus-test:%d:", prefixSeq.Add(1))
}

// newClient returns a go-redis client of addr, closed at cleanup. Register it
// before the buses that use it, so that they are closed first.
func newClient(t *testing.T, addr string, opts *redis.Options) *redis.Client {
	t.Helper()
	o := redis.Options{}
	if opts != nil {
		o = *opts
	}
	o.Addr = addr
	c := redis.NewClient(&o)
	t.Cleanup(func() { c.Close() })
	return c
}

// testLogger returns a logger that writes to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newBus returns a bus with its own client of addr, closed at cleanup.
func newBus(t *testing.T, addr string, opts redisbus.Options) *redisbus.Bus {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = uniquePrefix()
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	b := redisbus.New(newClient(t, addr, nil), opts)
	t.Cleanup(func() { b.Close() })
	return b
}

// cluster returns a pubsubtest factory: each subtest gets its own prefix on
// the server at addr, and each node its own go-redis client, like the
// nodes of a real deployment.
func cluster(addr string, clientOpts *redis.Options) func(t *testing.T) func() pubsub.Bus {
	return func(t *testing.T) func() pubsub.Bus {
		prefix := uniquePrefix()
		return func() pubsub.Bus {
			c := newClient(t, addr, clientOpts)
			b := redisbus.New(c, redisbus.Options{Prefix: prefix, Logger: testLogger(t)})
			t.Cleanup(func() { b.Close() })
			return b
		}
	}
}

func TestConformance(t *testing.T) {
	t.Run("redis-server", func(t *testing.T) {
		srv := redistest.Start(t)
		for _, proto := range []int{3, 2} {
			t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
				pubsubtest.Run(t, cluster(srv.Addr, &redis.Options{Protocol: proto}))
			})
		}
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		pubsubtest.Run(t, cluster(mr.Addr(), nil))
	})
}

// probe is a handler that hands what it receives to a channel.
type probe struct {
	name string
	c    chan string
	gate chan struct{} // if non-nil, the first call waits for it to close
	in   chan struct{} // closed when the first call starts
	once sync.Once
}

func newProbe(name string) *probe {
	return &probe{name: name, c: make(chan string, 100000), in: make(chan struct{})}
}

func (p *probe) handle(payload []byte) {
	first := false
	p.once.Do(func() { first = true; close(p.in) })
	if first && p.gate != nil {
		<-p.gate
	}
	select {
	case p.c <- string(payload):
	default:
		panic("probe " + p.name + " is full")
	}
}

// next returns the next message, failing the test after wait.
func (p *probe) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-p.c:
		return m
	case <-time.After(wait):
		t.Fatalf("probe %s: no message within %v", p.name, wait)
		return ""
	}
}

// expect checks the next messages.
func (p *probe) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		if got := p.next(t); got != w {
			t.Fatalf("probe %s received %q, want %q", p.name, got, w)
		}
	}
}

// expectNothing checks that nothing has arrived so far.
func (p *probe) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case m := <-p.c:
		t.Fatalf("probe %s received %q, want nothing", p.name, m)
	default:
	}
}

func subscribe(t *testing.T, b pubsub.Bus, h pubsub.Handler, channels ...string) pubsub.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sub, err := b.Subscribe(ctx, h, channels...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", channels, err)
	}
	return sub
}

func publish(t *testing.T, b pubsub.Bus, channel, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.Publish(ctx, channel, []byte(payload)); err != nil {
		t.Fatalf("Publish(%q, %q): %v", channel, payload, err)
	}
}

// publishUntil publishes "<tag>-<i>" on channel through b every 20 ms,
// ignoring errors, until p receives one of these messages; messages that
// arrive from before are skipped. It fails the test after wait.
func publishUntil(t *testing.T, b pubsub.Bus, channel string, p *probe, tag string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		lastErr = b.Publish(ctx, channel, []byte(fmt.Sprint(tag, "-", i)))
		cancel()
		for {
			select {
			case m := <-p.c:
				if strings.HasPrefix(m, tag+"-") {
					return
				}
				continue
			case <-tick.C:
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe %s: no %q message within %v (last Publish error: %v)", p.name, tag, wait, lastErr)
		}
	}
}

// eventually polls cond every 10 ms until it holds, failing the test after
// wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", wait, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// After CLIENT KILL TYPE pubsub the bus reconnects and resubscribes every
// channel by itself, again and again.
func TestResubscribeAfterClientKill(t *testing.T) {
	srv := redistest.Start(t)
	admin := newClient(t, srv.Addr, nil)
	prefix := uniquePrefix()
	b := newBus(t, srv.Addr, redisbus.Options{Prefix: prefix})
	pub := newBus(t, srv.Addr, redisbus.Options{Prefix: prefix})
	ab, c := newProbe("a+b"), newProbe("c")
	subscribe(t, b, ab.handle, "a", "b")
	subscribe(t, b, c.handle, "c")
	publish(t, pub, "a", "a0")
	publish(t, pub, "c", "c0")
	ab.expect(t, "a0")
	c.expect(t, "c0")

	ctx := context.Background()
	for round := 1; round <= 3; round++ {
		n, err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
		if err != nil || n != 1 {
			t.Fatalf("round %d: CLIENT KILL TYPE pubsub killed %d clients (%v), want 1", round, n, err)
		}
		for _, ch := range []struct {
			name string
			p    *probe
		}{{"a", ab}, {"b", ab}, {"c", c}} {
			publishUntil(t, pub, ch.name, ch.p, fmt.Sprintf("round%d-%s", round, ch.name))
		}
		if got := b.Stats().Reconnects; got < uint64(round) {
			t.Errorf("round %d: Stats().Reconnects = %d, want at least %d", round, got, round)
		}
	}

	// Subscribing still works, and there is still one pub/sub connection.
	d := newProbe("d")
	subscribe(t, b, d.handle, "d")
	publish(t, pub, "d", "d0")
	d.expect(t, "d0")
	if n := pubsubClients(t, admin); n != 1 {
		t.Errorf("%d pub/sub connections, want 1", n)
	}
}

// pubsubClients returns the number of connections in pub/sub mode.
func pubsubClients(t *testing.T, c *redis.Client) int {
	t.Helper()
	out, err := c.Do(context.Background(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Fields(strings.ReplaceAll(out, " ", "_")))
}

// Redis stops, then comes back empty on the same port: meanwhile Publish and
// Subscribe fail, nothing panics, goroutines do not pile up; afterwards the
// subscriptions resume by themselves.
func TestSurvivesRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	b := newBus(t, srv.Addr, redisbus.Options{HealthCheckInterval: 100 * time.Millisecond})
	p := newProbe("p")
	subscribe(t, b, p.handle, "ch", "other")
	publish(t, b, "ch", "before")
	p.expect(t, "before")

	srv.Stop()
	base := runtime.NumGoroutine()
	downSince := time.Now()
	for i := 0; time.Since(downSince) < 2*time.Second; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := b.Publish(ctx, "ch", []byte("down"))
		var sub pubsub.Subscription
		var serr error
		if i%10 == 0 {
			sub, serr = b.Subscribe(ctx, newProbe("down").handle, fmt.Sprint("down", i))
		}
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), "redisbus: publish: ") {
			t.Fatalf("Publish while Redis is down returned %v, want a redisbus error", err)
		}
		if i%10 == 0 && (serr == nil || !strings.HasPrefix(serr.Error(), "redisbus: subscribe: ")) {
			if sub != nil {
				sub.Unsubscribe(context.Background())
			}
			t.Fatalf("Subscribe while Redis is down returned %v, want a redisbus error", serr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// go-redis may have started a dialer probe of its own; nothing else may
	// grow with the time spent down or the calls made.
	n := runtime.NumGoroutine()
	t.Logf("%d goroutines when Redis went down, %d after 2 s of calls", base, n)
	if n > base+3 {
		t.Errorf("%d goroutines after 2 s with Redis down, %d when it went down", n, base)
	}

	srv.Restart()
	publishUntil(t, b, "ch", p, "after")
	publishUntil(t, b, "other", p, "other")
	q := newProbe("q")
	subscribe(t, b, q.handle, "new")
	publish(t, b, "new", "n0")
	q.expect(t, "n0")
	if b.Stats().Reconnects == 0 {
		t.Error("Stats().Reconnects = 0 after a restart")
	}
}

// A connection that dies silently (black-holed: writes succeed, nothing
// comes back, no reset) is found by the health check and replaced.
func TestHealthCheckReplacesSilentConnection(t *testing.T) {
	srv := redistest.Start(t)
	px := startProxy(t, srv.Addr)
	prefix := uniquePrefix()
	b := newBus(t, px.Addr, redisbus.Options{Prefix: prefix, HealthCheckInterval: 100 * time.Millisecond})
	pub := newBus(t, srv.Addr, redisbus.Options{Prefix: prefix})
	p := newProbe("p")
	subscribe(t, b, p.handle, "ch")
	publish(t, pub, "ch", "before")
	p.expect(t, "before")

	px.silence()
	publishUntil(t, pub, "ch", p, "after")
	if b.Stats().Reconnects == 0 {
		t.Error("Stats().Reconnects = 0 after the connection was replaced")
	}
	q := newProbe("q")
	subscribe(t, b, q.handle, "new")
	publish(t, pub, "new", "n0")
	q.expect(t, "n0")
}

// A channel is subscribed once per bus however many subscriptions share it,
// and unsubscribed in Redis when the last one goes.
func TestChannelsReferenceCounted(t *testing.T) {
	srv := redistest.Start(t)
	admin := newClient(t, srv.Addr, nil)
	prefix := uniquePrefix()
	b := newBus(t, srv.Addr, redisbus.Options{Prefix: prefix})
	ctx := context.Background()
	channels := func() []string {
		chs, err := admin.PubSubChannels(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for i := range chs {
			chs[i] = strings.TrimPrefix(chs[i], prefix)
		}
		slices.Sort(chs)
		return chs
	}
	numsub := func(ch string) int64 {
		n, err := admin.PubSubNumSub(ctx, prefix+ch).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n[prefix+ch]
	}

	s1 := subscribe(t, b, newProbe("1").handle, "a", "b", "a")
	s2 := subscribe(t, b, newProbe("2").handle, "a")
	if got := channels(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("channels %q subscribed, want a and b", got)
	}
	if n := numsub("a"); n != 1 {
		t.Errorf("PUBSUB NUMSUB a = %d, want 1 (one connection per bus)", n)
	}
	if err := s1.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b unsubscribed, a still subscribed", func() bool { return slices.Equal(channels(), []string{"a"}) })
	if err := s2.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a unsubscribed", func() bool { return len(channels()) == 0 })

	// And again.
	subscribe(t, b, newProbe("3").handle, "b")
	if got := channels(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("channels %q subscribed, want b", got)
	}
}

// A bus that only publishes opens no pub/sub connection; the default prefix
// is "sockjs:".
func TestPublishOnlyAndDefaultPrefix(t *testing.T) {
	srv := redistest.Start(t)
	admin := newClient(t, srv.Addr, nil)
	ctx := context.Background()
	raw := admin.Subscribe(ctx, "sockjs:ch")
	defer raw.Close()
	if _, err := raw.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	b := redisbus.New(newClient(t, srv.Addr, nil), redisbus.Options{})
	defer b.Close()
	publish(t, b, "ch", "hello")
	m, err := raw.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != "sockjs:ch" || m.Payload != "hello" {
		t.Errorf("raw subscriber received %q on %q, want \"hello\" on \"sockjs:ch\"", m.Payload, m.Channel)
	}
	if n := pubsubClients(t, admin); n != 1 {
		t.Errorf("%d pub/sub connections, want 1 (the test's own)", n)
	}
}

// A full queue drops new messages for its own subscription only, counts
// them, and takes messages again once there is room.
func TestQueueOverflowDrops(t *testing.T) {
	mr := miniredis.RunT(t)
	b := newBus(t, mr.Addr(), redisbus.Options{QueueSize: 2})
	slow, fast := newProbe("slow"), newProbe("fast")
	slow.gate = make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(slow.gate) }) }
	defer release()
	subscribe(t, b, slow.handle, "ch")
	subscribe(t, b, fast.handle, "ch")

	publish(t, b, "ch", "m0")
	select {
	case <-slow.in: // m0 has left the queue
	case <-time.After(wait):
		t.Fatal("slow handler not called")
	}
	fast.expect(t, "m0")
	for i := 1; i < 10; i++ {
		m := fmt.Sprint("m", i)
		publish(t, b, "ch", m)
		fast.expect(t, m) // dispatched to both
	}
	if got := b.Stats().Dropped; got != 7 {
		t.Errorf("Stats().Dropped = %d, want 7", got)
	}
	release()
	slow.expect(t, "m0", "m1", "m2")
	publish(t, b, "ch", "after")
	slow.expect(t, "after")
	fast.expect(t, "after")
}

// A handler may unsubscribe itself, or close its bus, without deadlock.
func TestStopFromHandler(t *testing.T) {
	mr := miniredis.RunT(t)
	tests := []struct {
		name string
		stop func(b *redisbus.Bus, sub pubsub.Subscription) error
	}{
		{"Unsubscribe", func(_ *redisbus.Bus, sub pubsub.Subscription) error {
			return sub.Unsubscribe(context.Background())
		}},
		{"Close", func(b *redisbus.Bus, _ pubsub.Subscription) error { return b.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t, mr.Addr(), redisbus.Options{})
			subs := make(chan pubsub.Subscription, 1)
			stopped := make(chan error, 1)
			var calls atomic.Int32
			sub := subscribe(t, b, func([]byte) {
				if calls.Add(1) == 1 {
					stopped <- tt.stop(b, <-subs)
				}
			}, "ch")
			subs <- sub
			other := newProbe("other")
			subscribe(t, b, other.handle, "other")
			publish(t, b, "other", "x")
			other.expect(t, "x")

			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				err := b.Publish(ctx, "ch", []byte("m"))
				cancel()
				if err != nil && !errors.Is(err, pubsub.ErrClosed) {
					t.Fatal(err)
				}
			}
			select {
			case err := <-stopped:
				if err != nil {
					t.Errorf("%s from the handler: %v", tt.name, err)
				}
			case <-time.After(wait):
				t.Fatalf("%s from the handler did not return", tt.name)
			}
			if err := sub.Unsubscribe(context.Background()); err != nil {
				t.Errorf("Unsubscribe after the handler's %s: %v", tt.name, err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("handler called %d times, want 1", n)
			}
		})
	}
}

// Close stops every goroutine the bus started, whatever state it is in, and
// is idempotent.
func TestCloseStopsGoroutines(t *testing.T) {
	srv := redistest.Start(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, b *redisbus.Bus)
	}{
		{"unused", func(*testing.T, *redisbus.Bus) {}},
		{"publish_only", func(t *testing.T, b *redisbus.Bus) { publish(t, b, "ch", "x") }},
		{"subscriptions", func(t *testing.T, b *redisbus.Bus) {
			probes := make([]*probe, 20)
			for i := range probes {
				probes[i] = newProbe(fmt.Sprint(i))
				subscribe(t, b, probes[i].handle, fmt.Sprint("ch", i%5), "all")
			}
			gone := subscribe(t, b, newProbe("gone").handle, "gone")
			if err := gone.Unsubscribe(context.Background()); err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				publish(t, b, "all", fmt.Sprint(i))
			}
			for _, p := range probes {
				for range 20 {
					p.next(t)
				}
			}
		}},
		{"handler_running", func(t *testing.T, b *redisbus.Bus) {
			p := newProbe("held")
			p.gate = make(chan struct{})
			subscribe(t, b, p.handle, "ch")
			publish(t, b, "ch", "x")
			<-p.in
			go func() {
				time.Sleep(50 * time.Millisecond)
				close(p.gate)
			}()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			client := redis.NewClient(&redis.Options{Addr: srv.Addr})
			defer client.Close()
			b := redisbus.New(client, redisbus.Options{Prefix: uniquePrefix()})
			tt.setup(t, b)
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := b.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}()
			}
			wg.Wait()
			if err := b.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// Close while Redis is down, with a reader retrying and a Subscribe waiting,
// returns and leaves no goroutine.
func TestCloseWhileRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	b := redisbus.New(client, redisbus.Options{Prefix: uniquePrefix(), HealthCheckInterval: 50 * time.Millisecond})
	subscribe(t, b, newProbe("p").handle, "ch")
	srv.Stop()
	time.Sleep(200 * time.Millisecond) // let the reader and the health check notice
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	mr := miniredis.RunT(t)
	closed := newBus(t, mr.Addr(), redisbus.Options{})
	subscribe(t, closed, newProbe("p").handle, "ch")
	closed.Close()
	open := newBus(t, mr.Addr(), redisbus.Options{})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	nop := func([]byte) {}

	tests := []struct {
		name string
		call func() error
		want error // nil: any error
	}{
		{"Publish_closed", func() error { return closed.Publish(context.Background(), "ch", nil) }, pubsub.ErrClosed},
		{"Subscribe_closed", func() error { _, err := closed.Subscribe(context.Background(), nop, "ch"); return err }, pubsub.ErrClosed},
		{"Publish_canceled", func() error { return open.Publish(canceled, "ch", nil) }, context.Canceled},
		{"Subscribe_canceled", func() error { _, err := open.Subscribe(canceled, nop, "ch"); return err }, context.Canceled},
		{"Subscribe_nil_handler", func() error { _, err := open.Subscribe(context.Background(), nil, "ch"); return err }, nil},
		{"Subscribe_no_channel", func() error { _, err := open.Subscribe(context.Background(), nop); return err }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got error %v, want one wrapping %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "redisbus: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
		})
	}

	t.Run("go-redis_error_wrapped", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		b := redisbus.New(c, redisbus.Options{})
		defer b.Close()
		c.Close()
		err := b.Publish(context.Background(), "ch", nil)
		if !errors.Is(err, redis.ErrClosed) || !strings.HasPrefix(err.Error(), "redisbus: ") {
			t.Errorf("Publish through a closed client returned %v, want a redisbus error wrapping redis.ErrClosed", err)
		}
	})
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name   string
		client redis.UniversalClient
	}{
		{"nil", nil},
		{"Ring", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.client != nil {
				defer tt.client.Close()
			}
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "redisbus: ") {
					t.Errorf("New panicked with %v, want a redisbus message", r)
				}
			}()
			redisbus.New(tt.client, redisbus.Options{})
		})
	}
}

// Subscriptions come and go while the pub/sub connection is killed again and
// again: Subscribe and Unsubscribe keep working, and afterwards Redis holds
// exactly the channels still wanted, on one connection, and they all deliver.
func TestChurnWhileConnectionKilled(t *testing.T) {
	srv := redistest.Start(t)
	admin := newClient(t, srv.Addr, nil)
	prefix := uniquePrefix()
	b := newBus(t, srv.Addr, redisbus.Options{Prefix: prefix})
	ctx := context.Background()

	stop := make(chan struct{})
	killed := make(chan int)
	go func() {
		n := 0
		defer func() { killed <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if k, err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err == nil {
				n += int(k)
			}
		}
	}()

	const workers, rounds = 4, 100
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				sub, err := b.Subscribe(ctx, func([]byte) {}, fmt.Sprint("w", w), fmt.Sprint("shared", r%3))
				if err != nil {
					cancel()
					failed.Add(1)
					t.Logf("worker %d round %d: Subscribe: %v", w, r, err)
					continue
				}
				if err := sub.Unsubscribe(ctx); err != nil {
					t.Errorf("Unsubscribe: %v", err)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	close(stop)
	t.Logf("%d pub/sub connections killed during %d Subscribe calls; %d Subscribe calls failed", <-killed, workers*rounds, failed.Load())
	if n := failed.Load(); n > 0 {
		t.Errorf("%d Subscribe calls failed while Redis was up", n)
	}

	p := newProbe("p")
	subscribe(t, b, p.handle, "final", "shared0")
	eventually(t, "only the wanted channels subscribed", func() bool {
		chs, err := admin.PubSubChannels(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(chs)
		return slices.Equal(chs, []string{prefix + "final", prefix + "shared0"})
	})
	if n := pubsubClients(t, admin); n != 1 {
		t.Errorf("%d pub/sub connections, want 1", n)
	}
	publish(t, b, "shared0", "s")
	publish(t, b, "final", "f")
	p.expect(t, "s", "f")
}
