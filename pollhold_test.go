package sockjs_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs"
	busmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
	"github.com/sockjs-cluster/sockjs/store"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// callCounter is a store that counts the calls receivers make.
type callCounter struct {
	store.Store
	opens, releases, pulls atomic.Int64
}

func (c *callCounter) Open(ctx context.Context, route, id string, req store.OpenRequest) (store.OpenResult, error) {
	c.opens.Add(1)
	return c.Store.Open(ctx, route, id, req)
}

func (c *callCounter) Release(ctx context.Context, route, id, receiver string, idle time.Duration) error {
	c.releases.Add(1)
	return c.Store.Release(ctx, route, id, receiver, idle)
}

func (c *callCounter) Pull(ctx context.Context, route, id string, req store.PullRequest) (store.PullResult, error) {
	c.pulls.Add(1)
	return c.Store.Pull(ctx, route, id, req)
}

// TestIdlePollCycleIsOneStoreCall: a long poll that ends with its
// heartbeat needs no Release, because its hold was bounded to end just
// before the heartbeat (store.OpenRequest.HoldFor): an idle poll cycle is
// one store call, and the client's next poll, sent at once to another
// node, attaches there instead of being told "another connection still
// open". A poll that ends early (with a message) still gives its hold
// back in the same call that took the message.
func TestIdlePollCycleIsOneStoreCall(t *testing.T) {
	st := &callCounter{Store: storemem.New(storemem.Options{})}
	bus := busmem.New(busmem.Options{})
	opts := sockjs.Options{HeartbeatDelay: 150 * time.Millisecond, DisconnectDelay: 5 * time.Second}
	a := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "a"}, newRecorder().handler(echo), opts)
	b := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "b"}, newRecorder().handler(echo), opts)
	id := newID()
	if f := a.poll(id); f != "o\n" {
		t.Fatalf("first poll: %q", f)
	}
	opens, releases := st.opens.Load(), st.releases.Load()
	nodes := []*testNode{b, a}
	const cycles = 6
	for i := range cycles {
		if f := nodes[i%2].poll(id); f != "h\n" {
			t.Fatalf("idle poll %d on node %s: %q, want a heartbeat (and never c[2010])", i, []string{"b", "a"}[i%2], f)
		}
	}
	if got := st.releases.Load() - releases; got != 0 {
		t.Errorf("%d Release calls for %d idle polls ended by their heartbeat, want none", got, cycles)
	}
	if got := st.opens.Load() - opens; got != cycles {
		t.Errorf("%d Open calls for %d idle polls, want one each", got, cycles)
	}

	// A poll that gets a message: the message's call releases the hold.
	got := make(chan string, 1)
	go func() { got <- b.poll(id) }()
	waitHolder(t, st, id, "b")
	releases, pulls := st.releases.Load(), st.pulls.Load()
	a.send(id, `["ping"]`)
	if f := <-got; f != "a[\"ping\"]\n" {
		t.Fatalf("poll with a message: %q", f)
	}
	if f := a.poll(id); f != "h\n" {
		t.Fatalf("the poll after it, on the other node: %q", f)
	}
	if r, p := st.releases.Load()-releases, st.pulls.Load()-pulls; r != 0 || p != 1 {
		t.Errorf("the echoed poll and the idle one after it took %d Release and %d Pull calls, want 0 and 1 (the message acknowledged and the hold released in one call)", r, p)
	}
}

// waitHolder waits until node holds session id in st.
func waitHolder(t *testing.T, st store.Store, id, node string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		rec, err := st.Get(context.Background(), "r", id)
		if err == nil && rec.Holder == node {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s not held by %s within 5s: %+v, %v", id, node, rec, err)
		}
	}
}

// TestFrozenPollNeverDeliversTwice: a node frozen (its receivers and
// lease renewals blocked) with a long poll waiting loses that poll's
// bounded hold when the hold ends, well before its node lease lapses; the
// client's next poll, on another node, takes the messages sent meanwhile,
// and the frozen poll, once its node resumes, answers a heartbeat without
// them: each message exactly once, in order.
func TestFrozenPollNeverDeliversTwice(t *testing.T) {
	const heartbeat = 400 * time.Millisecond // a poll holds its session for 360 ms
	st := storemem.New(storemem.Options{})
	bus := busmem.New(busmem.Options{})
	opts := sockjs.Options{ReceiverLease: 30 * time.Second, DisconnectDelay: 30 * time.Second, HeartbeatDelay: heartbeat}
	a := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "a"}, newRecorder().handler(nil), opts)
	b := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "b"}, newRecorder().handler(nil), opts)
	frozen := freezable(a)
	ctx := context.Background()
	id := newID()
	if f := b.poll(id); f != "o\n" {
		t.Fatalf("first poll: %q", f)
	}
	stale := make(chan string, 1)
	go func() {
		code, body := post(t, a.url+"/000/"+id+"/xhr", "")
		stale <- fmt.Sprintf("%d %s", code, body)
	}()
	waitHolder(t, st, id, "a")
	frozen.Store(true)
	sess, err := b.node.Manager("r").Session(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var sent, got []string
	for i := 1; i <= 5; i++ {
		m := fmt.Sprintf("m%d", i)
		if err := sess.Send(ctx, m); err != nil {
			t.Fatalf("Send(%s): %v", m, err)
		}
		sent = append(sent, m)
	}
	time.Sleep(heartbeat) // past the hold's end; a's node lease lives on
	msgs, ok := frameMessages(b.poll(id))
	if !ok {
		t.Fatal("the next poll, on b, got no messages: the frozen poll's hold should have ended")
	}
	got = append(got, msgs...)
	frozen.Store(false)
	select {
	case r := <-stale:
		if r != "200 h\n" {
			t.Fatalf("a's stale poll answered %q after resuming, want 200 h (no messages)", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a's stale poll did not answer within 5s of resuming")
	}
	if !slices.Equal(got, sent) {
		t.Fatalf("received %q, sent %q: want each exactly once, in order", got, sent)
	}
	if f := a.poll(id); f != "h\n" {
		t.Fatalf("a poll on the resumed node: %q, want a heartbeat (nothing left, nothing twice)", f)
	}
}
