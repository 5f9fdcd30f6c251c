package sockjs_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/pubsub"
	busmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
	"github.com/sockjs-cluster/sockjs/store"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// pullCounter is a store that counts the Pull calls that take messages
// and those that acknowledge some.
type pullCounter struct {
	store.Store
	pulls, acks atomic.Int64
}

func (p *pullCounter) Pull(ctx context.Context, route, id string, req store.PullRequest) (store.PullResult, error) {
	res, err := p.Store.Pull(ctx, route, id, req)
	if req.Max >= 0 {
		p.pulls.Add(1)
	}
	if req.Ack > 0 {
		p.acks.Add(1)
	}
	return res, err
}

// readMessages reads frames from a stream until it has n messages.
func (s *stream) readMessages(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		f := strings.TrimSuffix(s.line(t), "\n")
		if f == "h" {
			continue
		}
		if !strings.HasPrefix(f, "a[") {
			t.Fatalf("frame %q, want messages", f)
		}
		for _, m := range strings.Split(strings.Trim(f[1:], "[]"), ",") {
			got = append(got, strings.Trim(m, `"`))
		}
	}
	return got
}

// TestStreamTakesPushesFromSender: a streaming receiver writes what its
// session's sends push without pulling each from the store (it only
// acknowledges them, before writing), and the session's next stream (the
// response limit ends each after a few frames) does not see them again.
func TestStreamTakesPushesFromSender(t *testing.T) {
	st := &pullCounter{Store: storemem.New(storemem.Options{})}
	tn := startNode(t, sockjs.Config{Store: st}, newRecorder().handler(echo), sockjs.Options{ResponseLimit: 2000})
	id := newID()
	s := tn.stream(id)
	if f := s.line(t); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	before := st.pulls.Load()
	const n = 300
	streams := 1
	for i := 0; i < n; i++ {
		want := fmt.Sprintf("message %03d", i)
		tn.send(id, `["`+want+`"]`)
		f := s.line(t)
		if f == "" { // the response limit ended the stream: the client opens the next
			s.resp.Body.Close()
			s = tn.stream(id)
			streams++
			f = s.line(t)
		}
		if f != `a["`+want+`"]`+"\n" {
			t.Fatalf("stream %d: frame %q, want %s alone", streams, f, want)
		}
	}
	if streams < 3 {
		t.Fatalf("%d streams, want the limit to end some", streams)
	}
	// Each stream's attach pulls once; the offers are only acknowledged.
	pulls := st.pulls.Load() - before
	if max := int64(streams + n/64 + 1); pulls > max {
		t.Fatalf("%d pulls for %d echoed messages over %d streams, want at most %d", pulls, n, streams, max)
	}
	if st.acks.Load() == 0 {
		t.Fatal("nothing was acknowledged")
	}
}

// TestOffersKeepOrderWithBroadcasts: unicast messages taken from offers
// and broadcasts pulled from the store reach the receiver in send order.
func TestOffersKeepOrderWithBroadcasts(t *testing.T) {
	var mgr *sockjs.Manager
	h := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
		ctx := context.Background()
		_ = s.Send(ctx, m+"-u1")
		_ = s.Send(ctx, m+"-u2")
		_ = mgr.Broadcast(ctx, m+"-b")
		_ = s.Send(ctx, m+"-u3")
		_ = mgr.Broadcast(ctx, m+"-b2") // nothing follows it
	}}
	tn := startNode(t, sockjs.Config{}, h, sockjs.Options{})
	mgr = tn.node.Manager("r")
	id := newID()
	s := tn.stream(id)
	s.line(t)
	for i := 0; i < 30; i++ {
		tn.send(id, fmt.Sprintf(`["%d"]`, i))
		want := []string{fmt.Sprint(i, "-u1"), fmt.Sprint(i, "-u2"), fmt.Sprint(i, "-b"), fmt.Sprint(i, "-u3"), fmt.Sprint(i, "-b2")}
		if got := s.readMessages(t, len(want)); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("round %d: got %q, want %q", i, got, want)
		}
	}
}

