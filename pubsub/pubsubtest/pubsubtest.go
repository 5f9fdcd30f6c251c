// Package pubsubtest is the conformance suite for pubsub.Bus implementations.
//
// An implementation's tests call Run with a factory of clusters:
//
//	func TestConformance(t *testing.T) {
//		pubsubtest.Run(t, func(t *testing.T) func() pubsub.Bus {
//			addr := startMedium(t) // e.g. one Redis for this subtest
//			return func() pubsub.Bus {
//				client := redis.NewClient(&redis.Options{Addr: addr})
//				b := redisbus.New(client, redisbus.Options{})
//				t.Cleanup(func() { b.Close(); client.Close() })
//				return b
//			}
//		})
//	}
//
// The suite checks the guarantees listed in the pubsub package documentation,
// plus what follows from the method documentation and what the sockjs
// package relies on: a subscription to several channels gets the messages of
// those channels only, in one caller's publish order across them, each once
// even when a channel is listed twice; payloads arrive intact (binary, empty,
// 256 KiB); Publish does not retain the caller's payload; a context that has
// already ended fails Publish and Subscribe with its error, and neither takes
// effect; a closed bus (one that implements pubsub.Closer) answers Publish
// and Subscribe with pubsub.ErrClosed, while Unsubscribe still returns; and a
// handler that does not return stalls its own subscription only.
//
// Every call and every wait is bounded: a wait fails after a few seconds
// without progress. A bus over a real network on loopback passes; the suite
// asserts no upper bound on timing.
package pubsubtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/pubsub"
)

// timeout bounds every call the suite makes, and every wait without
// progress.
const timeout = 5 * time.Second

// Run runs the contract suite.
//
// newCluster is called once per subtest, with the subtest's t, and returns a
// constructor of nodes: every bus it returns must be connected to the same
// shared medium (like several nodes on one Redis), so that a message
// published on one node reaches subscriptions on all of them. An in-process
// bus, being a cluster of one, returns the same bus every time. Different
// subtests may share a medium: the channel names the suite uses are unique
// per subtest (and per run).
//
// The factory owns what it creates: it registers any cleanup (closing buses,
// stopping servers) with t.Cleanup. The suite itself closes a bus only in the
// ClosedBus subtest, and only if it implements pubsub.Closer; the factory's
// cleanup may close it again. Subtests run in parallel, so newCluster must be
// safe for concurrent use; a node constructor is only called from its
// subtest's goroutine. Run returns when all subtests have finished.
func Run(t *testing.T, newCluster func(t *testing.T) func() pubsub.Bus) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, c *cluster)
	}{
		{"DeliversToEverySubscription", testDeliversToEverySubscription},
		{"PublishWithoutSubscribers", testPublishWithoutSubscribers},
		{"ActiveWhenSubscribeReturns", testActiveWhenSubscribeReturns},
		{"OtherChannelsUntouched", testOtherChannelsUntouched},
		{"OrderPerPublisher", testOrderPerPublisher},
		{"OrderAcrossChannels", testOrderAcrossChannels},
		{"ListedChannelsOnly", testListedChannelsOnly},
		{"DuplicateChannels", testDuplicateChannels},
		{"HandlerNotConcurrent", testHandlerNotConcurrent},
		{"ManySubscriptions", testManySubscriptions},
		{"PayloadIntact", testPayloadIntact},
		{"PublishCopiesPayload", testPublishCopiesPayload},
		{"UnsubscribeStopsDelivery", testUnsubscribeStopsDelivery},
		{"UnsubscribeIdempotent", testUnsubscribeIdempotent},
		{"UnsubscribeLeavesOthers", testUnsubscribeLeavesOthers},
		{"SlowHandlerDoesNotBlockOthers", testSlowHandlerDoesNotBlockOthers},
		{"CanceledContext", testCanceledContext},
		{"ClosedBus", testClosedBus},
		{"ConcurrentUse", testConcurrentUse},
		{"IdleCallback", testIdleCallback},
	}
	// The group makes t.Run wait for the parallel subtests, so that Run
	// returns only when they are done.
	t.Run("contract", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				tt.run(t, newTestCluster(t, newCluster))
			})
		}
	})
}

// runID and clusterSeq make channel names unique to a subtest, even across
// test processes sharing one medium.
var (
	runID      = strconv.FormatUint(rand.Uint64(), 36)
	clusterSeq atomic.Uint64
)

// cluster is one subtest's view of the medium.
type cluster struct {
	t       *testing.T
	newNode func() pubsub.Bus
	prefix  string
}

func newTestCluster(t *testing.T, newCluster func(t *testing.T) func() pubsub.Bus) *cluster {
	newNode := newCluster(t)
	if newNode == nil {
		t.Fatal("pubsubtest: newCluster returned a nil constructor")
	}
	return &cluster{
		t:       t,
		newNode: newNode,
		prefix:  fmt.Sprintf("pubsubtest.%s.%d.%s.", runID, clusterSeq.Add(1), t.Name()),
	}
}

