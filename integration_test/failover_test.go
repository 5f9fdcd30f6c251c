package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/internal/redistest"
	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
	redisstore "github.com/sockjs-cluster/sockjs/store/redis"
)

// TestClusterSentinelFailover runs two nodes on a Sentinel-managed Redis
// (a master, a replica, one sentinel) while echo sessions of both kinds
// exchange numbered messages, and has Sentinel fail the master over to
// the replica in the middle.
//
// What it asserts is what a failover must not break: every session's
// echoes arrive in order and never twice; no session hangs (each either
// carries on through the new master or is told it ended, with a close
// frame or an error status); and both nodes serve new sessions on the new
// master without a restart. Redis replicates asynchronously, so a message
// the old master took in its last moments may be lost with it; the test
// reports how many were.
func TestClusterSentinelFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	master := redistest.Start(t)
	// Two replicas: the one Sentinel promotes, and one that follows the
	// new master at once, so that writes waiting for a replica go on.
	replicas := []*redistest.Server{redistest.Start(t), redistest.Start(t)}
	direct := func(addr string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, r := range replicas {
		if err := direct(r.Addr).ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(master.Port)).Err(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "the replica in sync", func() bool {
			info, _ := direct(r.Addr).Info(ctx, "replication").Result()
			return strings.Contains(info, "master_link_status:up")
		})
	}
	sentinel := redistest.StartSentinel(t, "fo", master)
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr})
	defer sc.Close()
	waitFor(t, 30*time.Second, "the sentinel to know the replicas", func() bool {
		rs, err := sc.Replicas(ctx, "fo").Result()
		return err == nil && len(rs) == 2 && !strings.Contains(fmt.Sprint(rs), "disconnected")
	})

	prefix := "fo" + newID()
	var nodes []string
	for i := 0; i < 2; i++ {
		client := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:    "fo",
			SentinelAddrs: []string{sentinel.Addr},
			DialTimeout:   time.Second,
			ReadTimeout:   2 * time.Second,
			WriteTimeout:  2 * time.Second,
			MaxRetries:    -1,
		})
		bus := redisbus.New(client, redisbus.Options{Prefix: prefix + ":", Logger: quiet})
		node := sockjs.NewServer(sockjs.Config{
			Store: redisstore.New(client, redisstore.Options{
				Prefix: prefix, MinReplicas: 2, ReplicaTimeout: 300 * time.Millisecond,
			}),
			Bus:    bus,
			Logger: quiet,
			NodeID: fmt.Sprintf("node%d", i),
		})
		node.Route("e", "/e", sockjs.HandlerFuncs{Message: func(s *sockjs.Session, m string) {
			_ = s.Send(s.Context(), m)
		}}, sockjs.Options{ReceiverLease: 2 * time.Second, DisconnectDelay: 10 * time.Second, HeartbeatDelay: 2 * time.Second})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: node, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			_ = node.Shutdown(sctx)
			_ = srv.Shutdown(sctx)
			_ = bus.Close()
			_ = client.Close()
		})
		nodes = append(nodes, "http://"+ln.Addr().String())
	}

	// Each session's loop sends 1, 2, 3, ... and records what comes back.
	type outcome struct {
		name          string
		sent, got     []int
		afterFailover int    // echoes received after the failover began
		ended         string // how the session ended, if it did
		bad           string // an echo out of order or twice
		trace         []string
		lastEcho      atomic.Int64 // when the last echo came (unix ns), read by the test
		over          atomic.Bool  // ended is set
	}
	end := func(o *outcome, how string) {
		o.ended = how
		o.over.Store(true)
	}
	var failedOver time.Time
	start0 := time.Now()
	var foMu sync.Mutex
	since := func() bool {
		foMu.Lock()
		defer foMu.Unlock()
		return !failedOver.IsZero()
	}
	record := func(o *outcome, n int) {
		if len(o.got) > 0 && n <= o.got[len(o.got)-1] && o.bad == "" {
			foMu.Lock()
			at := time.Since(failedOver)
			foMu.Unlock()
			o.bad = fmt.Sprintf("echo %d after %d, %v after the failover began", n, o.got[len(o.got)-1], at)
		}
		o.got = append(o.got, n)
		o.lastEcho.Store(time.Now().UnixNano())
		if since() {
			o.afterFailover++
		}
	}
	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	var outcomes []*outcome
	for i := 0; i < 3; i++ { // polling sessions: send on one node, poll on the other
		o := &outcome{name: fmt.Sprintf("xhr-%d", i)}
		outcomes = append(outcomes, o)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := newID()
			if code, body := do(t, http.MethodPost, nodes[i%2]+"/e/000/"+id+"/xhr", ""); code != 200 || body != "o\n" {
				end(o, fmt.Sprintf("open: %d %q", code, body))
				return
			}
			for n := 1; !stopped() && o.ended == ""; n++ {
				code, _ := do(t, http.MethodPost, nodes[n%2]+"/e/000/"+id+"/xhr_send", fmt.Sprintf(`["%d"]`, n))
				if code != http.StatusNoContent {
					o.trace = append(o.trace, fmt.Sprintf("%v send %d on %d: %d", time.Since(start0).Round(time.Millisecond), n, n%2, code))
					if code == http.StatusNotFound {
						end(o, "xhr_send 404")
					}
					time.Sleep(100 * time.Millisecond) // the store may be failing over
					continue
				}
				o.sent = append(o.sent, n)
				for waited := 0; waited < 3; waited++ { // until the echo, or a heartbeat or two
					code, body := do(t, http.MethodPost, nodes[(n+1)%2]+"/e/000/"+id+"/xhr", "")
					if code != 200 || !strings.HasPrefix(body, "a") {
						o.trace = append(o.trace, fmt.Sprintf("%v poll for %d on %d: %d %q", time.Since(start0).Round(time.Millisecond), n, (n+1)%2, code, body))
					}
					if code != 200 {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					if strings.HasPrefix(body, "c[") {
						end(o, strings.TrimSpace(body))
						break
					}
					if strings.HasPrefix(body, "a") {
						var msgs []string
						_ = json.Unmarshal([]byte(body[1:]), &msgs)
						for _, m := range msgs {
							v, _ := strconv.Atoi(m)
							record(o, v)
						}
						if len(o.got) > 0 && o.got[len(o.got)-1] >= n {
							break
						}
					}
				}
			}
		}(i)
	}
	for i := 0; i < 2; i++ { // websocket sessions, one per node
		o := &outcome{name: fmt.Sprintf("ws-%d", i)}
		outcomes = append(outcomes, o)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(nodes[i], "http")+"/e/000/"+newID()+"/websocket", nil)
			if err != nil {
				end(o, err.Error())
				return
			}
			defer c.Close()
			for n := 1; !stopped(); n++ {
				if err := c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`["%d"]`, n))); err != nil {
					end(o, "write: "+err.Error())
					return
				}
				o.sent = append(o.sent, n)
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					_, b, err := c.ReadMessage()
					if err != nil {
						end(o, "read: "+err.Error())
						return
					}
					f := string(b)
					if strings.HasPrefix(f, "c[") {
						end(o, f)
						return
					}
					if strings.HasPrefix(f, "a") {
						var msgs []string
						_ = json.Unmarshal(b[1:], &msgs)
						for _, m := range msgs {
							v, _ := strconv.Atoi(m)
							record(o, v)
						}
						if o.got[len(o.got)-1] >= n {
							break
						}
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		}(i)
	}

	time.Sleep(2 * time.Second)
	foMu.Lock()
	failedOver = time.Now()
	foMu.Unlock()
	t.Logf("failover at %v", time.Since(start0).Round(time.Millisecond))
	if err := sc.Failover(ctx, "fo").Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	waitFor(t, 30*time.Second, "a replica promoted", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, "fo").Result()
		return err == nil && len(addr) == 2 && addr[1] != strconv.Itoa(master.Port)
	})
	t.Logf("failover done %v after SENTINEL FAILOVER", time.Since(failedOver).Round(time.Millisecond))
	// Both nodes serve new sessions on the new master.
	for _, u := range nodes {
		waitFor(t, 30*time.Second, "a new session on "+u, func() bool {
			id := newID()
			code, body := do(t, http.MethodPost, u+"/e/000/"+id+"/xhr", "")
			if code != 200 || body != "o\n" {
				return false
			}
			if code, _ := do(t, http.MethodPost, u+"/e/000/"+id+"/xhr_send", `["fresh"]`); code != http.StatusNoContent {
				return false
			}
			_, body = do(t, http.MethodPost, u+"/e/000/"+id+"/xhr", "")
			return body == "a[\"fresh\"]\n"
		})
	}
	// Every session carries on through the new master, or is told that it
	// ended, within a bounded time.
	settled := time.Now()
	waitFor(t, 20*time.Second, "every session to carry on or end", func() bool {
		for _, o := range outcomes {
			if o.lastEcho.Load() < settled.UnixNano() && !o.over.Load() {
				return false
			}
		}
		return true
	})
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a session's loop hangs after the failover")
	}
	lost := 0
	for _, o := range outcomes {
		if o.bad != "" {
			t.Errorf("%s: %s (%d echoes)", o.name, o.bad, len(o.got))
		}
		seen := map[int]bool{}
		for _, v := range o.got {
			seen[v] = true
		}
		missing := 0
		for _, v := range o.sent {
			if !seen[v] && (len(o.got) == 0 || v < o.got[len(o.got)-1]) {
				missing++
			}
		}
		lost += missing
		if len(o.trace) > 0 {
			t.Logf("%s trace: %q", o.name, o.trace)
		}
		t.Logf("%s: sent %d, echoed %d (%d after the failover), lost before the last echo %d, ended %q",
			o.name, len(o.sent), len(o.got), o.afterFailover, missing, o.ended)
	}
	t.Logf("messages lost with the old master: %d", lost)
}
