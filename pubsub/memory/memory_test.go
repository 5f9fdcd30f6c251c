package memory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/pubsub/memory"
	"github.com/sockjs-cluster/sockjs/pubsub/pubsubtest"
)

// wait bounds every wait of these tests.
const wait = 5 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		opts memory.Options
	}{
		{"default", memory.Options{}},
		{"QueueSize=1", memory.Options{QueueSize: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pubsubtest.Run(t, func(t *testing.T) func() pubsub.Bus {
				b := memory.New(tt.opts)
				t.Cleanup(func() { b.Close() })
				return func() pubsub.Bus { return b } // a cluster of one
			})
		})
	}
}

// probe is a handler that records payloads and can be held in its first call.
type probe struct {
	gate    chan struct{} // if non-nil, the first call waits for it to close
	entered chan struct{} // closed when the first call starts
	once    sync.Once

	mu   sync.Mutex
	msgs []string
	got  chan struct{}
}

func newProbe(held bool) *probe {
	p := &probe{entered: make(chan struct{}), got: make(chan struct{}, 1)}
	if held {
		p.gate = make(chan struct{})
	}
	return p
}

func (p *probe) handle(payload []byte) {
	first := false
	p.once.Do(func() { first = true; close(p.entered) })
	if first && p.gate != nil {
		<-p.gate
	}
	p.mu.Lock()
	p.msgs = append(p.msgs, string(payload))
	p.mu.Unlock()
	select {
	case p.got <- struct{}{}:
	default:
	}
}

func (p *probe) release() {
	if p.gate != nil {
		select {
		case <-p.gate:
		default:
			close(p.gate)
		}
	}
}

func (p *probe) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

// waitEntered waits until the first call has started.
func (p *probe) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-p.entered:
	case <-time.After(wait):
		t.Fatal("handler not called")
	}
}

// waitCount waits until n messages were handled and returns them.
func (p *probe) waitCount(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(wait)
	for {
		if got := p.received(); len(got) >= n {
			return got
		}
		select {
		case <-p.got:
		case <-deadline:
			t.Fatalf("got %d messages %q, want %d", len(p.received()), p.received(), n)
		}
	}
}

func subscribe(t *testing.T, b *memory.Bus, channel string, h pubsub.Handler) pubsub.Subscription {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), h, channel)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return sub
}

func publish(t *testing.T, b *memory.Bus, channel, payload string) {
	t.Helper()
	if err := b.Publish(context.Background(), channel, []byte(payload)); err != nil {
		t.Fatalf("Publish(%q): %v", payload, err)
	}
}

// returns runs f on its own goroutine and returns a channel that yields its
// result.
func returns(f func() error) <-chan error {
	c := make(chan error, 1)
	go func() { c <- f() }()
	return c
}

func waitErr(t *testing.T, what string, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(wait):
		t.Fatalf("%s did not return within %v", what, wait)
		return nil
	}
}

// A full queue makes Publish wait (until ctx ends, or until there is room)
// and loses nothing; QueueSize zero means 4096.
func TestBackPressure(t *testing.T) {
	tests := []struct {
		name      string
		queueSize int
		room      int
	}{
		{"zero_means_4096", 0, 4096},
		{"negative_means_4096", -1, 4096},
		{"one", 1, 1},
		{"ten", 10, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := memory.New(memory.Options{QueueSize: tt.queueSize})
			defer b.Close()
			p := newProbe(true)
			defer p.release()
			subscribe(t, b, "ch", p.handle)

			publish(t, b, "ch", "held")
			p.waitEntered(t) // "held" has left the queue
			var want []string
			for i := range tt.room {
				m := fmt.Sprint(i)
				publish(t, b, "ch", m)
				want = append(want, m)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			if err := b.Publish(ctx, "ch", []byte("refused")); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Publish on a full queue returned %v, want context.DeadlineExceeded", err)
			}

			blocked := returns(func() error { return b.Publish(context.Background(), "ch", []byte("waited")) })
			p.release()
			if err := waitErr(t, "Publish waiting for room", blocked); err != nil {
				t.Fatalf("Publish waiting for room: %v", err)
			}
			want = append([]string{"held"}, append(want, "waited")...)
			got := p.waitCount(t, len(want))
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("received %d messages, want %d in order (first %q)", len(got), len(want), got[:min(5, len(got))])
			}
		})
	}
}