// node returns a bus of the cluster.
func (c *cluster) node() pubsub.Bus {
	c.t.Helper()
	b := c.newNode()
	if b == nil {
		c.t.Fatal("pubsubtest: the node constructor returned nil")
	}
	return b
}

// channel returns a channel name unique to this subtest.
func (c *cluster) channel(name string) string { return c.prefix + name }

// subscribe subscribes r to channels on bus, in one subscription, failing
// the test on error. The subscription is unsubscribed at cleanup.
func (c *cluster) subscribe(bus pubsub.Bus, r *recorder, channels ...string) pubsub.Subscription {
	c.t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	sub, err := bus.Subscribe(ctx, r.handle, channels...)
	if err != nil {
		c.t.Fatalf("pubsubtest: Subscribe(%q): %v", channels, err)
	}
	if sub == nil {
		c.t.Fatalf("pubsubtest: Subscribe(%q) returned a nil Subscription and no error", channels)
	}
	c.t.Cleanup(func() {
		ctx, cancel := callCtx()
		defer cancel()
		_ = sub.Unsubscribe(ctx) // it may be closed already; only bound the wait.
	})
	return sub
}

// unsubscribe unsubscribes sub, failing the test on error, and tells r that
// its handler must not be called any more.
func (c *cluster) unsubscribe(sub pubsub.Subscription, r *recorder) {
	c.t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	if err := sub.Unsubscribe(ctx); err != nil {
		c.t.Fatalf("pubsubtest: Unsubscribe: %v", err)
	}
	if r != nil {
		r.unsubscribed.Store(true)
	}
}

// publish publishes payload, failing the test on error.
func (c *cluster) publish(bus pubsub.Bus, channel string, payload string) {
	c.t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	if err := bus.Publish(ctx, channel, []byte(payload)); err != nil {
		c.t.Fatalf("pubsubtest: Publish(%q, %q): %v", channel, payload, err)
	}
}

// publishSeq publishes "<name>:0" … "<name>:<n-1>" on channel, in sequence,
// through the given buses in turn. It reports errors with t.Errorf, so it may
// run on its own goroutine.
func (c *cluster) publishSeq(buses []pubsub.Bus, channel, name string, n int) {
	c.publishSeqOn(buses, []string{channel}, name, n)
}

// publishSeqOn is publishSeq over several channels: message i goes through
// bus i mod len(buses), on channel (i div len(buses)) mod len(channels), so
// that every bus publishes on every channel.
func (c *cluster) publishSeqOn(buses []pubsub.Bus, channels []string, name string, n int) {
	for i := range n {
		p := fmt.Sprintf("%s:%d", name, i)
		ch := channels[i/len(buses)%len(channels)]
		ctx, cancel := callCtx()
		err := buses[i%len(buses)].Publish(ctx, ch, []byte(p))
		cancel()
		if err != nil {
			c.t.Errorf("pubsubtest: Publish(%q, %q): %v", ch, p, err)
			return
		}
	}
}

// recorder is a handler that records what it receives and checks the
// guarantees of a single subscription: never called concurrently with
// itself, never called after Unsubscribe returned. Violations fail the test
// at cleanup.
type recorder struct {
	name string
	// hook, if set, runs at the start of every call, before recording.
	hook func(payload []byte)
	// delay, if set, is slept in every call to widen race windows.
	delay time.Duration

	inFlight     atomic.Int32
	unsubscribed atomic.Bool
	signal       chan struct{} // a message was recorded

	mu         sync.Mutex
	msgs       [][]byte
	violations []string
}

func newRecorder(t *testing.T, name string) *recorder {
	r := &recorder{name: name, signal: make(chan struct{}, 1)}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, v := range r.violations {
			t.Errorf("pubsubtest: subscription %s: %s", r.name, v)
		}
	})
	return r
}

func (r *recorder) handle(payload []byte) {
	if n := r.inFlight.Add(1); n != 1 {
		r.violate(fmt.Sprintf("handler called concurrently with itself (%d calls in flight)", n))
	}
	if r.unsubscribed.Load() {
		r.violate(fmt.Sprintf("handler called with %q after Unsubscribe returned", abbrev(payload)))
	}
	if r.hook != nil {
		r.hook(payload)
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, bytes.Clone(payload))
	r.mu.Unlock()
	r.inFlight.Add(-1)
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// idle is the recorder's idle callback (pubsub.IdleSubscriber): it
// records a nil message.
func (r *recorder) idle() {
	if n := r.inFlight.Add(1); n != 1 {
		r.violate("idle called concurrently with the handler")
	}
	if r.unsubscribed.Load() {
		r.violate("idle called after Unsubscribe returned")
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, nil)
	r.mu.Unlock()
	r.inFlight.Add(-1)
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) violate(v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) < 10 {
		r.violations = append(r.violations, v)
	}
}

