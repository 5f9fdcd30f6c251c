// Package redisstore is the Redis store.Store: sessions live in Redis, so
// any request of a session may reach any node of a cluster of servers
// sharing one Redis (standalone, Sentinel or Cluster).
//
// The package is named redisstore so that it reads well beside go-redis,
// whose package is redis. The application brings its own client
// (redis.UniversalClient): connection settings, TLS, ACLs, Sentinel,
// Cluster and instrumentation stay go-redis's business.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	st := redisstore.New(rdb, redisstore.Options{Prefix: "chat"})
//
// # Model
//
// The model is the memory store's (see store/memory). Each route has a
// sequence counter shared by unicast and broadcast messages, a broadcast
// log of (seq, time, message) trimmed on Publish by age and count, a count
// of its open sessions and an expiry index. Each session has a record
// (state, close code and reason, receiver and lease end, idle, deadline,
// node, meta, creation time, cursor into the route's sequence, sequence at
// close), a queue of (seq, message) and a hash of values. Pull merges the
// queue with the log entries past the cursor (and not past the close) in
// sequence order. Publish writes one log entry whatever the number of
// sessions.
//
// # Key layout
//
// With P the Prefix and T the route's hash tag (the route name with '%',
// '{' and '}' escaped as %25, %7B and %7D; "%" for the empty name):
//
//	P:{T}:seq       string      last sequence number handed out
//	P:{T}:log       sorted set  broadcast log, scored by sequence number
//	P:{T}:n         string      how many sessions are open (Count)
//	P:{T}:exp       sorted set  expiry index: ids not held, scored by deadline (Reap)
//	P:{T}:nodes     sorted set  node leases: node ids scored by the lease's end
//	P:{T}:nep       hash        each node's current epoch and lease end, "<epoch>:<end>"
//	P:{T}:h:<node>  set         ids of the sessions a node holds ("" keeps it);
//	                            the expiry index of its open ones while held
//	P:{T}:s:<id>    hash        session record
//	P:{T}:q:<id>    list        session's unread unicast messages
//	P:{T}:v:<id>    hash        session's values
//
// A session record keeps every value within 64 bytes (the stored opening
// request is split into pieces), so that Redis keeps it as a listpack
// (hash-max-listpack-value, 64 by default; do not lower it): a record
// then costs about 400 bytes rather than 800 as a hashtable.
//
// Session ids are used verbatim as key suffixes (keys are binary safe; the
// id comes after the hash tag, so braces in it are harmless). The Prefix
// should not contain braces: the route's tag must be the key's first one.
// Give each application (or test) sharing a Redis its own Prefix.
//
// # One round trip per call
//
// Every method is one round trip to Redis: one Lua function call (FCALL)
// or one command (GET for Count). The functions form
// one library, named after a digest of its source ("sockjs_<digest>"), so
// that two versions of the store can share a server (a rolling upgrade);
// delete a version's library once no node runs it (FUNCTION DELETE). The
// first call that meets a server without the library costs two more round
// trips: FCALL answers that the function is missing, FUNCTION LOAD loads
// the library (on every primary of a Redis Cluster), and the call is made
// again. Redis persists and replicates functions with the data.
//
// A server without functions (Redis before 7, miniredis, a proxy that
// does not pass FCALL, or an ACL that refuses FCALL or FUNCTION LOAD) gets
// the same code as scripts (EVALSHA) after one refused FCALL, for the
// Store's lifetime. The first time a server meets a script costs a second
// round trip: EVALSHA answers NOSCRIPT, and EVAL runs and caches it.
//
// Functions and scripts run atomically, so each method is one atomic
// step, across all the nodes of the cluster. The store needs Redis 5 or
// later, which replicates scripts by their effects; Redis 7 or later runs
// it as functions, which cost Redis less per call (tested with 7.0).
//
// Over maxmemory (give Redis the noeviction policy), the functions that
// store more (Open creating a session, Push, Publish, SetValue) are
// refused with Redis's OOM error, and those that free memory or keep
// leases alive (RenewNode, Pull, Release, CloseSession, Reap) and Get
// still run, so that a full Redis drains. Scripts are refused at their
// first write instead.
//
// # Redis Cluster
//
// All the keys of a route share its hash tag, hence one hash slot, so every
// script touches one slot only. Reap builds the keys of the sessions it
// removes inside its script: they are not declared, but they share the
// slot, which Redis Cluster accepts. Routes spread over the slots; a
// route's sessions do not.
//
// # Time
//
// Lease ends and deadlines come from the Redis server's clock (TIME inside
// the scripts, which Redis 5 and later replicate by effects), never from the
// nodes' clocks, which may disagree. After a failover the new primary's
// clock takes over: keep the servers' clocks synchronised. Durations are rounded up to the
// millisecond. Created is the server's time at creation, to the
// microsecond.
//
// # Expiry and the TTL backstop
//
// Sessions expire only through Reap, as the store contract requires: a
// Reap after a session's deadline removes its keys and returns it,
// atomically, to exactly one caller across all nodes. When a route's last
// session is reaped the route's keys are deleted too, so a prefix whose
// sessions have all expired and been reaped holds no key.
//
// A held session writes nothing while held (its hold lives on its node's
// lease), so RenewNode refreshes its keys' TTLs, a few per call, in a pass
// over the node's holds every KeyTTL/2, and the route's keys' when a pass
// starts.
//
// Every key nevertheless carries a TTL, a backstop of Options.KeyTTL
// beyond the session's deadline (the route's keys: beyond its latest
// session's), refreshed on writes: Reap removes the keys normally; the TTL
// only guarantees that nothing lingers forever when every node is gone. A
// session removed by its TTL gets no OnClose, which is why KeyTTL should be
// much longer than the time between two Reap calls. For the same reason,
// give Redis the noeviction policy: under memory pressure, volatile-*
// policies evict exactly such keys.
//
// # What survives a Redis restart
//
// Nothing, unless Redis persists its data: the sessions are lost, their
// clients get "session not found" answers (or a new session) and
// reconnect, as SockJS clients do. With persistence (RDB or AOF) sessions
// survive as of the last save; with failover (Sentinel, Cluster) as of the
// last replicated write. Scripts are loaded again automatically.
//
// # Failures and contexts
//
// Give the Store a client that does not retry commands (go-redis:
// MaxRetries: -1; dials are still retried, which is safe). go-redis
// retries a command whose connection broke after it was sent, and such a
// command may have run: a Push would then be stored twice (its messages
// delivered twice), a Publish logged twice, a creating Open answered as if
// another node had created the session (whose OnOpen would then not run).
// Without retries the call fails, and the node answers as for any Redis
// error (TestRetriesRepeatCalls).
//
// A Redis error is returned wrapped ("redisstore: push route/id: ..."),
// never panicked on; the store keeps no state of its own, so it works again
// as soon as Redis does. How fast a call fails while Redis is unreachable
// is the client's business (go-redis: DialTimeout, DialerRetries,
// MaxRetries). A context that has ended before the call is
// answered without a round trip; one that ends during it ends the call only
// when the client honours contexts (go-redis: ContextTimeoutEnabled, or the
// client's read and write timeouts). As with any remote call, the operation
// may or may not have happened then.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/internal/autopipe"
	"github.com/sockjs-cluster/sockjs/store"
)

