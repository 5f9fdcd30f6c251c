// Package redisconfig turns an example program's -redis flag into a store
// and a bus on one go-redis client.
package redisconfig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/pubsub"
	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
	"github.com/sockjs-cluster/sockjs/store"
	redisstore "github.com/sockjs-cluster/sockjs/store/redis"
)

// Backend is a Redis-backed store and bus sharing one client.
type Backend struct {
	Store  store.Store
	Bus    pubsub.Bus
	client *redis.Client
	bus    *redisbus.Bus
}

// Open connects to the Redis at url (redis://host:port/db) and checks it
// answers. prefix separates applications sharing one Redis.
func Open(ctx context.Context, url, prefix string) (*Backend, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %w", url, err)
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 2 * time.Second
	opts.WriteTimeout = 2 * time.Second
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis %s: %w", opts.Addr, err)
	}
	bus := redisbus.New(client, redisbus.Options{Prefix: prefix + ":"})
	return &Backend{
		Store:  redisstore.New(client, redisstore.Options{Prefix: prefix}),
		Bus:    bus,
		client: client,
		bus:    bus,
	}, nil
}

// Close closes the bus and the client, after the node has shut down.
func (b *Backend) Close() error {
	return errors.Join(b.bus.Close(), b.client.Close())
}
