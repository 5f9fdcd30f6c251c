package integration_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/sockjs-cluster/sockjs"
)

// TestRedisRoundTrips counts the Redis commands (each one round trip: the
// store runs one script per call) spent per echoed message on each
// transport, with every request of a session going to the next node. The
// counts are deterministic but for the nodes' background reapers (one call
// per node a second), hence a tolerance of 0.1; the test logs them and holds
// each transport to the number it has today, so a regression fails.
func TestRedisRoundTrips(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{}))
	const n = 60
	// measure counts what run spends after setup returns.
	measure := func(name string, max float64, setup func() func()) {
		t.Helper()
		run := setup()
		before := c.commands()
		run()
		per := float64(c.commands()-before) / n
		t.Logf("%-28s %.2f Redis round trips per echoed message", name, per)
		if per > max+0.1 {
			t.Errorf("%s: %.2f round trips per message, want at most %.2f", name, per, max)
		}
	}

	measure("websocket (own node)", 0, func() func() {
		ws := dialWS(t, c.nodes[0].url, "r", newID())
		return func() {
			for i := 0; i < n; i++ {
				if err := ws.WriteMessage(websocket.TextMessage, []byte(`["m`+strconv.Itoa(i)+`"]`)); err != nil {
					t.Fatal(err)
				}
				if f := readWS(t, ws); f != `a["m`+strconv.Itoa(i)+`"]` {
					t.Fatalf("websocket echo: %q", f)
				}
			}
		}
	})

	measure("xhr-polling (send, poll)", 2, func() func() {
		id := newID()
		poll(t, c.url(), "r", id)
		send(t, c.url(), "r", id, `["warm-up"]`) // loads the scripts
		poll(t, c.url(), "r", id)
		return func() {
			for i := 0; i < n; i++ {
				send(t, c.url(), "r", id, `["m`+strconv.Itoa(i)+`"]`)
				if got := messages(t, poll(t, c.url(), "r", id)); len(got) != 1 {
					t.Fatalf("poll: %v", got)
				}
			}
		}
	})

	// The push, the PUBLISH of the offer to the receiver's node (when
	// remote), and the receiver's acknowledgement before it writes (which
	// fences a paused node: see TestFrozenNodeNeverDeliversTwice).
	measure("xhr-streaming (send, frame)", 2.75, func() func() {
		id := newID()
		st := openStream(t, c.nodes[0].url, "r", id)
		st.next()
		return func() {
			for i := 0; i < n; i++ {
				send(t, c.url(), "r", id, `["m`+strconv.Itoa(i)+`"]`)
				if got := messages(t, st.next()); len(got) != 1 {
					t.Fatalf("stream: %v", got)
				}
			}
		}
	})

}

// TestRedisRoundTripsBroadcast: one store write and one bus message per
// broadcast, whatever the number of sessions (here 30 websockets spread
// over 3 nodes).
func TestRedisRoundTripsBroadcast(t *testing.T) {
	var a app
	c := startCluster(t, 3, a.setup(sockjs.Options{}))
	var wss []*websocket.Conn
	for i := 0; i < 30; i++ {
		wss = append(wss, dialWS(t, c.url(), "r", newID()))
	}
	if err := c.nodes[0].node.Manager("r").Broadcast(context.Background(), "warm-up"); err != nil {
		t.Fatal(err)
	}
	for _, ws := range wss {
		readWS(t, ws)
	}
	before := c.commands()
	const broadcasts = 100 // enough for background work (reaps, lease renewals) to count for little
	for i := 0; i < broadcasts; i++ {
		if err := c.nodes[i%3].node.Manager("r").Broadcast(context.Background(), fmt.Sprint("b", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, ws := range wss {
		var got []string
		for len(got) < broadcasts {
			got = append(got, messages(t, readWS(t, ws))...)
		}
	}
	per := float64(c.commands()-before) / broadcasts
	t.Logf("%-28s %.2f Redis commands per broadcast to 30 websocket sessions", "broadcast", per)
	if per > 2.1 {
		t.Errorf("broadcast: %.2f commands, want at most 2 (one store write, one PUBLISH)", per)
	}
}
