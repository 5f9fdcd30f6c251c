package sockjs_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/sockjs-cluster/sockjs"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestOnCloseOnceOnExpiry(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(nil), sockjs.Options{DisconnectDelay: 100 * time.Millisecond})
	id := newID()
	if got := tn.poll(id); got != "o\n" {
		t.Fatalf("first poll: %q", got)
	}
	rec.waitClosed(t, id)
	time.Sleep(300 * time.Millisecond) // a second OnClose would show up by now
	if o, c := rec.count(id); o != 1 || c != 1 {
		t.Fatalf("OnOpen ran %d times, OnClose %d times; want 1 and 1", o, c)
	}
	// The expired session is gone: a send is refused with 404.
	if code, _ := post(t, tn.url+"/000/"+id+"/xhr_send", `["x"]`); code != http.StatusNotFound {
		t.Fatalf("xhr_send to expired session: status %d, want 404", code)
	}
}

func TestCloseByApplication(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(func(s *sockjs.Session, m string) {
		if m == "bye" {
			_ = s.Send(context.Background(), "see you")
			if err := s.Close(context.Background(), 3001, "bye bye"); err != nil {
				t.Errorf("Close: %v", err)
			}
			// Closing twice does nothing.
			if err := s.Close(context.Background(), 3002, "again"); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := s.Send(context.Background(), "late"); !errors.Is(err, sockjs.ErrSessionClosed) {
				t.Errorf("Send after Close: %v, want ErrSessionClosed", err)
			}
		}
	}), sockjs.Options{})
	id := newID()
	tn.poll(id)
	tn.send(id, `["bye"]`)
	if got := tn.poll(id); got != "a[\"see you\"]\n" {
		t.Fatalf("poll after close: %q", got)
	}
	for i := 0; i < 2; i++ {
		if got := tn.poll(id); got != "c[3001,\"bye bye\"]\n" {
			t.Fatalf("poll %d after close: %q", i, got)
		}
	}
	rec.waitClosed(t, id)
	if _, c := rec.count(id); c != 1 {
		t.Fatalf("OnClose ran %d times", c)
	}
}

func TestUnicastAndBroadcastOrder(t *testing.T) {
	var node *sockjs.Server
	h := sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
		ctx := context.Background()
		for i, part := range strings.Split(m, ",") {
			var err error
			if i%2 == 1 {
				err = node.Manager("r").Broadcast(ctx, part)
			} else {
				err = s.Send(ctx, part)
			}
			if err != nil {
				t.Errorf("deliver %s: %v", part, err)
			}
		}
	}}
	tn := startNode(t, sockjs.Config{}, h, sockjs.Options{})
	node = tn.node

	polled := newID()
	tn.poll(polled)
	ws := tn.dial(newID())
	st := tn.stream(newID())
	if f := st.line(t); f != "o\n" {
		t.Fatalf("stream open: %q", f)
	}

	tn.send(polled, `["u1,b1,u2,b2,u3"]`)
	if got, want := tn.poll(polled), `a["u1","b1","u2","b2","u3"]`+"\n"; got != want {
		t.Fatalf("polling session got %q, want %q", got, want)
	}
	// The other sessions got the broadcasts only, in order.
	var wsGot []string
	for len(strings.Join(wsGot, ",")) < len(`"b1","b2"`) {
		f := readWS(t, ws)
		wsGot = append(wsGot, strings.TrimSuffix(strings.TrimPrefix(f, "a["), "]"))
	}
	if strings.Join(wsGot, ",") != `"b1","b2"` {
		t.Fatalf("websocket got %v", wsGot)
	}
	var stGot []string
	for !strings.Contains(strings.Join(stGot, ""), "b2") {
		stGot = append(stGot, st.line(t))
	}
	if j := strings.Join(stGot, ""); j != `a["b1"]`+"\n"+`a["b2"]`+"\n" && j != `a["b1","b2"]`+"\n" {
		t.Fatalf("stream got %q", j)
	}
}

