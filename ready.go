package sockjs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
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

// routeOps is a route's readiness state, written by its lease renewals,
// its bus pinger and its subscription, and read by Ready.
type routeOps struct {
	token    string       // this route's pings carry it: others' are ignored
	started  int64        // mono at start
	renewOK  atomic.Int64 // mono of the last lease renewal that succeeded (0: none)
	renewErr atomic.Pointer[error]
	pinger   atomic.Pointer[busPinger] // the pinger of the route's bus (nil before startPing)
	lastPing atomic.Int64              // mono at which the last self-ping arrived (0: none)
	pending  atomic.Int64              // mono at which the oldest self-ping not back yet was sent (0: none)
	pingErr  atomic.Pointer[error]     // the last ping's publish error, nil when it succeeded
	pinged   bool                      // a ping was sent; owned by the pinger's goroutine
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

// busPinger pings the node through one bus for Ready, on behalf of every
// route of the node on that bus (routes share one when their pubsub.Bus
// values are equal, see sameBus): one route's ping per
// Config.ReadinessPing, the routes taking turns, so that idle readiness
// costs one publish per bus and period however many routes share it. See
// Server.Ready for what it sends when.
type busPinger struct {
	srv     *Server
	bus     pubsub.Bus
	started int64                 // mono at creation
	last    atomic.Int64          // mono at which a ping of any of its routes last came back (0: none)
	err     atomic.Pointer[error] // the last publish's error, nil when it succeeded
	kick    chan struct{}         // a route was added: send its first ping now

	mu     sync.Mutex
	routes []*route // in the order they were added

	// Owned by the pinger's goroutine.
	next       int    // the rotation's next index into routes
	reconnects uint64 // the bus's Stats().Reconnects at the last tick
}

// startPing hands the route to its bus's pinger, starting one for a bus
// no route of the node used yet, and has its first ping sent at once.
func (rt *route) startPing() {
	s := rt.srv
	s.mu.Lock()
	var p *busPinger
	for _, x := range s.pingers {
		if sameBus(x.bus, rt.bus) {
			p = x
			break
		}
	}
	fresh := p == nil
	if fresh {
		p = &busPinger{srv: s, bus: rt.bus, started: mono(), kick: make(chan struct{}, 1)}
		s.pingers = append(s.pingers, p)
	}
	s.mu.Unlock()
	p.mu.Lock()
	p.routes = append(p.routes, rt)
	p.mu.Unlock()
	rt.ops.pinger.Store(p)
	if fresh {
		s.bg.Add(1)
		go p.loop()
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// sameBus reports whether a and b are one bus. Bus values are compared as
// interface values; one whose dynamic value cannot be compared (a struct
// holding a slice, say) is taken for a bus of its own.
func sameBus(a, b pubsub.Bus) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() || va.Type() != vb.Type() || !va.Comparable() || !vb.Comparable() {
		return false
	}
	return a == b
}

// loop sends the first ping of each route at once, then a round of pings
// every Config.ReadinessPing, and hands the Observer the buses' counters.
func (p *busPinger) loop() {
	defer p.srv.bg.Done()
	every, _ := p.srv.readinessTimes()
	t := time.NewTicker(every)
	defer t.Stop()
	ctx := p.srv.ctx
	if sr, ok := p.bus.(pubsub.StatsReporter); ok {
		p.reconnects = sr.Stats().Reconnects
	}
	p.round(ctx, false)
	p.srv.reportBusStats()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
			p.round(ctx, false)
		case <-t.C:
			p.round(ctx, true)
			p.srv.reportBusStats()
		}
	}
}

