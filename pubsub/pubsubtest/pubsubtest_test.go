package pubsubtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/pubsub/memory"
	"github.com/sockjs-cluster/sockjs/pubsub/pubsubtest"
)

// The suite is tested against the memory bus broken in one way at a time
// (a mutant): each must fail the subtest written to catch it. Mutants run in
// a child process, since their failures are the expected outcome.

const mutantEnv = "PUBSUBTEST_MUTANT"

// mutants maps each mutation to the subtest that must catch it.
var mutants = []struct {
	mode, catchers string
}{
	{"separate_nodes", "DeliversToEverySubscription"},
	{"lazy_subscribe", "ActiveWhenSubscribeReturns"},
	{"leaks_across_channels", "OtherChannelsUntouched"},
	{"drops_messages", "OrderPerPublisher"},
	{"per_channel_streams", "OrderAcrossChannels"},
	{"extra_channel", "ListedChannelsOnly"},
	{"no_dedup", "DuplicateChannels"},
	{"duplicates_messages", "OrderPerPublisher"},
	{"reorders_messages", "OrderPerPublisher"},
	{"concurrent_handler", "HandlerNotConcurrent"},
	{"max_16_subscriptions", "ManySubscriptions"},
	{"truncates_payload", "PayloadIntact"},
	{"retains_payload", "PublishCopiesPayload"},
	{"late_unsubscribe", "UnsubscribeStopsDelivery"},
	{"unsubscribe_not_idempotent", "UnsubscribeIdempotent"},
	{"unsubscribe_all_on_node", "UnsubscribeLeavesOthers"},
	{"shared_handler_lock", "SlowHandlerDoesNotBlockOthers"},
	{"ignores_ctx", "CanceledContext"},
	{"no_closed_error", "ClosedBus"},
}

// TestUnmutated checks that the wrapper itself, unmutated, passes.
func TestUnmutated(t *testing.T) {
	pubsubtest.Run(t, mutantCluster(""))
}

// TestLatency checks that the suite assumes no speed: a bus with round trips
// like a remote one's passes.
func TestLatency(t *testing.T) {
	pubsubtest.Run(t, mutantCluster("latency"))
}

func TestSuiteCatchesMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("in a mutant child process")
	}
	if testing.Short() {
		t.Skip("runs the suite in child processes; skipped in -short mode")
	}
	// Most children just wait out the suite's timeout: run them all at once
	// rather than GOMAXPROCS at a time.
	type result struct {
		out []byte
		err error
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results := make([]chan result, len(mutants))
	for i, m := range mutants {
		results[i] = make(chan result, 1)
		go func() {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMutant$/^contract$/^"+m.catchers+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), mutantEnv+"="+m.mode)
			out, err := cmd.CombinedOutput()
			results[i] <- result{out, err}
		}()
	}
	for i, m := range mutants {
		r := <-results[i]
		t.Run(m.mode, func(t *testing.T) {
			if r.err == nil {
				t.Fatalf("subtest %s passed against mutant %s; output:\n%s", m.catchers, m.mode, r.out)
			}
			if want := "--- FAIL: TestMutant/contract/" + m.catchers; !bytes.Contains(r.out, []byte(want)) {
				t.Fatalf("mutant %s: output lacks %q:\n%s", m.mode, want, r.out)
			}
		})
	}
}

// TestMutant runs the suite against the mutant named by $PUBSUBTEST_MUTANT.
func TestMutant(t *testing.T) {
	mode := os.Getenv(mutantEnv)
	if mode == "" {
		t.Skip("only run as a child of TestSuiteCatchesMutants")
	}
	pubsubtest.Run(t, mutantCluster(mode))
}

func mutantCluster(mode string) func(t *testing.T) func() pubsub.Bus {
	return func(t *testing.T) func() pubsub.Bus {
		shared := memory.New(memory.Options{})
		t.Cleanup(func() { shared.Close() })
		return func() pubsub.Bus {
			bus := shared
			if mode == "separate_nodes" {
				bus = memory.New(memory.Options{})
				t.Cleanup(func() { bus.Close() })
			}
			return &node{Bus: bus, mode: mode, retained: make(map[string][]byte), subs: make(map[string][]pubsub.Subscription)}
		}
	}
}

// node is a memory bus with one mutation (or with latency, which is none).
type node struct {
	*memory.Bus
	mode      string
	published atomic.Int64
	handlerMu sync.Mutex // shared_handler_lock

	mu       sync.Mutex
	held     []byte // reorders_messages
	heldCh   string
	retained map[string][]byte                // retains_payload
	subs     map[string][]pubsub.Subscription // unsubscribe_all_on_node, max_16_subscriptions
}

func (n *node) Publish(ctx context.Context, channel string, payload []byte) error {
	k := n.published.Add(1)
	switch n.mode {
	case "latency":
		time.Sleep(100 * time.Microsecond)
	case "ignores_ctx":
		ctx = context.Background()
	case "no_closed_error":
		if err := n.Bus.Publish(ctx, channel, payload); !errors.Is(err, pubsub.ErrClosed) {
			return err
		}
		return nil
	case "drops_messages":
		if k%97 == 50 {
			return nil
		}
	case "duplicates_messages":
		if k%97 == 50 {
			_ = n.Bus.Publish(ctx, channel, payload)
		}
	case "reorders_messages":
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.held != nil {
			err := n.Bus.Publish(ctx, channel, payload)
			_ = n.Bus.Publish(ctx, n.heldCh, n.held)
			n.held = nil
			return err
		}
		if k%97 == 50 {
			n.held, n.heldCh = bytes.Clone(payload), channel
			return nil
		}
	case "leaks_across_channels":
		if channel != "" {
			_ = n.Bus.Publish(ctx, channel[:len(channel)-1], payload)
		}
	case "truncates_payload":
		payload = payload[:min(len(payload), 64<<10)]
	case "retains_payload":
		n.mu.Lock()
		n.retained[string(payload)] = payload
		n.mu.Unlock()
	}
	return n.Bus.Publish(ctx, channel, payload)
}

