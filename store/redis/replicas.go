package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated: a call's writes reached the master, but fewer replicas
// than Options.MinReplicas acknowledged them within Options.ReplicaTimeout.
// The write may or may not survive a failover; the caller must not act as
// if it had (a receiver does not hand the messages it acknowledged to its
// client, an xhr_send is answered 503).
var ErrNotReplicated = errors.New("redisstore: not acknowledged by enough replicas")

// errWaitCluster: WAIT has no key, so a Redis Cluster client cannot send it
// to the shard that took the write.
var errWaitCluster = errors.New("redisstore: Options.MinReplicas needs a standalone or Sentinel client (redis.Client, a failover client or a UniversalClient of one); a Redis Cluster client cannot send WAIT to the shard that took the write")

// queueCall queues sc on p (as a function, by hash, or by its source
// when neither) and, when replicas are required and sc writes, a WAIT
// after it on the same connection, which covers the script's writes. (The
// coalescing pipelines queue one WAIT after all their calls instead: see
// call.)
func (s *Store) queueCall(ctx context.Context, p redis.Pipeliner, sc *luaScript, how callBy, keys []string, args []any) (*redis.Cmd, *redis.Cmd) {
	var cmd *redis.Cmd
	switch how {
	case byFunction:
		cmd = p.FCall(ctx, sc.fn, keys, args...)
	case byHash:
		cmd = p.EvalSha(ctx, sc.eval.Hash(), keys, args...)
	default:
		cmd = sc.eval.Eval(ctx, p, keys, args...)
	}
	if s.opts.MinReplicas <= 0 || sc == scriptGet {
		return cmd, nil
	}
	return cmd, s.waitCmd(ctx, p)
}

// callBy is how a script is sent.
type callBy int

const (
	byFunction callBy = iota // FCALL
	byHash                   // EVALSHA
	bySource                 // EVAL
)

// checkWait turns a WAIT's answer into ErrNotReplicated when too few
// replicas acknowledged; nil when no WAIT was sent.
func (s *Store) checkWait(op string, wait *redis.Cmd) error {
	if wait == nil {
		return nil
	}
	n, err := wait.Int64()
	if err != nil {
		return err
	}
	if n < int64(s.opts.MinReplicas) {
		return fmt.Errorf("%w: %s: %d of %d within %v", ErrNotReplicated, op, n, s.opts.MinReplicas, s.opts.ReplicaTimeout)
	}
	return nil
}

// waitCmd queues the WAIT that MinReplicas asks for.
func (s *Store) waitCmd(ctx context.Context, p redis.Pipeliner) *redis.Cmd {
	return p.Do(ctx, "wait", s.opts.MinReplicas, max(s.opts.ReplicaTimeout.Milliseconds(), 1))
}

// runWaited runs a script followed by WAIT, both in one round trip on one
// connection, without the coalescing pipelines: sent as how says, then
// by its source should the server not know its hash.
func (s *Store) runWaited(ctx context.Context, op string, sc *luaScript, how callBy, keys []string, args []any) (any, error) {
	tries := []callBy{how}
	if how == byHash {
		tries = append(tries, bySource)
	}
	for _, how := range tries {
		pipe := s.c.Pipeline()
		cmd, wait := s.queueCall(ctx, pipe, sc, how, keys, args)
		_, _ = pipe.Exec(ctx)
		v, err := cmd.Result()
		if err != nil && how == byHash && redis.HasErrorPrefix(err, "NOSCRIPT") {
			continue // EVAL runs and caches it
		}
		if err == nil {
			err = s.checkWait(op, wait)
		}
		return v, err
	}
	panic("unreachable")
}
