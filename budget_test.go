package sockjs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// TestNodeBufferBudget: what two websocket sessions queue together is bound
// by Config.MaxBufferedBytes although each stays under its own
// MaxQueueBytes; the one holding the most is closed first, with a reason
// that says why, and the other carries on.
func TestNodeBufferBudget(t *testing.T) {
	const budget = 256 << 10
	chunk := strings.Repeat("x", 8<<10)
	type result struct {
		sent int
		err  error
	}
	bigQueued := make(chan struct{})
	bigGo := make(chan struct{})
	results := make(chan result, 2)
	h := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
		// Nothing is written while OnMessage runs: the sends queue up.
		n := 10 // the small consumer: 80 KiB
		if m == "big" {
			n = 24 // 192 KiB
		}
		sent := 0
		var err error
		for ; sent < n; sent++ {
			if err = s.Send(s.Context(), chunk); err != nil {
				break
			}
		}
		if m == "big" {
			close(bigQueued)
			<-bigGo
			// Closed meanwhile: what it sends now is refused.
			if e := s.Send(s.Context(), "more"); err == nil {
				err = e
			}
		}
		results <- result{sent, err}
	}}
	tn := startNode(t, sockjs.Config{MaxBufferedBytes: budget}, h, sockjs.Options{})
	big, small := tn.dial(newID()), tn.dial(newID())
	if err := big.WriteMessage(websocket.TextMessage, []byte(`["big"]`)); err != nil {
		t.Fatal(err)
	}
	<-bigQueued
	if got := sockjs.BufferedBytes(tn.node); got < int64(24*len(chunk)) || got > budget {
		t.Fatalf("the node counts %d bytes with 192 KiB queued", got)
	}
	// The small session's 80 KiB take the node past its budget: the big
	// one, not the small one, is closed.
	if err := small.WriteMessage(websocket.TextMessage, []byte(`["small"]`)); err != nil {
		t.Fatal(err)
	}
	r := <-results
	if r.sent != 10 || r.err != nil {
		t.Fatalf("the small consumer sent %d of 10: %v", r.sent, r.err)
	}
	close(bigGo)
	if r := <-results; r.sent != 24 || !errors.Is(r.err, sockjs.ErrSessionClosed) {
		t.Fatalf("the big consumer, after the shed: sent %d, then %v; want ErrSessionClosed", r.sent, r.err)
	}
	got := 0
	for got < 10*len(chunk) {
		msgs, ok := frameMessages(readWS(t, small))
		if !ok {
			t.Fatalf("the small consumer got a frame that is not messages after %d bytes", got)
		}
		for _, m := range msgs {
			got += len(m)
		}
	}
	// The big one gets no message, only the close frame saying why.
	if f := readWS(t, big); f != `c[1008,"`+sockjs.ReasonNodeBudget+`"]` {
		t.Fatalf("big consumer's frame: %q", f)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sockjs.BufferedBytes(tn.node) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the node still counts %d bytes after the writes", sockjs.BufferedBytes(tn.node))
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = big.Close()
	_ = small.Close()
}

// TestAmplifiedAnswersBounded replays two rows of the hostile-client
// table at the scale of a test, reading the store's own counters: answers
// to a session that has no receiver (before the bounds, 3 such sessions
// grew a node by 965 MiB) stay within the store's per-session bound, and a
// websocket broadcasting 64 KiB messages (1251 MiB before) keeps the
// route's log within MaxBroadcastBytes.
func TestAmplifiedAnswersBounded(t *testing.T) {
	st := storemem.New(storemem.Options{MaxQueueBytes: 256 << 10, MaxBroadcastBytes: 512 << 10})
	answer := strings.Repeat("a", 32<<10)
	big := strings.Repeat("b", 64<<10)
	var mgr *sockjs.Manager
	h := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
		if m == "broadcast" {
			_ = mgr.Broadcast(s.Context(), big)
			return
		}
		_ = s.Send(s.Context(), answer)
	}}
	tn := startNode(t, sockjs.Config{Store: st}, h, sockjs.Options{})
	mgr = tn.node.Manager("r")
	var ids []string
	for i := 0; i < 3; i++ {
		id := newID()
		if f := tn.poll(id); f != "o\n" {
			t.Fatalf("open: %q", f)
		}
		ids = append(ids, id)
	}
	body := "[" + strings.TrimSuffix(strings.Repeat(`"x",`, 64), ",") + "]"
	for round := 0; round < 10; round++ { // 3 × 10 × 64 × 32 KiB = 60 MiB asked for
		for _, id := range ids {
			post(t, tn.url+"/000/"+id+"/xhr_send", body)
		}
		if u := st.Usage(); u.QueuedBytes > 3*(256<<10+8*storemem.QueueEntryOverhead) {
			t.Fatalf("round %d: the store holds %d bytes for 3 sessions bound to 256 KiB each", round, u.QueuedBytes)
		}
	}
	c := tn.dial(newID())
	for i := 0; i < 40; i++ { // 2.5 MiB of broadcasts
		if err := c.WriteMessage(websocket.TextMessage, []byte(`["broadcast"]`)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for got := 0; got < 40; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 40 broadcasts came back", got)
		}
		msgs, _ := frameMessages(readWS(t, c))
		got += len(msgs)
	}
	if u := st.Usage(); u.BroadcastBytes > 512<<10 {
		t.Fatalf("the broadcast log holds %d bytes, bound 512 KiB", u.BroadcastBytes)
	}
}
