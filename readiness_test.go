package sockjs_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/pubsub"
	pubsubmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
)

// probeBus is an in-memory bus that counts the readiness pings published
// through it, by channel, and can go deaf on one channel: subscriptions
// listing it get nothing any more, as a route's subscription that was not
// renewed after a reconnect.
type probeBus struct {
	pubsub.Bus // Publish and Subscribe only: the route subscribes without idle callbacks

	mu    sync.Mutex
	pings map[string]int

	deaf atomic.Pointer[string]
}

func newProbeBus(t *testing.T) *probeBus {
	mem := pubsubmem.New(pubsubmem.Options{})
	t.Cleanup(func() { _ = mem.Close() })
	return &probeBus{Bus: mem, pings: map[string]int{}}
}

func (b *probeBus) Publish(ctx context.Context, channel string, payload []byte) error {
	if sockjs.IsReadinessPing(payload) {
		b.mu.Lock()
		b.pings[channel]++
		b.mu.Unlock()
	}
	return b.Bus.Publish(ctx, channel, payload)
}

func (b *probeBus) Subscribe(ctx context.Context, h pubsub.Handler, channels ...string) (pubsub.Subscription, error) {
	return b.Bus.Subscribe(ctx, func(payload []byte) {
		if d := b.deaf.Load(); d != nil && slices.Contains(channels, *d) {
			return
		}
		h(payload)
	}, channels...)
}

// total is the number of pings published so far.
func (b *probeBus) total() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.pings {
		n += c
	}
	return n
}

// setDeaf makes the subscriptions listing channel deaf ("" for none).
func (b *probeBus) setDeaf(channel string) {
	if channel == "" {
		b.deaf.Store(nil)
		return
	}
	b.deaf.Store(&channel)
}

// reconnectingBus is a probeBus that reports reconnects.
type reconnectingBus struct {
	*probeBus
	reconnects atomic.Uint64
}

func (b *reconnectingBus) Stats() pubsub.Stats { return pubsub.Stats{Reconnects: b.reconnects.Load()} }

var _ pubsub.StatsReporter = (*reconnectingBus)(nil)

// lagObserver counts the BusLag calls by route.
type lagObserver struct {
	sockjs.NopObserver
	mu   sync.Mutex
	lags map[string]int
}

func (o *lagObserver) BusLag(route string, lag time.Duration) {
	o.mu.Lock()
	o.lags[route]++
	o.mu.Unlock()
}

func (o *lagObserver) snapshot() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]int, len(o.lags))
	for k, v := range o.lags {
		m[k] = v
	}
	return m
}

