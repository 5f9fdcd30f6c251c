package pubsubtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/pubsub"
)

// Guarantee 1: every active subscription, on every node, the publisher's own
// included, receives the message once.
func testDeliversToEverySubscription(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	ch := c.channel("x")
	recs := []*recorder{newRecorder(t, "a"), newRecorder(t, "b1"), newRecorder(t, "b2")}
	c.subscribe(a, recs[0], ch)
	c.subscribe(b, recs[1], ch)
	c.subscribe(b, recs[2], ch)

	c.publish(a, ch, "from-a")
	c.publish(b, ch, "from-b")
	for _, r := range recs {
		r.expectAnyOrder(t, "from-a", "from-b")
	}
}

// Publishing on a channel nobody listens to (any more) is not an error.
func testPublishWithoutSubscribers(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	ch := c.channel("nobody")
	c.publish(a, ch, "lost")

	r := newRecorder(t, "b")
	sub := c.subscribe(b, r, ch)
	c.publish(a, ch, "heard")
	r.waitUntil(t, `message "heard"`, func(msgs [][]byte) bool {
		return len(msgs) > 0 && string(msgs[len(msgs)-1]) == "heard"
	})
	c.unsubscribe(sub, r)
	c.publish(a, ch, "lost again")
}

// Guarantee 1 holds as soon as Subscribe returns, across nodes.
func testActiveWhenSubscribeReturns(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	for i := range 10 {
		for _, sub := range []struct {
			name string
			bus  pubsub.Bus
		}{{"remote", b}, {"local", a}} {
			ch := c.channel(fmt.Sprintf("%s-%d", sub.name, i))
			r := newRecorder(t, fmt.Sprintf("%s-%d", sub.name, i))
			c.subscribe(sub.bus, r, ch)
			c.publish(a, ch, "m")
			r.expect(t, "m")
		}
	}
}

// A message reaches the subscriptions of its channel only, whatever the
// names look like (prefixes, glob characters, case).
func testOtherChannelsUntouched(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	names := []string{"room", "room.1", "room*", "room?", "roo", "Room", "room[1]", "room ", "*", "room\x00x", "ré"}
	recs := make([]*recorder, len(names))
	for i, name := range names {
		recs[i] = newRecorder(t, fmt.Sprintf("%q", name))
		c.subscribe(b, recs[i], c.channel(name))
	}
	for _, name := range names {
		c.publish(a, c.channel(name), name)
	}
	for i, name := range names {
		recs[i].waitCount(t, 1)
		c.publish(a, c.channel(name), "end")
	}
	for i, name := range names {
		recs[i].expect(t, name, "end")
	}
}

// Guarantee 2: one caller's messages arrive in order, here 1000 of them from
// each of three concurrent publishers, one of which alternates nodes.
func testOrderPerPublisher(t *testing.T, c *cluster) {
	const n = 1000
	a, b := c.node(), c.node()
	ch := c.channel("order")
	ra, rb := newRecorder(t, "a"), newRecorder(t, "b")
	c.subscribe(a, ra, ch)
	c.subscribe(b, rb, ch)

	publishers := []publisher{
		{"a", []pubsub.Bus{a}},
		{"b", []pubsub.Bus{b}},
		{"ab", []pubsub.Bus{a, b}},
	}
	runPublishers(t, publishers, n, []*recorder{ra, rb}, func(buses []pubsub.Bus, name string) {
		c.publishSeq(buses, ch, name, n)
	})
}

// publisher names a sequence of messages and the buses it is published
// through, in turn.
type publisher struct {
	name  string
	buses []pubsub.Bus
}