// Options configures a Store. The zero value works.
type Options struct {
	// Prefix starts every key; empty means "sockjs". Use distinct prefixes
	// to share one Redis between applications or tests.
	Prefix string
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
	// KeyTTL is the backstop TTL every key carries beyond its session's
	// deadline; zero means 1 hour. Reap removes the keys normally; the TTL
	// only guarantees that nothing lingers forever if every node dies.
	// Keys live between KeyTTL and twice KeyTTL past their deadline (TTLs
	// move in steps of KeyTTL, so that most renewals write no TTL).
	KeyTTL time.Duration
	// MinReplicas, when positive, makes every call that writes wait
	// (Redis WAIT, in the same round trip) until that many replicas have
	// acknowledged its writes, or ReplicaTimeout has passed; a call that
	// was not acknowledged by enough replicas fails with ErrNotReplicated.
	//
	// Redis replicates asynchronously, and in a Sentinel failover the old
	// master goes on taking writes until Sentinel turns it into a replica
	// (seconds later), after which they are gone. Without MinReplicas, the
	// acknowledgements of messages a client was given in that window are
	// lost, so those messages are given again (and messages a sender was
	// told were stored may be lost). With MinReplicas, a receiver hands its
	// client only messages whose acknowledgement replicas hold, and an
	// xhr_send is answered 204 only when its messages are on replicas.
	// Only MinReplicas equal to the number of replicas rules redelivery
	// out: a replica that still follows the old master acknowledges writes
	// the failover then discards. The price is availability: writes fail
	// while any replica is missing, during a failover until every replica
	// follows the new master. Each write also waits for the replication
	// delay. Zero means off. Not for Redis Cluster clients (WAIT has no
	// key to route it by): their calls fail.
	MinReplicas int
	// ReplicaTimeout bounds the wait for MinReplicas; zero means 500 ms.
	ReplicaTimeout time.Duration
	// Pipelines is how many pipelines of coalesced calls may be in flight
	// at once: calls made while others are on their way are sent together,
	// in one round trip, which costs Redis far less CPU than one request
	// each (no call waits to fill a pipeline). Zero means 4; negative turns
	// coalescing off, every call then being its own request.
	Pipelines int
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "sockjs"
	}
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
	if o.KeyTTL <= 0 {
		o.KeyTTL = time.Hour
	}
	if o.Pipelines == 0 {
		o.Pipelines = 4
	}
	if o.ReplicaTimeout <= 0 {
		o.ReplicaTimeout = 500 * time.Millisecond
	}
	return o
}

