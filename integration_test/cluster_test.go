package integration_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/internal/redistest"
	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
	redisstore "github.com/sockjs-cluster/sockjs/store/redis"
)

// cluster is several real nodes, each with its own HTTP listener on
// 127.0.0.1 and its own Redis connections, over one real redis-server.
type cluster struct {
	t      *testing.T
	redis  *redistest.Server
	prefix string
	nodes  []*clusterNode
	next   atomic.Uint64
}

type clusterNode struct {
	id     string
	client *redis.Client
	// commands counts the Redis commands the node's store and bus send
	// (pub/sub subscription traffic excluded).
	commands commandCounter
	bus      *redisbus.Bus
	node     *sockjs.Server
	srv      *http.Server
	url      string
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	down     bool
}

// startCluster starts n nodes; setup registers each node's routes.
func startCluster(t *testing.T, n int, setup func(ctx context.Context, node *sockjs.Server)) *cluster {
	t.Helper()
	c := &cluster{t: t, redis: redistest.Start(t), prefix: "t" + newID()}
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, c.startNode(t, i, setup))
	}
	return c
}

func (c *cluster) startNode(t *testing.T, i int, setup func(ctx context.Context, node *sockjs.Server)) *clusterNode {
	t.Helper()
	client := redis.NewClient(&redis.Options{
		Addr:         c.redis.Addr,
		DialTimeout:  time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		MaxRetries:   1,
	})
	n := &clusterNode{id: "node" + string(rune('A'+i)), client: client}
	client.AddHook(&n.commands)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.bus = redisbus.New(client, redisbus.Options{Prefix: c.prefix + ":", Logger: quiet})
	n.node = sockjs.NewServer(sockjs.Config{
		Store:  redisstore.New(client, redisstore.Options{Prefix: c.prefix}),
		Bus:    n.bus,
		Logger: quiet,
		NodeID: n.id,
	})
	setup(n.ctx, n.node)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.url = "http://" + ln.Addr().String()
	n.srv = &http.Server{Handler: n.node, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.srv.Serve(ln) }()
	t.Cleanup(func() { n.stop() })
	return n
}

// stop drains the node (sockjs Shutdown, then the HTTP server) and closes
// its Redis connections; it is idempotent.
func (n *clusterNode) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return
	}
	n.down = true
	n.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.node.Shutdown(ctx)
	_ = n.srv.Shutdown(ctx)
	_ = n.bus.Close()
	_ = n.client.Close()
}

// url returns the next live node's top URL, round robin.
func (c *cluster) url() string {
	for i := 0; i < 2*len(c.nodes); i++ {
		n := c.nodes[int(c.next.Add(1)-1)%len(c.nodes)]
		n.mu.Lock()
		down := n.down
		n.mu.Unlock()
		if !down {
			return n.url
		}
	}
	c.t.Fatal("cluster: no live node")
	return ""
}

// counter counts callbacks per session id across every node.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[id]++
}

func (c *counter) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// commandCounter is a go-redis hook counting commands, a pipeline counting
// as its commands.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// Connection handshakes are not the store's or the bus's.
		if name := cmd.Name(); name != "hello" && name != "client" && name != "auth" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// commands returns the commands all nodes sent so far.
func (c *cluster) commands() int64 {
	var total int64
	for _, n := range c.nodes {
		total += n.commands.n.Load()
	}
	return total
}