// runPublishers runs publish for each publisher at once, n messages each,
// and checks that every recorder got each publisher's sequence whole and
// in order.
func runPublishers(t *testing.T, publishers []publisher, n int, recorders []*recorder, publish func(buses []pubsub.Bus, name string)) {
	t.Helper()
	counts := make(map[string]int)
	var wg sync.WaitGroup
	for _, p := range publishers {
		counts[p.name] = n
		wg.Add(1)
		go func() {
			defer wg.Done()
			publish(p.buses, p.name)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, r := range recorders {
		checkSequences(t, r.name, r.waitCount(t, len(publishers)*n), counts, true)
	}
}

// Guarantee 2 across the channels of one subscription: one caller's
// messages, alternating between two channels, reach a subscription to both in
// exact order; here 1000 from each of two concurrent publishers, one of which
// alternates nodes too. This is what the sockjs package relies on when a
// unicast notice on a node's own channel precedes a broadcast on its route's
// channel.
func testOrderAcrossChannels(t *testing.T, c *cluster) {
	const n = 1000
	a, b := c.node(), c.node()
	chs := []string{c.channel("node"), c.channel("route")}
	ra, rb := newRecorder(t, "a"), newRecorder(t, "b")
	c.subscribe(a, ra, chs...)
	c.subscribe(b, rb, chs...)

	publishers := []publisher{
		{"a", []pubsub.Bus{a}},
		{"ab", []pubsub.Bus{a, b}},
	}
	runPublishers(t, publishers, n, []*recorder{ra, rb}, func(buses []pubsub.Bus, name string) {
		c.publishSeqOn(buses, chs, name, n)
	})
}

// A subscription to channels a and b gets their messages and not those of c;
// once unsubscribed it gets neither, while other subscriptions of a and b
// still do.
func testListedChannelsOnly(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	chA, chB, chC := c.channel("a"), c.channel("b"), c.channel("c")
	ab := newRecorder(t, "a+b")
	onlyA, onlyC := newRecorder(t, "a"), newRecorder(t, "c")
	sub := c.subscribe(b, ab, chA, chB)
	c.subscribe(b, onlyA, chA)
	c.subscribe(a, onlyC, chC)

	for i, ch := range []string{chC, chA, chC, chB, chC} {
		c.publish(a, ch, fmt.Sprint(ch[len(ch)-1:], i))
	}
	onlyC.expect(t, "c0", "c2", "c4")
	c.publish(a, chA, "end")
	ab.expect(t, "a1", "b3", "end")
	onlyA.expect(t, "a1", "end")

	c.unsubscribe(sub, ab)
	c.publish(a, chB, "after-b")
	c.publish(a, chA, "after-a")
	onlyA.expect(t, "a1", "end", "after-a")
	if got := ab.received(); len(got) != 3 {
		t.Errorf("pubsubtest: unsubscribed subscription received %s", summary(got))
	}
}

// A channel listed several times in one Subscribe counts once: each of its
// messages reaches the handler once, and Unsubscribe ends them all.
func testDuplicateChannels(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	ch, other := c.channel("dup"), c.channel("other")
	r, w := newRecorder(t, "dup"), newRecorder(t, "witness")
	sub := c.subscribe(b, r, ch, other, ch, ch)
	c.subscribe(b, w, ch)

	want := []string{"1", "2", "3", "end"}
	c.publish(a, ch, "1")
	c.publish(b, ch, "2")
	c.publish(a, other, "3")
	c.publish(a, ch, "end")
	got := r.waitUntil(t, `message "end"`, func(msgs [][]byte) bool {
		return slices.ContainsFunc(msgs, func(m []byte) bool { return string(m) == "end" })
	})
	if !equalStrings(got, want) {
		t.Errorf("pubsubtest: subscription %s received %s, want %q (each once)", r.name, summary(got), want)
	}

	c.unsubscribe(sub, r)
	c.publish(a, ch, "after")
	w.expect(t, "1", "2", "end", "after")
}

// Guarantee 3: a handler is never called concurrently with itself, however
// many goroutines and nodes publish. The recorder detects overlapping calls;
// its delay widens the window.
func testHandlerNotConcurrent(t *testing.T, c *cluster) {
	const publishers, n = 4, 50
	a, b := c.node(), c.node()
	ch := c.channel("serial")
	r := newRecorder(t, "a")
	r.delay = 20 * time.Microsecond
	c.subscribe(a, r, ch)

	counts := make(map[string]int)
	var wg sync.WaitGroup
	for i := range publishers {
		name := fmt.Sprintf("p%d", i)
		counts[name] = n
		bus := []pubsub.Bus{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.publishSeq([]pubsub.Bus{bus}, ch, name, n)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	checkSequences(t, r.name, r.waitCount(t, publishers*n), counts, true)
}

// Many subscriptions of one channel, on several nodes, each get everything.
func testManySubscriptions(t *testing.T, c *cluster) {
	const nodes, perNode, n = 3, 20, 10
	buses := make([]pubsub.Bus, nodes)
	for i := range buses {
		buses[i] = c.node()
	}
	ch := c.channel("many")
	var recs []*recorder
	for i, bus := range buses {
		for j := range perNode {
			r := newRecorder(t, fmt.Sprintf("node%d-%d", i, j))
			c.subscribe(bus, r, ch)
			recs = append(recs, r)
		}
	}

	counts := map[string]int{"p": n, "q": n}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.publishSeq(buses[:1], ch, "p", n) }()
	go func() { defer wg.Done(); c.publishSeq(buses[1:2], ch, "q", n) }()
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, r := range recs {
		checkSequences(t, r.name, r.waitCount(t, 2*n), counts, true)
	}
}

// Payloads are opaque bytes and arrive unchanged, empty ones included.
func testPayloadIntact(t *testing.T, c *cluster) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	large := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range large {
		large[i] = byte(rng.Uint32())
	}
	payloads := []struct {
		name    string
		payload []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"zero_byte", []byte{0}},
		{"all_byte_values", all},
		{"invalid_utf8", []byte{0xff, 0xfe, 0xc3, 0x28}},
		{"line_breaks", []byte("a\r\nb\nc\r")},
		{"json", []byte(`{"type":"message","data":"h\u00e9llo"}`)},
		{"large_256KiB", large},
	}

	a, b := c.node(), c.node()
	ch := c.channel("payload")
	ra, rb := newRecorder(t, "a"), newRecorder(t, "b")
	c.subscribe(a, ra, ch)
	c.subscribe(b, rb, ch)
	ctx := boundedCtx(t)
	for _, p := range payloads {
		if err := a.Publish(ctx, ch, p.payload); err != nil {
			t.Fatalf("pubsubtest: Publish(%s payload): %v", p.name, err)
		}
	}
	gotA, gotB := ra.waitCount(t, len(payloads)), rb.waitCount(t, len(payloads))
	if len(gotA) != len(payloads) || len(gotB) != len(payloads) {
		t.Fatalf("pubsubtest: received %d and %d messages, want %d", len(gotA), len(gotB), len(payloads))
	}
	for i, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			for _, got := range []struct {
				node    string
				payload []byte
			}{{"a", gotA[i]}, {"b", gotB[i]}} {
				if !bytes.Equal(got.payload, p.payload) {
					t.Errorf("pubsubtest: node %s received %d bytes %q, want %d bytes %q",
						got.node, len(got.payload), abbrev(got.payload), len(p.payload), abbrev(p.payload))
				}
			}
		})
	}
}

