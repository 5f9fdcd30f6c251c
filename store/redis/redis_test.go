package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
	"github.com/sockjs-cluster/sockjs/store"
	"github.com/sockjs-cluster/sockjs/store/memory"
	"github.com/sockjs-cluster/sockjs/store/storetest"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

// quietLogger drops go-redis's reports of failed dials, which the tests
// stopping Redis cause by the hundred.
type quietLogger struct{}

func (quietLogger) Printf(_ context.Context, format string, v ...any) {
	if msg := fmt.Sprintf(format, v...); !strings.Contains(msg, "failed to dial") {
		fmt.Fprintln(os.Stderr, msg)
	}
}

var bg = context.Background()

var prefixes atomic.Int64

// uniquePrefix gives each store of a test run its own key space.
func uniquePrefix(name string) string {
	return fmt.Sprintf("t%d-%s", prefixes.Add(1), name)
}

func newClient(t testing.TB, opt *redis.Options) *redis.Client {
	t.Helper()
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestContract runs the conformance suite against a real redis-server.
func TestContract(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	storetest.Run(t, func(*testing.T) store.Store {
		return New(c, Options{Prefix: uniquePrefix("contract")})
	})
}

// TestContractMiniredis runs the conformance suite against miniredis, which
// supports every command and Lua feature the scripts use.
func TestContractMiniredis(t *testing.T) {
	m := miniredis.RunT(t)
	c := newClient(t, &redis.Options{Addr: m.Addr()})
	storetest.Run(t, func(*testing.T) store.Store {
		return New(c, Options{Prefix: uniquePrefix("mini")})
	})
}

// TestContractCluster runs the conformance suite through a ClusterClient
// against a one-node Redis Cluster, which rejects a script whose keys are
// not all in one slot.
func TestContractCluster(t *testing.T) {
	addr := startCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	t.Cleanup(func() { _ = c.Close() })
	storetest.Run(t, func(*testing.T) store.Store {
		return New(c, Options{Prefix: uniquePrefix("cluster")})
	})
}

func TestOptionsDefaults(t *testing.T) {
	got := New(nil, Options{}).opts
	want := Options{Prefix: "sockjs", MaxQueue: 10000, BroadcastRetention: time.Minute, MaxBroadcastLog: 100000, KeyTTL: time.Hour, Pipelines: 4, MaxQueueBytes: 1 << 20, MaxBroadcastBytes: 16 << 20, ReplicaTimeout: 500 * time.Millisecond}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	custom := Options{Prefix: "p", MaxQueue: 1, BroadcastRetention: time.Second, MaxBroadcastLog: 2, KeyTTL: time.Minute, Pipelines: -1, MaxQueueBytes: 3, MaxBroadcastBytes: 4, ReplicaTimeout: time.Second}
	if got := New(nil, custom).opts; got != custom {
		t.Fatalf("custom options = %+v, want %+v", got, custom)
	}
}

// crc16 is CRC-16/XMODEM, Redis Cluster's key hash.
func crc16(b string) uint16 {
	var crc uint16
	for i := 0; i < len(b); i++ {
		crc ^= uint16(b[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keySlot is Redis Cluster's slot of a key, hash tags included.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) % 16384
}

var oddRoutes = []string{"", "/echo", "%", "%25", "{", "%7B", "}", "%7D", "a}b{c", "{}", "}{", "route with spaces", "\xff\x00"}

func TestRouteTag(t *testing.T) {
	if got := keySlot("123456789"); got != 0x31C3%16384 {
		t.Fatalf("keySlot self-check = %d", got)
	}
	s := New(nil, Options{Prefix: "p"})
	tags := make(map[string]string)
	for _, route := range oddRoutes {
		tag := routeTag(route)
		if tag == "" || strings.ContainsAny(tag, "{}") {
			t.Fatalf("routeTag(%q) = %q: empty or with a brace", route, tag)
		}
		if other, dup := tags[tag]; dup {
			t.Fatalf("routeTag(%q) = routeTag(%q) = %q", route, other, tag)
		}
		tags[tag] = route
		// Every key of the route, the ones Reap builds included, is in the
		// slot of the tag, whatever bytes the session id has.
		want := crc16(tag) % 16384
		for _, id := range []string{"", "a", "}", "{x}", "a:b", "\xff\x01"} {
			keys := append(s.sessionKeys(route, id), s.routeKeys(route)...)
			keys = append(keys, s.base(route)+"s:"+id, s.base(route)+"q:"+id, s.base(route)+"v:"+id)
			for _, k := range keys {
				if got := keySlot(k); got != want {
					t.Fatalf("route %q id %q: key %q in slot %d, want %d", route, id, k, got, want)
				}
			}
		}
	}
}

func TestMillis(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1}, {1500 * time.Microsecond, 2}, {time.Minute, 60000}} {
		if got := millis(tc.d); got != tc.want {
			t.Errorf("millis(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

// checkKeys scans the prefix's keys, fails on any without a TTL (and, with
// slots, on any outside its route's slot), and returns how many there are.
func checkKeys(t *testing.T, admin *redis.Client, s *Store, routes []string, slots bool) int {
	t.Helper()
	n := 0
	iter := admin.Scan(bg, 0, s.opts.Prefix+":*", 1000).Iterator()
	for iter.Next(bg) {
		k := iter.Val()
		pttl, err := admin.Do(bg, "PTTL", k).Int64()
		if err != nil {
			t.Fatalf("PTTL %q: %v", k, err)
		}
		if pttl == -2 {
			continue // gone since the SCAN
		}
		n++
		if pttl < 0 {
			t.Fatalf("key %q has no TTL", k)
		}
		if !slots {
			continue
		}
		i := slices.IndexFunc(routes, func(r string) bool { return strings.HasPrefix(k, s.base(r)) })
		if i < 0 {
			t.Fatalf("key %q belongs to no route", k)
		}
		got, err1 := admin.ClusterKeySlot(bg, k).Result()
		want, err2 := admin.ClusterKeySlot(bg, s.base(routes[i])).Result()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("CLUSTER KEYSLOT: %v", err)
		}
		if got != want {
			t.Fatalf("key %q in slot %d, its route's slot is %d", k, got, want)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return n
}

// TestKeySpace: after every session has expired and been reaped, the
// prefix holds no key; until then every key has a TTL.
func TestKeySpace(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	testKeySpace(t, c, c, false)
}

// TestKeySpaceCluster is TestKeySpace on a one-node Redis Cluster, checking
// too that every key is in its route's slot.
func TestKeySpaceCluster(t *testing.T) {
	addr := startCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	t.Cleanup(func() { _ = cc.Close() })
	testKeySpace(t, cc, newClient(t, &redis.Options{Addr: addr}), true)
}

func testKeySpace(t *testing.T, client redis.UniversalClient, admin *redis.Client, slots bool) {
	s := New(client, Options{Prefix: uniquePrefix("keyspace")})
	routes := []string{"/echo", "a}b{c%", ""}
	const (
		perRoute = 60
		idle     = 300 * time.Millisecond
		lease    = 200 * time.Millisecond
	)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	kinds := make(map[string]int)
	for _, route := range routes {
		// Node n's lease lapses: the sessions it holds expire then.
		if _, err := s.RenewNode(bg, route, "n", store.NodeRequest{Lease: lease}); err != nil {
			t.Fatalf("RenewNode: %v", err)
		}
		for i := range perRoute {
			id := fmt.Sprintf("s%d:}{\xff*", i)
			kinds[route+"\x00"+id] = i % 4
			switch i % 4 {
			case 0: // xhr polling: attach, push, poll, release
				_, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: idle, Receiver: "r", Holder: "n", Pull: true, ReleaseIfData: true})
				must("Open(create)", err)
				_, err = s.Push(bg, route, id, []string{"u1", "u2"})
				must("Push", err)
				must("Release", s.Release(bg, route, id, "r", idle))
				_, err = s.Open(bg, route, id, store.OpenRequest{Receiver: "r2", Holder: "n", Idle: idle, Pull: true, ReleaseIfData: true})
				must("Open(poll)", err)
				must("Release", s.Release(bg, route, id, "r2", idle))
			case 1: // closed with a message pending
				_, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: idle})
				must("Open(create)", err)
				_, err = s.Push(bg, route, id, []string{"u"})
				must("Push", err)
				_, _, err = s.CloseSession(bg, route, id, 3000, "Go away!", idle)
				must("Close", err)
			case 2: // node-bound (websocket)
				_, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: idle, Node: "node-1", Receiver: "ws", Holder: "n"})
				must("Open(create)", err)
				_, err = s.Push(bg, route, id, []string{"u"})
				must("Push", err)
				_, err = s.Pull(bg, route, id, store.PullRequest{Receiver: "ws", Idle: idle})
				must("Pull", err)
			case 3: // values, a streaming hold left to lapse
				_, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: idle, Meta: []byte("meta")})
				must("Open(create)", err)
				must("SetValue", s.SetValue(bg, route, id, "k", "v"))
				_, err = s.Open(bg, route, id, store.OpenRequest{Receiver: "r", Holder: "n", Idle: idle, Pull: true})
				must("Open(stream)", err)
				_, err = s.Push(bg, route, id, []string{"unread"})
				must("Push", err)
			}
			if i%20 == 10 {
				_, err := s.Publish(bg, route, fmt.Sprint("broadcast ", i))
				must("Publish", err)
			}
		}
	}
	if n := checkKeys(t, admin, s, routes, slots); n == 0 {
		t.Fatal("no keys after creating sessions")
	}

	reaped := make(map[string]store.Session)
	deadline := time.Now().Add(10 * time.Second)
	for len(reaped) < len(kinds) {
		if time.Now().After(deadline) {
			t.Fatalf("reaped %d of %d sessions within 10s", len(reaped), len(kinds))
		}
		for _, route := range routes {
			got, err := s.Reap(bg, route, 25)
			must("Reap", err)
			for _, sess := range got {
				k := route + "\x00" + sess.ID
				if _, dup := reaped[k]; dup {
					t.Fatalf("%q reaped twice", k)
				}
				reaped[k] = sess
			}
		}
		checkKeys(t, admin, s, routes, slots)
		time.Sleep(20 * time.Millisecond)
	}
	for k, sess := range reaped {
		kind, ok := kinds[k]
		if !ok {
			t.Fatalf("reaped unknown session %q", k)
		}
		wantState := store.StateOpen
		if kind == 1 {
			wantState = store.StateClosed
		}
		if sess.State != wantState || (kind == 2) != (sess.Node == "node-1") || (kind == 3) != (sess.Values["k"] == "v") {
			t.Fatalf("reaped %q (kind %d) = %+v", k, kind, sess)
		}
	}
	if n := checkKeys(t, admin, s, routes, slots); n != 0 {
		var keys []string
		iter := admin.Scan(bg, 0, s.opts.Prefix+":*", 1000).Iterator()
		for iter.Next(bg) {
			keys = append(keys, iter.Val())
		}
		t.Fatalf("%d keys left after reaping every session: %q", n, keys)
	}
	for _, route := range routes {
		if n, err := s.Count(bg, route); err != nil || n != 0 {
			t.Fatalf("Count(%q) = %d, %v after reaping all", route, n, err)
		}
	}
}

