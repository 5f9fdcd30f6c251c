package redisstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
	"github.com/sockjs-cluster/sockjs/store"
)

// TestLibrary: the library is valid Lua for Redis (it loads), names one
// function per script after itself, and its name changes with its source,
// so that two versions of the store load side by side.
func TestLibrary(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	name, err := c.FunctionLoad(bg, library).Result()
	if err != nil {
		t.Fatalf("FUNCTION LOAD: %v", err)
	}
	if !strings.HasPrefix(name, libraryName+"_") || !strings.HasPrefix(scriptOpen.fn, name+"_") {
		t.Fatalf("library %q, open's function %q", name, scriptOpen.fn)
	}
	libs, err := c.FunctionList(bg, redis.FunctionListQuery{LibraryNamePattern: name}).Result()
	if err != nil || len(libs) != 1 {
		t.Fatalf("FUNCTION LIST: %v %v", libs, err)
	}
	if got := len(libs[0].Functions); got != 11 {
		t.Fatalf("%d functions, want one per script (11)", got)
	}
	other := newLibrary(script("other", nil, "return 1"))
	if other == library || !strings.Contains(other, "name="+libraryName+"_") {
		t.Fatal("another library has the same name")
	}
	if _, err := c.FunctionLoad(bg, other).Result(); err != nil {
		t.Fatalf("a second version beside the first: %v", err)
	}
}

// TestOutOfMemory: when Redis is over maxmemory (noeviction), the calls
// that store more (Open creating, Push, Publish, SetValue) fail with
// Redis's OOM error, and those that free memory or keep leases alive
// (RenewNode, Pull, Release, CloseSession, Reap) and Get still work, so
// that a full Redis drains.
func TestOutOfMemory(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, &redis.Options{Addr: srv.Addr})
	s := New(c, Options{Prefix: uniquePrefix("oom")})
	const route = "r"
	nodeN(t, s, route)
	mustOpen(t, s, route, "a", store.OpenRequest{Create: true, Idle: time.Millisecond, Receiver: "ra", Holder: "n"})
	mustOpen(t, s, route, "b", store.OpenRequest{Create: true, Idle: time.Millisecond})
	if _, err := s.Push(bg, route, "a", []string{"one"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(bg, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ConfigSet(bg, "maxmemory", "0") })
	oom := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "OOM") {
			t.Errorf("%s over maxmemory: %v, want Redis's OOM error", what, err)
		}
	}
	_, err := s.Push(bg, route, "a", []string{"two"})
	oom("Push", err)
	_, err = s.Open(bg, route, "c", store.OpenRequest{Create: true, Idle: time.Minute})
	oom("Open(create)", err)
	_, err = s.Publish(bg, route, "news")
	oom("Publish", err)
	oom("SetValue", s.SetValue(bg, route, "a", "k", "v"))

	if _, err := s.RenewNode(bg, route, "n", store.NodeRequest{Lease: time.Minute}); err != nil {
		t.Errorf("RenewNode over maxmemory: %v", err)
	}
	if _, err := s.Get(bg, route, "a"); err != nil {
		t.Errorf("Get over maxmemory: %v", err)
	}
	res, err := s.Pull(bg, route, "a", store.PullRequest{Receiver: "ra"})
	if err != nil || len(res.Messages) != 1 || res.Messages[0] != "one" {
		t.Errorf("Pull over maxmemory: %v, %v", res, err)
	}
	if err := s.Release(bg, route, "a", "ra", 0); err != nil {
		t.Errorf("Release over maxmemory: %v", err)
	}
	if _, _, err := s.CloseSession(bg, route, "a", 3000, "bye", time.Millisecond); err != nil {
		t.Errorf("CloseSession over maxmemory: %v", err)
	}
	time.Sleep(5 * time.Millisecond)
	gone, err := s.Reap(bg, route, 10)
	if err != nil || len(gone) != 2 {
		t.Errorf("Reap over maxmemory: %d sessions, %v; want a and b", len(gone), err)
	}
}

// TestFunctionsOnEveryPrimary: over a Redis Cluster of three primaries,
// the store loads its library on every primary, and a primary that lost
// it (FUNCTION FLUSH, a restart without persistence) gets it again on the
// next call there, which then succeeds.
func TestFunctionsOnEveryPrimary(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	s := New(c, Options{Prefix: uniquePrefix("functions")})
	// One route in each primary's third of the slots.
	routes := make([]string, 3)
	for i, found := 0, 0; found < 3; i++ {
		r := fmt.Sprintf("route-%d", i)
		k := int(keySlot(s.base(r)+"seq")) * 3 / 16384
		if routes[k] == "" {
			routes[k], found = r, found+1
		}
	}
	use := func(what string) {
		t.Helper()
		for _, r := range routes {
			if _, err := s.RenewNode(bg, r, "n", store.NodeRequest{Lease: time.Minute}); err != nil {
				t.Fatalf("%s: RenewNode(%s): %v", what, r, err)
			}
			id := fmt.Sprintf("%s-%d", r, time.Now().UnixNano())
			mustOpen(t, s, r, id, store.OpenRequest{Create: true, Idle: time.Minute, Receiver: "rc", Holder: "n"})
			if _, err := s.Push(bg, r, id, []string{"m"}); err != nil {
				t.Fatalf("%s: Push(%s): %v", what, r, err)
			}
		}
	}
	loaded := func(addr string) bool {
		t.Helper()
		m := redis.NewClient(&redis.Options{Addr: addr})
		defer m.Close()
		libs, err := m.FunctionList(bg, redis.FunctionListQuery{LibraryNamePattern: libraryName + "_*"}).Result()
		if err != nil {
			t.Fatalf("FUNCTION LIST on %s: %v", addr, err)
		}
		return len(libs) == 1
	}
	use("first calls")
	for _, a := range addrs {
		if !loaded(a) {
			t.Fatalf("primary %s has no library after calls on every primary", a)
		}
	}
	m := redis.NewClient(&redis.Options{Addr: addrs[1]})
	defer m.Close()
	if err := m.FunctionFlush(bg).Err(); err != nil {
		t.Fatal(err)
	}
	use("after one primary lost the library")
	if !loaded(addrs[1]) {
		t.Fatalf("primary %s did not get the library again", addrs[1])
	}
}
