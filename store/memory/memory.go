// Package memory is the in-process store.Store: sessions live in this
// process's memory, so every request of a session must reach this process.
//
// Its model is the one the Redis store uses: each route has a sequence
// counter shared by unicast and broadcast messages and a broadcast log of
// (seq, message, time) trimmed on Publish by age and count; each session
// keeps its state, hold (receiver, node, epoch), deadlines, values, a queue of (seq, message) and a
// cursor into the route's sequence (the route's seq at creation). Pull merges
// the queue with the log entries past the cursor (and not past the close) in
// sequence order.
//
// Expiry is lazy: a session past its deadline stays (and behaves as before)
// until a Reap call removes it. Each route keeps its sessions in a min-heap
// keyed by a lower bound of their deadline: moving a deadline later costs
// nothing, moving it earlier (a release) costs O(log n),
// and Reap pays only for the sessions whose key came due, so it costs in
// proportion to the sessions that expired (or were renewed), not to all.
// A held session's deadline is never: it comes due only once its hold ends
// (Release, or Reap finding its node's lease lapsed).
// The store starts no goroutine. Routes are kept for the store's lifetime,
// so they are meant to be few (a server's endpoints).
package memory

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockjs-cluster/sockjs/store"
)

// Options configures a Store. The zero value works.
type Options struct {
	// MaxQueue bounds a session's unread unicast messages; zero means
	// 10000. Push beyond it answers store.ErrQueueFull and stores nothing.
	MaxQueue int
	// MaxQueueBytes bounds the bytes of a session's unread unicast
	// messages; zero means 1 MiB. Push beyond it answers
	// store.ErrQueueFull and stores nothing.
	MaxQueueBytes int
	// BroadcastRetention is how long a route's broadcast log keeps a
	// message; zero means 1 minute. A session that does not pull within it
	// misses the trimmed broadcasts.
	BroadcastRetention time.Duration
	// MaxBroadcastLog bounds the number of retained broadcast messages per
	// route; zero means 100000. The oldest are dropped first.
	MaxBroadcastLog int
	// MaxBroadcastBytes bounds the bytes of a route's retained broadcast
	// messages; zero means 16 MiB. The oldest are dropped first (the
	// newest message stays whatever its size). A session that had not
	// taken a dropped broadcast learns so (store.PullResult.Missed).
	MaxBroadcastBytes int
	// MaxTotalQueueBytes is the store's budget for all sessions' unread
	// unicast messages together, counting each message's bytes plus
	// QueueEntryOverhead. Past it, Push refuses (store.ErrQueueFull) the
	// biggest consumers first: a session whose queue holds at least the
	// mean of the non-empty queues; the others may still queue until twice
	// the budget, where every Push is refused. Zero means 32 MiB. So many
	// sessions that each stay under MaxQueueBytes cannot together grow the
	// process without bound.
	MaxTotalQueueBytes int64
}

// QueueEntryOverhead is what a queued message costs the memory store
// beyond its bytes, as MaxTotalQueueBytes counts it.
const QueueEntryOverhead = 48

func (o Options) withDefaults() Options {
	if o.MaxQueue <= 0 {
		o.MaxQueue = 10000
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = 1 << 20
	}
	if o.BroadcastRetention <= 0 {
		o.BroadcastRetention = time.Minute
	}
	if o.MaxBroadcastLog <= 0 {
		o.MaxBroadcastLog = 100000
	}
	if o.MaxBroadcastBytes <= 0 {
		o.MaxBroadcastBytes = 16 << 20
	}
	if o.MaxTotalQueueBytes <= 0 {
		o.MaxTotalQueueBytes = 32 << 20
	}
	return o
}

// Store is an in-memory store.Store. Create it with New.
type Store struct {
	opts Options
	now  func() time.Time // time.Now; replaced by tests

	mu     sync.RWMutex
	routes map[string]*route

	usage usage // every route's queues together
}

// usage is what the store's queues hold, across routes.
type usage struct {
	bytes   atomic.Int64 // message bytes plus QueueEntryOverhead each
	queues  atomic.Int64 // sessions whose queue is not empty
	refused atomic.Int64 // pushes refused by MaxTotalQueueBytes
}

