package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
	"github.com/sockjs-cluster/sockjs/store"
	"github.com/sockjs-cluster/sockjs/store/storetest"
)

// TestMinReplicas: with a replica attached, writing calls succeed; once
// the replica is gone (promoted, as in a failover, or detached), they fail
// with ErrNotReplicated after ReplicaTimeout instead of answering as if
// their writes would survive a failover. Both with and without the
// coalescing pipelines.
func TestMinReplicas(t *testing.T) {
	ctx := context.Background()
	master, rc := startReplicated(t)
	mc := newClient(t, &redis.Options{Addr: master.Addr})
	for _, pipelines := range []int{4, -1} {
		s := New(mc, Options{Prefix: uniquePrefix(t.Name()), MinReplicas: 1, ReplicaTimeout: 200 * time.Millisecond, Pipelines: pipelines})
		if _, err := s.RenewNode(ctx, "r", "n", store.NodeRequest{Lease: time.Minute}); err != nil {
			t.Fatalf("pipelines %d: RenewNode with the replica attached: %v", pipelines, err)
		}
		if _, err := s.Open(ctx, "r", "a", store.OpenRequest{Create: true, Idle: time.Minute, Receiver: "rx", Holder: "n"}); err != nil {
			t.Fatalf("pipelines %d: Open: %v", pipelines, err)
		}
		if _, err := s.Push(ctx, "r", "a", []string{"m"}); err != nil {
			t.Fatalf("pipelines %d: Push: %v", pipelines, err)
		}
		if res, err := s.Pull(ctx, "r", "a", store.PullRequest{Receiver: "rx", Idle: time.Minute}); err != nil || len(res.Messages) != 1 {
			t.Fatalf("pipelines %d: Pull = %v, %v", pipelines, res.Messages, err)
		}
		if _, err := s.Get(ctx, "r", "a"); err != nil {
			t.Fatalf("pipelines %d: Get: %v", pipelines, err)
		}
	}
	// The replica leaves, as a promoted one does.
	if err := rc.ReplicaOf(ctx, "no", "one").Err(); err != nil {
		t.Fatal(err)
	}
	for _, pipelines := range []int{4, -1} {
		s := New(mc, Options{Prefix: uniquePrefix(t.Name()), MinReplicas: 1, ReplicaTimeout: 200 * time.Millisecond, Pipelines: pipelines})
		start := time.Now()
		_, err := s.RenewNode(ctx, "r", "n", store.NodeRequest{Lease: time.Minute})
		if !errors.Is(err, ErrNotReplicated) {
			t.Fatalf("pipelines %d: RenewNode without a replica: %v, want ErrNotReplicated", pipelines, err)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Fatalf("pipelines %d: failed after %v, before ReplicaTimeout", pipelines, d)
		}
		// Reads do not wait.
		if _, err := s.Get(ctx, "r", "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("pipelines %d: Get: %v, want ErrNotFound", pipelines, err)
		}
	}
}

// startReplicated starts a master and a replica of it, in sync, and
// returns the master and a client of the replica.
func startReplicated(t *testing.T) (*redistest.Server, *redis.Client) {
	t.Helper()
	ctx := context.Background()
	master, replica := redistest.Start(t), redistest.Start(t)
	rc := newClient(t, &redis.Options{Addr: replica.Addr})
	if err := rc.ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(master.Port)).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, _ := rc.Info(ctx, "replication").Result()
		if strings.Contains(info, "master_link_status:up") {
			return master, rc
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica did not sync")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestContractMinReplicas runs the conformance suite with every write
// waiting for a replica.
func TestContractMinReplicas(t *testing.T) {
	master, _ := startReplicated(t)
	c := newClient(t, &redis.Options{Addr: master.Addr})
	storetest.Run(t, func(*testing.T) store.Store {
		return New(c, Options{Prefix: uniquePrefix("contract-replicas"), MinReplicas: 1, ReplicaTimeout: time.Second})
	})
}

// TestMinReplicasNotForCluster: a Cluster client cannot route WAIT to the
// shard that took the write, so a store asked for replicas refuses to run.
func TestMinReplicasNotForCluster(t *testing.T) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	s := New(cc, Options{MinReplicas: 1})
	_, err := s.Push(context.Background(), "r", "a", []string{"m"})
	if !errors.Is(err, errWaitCluster) {
		t.Fatalf("Push: %v, want the Cluster refusal", err)
	}
}
