package sockjs_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
)

// TestAuthorize: a request that would open a session is refused with 403
// before anything is stored, on every transport; an allowed one opens, and
// requests of an open session are not authorized again.
func TestAuthorize(t *testing.T) {
	rec := newRecorder()
	logs := &captured{}
	tn := startNode(t, sockjs.Config{Logger: logs.logger()}, rec.handler(echo), sockjs.Options{
		RawWebSocket: true,
		Authorize: func(r *http.Request) error {
			if r.Header.Get("X-Token") != "ok" && r.URL.Query().Get("token") != "ok" {
				return errors.New("no token")
			}
			return nil
		},
	})
	ctx := context.Background()
	m := tn.node.Manager("r")
	wsURL := "ws" + strings.TrimPrefix(tn.url, "http")
	refused := []struct {
		name string
		do   func(id string) (int, string)
	}{
		{"xhr", func(id string) (int, string) { return post(t, tn.url+"/000/"+id+"/xhr", "") }},
		{"xhr_streaming", func(id string) (int, string) { return post(t, tn.url+"/000/"+id+"/xhr_streaming", "") }},
		{"websocket", func(id string) (int, string) {
			c, resp, err := websocket.DefaultDialer.Dial(wsURL+"/000/"+id+"/websocket", nil)
			if err == nil {
				c.Close()
				return 101, ""
			}
			return resp.StatusCode, ""
		}},
		{"raw websocket", func(string) (int, string) {
			c, resp, err := websocket.DefaultDialer.Dial(wsURL+"/websocket", nil)
			if err == nil {
				c.Close()
				return 101, ""
			}
			return resp.StatusCode, ""
		}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			id := newID()
			code, body := tc.do(id)
			if code != http.StatusForbidden {
				t.Fatalf("status %d, body %q; want 403", code, body)
			}
			if strings.Contains(body, "o\n") || strings.Contains(body, "no token") {
				t.Errorf("body %q", body)
			}
			if _, err := m.Session(ctx, id); !errors.Is(err, sockjs.ErrSessionNotFound) {
				t.Errorf("Session(%s) after a refusal: %v", id, err)
			}
			if n, err := m.Count(ctx); n != 0 || err != nil {
				t.Errorf("Count = %d, %v; want 0", n, err)
			}
		})
	}
	rec.mu.Lock()
	opened := len(rec.opened)
	rec.mu.Unlock()
	if opened != 0 {
		t.Fatalf("OnOpen ran %d times for refused requests", opened)
	}
	// Logged at Info, not Warn, and rate-limited: one line for four refusals.
	if got := logs.find("sockjs: session refused by Authorize (answered 403)"); len(got) != 1 || got[0].level != slog.LevelInfo || got[0].attrs["err"] != "no token" {
		t.Errorf("refusal logs: %+v", got)
	}

	t.Run("allowed", func(t *testing.T) {
		id := newID()
		req, _ := http.NewRequest(http.MethodPost, tn.url+"/000/"+id+"/xhr", nil)
		req.Header.Set("X-Token", "ok")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("allowed poll: %d", resp.StatusCode)
		}
		// The open session's next requests carry no token and pass.
		tn.send(id, `["x"]`)
		if f := tn.poll(id); f != `a["x"]`+"\n" {
			t.Fatalf("poll: %q", f)
		}
		c, _, err := websocket.DefaultDialer.Dial(wsURL+"/000/"+newID()+"/websocket", http.Header{"X-Token": {"ok"}})
		if err != nil {
			t.Fatalf("allowed websocket: %v", err)
		}
		defer c.Close()
		if f := readWS(t, c); f != "o" {
			t.Fatalf("allowed websocket: %q", f)
		}
		if n, err := m.Count(ctx); n != 2 || err != nil {
			t.Errorf("Count = %d, %v; want 2", n, err)
		}
	})
}