func TestManager(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(nil), sockjs.Options{})
	ctx := context.Background()
	m := tn.node.Manager("r")
	if m == nil || m.Name() != "r" {
		t.Fatalf("Manager(r) = %v", m)
	}
	if err := tn.node.Manager("nope").Broadcast(ctx, "x"); !errors.Is(err, sockjs.ErrUnknownRoute) {
		t.Fatalf("Manager of an unknown route: Broadcast = %v, want ErrUnknownRoute", err)
	}
	a, b := newID(), newID()
	tn.poll(a)
	ws := tn.dial(b)

	n, err := m.Count(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Count = %d, %v; want 2", n, err)
	}
	ss, err := m.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.ID())
	}
	sort.Strings(ids)
	want := []string{a, b}
	sort.Strings(want)
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("Sessions = %v, want %v", ids, want)
	}

	// Session(id) reaches both kinds of session.
	sa, err := m.Session(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Send(ctx, "to a"); err != nil {
		t.Fatal(err)
	}
	if got := tn.poll(a); got != `a["to a"]`+"\n" {
		t.Fatalf("poll: %q", got)
	}
	sb, err := m.Session(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Send(ctx, "to b"); err != nil {
		t.Fatal(err)
	}
	if got := readWS(t, ws); got != `a["to b"]` {
		t.Fatalf("websocket: %q", got)
	}
	if _, err := m.Session(ctx, "missing"); !errors.Is(err, sockjs.ErrSessionNotFound) {
		t.Fatalf("Session(missing): %v", err)
	}

	// Values are kept in the store and seen through any handle.
	if err := sa.SetValue(ctx, "user", "ann"); err != nil {
		t.Fatal(err)
	}
	sa2, _ := m.Session(ctx, a)
	if v, err := sa2.Value(ctx, "user"); err != nil || v != "ann" {
		t.Fatalf("Value = %q, %v", v, err)
	}
	if st, err := sa2.State(ctx); err != nil || st != sockjs.StateOpen {
		t.Fatalf("State = %v, %v", st, err)
	}

	// Close closes every session with the given frame.
	if err := m.Close(ctx, 3003, "route closed"); err != nil {
		t.Fatal(err)
	}
	if got := tn.poll(a); got != `c[3003,"route closed"]`+"\n" {
		t.Fatalf("poll after Manager.Close: %q", got)
	}
	if got := readWS(t, ws); got != `c[3003,"route closed"]` {
		t.Fatalf("websocket after Manager.Close: %q", got)
	}
	rec.waitClosed(t, a)
	rec.waitClosed(t, b)
	if n, _ := m.Count(ctx); n != 0 {
		t.Fatalf("Count after Close = %d", n)
	}
}

func TestSessionRequest(t *testing.T) {
	got := make(chan *sockjs.Request, 1)
	tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Open: func(s *sockjs.Session) {
		got <- s.Request()
	}}, sockjs.Options{})
	req, _ := http.NewRequest(http.MethodPost, tn.url+"/000/"+newID()+"/xhr", nil)
	req.Header.Set("X-User", "ann")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-got
	if r.Header.Get("X-User") != "ann" || !strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") || !strings.HasSuffix(r.RequestURI, "/xhr") {
		t.Fatalf("Request() = %+v", r)
	}
}

func TestHeartbeat(t *testing.T) {
	tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{}, sockjs.Options{HeartbeatDelay: 50 * time.Millisecond})
	id := newID()
	st := tn.stream(id)
	if f := st.line(t); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	for i := 0; i < 2; i++ {
		if f := st.line(t); f != "h\n" {
			t.Fatalf("heartbeat %d: %q", i, f)
		}
	}
	ws := tn.dial(newID())
	if f := readWS(t, ws); f != "h" {
		t.Fatalf("websocket heartbeat: %q", f)
	}
	tn.poll(newID()) // a new session answers at once
	if f := tn.poll(id + "x"); f != "o\n" {
		t.Fatalf("poll: %q", f)
	}
	if f := tn.poll(id + "x"); f != "h\n" {
		t.Fatalf("idle poll: %q, want a heartbeat", f)
	}
}

func TestShutdown(t *testing.T) {
	rec := newRecorder()
	st0 := storemem.New(storemem.Options{})
	node := sockjs.NewServer(sockjs.Config{Logger: quiet, Store: st0})
	node.Route("r", "/r", rec.handler(echo), sockjs.Options{})
	srv := httptest.NewServer(node)
	defer srv.Close()
	tn := &testNode{t: t, node: node, srv: srv, url: srv.URL + "/r"}

	wsID := newID()
	ws := tn.dial(wsID)
	st := tn.stream(newID())
	if f := st.line(t); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	polled := newID()
	tn.poll(polled)
	pollDone := make(chan string, 1)
	go func() {
		resp, err := client.Post(tn.url+"/000/"+polled+"/xhr", "text/plain", nil)
		if err != nil {
			pollDone <- err.Error()
			return
		}
		defer resp.Body.Close()
		b := make([]byte, 100)
		n, _ := resp.Body.Read(b)
		pollDone <- string(b[:n])
	}()
	// Wait until the poll holds the session.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if rec, err := st0.Get(context.Background(), "r", polled); err == nil && rec.Receiver != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the poll never attached")
		}
		time.Sleep(5 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := node.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := node.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	// The websocket got a close frame, then a close handshake.
	if f := readWS(t, ws); f != `c[1001,"Server shutting down"]` {
		t.Fatalf("websocket: %q", f)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("websocket end: %v", err)
	}
	rec.waitClosed(t, wsID)
	// The stream ended cleanly without closing its session.
	if f := st.line(t); f != "" {
		t.Fatalf("stream after shutdown: %q", f)
	}
	if got := <-pollDone; got != "h\n" {
		t.Fatalf("waiting poll after shutdown: %q", got)
	}
	// New sessions are refused.
	if code, _ := post(t, tn.url+"/000/"+newID()+"/xhr", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("poll after shutdown: status %d, want 503", code)
	}
}