// countHook counts round trips: one per command, one per pipeline.
type countHook struct {
	mu   sync.Mutex
	cmds []string
}

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.cmds = append(h.cmds, cmd.Name())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		h.mu.Lock()
		h.cmds = append(h.cmds, "pipeline("+strings.Join(names, ",")+")")
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the round trips so far; a pipeline of one command (how the
// Store sends a call that had no company) counts as that command.
func (h *countHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.cmds
	h.cmds = nil
	for i, c := range out {
		if inner, ok := strings.CutPrefix(c, "pipeline("); ok && !strings.Contains(inner, ",") {
			out[i] = strings.TrimSuffix(inner, ")")
		}
	}
	return out
}

// TestRoundTrips: every call is one round trip, a function call (FCALL)
// on a server with functions; the library is loaded when missing.
func TestRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	testRoundTrips(t, c, "fcall")

	// A server without the library (restarted, or flushed): FCALL, the
	// library's load, FCALL again; then FCALL alone.
	if err := c.FunctionFlush(bg).Err(); err != nil {
		t.Fatalf("FUNCTION FLUSH: %v", err)
	}
	s := New(c, Options{Prefix: uniquePrefix("roundtrips")})
	hook := &countHook{}
	c.AddHook(hook)
	for i, want := range [][]string{{"fcall", "function", "fcall"}, {"fcall"}} {
		if _, err := s.Get(bg, "/echo", "absent"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		if got := hook.take(); !slices.Equal(got, want) {
			t.Fatalf("Get %d after FUNCTION FLUSH: round trips %q, want %q", i, got, want)
		}
	}
}

// TestRoundTripsWithoutFunctions: on a server without functions (Redis
// before 7; here miniredis) the calls are scripts, by hash (EVALSHA),
// after one FCALL that tells the Store so.
func TestRoundTripsWithoutFunctions(t *testing.T) {
	m := miniredis.RunT(t)
	c := newClient(t, &redis.Options{Addr: m.Addr()})
	hook := &countHook{}
	c.AddHook(hook)
	s := New(c, Options{Prefix: uniquePrefix("roundtrips")})
	c.Ping(bg) // the connection's handshake
	hook.take()
	for i, want := range [][]string{{"fcall", "evalsha", "eval"}, {"evalsha"}} {
		if _, err := s.Get(bg, "/echo", "absent"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		if got := hook.take(); !slices.Equal(got, want) {
			t.Fatalf("Get %d: round trips %q, want %q", i, got, want)
		}
	}
	testRoundTrips(t, c, "evalsha")
}

func testRoundTrips(t *testing.T, c *redis.Client, script string) {
	hook := &countHook{}
	c.AddHook(hook)
	s := New(c, Options{Prefix: uniquePrefix("roundtrips")})
	const route = "/echo"
	type call struct {
		name string
		fn   func(id string) error
		cmd  string
	}
	long := time.Minute
	calls := []call{
		{"Open(create)", func(id string) error {
			_, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: long, Receiver: "r", Holder: "n"})
			return err
		}, script},
		{"Push", func(id string) error { _, err := s.Push(bg, route, id, []string{"a", "b"}); return err }, script},
		{"Publish", func(string) error { _, err := s.Publish(bg, route, "news"); return err }, script},
		{"Pull", func(id string) error {
			res, err := s.Pull(bg, route, id, store.PullRequest{Receiver: "r", Idle: long, Max: 2})
			if err == nil && len(res.Messages) != 2 {
				err = fmt.Errorf("pulled %q", res.Messages)
			}
			return err
		}, script},
		{"Release", func(id string) error { return s.Release(bg, route, id, "r", long) }, script},
		{"Open(poll)", func(id string) error {
			res, err := s.Open(bg, route, id, store.OpenRequest{Receiver: "r", Holder: "n", Idle: long, Pull: true, ReleaseIfData: true})
			if err == nil && len(res.Messages) != 1 {
				err = fmt.Errorf("polled %q", res.Messages)
			}
			return err
		}, script},
		{"SetValue", func(id string) error { return s.SetValue(bg, route, id, "k", "v") }, script},
		{"Get", func(id string) error { _, err := s.Get(bg, route, id); return err }, script},
		{"Count", func(string) error { _, err := s.Count(bg, route); return err }, "get"},
		{"IDs", func(string) error { _, err := s.IDs(bg, route); return err }, script},
		{"CloseSession", func(id string) error { _, _, err := s.CloseSession(bg, route, id, 3000, "bye", long); return err }, script},
		{"Reap", func(string) error { _, err := s.Reap(bg, route, 100); return err }, script},
		{"Open(absent)", func(id string) error {
			_, err := s.Open(bg, route, id+"-absent", store.OpenRequest{})
			if errors.Is(err, store.ErrNotFound) {
				err = nil
			}
			return err
		}, script},
	}
	// The first session warms the connection and loads the scripts.
	nodeN(t, s, route)
	for _, cl := range calls {
		if err := cl.fn("warm"); err != nil {
			t.Fatalf("%s: %v", cl.name, err)
		}
	}
	hook.take()
	for _, cl := range calls {
		err := cl.fn("measured")
		if cmds := hook.take(); err != nil || len(cmds) != 1 || cmds[0] != cl.cmd {
			t.Errorf("%s: %v, round trips %q, want one %s", cl.name, err, cmds, cl.cmd)
		}
	}

	if script != "evalsha" {
		return
	}
	// A server without the script: EVALSHA, then EVAL, then EVALSHA again.
	if err := c.ScriptFlush(bg).Err(); err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
	hook.take()
	for i, want := range [][]string{{"evalsha", "eval"}, {"evalsha"}} {
		if _, err := s.Get(bg, route, "measured"); err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got := hook.take(); !slices.Equal(got, want) {
			t.Fatalf("Get %d after SCRIPT FLUSH: round trips %q, want %q", i, got, want)
		}
	}
}