// TestOriginRefusalLog: a websocket refused for its origin leaves one log
// line per interval per route, with the origin, the reason and the count
// of refusals left out since the previous line.
func TestOriginRefusalLog(t *testing.T) {
	logs := &captured{}
	tn := startNode(t, sockjs.Config{Logger: logs.logger()}, newRecorder().handler(nil), sockjs.Options{})
	const msg = "sockjs: websocket refused for its origin; the client falls back to another transport"
	dial := func() {
		t.Helper()
		url := "ws" + strings.TrimPrefix(tn.url, "http") + "/000/" + newID() + "/websocket"
		c, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"https://evil.example"}})
		if err == nil {
			c.Close()
			t.Fatal("websocket from a foreign origin accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial: %v", err)
		}
	}
	for i := 0; i < 5; i++ {
		dial()
	}
	got := logs.find(msg)
	if len(got) != 1 {
		t.Fatalf("%d log lines for 5 refusals, want 1: %+v", len(got), got)
	}
	r := got[0]
	if r.level != slog.LevelWarn || r.attrs["origin"] != "https://evil.example" || r.attrs["route"] != "r" ||
		!strings.Contains(r.attrs["why"], "WebSocketOrigins") || r.attrs["suppressed"] != "0" {
		t.Errorf("log line: %+v", r)
	}
	sockjs.ExpireRefusalLogs(tn.node)
	dial()
	got = logs.find(msg)
	if len(got) != 2 || got[1].attrs["suppressed"] != "4" {
		t.Fatalf("after the interval: %+v", got)
	}
	// A same-origin page is not refused and not logged.
	url := "ws" + strings.TrimPrefix(tn.url, "http") + "/000/" + newID() + "/websocket"
	c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {tn.url[:strings.LastIndex(tn.url, "/")]}})
	if err != nil {
		t.Fatalf("same-origin websocket: %v", err)
	}
	c.Close()
	if n := len(logs.find(msg)); n != 2 {
		t.Errorf("%d log lines after an accepted origin", n)
	}
}

func TestManagerOfUnknownRoute(t *testing.T) {
	node := sockjs.NewServer(sockjs.Config{Logger: quiet})
	defer node.Shutdown(context.Background())
	ctx := context.Background()
	m := node.Manager("typo")
	if m == nil || m.Name() != "typo" {
		t.Fatalf("Manager(typo) = %v", m)
	}
	err := m.Broadcast(ctx, "x")
	if !errors.Is(err, sockjs.ErrUnknownRoute) || !strings.Contains(err.Error(), `"typo"`) {
		t.Fatalf("Broadcast = %v, want ErrUnknownRoute naming the route", err)
	}
	if _, err := m.Count(ctx); !errors.Is(err, sockjs.ErrUnknownRoute) {
		t.Errorf("Count = %v", err)
	}
	if _, err := m.Session(ctx, "x"); !errors.Is(err, sockjs.ErrUnknownRoute) {
		t.Errorf("Session = %v", err)
	}
	if _, err := m.Sessions(ctx); !errors.Is(err, sockjs.ErrUnknownRoute) {
		t.Errorf("Sessions = %v", err)
	}
	if err := m.Close(ctx, 3000, "x"); !errors.Is(err, sockjs.ErrUnknownRoute) {
		t.Errorf("Close = %v", err)
	}
	// Taken before its route existed, it works once the route is added.
	node.Route("typo", "/typo", sockjs.HandlerFuncs{}, sockjs.Options{})
	if n, err := m.Count(ctx); n != 0 || err != nil {
		t.Errorf("Count after the route was added = %d, %v", n, err)
	}
	if err := m.Broadcast(ctx, "x"); err != nil {
		t.Errorf("Broadcast after the route was added = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name, nodeID string
		buffered     int64
		want         string
	}{
		{"empty", "", 0, ""},
		{"plain", "node-1.example", 0, ""},
		{"slash", "a/b", 0, "NodeID"},
		{"space", "a b", 0, "NodeID"},
		{"tab", "a\tb", 0, "NodeID"},
		{"control", "a\x01", 0, "NodeID"},
		{"newline", "a\n", 0, "NodeID"},
		{"buffer budget", "", 1 << 20, ""},
		{"negative buffer budget", "", -1, "MaxBufferedBytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sockjs.Config{NodeID: tc.nodeID, MaxBufferedBytes: tc.buffered}.Validate()
			checkValidation(t, err, tc.want)
			if tc.want == "" {
				return
			}
			defer func() {
				p := recover()
				if perr, ok := p.(error); !ok || perr.Error() != err.Error() {
					t.Errorf("NewServer panicked with %v, want %v", p, err)
				}
			}()
			sockjs.NewServer(sockjs.Config{NodeID: tc.nodeID, MaxBufferedBytes: tc.buffered})
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts sockjs.Options
		want string // a substring of the error; "" for valid options
	}{
		{"zero", sockjs.Options{}, ""},
		{"defaults spelled out", sockjs.Options{HeartbeatDelay: time.Second, MaxQueue: 10, DisabledTransports: []string{sockjs.TransportXHR, "jsonp"}}, ""},
		{"negative HeartbeatDelay", sockjs.Options{HeartbeatDelay: -1}, "Options.HeartbeatDelay"},
		{"negative DisconnectDelay", sockjs.Options{DisconnectDelay: -time.Second}, "Options.DisconnectDelay"},
		{"negative SendTimeout", sockjs.Options{SendTimeout: -1}, "Options.SendTimeout"},
		{"negative MessageTimeout", sockjs.Options{MessageTimeout: -1}, "Options.MessageTimeout"},
		{"negative WriteTimeout", sockjs.Options{WriteTimeout: -1}, "Options.WriteTimeout"},
		{"negative ReceiverLease", sockjs.Options{ReceiverLease: -1}, "Options.ReceiverLease"},
		{"negative ResponseLimit", sockjs.Options{ResponseLimit: -1}, "Options.ResponseLimit"},
		{"negative MaxBodySize", sockjs.Options{MaxBodySize: -1}, "Options.MaxBodySize"},
		{"negative MaxSessionID", sockjs.Options{MaxSessionID: -1}, "Options.MaxSessionID"},
		{"negative MaxMessageSize", sockjs.Options{MaxMessageSize: -1}, "Options.MaxMessageSize"},
		{"negative MaxQueue", sockjs.Options{MaxQueue: -1}, "Options.MaxQueue"},
		{"negative MaxQueueBytes", sockjs.Options{MaxQueueBytes: -1}, "Options.MaxQueueBytes"},
		{"negative MaxStoredRequest", sockjs.Options{MaxStoredRequest: -1}, "Options.MaxStoredRequest"},
		{"misspelled transport", sockjs.Options{DisabledTransports: []string{"xhr-polling"}},
			`Options.DisabledTransports: unknown transport "xhr-polling"; valid names are websocket, xhr, xhr_streaming, eventsource, htmlfile, jsonp`},
		{"xhr_send is not a transport name", sockjs.Options{DisabledTransports: []string{"xhr_send"}}, "Options.DisabledTransports"},
		{"origin with a trailing slash", sockjs.Options{WebSocketOrigins: []string{"https://app.example/"}}, "Options.WebSocketOrigins"},
		{"origin without a scheme", sockjs.Options{WebSocketOrigins: []string{"app.example"}}, "Options.WebSocketOrigins"},
		{"origin with a path", sockjs.Options{WebSocketOrigins: []string{"https://app.example/chat"}}, "Options.WebSocketOrigins"},
		{"good origins", sockjs.Options{WebSocketOrigins: []string{"https://app.example", "http://localhost:8080"}, CORSOrigins: []string{"null", "https://a.example"}}, ""},
		{"star CORS origin", sockjs.Options{CORSOrigins: []string{"*"}}, "Options.CORSOrigins"},
		{"null origin", sockjs.Options{WebSocketOrigins: []string{"null"}}, ""},
		{"star websocket origin", sockjs.Options{WebSocketOrigins: []string{"*"}}, "Options.WebSocketOrigins"},
		{"empty header name", sockjs.Options{RequestHeaders: []string{""}}, "Options.RequestHeaders"},
		{"header name with a colon", sockjs.Options{RequestHeaders: []string{"X-A:"}}, "Options.RequestHeaders"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkValidation(t, tc.opts.Validate(), tc.want)
		})
	}
	t.Run("several problems in one error", func(t *testing.T) {
		err := sockjs.Options{MaxQueue: -1, HeartbeatDelay: -1}.Validate()
		checkValidation(t, err, "Options.MaxQueue")
		checkValidation(t, err, "Options.HeartbeatDelay")
	})
}

func checkValidation(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && (!strings.HasPrefix(err.Error(), "sockjs: ") || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %q: want it to start with \"sockjs: \" and contain %q", err, want)
	}
}