// A Publish waiting for room returns when the full subscription goes away.
func TestBlockedPublishEndsWhenSubscriptionStops(t *testing.T) {
	tests := []struct {
		name string
		stop func(b *memory.Bus, sub pubsub.Subscription) error
	}{
		{"Unsubscribe", func(_ *memory.Bus, sub pubsub.Subscription) error {
			return sub.Unsubscribe(context.Background())
		}},
		{"Close", func(b *memory.Bus, _ pubsub.Subscription) error { return b.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := memory.New(memory.Options{QueueSize: 1})
			defer b.Close()
			p := newProbe(true)
			defer p.release()
			sub := subscribe(t, b, "ch", p.handle)
			publish(t, b, "ch", "held")
			p.waitEntered(t)
			publish(t, b, "ch", "queued")

			blocked := returns(func() error { return b.Publish(context.Background(), "ch", []byte("blocked")) })
			stopped := returns(func() error { return tt.stop(b, sub) })
			// Publish may also have started after Close: then it says so.
			if err := waitErr(t, "blocked Publish", blocked); err != nil && !errors.Is(err, pubsub.ErrClosed) {
				t.Errorf("blocked Publish: %v", err)
			}
			select {
			case err := <-stopped:
				t.Fatalf("%s returned (%v) while the handler was still running", tt.name, err)
			default:
			}
			p.release()
			if err := waitErr(t, tt.name, stopped); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			if got := p.received(); len(got) != 1 {
				t.Errorf("handler received %q, want only the held message", got)
			}
		})
	}
}

// Unsubscribe waits for a running handler, or until ctx ends; either way the
// handler is not called again.
func TestUnsubscribeWaitsForHandler(t *testing.T) {
	b := memory.New(memory.Options{})
	defer b.Close()
	var returned atomic.Bool
	p := newProbe(true)
	defer p.release()
	sub := subscribe(t, b, "ch", func(payload []byte) {
		p.handle(payload)
		returned.Store(true)
	})
	publish(t, b, "ch", "held")
	p.waitEntered(t)
	publish(t, b, "ch", "queued")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := sub.Unsubscribe(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Unsubscribe while the handler runs returned %v, want context.DeadlineExceeded", err)
	}
	p.release()
	if err := sub.Unsubscribe(context.Background()); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	if !returned.Load() {
		t.Error("Unsubscribe returned while the handler was running")
	}
	publish(t, b, "ch", "after")
	if got := p.received(); len(got) != 1 {
		t.Errorf("handler received %q, want only the held message", got)
	}
}

