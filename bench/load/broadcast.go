package load

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Broadcast opens cfg.Receivers sessions on route (websocket, or
// xhr_streaming when xhrStreaming is set; receiver i on node i, or every
// request on the next node), then one websocket sender on node 0 sends
// cfg.Messages messages; the route sends each to every session. Without
// paced the sender sends them back to back, as fast as the server reads
// them (a server may then batch many into one frame); with paced it waits
// for its own copy of each message before sending the next. It measures
// until the last receiver has every message, or cfg.Timeout. Ops counts
// the receivers' deliveries (the sender's own copies are not counted).
func Broadcast(ctx context.Context, t Target, route string, xhrStreaming, paced bool, cfg Config, p Probe) Result {
	var errs errCount
	var c2010 atomic.Int64
	rctx, stopReceivers := context.WithCancel(ctx)
	defer stopReceivers()

	trackers := make([]tracker, cfg.Receivers)
	var mu sync.Mutex // guards trackers' complete times and done
	done := 0
	allDone := make(chan struct{})
	var t0 time.Time
	// got records message m at receiver i.
	got := func(i int, m string) {
		seq, err := strconv.Atoi(m)
		if err != nil || seq >= cfg.Messages {
			errs.add("receiver %d got %q", i, m)
			return
		}
		tr := &trackers[i]
		if tr.got(seq) && tr.unique == cfg.Messages {
			tr.complete = time.Now()
			mu.Lock()
			done++
			if done == cfg.Receivers {
				close(allDone)
			}
			mu.Unlock()
		}
	}

	var rwg sync.WaitGroup
	opened := make([]chan struct{}, cfg.Receivers)
	var conns []*websocket.Conn
	if !xhrStreaming {
		conns = make([]*websocket.Conn, cfg.Receivers)
		forEach(cfg.Receivers, cfg.Concurrency, func(i int) {
			c, err := t.dialWS(ctx, i, route, newSID())
			if err != nil {
				errs.add("connect: %v", err)
				return
			}
			conns[i] = c
		})
		for i, c := range conns {
			if c == nil {
				continue
			}
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				var buf bytes.Buffer
				for {
					b, err := readWS(c, &buf)
					if err != nil {
						if rctx.Err() == nil {
							errs.add("receiver %d read: %v", i, err)
						}
						return
					}
					f, err := parseFrame(b)
					if err != nil {
						errs.add("receiver %d frame %q: %v", i, b, err)
						return
					}
					switch f.kind {
					case 'a':
						for _, m := range f.msgs {
							got(i, m)
						}
					case 'c':
						errs.add("receiver %d closed by the server: %s", i, b)
						return
					}
				}
			}()
		}
	} else {
		for i := range cfg.Receivers {
			hs := newHTTPSession(t, route, i, cfg.Wait)
			context.AfterFunc(rctx, hs.rx.closeAll)
			ch := make(chan struct{})
			opened[i] = ch
			var once sync.Once
			closed := false
			handle := func(f frame) bool {
				switch f.kind {
				case 'o':
					once.Do(func() { close(ch) })
				case 'a':
					for _, m := range f.msgs {
						got(i, m)
					}
				case 'c':
					if f.code == 2010 {
						c2010.Add(1)
						return true
					}
					if rctx.Err() == nil {
						errs.add("receiver %d closed by the server with code %d", i, f.code)
					}
					closed = true
					return false
				}
				return true
			}
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				failures := 0
				for rctx.Err() == nil && !closed {
					if err := hs.stream(handle); err != nil && rctx.Err() == nil {
						errs.add("receiver %d: %v", i, err)
						if failures++; failures > 20 {
							return
						}
						time.Sleep(50 * time.Millisecond)
					}
				}
			}()
		}
		setup := time.After(cfg.Timeout)
		for i, ch := range opened {
			select {
			case <-ch:
			case <-setup:
				errs.add("receiver %d did not open", i)
			}
		}
	}

	sender, err := t.dialWS(ctx, 0, route, newSID())
	r := Result{Sent: int64(cfg.Receivers) * int64(cfg.Messages)}
	if err != nil {
		errs.add("sender: %v", err)
	} else {
		own := make(chan int, cfg.Messages+1)
		rwg.Add(1)
		go func() { // read the sender's own copies
			defer rwg.Done()
			var buf bytes.Buffer
			for {
				b, err := readWS(sender, &buf)
				if err != nil {
					return
				}
				if !paced {
					continue
				}
				if f, err := parseFrame(b); err == nil && f.kind == 'a' {
					for _, m := range f.msgs {
						if seq, err := strconv.Atoi(m); err == nil {
							own <- seq
						}
					}
				}
			}
		}()
		p.Start()
		t0 = time.Now()
		for seq := range cfg.Messages {
			_ = sender.SetWriteDeadline(time.Now().Add(cfg.Wait))
			if err := sender.WriteMessage(websocket.TextMessage, encodeSend(strconv.Itoa(seq))); err != nil {
				errs.add("sender write: %v", err)
				break
			}
			if paced && !waitOwn(own, seq, cfg.Wait) {
				errs.add("sender: no copy of message %d within %s", seq, cfg.Wait)
				break
			}
		}
		select {
		case <-allDone:
		case <-time.After(cfg.Timeout - time.Since(t0)):
		}
		r.Elapsed = time.Since(t0)
		p.Stop()
	}

	stopReceivers()
	if sender != nil {
		_ = sender.Close()
	}
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	rwg.Wait()
	var last time.Time
	for i := range trackers {
		tr := &trackers[i]
		r.Ops += int64(tr.unique)
		r.Dup += int64(tr.dup)
		r.Reordered += int64(tr.reorder)
		if tr.unique == cfg.Messages {
			r.Done++
			if tr.complete.After(last) {
				last = tr.complete
			}
		}
	}
	r.Lost = r.Sent - r.Ops
	if r.Done == cfg.Receivers && !t0.IsZero() {
		r.Complete = last.Sub(t0)
		r.Elapsed = r.Complete
	}
	r.Code2010 = c2010.Load()
	errs.into(&r)
	return r
}

// waitOwn waits for the sender's copy of message seq.
func waitOwn(own <-chan int, seq int, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case got := <-own:
			if got >= seq {
				return true
			}
		case <-timer.C:
			return false
		}
	}
}

// Idle opens cfg.Idle websocket sessions on route (session i on node i),
// cfg.Concurrency at a time, and measures how fast they open and how much
// resident memory each costs the servers once they are all open.
func Idle(ctx context.Context, t Target, route string, cfg Config, settle time.Duration, p Probe) Result {
	var errs errCount
	conns := make([]*websocket.Conn, cfg.Idle)
	base := p.RSS()
	p.Start()
	t0 := time.Now()
	forEach(cfg.Idle, cfg.Concurrency, func(i int) {
		c, err := t.dialWS(ctx, i, route, newSID())
		if err != nil {
			errs.add("connect: %v", err)
			return
		}
		conns[i] = c
	})
	r := Result{Elapsed: time.Since(t0), Sent: int64(cfg.Idle)}
	p.Stop()
	for _, c := range conns {
		if c != nil {
			r.Ops++
		}
	}
	r.Lost = r.Sent - r.Ops
	time.Sleep(settle)
	if r.Ops > 0 {
		r.RSSPer = float64(p.RSS()-base) / float64(r.Ops)
	}
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	errs.into(&r)
	return r
}