// Store is a store.Store in Redis. Create it with New. It holds no state
// besides its options and client, and never closes the client.
type Store struct {
	c      redis.UniversalClient
	opts   Options
	keyTTL int64               // opts.KeyTTL in milliseconds
	pipe   *autopipe.Pipeliner // nil when coalescing is off
	// waitCluster: MinReplicas was asked of a Cluster client; calls fail.
	waitCluster bool
	passes      sync.Map // route + "\x00" + node -> *refreshPass
	// noFunctions: the server has no functions (see run); scripts run by
	// EVALSHA. fnGen counts the library's loads, fnMu serialises them.
	noFunctions atomic.Bool
	fnGen       atomic.Uint64
	fnMu        sync.Mutex
	now         func() time.Time // time.Now; the process's clock, for refresh passes only
}

var _ store.Store = (*Store)(nil)

// New returns a Store keeping its sessions in Redis through client.
func New(client redis.UniversalClient, opts Options) *Store {
	opts = opts.withDefaults()
	s := &Store{c: client, opts: opts, keyTTL: millis(opts.KeyTTL), now: time.Now}
	if _, cluster := client.(*redis.ClusterClient); cluster && opts.MinReplicas > 0 {
		s.waitCluster = true
	}
	if opts.Pipelines > 0 {
		s.pipe = autopipe.New(client, opts.Pipelines, maxPipeline)
		if opts.MinReplicas > 0 {
			s.pipe.SetTail(func(p redis.Pipeliner) redis.Cmder { return s.waitCmd(context.Background(), p) })
		}
	}
	return s
}

// errReply reports a reply of an unexpected shape (a foreign script under
// the same SHA, or a key of the prefix written by someone else).
var errReply = errors.New("unexpected reply")

// routeTag escapes a route name for use as a hash tag: no brace may end it
// early, and it is never empty (an empty tag would not be one).
func routeTag(route string) string {
	if route == "" {
		return "%"
	}
	if !strings.ContainsAny(route, "%{}") {
		return route
	}
	return strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D").Replace(route)
}

// base is the start of every key of the route: "<prefix>:{<tag>}:".
func (s *Store) base(route string) string {
	return s.opts.Prefix + ":{" + routeTag(route) + "}:"
}

// routeKeys are the KEYS of a route script: seq, log, n, exp, nodes,
// nep.
func (s *Store) routeKeys(route string) []string {
	b := s.base(route)
	return []string{b + "seq", b + "log", b + "n", b + "exp", b + "nodes", b + "nep"}
}

