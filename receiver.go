package sockjs

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sockjs-cluster/sockjs/internal/frame"
	"github.com/sockjs-cluster/sockjs/store"
	"github.com/sockjs-cluster/sockjs/transports"
)

// receiver is one polling or streaming request's hold on a session. Its
// fields other than wake and done belong to the request's goroutine.
type receiver struct {
	rt   *route
	key  string
	name string // lease holder name: "node/n"
	kind transports.Kind
	ctx  context.Context

	transport string // for the Observer

	wake chan struct{} // a message, close or broadcast may be waiting
	done chan struct{} // closed once released

	attached bool // holds the lease
	released bool // the store released the lease already
	// holdEnded: from then on a poll's bounded hold (pollHold) has surely
	// ended in the store, by itself; zero for other holds.
	holdEnded time.Time
	created   bool
	sentOpen  bool
	pending   []string
	fixed     *transports.Batch // the only answer (refusals)
	hb        *time.Timer       // heartbeat: fires HeartbeatDelay after quiet began, or earlier
	hbArmed   bool              // hb is running
	quiet     time.Time         // when the receiver last handed over a frame

	// cursor is the sequence number of the last message this receiver has
	// handed its transport. Messages taken from offers move it, and are
	// acknowledged to the store before they are handed over (Next).
	cursor uint64

	lost atomic.Bool // the node's lease ran out with the store unreachable

	mu     sync.Mutex
	offers []pushed // from senders, in arrival order
	stale  bool     // woken for something offers do not carry: pull
}

// pushed is a push's messages offered to the session's receiver by the
// sender (see store.PushResult).
type pushed struct {
	first, prev uint64
	msgs        []string
}

var closeAnother = &transports.Close{Code: CodeAnotherConnection, Reason: "Another connection still open"}

func (rt *route) newName() string {
	return rt.srv.nodeID + "/" + strconv.FormatUint(rt.recvSeq.Add(1), 36)
}

// owner is the identity r binds its session to ("" without SessionOwner).
func (rt *route) owner(r *http.Request) string {
	if rt.opts.SessionOwner == nil {
		return ""
	}
	return rt.opts.SessionOwner(r)
}

// encodeMeta is how a session's opening request is kept in the store: the
// JSON that encoding/json would decode into a Request, written directly
// (every websocket session's creation encodes one). Only the headers keep
// accepts are written (all when keep is nil), and none that would take the
// encoding past max bytes (no bound when max <= 0); a URI whose encoding
// takes more than half of max, or a host more than an eighth, is cut (a
// remote address is short).
func encodeMeta(req *Request, keep func(string) bool, max int) []byte {
	uri, host := req.RequestURI, req.Host
	if max > 0 {
		uri, host = quotedPrefix(uri, max/2), quotedPrefix(host, max/8)
	}
	b := make([]byte, 0, 128+len(req.RemoteAddr)+len(host)+len(uri))
	b = append(b, `{"remote_addr":`...)
	b = frame.AppendQuote(b, req.RemoteAddr)
	b = append(b, `,"host":`...)
	b = frame.AppendQuote(b, host)
	b = append(b, `,"uri":`...)
	b = frame.AppendQuote(b, uri)
	b = append(b, `,"header":`...)
	if req.Header == nil {
		b = append(b, "null"...)
		return append(b, '}')
	}
	b = append(b, '{')
	first := true
	for k, vs := range req.Header {
		if keep != nil && !keep(k) {
			continue
		}
		mark := len(b)
		if !first {
			b = append(b, ',')
		}
		b = frame.AppendQuote(b, k)
		if vs == nil {
			b = append(b, ":null"...)
		} else {
			b = append(b, ":["...)
			for i, v := range vs {
				if i > 0 {
					b = append(b, ',')
				}
				b = frame.AppendQuote(b, v)
			}
			b = append(b, ']')
		}
		if max > 0 && len(b)+2 > max {
			b = b[:mark] // this header would not fit
			continue
		}
		first = false
	}
	b = append(b, '}')
	return append(b, '}')
}

