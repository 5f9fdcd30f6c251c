package sockjs_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs"
	busmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// frames splits a polling body or a stream line into its messages; ok is
// false for frames that carry none (h, o, c[...]).
func frameMessages(f string) (msgs []string, ok bool) {
	f = strings.TrimSuffix(f, "\n")
	if !strings.HasPrefix(f, "a[") {
		return nil, false
	}
	for _, m := range strings.Split(strings.Trim(f[1:], "[]"), ",") {
		msgs = append(msgs, strings.Trim(m, `"`))
	}
	return msgs, true
}

// TestFrozenNodeNeverDeliversTwice freezes a node that holds a polling and
// a streaming session (its lease renewals, its bus and its receivers stop,
// as in a stopped process), sends messages to both meanwhile, lets the
// node's lease lapse, has the clients carry on through another node, then
// resumes the frozen node. Its stale poll must answer without messages and
// its stale stream must end with c[1002] without messages; every message
// must have reached each client exactly once and in send order; and the
// resumed node serves the sessions again in a new epoch.
func TestFrozenNodeNeverDeliversTwice(t *testing.T) {
	const lease = 300 * time.Millisecond
	st := storemem.New(storemem.Options{})
	bus := busmem.New(busmem.Options{})
	opts := sockjs.Options{ReceiverLease: lease, DisconnectDelay: 30 * time.Second, HeartbeatDelay: time.Minute}
	a := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "a"}, newRecorder().handler(nil), opts)
	b := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "b"}, newRecorder().handler(nil), opts)
	frozen := freezable(a)
	ctx := context.Background()
	send := func(id, m string) {
		t.Helper()
		sess, err := b.node.Manager("r").Session(ctx, id)
		if err != nil {
			t.Fatalf("Session(%s): %v", id, err)
		}
		if err := sess.Send(ctx, m); err != nil {
			t.Fatalf("Send(%s): %v", m, err)
		}
	}
	holder := func(id string) string {
		t.Helper()
		rec, err := st.Get(ctx, "r", id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		return rec.Holder
	}
	waitHeld := func(id, node string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); holder(id) != node; {
			if time.Now().After(deadline) {
				t.Fatalf("session %s not held by %s within 5s (holder %q)", id, node, holder(id))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// The polling session: opened on b, then a long poll waits on a.
	pid := newID()
	if f := b.poll(pid); f != "o\n" {
		t.Fatalf("first poll: %q", f)
	}
	stale := make(chan string, 1)
	go func() {
		resp, err := client.Post(a.url+"/000/"+pid+"/xhr", "text/plain", nil)
		if err != nil {
			stale <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		stale <- fmt.Sprintf("%d %s", resp.StatusCode, sb.String())
	}()
	waitHeld(pid, "a")

	// The streaming session, on a, with a few messages delivered by a.
	sid := newID()
	sa := a.stream(sid)
	if f := sa.line(t); f != "o\n" {
		t.Fatalf("stream open: %q", f)
	}
	var sentP, sentS, gotP, gotS []string
	for i := 1; i <= 3; i++ {
		m := fmt.Sprintf("s%d", i)
		send(sid, m)
		sentS = append(sentS, m)
	}
	gotS = append(gotS, sa.readMessages(t, 3)...)

	// Freeze a; send to both sessions meanwhile; let a's lease lapse.
	frozen.Store(true)
	for i := 1; i <= 10; i++ {
		p, s := fmt.Sprintf("p%d", i), fmt.Sprintf("s%d", i+3)
		send(pid, p)
		send(sid, s)
		sentP, sentS = append(sentP, p), append(sentS, s)
	}
	time.Sleep(3 * lease)

	// The clients carry on through b, which takes the sessions over.
	f := b.poll(pid)
	msgs, ok := frameMessages(f)
	if !ok {
		t.Fatalf("poll on b after the lapse: %q, want the pending messages", f)
	}
	gotP = append(gotP, msgs...)
	sb := b.stream(sid)
	gotS = append(gotS, sb.readMessages(t, 10)...)
	for i := 11; i <= 15; i++ {
		p, s := fmt.Sprintf("p%d", i), fmt.Sprintf("s%d", i+3)
		send(pid, p)
		send(sid, s)
		sentP, sentS = append(sentP, p), append(sentS, s)
	}
	for len(gotP) < len(sentP) {
		msgs, ok := frameMessages(b.poll(pid))
		if !ok {
			t.Fatalf("poll on b: no messages, have %q of %q", gotP, sentP)
		}
		gotP = append(gotP, msgs...)
	}
	gotS = append(gotS, sb.readMessages(t, 5)...)

	// a resumes: its bus delivers what was offered to it while frozen, and
	// its receivers' holds are gone.
	frozen.Store(false)
	select {
	case r := <-stale:
		if r != "200 h\n" {
			t.Fatalf("a's stale poll answered %q, want 200 h (no messages)", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a's stale poll did not answer within 5s of resuming")
	}
	for {
		f := sa.line(t)
		if f == "h\n" {
			continue
		}
		if f != `c[1002,"Connection interrupted"]`+"\n" {
			t.Fatalf("a's stale stream wrote %q after resuming, want c[1002] and nothing else", f)
		}
		break
	}
	if rest := sa.line(t); rest != "" {
		t.Fatalf("a's stale stream went on after its close frame: %q", rest)
	}

	if !slices.Equal(gotP, sentP) {
		t.Fatalf("polling session received %q, sent %q: want each exactly once, in order", gotP, sentP)
	}
	if !slices.Equal(gotS, sentS) {
		t.Fatalf("streaming session received %q, sent %q: want each exactly once, in order", gotS, sentS)
	}

	// a serves again, in a new epoch: a poll there takes the next message.
	send(pid, "p16")
	waitFor := time.Now().Add(5 * time.Second)
	for {
		code, body := post(t, a.url+"/000/"+pid+"/xhr", "")
		if code == http.StatusOK && body == `a["p16"]`+"\n" {
			break
		}
		if time.Now().After(waitFor) {
			t.Fatalf("poll on the resumed node: %d %q, want p16", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h := holder(pid); h != "" {
		t.Fatalf("holder after a's poll took its message = %q, want none", h)
	}
}