// sessionKeys are the KEYS of a session script: the route's, then rec, q, v.
func (s *Store) sessionKeys(route, id string) []string {
	b := s.base(route)
	return []string{b + "seq", b + "log", b + "n", b + "exp", b + "nodes", b + "nep", b + "s:" + id, b + "q:" + id, b + "v:" + id}
}

// millis converts a duration to milliseconds, rounding up (a lease is never
// shorter than asked); zero or negative is zero.
func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// what names an operation on a session for errors: "push route/id".
func what(op, route, id string) string { return op + " " + route + "/" + id }

// run runs a script, after checking the context: one round trip, or
// two when the server lacks the library (loaded by then) or functions
// altogether (the script then runs by EVALSHA from then on).
func (s *Store) run(ctx context.Context, op string, sc *luaScript, keys []string, args ...any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if s.waitCluster {
		return nil, wrapErr(ctx, op, errWaitCluster)
	}
	for first := true; ; first = false {
		gen := s.fnGen.Load()
		useFn := !s.noFunctions.Load()
		v, err := s.call(ctx, op, sc, useFn, keys, args)
		if err != nil && useFn && first {
			switch {
			case noFunctions(err):
				// Redis before 7, or a server or proxy that does not
				// know FCALL: scripts from now on.
				s.noFunctions.Store(true)
				continue
			case redis.HasErrorPrefix(err, "Function not found"):
				// A new or restarted server, or one that lost its
				// functions (FUNCTION FLUSH).
				if lerr := s.loadLibrary(ctx, gen); lerr != nil {
					return nil, wrapErr(ctx, op, lerr)
				}
				continue
			}
		}
		if err != nil {
			return nil, wrapErr(ctx, op, err)
		}
		return v, nil
	}
}

// noFunctions reports an answer to FCALL or FUNCTION LOAD that says the
// server has no functions for us (go-redis compares without the "ERR "
// prefix): an unknown command (Redis before 7, or
// a proxy), or no permission to use them.
func noFunctions(err error) bool {
	return redis.HasErrorPrefix(err, "unknown command") || redis.HasErrorPrefix(err, "unknown subcommand") ||
		redis.HasErrorPrefix(err, "NOPERM")
}

// loadLibrary loads the library of scripts (FUNCTION LOAD REPLACE) on the
// server, or on every primary of a Redis Cluster, unless it was loaded
// since generation gen. A server that has no functions turns scripts on.
func (s *Store) loadLibrary(ctx context.Context, gen uint64) error {
	s.fnMu.Lock()
	defer s.fnMu.Unlock()
	if s.fnGen.Load() != gen {
		return nil // loaded meanwhile, by another call
	}
	load := func(ctx context.Context, c redis.Cmdable) error {
		return c.FunctionLoadReplace(ctx, library).Err()
	}
	var err error
	switch c := s.c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return load(ctx, m) })
	case *redis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, m *redis.Client) error { return load(ctx, m) })
	default:
		err = load(ctx, c)
	}
	if err != nil && noFunctions(err) {
		s.noFunctions.Store(true)
		err = nil
	}
	if err == nil {
		s.fnGen.Add(1)
	}
	return err
}

// call sends one script call: as a function, or by its hash (and by its
// source when the server answers NOSCRIPT).
func (s *Store) call(ctx context.Context, op string, sc *luaScript, useFn bool, keys []string, args []any) (any, error) {
	waited := s.opts.MinReplicas > 0 && sc != scriptGet
	if s.pipe == nil {
		if waited {
			how := byHash
			if useFn {
				how = byFunction
			}
			return s.runWaited(ctx, op, sc, how, keys, args)
		}
		if useFn {
			return s.c.FCall(ctx, sc.fn, keys, args...).Result()
		}
		return sc.eval.Run(ctx, s.c, keys, args...).Result()
	}
	queue := func(p redis.Pipeliner) redis.Cmder {
		if useFn {
			return p.FCall(ctx, sc.fn, keys, args...)
		}
		return p.EvalSha(ctx, sc.eval.Hash(), keys, args...)
	}
	var (
		cmd, tail redis.Cmder
		err       error
	)
	if waited {
		// One WAIT after the pipeline's calls covers all their writes.
		cmd, tail, err = s.pipe.DoTail(ctx, queue)
	} else {
		cmd, err = s.pipe.Do(ctx, queue)
	}
	if err != nil {
		return nil, err
	}
	v, err := cmd.(*redis.Cmd).Result()
	if err == nil && tail != nil {
		err = s.checkWait(op, tail.(*redis.Cmd))
	}
	if err != nil && !useFn && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// The server does not know the script yet (a new or restarted
		// server): EVAL runs and caches it.
		return s.runWaited(ctx, op, sc, bySource, keys, args)
	}
	return v, err
}