// quotedPrefix returns the longest prefix of s whose JSON string encoding
// (quotes and escapes included) takes at most n bytes.
func quotedPrefix(s string, n int) string {
	if len(s)+2 <= n && len(frame.AppendQuote(nil, s)) <= n {
		return s
	}
	// Escapes only lengthen: the prefix is at most n-2 bytes long.
	lo, hi := 0, min(len(s), max(n-2, 0))
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(frame.AppendQuote(nil, s[:mid])) <= n {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for lo > 0 && lo < len(s) && !utf8.RuneStart(s[lo]) {
		lo-- // not in the middle of a character
	}
	return s[:lo]
}

// storedMeta encodes the opening request as the route keeps it.
func (rt *route) storedMeta(req *Request) []byte {
	return encodeMeta(req, rt.keepHeader, rt.opts.MaxStoredRequest)
}

func (rt *route) keepHeader(name string) bool {
	return slices.Contains(rt.opts.RequestHeaders, name)
}

// attach takes the receiver lease of session id (creating the session when
// it is new) for a polling or streaming request.
func (rt *route) attach(ctx context.Context, r *http.Request, id string, kind transports.Kind) (*receiver, error) {
	rc := &receiver{
		rt: rt, key: id, name: rt.newName(), kind: kind, ctx: ctx, transport: transportOf(r),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	// Registered before the store sees the lease, so no wake-up is missed.
	rt.register(rc)
	req := store.OpenRequest{
		Owner:         rt.owner(r),
		Idle:          rt.opts.DisconnectDelay,
		Receiver:      rc.name,
		Holder:        rt.srv.nodeID,
		Pull:          true,
		Lean:          true, // the session's meta is read when needed (Session.Request)
		ReleaseIfData: kind == transports.KindPolling,
	}
	if kind == transports.KindPolling {
		req.HoldFor = pollHold(rt.opts.HeartbeatDelay)
	}
	var opening *Request // the opening request, when this one creates the session
	res, err := rt.open(ctx, id, req)
	if errors.Is(err, store.ErrNotFound) {
		// A new session (or one bound to another identity, which the
		// creating call refuses the same way). The opening request is
		// encoded only now: most receiving requests find their session.
		if err := rt.authorize(r); err != nil {
			rt.unregister(rc)
			return nil, err
		}
		opening = requestOf(r)
		req.Create, req.Meta = true, rt.storedMeta(opening)
		res, err = rt.open(ctx, id, req)
	}
	if errors.Is(err, store.ErrReceiverBusy) {
		res, err = rt.retryBusy(ctx, id, req, res.Session.Receiver)
	}
	switch {
	case errors.Is(err, store.ErrReceiverBusy):
		rt.observeBusy(rc.transport)
		rt.unregister(rc)
		rc.fixed = &transports.Batch{Close: closeAnother}
		return rc, nil
	case errors.Is(err, store.ErrNotFound):
		// Bound to another identity (SessionOwner): answer as for no session.
		rt.unregister(rc)
		return nil, transports.ErrNotFound
	case err != nil:
		rt.unregister(rc)
		return nil, storeErr("open session", err)
	}
	rc.attached = res.Attached
	if res.Attached && req.HoldFor > 0 {
		// The store's clock started the hold at or before this moment,
		// and counts it in whole milliseconds, rounded up.
		rc.holdEnded = time.Now().Add(req.HoldFor + time.Millisecond)
	}
	if res.Attached && res.Session.State == store.StateOpen {
		meta := res.Session.Meta
		if res.Created {
			meta = req.Meta
		}
		rt.known.put(id, req.Owner, meta, time.Now())
	}
	if res.Created {
		rc.created = true
		rt.observeOpened(rc.transport)
		s := rt.handle(ctx, id, id, req.Meta, opening)
		s.owner = req.Owner
		if !rt.runOnOpen(s) {
			_ = rt.closeSession(ctx, id, CodeServerError, "Internal error")
		}
	}
	if !res.Attached {
		rt.unregister(rc)
		s := res.Session
		rc.fixed = &transports.Batch{Messages: res.Messages}
		if len(res.Messages) == 0 || kind != transports.KindPolling {
			// A poll carries one frame: the close frame waits for the next.
			rc.fixed.Close = &transports.Close{Code: s.CloseCode, Reason: s.CloseReason}
		}
		return rc, nil
	}
	rc.pending = res.Messages
	rc.cursor = res.Cursor
	if res.Missed {
		rt.missedBroadcasts(ctx, id)
	}
	if len(res.Messages) > 0 && kind == transports.KindPolling {
		rc.released = true
	}
	return rc, nil
}

// pollHold is how long a poll holds its session (store.OpenRequest.HoldFor):
// until a little before its heartbeat, HeartbeatDelay less a tenth of it
// (at most a second), so that the hold has ended, by itself, when the poll
// answers "h" and its client polls again. A poll answered with a heartbeat
// therefore needs no Release: one store call per idle poll cycle. Zero,
// for heartbeats too short to leave a margin, holds until released.
func pollHold(heartbeat time.Duration) time.Duration {
	margin := min(heartbeat/10, time.Second)
	if margin < 2*time.Millisecond {
		return 0
	}
	return heartbeat - margin
}

// missedBroadcasts closes a session that fell so far behind that the
// route's broadcast log was trimmed past what it had taken: rather than
// skip messages silently, it ends, saying why. What it took is delivered
// first; its receivers get the close frame next.
func (rt *route) missedBroadcasts(ctx context.Context, key string) {
	rt.observeSlow(SlowMissedBroadcasts)
	rt.log.Warn("sockjs: session fell behind the broadcast log; closing it", "session", key)
	if err := rt.closeSession(ctx, key, CodeSlowConsumer, reasonMissed); err != nil {
		rt.log.Warn("sockjs: closing a session that missed broadcasts", "session", key, "err", err)
	}
}

// reasonMissed is the close reason of a session that missed broadcasts.
const reasonMissed = "Missed broadcasts: fell behind the broadcast log"

// busyGrace is how long a request refused with 2010 waits for the holder to
// let go, in case the holder's client has just vanished and its node has not
// yet noticed (the protocol expects the next request to find the session
// free once the abort happened).
const busyGrace = 150 * time.Millisecond

// retryBusy retries taking a busy session: at once when a local holder
// finishes, or every 25ms for a holder on another node, for busyGrace.
func (rt *route) retryBusy(ctx context.Context, id string, req store.OpenRequest, holder string) (store.OpenResult, error) {
	if rt.waitLocalRelease(ctx, holder) {
		return rt.store.Open(ctx, rt.name, id, req)
	}
	if nodeOf(holder) == rt.srv.nodeID {
		return store.OpenResult{}, store.ErrReceiverBusy
	}
	deadline := time.Now().Add(busyGrace)
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return store.OpenResult{}, ctx.Err()
		case <-t.C:
		}
		res, err := rt.store.Open(ctx, rt.name, id, req)
		if !errors.Is(err, store.ErrReceiverBusy) {
			return res, err
		}
	}
	return store.OpenResult{}, store.ErrReceiverBusy
}