// TestSteadyStateTouchesNoTTL: once a session's keys have their TTL
// horizon, the calls of a busy session (push, pull, poll, release) neither
// read nor write a TTL on the server: the commands the scripts run are
// counted from INFO commandstats.
func TestSteadyStateTouchesNoTTL(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	s := New(c, Options{Prefix: uniquePrefix("steady")})
	const route, id = "/echo", "busy"
	long := time.Minute
	mustOpen(t, s, route, id, store.OpenRequest{Create: true, Idle: long, Receiver: "r1", Holder: "n"})
	cycle := func(i int) {
		t.Helper()
		if _, err := s.Push(bg, route, id, []string{"m"}); err != nil {
			t.Fatalf("Push: %v", err)
		}
		if _, err := s.Publish(bg, route, "b"); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		res, err := s.Pull(bg, route, id, store.PullRequest{Receiver: "r1", Idle: long})
		if err != nil || len(res.Messages) != 2 {
			t.Fatalf("Pull: %q, %v", res.Messages, err)
		}
		if err := s.Release(bg, route, id, "r1", long); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if _, err := s.Push(bg, route, id, []string{"n"}); err != nil {
			t.Fatalf("Push: %v", err)
		}
		poll := store.OpenRequest{Receiver: "r1", Holder: "n", Idle: long, Pull: true, ReleaseIfData: true}
		if res := mustOpen(t, s, route, id, poll); len(res.Messages) != 1 {
			t.Fatalf("poll %d: %q", i, res.Messages)
		}
		mustOpen(t, s, route, id, store.OpenRequest{Receiver: "r1", Holder: "n", Idle: long})
	}
	cycle(0)
	if err := c.ConfigResetStat(bg).Err(); err != nil {
		t.Fatalf("CONFIG RESETSTAT: %v", err)
	}
	for i := 1; i <= 20; i++ {
		cycle(i)
	}
	info, err := c.Info(bg, "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO: %v", err)
	}
	if !strings.Contains(info, "cmdstat_rpush:") || !strings.Contains(info, "cmdstat_hset:") {
		t.Fatalf("commandstats shows no script work:\n%s", info)
	}
	// Publish keeps the route's keys alive (6 PTTL, no write per call); a
	// push into an empty queue creates the queue's key, and gives it its
	// TTL (2 per cycle). Nothing else touches a TTL.
	for _, line := range strings.Split(info, "\n") {
		for cmd, limit := range map[string]int{"pttl": 20 * 6, "pexpireat": 20 * 2, "pexpire": 0, "expire": 0} {
			if !strings.HasPrefix(line, "cmdstat_"+cmd+":calls=") {
				continue
			}
			n, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(line, "cmdstat_"+cmd+":calls="), ",", 2)[0])
			if n > limit {
				t.Errorf("%d %s calls in 20 cycles, want at most %d\n%s", n, cmd, limit, info)
			}
		}
	}
}

// TestCloseOnFreshRouteKeepsTTLs: a close takes a sequence number, which
// creates the route's sequence key when nothing else has: it gets a TTL
// like every key.
func TestCloseOnFreshRouteKeepsTTLs(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	s := New(c, Options{Prefix: uniquePrefix("freshclose")})
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Minute})
	if _, _, err := s.CloseSession(bg, "r", "a", 3000, "bye", time.Minute); err != nil {
		t.Fatalf("CloseSession: %v", err)
	}
	if n, err := c.Exists(bg, s.base("r")+"seq").Result(); err != nil || n != 1 {
		t.Fatalf("sequence key after the close: %d, %v; want it created", n, err)
	}
	checkKeys(t, c, s, []string{"r"}, false)
}