// A handler may unsubscribe itself, or close its bus, without deadlock.
func TestStopFromHandler(t *testing.T) {
	tests := []struct {
		name string
		stop func(b *memory.Bus, sub pubsub.Subscription) error
	}{
		{"Unsubscribe", func(_ *memory.Bus, sub pubsub.Subscription) error {
			return sub.Unsubscribe(context.Background())
		}},
		{"Close", func(b *memory.Bus, _ pubsub.Subscription) error { return b.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := memory.New(memory.Options{})
			defer b.Close()
			subs := make(chan pubsub.Subscription, 1)
			stopped := make(chan error, 1)
			var calls atomic.Int32
			sub := subscribe(t, b, "ch", func([]byte) {
				if calls.Add(1) == 1 {
					stopped <- tt.stop(b, <-subs)
				}
			})
			subs <- sub
			// Another subscription, so that Close has another goroutine to stop.
			other := newProbe(false)
			subscribe(t, b, "other", other.handle)
			publish(t, b, "other", "x")
			other.waitCount(t, 1)

			for range 3 {
				if err := b.Publish(context.Background(), "ch", []byte("m")); err != nil && !errors.Is(err, pubsub.ErrClosed) {
					t.Fatal(err)
				}
			}
			if err := waitErr(t, tt.name+" from the handler", stopped); err != nil {
				t.Errorf("%s from the handler: %v", tt.name, err)
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

// Close stops every subscription goroutine and waits for it; it is
// idempotent.
func TestCloseStopsGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	b := memory.New(memory.Options{})
	probes := make([]*probe, 50)
	for i := range probes {
		probes[i] = newProbe(false)
		subscribe(t, b, fmt.Sprint("ch", i%5), probes[i].handle)
	}
	for i := range 5 {
		for j := range 20 {
			publish(t, b, fmt.Sprint("ch", i), fmt.Sprint(j))
		}
	}
	for _, p := range probes {
		p.waitCount(t, 20)
	}
	// Some subscriptions are already gone, one mid-way.
	gone := subscribe(t, b, "gone", newProbe(false).handle)
	if err := gone.Unsubscribe(context.Background()); err != nil {
		t.Fatal(err)
	}

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
}

func TestErrors(t *testing.T) {
	closed := memory.New(memory.Options{})
	closed.Close()
	open := memory.New(memory.Options{})
	defer open.Close()
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
			if !strings.HasPrefix(err.Error(), "memory: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
		})
	}
}

// Every Bus is its own medium.
func TestBusesAreIsolated(t *testing.T) {
	a, b := memory.New(memory.Options{}), memory.New(memory.Options{})
	defer a.Close()
	defer b.Close()
	p := newProbe(false)
	subscribe(t, a, "ch", p.handle)
	publish(t, b, "ch", "from b")
	publish(t, a, "ch", "from a")
	if got := p.waitCount(t, 1); len(got) != 1 || got[0] != "from a" {
		t.Errorf("received %q, want only %q", got, "from a")
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{1, 100} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			bus := memory.New(memory.Options{})
			defer bus.Close()
			var wg sync.WaitGroup
			for range subs {
				var n atomic.Int64
				want := int64(b.N)
				wg.Add(1)
				if _, err := bus.Subscribe(context.Background(), func([]byte) {
					if n.Add(1) == want {
						wg.Done()
					}
				}, "ch"); err != nil {
					b.Fatal(err)
				}
			}
			payload := []byte(`a["hello, world"]`)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := bus.Publish(ctx, "ch", payload); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait() // count delivery, not only enqueueing
		})
	}
}

// Messages queued while the handler runs are handled before idle is
// called: one idle call per run, however long.
func TestIdleAfterQueueDrains(t *testing.T) {
	b := memory.New(memory.Options{})
	defer b.Close()
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var events []string
	idled := make(chan struct{}, 1)
	h := func(p []byte) {
		if string(p) == "m0" {
			close(entered)
			<-release
		}
		mu.Lock()
		events = append(events, string(p))
		mu.Unlock()
	}
	idle := func() {
		mu.Lock()
		events = append(events, "idle")
		mu.Unlock()
		select {
		case idled <- struct{}{}:
		default:
		}
	}
	sub, err := b.SubscribeIdle(ctx, h, idle, "c")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe(ctx)
	if err := b.Publish(ctx, "c", []byte("m0")); err != nil {
		t.Fatal(err)
	}
	<-entered
	for i := 1; i <= 5; i++ {
		if err := b.Publish(ctx, "c", []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	select {
	case <-idled:
	case <-time.After(wait):
		t.Fatal("idle not called")
	}
	mu.Lock()
	got := strings.Join(events, " ")
	mu.Unlock()
	if want := "m0 m1 m2 m3 m4 m5 idle"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}