// Publish does not retain the caller's payload: changing it after Publish
// returned does not change what subscribers receive, even late ones.
func testPublishCopiesPayload(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	ch := c.channel("copy")
	gate := make(chan struct{})
	entered := make(chan struct{}, 2)
	hold := func(p []byte) {
		if string(p) == "gate" {
			entered <- struct{}{}
			<-gate
		}
	}
	ra, rb := newRecorder(t, "a"), newRecorder(t, "b")
	ra.hook, rb.hook = hold, hold
	c.subscribe(a, ra, ch)
	c.subscribe(b, rb, ch)
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the subscriptions' cleanups

	c.publish(a, ch, "gate")
	for range 2 {
		select {
		case <-entered:
		case <-time.After(timeout):
			t.Fatalf("pubsubtest: the handlers did not receive the first message within %v", timeout)
		}
	}
	buf := []byte("original")
	if err := a.Publish(boundedCtx(t), ch, buf); err != nil {
		t.Fatalf("pubsubtest: Publish: %v", err)
	}
	copy(buf, "XXXXXXXX")
	release()
	ra.expect(t, "gate", "original")
	rb.expect(t, "gate", "original")
}

// Guarantee 4: after Unsubscribe returns the handler is not called again,
// even while messages keep coming (the recorder detects late calls).
func testUnsubscribeStopsDelivery(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	ch := c.channel("unsub")
	x, w := newRecorder(t, "unsubscribed"), newRecorder(t, "witness")
	subX := c.subscribe(b, x, ch)
	c.subscribe(b, w, ch)

	c.publishSeq([]pubsub.Bus{a}, ch, "pre", 10)
	x.waitCount(t, 10)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.publishSeq([]pubsub.Bus{a, b}, ch, "race", 200)
	}()
	c.unsubscribe(subX, x) // races with the publisher
	wg.Wait()
	c.publishSeq([]pubsub.Bus{a}, ch, "end", 1)
	if t.Failed() {
		return
	}

	counts := map[string]int{"pre": 10, "race": 200, "end": 1}
	checkSequences(t, w.name, w.waitCount(t, 211), counts, true)
	// x's handler runs on a goroutine of its own: a delivery after
	// Unsubscribe returned (say of "end") may come after w has had
	// everything. Give it time to show before the test ends, when the
	// recorder reports such deliveries.
	time.Sleep(lateDelivery)
	checkSequences(t, x.name, x.received(), counts, false)
}