// TestRedisDown: with the server gone every method fails, quickly and
// wrapped; once it is back the same Store and client work again.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{
		Addr:          srv.Addr,
		DialTimeout:   200 * time.Millisecond,
		ReadTimeout:   200 * time.Millisecond,
		MaxRetries:    -1, // no retry
		DialerRetries: 1,
	})
	s := New(c, Options{Prefix: uniquePrefix("down")})
	const route, id = "/echo", "a"
	if _, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: time.Minute}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	srv.Stop()
	long := time.Minute
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Open", func() error {
			_, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: long, Receiver: "r", Holder: "n", Pull: true})
			return err
		}},
		{"Pull", func() error {
			_, err := s.Pull(bg, route, id, store.PullRequest{Receiver: "r"})
			return err
		}},
		{"Release", func() error { return s.Release(bg, route, id, "r", long) }},
		{"Push", func() error { _, err := s.Push(bg, route, id, []string{"m"}); return err }},
		{"Publish", func() error { _, err := s.Publish(bg, route, "m"); return err }},
		{"CloseSession", func() error { _, _, err := s.CloseSession(bg, route, id, 3000, "bye", long); return err }},
		{"Get", func() error { _, err := s.Get(bg, route, id); return err }},
		{"SetValue", func() error { return s.SetValue(bg, route, id, "k", "v") }},
		{"Count", func() error { _, err := s.Count(bg, route); return err }},
		{"IDs", func() error { _, err := s.IDs(bg, route); return err }},
		{"Reap", func() error { _, err := s.Reap(bg, route, 10); return err }},
	} {
		start := time.Now()
		err := tc.call()
		elapsed := time.Since(start)
		if err == nil || !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("%s with Redis down: error %v, want a redisstore error", tc.name, err)
		}
		for _, sentinel := range []error{store.ErrNotFound, store.ErrClosed, store.ErrNotReceiver, store.ErrReceiverBusy, store.ErrQueueFull} {
			if errors.Is(err, sentinel) {
				t.Errorf("%s with Redis down: error %v is %v", tc.name, err, sentinel)
			}
		}
		if elapsed > time.Second {
			t.Errorf("%s with Redis down took %v", tc.name, elapsed)
		}
	}

	srv.Restart()
	// The restarted server is empty: the session is gone, a new one works.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Get(bg, route, id)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get after restart: %v, want ErrNotFound within 10s", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The restarted server has lost the node's lease too.
	leased.Delete(routeOf{s, route})
	nodeN(t, s, route)
	if _, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: long, Receiver: "r", Holder: "n"}); err != nil {
		t.Fatalf("Open after restart: %v", err)
	}
	if _, err := s.Push(bg, route, id, []string{"m"}); err != nil {
		t.Fatalf("Push after restart: %v", err)
	}
	if res, err := s.Pull(bg, route, id, store.PullRequest{Receiver: "r"}); err != nil || !slices.Equal(res.Messages, []string{"m"}) {
		t.Fatalf("Pull after restart = %q, %v", res.Messages, err)
	}
}

// TestContextEndsDuringCall: a context that ends while the call waits for
// Redis (here a server whose clients are paused) is reported as such.
func TestContextEndsDuringCall(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	s := New(c, Options{Prefix: uniquePrefix("ctx")})
	if _, err := s.Count(bg, "/echo"); err != nil { // warm the pool
		t.Fatalf("Count: %v", err)
	}
	admin := newClient(t, &redis.Options{Addr: srv.Addr})
	if err := admin.Do(bg, "CLIENT", "PAUSE", 500, "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	_, err := s.Get(ctx, "/echo", "a")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "redisstore: get /echo/a: ") {
		t.Fatalf("Get with a context ending during the call: %v, want a wrapped context.DeadlineExceeded", err)
	}
}

// startCluster starts a one-node Redis Cluster holding every slot, stopped
// when the test ends, and returns its address.
func startCluster(t *testing.T) string {
	t.Helper()
	return redistest.StartCluster(t, 1)[0]
}

// fakeClock drives a miniredis's clock: TIME, hence every lease and
// deadline of the store, and the keys' TTLs.
type fakeClock struct {
	m   *miniredis.Miniredis
	now time.Time
}

func (c *fakeClock) advance(d time.Duration) {
	c.now = c.now.Add(d)
	c.m.SetTime(c.now)
}

func newFake(t *testing.T, opts Options) (*Store, *fakeClock) {
	t.Helper()
	m := miniredis.RunT(t)
	c := &fakeClock{m: m, now: time.Date(2001, 2, 3, 4, 5, 6, 789000, time.UTC)}
	m.SetTime(c.now)
	m.ClockTTL(true)
	if opts.Prefix == "" {
		opts.Prefix = "fake"
	}
	s := New(newClient(t, &redis.Options{Addr: m.Addr()}), opts)
	s.now = func() time.Time { return c.now }
	return s, c
}

// leased records the routes each Store has taken node n's lease on.
var leased sync.Map // routeOf{*Store, route} -> true

type routeOf struct {
	s     *Store
	route string
}

// nodeN takes node n's lease on route, for 1000 hours, once per Store.
func nodeN(t *testing.T, s *Store, route string) {
	t.Helper()
	if _, done := leased.Load(routeOf{s, route}); done {
		return
	}
	if _, err := s.RenewNode(bg, route, "n", store.NodeRequest{Lease: 1000 * time.Hour}); err != nil {
		t.Fatalf("RenewNode: %v", err)
	}
	leased.Store(routeOf{s, route}, true)
}

func mustOpen(t *testing.T, s *Store, route, id string, req store.OpenRequest) store.OpenResult {
	t.Helper()
	if req.Holder == "n" {
		nodeN(t, s, route)
	}
	res, err := s.Open(bg, route, id, req)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	return res
}

func mustPull(t *testing.T, s *Store, route, id, receiver string) []string {
	t.Helper()
	res, err := s.Pull(bg, route, id, store.PullRequest{Receiver: receiver, Idle: time.Hour})
	if err != nil {
		t.Fatalf("Pull(%s): %v", id, err)
	}
	return res.Messages
}

func mustReap(t *testing.T, s *Store, route string, max int) []store.Session {
	t.Helper()
	got, err := s.Reap(bg, route, max)
	if err != nil {
		t.Fatalf("Reap: %v", err)
	}
	return got
}

// TestServerClock: node leases, deadlines and Created follow the Redis
// server's clock, not this process's.
func TestServerClock(t *testing.T) {
	s, c := newFake(t, Options{})
	for _, n := range []string{"n1", "n2"} {
		if _, err := s.RenewNode(bg, "r", n, store.NodeRequest{Lease: time.Second}); err != nil {
			t.Fatalf("RenewNode: %v", err)
		}
	}
	res := mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Second, Receiver: "r1", Holder: "n1"})
	if !res.Session.Created.Equal(c.now.Truncate(time.Microsecond)) {
		t.Fatalf("Created = %v, want the server's time %v", res.Session.Created, c.now)
	}
	_, err := s.Open(bg, "r", "a", store.OpenRequest{Receiver: "r2", Holder: "n2"})
	if !errors.Is(err, store.ErrReceiverBusy) {
		t.Fatalf("Open(r2) during n1's lease: %v, want ErrReceiverBusy", err)
	}
	c.advance(time.Second)
	if _, err := s.RenewNode(bg, "r", "n2", store.NodeRequest{Lease: time.Second}); err != nil {
		t.Fatalf("RenewNode: %v", err)
	}
	mustOpen(t, s, "r", "a", store.OpenRequest{Receiver: "r2", Holder: "n2"})
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap during r2's hold = %d sessions", len(got))
	}
	c.advance(2 * time.Second)
	if got := mustReap(t, s, "r", 10); len(got) != 1 || got[0].Receiver != "" {
		t.Fatalf("Reap after lease+idle = %+v, want the session without receiver", got)
	}
}

