package integration_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/internal/conformance"
	"github.com/sockjs-cluster/sockjs/internal/testservice"
)

// TestClusterConformance runs the whole protocol suite against three nodes,
// each request going to the next node.
func TestClusterConformance(t *testing.T) {
	c := startCluster(t, 3, func(ctx context.Context, node *sockjs.Server) {
		testservice.Register(ctx, node, sockjs.Options{InsecureSkipOriginCheck: true})
	})
	conformance.Run(t, conformance.Target{URL: c.url})
}

// app is a route "r" on every node that records callbacks cluster-wide and
// runs commands sent as messages.
type app struct {
	opened, closed counter
	nodes          map[*sockjs.Server]bool
}

func (a *app) setup(opts sockjs.Options) func(ctx context.Context, node *sockjs.Server) {
	return func(ctx context.Context, node *sockjs.Server) {
		node.Route("r", "/r", sockjs.HandlerFuncs{
			Open:  func(s *sockjs.Session) { a.opened.add(s.ID()) },
			Close: func(s *sockjs.Session) { a.closed.add(s.ID()) },
			Message: func(s *sockjs.Session, m string) {
				// "u:x" sends x to this session, "b:x" broadcasts x,
				// "close" closes; anything else is echoed.
				ctx := s.Context()
				var err error
				switch {
				case strings.HasPrefix(m, "u:"):
					err = s.Send(ctx, m[2:])
				case strings.HasPrefix(m, "b:"):
					err = node.Manager("r").Broadcast(ctx, m[2:])
				case m == "close":
					err = s.Close(ctx, 3000, "Go away!")
				default:
					err = s.Send(ctx, m)
				}
				if err != nil {
					panic(fmt.Sprintf("command %q: %v", m, err))
				}
			},
		}, opts)
	}
}

func TestClusterCreatedOnce(t *testing.T) {
	var a app
	// Polls that attach after the first one wait for a heartbeat: keep it short.
	c := startCluster(t, 3, a.setup(sockjs.Options{HeartbeatDelay: 300 * time.Millisecond}))
	id := newID()
	var wg sync.WaitGroup
	frames := make([]string, 12)
	for i := range frames {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			frames[i] = poll(t, c.url(), "r", id)
		}(i)
	}
	wg.Wait()
	opens := 0
	for _, f := range frames {
		switch f {
		case "o\n":
			opens++
		case "h\n", "c[2010,\"Another connection still open\"]\n":
		default:
			t.Fatalf("unexpected frame %q", f)
		}
	}
	if opens != 1 || a.opened.get(id) != 1 {
		t.Fatalf("open frames %d, OnOpen %d times; want 1 and 1 (frames %q)", opens, a.opened.get(id), frames)
	}
}

func TestClusterOneReceiver(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{}))
	id := newID()
	st := openStream(t, c.nodes[0].url, "r", id)
	if f := st.next(); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	for _, n := range c.nodes[1:] {
		if f := poll(t, n.url, "r", id); f != "c[2010,\"Another connection still open\"]\n" {
			t.Fatalf("second receiver on %s: %q", n.id, f)
		}
	}
	// The refusals did not disturb the first receiver.
	send(t, c.nodes[2].url, "r", id, `["hello"]`)
	if f := st.next(); f != "a[\"hello\"]\n" {
		t.Fatalf("first receiver after refusals: %q", f)
	}
}

func TestClusterCloseServedElsewhere(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{}))
	id := newID()
	poll(t, c.nodes[0].url, "r", id)
	send(t, c.nodes[0].url, "r", id, `["close"]`)
	for _, n := range c.nodes {
		if f := poll(t, n.url, "r", id); f != "c[3000,\"Go away!\"]\n" {
			t.Fatalf("poll on %s after close on %s: %q", n.id, c.nodes[0].id, f)
		}
	}
	waitFor(t, 5*time.Second, "OnClose", func() bool { return a.closed.get(id) == 1 })
}

// TestClusterOrder interleaves unicast and broadcast messages sent from
// every node and reads them through polls spread over every node.
func TestClusterOrder(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{}))
	id := newID()
	poll(t, c.url(), "r", id)
	const n = 150
	var want []string
	var got []string
	for i := 0; i < n; i++ {
		kind := "u"
		if i%3 == 1 {
			kind = "b"
		}
		m := kind + strconv.Itoa(i)
		want = append(want, m)
		send(t, c.url(), "r", id, `["`+kind+`:`+m+`"]`)
		if i%7 == 6 {
			got = append(got, messages(t, poll(t, c.url(), "r", id))...)
		}
	}
	for len(got) < n {
		f := poll(t, c.url(), "r", id)
		if f == "h\n" {
			t.Fatalf("heartbeat with %d of %d messages", len(got), n)
		}
		got = append(got, messages(t, f)...)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("messages out of order or duplicated:\n got %v\nwant %v", got, want)
	}
}

