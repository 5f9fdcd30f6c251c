package sockjs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sockjs-cluster/sockjs/pubsub"
)

// Defaults of Config.ReadinessPing and Config.ReadinessTimeout.
const (
	DefaultReadinessPing    = 5 * time.Second
	DefaultReadinessTimeout = 15 * time.Second
)

// readinessTimes returns the ping period and the ping timeout in force.
func (s *Server) readinessTimes() (every, timeout time.Duration) {
	every, timeout = s.cfg.ReadinessPing, s.cfg.ReadinessTimeout
	if every <= 0 {
		every = DefaultReadinessPing
	}
	if timeout <= 0 {
		timeout = 3 * every
		if s.cfg.ReadinessPing <= 0 {
			timeout = DefaultReadinessTimeout
		}
	}
	return every, timeout
}

// monoBase anchors the node's monotonic clock readings (mono).
var monoBase = time.Now()

// mono is a monotonic reading in nanoseconds, never 0.
func mono() int64 { return int64(time.Since(monoBase)) + 1 }

// routeOps is a route's readiness state, written by its lease renewals and
// its ping goroutine and read by Ready.
type routeOps struct {
	token    string       // this route's pings carry it: others' are ignored
	started  int64        // mono at start
	renewOK  atomic.Int64 // mono of the last lease renewal that succeeded (0: none)
	renewErr atomic.Pointer[error]
	lastPing atomic.Int64          // mono at which the last self-ping arrived (0: none)
	pingErr  atomic.Pointer[error] // the last ping's publish error, nil when it succeeded
}

// noteRenewal records a lease renewal that was sent at sent (mono) and
// tells the Observer.
func (rt *route) noteRenewal(sent int64, err error) {
	if err == nil {
		rt.ops.renewErr.Store(nil)
		rt.ops.renewOK.Store(sent)
	} else if !errors.Is(err, context.Canceled) || rt.srv.ctx.Err() == nil {
		rt.ops.renewErr.Store(&err)
	}
	if o := rt.srv.cfg.Observer; o != nil {
		o.LeaseRenewed(rt.name, err)
	}
}

// msgPing is a node's readiness ping to itself through the bus, on its own
// node channel:
//
//	'p' | uvarint len(token) | token | uvarint sent
//
// with token the sending route's (so that a ping of an earlier process
// with the same node id is ignored) and sent its monotonic clock reading in
// nanoseconds. Decoders ignore what follows sent.
const msgPing = 'p'

func encodePing(token string, sent int64) []byte {
	b := appendString(append(make([]byte, 0, 12+len(token)+10), msgPing), token)
	return binary.AppendUvarint(b, uint64(sent))
}

// startPing starts the route's readiness ping goroutine.
func (rt *route) startPing() {
	rt.ops.token = randomID(8)
	rt.ops.started = mono()
	rt.srv.bg.Add(1)
	go rt.pingLoop()
}

