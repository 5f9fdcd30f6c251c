package redisstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
	"github.com/sockjs-cluster/sockjs/store"
)

// TestCapacity is a measuring harness, not a check: it reports Redis memory
// per idle session and Redis CPU and commands per message cycle, through
// the store API against a redis-server of its own. It runs only when
// SOCKJS_CAPACITY is set (to the number of sessions, e.g. 2000):
//
//	SOCKJS_CAPACITY=2000 go test -count=1 -run TestCapacity -v ./store/redis
func sum(m map[string]float64) (n float64) {
	for _, v := range m {
		n += v
	}
	return n
}

// processCPU is the CPU time (user and system) of process pid so far; it
// skips the test where /proc is missing.
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skip("no /proc: ", err)
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ 100
}

func TestCapacity(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SOCKJS_CAPACITY"))
	if n <= 0 {
		t.Skip("set SOCKJS_CAPACITY to the number of sessions to measure")
	}
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	// A stored opening request (187 B) shaped like the one the sockjs
	// package stores for a Go client with the default RequestHeaders.
	meta := []byte(`{"remote_addr":"127.0.0.1:53412","host":"127.0.0.1:8081","uri":"/echo/417/x8f3kq2p/xhr","header":{"User-Agent":["Go-http-client/1.1"],"Origin":["http://127.0.0.1:8081"]}}`)
	info := func(section, field string) float64 {
		s, err := c.Info(bg, section).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(s, "\r\n") {
			if v, ok := strings.CutPrefix(l, field+":"); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		t.Fatalf("no %s in INFO %s", field, section)
		return 0
	}
	pid := int(info("server", "process_id"))
	cpu := func() time.Duration { return processCPU(t, pid) }
	// calls sums INFO commandstats: commands (inside scripts included) and
	// the microseconds of the top-level ones (scripts count the commands
	// they call in their own time).
	calls := func() (n, usec float64, per map[string]float64) {
		s, err := c.Info(bg, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		per = map[string]float64{}
		for _, l := range strings.Split(s, "\r\n") {
			name, rest, ok := strings.Cut(strings.TrimPrefix(l, "cmdstat_"), ":")
			if !ok || name == l {
				continue
			}
			for _, kv := range strings.Split(rest, ",") {
				k, v, _ := strings.Cut(kv, "=")
				f, _ := strconv.ParseFloat(v, 64)
				switch k {
				case "calls":
					n += f
					per[name] = f
				case "usec":
					if name == "evalsha" || name == "eval" || name == "fcall" {
						usec += f
					}
				}
			}
		}
		return n, usec, per
	}
	s := New(c, Options{Prefix: "cap"})
	const route = "echo"
	if _, err := s.RenewNode(bg, route, "n1", store.NodeRequest{Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	memory := func(name string, open func(i int)) {
		c.Do(bg, "MEMORY", "PURGE")
		before := info("memory", "used_memory")
		for i := range n {
			open(i)
		}
		c.Do(bg, "MEMORY", "PURGE")
		after := info("memory", "used_memory")
		k := fmt.Sprintf("cap:{%s}:s:%s-%d", route, name, n/2)
		use, _ := c.MemoryUsage(bg, k).Result()
		enc, _ := c.ObjectEncoding(bg, k).Result()
		t.Logf("%s: %.0f B per idle session (used_memory), record %d B (%s)", name, (after-before)/float64(n), use, enc)
		if testing.Verbose() {
			fields, _ := c.HGetAll(bg, k).Result()
			t.Logf("  record %v", fields)
			for _, idx := range []string{"exp", "h:n1"} {
				use, _ := c.MemoryUsage(bg, fmt.Sprintf("cap:{%s}:%s", route, idx), 0).Result()
				enc, _ := c.ObjectEncoding(bg, fmt.Sprintf("cap:{%s}:%s", route, idx)).Result()
				t.Logf("  %s: %d B in all (%s)", idx, use, enc)
			}
		}
	}
	memory("ws", func(i int) {
		id := fmt.Sprintf("ws-%d", i)
		if _, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Meta: meta, Node: "n1", Idle: 5 * time.Second, Receiver: "c" + id, Holder: "n1"}); err != nil {
			t.Fatal(err)
		}
	})
	poll := func(id string) store.OpenRequest {
		return store.OpenRequest{Idle: 5 * time.Second, Receiver: "r" + id, Holder: "n1", Pull: true, Lean: true, ReleaseIfData: true, HoldFor: 24 * time.Second}
	}
	memory("poll", func(i int) {
		id := fmt.Sprintf("poll-%d", i)
		req := poll(id)
		req.Create, req.Meta, req.Lean = true, meta, false
		if _, err := s.Open(bg, route, id, req); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(bg, route, id, "r"+id, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	cycle := func(name string, m int, step func(i int)) {
		n0, u0, p0 := calls()
		c0 := cpu()
		start := time.Now()
		for i := range m {
			step(i)
		}
		el := time.Since(start)
		c1 := cpu()
		n1, u1, p1 := calls()
		var ds []string
		for k, v := range p1 {
			if d := v - p0[k]; d > 0 && k != "info" {
				ds = append(ds, fmt.Sprintf("%s=%.2f", k, d/float64(m)))
			}
		}
		t.Logf("%s: %.1f µs Redis CPU (process), %.1f µs in scripts (commandstats), %.2f commands per cycle; %.0f µs wall; %s",
			name, float64((c1-c0).Microseconds())/float64(m), (u1-u0)/float64(m), (n1-n0-1)/float64(m),
			float64(el.Microseconds())/float64(m), strings.Join(ds, " "))
	}
	// Each script alone, on a held session, by commandstats (no I/O).
	perCall := func(name string, f func()) {
		c.ConfigResetStat(bg)
		for range 3000 {
			f()
		}
		_, usec, per := calls()
		t.Logf("script %s: %.1f µs, %.1f commands", name, usec/3000, (sum(per)-per["evalsha"]-per["fcall"]-1)/3000)
	}
	one := "one"
	if _, err := s.Open(bg, route, one, store.OpenRequest{Create: true, Idle: 5 * time.Second, Receiver: "r1", Holder: "n1"}); err != nil {
		t.Fatal(err)
	}
	perCall("get", func() { _, _ = s.Get(bg, route, one) })
	perCall("release by another", func() { _ = s.Release(bg, route, one, "other", 0) })
	perCall("pull (acknowledge)", func() { _, _ = s.Pull(bg, route, one, store.PullRequest{Receiver: "r1", Max: -1}) })
	perCall("push", func() { _, _ = s.Push(bg, route, one, []string{"x"}) })
	perCall("pull", func() { _, _ = s.Pull(bg, route, one, store.PullRequest{Receiver: "r1"}) })
	perCall("open (attach lean, pull)", func() {
		_, _ = s.Open(bg, route, one, store.OpenRequest{Receiver: "r1", Holder: "n1", Pull: true, Lean: true})
	})

	const m = 5000
	cycle("polling echo (open+push+ack&release)", m, func(i int) {
		id := fmt.Sprintf("poll-%d", i%n)
		res, err := s.Open(bg, route, id, poll(id))
		if err != nil || !res.Attached {
			t.Fatal(res, err)
		}
		p, err := s.Push(bg, route, id, []string{"hello"})
		if err != nil {
			t.Fatal(err)
		}
		pr, err := s.Pull(bg, route, id, store.PullRequest{Receiver: "r" + id, Idle: 5 * time.Second, Ack: p.First, Release: true, ReleaseIfData: true, Max: -1})
		if err != nil || !pr.Released {
			t.Fatal(pr, err)
		}
	})
	// A streaming receiver stays attached: push, then the acknowledgement.
	sid := "stream"
	if _, err := s.Open(bg, route, sid, store.OpenRequest{Create: true, Idle: 5 * time.Second, Receiver: "rs", Holder: "n1"}); err != nil {
		t.Fatal(err)
	}
	cycle("streaming echo (push+ack)", m, func(i int) {
		p, err := s.Push(bg, route, sid, []string{"hello"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pull(bg, route, sid, store.PullRequest{Receiver: "rs", Idle: 5 * time.Second, Ack: p.First, Max: -1}); err != nil {
			t.Fatal(err)
		}
	})
}

// floorLib is the least a fenced message can cost Redis with this store's
// model, for TestCapacityFloor: two functions, each the bare minimum of
// its step. push checks that the session is open, takes a sequence
// number from the route, queues the message and counts it; ack checks
// that the receiver's hold is current (the record names it, and its
// node's lease is live in the epoch the hold was taken in) and moves the
// cursor past the queue. Neither bounds, orders against broadcasts,
// keeps TTLs or builds a record table, as the store's own do. claim is
// the one call of a handoff: the holder, handed a message over the bus,
// checks its hold as ack does, sequences the message and records it as
// delivered, with the sender's id for it.
const floorLib = `#!lua name=sockjs_floor
-- current: the record K[1] names receiver A[1], and its node's lease in
-- K[3] is live in the epoch the hold was taken in.
local function current(K, A)
  local v = redis.call('HMGET', K[1], 'rc', 'hn', 'ep')
  if v[1] ~= A[1] then return false end
  local e = redis.call('HGET', K[3], v[2])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local i = string.find(e, ':', 1, true)
  return string.sub(e, 1, i - 1) == v[3] and tonumber(string.sub(e, i + 1)) > now
end
redis.register_function('floor_push', function(K, A)
  local v = redis.call('HMGET', K[1], 'st', 'rc', 'qn', 'qb')
  if v[1] ~= '1' then return {'nf'} end
  local n = redis.call('INCR', K[3])
  redis.call('RPUSH', K[2], n .. ':' .. A[1])
  redis.call('HSET', K[1], 'qn', tonumber(v[3]) + 1, 'qb', tonumber(v[4]) + #A[1], 'qt', n)
  return {v[2], n}
end)
redis.register_function('floor_ack', function(K, A)
  if not current(K, A) then return 'nr' end
  redis.call('HSET', K[1], 'cu', A[2], 'qn', 0, 'qb', 0)
  redis.call('DEL', K[2])
  return 'ok'
end)
redis.register_function('floor_claim', function(K, A)
  if not current(K, A) then return 'nr' end
  local n = redis.call('INCR', K[2])
  redis.call('HSET', K[1], 'cu', n, 'li', A[2])
  return n
end)
`

// TestCapacityFloor is a measuring harness, not a check, run like
// TestCapacity: a lower bound of the Redis CPU of a fenced streaming echo
// in this store's model (a sender's Push, a PUBLISH to the holder's node,
// the holder's fenced acknowledgement), with floorLib's functions instead
// of the store's. Batches of messages to different sessions go as
// pipelines (the pushes and publishes, then the acknowledgements) of
// depth 1, 4 and 16; it reports the functions' own time (INFO
// commandstats) and the redis-server process's CPU per message. Then the
// same for a handoff, a model with one fenced call per message (see
// floor_claim): a PUBLISH to the holder's node, the holder's call and a
// PUBLISH back to the sender.
func TestCapacityFloor(t *testing.T) {
	if n, _ := strconv.Atoi(os.Getenv("SOCKJS_CAPACITY")); n <= 0 {
		t.Skip("set SOCKJS_CAPACITY to run the capacity harnesses")
	}
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	if err := c.FunctionLoadReplace(bg, floorLib).Err(); err != nil {
		t.Skip("no functions: ", err)
	}
	info := func(section string) string {
		s, err := c.Info(bg, section).Result()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	field := func(s, prefix, key string) float64 {
		for _, l := range strings.Split(s, "\r\n") {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				for _, kv := range strings.Split(rest, ",") {
					if v, ok := strings.CutPrefix(kv, key+"="); ok {
						f, _ := strconv.ParseFloat(v, 64)
						return f
					}
				}
			}
		}
		return 0
	}
	pid := 0
	for _, l := range strings.Split(info("server"), "\r\n") {
		if v, ok := strings.CutPrefix(l, "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	cpu := func() time.Duration { return processCPU(t, pid) }
	const base, node = "floor:{r}:", "b"
	sub := c.Subscribe(bg, base+"node:"+node)
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(bg); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range sub.Channel() {
		}
	}()
	c.HSet(bg, base+"nep", node, fmt.Sprintf("7:%d", time.Now().Add(time.Hour).UnixMilli()))
	const sessions = 16
	for i := range sessions {
		c.HSet(bg, fmt.Sprintf("%ss:%d", base, i), "st", "1", "rc", "recv", "hn", node, "ep", "7", "qn", "0", "qb", "0", "qt", "0", "cu", "0")
	}
	// measure runs round(done, depth) until msgs messages have gone, in
	// batches of depth, at each depth, and reports what they cost.
	const msgs = 32000
	measure := func(model, in string, round func(done, depth int)) {
		for _, depth := range []int{1, 4, 16} {
			c.ConfigResetStat(bg)
			c0 := cpu()
			for done := 0; done < msgs; done += depth {
				round(done, depth)
			}
			used := cpu() - c0
			fc := field(info("commandstats"), "cmdstat_fcall:", "usec")
			t.Logf("%s, pipeline depth %2d: %.1f µs of Redis CPU per message (process), %.1f µs in %s", model, depth,
				float64(used.Microseconds())/msgs, fc/msgs, in)
		}
	}
	exec := func(p redis.Pipeliner) {
		if _, err := p.Exec(bg); err != nil {
			t.Fatal(err)
		}
	}
	measure("two calls", "the two functions", func(_, depth int) {
		p := c.Pipeline()
		pushes := make([]*redis.Cmd, depth)
		for k := range depth {
			s := strconv.Itoa(k)
			pushes[k] = p.FCall(bg, "floor_push", []string{base + "s:" + s, base + "q:" + s, base + "seq"}, "hello")
			p.Publish(bg, base+"node:"+node, "offer "+s)
		}
		exec(p)
		p = c.Pipeline()
		acks := make([]*redis.Cmd, depth)
		for k := range depth {
			s := strconv.Itoa(k)
			v, err := pushes[k].Slice()
			if err != nil || len(v) != 2 {
				t.Fatalf("push: %v %v", v, err)
			}
			acks[k] = p.FCall(bg, "floor_ack", []string{base + "s:" + s, base + "q:" + s, base + "nep"}, "recv", v[1])
		}
		exec(p)
		for _, a := range acks {
			if v, _ := a.Text(); v != "ok" {
				t.Fatalf("ack: %q", v)
			}
		}
	})
	// A handoff: the sender sends the message to the holder's node over
	// the bus, the holder's one fenced call sequences it and records its
	// id, and the holder confirms to the sender over the bus.
	measure("handoff", "the function", func(done, depth int) {
		p := c.Pipeline()
		for k := range depth {
			p.Publish(bg, base+"node:"+node, "hello to "+strconv.Itoa(k))
		}
		exec(p)
		p = c.Pipeline()
		claims := make([]*redis.Cmd, depth)
		for k := range depth {
			s := strconv.Itoa(k)
			claims[k] = p.FCall(bg, "floor_claim", []string{base + "s:" + s, base + "seq", base + "nep"}, "recv", strconv.Itoa(done+k))
			p.Publish(bg, base+"node:"+node, "done "+s)
		}
		exec(p)
		for _, cl := range claims {
			if _, err := cl.Int64(); err != nil {
				t.Fatalf("claim: %v", err)
			}
		}
	})
}
