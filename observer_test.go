package sockjs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/pubsub"
)

// countingObserver counts what it is told, by event and labels.
type countingObserver struct {
	sockjs.NopObserver
	mu     sync.Mutex
	counts map[string]int
	lags   int
}

func newCountingObserver() *countingObserver {
	return &countingObserver{counts: map[string]int{}}
}

func (o *countingObserver) add(key string, n int) {
	o.mu.Lock()
	o.counts[key] += n
	o.mu.Unlock()
}

func (o *countingObserver) get(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[key]
}

func (o *countingObserver) SessionOpened(route, transport string) {
	o.add("opened "+route+" "+transport, 1)
}

func (o *countingObserver) SessionClosed(route, transport string, code int) {
	o.add(fmt.Sprintf("closed %s %s %d", route, transport, code), 1)
}

func (o *countingObserver) MessagesReceived(route, transport string, n int) {
	o.add("in "+route+" "+transport, n)
}

func (o *countingObserver) MessagesSent(route, transport string, n, bytes int) {
	o.add("out "+route+" "+transport, n)
	o.add("outbytes "+route+" "+transport, bytes)
}

func (o *countingObserver) Broadcast(route string) { o.add("broadcast "+route, 1) }

func (o *countingObserver) SlowConsumer(route, cause string) { o.add("slow "+route+" "+cause, 1) }

func (o *countingObserver) AnotherConnection(route, transport string) {
	o.add("busy "+route+" "+transport, 1)
}

func (o *countingObserver) StoreCall(route, call string, d time.Duration, err error) {
	o.add("store "+route+" "+call, 1)
}

func (o *countingObserver) BusPublished(route string, err error) {
	if err == nil {
		o.add("busok "+route, 1)
	} else {
		o.add("busfailed "+route, 1)
	}
}

func (o *countingObserver) BusLag(route string, lag time.Duration) {
	o.mu.Lock()
	o.lags++
	o.mu.Unlock()
}

func (o *countingObserver) BusStats(pubsub.Stats) {}

func (o *countingObserver) LeaseRenewed(route string, err error) {
	if err == nil {
		o.add("lease ok "+route, 1)
	} else {
		o.add("lease failed "+route, 1)
	}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestObserverCounts(t *testing.T) {
	obs := newCountingObserver()
	tn := startNode(t, sockjs.Config{Observer: obs, ReadinessPing: 20 * time.Millisecond},
		sockjs.HandlerFuncs{Message: echo}, sockjs.Options{DisconnectDelay: 100 * time.Millisecond})

	// An xhr session: opened, one message each way, then closed by the
	// server.
	id := newID()
	if f := tn.poll(id); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	tn.send(id, `["hello"]`)
	if f := tn.poll(id); f != "a[\"hello\"]\n" {
		t.Fatalf("echo: %q", f)
	}
	// A second receiver while a poll waits: 2010.
	done := make(chan string, 1)
	go func() {
		_, body := post(t, tn.url+"/000/"+id+"/xhr", "")
		done <- body
	}()
	waitFor(t, "the first poll to hold the session", func() bool {
		s, err := tn.node.Manager("r").Session(context.Background(), id)
		return err == nil && s != nil && obs.get("store r Open") >= 3
	})
	time.Sleep(50 * time.Millisecond)
	if f := tn.poll(id); !strings.Contains(f, "2010") {
		t.Fatalf("second poll: %q, want 2010", f)
	}
	s, err := tn.node.Manager("r").Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background(), 3000, "Go away!"); err != nil {
		t.Fatal(err)
	}
	if f := <-done; f != "c[3000,\"Go away!\"]\n" {
		t.Fatalf("held poll: %q", f)
	}

	// A websocket session: opened, two messages in, two echoes and a
	// broadcast out, closed by the client.
	c := tn.dial(newID())
	for _, m := range []string{`["a"]`, `["bc"]`} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		readWS(t, c)
	}
	if err := tn.node.Manager("r").Broadcast(context.Background(), "all"); err != nil {
		t.Fatal(err)
	}
	if f := readWS(t, c); f != `a["all"]` {
		t.Fatalf("broadcast: %q", f)
	}
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.Close()

	waitFor(t, "the websocket session to close", func() bool { return obs.get("closed r websocket 1000") == 1 })
	want := map[string]int{
		"opened r xhr":            1,
		"opened r websocket":      1,
		"closed r xhr 3000":       1,
		"in r xhr_send":           1,
		"out r xhr":               1,
		"outbytes r xhr":          len("hello"),
		"busy r xhr":              1,
		"in r websocket":          2,
		"out r websocket":         3,
		"outbytes r websocket":    len("a") + len("bc") + len("all"),
		"broadcast r":             1,
		"closed r websocket 1000": 1,
	}
	for k, v := range want {
		if got := obs.get(k); got != v {
			t.Errorf("%s = %d, want %d", k, got, v)
		}
	}
	if obs.get("lease ok r") == 0 || obs.get("store r RenewNode") == 0 {
		t.Errorf("lease renewals not observed: %v", obs.counts)
	}
	waitFor(t, "a self-ping", func() bool {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return obs.lags > 0
	})

	// Readiness over HTTP.
	rs := httptestServer(t, tn.node.ReadyHandler())
	resp, err := http.Get(rs)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("ready: %d %q", resp.StatusCode, body)
	}
}

// TestObserverExpired: a session nobody polls expires; it is counted
// closed with code 0 and its opening transport.
func TestObserverExpired(t *testing.T) {
	obs := newCountingObserver()
	tn := startNode(t, sockjs.Config{Observer: obs}, sockjs.HandlerFuncs{},
		sockjs.Options{DisconnectDelay: 50 * time.Millisecond})
	id := newID()
	if f := tn.poll(id); f != "o\n" {
		t.Fatalf("open: %q", f)
	}
	waitFor(t, "the session to expire", func() bool { return obs.get("closed r xhr 0") == 1 })
	if got := obs.get("opened r xhr"); got != 1 {
		t.Errorf("opened r xhr = %d, want 1", got)
	}

	// A stream cut off by its client: closed with 1002.
	id = newID()
	st := tn.stream(id)
	if l := st.line(t); l != "o\n" {
		t.Fatalf("stream open: %q", l)
	}
	st.resp.Body.Close()
	waitFor(t, "the stream's session to close", func() bool { return obs.get("closed r xhr_streaming 1002") == 1 })
}

func httptestServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestReadyWithoutObserver: a node without an Observer is ready too, and
// not once it shuts down.
func TestReadyWithoutObserver(t *testing.T) {
	tn := startNode(t, sockjs.Config{ReadinessPing: 20 * time.Millisecond}, sockjs.HandlerFuncs{}, sockjs.Options{})
	waitFor(t, "readiness", func() bool { return tn.node.Ready(context.Background()) == nil })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tn.node.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tn.node.Ready(context.Background()); err == nil {
		t.Fatal("Ready after Shutdown: nil error")
	}
}
