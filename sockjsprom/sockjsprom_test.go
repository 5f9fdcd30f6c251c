package sockjsprom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/goleak"

	"github.com/sockjs-cluster/sockjs"
	pubsubmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
	"github.com/sockjs-cluster/sockjs/sockjsprom"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type node struct {
	srv     *sockjs.Server
	http    *httptest.Server
	metrics string // the /metrics URL
	route   string // the route's base URL
}

// startNode starts one node of a cluster sharing st and bus, serving its
// route at /r and its metrics at /metrics.
func startNode(t *testing.T, st *storemem.Store, bus *pubsubmem.Bus) *node {
	t.Helper()
	obs := sockjsprom.New(sockjsprom.Options{})
	reg := prometheus.NewRegistry()
	if err := obs.Register(reg); err != nil {
		t.Fatal(err)
	}
	srv := sockjs.NewServer(sockjs.Config{Store: st, Bus: bus, Logger: quiet, Observer: obs, ReadinessPing: 20 * time.Millisecond})
	h := srv.Route("r", "/r", sockjs.HandlerFuncs{
		Message: func(s *sockjs.Session, m string) { _ = s.Send(context.Background(), m) },
	}, sockjs.Options{HeartbeatDelay: 200 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle("/r/", h)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return &node{srv: srv, http: hs, metrics: hs.URL + "/metrics", route: hs.URL + "/r"}
}

var client = &http.Client{Timeout: 10 * time.Second}

func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := client.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST %s: %d %q", url, resp.StatusCode, b)
	}
	return string(b)
}

// messagesIn returns the messages of an array frame ("a[...]"), none for
// other frames.
func messagesIn(t *testing.T, f string) []string {
	t.Helper()
	f = strings.TrimSpace(f)
	if !strings.HasPrefix(f, "a") {
		return nil
	}
	var msgs []string
	if err := json.Unmarshal([]byte(f[1:]), &msgs); err != nil {
		t.Fatalf("frame %q: %v", f, err)
	}
	return msgs
}

// scrape sums the samples of metric name whose labels include want.
func scrape(t *testing.T, url, name string, want map[string]string) float64 {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		series, value := line[:sp], line[sp+1:]
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for k, v := range want {
			if !strings.Contains(labels, fmt.Sprintf("%s=%q", k, v)) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += f
	}
	return sum
}