// waitLocalRelease gives a receiver on this node that is on its way out
// (its client has just gone) a moment to release the session, so the
// client's next request is not refused with 2010. It reports whether the
// holder is gone.
func (rt *route) waitLocalRelease(ctx context.Context, holder string) bool {
	if holder == "" || nodeOf(holder) != rt.srv.nodeID {
		return false
	}
	rt.mu.Lock()
	old := rt.byName[holder]
	rt.mu.Unlock()
	if old == nil {
		return true
	}
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-old.done:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// receiverSets recycles the per-session sets of local receivers: a poll
// registers and unregisters one for each request.
var receiverSets = sync.Pool{New: func() any { return map[*receiver]struct{}{} }}

func (rt *route) register(rc *receiver) {
	rt.mu.Lock()
	set := rt.receivers[rc.key]
	if set == nil {
		set = receiverSets.Get().(map[*receiver]struct{})
		rt.receivers[rc.key] = set
	}
	set[rc] = struct{}{}
	rt.byName[rc.name] = rc
	rt.mu.Unlock()
}

func (rt *route) unregister(rc *receiver) {
	rt.mu.Lock()
	if set := rt.receivers[rc.key]; set != nil {
		delete(set, rc)
		if len(set) == 0 {
			delete(rt.receivers, rc.key)
			receiverSets.Put(set)
		}
	}
	if rt.byName[rc.name] == rc {
		delete(rt.byName, rc.name)
	}
	rt.mu.Unlock()
}

// offer hands the receiver messages a sender has just pushed; it writes
// them itself when nothing it has not seen came before them, and pulls
// otherwise.
func (rc *receiver) offer(p pushed) {
	rc.mu.Lock()
	if len(rc.offers) < maxOffers {
		rc.offers = append(rc.offers, p)
	} else {
		// A receiver this far behind (a slow client) pulls instead: the
		// store has it all, within its own limits.
		rc.offers, rc.stale = nil, true
	}
	rc.mu.Unlock()
	rc.signal()
}

// maxOffers bounds the offers waiting for a receiver.
const maxOffers = 256

// takeOffers returns, in order, the offered messages that follow the
// cursor without a gap, and moves the cursor past them. gap reports an
// offer that something unseen precedes (an earlier push whose offer is
// late or lost, or a broadcast), or a wake-up for something else: the
// store has it all.
func (rc *receiver) takeOffers() (msgs []string, gap bool) {
	rc.mu.Lock()
	offers, gap := rc.offers, rc.stale
	rc.offers, rc.stale = nil, false
	rc.mu.Unlock()
	if gap {
		return nil, true
	}
	for _, p := range offers {
		last := p.first + uint64(len(p.msgs)) - 1
		if last <= rc.cursor {
			continue // pulled already
		}
		if p.prev > rc.cursor {
			return msgs, true
		}
		skip := 0
		if p.first <= rc.cursor {
			skip = int(rc.cursor - p.first + 1)
		}
		msgs = append(msgs, p.msgs[skip:]...)
		rc.cursor = last
	}
	return msgs, false
}

// wakeUp tells the receiver that the store has something for it.
func (rc *receiver) wakeUp() {
	rc.mu.Lock()
	rc.stale = true
	rc.mu.Unlock()
	rc.signal()
}

func (rc *receiver) signal() {
	select {
	case rc.wake <- struct{}{}:
	default:
	}
}

// next is Next (observer.go) unobserved.
func (rc *receiver) next(ctx context.Context) (transports.Batch, error) {
	if rc.fixed != nil {
		return *rc.fixed, nil
	}
	var b transports.Batch
	if rc.created && !rc.sentOpen {
		rc.sentOpen = true
		b.Open = true
		return b, nil
	}
	if len(rc.pending) > 0 {
		b.Messages, rc.pending = rc.pending, nil
		return b, nil
	}
	polling := rc.kind == transports.KindPolling
	opts := &rc.rt.opts
	srv := rc.rt.srv
	// The timer lives as long as the receiver: a streaming response calls
	// Next once per frame. Rather than reset for every frame, it checks
	// when it fires whether the silence has lasted long enough.
	rc.quiet = time.Now()
	if rc.hb == nil {
		rc.hb = time.NewTimer(opts.HeartbeatDelay)
	} else if !rc.hbArmed {
		rc.hb.Reset(opts.HeartbeatDelay)
	}
	rc.hbArmed = true
	hb := rc.hb
	for {
		// Where to go back to should the store fail before the offered
		// messages are handed over.
		mark := rc.cursor
		var gap, beat bool
		select {
		case <-rc.wake:
			srv.pausePoint()
			if rc.lost.Load() {
				rc.cursor = mark
				rc.attached = false
				return transports.Batch{Close: &transports.Close{Code: CodeServerError, Reason: "Session store unavailable"}}, nil
			}
			var msgs []string
			msgs, gap = rc.takeOffers()
			if !gap && len(msgs) == 0 {
				continue // offers taken at the previous wake-up
			}
			b.Messages = msgs
		case <-hb.C:
			if left := opts.HeartbeatDelay - time.Since(rc.quiet); left > 0 {
				hb.Reset(left)
				continue
			}
			if polling {
				rc.hbArmed = false
				if !rc.holdEnded.IsZero() && !time.Now().Before(rc.holdEnded) {
					// The bounded hold has ended by itself: the next poll
					// attaches wherever it lands, with no Release.
					rc.released = true
				}
				return transports.Batch{Heartbeat: true}, nil
			}
			// A stream looks in the store once per quiet heartbeat
			// period: an offer lost on the bus (pub/sub is at most once)
			// with nothing after it waits no longer than that.
			beat, gap = true, true
		case <-ctx.Done():
			return b, ctx.Err()
		case <-srv.draining:
			if polling {
				return transports.Batch{Heartbeat: true}, nil
			}
			return transports.Batch{End: true}, nil
		}
		// Fencing: messages taken from offers are still the store's; they
		// are acknowledged (and a poll's hold released) before they are
		// written, in one call that the store refuses if this receiver's
		// hold ended meanwhile (its node's lease lapsed, or another
		// receiver took the session over). What the store has handed out is
		// therefore never handed out again, whatever pauses this node.
		req := store.PullRequest{
			Receiver:      rc.name,
			Idle:          opts.DisconnectDelay,
			Ack:           rc.cursor,
			Release:       polling && len(b.Messages) > 0,
			ReleaseIfData: polling,
		}
		if !gap {
			req.Max = -1 // the offers are all there is: acknowledge them
		}
		res, err := rc.rt.store.Pull(ctx, rc.rt.name, rc.key, req)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			rc.cursor = mark // nothing was written
			return transports.Batch{}, ctx.Err()
		case errors.Is(err, store.ErrNotReceiver), errors.Is(err, store.ErrNotFound):
			// The hold is gone: whatever was offered may be another
			// receiver's to deliver now. A poll answers a heartbeat (its
			// client polls again, wherever); a stream ends interrupted.
			rc.attached = false
			if polling {
				return transports.Batch{Heartbeat: true}, nil
			}
			return transports.Batch{Close: &transports.Close{Code: CodeInterrupted, Reason: "Connection interrupted"}}, nil
		default:
			rc.cursor = mark
			rc.rt.log.Warn("sockjs: reading session", "session", rc.key, "err", err)
			rc.rt.closeUnavailable(ctx, rc.key)
			return transports.Batch{Close: &transports.Close{Code: CodeServerError, Reason: "Session store unavailable"}}, nil
		}
		if res.Released {
			rc.released = true
		}
		rc.cursor = res.Cursor
		if res.Missed {
			rc.rt.missedBroadcasts(ctx, rc.key)
		}
		closed := res.State == store.StateClosed
		if len(res.Messages) > 0 || len(b.Messages) > 0 {
			b.Messages = append(b.Messages, res.Messages...)
			if closed && !polling {
				b.Close = &transports.Close{Code: res.CloseCode, Reason: res.CloseReason}
			}
			srv.pausePoint()
			return b, nil
		}
		if closed {
			b.Close = &transports.Close{Code: res.CloseCode, Reason: res.CloseReason}
			return b, nil
		}
		if beat {
			rc.hbArmed = false
			return transports.Batch{Heartbeat: true}, nil
		}
	}
}

