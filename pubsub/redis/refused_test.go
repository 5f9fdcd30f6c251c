package redisbus_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
)

// logRecorder is a slog.Handler that keeps the messages logged, with their
// levels, and passes them on to the test's log.
type logRecorder struct {
	next slog.Handler
	mu   *sync.Mutex
	recs *[]slog.Record
}

func newLogRecorder(t *testing.T) logRecorder {
	return logRecorder{next: testLogger(t).Handler(), mu: new(sync.Mutex), recs: new([]slog.Record)}
}

func (h logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h logRecorder) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.recs = append(*h.recs, r.Clone())
	h.mu.Unlock()
	return h.next.Handle(ctx, r)
}

func (h logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	h.next = h.next.WithAttrs(as)
	return h
}

func (h logRecorder) WithGroup(name string) slog.Handler {
	h.next = h.next.WithGroup(name)
	return h
}

// count returns how many messages msg were logged at one of levels, or at
// any level if none is given.
func (h logRecorder) count(msg string, levels ...slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(*h.recs), func(r slog.Record) bool {
		return r.Message != msg || len(levels) > 0 && !slices.Contains(levels, r.Level)
	}))
}

// The pub/sub connection is killed while Redis refuses SUBSCRIBE (an ACL
// rule), so that go-redis's resubscription on the new connection gets an
// error reply: the bus must not claim the connection re-established (nor
// count a reconnection) while its channels are not subscribed, must say
// what is wrong, and must subscribe them once Redis allows it again, by
// itself, without the connection breaking again.
func TestResubscribeRefused(t *testing.T) {
	srv := redistest.Start(t)
	admin := newClient(t, srv.Addr, nil)
	ctx := context.Background()
	acl := func(rule string) {
		t.Helper()
		if err := admin.Do(ctx, "ACL", "SETUSER", "default", rule).Err(); err != nil {
			t.Fatalf("ACL SETUSER default %s: %v", rule, err)
		}
	}
	prefix := uniquePrefix()
	logs := newLogRecorder(t)
	// A short health check interval bounds the retries' back-off to 50 ms.
	b := newBus(t, srv.Addr, redisbus.Options{
		Prefix:              prefix,
		HealthCheckInterval: 100 * time.Millisecond,
		Logger:              slog.New(logs),
	})
	pub := newBus(t, srv.Addr, redisbus.Options{Prefix: prefix})
	p := newProbe("a+b")
	subscribe(t, b, p.handle, "a", "b")
	publish(t, pub, "a", "a0")
	p.expect(t, "a0")

	acl("-subscribe")
	t.Cleanup(func() { acl("+subscribe") })
	if n, err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL TYPE pubsub killed %d clients (%v), want 1", n, err)
	}
	const (
		reestablished = "redisbus: pub/sub connection re-established"
		refused       = "redisbus: pub/sub channels not subscribed; retrying"
	)
	// Long enough for several health checks and retries.
	time.Sleep(time.Second)
	if n := logs.count(reestablished); n != 0 {
		t.Errorf("%q logged %d times while Redis refused SUBSCRIBE, want 0", reestablished, n)
	}
	if n := b.Stats().Reconnects; n != 0 {
		t.Errorf("Stats().Reconnects = %d while Redis refused SUBSCRIBE, want 0", n)
	}
	if n := logs.count(refused, slog.LevelWarn); n != 1 {
		t.Errorf("%q warned %d times while Redis refused SUBSCRIBE, want once", refused, n)
	}
	// Not a busy loop: the retries (logged at debug level) back off.
	if n := logs.count(refused); n > 40 {
		t.Errorf("%q logged %d times in a second, want a back-off", refused, n)
	}
	if n, err := admin.PubSubNumSub(ctx, prefix+"a").Result(); err != nil || n[prefix+"a"] != 0 {
		t.Fatalf("PUBSUB NUMSUB %sa = %v (%v), want 0 while SUBSCRIBE is refused", prefix, n, err)
	}

	// Allowed again: the same connection subscribes, and delivers.
	acl("+subscribe")
	start := time.Now()
	publishUntil(t, pub, "a", p, "after-a")
	publishUntil(t, pub, "b", p, "after-b")
	t.Logf("delivering again %v after SUBSCRIBE was allowed", time.Since(start).Round(time.Millisecond))
	eventually(t, "the reconnection counted once", func() bool { return b.Stats().Reconnects == 1 })
	if n := logs.count(reestablished, slog.LevelInfo); n != 1 {
		t.Errorf("%q logged %d times, want 1", reestablished, n)
	}
	if n := pubsubClients(t, admin); n != 1 {
		t.Errorf("%d pub/sub connections, want 1", n)
	}
	q := newProbe("c")
	subscribe(t, b, q.handle, "c")
	publish(t, pub, "c", "c0")
	q.expect(t, "c0")
}