// TestMetricsAddUp runs two nodes sharing a store and a bus under a
// bounded load — xhr sessions whose requests alternate between the nodes,
// websocket sessions, a broadcast, closes by the server and by a client —
// then scrapes both nodes' /metrics over HTTP and checks the numbers
// against what the test did and saw.
func TestMetricsAddUp(t *testing.T) {
	st := storemem.New(storemem.Options{})
	bus := pubsubmem.New(pubsubmem.Options{})
	t.Cleanup(func() { _ = bus.Close() })
	nodes := []*node{startNode(t, st, bus), startNode(t, st, bus)}
	const (
		xhrSessions = 5
		wsSessions  = 3
		perXHR      = 3
		perWS       = 2
	)
	sent, received := 0, 0

	// xhr sessions: opened on alternating nodes; every request goes to
	// the next node.
	xhr := make([]string, xhrSessions)
	for i := range xhr {
		xhr[i] = fmt.Sprintf("x%d", i)
		if f := post(t, nodes[i%2].route+"/000/"+xhr[i]+"/xhr", ""); f != "o\n" {
			t.Fatalf("open %s: %q", xhr[i], f)
		}
		for j := 0; j < perXHR; j++ {
			post(t, nodes[(i+j+1)%2].route+"/000/"+xhr[i]+"/xhr_send", fmt.Sprintf(`["m%d"]`, j))
			sent++
		}
	}
	// collect polls session i until it has got want messages.
	collect := func(i, want int) {
		got := 0
		for k := 0; got < want; k++ {
			if k > 50 {
				t.Fatalf("session %s: %d of %d messages", xhr[i], got, want)
			}
			got += len(messagesIn(t, post(t, nodes[k%2].route+"/000/"+xhr[i]+"/xhr", "")))
		}
		received += got
	}
	for i := range xhr {
		collect(i, perXHR)
	}

	// websocket sessions, all on the second node.
	ws := make([]*websocket.Conn, wsSessions)
	read := func(c *websocket.Conn) string {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for i := range ws {
		u := "ws" + strings.TrimPrefix(nodes[1].route, "http") + fmt.Sprintf("/000/w%d/websocket", i)
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ws[i] = c
		if f := read(c); f != "o" {
			t.Fatalf("websocket open: %q", f)
		}
		for j := 0; j < perWS; j++ {
			if err := c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`["w%d"]`, j))); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		for got := 0; got < perWS; {
			n := len(messagesIn(t, read(c)))
			got += n
			received += n
		}
	}

	// A broadcast from the first node reaches every session.
	if err := nodes[0].srv.Manager("r").Broadcast(context.Background(), "all"); err != nil {
		t.Fatal(err)
	}
	for i := range xhr {
		collect(i, 1)
	}
	for _, c := range ws {
		for got := 0; got < 1; {
			n := len(messagesIn(t, read(c)))
			got += n
			received += n
		}
	}

	// Two xhr sessions closed by the server, one websocket by its client.
	for i := 0; i < 2; i++ {
		s, err := nodes[i].srv.Manager("r").Session(context.Background(), xhr[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(context.Background(), 3000, "Go away!"); err != nil {
			t.Fatal(err)
		}
	}
	_ = ws[0].WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	ws[0].Close()
	const closed = 3

	total := func(name string, labels map[string]string) float64 {
		return scrape(t, nodes[0].metrics, name, labels) + scrape(t, nodes[1].metrics, name, labels)
	}
	deadline := time.Now().Add(5 * time.Second)
	for total("sockjs_sessions_closed_total", nil) < closed && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	opened := total("sockjs_sessions_opened_total", nil)
	closedN := total("sockjs_sessions_closed_total", nil)
	open := total("sockjs_sessions_open", nil)
	checks := []struct {
		what      string
		got, want float64
	}{
		{"opened", opened, xhrSessions + wsSessions},
		{"opened xhr", total("sockjs_sessions_opened_total", map[string]string{"transport": "xhr"}), xhrSessions},
		{"opened websocket", total("sockjs_sessions_opened_total", map[string]string{"transport": "websocket"}), wsSessions},
		{"closed", closedN, closed},
		{"closed 3000 xhr", total("sockjs_sessions_closed_total", map[string]string{"code": "3000", "transport": "xhr"}), 2},
		{"closed 1000 websocket", total("sockjs_sessions_closed_total", map[string]string{"code": "1000", "transport": "websocket"}), 1},
		{"open gauge", open, opened - closedN},
		{"open gauge vs test", open, xhrSessions + wsSessions - closed},
		{"messages received", total("sockjs_messages_received_total", nil), float64(sent)},
		{"messages received by xhr_send", total("sockjs_messages_received_total", map[string]string{"transport": "xhr_send"}), xhrSessions * perXHR},
		{"messages sent", total("sockjs_messages_sent_total", nil), float64(received)},
		{"bytes sent", total("sockjs_sent_bytes_total", nil), float64(xhrSessions*perXHR*2 + wsSessions*perWS*2 + (xhrSessions+wsSessions)*3)},
		{"broadcasts", total("sockjs_broadcasts_total", nil), 1},
		{"broadcasts of the first node", scrape(t, nodes[0].metrics, "sockjs_broadcasts_total", nil), 1},
		{"2010 answers", total("sockjs_another_connection_total", nil), 0},
		{"slow consumers", total("sockjs_slow_consumer_closes_total", nil), 0},
		{"store errors", total("sockjs_store_errors_total", nil), 0},
		{"bus publish errors", total("sockjs_bus_publish_errors_total", nil), 0},
		{"failed lease renewals", total("sockjs_lease_renewals_total", map[string]string{"result": "failed"}), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := total("sockjs_lease_renewals_total", map[string]string{"result": "ok"}); n < 2 {
		t.Errorf("lease renewals: %v, want at least one per node", n)
	}
	if n := total("sockjs_store_call_duration_seconds_count", map[string]string{"call": "Open"}); n == 0 {
		t.Error("no store Open call timed")
	}
	deadline = time.Now().Add(5 * time.Second)
	for total("sockjs_bus_lag_seconds_count", nil) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := total("sockjs_bus_lag_seconds_count", nil); n < 2 {
		t.Errorf("bus lag samples: %v, want some from each node", n)
	}
}

func TestCodeLabel(t *testing.T) {
	for code, want := range map[int]string{
		0: "expired", 1000: "1000", 1002: "1002", 1008: "1008", 1011: "1011",
		3000: "3000", 3001: "app", 4999: "app", 2010: "other", 5000: "other", -1: "other",
	} {
		if got := sockjsprom.CodeLabel(code); got != want {
			t.Errorf("CodeLabel(%d) = %q, want %q", code, got, want)
		}
	}
}
