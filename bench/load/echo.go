package load

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// echoSession is one ping-pong session's bookkeeping.
type echoSession struct {
	idx  int
	tr   tracker
	sent int
	lat  []time.Duration
}

// check records message m arriving for session e while it waits for seq;
// it reports whether m is that answer.
func (e *echoSession) check(m string, seq int, errs *errCount) bool {
	s, q, ok := parseEchoMsg(m)
	if !ok || s != e.idx {
		errs.add("session %d got a message that is not its own: %q", e.idx, m)
		return false
	}
	return e.tr.got(q) && q == seq
}

func (e *echoSession) into(r *Result) {
	r.Sent += int64(e.sent)
	r.Lost += int64(e.sent - e.tr.unique)
	r.Dup += int64(e.tr.dup)
	r.Reordered += int64(e.tr.reorder)
	r.Ops += int64(e.tr.unique)
}

func finishEcho(r *Result, sessions []*echoSession) {
	var all []time.Duration
	for _, e := range sessions {
		e.into(r)
		all = append(all, e.lat...)
	}
	p := percentiles(all, 50, 99)
	r.P50, r.P99 = p[0], p[1]
}

// WSEcho opens cfg.Sessions websocket sessions on route (session i on node
// i), then has each play ping-pong (send one message, wait for its echo)
// for cfg.Duration or cfg.MaxPerSession round trips.
func WSEcho(ctx context.Context, t Target, route string, cfg Config, p Probe) Result {
	var errs errCount
	conns := make([]*websocket.Conn, cfg.Sessions)
	forEach(cfg.Sessions, cfg.Concurrency, func(i int) {
		c, err := t.dialWS(ctx, i, route, newSID())
		if err != nil {
			errs.add("connect: %v", err)
			return
		}
		conns[i] = c
	})
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()

	sessions := make([]*echoSession, cfg.Sessions)
	start := make(chan struct{})
	var end time.Time
	var wg sync.WaitGroup
	for i, c := range conns {
		e := &echoSession{idx: i}
		sessions[i] = e
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// One deadline for the whole run bounds every wait without a
			// timer operation per message.
			_ = c.SetReadDeadline(end.Add(cfg.Wait))
			_ = c.SetWriteDeadline(end.Add(cfg.Wait))
			var buf bytes.Buffer
			for seq := 0; seq < cfg.MaxPerSession && time.Now().Before(end); seq++ {
				t0 := time.Now()
				if err := c.WriteMessage(websocket.TextMessage, encodeSend(echoMsg(i, seq))); err != nil {
					errs.add("websocket write: %v", err)
					return
				}
				e.sent++
				for got := false; !got; {
					b, err := readWS(c, &buf)
					if err != nil {
						errs.add("websocket read: %v", err)
						return
					}
					f, err := parseFrame(b)
					if err != nil {
						errs.add("frame %q: %v", b, err)
						return
					}
					switch f.kind {
					case 'c':
						errs.add("server closed the session: %s", b)
						return
					case 'a':
						for _, m := range f.msgs {
							if e.check(m, seq, &errs) {
								got = true
								e.lat = append(e.lat, time.Since(t0))
							}
						}
					}
				}
			}
		}()
	}
	p.Start()
	t0 := time.Now()
	end = t0.Add(cfg.Duration)
	close(start)
	wg.Wait()
	r := Result{Elapsed: time.Since(t0)}
	p.Stop()
	finishEcho(&r, sessions)
	errs.into(&r)
	return r
}

// XHREcho opens cfg.Sessions sessions over xhr_streaming (or xhr polling
// when polling is set), each with its receiving request always open as a
// browser keeps it, and has each play ping-pong over sequential xhr_send
// requests for cfg.Duration or cfg.MaxPerSession round trips. Every request
// of session i goes to the next node in turn. c[2010] answers (another
// receiver still attached) are counted, and the receiver tries again.
func XHREcho(ctx context.Context, t Target, route string, polling bool, cfg Config, p Probe) Result {
	var errs errCount
	var c2010 atomic.Int64
	rctx, stopReceivers := context.WithCancel(ctx)
	defer stopReceivers()

	type sess struct {
		hs     *httpSession
		rx     chan string
		opened chan struct{}
		closed atomic.Bool
	}
	ss := make([]*sess, cfg.Sessions)
	var rwg sync.WaitGroup
	for i := range ss {
		s := &sess{
			hs:     newHTTPSession(t, route, i, cfg.Wait),
			rx:     make(chan string, 1024),
			opened: make(chan struct{}),
		}
		ss[i] = s
		context.AfterFunc(rctx, s.hs.rx.closeAll)
		var once sync.Once
		// handle takes one frame; false stops the receiver.
		handle := func(f frame) bool {
			switch f.kind {
			case 'o':
				once.Do(func() { close(s.opened) })
			case 'a':
				for _, m := range f.msgs {
					select {
					case s.rx <- m:
					default:
						errs.add("session %d: receive buffer full", i)
					}
				}
			case 'c':
				if f.code == 2010 {
					c2010.Add(1)
					return true
				}
				if rctx.Err() == nil {
					errs.add("session %d closed by the server with code %d", i, f.code)
				}
				s.closed.Store(true)
				return false
			}
			return true
		}
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			failures := 0
			for rctx.Err() == nil && !s.closed.Load() {
				var err error
				if polling {
					var f frame
					f, err = s.hs.poll()
					if err == nil && !handle(f) {
						return
					}
				} else {
					err = s.hs.stream(handle)
				}
				if err != nil && rctx.Err() == nil {
					errs.add("session %d receiver: %v", i, err)
					if failures++; failures > 20 {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	// Setup: every session open before the window starts.
	for i, s := range ss {
		select {
		case <-s.opened:
		case <-time.After(cfg.Wait):
			errs.add("session %d did not open", i)
			s.closed.Store(true)
		}
	}

	sessions := make([]*echoSession, cfg.Sessions)
	start := make(chan struct{})
	var end time.Time
	var wg sync.WaitGroup
	for i, s := range ss {
		e := &echoSession{idx: i}
		sessions[i] = e
		if s.closed.Load() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			timer := time.NewTimer(cfg.Wait)
			defer timer.Stop()
			for seq := 0; seq < cfg.MaxPerSession && time.Now().Before(end); seq++ {
				t0 := time.Now()
				if err := s.hs.send(echoMsg(i, seq)); err != nil {
					errs.add("session %d xhr_send: %v", i, err)
					return
				}
				e.sent++
				timer.Reset(cfg.Wait)
				for got := false; !got; {
					select {
					case m := <-s.rx:
						if e.check(m, seq, &errs) {
							got = true
							e.lat = append(e.lat, time.Since(t0))
						}
					case <-timer.C:
						return // lost: counted from sent and received
					}
				}
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
			}
		}()
	}
	p.Start()
	t0 := time.Now()
	end = t0.Add(cfg.Duration)
	close(start)
	wg.Wait()
	r := Result{Elapsed: time.Since(t0)}
	p.Stop()
	stopReceivers()
	for _, s := range ss {
		s.hs.tx.closeAll()
	}
	rwg.Wait()
	// Late answers still buffered count as received (reordered if late).
	for i, s := range ss {
	drain:
		for {
			select {
			case m := <-s.rx:
				sessions[i].check(m, -1, &errs)
			default:
				break drain
			}
		}
	}
	finishEcho(&r, sessions)
	r.Code2010 = c2010.Load()
	errs.into(&r)
	return r
}
