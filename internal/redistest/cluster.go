package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartCluster starts a Redis Cluster of n masters (holding the slots in
// equal ranges), without replicas,
// on loopback, stopped at cleanup; it returns their addresses. It skips the
// test when redis-server is not installed, unless $CI is set.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not installed (CI must install it): %v", err)
		}
		t.Skip("redis-server not installed; install it to run this test")
	}
	addrs := make([]string, n)
	for i := range n {
		addrs[i] = startClusterNode(t, bin)
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

// startClusterNode starts one redis-server in cluster mode on a free port
// whose cluster bus port (port + 10000) is free too.
func startClusterNode(t testing.TB, bin string) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 0; attempt < 20; attempt++ {
		port, ok := freePortPair()
		if !ok {
			continue
		}
		cmd := exec.Command(bin,
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "5000",
			"--save", "", "--appendonly", "no",
			"--dir", dir, "--loglevel", "warning",
		)
		logf, err := os.Create(filepath.Join(dir, "redis.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting redis-server: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		up := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			select {
			case <-done:
			default:
				if c.Ping(context.Background()).Err() != nil {
					continue
				}
				up = true
			}
			break
		}
		c.Close()
		if up {
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
			return addr
		}
		_ = cmd.Process.Kill()
		<-done
	}
	t.Fatal("could not start a cluster node")
	return ""
}

func freePortPair() (int, bool) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, false
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if port+10000 > 65535 {
		return 0, false
	}
	l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
	if err != nil {
		return 0, false
	}
	l2.Close()
	return port, true
}
