// Package autopipe coalesces concurrent go-redis commands into pipelines:
// a command given to Do while others are on their way joins them in one
// round trip, so that a busy node sends Redis one request (one read and
// one write on the server) for many callers instead of one each. Most of
// what a small command or script costs Redis is that request's I/O.
//
// Nothing waits to fill a pipeline: a worker sends what is queued the
// moment it is free, so an idle client sees the latency of a plain
// command, and pipelines grow only when callers outpace the round trip.
package autopipe

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pipeliner sends commands through pipelines on one client. Its workers
// start when commands come and exit after a moment without any, so an
// unused Pipeliner holds no goroutine. Safe for concurrent use.
type Pipeliner struct {
	c       redis.UniversalClient
	max     int // commands per pipeline
	workers int32
	idle    time.Duration

	q      chan *call
	active atomic.Int32
	pool   sync.Pool

	// tail, when set, is queued once at the end of every pipeline that
	// carries a call asking for it (see DoTail).
	tail func(p redis.Pipeliner) redis.Cmder
}

type call struct {
	queue    func(p redis.Pipeliner) redis.Cmder
	wantTail bool
	cmd      redis.Cmder
	tail     redis.Cmder
	done     chan struct{}
}

// SetTail sets the command queued once at the end of each pipeline that
// carries a DoTail call, after all of its commands (Redis WAIT, say, which
// then covers the writes of the whole pipeline). Call it before any Do.
func (p *Pipeliner) SetTail(tail func(p redis.Pipeliner) redis.Cmder) { p.tail = tail }

// New returns a Pipeliner of up to workers concurrent pipelines of up to
// max commands each on c.
func New(c redis.UniversalClient, workers, max int) *Pipeliner {
	p := &Pipeliner{
		c: c, max: max, workers: int32(workers), idle: 200 * time.Millisecond,
		q: make(chan *call, 4*max*workers),
	}
	p.pool.New = func() any { return &call{done: make(chan struct{}, 1)} }
	return p
}

// Do queues the command that queue adds to a pipeline, and returns it once
// it has been answered, or ctx's error when ctx ends first (the command
// may or may not have run then, as with any remote call). Commands of one
// Do call after another from one goroutine run in that order.
func (p *Pipeliner) Do(ctx context.Context, queue func(p redis.Pipeliner) redis.Cmder) (redis.Cmder, error) {
	cmd, _, err := p.do(ctx, queue, false)
	return cmd, err
}

// DoTail is Do for a command that needs the pipeline's tail (SetTail)
// after it; it returns the tail command too (nil without a tail).
func (p *Pipeliner) DoTail(ctx context.Context, queue func(p redis.Pipeliner) redis.Cmder) (cmd, tail redis.Cmder, err error) {
	return p.do(ctx, queue, true)
}

func (p *Pipeliner) do(ctx context.Context, queue func(p redis.Pipeliner) redis.Cmder, wantTail bool) (redis.Cmder, redis.Cmder, error) {
	c := p.pool.Get().(*call)
	c.queue, c.wantTail = queue, wantTail
	select {
	case p.q <- c:
	case <-ctx.Done():
		p.pool.Put(c)
		return nil, nil, ctx.Err()
	}
	p.ensureWorker()
	select {
	case <-c.done:
		cmd, tail := c.cmd, c.tail
		c.cmd, c.tail, c.queue = nil, nil, nil
		p.pool.Put(c)
		return cmd, tail, nil
	case <-ctx.Done():
		// The worker still answers c; it is not reused.
		return nil, nil, ctx.Err()
	}
}

// ensureWorker starts a worker unless all of them run already.
func (p *Pipeliner) ensureWorker() {
	for {
		n := p.active.Load()
		if n >= p.workers {
			return
		}
		if p.active.CompareAndSwap(n, n+1) {
			go p.work()
			return
		}
	}
}

func (p *Pipeliner) work() {
	batch := make([]*call, 0, p.max)
	t := time.NewTimer(p.idle)
	defer t.Stop()
	for {
		var first *call
		select {
		case first = <-p.q:
		case <-t.C:
			// Idle: exit, unless a command came in as we decided to.
			p.active.Add(-1)
			if len(p.q) == 0 || !p.rejoin() {
				return
			}
			t.Reset(p.idle)
			continue
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < p.max {
			select {
			case c := <-p.q:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		p.exec(batch)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(p.idle)
	}
}

// rejoin counts an exiting worker back in, if there is room.
func (p *Pipeliner) rejoin() bool {
	for {
		n := p.active.Load()
		if n >= p.workers {
			return false
		}
		if p.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// exec sends one batch, as a plain command when it is alone.
func (p *Pipeliner) exec(batch []*call) {
	pipe := p.c.Pipeline()
	wantTail := false
	for _, c := range batch {
		c.cmd = c.queue(pipe)
		wantTail = wantTail || c.wantTail
	}
	if wantTail && p.tail != nil {
		tail := p.tail(pipe)
		for _, c := range batch {
			if c.wantTail {
				c.tail = tail
			}
		}
	}
	// Each command carries its own error; Exec's is the first of them.
	_, _ = pipe.Exec(context.Background())
	for i, c := range batch {
		batch[i] = nil
		c.done <- struct{}{}
	}
}