// pingLoop publishes a ping to this node through the bus every
// Config.ReadinessPing, and hands the Observer the buses' counters.
func (rt *route) pingLoop() {
	defer rt.srv.bg.Done()
	every, _ := rt.srv.readinessTimes()
	t := time.NewTicker(every)
	defer t.Stop()
	ctx := rt.srv.ctx
	for {
		rt.ping(ctx, every)
		rt.srv.reportBusStats()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (rt *route) ping(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := rt.publish(ctx, rt.nodeChannel(rt.srv.nodeID), encodePing(rt.ops.token, mono()))
	if err != nil {
		if rt.srv.ctx.Err() != nil {
			return
		}
		rt.ops.pingErr.Store(&err)
		return
	}
	rt.ops.pingErr.Store(nil)
}

// onPing handles a ping that came back; m.first carries its send time.
func (rt *route) onPing(m nodeMessage) {
	if m.key != rt.ops.token {
		return
	}
	now := mono()
	lag := time.Duration(max(now-int64(m.first), 0))
	rt.ops.lastPing.Store(now)
	if o := rt.srv.cfg.Observer; o != nil {
		o.BusLag(rt.name, lag)
	}
}

// reportBusStats hands the Observer the summed counters of the node's
// distinct buses that keep them.
func (s *Server) reportBusStats() {
	o := s.cfg.Observer
	if o == nil {
		return
	}
	var (
		sum  pubsub.Stats
		seen []pubsub.StatsReporter
	)
	s.mu.Lock()
	for _, rt := range s.routes {
		sr, ok := rt.bus.(pubsub.StatsReporter)
		if !ok {
			continue
		}
		dup := false
		for _, x := range seen {
			if x == sr {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		seen = append(seen, sr)
	}
	s.mu.Unlock()
	for _, sr := range seen {
		st := sr.Stats()
		sum.Reconnects += st.Reconnects
		sum.Dropped += st.Dropped
	}
	if len(seen) > 0 {
		o.BusStats(sum)
	}
}

// Ready reports whether the node can serve its routes, for a readiness
// probe: nil when it can, an error saying why not otherwise. It fails
//
//   - once Shutdown has started;
//   - when a route's store cannot be reached: its last node-lease renewal
//     (Options.ReceiverLease) failed, none has succeeded yet, or the last
//     success is older than two renewal periods plus a second (a renewal
//     hangs);
//   - when a route's bus does not deliver: every route publishes a
//     timestamped ping to this node through its bus every
//     Config.ReadinessPing, and Ready fails when none has come back for
//     Config.ReadinessTimeout (or none yet since the route started).
//
// Ready does no I/O: it reads what the node's background work recorded,
// so a probe may call it as often as it likes, and it answers at once. A
// store failure is therefore seen at the next renewal (within
// ReceiverLease/3; every second while the store fails), a bus failure
// within ReadinessTimeout. A node without routes is ready. ctx is only
// checked for having ended.
func (s *Server) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isDraining() {
		return ErrServerClosed
	}
	s.mu.Lock()
	routes := make([]*route, 0, len(s.routes))
	for _, rt := range s.routes {
		routes = append(routes, rt)
	}
	s.mu.Unlock()
	_, timeout := s.readinessTimes()
	now := mono()
	for _, rt := range routes {
		if err := rt.ready(now, timeout); err != nil {
			return err
		}
	}
	return nil
}

// ready checks one route; see Server.Ready.
func (rt *route) ready(now int64, timeout time.Duration) error {
	if e := rt.ops.renewErr.Load(); e != nil {
		return fmt.Errorf("sockjs: route %q: store: renewing the node lease failed: %w", rt.name, *e)
	}
	last := rt.ops.renewOK.Load()
	if last == 0 {
		return fmt.Errorf("sockjs: route %q: store: the node lease was not taken yet", rt.name)
	}
	stale := 2*(rt.opts.ReceiverLease/3) + time.Second
	if age := time.Duration(now - last); age > stale {
		return fmt.Errorf("sockjs: route %q: store: the node lease was last renewed %v ago", rt.name, age.Round(time.Millisecond))
	}
	ping := rt.ops.lastPing.Load()
	if ping == 0 || time.Duration(now-ping) > timeout {
		var since string
		if ping == 0 {
			since = fmt.Sprintf("since the route started %v ago", time.Duration(now-rt.ops.started).Round(time.Millisecond))
		} else {
			since = fmt.Sprintf("for %v", time.Duration(now-ping).Round(time.Millisecond))
		}
		if e := rt.ops.pingErr.Load(); e != nil {
			return fmt.Errorf("sockjs: route %q: bus: no self-ping came back %s; publishing it failed: %w", rt.name, since, *e)
		}
		return fmt.Errorf("sockjs: route %q: bus: no self-ping came back %s", rt.name, since)
	}
	return nil
}

// ReadyHandler serves Ready: 200 "ok", or 503 with the reason, as plain
// text, never cached. Mount it where the orchestrator probes readiness
// (e.g. "/readyz"); it does not belong under a route's prefix.
func (s *Server) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		if err := s.Ready(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintln(w, err.Error())
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