// lateDelivery is how long a test waits for a delivery that must not come
// after a witness subscription has had everything.
const lateDelivery = 200 * time.Millisecond

// Unsubscribe is idempotent, also when called concurrently.
func testUnsubscribeIdempotent(t *testing.T, c *cluster) {
	a := c.node()
	ch := c.channel("idem")
	r := newRecorder(t, "a")
	sub := c.subscribe(a, r, ch)
	c.publish(a, ch, "m")
	r.expect(t, "m")

	ctx := boundedCtx(t)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { errs <- sub.Unsubscribe(ctx) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("pubsubtest: concurrent Unsubscribe: %v", err)
		}
	}
	r.unsubscribed.Store(true)
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Errorf("pubsubtest: repeated Unsubscribe: %v", err)
	}
	c.publish(a, ch, "after")
}

// Unsubscribing one subscription leaves the channel's others alone, on the
// same node too, and the channel can be subscribed again.
func testUnsubscribeLeavesOthers(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	ch := c.channel("others")
	gone, stay, far := newRecorder(t, "b-gone"), newRecorder(t, "b-stay"), newRecorder(t, "a")
	sub := c.subscribe(b, gone, ch)
	c.subscribe(b, stay, ch)
	c.subscribe(a, far, ch)
	c.unsubscribe(sub, gone)

	want := []string{"after"}
	c.publish(a, ch, "after")
	for i := range 3 {
		r := newRecorder(t, fmt.Sprintf("again-%d", i))
		sub := c.subscribe(b, r, ch)
		m := fmt.Sprintf("again-%d", i)
		c.publish(a, ch, m)
		r.expect(t, m)
		c.unsubscribe(sub, r)
		want = append(want, m)
	}
	stay.expect(t, want...)
	far.expect(t, want...)
	if got := gone.received(); len(got) != 0 {
		t.Errorf("pubsubtest: unsubscribed subscription received %s", summary(got))
	}
}