// TestClusterExpiryWhenNodeStopped opens sessions on a node, stops that
// node, and expects every session to expire with OnClose exactly once on
// the surviving nodes.
func TestClusterExpiryWhenNodeStopped(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{DisconnectDelay: 300 * time.Millisecond}))
	ids := []string{newID(), newID(), newID()}
	for _, id := range ids {
		poll(t, c.nodes[0].url, "r", id)
	}
	c.nodes[0].stop()
	for _, id := range ids {
		waitFor(t, 10*time.Second, "OnClose of "+id, func() bool { return a.closed.get(id) >= 1 })
	}
	time.Sleep(500 * time.Millisecond) // a second OnClose would show by now
	for _, id := range ids {
		if n := a.closed.get(id); n != 1 {
			t.Fatalf("OnClose(%s) ran %d times", id, n)
		}
	}
	// Every session is gone, and so is every key of the cluster's prefix
	// but the live nodes' leases (the stopped node's went with its
	// sessions).
	rdb := c.nodes[1].client
	var left []string
	waitFor(t, 10*time.Second, fmt.Sprintf("a key space holding only the live nodes' leases (left: %q)", &left), func() bool {
		keys, err := rdb.Keys(context.Background(), c.prefix+"*").Result()
		if err != nil {
			return false
		}
		left = left[:0]
		for _, k := range keys {
			switch {
			case strings.HasSuffix(k, ":nodes"), strings.HasSuffix(k, ":nep"):
			case strings.HasSuffix(k, ":h:"+c.nodes[1].id), strings.HasSuffix(k, ":h:"+c.nodes[2].id):
			default:
				left = append(left, k)
			}
		}
		return len(left) == 0
	})
	members, err := rdb.ZRange(context.Background(), c.prefix+":{r}:nodes", 0, -1).Result()
	if err != nil || slices.Contains(members, c.nodes[0].id) {
		t.Fatalf("node leases %q, %v: the stopped node's should be gone", members, err)
	}
}

func TestClusterManager(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{}))
	ctx := context.Background()
	polled, wsID := newID(), newID()
	poll(t, c.nodes[0].url, "r", polled)
	ws := dialWS(t, c.nodes[1].url, "r", wsID)

	for _, n := range c.nodes {
		m := n.node.Manager("r")
		if cnt, err := m.Count(ctx); err != nil || cnt != 2 {
			t.Fatalf("Count on %s = %d, %v", n.id, cnt, err)
		}
		ss, err := m.Sessions(ctx)
		if err != nil || len(ss) != 2 {
			t.Fatalf("Sessions on %s = %d, %v", n.id, len(ss), err)
		}
	}
	// Values set on one node are seen on another.
	s0, err := c.nodes[0].node.Manager("r").Session(ctx, polled)
	if err != nil {
		t.Fatal(err)
	}
	if err := s0.SetValue(ctx, "user", "ann"); err != nil {
		t.Fatal(err)
	}
	s2, err := c.nodes[2].node.Manager("r").Session(ctx, polled)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s2.Value(ctx, "user"); err != nil || v != "ann" {
		t.Fatalf("Value on another node = %q, %v", v, err)
	}
	// A websocket session on node 1 receives a Send issued on node 2.
	sw, err := c.nodes[2].node.Manager("r").Session(ctx, wsID)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Send(ctx, "from C"); err != nil {
		t.Fatal(err)
	}
	if f := readWS(t, ws); f != `a["from C"]` {
		t.Fatalf("websocket got %q", f)
	}
	// A broadcast from node 0 reaches both.
	if err := c.nodes[0].node.Manager("r").Broadcast(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	if f := readWS(t, ws); f != `a["all"]` {
		t.Fatalf("websocket got %q", f)
	}
	if f := poll(t, c.nodes[2].url, "r", polled); f != "a[\"all\"]\n" {
		t.Fatalf("poll got %q", f)
	}
	// Close from node 2 closes both, wherever they live.
	if err := c.nodes[2].node.Manager("r").Close(ctx, 3001, "bye"); err != nil {
		t.Fatal(err)
	}
	if f := readWS(t, ws); f != `c[3001,"bye"]` {
		t.Fatalf("websocket got %q", f)
	}
	if f := poll(t, c.nodes[1].url, "r", polled); f != "c[3001,\"bye\"]\n" {
		t.Fatalf("poll got %q", f)
	}
	waitFor(t, 5*time.Second, "OnClose of both", func() bool { return a.closed.get(polled) == 1 && a.closed.get(wsID) == 1 })
}