// maxPipeline bounds the calls one pipeline carries.
const maxPipeline = 64

// wrapErr wraps a client error; when the context ended meanwhile, its error
// is wrapped too, so errors.Is(err, context.Canceled) holds whatever the
// client made of it.
func wrapErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

func sentinel(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

func badReply(op string, v any) error {
	return fmt.Errorf("redisstore: %s: %w: %v", op, errReply, v)
}

// status returns the leading status word of a script's array reply.
func status(v any) ([]any, string) {
	a, _ := v.([]any)
	if len(a) == 0 {
		return nil, ""
	}
	st, _ := a[0].(string)
	return a, st
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func asStrings(v any) ([]string, bool) {
	a, ok := v.([]any)
	if !ok {
		return nil, false
	}
	if len(a) == 0 {
		return nil, true
	}
	out := make([]string, len(a))
	for i, e := range a {
		if out[i], ok = e.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

func asState(v any) (store.State, bool) {
	switch v {
	case "1":
		return store.StateOpen, true
	case "2":
		return store.StateClosed, true
	}
	return 0, false
}

// snapshot decodes a script's session snapshot:
// {state, code, reason, receiver, node, meta, created, {k, v, ...}, owner, holder}.
func snapshot(route, id string, f []any) (store.Session, bool) {
	if len(f) != 10 {
		return store.Session{}, false
	}
	var (
		sess = store.Session{Route: route, ID: id}
		ok   [10]bool
		code int64
		us   int64
		meta string
		vals []string
	)
	sess.State, ok[0] = asState(f[0])
	code, ok[1] = asInt(f[1])
	sess.CloseReason, ok[2] = f[2].(string)
	sess.Receiver, ok[3] = f[3].(string)
	sess.Node, ok[4] = f[4].(string)
	meta, ok[5] = f[5].(string)
	us, ok[6] = asInt(f[6])
	vals, ok[7] = asStrings(f[7])
	sess.Owner, ok[8] = f[8].(string)
	sess.Holder, ok[9] = f[9].(string)
	for _, o := range ok {
		if !o {
			return store.Session{}, false
		}
	}
	if len(vals)%2 != 0 {
		return store.Session{}, false
	}
	sess.CloseCode = int(code)
	if meta != "" {
		sess.Meta = []byte(meta)
	}
	sess.Created = time.UnixMicro(us)
	if len(vals) > 0 {
		sess.Values = make(map[string]string, len(vals)/2)
		for i := 0; i < len(vals); i += 2 {
			sess.Values[vals[i]] = vals[i+1]
		}
	}
	return sess, true
}

// Open implements store.Store.
func (s *Store) Open(ctx context.Context, route, id string, req store.OpenRequest) (store.OpenResult, error) {
	w := what("open", route, id)
	if req.Create && req.Idle <= 0 {
		return store.OpenResult{}, errors.New("redisstore: open: Idle must be > 0 when creating")
	}
	if req.Receiver != "" && req.Holder == "" {
		return store.OpenResult{}, errors.New("redisstore: open: Holder is required with a Receiver")
	}
	v, err := s.run(ctx, w, scriptOpen, s.sessionKeys(route, id),
		s.keyTTL, id, flag(req.Create), req.Meta, req.Node, millis(req.Idle),
		req.Receiver, req.Holder, flag(req.Pull), flag(req.ReleaseIfData), req.Owner, flag(req.Lean),
		millis(req.HoldFor))
	if err != nil {
		return store.OpenResult{}, err
	}
	var res store.OpenResult
	a, st := status(v)
	switch {
	case st == "nf":
		return res, sentinel(w, store.ErrNotFound)
	case st == "nl":
		return res, sentinel(w+" by "+req.Holder, store.ErrNodeLease)
	case st == "busy" && len(a) == 2:
		f, _ := a[1].([]any)
		sess, ok := snapshot(route, id, f)
		if !ok {
			return res, badReply(w, v)
		}
		res.Session = sess
		return res, sentinel(w, store.ErrReceiverBusy)
	case st == "ok" && len(a) == 7:
		created, ok1 := asInt(a[1])
		attached, ok2 := asInt(a[2])
		f, _ := a[3].([]any)
		sess, ok3 := snapshot(route, id, f)
		msgs, ok4 := asStrings(a[4])
		cursor, ok5 := asInt(a[5])
		missed, ok6 := asInt(a[6])
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || cursor < 0 {
			return store.OpenResult{}, badReply(w, v)
		}
		res.Session, res.Created, res.Attached, res.Messages = sess, created == 1, attached == 1, msgs
		res.Cursor, res.Missed = uint64(cursor), missed == 1
		return res, nil
	}
	return res, badReply(w, v)
}

// Pull implements store.Store. An Idle of zero keeps the session's idle
// duration. On a closed
// session the holder may still pull what was pending; its expiry stays the
// one Close set.
func (s *Store) Pull(ctx context.Context, route, id string, req store.PullRequest) (store.PullResult, error) {
	w := what("pull", route, id)
	v, err := s.run(ctx, w, scriptPull, s.sessionKeys(route, id),
		s.keyTTL, id, req.Receiver, 0, millis(req.Idle),
		flag(req.Release), flag(req.ReleaseIfData), max(req.Max, -1), req.Ack)
	if err != nil {
		return store.PullResult{}, err
	}
	a, st := status(v)
	switch {
	case st == "nf":
		return store.PullResult{}, sentinel(w, store.ErrNotFound)
	case st == "nr":
		return store.PullResult{}, sentinel(w, store.ErrNotReceiver)
	case st == "ok" && len(a) == 8:
		msgs, ok1 := asStrings(a[1])
		state, ok2 := asState(a[2])
		code, ok3 := asInt(a[3])
		reason, ok4 := a[4].(string)
		released, ok5 := asInt(a[5])
		cursor, ok6 := asInt(a[6])
		missed, ok7 := asInt(a[7])
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || cursor < 0 {
			break
		}
		res := store.PullResult{Messages: msgs, State: state, Released: released == 1, Cursor: uint64(cursor), Missed: missed == 1}
		if state == store.StateClosed {
			res.CloseCode, res.CloseReason = int(code), reason
		}
		return res, nil
	}
	return store.PullResult{}, badReply(w, v)
}

// Release implements store.Store. An idle of zero means the session's own.
// Releasing an absent session does nothing, like any Release by a caller
// that does not hold the lease.
func (s *Store) Release(ctx context.Context, route, id, receiver string, idle time.Duration) error {
	_, err := s.run(ctx, what("release", route, id), scriptRelease, s.sessionKeys(route, id),
		s.keyTTL, id, receiver, millis(idle))
	return err
}

// Push implements store.Store.
func (s *Store) Push(ctx context.Context, route, id string, msgs []string) (store.PushResult, error) {
	w := what("push", route, id)
	args := make([]any, 0, 3+len(msgs))
	args = append(args, s.keyTTL, id, s.opts.MaxQueue, s.opts.MaxQueueBytes)
	for _, m := range msgs {
		args = append(args, m)
	}
	v, err := s.run(ctx, w, scriptPush, s.sessionKeys(route, id), args...)
	if err != nil {
		return store.PushResult{}, err
	}
	a, st := status(v)
	switch {
	case st == "nf":
		return store.PushResult{}, sentinel(w, store.ErrNotFound)
	case st == "closed":
		return store.PushResult{}, sentinel(w, store.ErrClosed)
	case st == "full" && len(a) == 2:
		n, _ := asInt(a[1])
		return store.PushResult{}, fmt.Errorf("redisstore: %s: %d unread: %w", w, n, store.ErrQueueFull)
	case st == "ok" && len(a) == 5:
		receiver, ok1 := a[1].(string)
		node, ok2 := a[2].(string)
		first, ok3 := asInt(a[3])
		prev, ok4 := asInt(a[4])
		if ok1 && ok2 && ok3 && ok4 && first >= 0 && prev >= 0 {
			return store.PushResult{Receiver: receiver, Node: node, First: uint64(first), Prev: uint64(prev)}, nil
		}
	}
	return store.PushResult{}, badReply(w, v)
}

// renewRefresh is how many held sessions' keys one RenewNode refreshes the
// TTLs of, at most, while a refresh pass is under way.
const renewRefresh = 64

// RenewNode implements store.Store: one script, whatever the number of
// sessions the node holds (see renewNodeLua for the TTLs of held
// sessions' keys, refreshed a few per call).
func (s *Store) RenewNode(ctx context.Context, route, node string, req store.NodeRequest) (store.NodeLease, error) {
	w := "renew node " + route + "/" + node
	if req.Lease <= 0 {
		return store.NodeLease{}, errors.New("redisstore: renew node: Lease must be > 0")
	}
	pass := s.pass(route, node)
	pass.mu.Lock()
	defer pass.mu.Unlock()
	cursor := pass.cursor
	if cursor == "" && s.now().Sub(pass.started) >= s.opts.KeyTTL/2 {
		cursor = "0" // a new pass
	}
	v, err := s.run(ctx, w, scriptRenewNode, s.routeKeys(route),
		s.keyTTL, s.base(route), node, millis(req.Lease), flag(req.Fresh), cursor, renewRefresh)
	if err != nil {
		return store.NodeLease{}, err
	}
	a, _ := v.([]any)
	if len(a) == 3 {
		ep, ok1 := asInt(a[0])
		renewed, ok2 := asInt(a[1])
		next, ok3 := a[2].(string)
		if ok1 && ok2 && ok3 && ep > 0 {
			if cursor == "0" || renewed != 1 {
				pass.started = s.now()
			}
			if next == "0" {
				next = "" // the pass is over
			}
			pass.cursor = next
			return store.NodeLease{Epoch: uint64(ep), Renewed: renewed == 1}, nil
		}
	}
	return store.NodeLease{}, badReply(w, v)
}

// refreshPass is where a node's pass refreshing its holds' TTLs stands
// (see renewNodeLua): kept here, by the process that renews the node's
// lease, so that a renewal reads nothing for it.
type refreshPass struct {
	mu      sync.Mutex
	cursor  string    // "" between passes
	started time.Time // when the last pass (or epoch) started
}

func (s *Store) pass(route, node string) *refreshPass {
	key := route + "\x00" + node
	if p, ok := s.passes.Load(key); ok {
		return p.(*refreshPass)
	}
	p, _ := s.passes.LoadOrStore(key, &refreshPass{started: s.now()})
	return p.(*refreshPass)
}

// Publish implements store.Store: one log entry, whatever the number of
// sessions. A route with no open session logs nothing: no session could
// ever receive the message.
func (s *Store) Publish(ctx context.Context, route, msg string) (uint64, error) {
	w := "publish " + route
	v, err := s.run(ctx, w, scriptPublish, s.routeKeys(route),
		s.keyTTL, msg, millis(s.opts.BroadcastRetention), s.opts.MaxBroadcastLog, s.opts.MaxBroadcastBytes)
	if err != nil {
		return 0, err
	}
	seq, ok := asInt(v)
	if !ok || seq < 0 {
		return 0, badReply(w, v)
	}
	return uint64(seq), nil
}

// CloseSession implements store.Store. An idle of zero means the session's own.
func (s *Store) CloseSession(ctx context.Context, route, id string, code int, reason string, idle time.Duration) (store.Session, bool, error) {
	w := what("close", route, id)
	v, err := s.run(ctx, w, scriptClose, s.sessionKeys(route, id),
		s.keyTTL, id, code, reason, millis(idle))
	if err != nil {
		return store.Session{}, false, err
	}
	a, st := status(v)
	switch {
	case st == "nf":
		return store.Session{}, false, sentinel(w, store.ErrNotFound)
	case st == "ok" && len(a) == 3:
		closed, ok1 := asInt(a[1])
		f, _ := a[2].([]any)
		sess, ok2 := snapshot(route, id, f)
		if ok1 && ok2 {
			return sess, closed == 1, nil
		}
	}
	return store.Session{}, false, badReply(w, v)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, route, id string) (store.Session, error) {
	w := what("get", route, id)
	v, err := s.run(ctx, w, scriptGet, s.sessionKeys(route, id), s.keyTTL, id)
	if err != nil {
		return store.Session{}, err
	}
	a, st := status(v)
	switch {
	case st == "nf":
		return store.Session{}, sentinel(w, store.ErrNotFound)
	case st == "ok" && len(a) == 2:
		f, _ := a[1].([]any)
		if sess, ok := snapshot(route, id, f); ok {
			return sess, nil
		}
	}
	return store.Session{}, badReply(w, v)
}

// SetValue implements store.Store.
func (s *Store) SetValue(ctx context.Context, route, id, key, value string) error {
	w := what("set value", route, id)
	v, err := s.run(ctx, w, scriptSetValue, s.sessionKeys(route, id), s.keyTTL, id, key, value)
	if err != nil {
		return err
	}
	switch v {
	case "ok":
		return nil
	case "nf":
		return sentinel(w, store.ErrNotFound)
	}
	return badReply(w, v)
}

// Count implements store.Store with one GET of the route's count of open
// sessions, which creating a session raises and closing or reaping an
// open one lowers. Sessions that expired but were not reaped yet still
// count. So does a session whose record the KeyTTL backstop removed
// (which happens only when no node reaped the route for KeyTTL), until
// the route has no session left.
func (s *Store) Count(ctx context.Context, route string) (int, error) {
	w := "count " + route
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", w, err)
	}
	n, err := s.c.Get(ctx, s.base(route)+"n").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, wrapErr(ctx, w, err)
	}
	return int(max(n, 0)), nil
}

// IDs implements store.Store with one function call that reads the
// route's expiry index and its nodes' sets of holds, and the state of
// every session in them: it costs O(sessions of the route) on the server,
// in one call, more than the memory store's IDs. It is meant for
// administration, not for every request.
func (s *Store) IDs(ctx context.Context, route string) ([]string, error) {
	w := "ids " + route
	v, err := s.run(ctx, w, scriptIDs, s.routeKeys(route), s.keyTTL)
	if err != nil {
		return nil, err
	}
	ids, ok := asStrings(v)
	if !ok {
		return nil, badReply(w, v)
	}
	return ids, nil
}

// Reap implements store.Store: one script takes up to max due sessions of
// the route from the expiry index, so each goes to exactly one caller even
// across nodes. It costs O(log n) per session it returns or re-scores (an
// entry scored before its deadline moved later), not per session of the
// route. It examines at most max+1000 index entries per call, so when more
// than 1000 renewed sessions come due at once it may return fewer than max
// while some are due: the next call goes on. Should a returned session not
// decode (keys of the prefix written by something else), Reap returns the
// others with the error.
func (s *Store) Reap(ctx context.Context, route string, max int) ([]store.Session, error) {
	w := "reap " + route
	if max <= 0 {
		return nil, fmt.Errorf("redisstore: reap: max must be > 0, got %d", max)
	}
	v, err := s.run(ctx, w, scriptReap, s.routeKeys(route), s.keyTTL, s.base(route), max)
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok {
		return nil, badReply(w, v)
	}
	if len(a) == 0 {
		return nil, nil
	}
	// The sessions are gone from Redis now: hand out every one that
	// decodes, even when another does not.
	out := make([]store.Session, 0, len(a))
	var bad []any
	for _, e := range a {
		f, _ := e.([]any)
		var sess store.Session
		id, ok := "", len(f) == 11
		if ok {
			id, ok = f[0].(string)
		}
		if ok {
			sess, ok = snapshot(route, id, f[1:])
		}
		if !ok {
			bad = append(bad, e)
			continue
		}
		out = append(out, sess)
	}
	if bad != nil {
		return out, badReply(w, bad)
	}
	return out, nil
}
