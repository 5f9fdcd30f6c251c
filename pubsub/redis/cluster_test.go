package redisbus_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/pubsub/pubsubtest"
	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
)

// The contract holds over a Redis Cluster with three masters, every node of
// the bus with its own ClusterClient: PUBLISH goes to one master whatever
// the channel, and the cluster bus carries it to the subscribers' masters.
func TestConformanceRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster; skipped in -short mode")
	}
	addrs := redistest.StartCluster(t, 3)
	pubsubtest.Run(t, func(t *testing.T) func() pubsub.Bus {
		prefix := uniquePrefix()
		return func() pubsub.Bus {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
			t.Cleanup(func() { c.Close() })
			b := redisbus.New(c, redisbus.Options{Prefix: prefix, Logger: testLogger(t)})
			t.Cleanup(func() { b.Close() })
			return b
		}
	})
}

// Over a Redis Cluster, the pub/sub connection of a bus sits on the master
// that receives its PUBLISH commands (that of the hash slot of its prefix),
// also after it was killed and re-established.
func TestRedisClusterPinsOneMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster; skipped in -short mode")
	}
	addrs := redistest.StartCluster(t, 3)
	prefix := uniquePrefix()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })
	b := redisbus.New(cc, redisbus.Options{Prefix: prefix, Logger: testLogger(t)})
	t.Cleanup(func() { b.Close() })
	p := newProbe("p")
	names := []string{"a", "b", "c", "node-1", "route/chat"}
	subscribe(t, b, p.handle, names...)

	ctx := context.Background()
	master, err := cc.MasterForKey(ctx, "{"+prefix+"}")
	if err != nil {
		t.Fatal(err)
	}
	// where returns the addresses of the nodes on which a connection is
	// subscribed to the bus's channels.
	where := func() []string {
		var at []string
		for _, addr := range addrs {
			c := redis.NewClient(&redis.Options{Addr: addr})
			chs, err := c.PubSubChannels(ctx, "{"+prefix+"}*").Result()
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(chs) > 0 {
				at = append(at, addr)
			}
		}
		return at
	}
	for round := range 3 {
		if at := where(); len(at) != 1 || at[0] != master.Options().Addr {
			t.Fatalf("round %d: channels subscribed on %q, want only on %s, the master of the prefix's slot", round, at, master.Options().Addr)
		}
		for _, name := range names {
			publishUntil(t, b, name, p, fmt.Sprint("round", round, "-", name))
		}
		if n, err := master.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err != nil || n != 1 {
			t.Fatalf("CLIENT KILL TYPE pubsub killed %d connections (%v), want 1", n, err)
		}
		eventually(t, "resubscribed", func() bool { return len(where()) == 1 })
	}
}
