package sockjs_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
	pubsubmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
	"github.com/sockjs-cluster/sockjs/store"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// closeSeen is what one OnClose call saw.
type closeSeen struct {
	id    string
	err   error
	ce    sockjs.CloseError
	owner string
	node  string // set by onCloseAt
}

// closeLog records every OnClose, on any number of nodes.
type closeLog struct {
	mu   sync.Mutex
	seen []closeSeen
}

func (l *closeLog) onClose(s *sockjs.Session) { l.onCloseAt("", s) }

// onCloseAt records an OnClose that ran on node.
func (l *closeLog) onCloseAt(node string, s *sockjs.Session) {
	c := closeSeen{id: s.ID(), err: s.Err(), owner: s.Owner(), node: node}
	var ce *sockjs.CloseError
	if errors.As(c.err, &ce) {
		c.ce = *ce
	}
	l.mu.Lock()
	l.seen = append(l.seen, c)
	l.mu.Unlock()
}

// wait returns what OnClose saw for id, failing unless it ran exactly
// once (it waits a little after the first call for a second one).
func (l *closeLog) wait(t *testing.T, id string) closeSeen {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		var got []closeSeen
		for _, c := range l.seen {
			if c.id == id {
				got = append(got, c)
			}
		}
		l.mu.Unlock()
		if len(got) > 1 {
			t.Fatalf("OnClose(%s) ran %d times: %+v", id, len(got), got)
		}
		if len(got) == 1 && time.Now().After(deadline) {
			return got[0]
		}
		if len(got) == 1 && deadline.Sub(time.Now()) > 300*time.Millisecond {
			deadline = time.Now().Add(300 * time.Millisecond) // look for a second call
		}
		if len(got) == 0 && time.Now().After(deadline) {
			t.Fatalf("OnClose(%s) did not run", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// check asserts the close's code, reason and cause, and that Err is a
// *CloseError matching ErrSessionClosed.
func (c closeSeen) check(t *testing.T, code int, reason string, cause sockjs.CloseCause) {
	t.Helper()
	if c.err == nil {
		t.Fatalf("Session.Err() in OnClose is nil")
	}
	if !errors.Is(c.err, sockjs.ErrSessionClosed) {
		t.Errorf("errors.Is(%v, ErrSessionClosed) = false", c.err)
	}
	if c.ce.Code != code || c.ce.Reason != reason || c.ce.Cause != cause {
		t.Errorf("OnClose saw %d %q %v, want %d %q %v", c.ce.Code, c.ce.Reason, c.ce.Cause, code, reason, cause)
	}
}

// failingStore fails Pull while failPull is set.
type failingStore struct {
	store.Store
	failPull atomic.Bool
}

func (f *failingStore) Pull(ctx context.Context, route, id string, req store.PullRequest) (store.PullResult, error) {
	if f.failPull.Load() {
		return store.PullResult{}, errors.New("injected store failure")
	}
	return f.Store.Pull(ctx, route, id, req)
}

func TestCloseCauses(t *testing.T) {
	ctx := context.Background()
	t.Run("client", func(t *testing.T) {
		var l closeLog
		var open atomic.Pointer[sockjs.Session]
		tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Open: func(s *sockjs.Session) { open.Store(s) }, Close: l.onClose}, sockjs.Options{})
		id := newID()
		ws := tn.dial(id)
		if err := open.Load().Err(); err != nil {
			t.Fatalf("Err() of an open session = %v", err)
		}
		_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		ws.Close()
		l.wait(t, id).check(t, sockjs.CodeNormal, "Connection closed", sockjs.CauseClient)
		// The handle the application kept learns of it too.
		if err := open.Load().Send(ctx, "late"); !errors.Is(err, sockjs.ErrSessionClosed) {
			t.Errorf("Send after the close = %v", err)
		}
	})
	t.Run("application", func(t *testing.T) {
		var l closeLog
		tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Close: l.onClose}, sockjs.Options{})
		id := newID()
		if f := tn.poll(id); f != "o\n" {
			t.Fatalf("poll: %q", f)
		}
		s, err := tn.node.Manager("r").Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx, 4000, "bye"); err != nil {
			t.Fatal(err)
		}
		l.wait(t, id).check(t, 4000, "bye", sockjs.CauseApplication)
		// Send on the closed session says how it closed.
		err = s.Send(ctx, "late")
		var ce *sockjs.CloseError
		if !errors.As(err, &ce) || ce.Code != 4000 || ce.Cause != sockjs.CauseApplication || !errors.Is(err, sockjs.ErrSessionClosed) {
			t.Errorf("Send on a closed session = %v, want its *CloseError", err)
		}
	})
	t.Run("application with a server code", func(t *testing.T) {
		// The application's own close is the application's, whatever its code.
		var l closeLog
		tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Close: l.onClose}, sockjs.Options{})
		id := newID()
		ws := tn.dial(id)
		if err := tn.node.Manager("r").Close(ctx, sockjs.CodeSlowConsumer, "policy"); err != nil {
			t.Fatal(err)
		}
		if f := readWS(t, ws); f != `c[1008,"policy"]` {
			t.Fatalf("websocket got %q", f)
		}
		l.wait(t, id).check(t, 1008, "policy", sockjs.CauseApplication)
	})
	t.Run("expired", func(t *testing.T) {
		var l closeLog
		tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Close: l.onClose}, sockjs.Options{DisconnectDelay: 100 * time.Millisecond})
		id := newID()
		tn.poll(id)
		c := l.wait(t, id)
		c.check(t, 0, "", sockjs.CauseExpired)
		if !strings.Contains(c.err.Error(), "expired") {
			t.Errorf("Error() = %q", c.err.Error())
		}
	})
	t.Run("slow consumer", func(t *testing.T) {
		var l closeLog
		tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{
			Message: func(s *sockjs.Session, m string) {
				// Nothing is written while OnMessage runs: the third send
				// overflows a queue of two.
				for i := 0; i < 3; i++ {
					_ = s.Send(ctx, m)
				}
			},
			Close: l.onClose,
		}, sockjs.Options{MaxQueue: 2})
		id := newID()
		ws := tn.dial(id)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`["x"]`)); err != nil {
			t.Fatal(err)
		}
		l.wait(t, id).check(t, sockjs.CodeSlowConsumer, "Slow consumer", sockjs.CauseSlowConsumer)
	})
	t.Run("shutdown", func(t *testing.T) {
		var l closeLog
		tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Close: l.onClose}, sockjs.Options{})
		id := newID()
		tn.dial(id)
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := tn.node.Shutdown(sctx); err != nil {
			t.Fatal(err)
		}
		l.wait(t, id).check(t, sockjs.CodeGoingAway, "Server shutting down", sockjs.CauseShutdown)
	})
	t.Run("store failure", func(t *testing.T) {
		var l closeLog
		st := &failingStore{Store: storemem.New(storemem.Options{})}
		tn := startNode(t, sockjs.Config{Store: st}, sockjs.HandlerFuncs{Close: l.onClose}, sockjs.Options{})
		id := newID()
		s := tn.stream(id)
		if f := s.line(t); f != "o\n" {
			t.Fatalf("stream: %q", f)
		}
		st.failPull.Store(true)
		h, err := tn.node.Manager("r").Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Send(ctx, "m"); err != nil {
			t.Fatal(err)
		}
		if f := s.line(t); f != `c[1011,"Session store unavailable"]`+"\n" {
			t.Fatalf("stream: %q", f)
		}
		st.failPull.Store(false)
		l.wait(t, id).check(t, sockjs.CodeServerError, "Session store unavailable", sockjs.CauseStoreFailure)
	})
	t.Run("interrupted", func(t *testing.T) {
		var l closeLog
		tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Close: l.onClose}, sockjs.Options{})
		id := newID()
		s := tn.stream(id)
		if f := s.line(t); f != "o\n" {
			t.Fatalf("stream: %q", f)
		}
		s.resp.Body.Close() // the client vanishes mid-response
		l.wait(t, id).check(t, sockjs.CodeInterrupted, "Connection interrupted", sockjs.CauseInterrupted)
	})
	t.Run("panic", func(t *testing.T) {
		var l closeLog
		logs := &captured{}
		tn := startNode(t, sockjs.Config{Logger: logs.logger()}, sockjs.HandlerFuncs{
			Message: func(*sockjs.Session, string) { panic("boom") },
			Close:   l.onClose,
		}, sockjs.Options{})
		id := newID()
		ws := tn.dial(id)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`["x"]`)); err != nil {
			t.Fatal(err)
		}
		l.wait(t, id).check(t, sockjs.CodeServerError, "Internal error", sockjs.CausePanic)
		recs := logs.find("sockjs: OnMessage panicked")
		if len(recs) != 1 || !strings.Contains(recs[0].attrs["stack"], "runtime/debug.Stack") {
			t.Fatalf("panic log: %+v", recs)
		}
	})
}