func (n *node) Subscribe(ctx context.Context, h pubsub.Handler, channels ...string) (pubsub.Subscription, error) {
	inner := h
	key := strings.Join(channels, "\x00")
	switch n.mode {
	case "latency":
		time.Sleep(time.Millisecond)
		h = func(p []byte) {
			time.Sleep(50 * time.Microsecond)
			inner(p)
		}
	case "ignores_ctx":
		ctx = context.Background()
	case "concurrent_handler":
		h = func(p []byte) { go inner(p) }
	case "shared_handler_lock":
		h = func(p []byte) {
			n.handlerMu.Lock()
			defer n.handlerMu.Unlock()
			inner(p)
		}
	case "retains_payload":
		h = func(p []byte) {
			n.mu.Lock()
			if q, ok := n.retained[string(p)]; ok {
				p = q
			}
			n.mu.Unlock()
			inner(p)
		}
	case "lazy_subscribe":
		s := &lazySub{ready: make(chan struct{})}
		go func() {
			time.Sleep(200 * time.Millisecond)
			s.sub, s.err = n.Bus.Subscribe(context.Background(), h, channels...)
			close(s.ready)
		}()
		return s, nil
	case "max_16_subscriptions":
		n.mu.Lock()
		defer n.mu.Unlock()
		if len(n.subs[key]) >= 16 {
			return nopSub{}, nil
		}
		n.subs[key] = append(n.subs[key], nopSub{})
	case "per_channel_streams":
		// One stream per channel, each handler call still serialised. The
		// first channel's stream holds its first message until another
		// channel's has delivered one (or for a second): order across
		// channels is lost.
		var subs multiSub
		other := make(chan struct{})
		var otherOnce, firstOnce sync.Once
		for i, ch := range channels {
			sub, err := n.Bus.Subscribe(ctx, func(p []byte) {
				if i == 0 {
					firstOnce.Do(func() {
						select {
						case <-other:
						case <-time.After(time.Second):
						}
					})
				}
				n.handlerMu.Lock()
				defer n.handlerMu.Unlock()
				inner(p)
				if i > 0 {
					otherOnce.Do(func() { close(other) })
				}
			}, ch)
			if err != nil {
				return nil, err
			}
			subs = append(subs, sub)
		}
		return subs, nil
	case "extra_channel":
		// Also subscribes the successor of the last channel listed, when
		// there are several.
		if len(channels) > 1 {
			last := channels[len(channels)-1]
			if last != "" {
				channels = append(slices.Clip(channels), last[:len(last)-1]+string(last[len(last)-1]+1))
			}
		}
	case "no_dedup":
		// One stream per distinct channel, calling the handler once per
		// time the channel is listed.
		count := make(map[string]int)
		for _, ch := range channels {
			count[ch]++
		}
		var subs multiSub
		for ch, k := range count {
			sub, err := n.Bus.Subscribe(ctx, func(p []byte) {
				n.handlerMu.Lock()
				defer n.handlerMu.Unlock()
				for range k {
					inner(p)
				}
			}, ch)
			if err != nil {
				return nil, err
			}
			subs = append(subs, sub)
		}
		return subs, nil
	}
	sub, err := n.Bus.Subscribe(ctx, h, channels...)
	if err != nil {
		return nil, err
	}
	switch n.mode {
	case "late_unsubscribe":
		return lateSub{sub}, nil
	case "unsubscribe_not_idempotent":
		return &onceSub{Subscription: sub}, nil
	case "unsubscribe_all_on_node":
		n.mu.Lock()
		defer n.mu.Unlock()
		n.subs[key] = append(n.subs[key], sub)
		return allSub{n, key}, nil
	}
	return sub, nil
}

// multiSub is several subscriptions unsubscribed together.
type multiSub []pubsub.Subscription

func (s multiSub) Unsubscribe(ctx context.Context) error {
	var errs []error
	for _, sub := range s {
		errs = append(errs, sub.Unsubscribe(ctx))
	}
	return errors.Join(errs...)
}

type nopSub struct{}

func (nopSub) Unsubscribe(context.Context) error { return nil }

type lazySub struct {
	ready chan struct{}
	sub   pubsub.Subscription
	err   error
}

func (s *lazySub) Unsubscribe(ctx context.Context) error {
	<-s.ready
	if s.err != nil {
		return nil
	}
	return s.sub.Unsubscribe(ctx)
}

type lateSub struct{ pubsub.Subscription }

func (s lateSub) Unsubscribe(context.Context) error {
	go func() {
		time.Sleep(500 * time.Millisecond)
		_ = s.Subscription.Unsubscribe(context.Background())
	}()
	return nil
}

type onceSub struct {
	pubsub.Subscription
	done atomic.Bool
}

func (s *onceSub) Unsubscribe(ctx context.Context) error {
	if s.done.Swap(true) {
		return fmt.Errorf("mutant: already unsubscribed")
	}
	return s.Subscription.Unsubscribe(ctx)
}

type allSub struct {
	n   *node
	key string // the channels, as in node.subs
}

func (s allSub) Unsubscribe(ctx context.Context) error {
	s.n.mu.Lock()
	subs := s.n.subs[s.key]
	s.n.mu.Unlock()
	var errs []string
	for _, sub := range subs {
		if err := sub.Unsubscribe(ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if errs != nil {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
