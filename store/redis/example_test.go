package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/store"
	redisstore "github.com/sockjs-cluster/sockjs/store/redis"
)

// The application brings the client and closes it; the store never does.
// The client does not retry commands (MaxRetries -1): see "Failures and
// contexts" in the package documentation.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", MaxRetries: -1})
	defer rdb.Close()
	st := redisstore.New(rdb, redisstore.Options{Prefix: "chat"})

	ctx := context.Background()
	res, err := st.Open(ctx, "/chat", "session-id", store.OpenRequest{Create: true, Idle: 5 * time.Second})
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	fmt.Println("created:", res.Created)
}