func TestBroadcastLogTrimming(t *testing.T) {
	attached := store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"}
	tests := []struct {
		name    string
		opts    Options
		publish func(s *Store, c *fakeClock)
		want    []string
		logLen  int  // messages in the log (not its trim mark)
		missed  bool // the pull finds that broadcasts were trimmed before it
	}{
		{
			name: "retention drops old messages",
			opts: Options{BroadcastRetention: time.Second},
			publish: func(s *Store, c *fakeClock) {
				_, _ = s.Publish(bg, "r", "old")
				c.advance(1500 * time.Millisecond)
				_, _ = s.Publish(bg, "r", "new1")
				c.advance(500 * time.Millisecond)
				_, _ = s.Publish(bg, "r", "new2")
			},
			want:   []string{"new1", "new2"},
			logLen: 2,
			missed: true,
		},
		{
			name: "count bound drops the oldest",
			opts: Options{MaxBroadcastLog: 3},
			publish: func(s *Store, c *fakeClock) {
				for i := range 5 {
					_, _ = s.Publish(bg, "r", fmt.Sprint("m", i))
				}
			},
			want:   []string{"m2", "m3", "m4"},
			logLen: 3,
			missed: true,
		},
		{
			name: "unicast kept when broadcasts are trimmed",
			opts: Options{MaxBroadcastLog: 1},
			publish: func(s *Store, c *fakeClock) {
				_, _ = s.Publish(bg, "r", "b0")
				_, _ = s.Push(bg, "r", "a", []string{"u"})
				_, _ = s.Publish(bg, "r", "b1")
			},
			want:   []string{"u", "b1"},
			logLen: 1,
			missed: true,
		},
		{
			name: "byte bound drops the oldest, never the newest",
			opts: Options{MaxBroadcastBytes: 10},
			publish: func(s *Store, c *fakeClock) {
				_, _ = s.Publish(bg, "r", "12345")
				_, _ = s.Publish(bg, "r", "6789")
				_, _ = s.Publish(bg, "r", "abcde")         // 14 bytes: 12345 goes
				_, _ = s.Publish(bg, "r", "0123456789ABC") // alone past the bound: stays
			},
			want:   []string{"0123456789ABC"},
			logLen: 1,
			missed: true,
		},
		{
			name: "messages with colons and odd bytes",
			publish: func(s *Store, c *fakeClock) {
				_, _ = s.Publish(bg, "r", "1:2:3")
				_, _ = s.Push(bg, "r", "a", []string{":", "", "\x00\xff"})
				_, _ = s.Publish(bg, "r", "")
			},
			want:   []string{"1:2:3", ":", "", "\x00\xff", ""},
			logLen: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newFake(t, tc.opts)
			mustOpen(t, s, "r", "a", attached)
			tc.publish(s, c)
			res, err := s.Pull(bg, "r", "a", store.PullRequest{Receiver: "r", Idle: time.Hour})
			if err != nil || !slices.Equal(res.Messages, tc.want) || res.Missed != tc.missed {
				t.Fatalf("Pull = %q, Missed %v, %v; want %q, Missed %v", res.Messages, res.Missed, err, tc.want, tc.missed)
			}
			if n := c.m.Exists(s.base("r") + "log"); !n && tc.logLen > 0 {
				t.Fatal("no log key")
			}
			members, _ := c.m.ZMembers(s.base("r") + "log")
			n := 0
			for _, m := range members {
				if !strings.HasSuffix(m, ":x") || strings.Count(m, ":") != 1 {
					n++
				}
			}
			if n != tc.logLen {
				t.Fatalf("log holds %d messages (%q), want %d", n, members, tc.logLen)
			}
		})
	}
}

func TestPublishWithoutOpenSessionsWritesNothing(t *testing.T) {
	s, c := newFake(t, Options{})
	if _, err := s.Publish(bg, "nobody", "m"); err != nil {
		t.Fatalf("Publish on an unknown route: %v", err)
	}
	if keys := c.m.Keys(); len(keys) != 0 {
		t.Fatalf("Publish on an unknown route wrote %q", keys)
	}
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour})
	if _, _, err := s.CloseSession(bg, "r", "a", 3000, "bye", time.Hour); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Publish(bg, "r", "m"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if c.m.Exists(s.base("r") + "log") {
		t.Fatal("log written with no open session")
	}
}

func TestMaxQueue(t *testing.T) {
	tests := []struct {
		name    string
		pushes  [][]string
		wantErr []bool
		want    []string
	}{
		{"fills to the limit", [][]string{{"a", "b"}, {"c"}}, []bool{false, false}, []string{"a", "b", "c"}},
		{"one past the limit", [][]string{{"a", "b", "c"}, {"d"}}, []bool{false, true}, []string{"a", "b", "c"}},
		{"batch past the limit stores nothing", [][]string{{"a"}, {"b", "c", "d"}, {"e"}}, []bool{false, true, false}, []string{"a", "e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newFake(t, Options{MaxQueue: 3})
			mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"})
			for i, msgs := range tc.pushes {
				_, err := s.Push(bg, "r", "a", msgs)
				if got := errors.Is(err, store.ErrQueueFull); got != tc.wantErr[i] || (err != nil && !got) {
					t.Fatalf("Push %d (%q): error %v, want ErrQueueFull %v", i, msgs, err, tc.wantErr[i])
				}
			}
			if got := mustPull(t, s, "r", "a", "r"); !slices.Equal(got, tc.want) {
				t.Fatalf("Pull = %q, want %q", got, tc.want)
			}
			if _, err := s.Push(bg, "r", "a", []string{"x", "y", "z"}); err != nil {
				t.Fatalf("Push after draining: %v", err)
			}
		})
	}
}

// TestLargePush: a batch beyond Lua's stack limits (unpack, about 8000
// values) is stored in order.
func TestLargePush(t *testing.T) {
	srv := redistest.Start(t)
	s := New(newClient(t, &redis.Options{Addr: srv.Addr}), Options{Prefix: uniquePrefix("large")})
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"})
	msgs := make([]string, 9999)
	for i := range msgs {
		msgs[i] = fmt.Sprint(i)
	}
	if _, err := s.Push(bg, "r", "a", msgs); err != nil {
		t.Fatalf("Push(%d): %v", len(msgs), err)
	}
	if got := mustPull(t, s, "r", "a", "r"); !slices.Equal(got, msgs) {
		t.Fatalf("Pull returned %d messages, want the %d pushed in order", len(got), len(msgs))
	}
}

func TestReapMaxMustBePositive(t *testing.T) {
	s, _ := newFake(t, Options{})
	if _, err := s.Reap(bg, "r", 0); err == nil {
		t.Fatal("Reap(max 0): no error")
	}
}

