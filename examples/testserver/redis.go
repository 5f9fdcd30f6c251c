package main

// The Redis flags. This file is the same in examples/chat and
// examples/testserver, so that each example builds on its own when copied
// out of the repository: it needs only the library and go-redis.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
	redisstore "github.com/sockjs-cluster/sockjs/store/redis"
)

// redisFlags choose the Redis deployment a node uses; all empty means
// in memory.
type redisFlags struct {
	url       string // -redis: one server, redis://[user:password@]host:port/db
	cluster   string // -redis-cluster: seed nodes of a Redis Cluster
	sentinels string // -redis-sentinel: Sentinel addresses
	master    string // -redis-master: the master's name in Sentinel
}

func (f *redisFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "redis", "", "Redis URL (redis://host:port/db): run as one node of a cluster over one Redis server; empty: in memory")
	fs.StringVar(&f.cluster, "redis-cluster", "", "Redis Cluster seed nodes, host:port[,host:port...]")
	fs.StringVar(&f.sentinels, "redis-sentinel", "", "Redis Sentinel addresses, host:port[,host:port...] (with -redis-master)")
	fs.StringVar(&f.master, "redis-master", "", "the master's name in Redis Sentinel (with -redis-sentinel)")
}

// redisTimeout bounds dialling, reads and writes, so that a lost Redis
// fails requests quickly instead of holding them.
const redisTimeout = 2 * time.Second

// redisSetup is the parsed flags: at most one of its fields is set.
type redisSetup struct {
	standalone *redis.Options
	cluster    *redis.ClusterOptions
	failover   *redis.FailoverOptions
}

// parse checks the flags and turns them into go-redis options. The zero
// redisSetup (no flag set) means in memory.
func (f redisFlags) parse() (redisSetup, error) {
	var set []string
	for _, fl := range []struct{ name, value string }{
		{"-redis", f.url}, {"-redis-cluster", f.cluster}, {"-redis-sentinel", f.sentinels},
	} {
		if fl.value != "" {
			set = append(set, fl.name)
		}
	}
	if len(set) > 1 {
		return redisSetup{}, fmt.Errorf("flags %s conflict: choose one Redis deployment", strings.Join(set, " and "))
	}
	if f.master != "" && f.sentinels == "" {
		return redisSetup{}, errors.New("flag -redis-master needs -redis-sentinel")
	}

	var s redisSetup
	switch {
	case f.url != "":
		opts, err := redis.ParseURL(f.url)
		if err != nil {
			return redisSetup{}, fmt.Errorf("flag -redis %q: %w", f.url, err)
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		opts.MaxRetries = noRetries
		s.standalone = opts
	case f.cluster != "":
		addrs, err := splitAddrs("-redis-cluster", f.cluster)
		if err != nil {
			return redisSetup{}, err
		}
		s.cluster = &redis.ClusterOptions{
			Addrs:       addrs,
			DialTimeout: redisTimeout, ReadTimeout: redisTimeout, WriteTimeout: redisTimeout,
			MaxRetries: noRetries,
		}
	case f.sentinels != "":
		if f.master == "" {
			return redisSetup{}, errors.New("flag -redis-sentinel needs -redis-master, the master's name in Sentinel")
		}
		addrs, err := splitAddrs("-redis-sentinel", f.sentinels)
		if err != nil {
			return redisSetup{}, err
		}
		s.failover = &redis.FailoverOptions{
			MasterName:    f.master,
			SentinelAddrs: addrs,
			DialTimeout:   redisTimeout, ReadTimeout: redisTimeout, WriteTimeout: redisTimeout,
			MaxRetries: noRetries,
		}
	}
	return s, nil
}

// enabled reports whether a Redis flag was set.
func (s redisSetup) enabled() bool {
	return s.standalone != nil || s.cluster != nil || s.failover != nil
}

// client returns a client for the setup, or nil for in memory.
func (s redisSetup) client() redis.UniversalClient {
	switch {
	case s.standalone != nil:
		return redis.NewClient(s.standalone)
	case s.cluster != nil:
		return redis.NewClusterClient(s.cluster)
	case s.failover != nil:
		return redis.NewFailoverClient(s.failover)
	}
	return nil
}

// String describes the setup for the log.
func (s redisSetup) String() string {
	switch {
	case s.standalone != nil:
		return "redis " + s.standalone.Addr
	case s.cluster != nil:
		return "redis cluster " + strings.Join(s.cluster.Addrs, ",")
	case s.failover != nil:
		return "redis sentinel " + strings.Join(s.failover.SentinelAddrs, ",") + " master " + s.failover.MasterName
	}
	return "memory"
}

// noRetries turns go-redis's command retries off: a command whose
// connection broke after it was sent may have run, and running a store
// call again (a push, a broadcast, a session's creation) would repeat it.
// The call fails instead, and the node answers as for any Redis error.
// Dials are still retried (DialerRetries), which is safe.
const noRetries = -1

// splitAddrs splits a comma-separated list of host:port addresses.
func splitAddrs(flagName, list string) ([]string, error) {
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return nil, fmt.Errorf("flag %s: %q is not host:port", flagName, a)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// backend is a node's Redis store and bus, sharing one client.
type backend struct {
	client redis.UniversalClient
	store  *redisstore.Store
	bus    *redisbus.Bus
}

// openBackend connects to the Redis of s and checks it answers. prefix
// keeps applications sharing one Redis apart.
func openBackend(ctx context.Context, s redisSetup, prefix string) (*backend, error) {
	client := s.client()
	if client == nil {
		return nil, errors.New("no Redis flag set")
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return &backend{
		client: client,
		store:  redisstore.New(client, redisstore.Options{Prefix: prefix}),
		bus:    redisbus.New(client, redisbus.Options{Prefix: prefix + ":"}),
	}, nil
}

// Close closes the bus and the client, after the node has shut down.
func (b *backend) Close() error {
	return errors.Join(b.bus.Close(), b.client.Close())
}
