package sockjs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
	busmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// connGoroutines counts the goroutines running websocket transport or
// session code.
func connGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("sockjs/transports.")) || bytes.Contains(g, []byte("sockjs.(*connSession)")) {
			n++
		}
	}
	return n
}

// waitConnGoroutines waits until connGoroutines returns want.
func waitConnGoroutines(t *testing.T, want int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		got := connGoroutines()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines run websocket code, want %d", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An idle websocket session has one goroutine, its reader. A writer
// goroutine runs while others write to it, and exits once a heartbeat
// delay passed with nothing to write.
func TestWebSocketIdleHasOnlyItsReader(t *testing.T) {
	tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Message: echo}, sockjs.Options{HeartbeatDelay: 50 * time.Millisecond})
	a, b := tn.dial(newID()), tn.dial(newID())
	waitConnGoroutines(t, 2)

	if err := tn.node.Manager("r").Broadcast(context.Background(), "all"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*websocket.Conn{a, b} {
		if f := readFrame(t, c); f != `a["all"]` {
			t.Fatalf("broadcast: %q", f)
		}
	}
	waitConnGoroutines(t, 2) // the writers have exited

	if err := a.WriteMessage(websocket.TextMessage, []byte(`["echo"]`)); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, a); f != `a["echo"]` {
		t.Fatalf("echo: %q", f)
	}
	waitConnGoroutines(t, 2)
}

// readFrame returns the next websocket frame that is not a heartbeat.
func readFrame(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	for {
		if f := readWS(t, c); f != "h" {
			return f
		}
	}
}

// Replies written by the reader after OnMessage and messages queued from
// other goroutines keep each sender's order.
func TestWebSocketOrderAcrossWriters(t *testing.T) {
	const n = 200
	h := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
		ctx := context.Background()
		_ = s.Send(ctx, m+".1")
		_ = s.Send(ctx, m+".2")
	}}
	tn := startNode(t, sockjs.Config{}, h, sockjs.Options{MaxQueue: 4 * n})
	id := newID()
	c := tn.dial(id)
	s, err := tn.node.Manager("r").Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := range n {
			_ = s.Send(context.Background(), fmt.Sprintf("x%d", i))
		}
	}()
	for i := range n {
		if err := c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`["m%d"]`, i))); err != nil {
			t.Fatal(err)
		}
	}

	var got []string
	for len(got) < 3*n {
		f := readWS(t, c)
		if !strings.HasPrefix(f, "a") {
			t.Fatalf("frame %q", f)
		}
		var msgs []string
		if err := json.Unmarshal([]byte(f[1:]), &msgs); err != nil {
			t.Fatalf("frame %q: %v", f, err)
		}
		got = append(got, msgs...)
	}
	var replies, others []string
	for _, m := range got {
		if strings.HasPrefix(m, "x") {
			others = append(others, m)
		} else {
			replies = append(replies, m)
		}
	}
	for i := range n {
		if others[i] != fmt.Sprintf("x%d", i) {
			t.Fatalf("message %d from another goroutine is %q (order lost)", i, others[i])
		}
		for j := 1; j <= 2; j++ {
			if want := fmt.Sprintf("m%d.%d", i, j); replies[2*i+j-1] != want {
				t.Fatalf("reply %d is %q, want %q", 2*i+j-1, replies[2*i+j-1], want)
			}
		}
	}
}

// Broadcasts and sends from another node reach a websocket session over
// the bus, in order, without waiting for a heartbeat.
func TestWebSocketFromOtherNode(t *testing.T) {
	st, bus := storemem.New(storemem.Options{}), busmem.New(busmem.Options{})
	t.Cleanup(func() { bus.Close() })
	cfg := sockjs.Config{Store: st, Bus: bus}
	a := startNode(t, cfg, sockjs.HandlerFuncs{}, sockjs.Options{})
	b := startNode(t, cfg, sockjs.HandlerFuncs{}, sockjs.Options{})
	id := newID()
	c := b.dial(id)
	ctx := context.Background()
	s, err := a.node.Manager("r").Session(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 20 {
		m := fmt.Sprintf("m%d", i)
		if i%2 == 0 {
			err = a.node.Manager("r").Broadcast(ctx, m)
		} else {
			err = s.Send(ctx, m)
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	var got []string
	for len(got) < len(want) {
		f := readFrame(t, c)
		var msgs []string
		if !strings.HasPrefix(f, "a") || json.Unmarshal([]byte(f[1:]), &msgs) != nil {
			t.Fatalf("frame %q", f)
		}
		got = append(got, msgs...)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %q, want %q", got, want)
	}
}