// TestClusterDrain shuts one node down while polling and streaming
// sessions use every node: they carry on through the others without
// losing or repeating a message.
func TestClusterDrain(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{}))
	polled, streamed := newID(), newID()
	poll(t, c.nodes[1].url, "r", polled)
	st := openStream(t, c.nodes[1].url, "r", streamed)
	if f := st.next(); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	var want []string
	var gotPoll []string
	for i := 0; i < 40; i++ {
		m := "m" + strconv.Itoa(i)
		want = append(want, m)
		send(t, c.url(), "r", polled, `["`+m+`"]`)
		send(t, c.url(), "r", streamed, `["`+m+`"]`)
		if i == 20 {
			c.nodes[1].stop() // the stream ends; its session stays
		}
		gotPoll = append(gotPoll, messages(t, poll(t, c.url(), "r", polled))...)
	}
	var gotStream []string
	for {
		f := st.next()
		if f == "" {
			break // ended by the drain
		}
		gotStream = append(gotStream, messages(t, f)...)
	}
	// The client reconnects its stream to a live node and gets the rest.
	st2 := openStream(t, c.url(), "r", streamed)
	for len(gotStream) < len(want) {
		gotStream = append(gotStream, messages(t, st2.next())...)
	}
	if strings.Join(gotPoll, ",") != strings.Join(want, ",") {
		t.Fatalf("polling session:\n got %v\nwant %v", gotPoll, want)
	}
	if strings.Join(gotStream, ",") != strings.Join(want, ",") {
		t.Fatalf("streaming session:\n got %v\nwant %v", gotStream, want)
	}
	if a.closed.get(polled)+a.closed.get(streamed) != 0 {
		t.Fatal("a drained node closed sessions")
	}
}

// TestClusterRedisDown stops redis-server under the nodes and starts it
// again: requests fail cleanly meanwhile, and service resumes.
func TestClusterRedisDown(t *testing.T) {
	var a app
	// A short lease, so the attached receiver's renewal finds Redis gone soon.
	c := startCluster(t, 2, a.setup(sockjs.Options{ReceiverLease: 1500 * time.Millisecond}))
	id := newID()
	st := openStream(t, c.nodes[0].url, "r", id)
	if f := st.next(); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	c.redis.Stop()
	if f := st.next(); f != "c[1011,\"Session store unavailable\"]\n" {
		t.Fatalf("attached receiver while Redis is down: %q", f)
	}
	// A new session is refused with 503.
	code, _ := do(t, http.MethodPost, c.nodes[1].url+"/r/000/"+newID()+"/xhr", "")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("new session while Redis is down: status %d, want 503", code)
	}
	// The attached receiver is told, at the latest on its next store call.
	send503 := func() int {
		code, _ := do(t, http.MethodPost, c.nodes[1].url+"/r/000/"+id+"/xhr_send", `["x"]`)
		return code
	}
	if code := send503(); code != http.StatusServiceUnavailable {
		t.Fatalf("xhr_send while Redis is down: status %d, want 503", code)
	}
	c.redis.Restart()
	// Redis came back empty: a new session works on every node.
	waitFor(t, 15*time.Second, "service after Redis restart", func() bool {
		code, body := do(t, http.MethodPost, c.nodes[1].url+"/r/000/"+newID()+"/xhr", "")
		return code == http.StatusOK && body == "o\n"
	})
	id2 := newID()
	poll(t, c.nodes[0].url, "r", id2)
	send(t, c.nodes[1].url, "r", id2, `["again"]`)
	if f := poll(t, c.nodes[0].url, "r", id2); f != "a[\"again\"]\n" {
		t.Fatalf("after restart: %q", f)
	}
}

// TestClusterSessionOwner: a session bound to an identity answers 404 to
// any other identity, on every node.
func TestClusterSessionOwner(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{
		SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") },
	}))
	as := func(user, top, path, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, top+"/r/000/"+path, strings.NewReader(body))
		req.Header.Set("X-User", user)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}
	id := newID()
	if code, body := as("alice", c.nodes[0].url, id+"/xhr", ""); code != 200 || body != "o\n" {
		t.Fatalf("alice opens: %d %q", code, body)
	}
	as("alice", c.nodes[1].url, id+"/xhr_send", `["hi alice"]`)
	for _, n := range c.nodes {
		for _, p := range []string{"/xhr", "/xhr_send"} {
			if code, body := as("mallory", n.url, id+p, `["evil"]`); code != http.StatusNotFound {
				t.Fatalf("mallory %s on %s: %d %q", p, n.id, code, body)
			}
		}
	}
	if code, body := as("alice", c.nodes[2].url, id+"/xhr", ""); code != 200 || body != "a[\"hi alice\"]\n" {
		t.Fatalf("alice reads on %s: %d %q", c.nodes[2].id, code, body)
	}
}