// Usage is a snapshot of what a Store holds for clients.
type Usage struct {
	// QueuedBytes is the unread unicast messages' bytes plus
	// QueueEntryOverhead each, across all routes: what MaxTotalQueueBytes
	// bounds.
	QueuedBytes int64
	// Queues is the number of sessions with unread unicast messages.
	Queues int64
	// BroadcastBytes is the bytes of the routes' retained broadcasts.
	BroadcastBytes int64
	// BudgetRefusals counts the pushes MaxTotalQueueBytes refused.
	BudgetRefusals int64
}

// Usage reports what the store holds for clients now.
func (s *Store) Usage() Usage {
	u := Usage{
		QueuedBytes:    s.usage.bytes.Load(),
		Queues:         s.usage.queues.Load(),
		BudgetRefusals: s.usage.refused.Load(),
	}
	s.mu.RLock()
	routes := make([]*route, 0, len(s.routes))
	for _, r := range s.routes {
		routes = append(routes, r)
	}
	s.mu.RUnlock()
	for _, r := range routes {
		r.mu.Lock()
		u.BroadcastBytes += int64(r.logBytes)
		r.mu.Unlock()
	}
	return u
}

// queueGrew and queueShrank keep a session's queue bytes and the store's
// usage in step; n messages of size bytes in all. r.mu must be held.
func (u *usage) queueGrew(ss *session, n, size int) {
	if n == 0 {
		return
	}
	if ss.queue.len() == n { // was empty
		u.queues.Add(1)
	}
	ss.queueBytes += size
	u.bytes.Add(int64(size + n*QueueEntryOverhead))
}

func (u *usage) queueShrank(ss *session, n, size int) {
	if n == 0 {
		return
	}
	if ss.queue.len() == 0 {
		u.queues.Add(-1)
	}
	ss.queueBytes -= size
	u.bytes.Add(-int64(size + n*QueueEntryOverhead))
}

