package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartCluster starts a Redis Cluster of n masters (holding the slots in
// equal ranges), without replicas, on loopback, stopped at cleanup; it
// returns their addresses. It skips the test when redis-server is not
// installed, unless $CI is set.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range n {
		addrs[i] = startOn(t, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", // in the server's --dir
			"--cluster-node-timeout", "5000",
		}, freePortPair).Addr
	}

	ctx := context.Background()
	clients := make([]*redis.Client, n)
	for i, addr := range addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: addr})
		defer clients[i].Close()
	}
	const slots = 16384
	for i, c := range clients {
		lo, hi := i*slots/n, (i+1)*slots/n-1
		if err := c.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
		}
	}
	for _, addr := range addrs[1:] {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		if err := clients[0].ClusterMeet(ctx, host, strconv.Itoa(p)).Err(); err != nil {
			t.Fatalf("CLUSTER MEET: %v", err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range clients {
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster did not come up within 30 s: %s %v", info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// freePortPair returns a free port whose cluster bus port (port + 10000)
// is free too.
func freePortPair() (int, error) {
	for attempt := 0; attempt < 20; attempt++ {
		port, err := freePort()
		if err != nil {
			return 0, err
		}
		if port+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("no free port whose cluster bus port is free too")
}
