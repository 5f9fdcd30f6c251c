// Package load is the benchmark's load generator: SockJS clients over
// websocket, xhr_streaming (+ xhr_send) and xhr polling, and the scenarios
// the benchmark runs with them. Every scenario is bounded in time and in
// count, and counts lost, duplicated and reordered messages.
package load

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Config bounds a scenario.
type Config struct {
	Sessions      int           // echo: concurrent sessions
	Duration      time.Duration // echo: the measured window
	MaxPerSession int           // echo: at most this many round trips per session
	Receivers     int           // broadcast: receiving sessions
	Messages      int           // broadcast: messages sent
	Idle          int           // idle: sessions opened
	Hold          int           // capacity: idle sessions held (of one kind)
	HoldOpen      time.Duration // capacity: they open at an even pace over this
	HoldWindow    time.Duration // capacity: the measured window, once all are open
	Concurrency   int           // how many sessions connect at once
	Wait          time.Duration // longest wait for one answer
	Timeout       time.Duration // longest a broadcast may take
}

// Probe measures the servers under test around a scenario's measured
// window.
type Probe interface {
	Start()      // begin the window: CPU and Redis counters
	Stop()       // end it
	RSS() int64  // the servers' resident memory now, in bytes
	Note(string) // something the report should say about this run
	// StoreMemory is the memory the session store (Redis) uses now, in
	// bytes; 0 for a system without one.
	StoreMemory() int64
}

// Result is what one scenario run measured on the client side.
type Result struct {
	Ops       int64         // echoed messages, deliveries or connects completed in the window
	Elapsed   time.Duration // the measured window
	P50, P99  float64       // echo round-trip latency, ms
	Sent      int64         // messages sent (echo) or expected deliveries (broadcast)
	Lost      int64         // sent but never received
	Dup       int64         // received more than once
	Reordered int64         // received after a later message
	Code2010  int64         // c[2010,"Another connection still open"] answers
	Errors    int64         // failed requests, refused connections, unexpected close frames
	FirstErr  string        // the first of those
	Complete  time.Duration // broadcast: until the last receiver had every message
	Done      int           // broadcast: receivers that got every message
	RSSPer    float64       // idle: resident bytes per session
	Cycles    int64         // capacity: heartbeats received in the window (xhr polling: poll cycles)
	StorePer  float64       // capacity: store (Redis) bytes per held session
}

// errCount counts errors and keeps the first.
type errCount struct {
	n     atomic.Int64
	once  sync.Once
	first string
}

func (e *errCount) add(format string, args ...any) {
	e.n.Add(1)
	e.once.Do(func() { e.first = fmt.Sprintf(format, args...) })
}

func (e *errCount) into(r *Result) {
	r.Errors = e.n.Load()
	r.FirstErr = e.first
}

// newSID returns a fresh session id.
func newSID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// forEach runs fn(i) for i in [0,n) with at most c running at once.
func forEach(n, c int, fn func(i int)) {
	if c < 1 {
		c = 1
	}
	sem := make(chan struct{}, c)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}