// indexScore is id's score in the expiry index exp of a fake store.
func indexScore(t *testing.T, c *fakeClock, exp, id string) int64 {
	t.Helper()
	f, err := c.m.ZScore(exp, id)
	if err != nil {
		t.Fatalf("ZSCORE: %v", err)
	}
	return int64(f)
}

// TestExpiryIndexFollowsHolds: a held session leaves the expiry index's
// due range (scored HELD) at once, so that holding costs nothing per
// second; the release scores it by its deadline again, and Reap takes it
// once due. Only the node's own keys are left after the last session.
func TestExpiryIndexFollowsHolds(t *testing.T) {
	s, c := newFake(t, Options{})
	t0 := c.now.UnixMilli()
	exp := s.base("r") + "exp"
	score := func() int64 { t.Helper(); return indexScore(t, c, exp, "a") }
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Second})
	if got := score(); got != t0+1000 {
		t.Fatalf("score after creation = +%d, want the creation deadline +1000", got-t0)
	}
	mustOpen(t, s, "r", "a", store.OpenRequest{Receiver: "r", Holder: "n"})
	if _, err := c.m.ZScore(exp, "a"); err == nil {
		t.Fatal("a held session is in the expiry index")
	}
	if ok, _ := c.m.IsMember(s.base("r")+"h:n", "a"); !ok {
		t.Fatal("a held session is not in its holder's set")
	}
	c.advance(2 * time.Second)
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap during the hold = %d sessions", len(got))
	}
	if err := s.Release(bg, "r", "a", "r", time.Second); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if got := score(); got != t0+3000 {
		t.Fatalf("score after Release = +%d, want +3000", got-t0)
	}
	c.advance(500 * time.Millisecond)
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap before the idle = %d sessions", len(got))
	}
	c.advance(500 * time.Millisecond)
	if got := mustReap(t, s, "r", 10); len(got) != 1 {
		t.Fatalf("Reap after the idle = %d sessions, want 1", len(got))
	}
	for _, k := range c.m.Keys() {
		if !strings.HasSuffix(k, ":nodes") && !strings.HasSuffix(k, ":nep") && !strings.HasSuffix(k, ":h:n") {
			t.Fatalf("key %q left after reaping the last session (only the node's may stay)", k)
		}
	}
}

// TestBoundedHoldInTheIndex: a bounded hold (HoldFor) stays out of its
// node's set and keeps the session in the expiry index, whose entry is
// re-scored by Reap rather than on every attach: a long poll's cycle
// writes no index entry, and its end needs no call.
func TestBoundedHoldInTheIndex(t *testing.T) {
	s, c := newFake(t, Options{})
	t0 := c.now.UnixMilli()
	exp := s.base("r") + "exp"
	score := func() int64 { t.Helper(); return indexScore(t, c, exp, "a") }
	poll := store.OpenRequest{Receiver: "r", Holder: "n", Idle: time.Second, HoldFor: 4 * time.Second}
	create := poll
	create.Create = true
	mustOpen(t, s, "r", "a", create)
	if got := score(); got != t0+1000 {
		t.Fatalf("score after creation with a bounded hold = +%d, want the creation deadline +1000", got-t0)
	}
	if ok, _ := c.m.IsMember(s.base("r")+"h:n", "a"); ok {
		t.Fatal("a bounded hold is in its node's set")
	}
	c.advance(1500 * time.Millisecond)
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap during the bounded hold = %d sessions", len(got))
	}
	if got := score(); got != t0+5000 {
		t.Fatalf("score after Reap met the entry = +%d, want the hold's end plus the idle, +5000", got-t0)
	}
	c.advance(3 * time.Second) // the hold ended at +4000, with no Release
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap before the idle after the hold's end = %d sessions", len(got))
	}
	mustOpen(t, s, "r", "a", poll) // the next poll: a new bounded hold, to +8500
	if got := score(); got != t0+5000 {
		t.Fatalf("score after the next attach = +%d: an attach that moves the deadline later writes no index entry", got-t0)
	}
	c.advance(4900 * time.Millisecond) // +9400: the entry (+5000) is due, the session (+9500) not
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap at +%d = %d sessions, want none (re-scored)", c.now.UnixMilli()-t0, len(got))
	}
	if got := score(); got != t0+9500 {
		t.Fatalf("score after Reap met the entry again = +%d, want +9500", got-t0)
	}
	c.advance(2 * time.Second)
	if got := mustReap(t, s, "r", 10); len(got) != 1 || got[0].Receiver != "" {
		t.Fatalf("Reap after the second hold and its idle = %+v, want the session without a receiver", got)
	}
}

// TestDeadlineMovesEarlier covers a deadline moved before the index entry's
// (Close with a short idle after a long lease).
func TestDeadlineMovesEarlier(t *testing.T) {
	s, c := newFake(t, Options{})
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"})
	c.advance(90 * time.Minute)
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap during the lease = %d sessions", len(got))
	}
	if _, _, err := s.CloseSession(bg, "r", "a", 3000, "bye", time.Second); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c.advance(500 * time.Millisecond)
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap before the close idle = %d sessions", len(got))
	}
	c.advance(time.Second)
	got := mustReap(t, s, "r", 10)
	if len(got) != 1 || got[0].State != store.StateClosed {
		t.Fatalf("Reap after the close idle = %+v; want the closed session", got)
	}
	c.advance(3 * time.Hour)
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("reaped again: %+v", got)
	}
}

// TestHeldKeysOutliveKeyTTL: a session held for many KeyTTLs (a
// websocket, say) writes nothing itself; its node's renewals refresh its
// keys' TTLs, so they never lapse while it is held. Once the node is gone,
// the session expires and its keys go.
func TestHeldKeysOutliveKeyTTL(t *testing.T) {
	s, c := newFake(t, Options{KeyTTL: 10 * time.Second})
	renew := func() {
		t.Helper()
		if _, err := s.RenewNode(bg, "r", "n1", store.NodeRequest{Lease: 3 * time.Second}); err != nil {
			t.Fatalf("RenewNode: %v", err)
		}
	}
	renew()
	mustOpen(t, s, "r", "ws", store.OpenRequest{Create: true, Idle: time.Second, Node: "n1", Receiver: "n1/1", Holder: "n1"})
	if err := s.SetValue(bg, "r", "ws", "k", "v"); err != nil {
		t.Fatalf("SetValue: %v", err)
	}
	for i := 0; i < 100; i++ { // 10 KeyTTLs
		c.advance(time.Second)
		renew()
		for _, k := range []string{"s:ws", "v:ws", "nodes", "nep", "h:n1", "n"} {
			if !c.m.Exists(s.base("r") + k) {
				t.Fatalf("after %ds held: %s is gone", i+1, k)
			}
		}
	}
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap while held = %+v", got)
	}
	c.advance(5 * time.Second) // the lease (3s) and the idle (1s) are over
	if got := mustReap(t, s, "r", 10); len(got) != 1 || got[0].ID != "ws" || got[0].Values["k"] != "v" {
		t.Fatalf("Reap after the node's lease = %+v, want ws with its value", got)
	}
	c.advance(time.Hour)
	if keys := c.m.Keys(); len(keys) != 0 {
		t.Fatalf("keys left an hour after the node went: %q", keys)
	}
}

