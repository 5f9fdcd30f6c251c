package load

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A Kind is the transport an idle session is held over.
type Kind string

// The kinds of idle session Hold can keep open.
const (
	HoldWS        Kind = "websocket"     // one websocket
	HoldStreaming Kind = "xhr_streaming" // one xhr_streaming response, reopened when the server ends it
	HoldPolling   Kind = "xhr"           // xhr long polls, each sent the moment the previous one is answered
)

// heldSession is one idle session of Hold.
type heldSession struct {
	opened  chan struct{} // closed at its o frame
	once    sync.Once
	dead    atomic.Bool // failed, or closed by the server
	release func()      // frees its opening slot, once
}

func (h *heldSession) open() {
	h.once.Do(func() { close(h.opened) })
	h.release()
}

// Hold opens cfg.Hold sessions of the given kind on route and leaves them
// idle: no message is sent either way, only what the protocol itself
// exchanges (heartbeats; for xhr polling, the poll cycle: a long poll is
// answered with h after the server's heartbeat delay and the next poll is
// sent at once). The sessions open at an even pace over cfg.HoldOpen
// (at most cfg.Concurrency at once), so that, with HoldOpen one heartbeat
// delay, their heartbeats and lease renewals are spread as in a steady
// state rather than all due in the same second. Once every session is
// open it reads the store's memory, then measures a window of
// cfg.HoldWindow with the probe.
//
// Ops is the sessions still held at the end of the window (Sent those
// asked for; Lost those that failed to open or died), Cycles the
// heartbeats the sessions received in the window (for xhr polling: the
// poll cycles), StorePer the growth of the store's memory per open
// session. Session i's requests go to node i, then round-robin.
func Hold(ctx context.Context, t Target, route string, kind Kind, cfg Config, p Probe) Result {
	var errs errCount
	var c2010, cycles atomic.Int64
	var inWindow atomic.Bool
	rctx, stopSessions := context.WithCancel(ctx)
	defer stopSessions()

	ss := make([]*heldSession, cfg.Hold)
	var wg sync.WaitGroup
	// fail marks session i dead with an error, unless the run is ending.
	fail := func(i int, format string, args ...any) {
		if rctx.Err() == nil && !ss[i].dead.Swap(true) {
			errs.add("session %d: "+format, append([]any{i}, args...)...)
		}
		ss[i].release()
	}
	// handle takes one frame of session i; false stops it.
	handle := func(i int, f frame) bool {
		switch f.kind {
		case 'o':
			ss[i].open()
		case 'h':
			if inWindow.Load() {
				cycles.Add(1)
			}
		case 'a':
			fail(i, "got messages on an idle session: %q", f.msgs)
			return false
		case 'c':
			if f.code == 2010 {
				c2010.Add(1)
				return true
			}
			fail(i, "closed by the server with code %d", f.code)
			return false
		}
		return true
	}
	// run keeps session i open until the end of the run.
	run := func(i int) {
		h := ss[i]
		switch kind {
		case HoldWS:
			c, err := t.dialWS(rctx, i, route, newSID())
			if err != nil {
				fail(i, "connect: %v", err)
				return
			}
			context.AfterFunc(rctx, func() { _ = c.Close() })
			h.open()
			var buf bytes.Buffer
			for {
				b, err := readWS(c, &buf)
				if err != nil {
					fail(i, "websocket read: %v", err)
					return
				}
				f, err := parseFrame(b)
				if err != nil {
					fail(i, "frame %q: %v", b, err)
					return
				}
				if !handle(i, f) {
					return
				}
			}
		case HoldStreaming, HoldPolling:
			hs := newHTTPSession(t, route, i, cfg.Wait)
			hs.k.Store(-1) // the first request goes to node i
			context.AfterFunc(rctx, hs.rx.closeAll)
			failures := 0
			for rctx.Err() == nil && !h.dead.Load() {
				var err error
				if kind == HoldPolling {
					var f frame
					if f, err = hs.poll(); err == nil && !handle(i, f) {
						return
					}
				} else {
					err = hs.stream(func(f frame) bool { return handle(i, f) })
				}
				if err != nil && rctx.Err() == nil {
					if failures++; failures > 3 {
						fail(i, "%s: %v", kind, err)
						return
					}
					errs.add("session %d %s (retried): %v", i, kind, err)
					time.Sleep(50 * time.Millisecond)
				}
			}
		default:
			fail(i, "unknown kind %q", kind)
		}
	}

	// Open the sessions at an even pace.
	r := Result{Sent: int64(cfg.Hold)}
	before := p.StoreMemory()
	sem := make(chan struct{}, max(cfg.Concurrency, 1))
	t0 := time.Now()
	for i := range ss {
		if cfg.Hold > 1 {
			due := t0.Add(cfg.HoldOpen * time.Duration(i) / time.Duration(cfg.Hold))
			if !sleepCtx(rctx, time.Until(due)) {
				break
			}
		}
		select {
		case sem <- struct{}{}:
		case <-rctx.Done():
		}
		if rctx.Err() != nil {
			break
		}
		ss[i] = &heldSession{opened: make(chan struct{}), release: sync.OnceFunc(func() { <-sem })}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ss[i].release()
			run(i)
		}()
	}
	// Every session open (or given up on) before the window.
	wctx, cancelWait := context.WithTimeout(rctx, cfg.Wait)
	opened := 0
	for i, h := range ss {
		if h == nil {
			break
		}
		select {
		case <-h.opened:
			opened++
		case <-wctx.Done():
			fail(i, "did not open within %s of the last one's start", cfg.Wait)
		}
	}
	cancelWait()
	if opened > 0 {
		if after := p.StoreMemory(); before > 0 && after > 0 {
			r.StorePer = float64(after-before) / float64(opened)
		}
	}

	if rctx.Err() == nil {
		p.Start()
		inWindow.Store(true)
		w0 := time.Now()
		if !sleepCtx(rctx, cfg.HoldWindow) {
			errs.add("run ended %s into the %s window", time.Since(w0).Round(time.Millisecond), cfg.HoldWindow)
		}
		inWindow.Store(false)
		r.Elapsed = time.Since(w0)
		p.Stop()
	}
	for _, h := range ss {
		if h != nil && !h.dead.Load() && isClosed(h.opened) {
			r.Ops++
		}
	}
	stopSessions()
	wg.Wait()
	r.Lost = r.Sent - r.Ops
	r.Cycles = cycles.Load()
	r.Code2010 = c2010.Load()
	errs.into(&r)
	return r
}

// sleepCtx sleeps for d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
