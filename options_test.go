package sockjs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

func TestDisabledTransports(t *testing.T) {
	tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{}, sockjs.Options{
		DisabledTransports: []string{sockjs.TransportXHRStreaming, sockjs.TransportJSONP, sockjs.TransportWebSocket},
	})
	id := newID()
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/xhr_streaming"},
		{http.MethodGet, "/jsonp?c=x"},
		{http.MethodPost, "/jsonp_send"},
		{http.MethodGet, "/websocket"},
	} {
		req, _ := http.NewRequest(tc.method, tn.url+"/000/"+id+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404", tc.method, tc.path, resp.StatusCode)
		}
	}
	if got := tn.poll(id); got != "o\n" {
		t.Fatalf("xhr still served: %q", got)
	}
	resp, err := client.Get(tn.url + "/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 200)
	n, _ := resp.Body.Read(b)
	if !strings.Contains(string(b[:n]), `"websocket":false`) {
		t.Fatalf("/info with websocket disabled: %s", b[:n])
	}
}

func TestCORSOrigins(t *testing.T) {
	tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{}, sockjs.Options{CORSOrigins: []string{"https://app.example"}})
	for _, tc := range []struct {
		origin, want string
	}{
		{"https://app.example", "https://app.example"},
		{"https://evil.example", ""},
		{"", "*"},
	} {
		req, _ := http.NewRequest(http.MethodPost, tn.url+"/000/"+newID()+"/xhr", nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("Origin %q: Access-Control-Allow-Origin %q, want %q", tc.origin, got, tc.want)
		}
	}
}

func TestWebSocketOriginPolicy(t *testing.T) {
	tests := []struct {
		name   string
		opts   sockjs.Options
		origin string
		ok     bool
	}{
		{"same origin", sockjs.Options{}, "", true}, // set to the server's own below
		{"foreign refused by default", sockjs.Options{}, "https://evil.example", false},
		{"no origin (not a browser)", sockjs.Options{}, "-", true},
		{"allow-listed", sockjs.Options{WebSocketOrigins: []string{"https://app.example"}}, "https://app.example", true},
		{"not in allow-list", sockjs.Options{WebSocketOrigins: []string{"https://app.example"}}, "https://other.example", false},
		{"custom check", sockjs.Options{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "null" }}, "null", true},
		{"insecure skip", sockjs.Options{InsecureSkipOriginCheck: true}, "https://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{}, tt.opts)
			h := http.Header{}
			switch tt.origin {
			case "":
				h.Set("Origin", tn.srv.URL)
			case "-":
			default:
				h.Set("Origin", tt.origin)
			}
			url := "ws" + strings.TrimPrefix(tn.url, "http") + "/000/" + newID() + "/websocket"
			c, resp, err := websocket.DefaultDialer.Dial(url, h)
			if c != nil {
				c.Close()
			}
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden) {
				t.Fatalf("accepted or not 403: %v", err)
			}
		})
	}
}

func TestRouteOwnStore(t *testing.T) {
	own := storemem.New(storemem.Options{})
	node := sockjs.NewServer(sockjs.Config{Logger: quiet})
	node.Route("a", "/a", sockjs.HandlerFuncs{}, sockjs.Options{Store: own})
	node.Route("b", "/b", sockjs.HandlerFuncs{}, sockjs.Options{})
	srv := httptest.NewServer(node)
	defer srv.Close()
	defer node.Shutdown(context.Background())

	ta := &testNode{t: t, url: srv.URL + "/a"}
	id := newID()
	ta.poll(id)
	ctx := context.Background()
	if _, err := own.Get(ctx, "a", id); err != nil {
		t.Fatalf("route a's session is not in its own store: %v", err)
	}
	if n, err := node.Manager("b").Count(ctx); err != nil || n != 0 {
		t.Fatalf("route b sees %d sessions, %v", n, err)
	}
}

// A raw /websocket session gets broadcasts as bare text messages, like its
// own sends.
func TestRawWebSocketBroadcast(t *testing.T) {
	tn := startNode(t, sockjs.Config{}, sockjs.HandlerFuncs{Message: echo}, sockjs.Options{RawWebSocket: true})
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(tn.url, "http")+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(`plain "text"`)); err != nil {
		t.Fatal(err)
	}
	if got := readWS(t, c); got != `plain "text"` {
		t.Fatalf("echo: %q", got)
	}
	if err := tn.node.Manager("r").Broadcast(context.Background(), "to all"); err != nil {
		t.Fatal(err)
	}
	if got := readWS(t, c); got != "to all" {
		t.Fatalf("broadcast: %q", got)
	}
}
