package integration_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
)

// closes records what each OnClose saw, and on which node.
type closes struct {
	mu   sync.Mutex
	seen map[string][]closeSeen
}

type closeSeen struct {
	node  string
	ce    sockjs.CloseError
	owner string
}

func (c *closes) get(id string) []closeSeen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]closeSeen(nil), c.seen[id]...)
}

// once waits for OnClose of id and checks that it ran once, on node when
// node is not empty, with cause and owner.
func (c *closes) once(t *testing.T, id, node string, cause sockjs.CloseCause, owner string) closeSeen {
	t.Helper()
	waitFor(t, 10*time.Second, "OnClose of "+id, func() bool { return len(c.get(id)) > 0 })
	time.Sleep(300 * time.Millisecond) // a second OnClose would show by now
	got := c.get(id)
	if len(got) != 1 {
		t.Fatalf("OnClose(%s) ran %d times: %+v", id, len(got), got)
	}
	s := got[0]
	if s.ce.Cause != cause || s.owner != owner || (node != "" && s.node != node) {
		t.Fatalf("OnClose(%s): %+v; want cause %v, owner %q, node %q", id, s, cause, owner, node)
	}
	return s
}

// TestClusterCloseCauses: over Redis, OnClose learns why a session closed
// and whose it was, on whichever node runs it, once; Authorize refuses
// before anything is stored.
func TestClusterCloseCauses(t *testing.T) {
	var cl closes
	cl.seen = map[string][]closeSeen{}
	c := startCluster(t, 2, func(ctx context.Context, node *sockjs.Server) {
		node.Route("r", "/r", sockjs.HandlerFuncs{
			Close: func(s *sockjs.Session) {
				cs := closeSeen{node: node.NodeID(), owner: s.Owner()}
				var ce *sockjs.CloseError
				if errors.As(s.Err(), &ce) {
					cs.ce = *ce
				}
				cl.mu.Lock()
				cl.seen[s.ID()] = append(cl.seen[s.ID()], cs)
				cl.mu.Unlock()
			},
		}, sockjs.Options{
			DisconnectDelay: time.Second,
			ReceiverLease:   time.Second,
			SessionOwner:    func(r *http.Request) string { return r.Header.Get("X-User") },
			Authorize: func(r *http.Request) error {
				if r.Header.Get("X-User") == "" {
					return errors.New("anonymous")
				}
				return nil
			},
		})
	})
	a, b := c.nodes[0], c.nodes[1]
	ctx := context.Background()
	alice := http.Header{"X-User": {"alice"}}
	wsURL := func(n *clusterNode, id string) string {
		return "ws" + strings.TrimPrefix(n.url, "http") + "/r/000/" + id + "/websocket"
	}

	t.Run("refused", func(t *testing.T) {
		id := newID()
		if code, body := do(t, http.MethodPost, a.url+"/r/000/"+id+"/xhr", ""); code != http.StatusForbidden {
			t.Fatalf("anonymous poll: %d %q", code, body)
		}
		_, resp, err := websocket.DefaultDialer.Dial(wsURL(b, id), nil)
		if err == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("anonymous websocket: %v", err)
		}
		if _, err := b.node.Manager("r").Session(ctx, id); !errors.Is(err, sockjs.ErrSessionNotFound) {
			t.Fatalf("a refused session is in the store: %v", err)
		}
	})
	t.Run("application closes another node's websocket", func(t *testing.T) {
		id := newID()
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(b, id), alice)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if f := readWS(t, ws); f != "o" {
			t.Fatalf("open: %q", f)
		}
		s, err := a.node.Manager("r").Session(ctx, id)
		if err != nil || s.Owner() != "alice" {
			t.Fatalf("Session on a: Owner %q, %v", s.Owner(), err)
		}
		if err := s.Close(ctx, 4001, "bye"); err != nil {
			t.Fatal(err)
		}
		if f := readWS(t, ws); f != `c[4001,"bye"]` {
			t.Fatalf("websocket got %q", f)
		}
		got := cl.once(t, id, a.id, sockjs.CauseApplication, "alice")
		if got.ce.Code != 4001 || got.ce.Reason != "bye" {
			t.Fatalf("OnClose saw %+v", got.ce)
		}
	})
	t.Run("client", func(t *testing.T) {
		id := newID()
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(b, id), alice)
		if err != nil {
			t.Fatal(err)
		}
		if f := readWS(t, ws); f != "o" {
			t.Fatalf("open: %q", f)
		}
		_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		ws.Close()
		cl.once(t, id, b.id, sockjs.CauseClient, "alice")
	})
	t.Run("expired on the other node", func(t *testing.T) {
		id := newID()
		req, _ := http.NewRequest(http.MethodPost, a.url+"/r/000/"+id+"/xhr", nil)
		req.Header = alice.Clone()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("poll: %d", resp.StatusCode)
		}
		a.stop()
		got := cl.once(t, id, b.id, sockjs.CauseExpired, "alice")
		if got.ce.Code != 0 {
			t.Fatalf("OnClose saw %+v", got.ce)
		}
	})
}