// round sends the first ping of every route not pinged yet and, on a
// tick, either a ping to every route (the bus counted a reconnect since
// the last tick, and a reconnect is when a subscription may be lost) or:
//
//   - the rotation's ping: the next route in turn whose ping is not out,
//     so that a bus that delivers keeps answering every period even while
//     some of its routes do not (the next route in turn when all are out);
//   - while the bus delivers (a ping came back within ReadinessTimeout), a
//     retry for every route whose ping has been out for half a period, so
//     that a ping lost now and then does not fail Ready however rarely the
//     rotation comes back to its route.
func (p *busPinger) round(ctx context.Context, tick bool) {
	p.mu.Lock()
	routes := slices.Clone(p.routes)
	p.mu.Unlock()
	if len(routes) == 0 {
		return
	}
	every, timeout := p.srv.readinessTimes()
	now := mono()
	pick := make([]bool, len(routes))
	for i, rt := range routes {
		pick[i] = !rt.ops.pinged
	}
	if tick {
		if p.reconnected() {
			for i := range pick {
				pick[i] = true
			}
		} else {
			pick[p.rotate(routes)] = true
			if time.Duration(now-max(p.last.Load(), p.started)) <= timeout {
				for i, rt := range routes {
					if sent := rt.ops.pending.Load(); sent != 0 && time.Duration(now-sent) >= every/2 {
						pick[i] = true
					}
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, every)
	defer cancel()
	for i, rt := range routes {
		if pick[i] {
			p.ping(ctx, rt)
		}
	}
}

// reconnected reports whether the bus counted a reconnect since the last
// call; false for a bus that does not count them.
func (p *busPinger) reconnected() bool {
	sr, ok := p.bus.(pubsub.StatsReporter)
	if !ok {
		return false
	}
	n := sr.Stats().Reconnects
	if n == p.reconnects {
		return false
	}
	p.reconnects = n
	return true
}

// rotate returns the index of the rotation's next route: the first one
// in turn whose ping is not out, or the next one in turn when all are.
// Each route is picked within len(routes) calls while its ping is not out.
func (p *busPinger) rotate(routes []*route) int {
	start := p.next % len(routes)
	pick := start
	for k := range routes {
		if i := (start + k) % len(routes); routes[i].ops.pending.Load() == 0 {
			pick = i
			break
		}
	}
	p.next = pick + 1
	return pick
}

// ping publishes a ping of rt to this node through the bus.
func (p *busPinger) ping(ctx context.Context, rt *route) {
	rt.ops.pinged = true
	sent := mono()
	rt.ops.pending.CompareAndSwap(0, sent) // before publishing: it may come back at once
	err := rt.publish(ctx, rt.nodeChannel(rt.srv.nodeID), encodePing(rt.ops.token, sent))
	if err != nil {
		if rt.srv.ctx.Err() != nil {
			return
		}
		rt.ops.pingErr.Store(&err)
		p.err.Store(&err)
		return
	}
	rt.ops.pingErr.Store(nil)
	p.err.Store(nil)
}

// onPing handles a ping that came back; m.first carries its send time.
// Pings of one route come back in the order they were sent, so this one
// answers every earlier one that is still out (lost).
func (rt *route) onPing(m nodeMessage) {
	if m.key != rt.ops.token {
		return
	}
	now := mono()
	sent := int64(m.first)
	for {
		out := rt.ops.pending.Load()
		if out == 0 || out > sent || rt.ops.pending.CompareAndSwap(out, 0) {
			break
		}
	}
	rt.ops.lastPing.Store(now)
	if p := rt.ops.pinger.Load(); p != nil {
		p.last.Store(now)
	}
	if o := rt.srv.cfg.Observer; o != nil {
		o.BusLag(rt.name, time.Duration(max(now-sent, 0)))
	}
}

// reportBusStats hands the Observer the summed counters of the node's
// distinct buses that keep them.
func (s *Server) reportBusStats() {
	o := s.cfg.Observer
	if o == nil {
		return
	}
	var seen []pubsub.StatsReporter
	s.mu.Lock()
	for _, p := range s.pingers {
		if sr, ok := p.bus.(pubsub.StatsReporter); ok {
			seen = append(seen, sr)
		}
	}
	s.mu.Unlock()
	var sum pubsub.Stats
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
//   - when a route's bus does not deliver to it, as seen by timestamped
//     pings the node publishes to itself, each on one route's node
//     channel. The node pings once per Config.ReadinessPing period per
//     distinct bus (routes passing equal pubsub.Bus values, or none, share
//     one), the routes of a bus taking turns. Besides, it pings a new
//     route at once; resends, every period, each ping that has been out
//     for half a period while a ping of the bus came back within
//     Config.ReadinessTimeout (so a ping lost now and then does not fail
//     Ready); and pings every route of a bus at the first period after
//     the bus counted a reconnect (a bus implementing
//     pubsub.StatsReporter). Ready fails for a route until its own first
//     ping has come back; when no ping of any route of its bus has come
//     back for ReadinessTimeout; and when a ping of its own sent more than
//     ReadinessTimeout ago has not come back, nor any it sent later.
//
// Ready does no I/O: it reads what the node's background work recorded,
// so a probe may call it as often as it likes, and it answers at once. A
// store failure is therefore seen at the next renewal (within
// ReceiverLease/3; every second while the store fails). A bus that stops
// delivering fails every route on it within ReadinessTimeout. A route
// whose own subscription alone is lost (the bus reconnected without
// resubscribing its channels) fails within N×ReadinessPing +
// ReadinessTimeout, N the number of the node's routes on that bus, and
// within ReadinessPing + ReadinessTimeout of the bus counting the
// reconnect when it counts them; the other routes of that bus stay ready
// as long as ReadinessTimeout exceeds ReadinessPing plus the bus's
// delivery delay. These bounds count periods in which the pinger ran: a
// publish that hangs delays the next period by up to one. A node without
// routes is ready.
// ctx is only checked for having ended.
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
	p := rt.ops.pinger.Load()
	if rt.ops.lastPing.Load() == 0 || p == nil {
		return rt.busFailure(rt.ops.pingErr.Load(), "no self-ping came back since the route started %v ago",
			time.Duration(now-rt.ops.started).Round(time.Millisecond))
	}
	if age := time.Duration(now - p.last.Load()); age > timeout {
		return rt.busFailure(p.err.Load(), "no self-ping of any route on its bus came back for %v", age.Round(time.Millisecond))
	}
	if sent := rt.ops.pending.Load(); sent != 0 && time.Duration(now-sent) > timeout {
		return rt.busFailure(rt.ops.pingErr.Load(), "the route's self-ping sent %v ago has not come back, though the bus delivers (a ping came back %v ago): is the route still subscribed?",
			time.Duration(now-sent).Round(time.Millisecond), time.Duration(now-p.last.Load()).Round(time.Millisecond))
	}
	return nil
}

// busFailure is Ready's error for a bus failure described by format and
// args, wrapping the publish error *e when there is one.
func (rt *route) busFailure(e *error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if e != nil {
		return fmt.Errorf("sockjs: route %q: bus: %s; publishing it failed: %w", rt.name, what, *e)
	}
	return fmt.Errorf("sockjs: route %q: bus: %s", rt.name, what)
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
