package sockjs_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs"
	busmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
	"github.com/sockjs-cluster/sockjs/store"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// getCounter is a store that counts its Get calls.
type getCounter struct {
	store.Store
	gets atomic.Int64
}

func (g *getCounter) Get(ctx context.Context, route, id string) (store.Session, error) {
	g.gets.Add(1)
	return g.Store.Get(ctx, route, id)
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.messages)
}

// TestSendSkipsStoreReadOfKnownSession: a node that has just served a
// session's poll hands that session's sends to OnMessage without reading
// the store again; a node that has not reads it once.
func TestSendSkipsStoreReadOfKnownSession(t *testing.T) {
	st := &getCounter{Store: storemem.New(storemem.Options{})}
	bus := busmem.New(busmem.Options{})
	rec := newRecorder()
	a := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "a"}, rec.handler(nil), sockjs.Options{})
	b := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "b"}, rec.handler(nil), sockjs.Options{})
	id := newID()
	if f := a.poll(id); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	a.send(id, `["1"]`)
	a.send(id, `["2","3"]`)
	if n := st.gets.Load(); n != 0 {
		t.Fatalf("%d store reads for sends to the node that opened the session, want 0", n)
	}
	b.send(id, `["4"]`)
	b.send(id, `["5"]`)
	if n := st.gets.Load(); n != 1 {
		t.Fatalf("%d store reads for two sends to another node, want 1", n)
	}
	if got := rec.got(); !slices.Equal(got, []string{"1", "2", "3", "4", "5"}) {
		t.Fatalf("OnMessage got %q", got)
	}
	// Unknown sessions are still looked up, and refused.
	if code, _ := post(t, b.url+"/000/"+newID()+"/xhr_send", `["x"]`); code != http.StatusNotFound {
		t.Fatalf("send to an unknown session: %d, want 404", code)
	}
}

// TestSendAfterCloseOnAnotherNode: a close on one node is announced to the
// others, which then drop the session's sends as the protocol wants, long
// before their memory of the session would have lapsed on its own.
func TestSendAfterCloseOnAnotherNode(t *testing.T) {
	defer func(d time.Duration) { *sockjs.KnownFor = d }(*sockjs.KnownFor)
	*sockjs.KnownFor = time.Hour // only the announcement can make b forget

	st := &getCounter{Store: storemem.New(storemem.Options{})}
	bus := busmem.New(busmem.Options{})
	rec := newRecorder()
	h := rec.handler(func(s *sockjs.Session, m string) {
		if m == "bye" {
			_ = s.Close(context.Background(), 3000, "bye")
		}
	})
	a := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "a"}, h, sockjs.Options{})
	b := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "b"}, h, sockjs.Options{})
	id := newID()
	a.poll(id)
	b.send(id, `["before"]`) // b now knows the session
	a.send(id, `["bye"]`)
	rec.waitClosed(t, id)

	before := st.gets.Load()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; st.gets.Load() == before; i++ {
		if time.Now().After(deadline) {
			t.Fatal("b still trusts the closed session 5s after the close")
		}
		if i > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		b.send(id, `["late"]`)
	}
	// b read the store for that send, found the session closed, and
	// dropped it; and it keeps doing so.
	n := strings.Count(strings.Join(rec.got(), ","), "late")
	b.send(id, `["late"]`)
	if got := strings.Count(strings.Join(rec.got(), ","), "late"); got != n {
		t.Fatalf("a send after b learnt of the close reached OnMessage")
	}
	if f := a.poll(id); f != `c[3000,"bye"]`+"\n" {
		t.Fatalf("poll after close: %q", f)
	}
}

// TestKnownSessionKeepsItsOwner: a node that knows a session for one
// identity still refuses another's sends with 404.
func TestKnownSessionKeepsItsOwner(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(nil), sockjs.Options{
		SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") },
	})
	id := newID()
	do := func(user, transport, body string) int {
		req, _ := http.NewRequest(http.MethodPost, tn.url+"/000/"+id+"/"+transport, strings.NewReader(body))
		req.Header.Set("X-User", user)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", transport, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("alice", "xhr", ""); code != http.StatusOK {
		t.Fatalf("alice's poll: %d", code)
	}
	if code := do("alice", "xhr_send", `["mine"]`); code != http.StatusNoContent {
		t.Fatalf("alice's send: %d", code)
	}
	if code := do("mallory", "xhr_send", `["theirs"]`); code != http.StatusNotFound {
		t.Fatalf("mallory's send: %d, want 404", code)
	}
	if got := rec.got(); !slices.Equal(got, []string{"mine"}) {
		t.Fatalf("OnMessage got %q", got)
	}
}