// TestKeyTTLBackstop: with no Reap at all (every node gone), the keys still
// expire; a session whose keys expired is dropped from the index by the
// next Reap, not returned.
func TestKeyTTLBackstop(t *testing.T) {
	s, c := newFake(t, Options{KeyTTL: 10 * time.Second})
	mustOpen(t, s, "r", "short", store.OpenRequest{Create: true, Idle: time.Second})
	if err := s.SetValue(bg, "r", "short", "k", "v"); err != nil {
		t.Fatalf("SetValue: %v", err)
	}
	if _, err := s.Push(bg, "r", "short", []string{"m"}); err != nil {
		t.Fatalf("Push: %v", err)
	}
	mustOpen(t, s, "r", "long", store.OpenRequest{Create: true, Idle: time.Hour})
	if _, err := s.Publish(bg, "r", "b"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for _, k := range c.m.Keys() {
		if ttl := c.m.TTL(k); ttl <= 0 {
			t.Fatalf("key %q has TTL %v", k, ttl)
		}
	}
	c.advance(9 * time.Second) // short's deadline + 8s: its keys live on
	if !c.m.Exists(s.base("r") + "s:short") {
		t.Fatal("short's record expired before its deadline + KeyTTL")
	}
	c.advance(20 * time.Second) // short's deadline + 28s: past its keys' TTL
	for _, k := range []string{"s:short", "q:short", "v:short"} {
		if c.m.Exists(s.base("r") + k) {
			t.Fatalf("%s still there after its deadline + 2*KeyTTL", k)
		}
	}
	if got := mustReap(t, s, "r", 10); len(got) != 0 {
		t.Fatalf("Reap = %+v, want nothing (short's record is gone, long is not due)", got)
	}
	if ids, _ := s.IDs(bg, "r"); !slices.Equal(ids, []string{"long"}) {
		t.Fatalf("IDs = %q, want only long", ids)
	}
	if c.m.Exists(s.base("r")+"seq") == false || c.m.Exists(s.base("r")+"exp") == false {
		t.Fatal("route keys expired while a session lives")
	}
	// Whether short was open when its record went is unknown: it still
	// counts, until the route has no session left.
	if n, err := s.Count(bg, "r"); err != nil || n != 2 {
		t.Fatalf("Count = %d, %v; want 2 (long, and short, whose record the backstop removed)", n, err)
	}
	c.advance(time.Hour - 28*time.Second) // long's deadline + 1s, within its keys' TTL
	if got := mustReap(t, s, "r", 10); len(got) != 1 || got[0].ID != "long" {
		t.Fatalf("Reap after long's idle = %+v, want long", got)
	}
	if n, err := s.Count(bg, "r"); err != nil || n != 0 {
		t.Fatalf("Count with no session left = %d, %v; want 0", n, err)
	}
	if keys := c.m.Keys(); len(keys) != 0 {
		t.Fatalf("keys left after the route's last session was reaped: %q", keys)
	}
	c.advance(2 * time.Hour)
	if keys := c.m.Keys(); len(keys) != 0 {
		t.Fatalf("keys left after every deadline + 2*KeyTTL: %q", keys)
	}
}

// Benchmarks run against a real redis-server on loopback: they measure a
// round trip and the script's work, not the network.

func benchStore(b *testing.B) *Store {
	srv := redistest.Start(b)
	return New(newClient(b, &redis.Options{Addr: srv.Addr}), Options{Prefix: uniquePrefix("bench")})
}

// BenchmarkPoll is one xhr poll: Open (attach, pull, release if data) then
// Release, with and without a message waiting.
func BenchmarkPoll(b *testing.B) {
	poll := store.OpenRequest{Receiver: "r", Holder: "n", Idle: 5 * time.Second, Pull: true, ReleaseIfData: true}
	for _, withData := range []bool{false, true} {
		b.Run(fmt.Sprintf("data=%v", withData), func(b *testing.B) {
			s := benchStore(b)
			if _, err := s.Open(bg, "r", "a", store.OpenRequest{Create: true, Idle: 5 * time.Second}); err != nil {
				b.Fatal(err)
			}
			msgs := []string{"hello"}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if withData {
					if _, err := s.Push(bg, "r", "a", msgs); err != nil {
						b.Fatal(err)
					}
				}
				res, err := s.Open(bg, "r", "a", poll)
				if err != nil || !res.Attached {
					b.Fatal(res, err)
				}
				if err := s.Release(bg, "r", "a", "r", 5*time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPush(b *testing.B) {
	s := benchStore(b)
	if _, err := s.Open(bg, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"}); err != nil {
		b.Fatal(err)
	}
	msgs := []string{"hello"}
	drain := store.PullRequest{Receiver: "r", Idle: time.Hour}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Push(bg, "r", "a", msgs); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if _, err := s.Pull(bg, "r", "a", drain); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkPublish1000Sessions(b *testing.B) {
	s := benchStore(b)
	for i := range 1000 {
		if _, err := s.Open(bg, "r", fmt.Sprint(i), store.OpenRequest{Create: true, Idle: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Publish(bg, "r", "news"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReapNoneDue10000Sessions(b *testing.B) {
	s := benchStore(b)
	for i := range 10000 {
		if _, err := s.Open(bg, "r", fmt.Sprint(i), store.OpenRequest{Create: true, Idle: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Reap(bg, "r", 100); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSameAsMemory runs one random sequence of calls (no expiry) against
// the memory store and this one and compares every answer.
func TestSameAsMemory(t *testing.T) {
	m := miniredis.RunT(t)
	rs := New(newClient(t, &redis.Options{Addr: m.Addr()}), Options{Prefix: "diff", MaxQueue: 5, MaxBroadcastLog: 4})
	ms := memory.New(memory.Options{MaxQueue: 5, MaxBroadcastLog: 4})
	rng := rand.New(rand.NewPCG(1, 2))
	routes := []string{"r1", "r2"}
	ids := []string{"a", "b", "c", "d"}
	receivers := []string{"", "x", "y"}
	long := time.Hour
	pick := func(a []string) string { return a[rng.IntN(len(a))] }
	coin := func() bool { return rng.IntN(2) == 0 }
	norm := func(sess store.Session) store.Session {
		sess.Created = time.Time{}
		if len(sess.Meta) == 0 {
			sess.Meta = nil
		}
		return sess
	}
	sameErr := func(a, b error) bool {
		for _, e := range []error{store.ErrNotFound, store.ErrReceiverBusy, store.ErrNotReceiver, store.ErrClosed, store.ErrQueueFull} {
			if errors.Is(a, e) != errors.Is(b, e) {
				return false
			}
		}
		return (a == nil) == (b == nil)
	}
	for _, route := range routes {
		for _, st := range []store.Store{rs, ms} {
			if _, err := st.RenewNode(bg, route, "n", store.NodeRequest{Lease: long}); err != nil {
				t.Fatalf("RenewNode: %v", err)
			}
		}
	}
	for step := range 3000 {
		route, id, rc := pick(routes), pick(ids), pick(receivers)
		var what string
		var got, want any
		var gotErr, wantErr error
		switch op := rng.IntN(9); op {
		case 0, 1:
			req := store.OpenRequest{Create: coin(), Idle: long, Receiver: rc, Pull: coin(), ReleaseIfData: coin(), Meta: []byte(pick(ids))}
			if rc != "" {
				req.Holder = "n"
			}
			if rng.IntN(4) == 0 {
				req.Node = "n"
			}
			what = fmt.Sprintf("Open(%s/%s, %+v)", route, id, req)
			a, errA := rs.Open(bg, route, id, req)
			b, errB := ms.Open(bg, route, id, req)
			a.Session, b.Session = norm(a.Session), norm(b.Session)
			if len(a.Messages) == 0 && len(b.Messages) == 0 {
				a.Messages, b.Messages = nil, nil
			}
			got, want, gotErr, wantErr = fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", b), errA, errB
		case 2:
			req := store.PullRequest{Receiver: rc, Idle: long, Release: rng.IntN(4) == 0, ReleaseIfData: coin(), Max: rng.IntN(4)}
			what = fmt.Sprintf("Pull(%s/%s, %+v)", route, id, req)
			a, errA := rs.Pull(bg, route, id, req)
			b, errB := ms.Pull(bg, route, id, req)
			if len(a.Messages) == 0 && len(b.Messages) == 0 {
				a.Messages, b.Messages = nil, nil
			}
			got, want, gotErr, wantErr = fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", b), errA, errB
		case 3:
			msgs := make([]string, rng.IntN(3))
			for i := range msgs {
				msgs[i] = fmt.Sprintf("u%d.%d", step, i)
			}
			what = fmt.Sprintf("Push(%s/%s, %q)", route, id, msgs)
			a, errA := rs.Push(bg, route, id, msgs)
			b, errB := ms.Push(bg, route, id, msgs)
			got, want, gotErr, wantErr = a, b, errA, errB
		case 4:
			what = fmt.Sprintf("Publish(%s)", route)
			a, errA := rs.Publish(bg, route, fmt.Sprint("b", step))
			b, errB := ms.Publish(bg, route, fmt.Sprint("b", step))
			got, want, gotErr, wantErr = a, b, errA, errB
		case 5:
			what = fmt.Sprintf("Release(%s/%s, %s)", route, id, rc)
			gotErr, wantErr = rs.Release(bg, route, id, rc, long), ms.Release(bg, route, id, rc, long)
		case 6:
			if rng.IntN(4) != 0 {
				continue
			}
			what = fmt.Sprintf("CloseSession(%s/%s)", route, id)
			a, ca, errA := rs.CloseSession(bg, route, id, 3000+step, "bye", long)
			b, cb, errB := ms.CloseSession(bg, route, id, 3000+step, "bye", long)
			got, want, gotErr, wantErr = fmt.Sprintf("%+v %v", norm(a), ca), fmt.Sprintf("%+v %v", norm(b), cb), errA, errB
		case 7:
			k, v := pick(ids), pick(receivers)
			what = fmt.Sprintf("SetValue(%s/%s, %s=%s)", route, id, k, v)
			gotErr, wantErr = rs.SetValue(bg, route, id, k, v), ms.SetValue(bg, route, id, k, v)
		case 8:
			what = fmt.Sprintf("Get(%s/%s) / Count / IDs", route, id)
			a, errA := rs.Get(bg, route, id)
			b, errB := ms.Get(bg, route, id)
			ca, _ := rs.Count(bg, route)
			cb, _ := ms.Count(bg, route)
			ia, _ := rs.IDs(bg, route)
			ib, _ := ms.IDs(bg, route)
			slices.Sort(ia)
			slices.Sort(ib)
			got, want, gotErr, wantErr = fmt.Sprintf("%+v %d %q", norm(a), ca, ia), fmt.Sprintf("%+v %d %q", norm(b), cb, ib), errA, errB
		}
		if !sameErr(gotErr, wantErr) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("step %d: %s\nredis:  %v, %v\nmemory: %v, %v", step, what, got, gotErr, want, wantErr)
		}
	}
}

// TestMaxQueueBytes: the unread queue is bounded in bytes too, and what a
// receiver takes (or acknowledges) makes room again.
func TestMaxQueueBytes(t *testing.T) {
	s, _ := newFake(t, Options{MaxQueueBytes: 10})
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"})
	for i, tc := range []struct {
		msgs []string
		full bool
	}{
		{[]string{"12345"}, false},
		{[]string{"123456"}, true},
		{[]string{"123", "45"}, false}, // exactly at the bound
		{[]string{"1"}, true},
	} {
		_, err := s.Push(bg, "r", "a", tc.msgs)
		if got := errors.Is(err, store.ErrQueueFull); got != tc.full || (err != nil && !got) {
			t.Fatalf("Push %d (%q): %v, want ErrQueueFull %v", i, tc.msgs, err, tc.full)
		}
	}
	if got := mustPull(t, s, "r", "a", "r"); !slices.Equal(got, []string{"12345", "123", "45"}) {
		t.Fatalf("Pull = %q", got)
	}
	res, err := s.Push(bg, "r", "a", []string{"1234567890"})
	if err != nil {
		t.Fatalf("Push after draining: %v", err)
	}
	// Acknowledged messages free their bytes as well.
	if _, err := s.Pull(bg, "r", "a", store.PullRequest{Receiver: "r", Ack: res.First, Max: -1}); err != nil {
		t.Fatalf("Pull(ack): %v", err)
	}
	if _, err := s.Push(bg, "r", "a", []string{"abcdefghij"}); err != nil {
		t.Fatalf("Push after the acknowledgement: %v", err)
	}
}

// TestRecordStaysListpack: a session record, with an opening request much
// longer than hash-max-listpack-value (64 bytes), stays a listpack, several
// times smaller than a hashtable (see metaFields).
func TestRecordStaysListpack(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	s := New(c, Options{Prefix: uniquePrefix("listpack")})
	nodeN(t, s, "r")
	meta := []byte(strings.Repeat(`{"remote_addr":"127.0.0.1:53412","header":{}}`, 40))
	for _, req := range []store.OpenRequest{
		{Create: true, Idle: time.Minute, Meta: meta, Node: "n", Receiver: "c", Holder: "n"},
		{Create: true, Idle: time.Minute, Meta: meta, Receiver: "c", Holder: "n", Pull: true},
	} {
		id := fmt.Sprint("a", req.Node)
		mustOpen(t, s, "r", id, req)
		if err := s.Release(bg, "r", id, "c", time.Minute); err != nil {
			t.Fatal(err)
		}
		enc, err := c.ObjectEncoding(bg, s.base("r")+"s:"+id).Result()
		if err != nil || (enc != "listpack" && enc != "ziplist") {
			t.Fatalf("record encoding = %q, %v; want listpack", enc, err)
		}
		if got, err := s.Get(bg, "r", id); err != nil || !slices.Equal(got.Meta, meta) {
			t.Fatalf("Get = %q, %v", got.Meta, err)
		}
	}
}