// shutdownAtCleanup stops node when the test ends.
func shutdownAtCleanup(t *testing.T, node *sockjs.Server) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// TestReadinessPingsPerBus: six routes sharing the node's bus and one
// with a bus of its own cost one readiness ping per period on each bus
// (each route's first ping, sent at once, aside), the shared bus's
// routes being pinged in turn, each one's lag observed.
func TestReadinessPingsPerBus(t *testing.T) {
	const every = 50 * time.Millisecond
	shared, own := newProbeBus(t), newProbeBus(t)
	obs := &lagObserver{lags: map[string]int{}}
	start := time.Now()
	node := sockjs.NewServer(sockjs.Config{
		Bus:              shared,
		Logger:           quiet,
		Observer:         obs,
		ReadinessPing:    every,
		ReadinessTimeout: 8 * every,
	})
	shutdownAtCleanup(t, node)
	var names []string
	for i := range 6 {
		name := fmt.Sprintf("r%d", i)
		names = append(names, name)
		node.Route(name, "/"+name, sockjs.HandlerFuncs{}, sockjs.Options{})
	}
	node.Route("own", "/own", sockjs.HandlerFuncs{}, sockjs.Options{Bus: own})
	waitFor(t, "readiness", func() bool { return node.Ready(context.Background()) == nil })

	// ticks bounds the periods since since: the ticker's, plus one for
	// a tick on the edge.
	ticks := func(since time.Time) int { return int(time.Since(since)/every) + 1 }
	// Besides one ping per period, allow a few retries of pings that a
	// busy machine delayed past half a period.
	const slack = 3
	if n, limit := shared.total(), len(names)+ticks(start)+slack; n > limit {
		t.Errorf("shared bus: %d pings since the start, want at most %d (%d routes' first pings and one per period)", n, limit, len(names))
	}

	// A window in which every shared route is pinged a few times in turn.
	before, sharedBefore, ownBefore := obs.snapshot(), shared.total(), own.total()
	from := time.Now()
	for deadline := from.Add(10 * time.Second); ; {
		time.Sleep(every)
		after := obs.snapshot()
		done := time.Since(from) >= 20*every
		for _, name := range append(names, "own") {
			if after[name]-before[name] < 2 {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in 10s, not every route's ping came back twice: before %v, after %v", before, after)
		}
	}
	periods := ticks(from)
	sharedN, ownN := shared.total()-sharedBefore, own.total()-ownBefore
	t.Logf("%d periods: %d pings on the shared bus (%d routes), %d on the own bus", periods, sharedN, len(names), ownN)
	if sharedN > periods+slack {
		t.Errorf("shared bus: %d pings in %d periods, want at most one per period", sharedN, periods)
	}
	if ownN > periods+slack {
		t.Errorf("own bus: %d pings in %d periods, want at most one per period", ownN, periods)
	}
	if err := node.Ready(context.Background()); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

// TestReadyRouteSubscriptionLost: when one route's subscription stops
// delivering while the bus works for its other routes, Ready fails naming
// that route within routes×ReadinessPing + ReadinessTimeout (within
// ReadinessPing + ReadinessTimeout when the bus reports the reconnect that
// lost it), the other routes stay ready, and the route is ready again once
// its subscription delivers.
func TestReadyRouteSubscriptionLost(t *testing.T) {
	const (
		every   = 40 * time.Millisecond
		timeout = 400 * time.Millisecond
		// What a busy machine may add to a bound: late ticks and polls.
		slack = time.Second
	)
	names := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		name      string
		reconnect bool
		bound     time.Duration
	}{
		{"in turn", false, time.Duration(len(names))*every + timeout},
		{"after a reconnect", true, every + timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := newProbeBus(t)
			var bus pubsub.Bus = probe
			rb := &reconnectingBus{probeBus: probe}
			if tc.reconnect {
				bus = rb
			}
			node := sockjs.NewServer(sockjs.Config{Bus: bus, Logger: quiet, ReadinessPing: every, ReadinessTimeout: timeout})
			shutdownAtCleanup(t, node)
			for _, name := range names {
				node.Route(name, "/"+name, sockjs.HandlerFuncs{}, sockjs.Options{})
			}
			waitFor(t, "readiness", func() bool { return node.Ready(context.Background()) == nil })

			probe.setDeaf("sockjs/c/node/" + node.NodeID())
			if tc.reconnect {
				rb.reconnects.Add(1)
			}
			lost := time.Now()
			var err error
			for {
				if err = sockjs.RouteReady(node, "c"); err != nil {
					break
				}
				if time.Since(lost) > tc.bound+slack {
					t.Fatalf("route c still ready %v after its subscription went deaf (bound %v)", time.Since(lost), tc.bound)
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("route c failed after %v (bound %v): %v", time.Since(lost).Round(time.Millisecond), tc.bound, err)
			if !strings.Contains(err.Error(), `route "c"`) || !strings.Contains(err.Error(), "subscribed") {
				t.Errorf("route c: %v, want its own subscription's failure", err)
			}

			// For a few timeouts, only c fails: Ready names it, and no
			// other route fails.
			for until := time.Now().Add(3 * timeout); time.Now().Before(until); time.Sleep(10 * time.Millisecond) {
				if err := node.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), `route "c"`) {
					t.Fatalf("Ready: %v, want route c's failure", err)
				}
				for _, name := range names {
					if err := sockjs.RouteReady(node, name); name != "c" && err != nil {
						t.Fatalf("route %s: %v, want ready while only c is deaf", name, err)
					}
				}
			}

			probe.setDeaf("")
			waitFor(t, "readiness once c delivers again", func() bool { return node.Ready(context.Background()) == nil })
		})
	}
}

// TestReadyNewRouteWaitsForItsPing: a route added to a node that is ready
// is not ready until its own first ping came back, while the bus delivers
// the other routes' pings.
func TestReadyNewRouteWaitsForItsPing(t *testing.T) {
	const every = 40 * time.Millisecond
	probe := newProbeBus(t)
	node := sockjs.NewServer(sockjs.Config{Bus: probe, Logger: quiet, ReadinessPing: every, ReadinessTimeout: 10 * every})
	shutdownAtCleanup(t, node)
	node.Route("a", "/a", sockjs.HandlerFuncs{}, sockjs.Options{})
	waitFor(t, "readiness", func() bool { return node.Ready(context.Background()) == nil })

	probe.setDeaf("sockjs/late/node/" + node.NodeID())
	node.Route("late", "/late", sockjs.HandlerFuncs{}, sockjs.Options{})
	for until := time.Now().Add(20 * every); time.Now().Before(until); time.Sleep(10 * time.Millisecond) {
		err := node.Ready(context.Background())
		if err == nil || !strings.Contains(err.Error(), `route "late"`) || !strings.Contains(err.Error(), "since the route started") {
			t.Fatalf("Ready: %v, want route late's first ping missing", err)
		}
		if err := sockjs.RouteReady(node, "a"); err != nil {
			t.Fatalf("route a: %v", err)
		}
	}
	probe.setDeaf("")
	waitFor(t, "readiness once late's ping comes back", func() bool { return node.Ready(context.Background()) == nil })
}