func TestRouteValidation(t *testing.T) {
	node := sockjs.NewServer(sockjs.Config{Logger: quiet})
	defer node.Shutdown(context.Background())
	ctx := context.Background()
	h := sockjs.HandlerFuncs{}
	tests := []struct {
		name, route, prefix string
		opts                sockjs.Options
		want                string
	}{
		{"prefix without a slash", "a", "chat", sockjs.Options{}, `prefix "chat" must start with '/'`},
		{"empty name", "", "/b", sockjs.Options{}, "route name is empty"},
		{"invalid options", "c", "/c", sockjs.Options{DisabledTransports: []string{"xhr-polling"}}, "Options.DisabledTransports"},
		{"root prefix", "root", "", sockjs.Options{}, ""},
		{"slash prefix is the root too", "root2", "/", sockjs.Options{}, "already used"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := node.RouteContext(ctx, tc.route, tc.prefix, h, tc.opts)
			checkValidation(t, err, tc.want)
		})
	}
	t.Run("Route panics", func(t *testing.T) {
		defer func() {
			if p, _ := recover().(error); p == nil || !strings.Contains(p.Error(), "Options.MaxQueue") {
				t.Errorf("Route panicked with %v", p)
			}
		}()
		node.Route("d", "/d", h, sockjs.Options{MaxQueue: -5})
	})
}