func TestRouterPatterns(t *testing.T) {
	node := sockjs.NewServer(sockjs.Config{Logger: quiet})
	t.Cleanup(func() { _ = node.Shutdown(context.Background()) })
	mux := http.NewServeMux()
	mux.Handle("/plain/", node.Route("plain", "/plain", sockjs.HandlerFuncs{Message: echo}, sockjs.Options{}))
	mux.Handle("/pattern/{rest...}", node.Route("pattern", "/pattern", sockjs.HandlerFuncs{Message: echo}, sockjs.Options{}))
	mux.Handle("POST /method/{server}/{session}/{transport}", node.Route("method", "/method", sockjs.HandlerFuncs{Message: echo}, sockjs.Options{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, prefix := range []string{"/plain", "/pattern", "/method"} {
		t.Run(strings.TrimPrefix(prefix, "/"), func(t *testing.T) {
			tn := &testNode{t: t, url: srv.URL + prefix}
			id := newID()
			if got := tn.poll(id); got != "o\n" {
				t.Fatalf("open: %q", got)
			}
			tn.send(id, `["hi"]`)
			if got := tn.poll(id); got != `a["hi"]`+"\n" {
				t.Fatalf("echo: %q", got)
			}
		})
	}
}

func TestRouteErrors(t *testing.T) {
	node := sockjs.NewServer(sockjs.Config{Logger: quiet})
	defer node.Shutdown(context.Background())
	ctx := context.Background()
	if _, err := node.RouteContext(ctx, "a", "/a", sockjs.HandlerFuncs{}, sockjs.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.RouteContext(ctx, "a", "/b", sockjs.HandlerFuncs{}, sockjs.Options{}); err == nil {
		t.Fatal("duplicate name accepted")
	}
	if _, err := node.RouteContext(ctx, "b", "/a/", sockjs.HandlerFuncs{}, sockjs.Options{}); err == nil {
		t.Fatal("duplicate prefix accepted")
	}
	if _, err := node.RouteContext(ctx, "c", "/c", nil, sockjs.Options{}); err == nil {
		t.Fatal("nil handler accepted")
	}
}

func TestSessionOwner(t *testing.T) {
	rec := newRecorder()
	tn := startNode(t, sockjs.Config{}, rec.handler(echo), sockjs.Options{
		SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") },
	})
	as := func(user, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, tn.url+path, strings.NewReader(body))
		req.Header.Set("X-User", user)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	id := newID()
	if code, body := as("alice", http.MethodPost, "/000/"+id+"/xhr", ""); code != 200 || body != "o\n" {
		t.Fatalf("alice opens: %d %q", code, body)
	}
	if code, _ := as("alice", http.MethodPost, "/000/"+id+"/xhr_send", `["for alice"]`); code != 204 {
		t.Fatalf("alice sends: %d", code)
	}
	// Another identity can neither read nor write the session.
	for _, path := range []string{"/xhr", "/xhr_send", "/xhr_streaming", "/jsonp?c=x", "/jsonp_send"} {
		method := http.MethodPost
		if strings.HasPrefix(path, "/jsonp?") {
			method = http.MethodGet
		}
		if code, body := as("mallory", method, "/000/"+id+path, `["evil"]`); code != http.StatusNotFound {
			t.Fatalf("mallory %s: %d %q, want 404", path, code, body)
		}
	}
	if code, body := as("alice", http.MethodPost, "/000/"+id+"/xhr", ""); code != 200 || body != "a[\"for alice\"]\n" {
		t.Fatalf("alice reads: %d %q", code, body)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, m := range rec.messages {
		if m == "evil" {
			t.Fatal("a foreign identity's message was delivered")
		}
	}
}

// TestNoHeartbeatWhileFramesFlow: the heartbeat counts silence from the
// last frame, so a stream that keeps getting messages never carries one.
func TestNoHeartbeatWhileFramesFlow(t *testing.T) {
	const hb = 500 * time.Millisecond
	tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Message: echo}, sockjs.Options{HeartbeatDelay: hb})
	id := newID()
	st := tn.stream(id)
	if f := st.line(t); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	// Messages every 10ms for 2.5 heartbeat delays.
	for start := time.Now(); time.Since(start) < hb*5/2; time.Sleep(10 * time.Millisecond) {
		tn.send(id, `["x"]`)
		if f := st.line(t); f != `a["x"]`+"\n" {
			t.Fatalf("frame %q while messages flow, want only the echo", f)
		}
	}
	if f := st.line(t); f != "h\n" {
		t.Fatalf("after the messages stopped: %q, want a heartbeat", f)
	}
}