// Deliver implements transports.Receiver; HTTP receivers get no client
// messages on their own request.
func (rc *receiver) Deliver(context.Context, []string) error { return nil }

// Release implements transports.Receiver.
func (rc *receiver) Release(aborted bool) {
	rt := rc.rt
	defer rt.srv.leave()
	rt.reapSoon.Store(true)
	defer close(rc.done)
	if rc.hb != nil {
		rc.hb.Stop()
	}
	rt.unregister(rc)
	if !rc.attached || (rc.released && !aborted) {
		return // a poll that took its messages released the session with them
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(rc.ctx), rt.opts.WriteTimeout)
	defer cancel()
	if !rc.released {
		// Nothing is left to acknowledge: Next did before handing over.
		err := rt.store.Release(ctx, rt.name, rc.key, rc.name, rt.opts.DisconnectDelay)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			rt.log.Warn("sockjs: releasing session", "session", rc.key, "err", err)
		}
	}
	if aborted {
		// The client vanished mid-response: what it was sent may be lost,
		// so the session ends (the protocol's "Connection interrupted").
		if err := rt.closeSession(ctx, rc.key, CodeInterrupted, "Connection interrupted"); err != nil && !errors.Is(err, ErrSessionNotFound) {
			rt.log.Warn("sockjs: closing interrupted session", "session", rc.key, "err", err)
		}
	}
}

// runOnOpen runs OnOpen, reporting false when it panicked.
func (rt *route) runOnOpen(s *Session) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			rt.log.Error("sockjs: OnOpen panicked", "session", s.id, "panic", p, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	rt.h.OnOpen(s)
	return true
}

func (rt *route) runOnMessage(s *Session, msg string) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			rt.log.Error("sockjs: OnMessage panicked", "session", s.id, "panic", p, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	rt.h.OnMessage(s, msg)
	return true
}