// lossyBus drops the first n offers (bus messages whose first byte is
// 'o') it is asked to publish.
type lossyBus struct {
	pubsub.Bus
	mu   sync.Mutex
	drop int
}

func (b *lossyBus) Publish(ctx context.Context, channel string, payload []byte) error {
	b.mu.Lock()
	if len(payload) > 0 && payload[0] == 'o' && b.drop > 0 {
		b.drop--
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.Bus.Publish(ctx, channel, payload)
}

// TestLostOfferIsPulled: an offer lost on the bus leaves a gap that the
// next offer reveals; the receiver then pulls, and nothing is lost or
// reordered. Without a next offer, the stream's heartbeat pulls it.
func TestLostOfferIsPulled(t *testing.T) {
	st := storemem.New(storemem.Options{})
	bus := &lossyBus{Bus: busmem.New(busmem.Options{}), drop: 1}
	opts := sockjs.Options{HeartbeatDelay: 600 * time.Millisecond}
	a := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "a"}, newRecorder().handler(nil), opts)
	b := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "b"}, newRecorder().handler(nil), opts)
	id := newID()
	s := a.stream(id)
	s.line(t)
	send := func(m string) {
		t.Helper()
		ctx := context.Background()
		sess, err := b.node.Manager("r").Session(ctx, id)
		if err != nil {
			t.Fatalf("Session: %v", err)
		}
		if err := sess.Send(ctx, m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	send("1") // its offer is dropped
	send("2")
	if got := s.readMessages(t, 2); strings.Join(got, " ") != "1 2" {
		t.Fatalf("got %q, want 1 2", got)
	}
	bus.mu.Lock()
	bus.drop = 1
	bus.mu.Unlock()
	send("3") // dropped, and nothing follows: the heartbeat finds it
	if got := s.readMessages(t, 1); got[0] != "3" {
		t.Fatalf("got %q, want 3", got)
	}
}

// TestBroadcastsTakenFromSender: a streaming receiver writes broadcasts
// that directly follow what it has without pulling each from the store.
func TestBroadcastsTakenFromSender(t *testing.T) {
	st := &pullCounter{Store: storemem.New(storemem.Options{})}
	tn := startNode(t, sockjs.Config{Store: st}, newRecorder().handler(nil), sockjs.Options{})
	mgr := tn.node.Manager("r")
	s := tn.stream(newID())
	s.line(t)
	before := st.pulls.Load()
	const n = 200
	for i := 0; i < n; i++ {
		if err := mgr.Broadcast(context.Background(), fmt.Sprint(i)); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	got := s.readMessages(t, n)
	for i, m := range got {
		if m != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m)
		}
	}
	if pulls := st.pulls.Load() - before; pulls > n/64+2 {
		t.Fatalf("%d pulls for %d broadcasts, want at most %d", pulls, n, n/64+2)
	}
}

// TestNoBroadcastAfterClose: a broadcast sent right after a session was
// closed never reaches it, though its receiver may learn of both at once.
func TestNoBroadcastAfterClose(t *testing.T) {
	tn := startNode(t, sockjs.Config{}, newRecorder().handler(nil), sockjs.Options{})
	mgr := tn.node.Manager("r")
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		id := newID()
		s := tn.stream(id)
		s.line(t)
		sess, err := mgr.Session(ctx, id)
		if err != nil {
			t.Fatalf("Session: %v", err)
		}
		if err := mgr.Broadcast(ctx, "before"); err != nil {
			t.Fatal(err)
		}
		if err := sess.Close(ctx, 3000, "bye"); err != nil {
			t.Fatal(err)
		}
		if err := mgr.Broadcast(ctx, "after"); err != nil {
			t.Fatal(err)
		}
		var frames []string
		for {
			f := s.line(t)
			if f == "" || strings.HasPrefix(f, "c[") {
				frames = append(frames, f)
				break
			}
			frames = append(frames, f)
		}
		if all := strings.Join(frames, ""); !strings.Contains(all, `"before"`) || strings.Contains(all, "after") || !strings.HasSuffix(all, `c[3000,"bye"]`+"\n") {
			t.Fatalf("round %d: frames %q, want before, then the close, never after", i, frames)
		}
		s.resp.Body.Close()
	}
}