// admit tells whether a push of n messages of size bytes to ss fits the
// store's budget.
func (s *Store) admit(ss *session, n, size int) bool {
	add := int64(size + n*QueueEntryOverhead)
	total := s.usage.bytes.Load() + add
	budget := s.opts.MaxTotalQueueBytes
	if total <= budget {
		return true
	}
	if total <= 2*budget {
		// Over budget: only the smaller consumers may still queue.
		mine := int64(ss.queueBytes+ss.queue.len()*QueueEntryOverhead) + add
		if q := s.usage.queues.Load(); q > 0 && mine < s.usage.bytes.Load()/q {
			return true
		}
	}
	s.usage.refused.Add(1)
	return false
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store.
func New(opts Options) *Store {
	return &Store{
		opts:   opts.withDefaults(),
		now:    time.Now,
		routes: make(map[string]*route),
	}
}

// route holds one route's sessions, sequence, broadcast log and expiry heap
// under one mutex.
type route struct {
	name  string
	usage *usage // the store's

	mu       sync.Mutex
	seq      uint64 // last sequence number handed out
	sessions map[string]*session
	open     int // sessions in StateOpen
	log      fifo[logEntry]
	logBytes int    // bytes of the messages in log
	trimmed  uint64 // the highest sequence number trimmed from log
	deadline deadlineHeap
	nodes    map[string]*nodeLease
	epoch    uint64 // last epoch handed out to any node of the route
}

// nodeLease is one node's lease on the route: its holds live while it does.
type nodeLease struct {
	epoch uint64
	until time.Time
	held  map[string]struct{} // ids of the sessions held in this epoch
}

// never is the deadline of a held session: it expires only once the hold
// ends (Release, or its node's lease lapsing).
var never = time.Unix(1<<40, 0)

type logEntry struct {
	seq uint64
	msg string
	at  time.Time
}

type queued struct {
	seq uint64
	msg string
}

type session struct {
	id          string
	state       store.State
	closeCode   int
	closeReason string
	receiver    string    // "" when no hold was taken or it was released
	holder      string    // the receiver's node
	epoch       uint64    // the holder's epoch when the hold was taken
	holdEnd     time.Time // when a bounded hold (OpenRequest.HoldFor) ends; zero for others
	idle        time.Duration
	expiresAt   time.Time
	node        string
	owner       string
	meta        []byte
	values      map[string]string
	created     time.Time
	cursor      uint64 // last sequence number delivered (or skipped)
	closedSeq   uint64 // route seq at close; later broadcasts are not delivered
	queue       fifo[queued]
	queueBytes  int // bytes of the messages in queue

	// heapAt is this session's key in the route's deadline heap, never
	// later than expiresAt; heapIndex is its position there.
	heapAt    time.Time
	heapIndex int
}

// route returns the named route, creating it when create is set; nil when
// absent and !create.
func (s *Store) route(name string, create bool) *route {
	s.mu.RLock()
	r := s.routes[name]
	s.mu.RUnlock()
	if r != nil || !create {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r = s.routes[name]; r == nil {
		r = &route{name: name, usage: &s.usage, sessions: make(map[string]*session)}
		s.routes[name] = r
	}
	return r
}

func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	return nil
}

func notFound(op, route, id string) error {
	return fmt.Errorf("memory: %s %s/%s: %w", op, route, id, store.ErrNotFound)
}

// Open implements store.Store.
func (s *Store) Open(ctx context.Context, routeName, id string, req store.OpenRequest) (store.OpenResult, error) {
	if err := ctxErr(ctx, "open"); err != nil {
		return store.OpenResult{}, err
	}
	if req.Create && req.Idle <= 0 {
		return store.OpenResult{}, errors.New("memory: open: Idle must be > 0 when creating")
	}
	if req.Receiver != "" && req.Holder == "" {
		return store.OpenResult{}, errors.New("memory: open: Holder is required with a Receiver")
	}
	r := s.route(routeName, req.Create)
	if r == nil {
		return store.OpenResult{}, notFound("open", routeName, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.now()

	var res store.OpenResult
	ss := r.sessions[id]
	if ss != nil && ss.owner != req.Owner {
		return res, notFound("open", routeName, id)
	}
	var n *nodeLease
	if req.Receiver != "" {
		if n = r.nodes[req.Holder]; n == nil || !now.Before(n.until) {
			return res, fmt.Errorf("memory: open %s/%s by %s: %w", routeName, id, req.Holder, store.ErrNodeLease)
		}
	}
	if ss == nil {
		if !req.Create {
			return res, notFound("open", routeName, id)
		}
		ss = &session{
			id:      id,
			state:   store.StateOpen,
			idle:    req.Idle,
			node:    req.Node,
			owner:   req.Owner,
			meta:    cloneBytes(req.Meta),
			created: now,
			cursor:  r.seq,
		}
		r.sessions[id] = ss
		r.open++
		ss.expiresAt, ss.heapAt = now.Add(req.Idle), now.Add(req.Idle)
		heap.Push(&r.deadline, ss)
		res.Created = true
	}

	if req.Receiver != "" && ss.state == store.StateOpen {
		if r.leased(ss, now) && ss.receiver != req.Receiver {
			res.Session = r.snapshot(ss, now)
			return res, fmt.Errorf("memory: open %s/%s: %w", routeName, id, store.ErrReceiverBusy)
		}
		if req.Idle > 0 {
			ss.idle = req.Idle
		}
		r.unhold(ss)
		ss.receiver, ss.holder, ss.epoch = req.Receiver, req.Holder, n.epoch
		if req.HoldFor > 0 {
			// A bounded hold is none of the node's: it ends by itself, and
			// the session expires its idle duration after that.
			ss.holdEnd = now.Add(req.HoldFor)
			r.setDeadline(ss, ss.holdEnd.Add(ss.idle))
		} else {
			ss.holdEnd = time.Time{}
			n.held[id] = struct{}{}
			r.setDeadline(ss, never)
		}
		res.Attached = true
		if req.Pull {
			res.Messages, res.Missed = r.take(ss, 0)
			if req.ReleaseIfData && len(res.Messages) > 0 {
				r.release(ss, now, 0)
			}
		}
	} else if req.Receiver != "" && req.Pull && ss.state == store.StateClosed {
		// What was sent before the close is still the client's.
		res.Messages, res.Missed = r.take(ss, 0)
	}
	res.Session = r.snapshot(ss, now)
	res.Cursor = ss.cursor
	return res, nil
}

// Pull implements store.Store. An Idle of zero keeps the session's idle
// duration. On a closed session the holder may still pull what was
// pending; its expiry stays the one Close set.
func (s *Store) Pull(ctx context.Context, routeName, id string, req store.PullRequest) (store.PullResult, error) {
	if err := ctxErr(ctx, "pull"); err != nil {
		return store.PullResult{}, err
	}
	r := s.route(routeName, false)
	if r == nil {
		return store.PullResult{}, notFound("pull", routeName, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.now()
	ss := r.sessions[id]
	if ss == nil {
		return store.PullResult{}, notFound("pull", routeName, id)
	}
	if req.Receiver == "" || ss.receiver != req.Receiver || !r.leased(ss, now) {
		return store.PullResult{}, fmt.Errorf("memory: pull %s/%s: %w", routeName, id, store.ErrNotReceiver)
	}
	if req.Idle > 0 {
		ss.idle = req.Idle
	}
	if req.Ack > ss.cursor {
		ss.cursor = req.Ack
	}
	var res store.PullResult
	if req.Max >= 0 {
		res.Messages, res.Missed = r.take(ss, req.Max)
	} else {
		r.dropAcked(ss)
	}
	res.Cursor = ss.cursor
	if req.Release || (req.ReleaseIfData && len(res.Messages) > 0) {
		r.release(ss, now, 0)
		res.Released = true
	}
	res.State, res.CloseCode, res.CloseReason = ss.state, ss.closeCode, ss.closeReason
	return res, nil
}

// Release implements store.Store. An idle of zero means the session's own.
// Releasing an absent session does nothing, like any Release by a caller
// that does not hold the lease.
func (s *Store) Release(ctx context.Context, routeName, id, receiver string, idle time.Duration) error {
	if err := ctxErr(ctx, "release"); err != nil {
		return err
	}
	r := s.route(routeName, false)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.now()
	if ss := r.sessions[id]; ss != nil && receiver != "" && ss.receiver == receiver && r.leased(ss, now) {
		r.release(ss, now, idle)
	}
	return nil
}

// Push implements store.Store.
func (s *Store) Push(ctx context.Context, routeName, id string, msgs []string) (store.PushResult, error) {
	if err := ctxErr(ctx, "push"); err != nil {
		return store.PushResult{}, err
	}
	r := s.route(routeName, false)
	if r == nil {
		return store.PushResult{}, notFound("push", routeName, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ss := r.sessions[id]
	if ss == nil {
		return store.PushResult{}, notFound("push", routeName, id)
	}
	if ss.state != store.StateOpen {
		return store.PushResult{}, fmt.Errorf("memory: push %s/%s: %w", routeName, id, store.ErrClosed)
	}
	var res store.PushResult
	res.Receiver = ss.receiver
	if ss.node != "" {
		res.Node = ss.node
		return res, nil
	}
	if ss.queue.len()+len(msgs) > s.opts.MaxQueue {
		return store.PushResult{}, fmt.Errorf("memory: push %s/%s: %d unread: %w", routeName, id, ss.queue.len(), store.ErrQueueFull)
	}
	size := 0
	for _, m := range msgs {
		size += len(m)
	}
	if ss.queueBytes+size > s.opts.MaxQueueBytes {
		return store.PushResult{}, fmt.Errorf("memory: push %s/%s: %d unread bytes: %w", routeName, id, ss.queueBytes, store.ErrQueueFull)
	}
	if len(msgs) == 0 {
		return res, nil
	}
	if !s.admit(ss, len(msgs), size) {
		return store.PushResult{}, fmt.Errorf("memory: push %s/%s: the store holds %d queued bytes: %w", routeName, id, s.usage.bytes.Load(), store.ErrQueueFull)
	}
	res.Prev = ss.cursor
	if n := ss.queue.len(); n > 0 {
		res.Prev = max(res.Prev, ss.queue.at(n-1).seq)
	}
	if n := r.log.len(); n > 0 {
		res.Prev = max(res.Prev, r.log.at(n-1).seq)
	}
	res.First = r.seq + 1
	for _, m := range msgs {
		r.seq++
		ss.queue.push(queued{seq: r.seq, msg: m})
	}
	r.usage.queueGrew(ss, len(msgs), size)
	return res, nil
}

// Publish implements store.Store. A route with no open session logs nothing:
// no session could ever receive the message.
func (s *Store) Publish(ctx context.Context, routeName, msg string) (uint64, error) {
	if err := ctxErr(ctx, "publish"); err != nil {
		return 0, err
	}
	r := s.route(routeName, false)
	if r == nil {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	if r.open == 0 {
		return 0, nil
	}
	now := s.now()
	r.log.push(logEntry{seq: r.seq, msg: msg, at: now})
	r.logBytes += len(msg)
	cutoff := now.Add(-s.opts.BroadcastRetention)
	for r.log.len() > 1 && (r.log.len() > s.opts.MaxBroadcastLog || r.logBytes > s.opts.MaxBroadcastBytes || !r.log.at(0).at.After(cutoff)) {
		e := r.log.pop()
		r.logBytes -= len(e.msg)
		r.trimmed = e.seq
	}
	return r.seq, nil
}

// CloseSession implements store.Store. An idle of zero means the session's own.
func (s *Store) CloseSession(ctx context.Context, routeName, id string, code int, reason string, idle time.Duration) (store.Session, bool, error) {
	if err := ctxErr(ctx, "close"); err != nil {
		return store.Session{}, false, err
	}
	r := s.route(routeName, false)
	if r == nil {
		return store.Session{}, false, notFound("close", routeName, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.now()
	ss := r.sessions[id]
	if ss == nil {
		return store.Session{}, false, notFound("close", routeName, id)
	}
	if ss.state != store.StateOpen {
		return r.snapshot(ss, now), false, nil
	}
	if idle <= 0 {
		idle = ss.idle
	}
	ss.state = store.StateClosed
	ss.closeCode, ss.closeReason = code, reason
	ss.closedSeq = r.seq
	r.seq++ // the close's own number
	r.open--
	r.setDeadline(ss, now.Add(idle))
	return r.snapshot(ss, now), true, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, routeName, id string) (store.Session, error) {
	if err := ctxErr(ctx, "get"); err != nil {
		return store.Session{}, err
	}
	r := s.route(routeName, false)
	if r == nil {
		return store.Session{}, notFound("get", routeName, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ss := r.sessions[id]
	if ss == nil {
		return store.Session{}, notFound("get", routeName, id)
	}
	return r.snapshot(ss, s.now()), nil
}

// SetValue implements store.Store.
func (s *Store) SetValue(ctx context.Context, routeName, id, key, value string) error {
	if err := ctxErr(ctx, "set value"); err != nil {
		return err
	}
	r := s.route(routeName, false)
	if r == nil {
		return notFound("set value", routeName, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ss := r.sessions[id]
	if ss == nil {
		return notFound("set value", routeName, id)
	}
	if value == "" {
		delete(ss.values, key)
		return nil
	}
	if ss.values == nil {
		ss.values = make(map[string]string)
	}
	ss.values[key] = value
	return nil
}

// Count implements store.Store. Sessions that expired but were not reaped
// yet still count.
func (s *Store) Count(ctx context.Context, routeName string) (int, error) {
	if err := ctxErr(ctx, "count"); err != nil {
		return 0, err
	}
	r := s.route(routeName, false)
	if r == nil {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open, nil
}

// IDs implements store.Store. It costs O(sessions of the route).
func (s *Store) IDs(ctx context.Context, routeName string) ([]string, error) {
	if err := ctxErr(ctx, "ids"); err != nil {
		return nil, err
	}
	r := s.route(routeName, false)
	if r == nil {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, r.open)
	for id, ss := range r.sessions {
		if ss.state == store.StateOpen {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Reap implements store.Store.
func (s *Store) Reap(ctx context.Context, routeName string, max int) ([]store.Session, error) {
	if err := ctxErr(ctx, "reap"); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, fmt.Errorf("memory: reap: max must be > 0, got %d", max)
	}
	r := s.route(routeName, false)
	if r == nil {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.now()
	for _, n := range r.nodes {
		if len(n.held) > 0 && !now.Before(n.until) {
			r.lapse(n)
		}
	}
	var out []store.Session
	for len(out) < max && len(r.deadline) > 0 && !r.deadline[0].heapAt.After(now) {
		ss := r.deadline[0]
		if ss.expiresAt.After(now) {
			// The deadline moved later since the key was set.
			ss.heapAt = ss.expiresAt
			heap.Fix(&r.deadline, 0)
			continue
		}
		heap.Pop(&r.deadline)
		out = append(out, r.snapshot(ss, now))
		r.unhold(ss)
		r.dropQueue(ss)
		delete(r.sessions, ss.id)
		if ss.state == store.StateOpen {
			r.open--
		}
	}
	if len(r.sessions) == 0 {
		// Nobody can read the log any more.
		r.log, r.logBytes, r.trimmed = fifo[logEntry]{}, 0, 0
	}
	return out, nil
}

// RenewNode implements store.Store.
func (s *Store) RenewNode(ctx context.Context, routeName, node string, req store.NodeRequest) (store.NodeLease, error) {
	if err := ctxErr(ctx, "renew node"); err != nil {
		return store.NodeLease{}, err
	}
	if req.Lease <= 0 {
		return store.NodeLease{}, errors.New("memory: renew node: Lease must be > 0")
	}
	r := s.route(routeName, true)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.now()
	if r.nodes == nil {
		r.nodes = make(map[string]*nodeLease)
	}
	n := r.nodes[node]
	if n != nil && !req.Fresh && now.Before(n.until) {
		n.until = now.Add(req.Lease)
		return store.NodeLease{Epoch: n.epoch, Renewed: true}, nil
	}
	if n == nil {
		n = &nodeLease{}
		r.nodes[node] = n
	} else {
		// The holds of the lapsed (or replaced) epoch end: their sessions
		// expire from the lease's end, or from now if it was still live.
		if n.until.After(now) {
			n.until = now
		}
		r.lapse(n)
	}
	r.epoch++
	n.epoch, n.until, n.held = r.epoch, now.Add(req.Lease), make(map[string]struct{})
	return store.NodeLease{Epoch: n.epoch}, nil
}

// lapse ends the holds of node lease n's epoch: each open session it held
// expires its idle duration after the lease's end.
func (r *route) lapse(n *nodeLease) {
	for id := range n.held {
		ss := r.sessions[id]
		if ss != nil && ss.epoch == n.epoch && ss.state == store.StateOpen {
			r.setDeadline(ss, n.until.Add(ss.idle))
		}
	}
	n.held = make(map[string]struct{})
}

// leased reports whether a receiver holds the session in its node's
// current, live epoch (and, for a bounded hold, before its end).
func (r *route) leased(ss *session, now time.Time) bool {
	if ss.receiver == "" || (!ss.holdEnd.IsZero() && !now.Before(ss.holdEnd)) {
		return false
	}
	n := r.nodes[ss.holder]
	return n != nil && n.epoch == ss.epoch && now.Before(n.until)
}

// unhold removes the session from its holder's set of holds, if there.
func (r *route) unhold(ss *session) {
	if ss.receiver == "" || !ss.holdEnd.IsZero() {
		return // no hold, or a bounded one: the node does not keep it
	}
	if n := r.nodes[ss.holder]; n != nil && n.epoch == ss.epoch {
		delete(n.held, ss.id)
	}
}

// release drops the hold; an open session then expires after idle (zero:
// the session's own) from now. A closed one keeps the deadline Close set.
func (r *route) release(ss *session, now time.Time, idle time.Duration) {
	r.unhold(ss)
	ss.receiver, ss.holder, ss.epoch, ss.holdEnd = "", "", 0, time.Time{}
	if ss.state != store.StateOpen {
		return
	}
	if idle > 0 {
		ss.idle = idle
	}
	r.setDeadline(ss, now.Add(ss.idle))
}

// setDeadline moves the session's expiry. Moving it later costs nothing:
// the heap key stays earlier and Reap moves it when it comes up. Moving it
// before the heap key fixes the heap in place (O(log n)).
func (r *route) setDeadline(ss *session, at time.Time) {
	ss.expiresAt = at
	if at.Before(ss.heapAt) {
		ss.heapAt = at
		heap.Fix(&r.deadline, ss.heapIndex)
	}
}

// take removes and returns up to max (0: all) pending messages in sequence
// order: the unicast queue merged with the broadcast log entries past the
// cursor and, for a closed session, not past the close. missed reports
// that broadcasts past the cursor were trimmed from the log first.
func (r *route) take(ss *session, max int) (out []string, missed bool) {
	if ss.node != "" {
		return nil, false // node-bound: no queue, no broadcast cursor
	}
	limit := r.seq
	if ss.state == store.StateClosed {
		limit = ss.closedSeq
	}
	missed = ss.cursor < r.trimmed && r.trimmed <= limit
	r.dropAcked(ss)
	// First log entry past the cursor.
	li := sort.Search(r.log.len(), func(i int) bool { return r.log.at(i).seq > ss.cursor })
	for max <= 0 || len(out) < max {
		var qs, ls uint64
		if ss.queue.len() > 0 {
			qs = ss.queue.at(0).seq
		}
		if li < r.log.len() && r.log.at(li).seq <= limit {
			ls = r.log.at(li).seq
		}
		switch {
		case qs != 0 && (ls == 0 || qs < ls):
			q := ss.queue.pop()
			r.usage.queueShrank(ss, 1, len(q.msg))
			out = append(out, q.msg)
			ss.cursor = q.seq
		case ls != 0:
			out = append(out, r.log.at(li).msg)
			ss.cursor = ls
			li++
		default:
			// Nothing left: everything up to limit has been seen.
			if ss.cursor < limit {
				ss.cursor = limit
			}
			return out, missed
		}
	}
	return out, missed
}

// dropQueue empties the queue of a session that is going away.
func (r *route) dropQueue(ss *session) {
	if n := ss.queue.len(); n > 0 {
		ss.queue = fifo[queued]{}
		r.usage.queueShrank(ss, n, ss.queueBytes)
	}
}

// dropAcked drops the queued messages at or behind the cursor: those a
// receiver acknowledged (PullRequest.Ack).
func (r *route) dropAcked(ss *session) {
	for ss.queue.len() > 0 && ss.queue.at(0).seq <= ss.cursor {
		r.usage.queueShrank(ss, 1, len(ss.queue.pop().msg))
	}
}

// snapshot copies the session's record out.
func (r *route) snapshot(ss *session, now time.Time) store.Session {
	out := store.Session{
		Route:       r.name,
		ID:          ss.id,
		State:       ss.state,
		CloseCode:   ss.closeCode,
		CloseReason: ss.closeReason,
		Node:        ss.node,
		Owner:       ss.owner,
		Meta:        cloneBytes(ss.meta),
		Created:     ss.created,
	}
	if r.leased(ss, now) {
		out.Receiver, out.Holder = ss.receiver, ss.holder
	}
	if len(ss.values) > 0 {
		out.Values = make(map[string]string, len(ss.values))
		for k, v := range ss.values {
			out.Values[k] = v
		}
	}
	return out
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// deadlineHeap is a min-heap of a route's sessions keyed by heapAt: every
// session is in it exactly once, from creation until reaped.
type deadlineHeap []*session

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].heapAt.Before(h[j].heapAt) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}

func (h *deadlineHeap) Push(x any) {
	ss := x.(*session)
	ss.heapIndex = len(*h)
	*h = append(*h, ss)
}

func (h *deadlineHeap) Pop() any {
	old := *h
	n := len(old)
	ss := old[n-1]
	old[n-1] = nil
	ss.heapIndex = -1
	*h = old[:n-1]
	return ss
}

// fifo is a slice-backed queue: pop advances a head index and the backing
// array is compacted once the consumed part dominates it.
type fifo[T any] struct {
	buf  []T
	head int
}

func (f *fifo[T]) len() int   { return len(f.buf) - f.head }
func (f *fifo[T]) at(i int) T { return f.buf[f.head+i] }
func (f *fifo[T]) push(v T)   { f.buf = append(f.buf, v) }

func (f *fifo[T]) pop() T {
	var zero T
	v := f.buf[f.head]
	f.buf[f.head] = zero
	f.head++
	switch {
	case f.head == len(f.buf):
		f.buf, f.head = f.buf[:0], 0
	case f.head >= 64 && f.head*2 >= len(f.buf):
		n := copy(f.buf, f.buf[f.head:])
		clear(f.buf[n:])
		f.buf, f.head = f.buf[:n], 0
	}
	return v
}
