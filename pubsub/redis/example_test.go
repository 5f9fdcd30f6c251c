package redisbus_test

import (
	"context"
	"fmt"
	"log"

	"github.com/redis/go-redis/v9"

	redisbus "github.com/sockjs-cluster/sockjs/pubsub/redis"
)

// Two nodes of a cluster, each with its own client and bus, talk through one
// Redis. (Not run: it needs a Redis server on localhost.)
func ExampleNew() {
	ctx := context.Background()
	newNode := func() (*redis.Client, *redisbus.Bus) {
		rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", MaxRetries: -1})
		return rdb, redisbus.New(rdb, redisbus.Options{Prefix: "myapp:"})
	}
	rdbA, a := newNode()
	defer rdbA.Close()
	defer a.Close() // the bus first: Close leaves the client open
	rdbB, b := newNode()
	defer rdbB.Close()
	defer b.Close()

	// One subscription, two channels, one ordered stream.
	got := make(chan string, 2)
	sub, err := a.Subscribe(ctx, func(payload []byte) { got <- string(payload) }, "node-a", "route-chat")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Unsubscribe(ctx)

	// Active now: messages published from any node arrive, in order.
	if err := b.Publish(ctx, "node-a", []byte("unicast")); err != nil {
		log.Fatal(err)
	}
	if err := b.Publish(ctx, "route-chat", []byte("broadcast")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got, <-got)
}