// received returns a copy of the messages recorded so far.
func (r *recorder) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// waitUntil waits until cond holds for the messages recorded so far and
// returns them. It fails the test once no message has arrived for timeout,
// or after 4×timeout in all.
func (r *recorder) waitUntil(t *testing.T, what string, cond func(msgs [][]byte) bool) [][]byte {
	t.Helper()
	idle := time.NewTimer(timeout)
	defer idle.Stop()
	total := time.NewTimer(4 * timeout)
	defer total.Stop()
	for {
		r.mu.Lock()
		ok := cond(r.msgs)
		msgs := r.msgs
		r.mu.Unlock()
		if ok {
			return slices.Clone(msgs)
		}
		select {
		case <-r.signal:
			idle.Reset(timeout)
		case <-idle.C:
			t.Fatalf("pubsubtest: subscription %s: waiting for %s, no message for %v; received %d messages: %s",
				r.name, what, timeout, len(msgs), summary(msgs))
		case <-total.C:
			t.Fatalf("pubsubtest: subscription %s: no %s within %v; received %d messages: %s",
				r.name, what, 4*timeout, len(msgs), summary(msgs))
		}
	}
}

// waitCount waits until at least n messages were received.
func (r *recorder) waitCount(t *testing.T, n int) [][]byte {
	t.Helper()
	return r.waitUntil(t, fmt.Sprintf("%d messages", n), func(msgs [][]byte) bool { return len(msgs) >= n })
}

// expect waits until the messages in want were received, then checks that
// exactly these were, in this order.
func (r *recorder) expect(t *testing.T, want ...string) {
	t.Helper()
	got := r.waitCount(t, len(want))
	if !equalStrings(got, want) {
		t.Errorf("pubsubtest: subscription %s received %s, want %q", r.name, summary(got), want)
	}
}

// expectAnyOrder waits until every message of want was received, then checks
// that exactly these were, in any order.
func (r *recorder) expectAnyOrder(t *testing.T, want ...string) {
	t.Helper()
	got := r.waitUntil(t, fmt.Sprintf("messages %q", want), func(msgs [][]byte) bool {
		for _, w := range want {
			if !slices.ContainsFunc(msgs, func(m []byte) bool { return string(m) == w }) {
				return false
			}
		}
		return true
	})
	gotS := make([]string, len(got))
	for i, m := range got {
		gotS[i] = string(m)
	}
	slices.Sort(gotS)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(gotS, want) {
		t.Errorf("pubsubtest: subscription %s received %q, want %q in any order (each once)", r.name, gotS, want)
	}
}

// checkSequences checks that msgs, made by publishSeq, hold each publisher's
// messages in order. counts names the publishers and how many messages each
// sent. If complete is set every message must be there exactly once (0 …
// n-1); otherwise a strictly increasing subsequence will do.
func checkSequences(t *testing.T, who string, msgs [][]byte, counts map[string]int, complete bool) {
	t.Helper()
	next := make(map[string]int, len(counts))
	for i, m := range msgs {
		name, num, ok := strings.Cut(string(m), ":")
		seq, err := strconv.Atoi(num)
		if _, known := counts[name]; !ok || err != nil || !known {
			t.Errorf("pubsubtest: subscription %s: message %d is %q, not from a publisher of this test", who, i, abbrev(m))
			return
		}
		want := next[name]
		if complete && seq != want || seq < want {
			t.Errorf("pubsubtest: subscription %s: message %d is %q, want %s:%d next (order lost, or a message lost or duplicated)",
				who, i, m, name, want)
			return
		}
		next[name] = seq + 1
	}
	if complete {
		for name, n := range counts {
			if next[name] != n {
				t.Errorf("pubsubtest: subscription %s: received %d messages of publisher %s, want %d", who, next[name], name, n)
			}
		}
	}
}

func equalStrings(got [][]byte, want []string) bool {
	return slices.EqualFunc(got, want, func(g []byte, w string) bool { return string(g) == w })
}

// abbrev shortens a payload for messages.
func abbrev(p []byte) string {
	if len(p) > 40 {
		return fmt.Sprintf("%s…(%d bytes)", p[:40], len(p))
	}
	return string(p)
}

// summary describes received messages for failure messages.
func summary(msgs [][]byte) string {
	var b strings.Builder
	b.WriteString("[")
	for i, m := range msgs {
		if i == 10 {
			fmt.Fprintf(&b, " …%d more", len(msgs)-i)
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%q", abbrev(m))
	}
	b.WriteString("]")
	return b.String()
}

// callCtx bounds one call of the bus.
func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), timeout)
}

// boundedCtx returns a context for a few calls: it ends after timeout, or at
// cleanup.
func boundedCtx(t *testing.T) context.Context {
	ctx, cancel := callCtx()
	t.Cleanup(cancel)
	return ctx
}