// A handler that does not return holds up its own subscription only.
func testSlowHandlerDoesNotBlockOthers(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	chC, chD := c.channel("c"), c.channel("d")
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := newRecorder(t, "slow")
	slow.hook = func([]byte) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
	}
	sameNode, otherNode, otherChannel := newRecorder(t, "same-node"), newRecorder(t, "other-node"), newRecorder(t, "other-channel")
	c.subscribe(a, slow, chC)
	c.subscribe(a, sameNode, chC)
	c.subscribe(b, otherNode, chC)
	c.subscribe(a, otherChannel, chD)
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the subscriptions' cleanups

	c.publish(a, chC, "c1")
	select { // from now on the slow handler blocks
	case <-entered:
	case <-time.After(timeout):
		t.Fatalf("pubsubtest: the slow handler was not called within %v", timeout)
	}
	c.publish(b, chD, "d1")
	c.publish(a, chC, "c2")
	c.publish(b, chD, "d2")
	sameNode.expect(t, "c1", "c2")
	otherNode.expect(t, "c1", "c2")
	otherChannel.expect(t, "d1", "d2")

	release()
	slow.expect(t, "c1", "c2")
}

// A context that has ended fails Publish and Subscribe with its error, and
// neither takes effect.
func testCanceledContext(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	ch := c.channel("ctx")
	w := newRecorder(t, "witness")
	c.subscribe(b, w, ch)

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	contexts := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline_exceeded", expired, context.DeadlineExceeded},
	}
	var never []*recorder
	for _, cc := range contexts {
		t.Run(cc.name+"/Publish", func(t *testing.T) {
			err := a.Publish(cc.ctx, ch, []byte("must not arrive"))
			if !errors.Is(err, cc.want) {
				t.Errorf("pubsubtest: Publish with a %s context returned %v, want an error wrapping %v", cc.name, err, cc.want)
			}
		})
		t.Run(cc.name+"/Subscribe", func(t *testing.T) {
			r := newRecorder(t, "subscribed with a "+cc.name+" context")
			never = append(never, r)
			sub, err := b.Subscribe(cc.ctx, r.handle, ch)
			if !errors.Is(err, cc.want) {
				t.Errorf("pubsubtest: Subscribe with a %s context returned %v, want an error wrapping %v", cc.name, err, cc.want)
			}
			if err == nil && sub != nil {
				c.unsubscribe(sub, nil)
			}
		})
	}

	c.publish(a, ch, "end")
	w.expect(t, "end")
	for _, r := range never {
		if got := r.received(); len(got) != 0 {
			t.Errorf("pubsubtest: %s: handler received %s", r.name, summary(got))
		}
	}
}

// A closed bus answers pubsub.ErrClosed, and its subscriptions can still be
// unsubscribed. Skipped for buses that are not a pubsub.Closer.
func testClosedBus(t *testing.T, c *cluster) {
	a := c.node()
	closer, ok := a.(pubsub.Closer)
	if !ok {
		t.Skipf("pubsubtest: %T does not implement pubsub.Closer", a)
	}
	ch := c.channel("closed")
	r := newRecorder(t, "a")
	sub := c.subscribe(a, r, ch)
	c.publish(a, ch, "before")
	r.expect(t, "before")

	if err := closer.Close(); err != nil {
		t.Fatalf("pubsubtest: Close: %v", err)
	}
	ctx := boundedCtx(t)
	if err := a.Publish(ctx, ch, []byte("after")); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("pubsubtest: Publish on a closed bus returned %v, want an error wrapping pubsub.ErrClosed", err)
	}
	if _, err := a.Subscribe(ctx, newRecorder(t, "late").handle, ch); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("pubsubtest: Subscribe on a closed bus returned %v, want an error wrapping pubsub.ErrClosed", err)
	}
	if err := sub.Unsubscribe(ctx); err != nil && !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("pubsubtest: Unsubscribe after Close returned %v, want nil or an error wrapping pubsub.ErrClosed", err)
	}
	if got := r.received(); len(got) != 1 {
		t.Errorf("pubsubtest: received %s, want only \"before\"", summary(got))
	}
}