// TestExpiryOnAnotherNode: a session opened on node a expires while a is
// gone; node b finds it, and its OnClose (once, cluster-wide) sees the cause
// and the owner.
func TestExpiryOnAnotherNode(t *testing.T) {
	st := storemem.New(storemem.Options{})
	bus := pubsubmem.New(pubsubmem.Options{})
	defer bus.Close()
	var l closeLog
	var owners sync.Map // session id -> Owner() seen in OnOpen, OnMessage
	handler := func(node string) sockjs.Handler {
		return sockjs.HandlerFuncs{
			Open:    func(s *sockjs.Session) { owners.Store("open", s.Owner()) },
			Message: func(s *sockjs.Session, m string) { owners.Store("message", s.Owner()) },
			Close:   func(s *sockjs.Session) { l.onCloseAt(node, s) },
		}
	}
	opts := sockjs.Options{
		// Long enough for a not to find the session expired before it
		// shuts down.
		DisconnectDelay: 2 * time.Second,
		ReceiverLease:   time.Second,
		SessionOwner:    func(r *http.Request) string { return r.Header.Get("X-User") },
	}
	a := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "a"}, handler("a"), opts)
	b := startNode(t, sockjs.Config{Store: st, Bus: bus, NodeID: "b"}, handler("b"), opts)
	id := newID()
	do := func(url, body string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("X-User", "alice")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do(a.url+"/000/"+id+"/xhr", ""); code != http.StatusOK {
		t.Fatalf("poll on a: %d", code)
	}
	if code := do(b.url+"/000/"+id+"/xhr_send", `["hi"]`); code != http.StatusNoContent {
		t.Fatalf("send on b: %d", code)
	}
	s, err := b.node.Manager("r").Session(context.Background(), id)
	if err != nil || s.Owner() != "alice" {
		t.Fatalf("Manager.Session on b: Owner() = %q, %v", s.Owner(), err)
	}
	for _, k := range []string{"open", "message"} {
		if v, _ := owners.Load(k); v != "alice" {
			t.Errorf("Owner() in On%s = %v, want alice", k, v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.node.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c := l.wait(t, id)
	c.check(t, 0, "", sockjs.CauseExpired)
	if c.node != "b" {
		t.Errorf("OnClose ran on node %q, want b", c.node)
	}
	if c.owner != "alice" {
		t.Errorf("Owner() in OnClose on b = %q, want alice", c.owner)
	}
}
