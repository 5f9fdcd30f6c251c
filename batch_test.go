package sockjs_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/store"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// pushCounter counts Push calls and the messages they carry.
type pushCounter struct {
	store.Store
	pushes, msgs atomic.Int64
	fail         atomic.Bool
}

func (p *pushCounter) Push(ctx context.Context, route, id string, msgs []string) (store.PushResult, error) {
	p.pushes.Add(1)
	p.msgs.Add(int64(len(msgs)))
	if p.fail.Load() {
		return store.PushResult{}, fmt.Errorf("test: %w", store.ErrQueueFull)
	}
	return p.Store.Push(ctx, route, id, msgs)
}

// TestSendBodyIsBatched: an xhr_send body of many messages runs OnMessage
// once per message, in order, and what OnMessage sends to its session
// reaches the store in a few batches, not one call per message; a
// broadcast in between is not overtaken.
func TestSendBodyIsBatched(t *testing.T) {
	st := &pushCounter{Store: storemem.New(storemem.Options{MaxQueue: 1 << 20})}
	var mgr *sockjs.Manager
	var calls atomic.Int64
	h := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
		calls.Add(1)
		_ = s.Send(s.Context(), m)
		if m == "b" {
			_ = mgr.Broadcast(s.Context(), "B")
		}
	}}
	tn := startNode(t, sockjs.Config{Store: st}, h, sockjs.Options{})
	mgr = tn.node.Manager("r")
	id := newID()
	if f := tn.poll(id); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	const n = 20000
	parts := make([]string, 0, n+1)
	var want []string
	for i := range n {
		m := fmt.Sprint(i)
		if i == n/2 {
			parts, want = append(parts, `"b"`), append(want, "b", "B")
		}
		parts, want = append(parts, `"`+m+`"`), append(want, m)
	}
	before := st.pushes.Load()
	tn.send(id, "["+strings.Join(parts, ",")+"]")
	if got := calls.Load(); got != n+1 {
		t.Fatalf("OnMessage ran %d times, want %d", got, n+1)
	}
	if pushes := st.pushes.Load() - before; pushes > 10 {
		t.Fatalf("%d store pushes for %d messages, want a few batches", pushes, n+1)
	}
	var got []string
	for len(got) < len(want) {
		msgs, ok := frameMessages(tn.poll(id))
		if !ok {
			t.Fatalf("poll: no messages after %d of %d", len(got), len(want))
		}
		got = append(got, msgs...)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the session received the messages out of order or not once each")
	}
}

// TestSendFailsWhenItsMessagesCannotBeStored: when the store refuses what
// OnMessage sent, the xhr_send is not answered 204.
func TestSendFailsWhenItsMessagesCannotBeStored(t *testing.T) {
	st := &pushCounter{Store: storemem.New(storemem.Options{})}
	tn := startNode(t, sockjs.Config{Store: st}, newRecorder().handler(echo), sockjs.Options{})
	id := newID()
	tn.poll(id)
	st.fail.Store(true)
	code, body := post(t, tn.url+"/000/"+id+"/xhr_send", `["x"]`)
	if code < http.StatusInternalServerError {
		t.Fatalf("xhr_send whose echo could not be stored: %d %q, want a 5xx", code, body)
	}
}