// All methods are safe for concurrent use: subscriptions come and go while
// several publishers publish. A stable subscription gets everything in
// order; the short-lived ones get an ordered part.
func testConcurrentUse(t *testing.T, c *cluster) {
	const publishers, n, churners, rounds = 3, 200, 4, 20
	a, b := c.node(), c.node()
	buses := []pubsub.Bus{a, b}
	ch := c.channel("concurrent")
	stable := newRecorder(t, "stable")
	c.subscribe(a, stable, ch)

	counts := make(map[string]int)
	var wg sync.WaitGroup
	for i := range publishers {
		name := fmt.Sprintf("p%d", i)
		counts[name] = n
		bus := buses[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.publishSeq([]pubsub.Bus{bus}, ch, name, n)
		}()
	}
	var (
		mu      sync.Mutex
		churned []*recorder
	)
	churn := func(bus pubsub.Bus, name string) error {
		r := newRecorder(t, name)
		ctx, cancel := callCtx()
		defer cancel()
		sub, err := bus.Subscribe(ctx, r.handle, ch)
		if err != nil {
			return fmt.Errorf("pubsubtest: Subscribe: %w", err)
		}
		if err := sub.Unsubscribe(ctx); err != nil {
			return fmt.Errorf("pubsubtest: Unsubscribe: %w", err)
		}
		r.unsubscribed.Store(true)
		mu.Lock()
		churned = append(churned, r)
		mu.Unlock()
		return nil
	}
	for i := range churners {
		bus := buses[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range rounds {
				if err := churn(bus, fmt.Sprintf("churn-%d-%d", i, j)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	checkSequences(t, stable.name, stable.waitCount(t, publishers*n), counts, true)
	for _, r := range churned {
		checkSequences(t, r.name, r.received(), counts, false)
	}
}

// pubsub.IdleSubscriber, for buses that implement it: idle follows every
// run of handler calls and nothing else, on the handler's goroutine, and
// is not called once Unsubscribe has returned.
func testIdleCallback(t *testing.T, c *cluster) {
	a, b := c.node(), c.node()
	is, ok := b.(pubsub.IdleSubscriber)
	if !ok {
		t.Skip("the bus is not a pubsub.IdleSubscriber")
	}
	ch := c.channel("idle")
	r := newRecorder(t, "idle")
	ctx, cancel := callCtx()
	sub, err := is.SubscribeIdle(ctx, r.handle, r.idle, ch)
	cancel()
	if err != nil {
		t.Fatalf("pubsubtest: SubscribeIdle(%q): %v", ch, err)
	}
	t.Cleanup(func() {
		ctx, cancel := callCtx()
		defer cancel()
		_ = sub.Unsubscribe(ctx)
	})

	const n = 100
	c.publishSeq([]pubsub.Bus{a, b}, ch, "m", n)
	events := r.waitUntil(t, fmt.Sprintf("%d messages, then idle", n), func(msgs [][]byte) bool {
		return len(msgs) > 0 && msgs[len(msgs)-1] == nil && len(withoutIdle(msgs)) == n
	})
	for i, e := range events {
		if e == nil && (i == 0 || events[i-1] == nil) {
			t.Fatalf("idle called without a handler call before it (event %d of %s)", i, summary(events))
		}
	}
	checkSequences(t, r.name, withoutIdle(events), map[string]int{"m": n}, true)

	// Messages racing with Unsubscribe: neither h nor idle runs after it.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.publishSeq([]pubsub.Bus{a, b}, ch, "race", 200)
	}()
	c.unsubscribe(sub, r)
	wg.Wait()
}

// withoutIdle returns msgs without the nil entries idle calls record.
func withoutIdle(msgs [][]byte) [][]byte {
	var out [][]byte
	for _, m := range msgs {
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}
