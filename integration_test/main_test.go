package integration_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the tests stop Redis on purpose.
	redis.SetLogger(quietRedisLogger{})
	os.Exit(m.Run())
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}
