package sockjs

import (
	"testing"
	"time"
)

func TestKnownSessions(t *testing.T) {
	var k knownSessions
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	k.put("a", "alice", []byte("meta"), now)
	if meta, ok := k.get("a", "alice", now.Add(knownFor)); !ok || string(meta) != "meta" {
		t.Fatalf("get within knownFor = %q, %v", meta, ok)
	}
	if _, ok := k.get("a", "mallory", now); ok {
		t.Fatal("known for another owner")
	}
	if _, ok := k.get("a", "alice", now.Add(knownFor+time.Nanosecond)); ok {
		t.Fatal("known after knownFor")
	}
	k.put("b", "", nil, now)
	k.forget("b")
	if _, ok := k.get("b", "", now); ok {
		t.Fatal("known after forget")
	}
	k.put("c", "", nil, now.Add(time.Hour))
	k.sweep(now.Add(knownFor + time.Second))
	if _, ok := k.m["a"]; ok {
		t.Fatal("sweep kept an entry out of date")
	}
	if _, ok := k.m["c"]; !ok {
		t.Fatal("sweep dropped an entry still in date")
	}
}
