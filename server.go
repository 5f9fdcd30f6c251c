package sockjs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockjs-cluster/sockjs/pubsub"
	pubsubmem "github.com/sockjs-cluster/sockjs/pubsub/memory"
	"github.com/sockjs-cluster/sockjs/store"
	storemem "github.com/sockjs-cluster/sockjs/store/memory"
)

// Config configures a Server. The zero value is a single in-memory node.
type Config struct {
	// Store keeps the sessions. Nil means an in-memory store: one process,
	// nothing else to run.
	Store store.Store
	// Bus connects the nodes. Nil means an in-memory bus owned by the
	// server. Nodes of one cluster share one Store and one Bus.
	Bus pubsub.Bus
	// Logger receives what the server cannot report to a caller. Nil means
	// slog.Default().
	Logger *slog.Logger
	// NodeID names this node on the bus; it must be unique in the cluster
	// and must not contain '/', whitespace or control characters (see
	// Validate). Empty means a random id.
	NodeID string
	// MaxBufferedBytes is the node's budget for what it holds for its
	// websocket clients, all routes together: their send queues and the
	// batches being written (each message's bytes plus a small allowance;
	// a broadcast's shared frame is counted once). When it is reached, the
	// sessions holding the most are closed first, with
	// c[1008,ReasonNodeBudget], and their queues dropped, so that a few slow
	// or hostile clients cannot grow the node. Each session is bounded on
	// its own as well (Options.MaxQueueBytes). The store bounds what it
	// keeps for the other transports (see its options). Zero means 32 MiB.
	MaxBufferedBytes int64

	// Observer, when set, is told what the node does, for metrics (see
	// Observer and package sockjsprom). Nil means none, at no cost.
	Observer Observer
	// ReadinessPing is the period of the node's pings to itself for Ready:
	// one ping per period and distinct bus, on the node channel of one of
	// the routes on that bus in turn (see Server.Ready for the few extra
	// pings). Zero means DefaultReadinessPing (5 seconds).
	ReadinessPing time.Duration
	// ReadinessTimeout is how long Ready tolerates no ping of any route
	// of a bus coming back, and a route's own ping not coming back. Zero
	// means three ReadinessPing periods (DefaultReadinessTimeout, 15
	// seconds, by default). Keep it above ReadinessPing plus the bus's
	// delivery delay, or a bus that works may fail Ready.
	ReadinessTimeout time.Duration
}

// Server is one node: any number of SockJS routes sharing a store, a bus
// and a lifecycle. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	nodeID string
	log    *slog.Logger

	ctx    context.Context // ends at Shutdown: background work stops
	cancel context.CancelFunc

	mu       sync.Mutex
	routes   map[string]*route
	prefixes map[string]string
	draining chan struct{} // closed when Shutdown starts
	stopped  bool
	bg       sync.WaitGroup // background goroutines (reapers)
	active   sync.WaitGroup // receivers and websocket sessions in flight
	owned    []interface{ Close() error }
	pingers  []*busPinger // readiness, one per distinct bus of the routes (ready.go)

	buffers budget // what the node holds for websocket clients

	pause atomic.Pointer[func()] // a test's freeze (pausePoint); nil in production
}

// NewServer returns a node configured by cfg. It panics with the error of
// cfg.Validate when cfg is invalid: a programmer error, as with a bad
// regexp.MustCompile pattern.
func NewServer(cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	s := &Server{
		cfg:      cfg,
		nodeID:   cfg.NodeID,
		log:      cfg.Logger,
		routes:   map[string]*route{},
		prefixes: map[string]string{},
		draining: make(chan struct{}),
	}
	if s.nodeID == "" {
		s.nodeID = randomID(8)
	}
	s.buffers.max = cfg.MaxBufferedBytes
	if s.buffers.max <= 0 {
		s.buffers.max = 32 << 20
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Store == nil {
		st := storemem.New(storemem.Options{})
		s.cfg.Store = st
	}
	if cfg.Bus == nil {
		b := pubsubmem.New(pubsubmem.Options{})
		s.cfg.Bus = b
		s.owned = append(s.owned, b)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// NodeID returns this node's id on the bus.
func (s *Server) NodeID() string { return s.nodeID }

// Route adds a SockJS endpoint named name under the URL prefix (e.g.
// "/chat": the client connects to http://host/chat) and returns its
// http.Handler. Mount the handler so that it sees the full request path
// under the prefix: mux.Handle("/chat/", h) with http.ServeMux (a Go 1.22
// pattern like "/chat/{rest...}" works too), r.Handle("/chat/*", h) with
// chi, or r.PathPrefix("/chat/").Handler(h) with gorilla/mux. The route also
// answers the bare prefix ("/chat").
//
// The prefix is empty (the route serves the root) or starts with '/'; the
// name must not be empty.
//
// Route panics when name or prefix is invalid or already taken, when opts
// is invalid (the error of Options.Validate), or when the bus cannot be
// subscribed (configuration errors at start-up); use RouteContext to get
// that error instead.
func (s *Server) Route(name, prefix string, h Handler, opts Options) http.Handler {
	rt, err := s.RouteContext(s.ctx, name, prefix, h, opts)
	if err != nil {
		panic(err)
	}
	return rt
}

// RouteContext is Route returning its error.
func (s *Server) RouteContext(ctx context.Context, name, prefix string, h Handler, opts Options) (http.Handler, error) {
	if h == nil {
		return nil, fmt.Errorf("sockjs: route %q: nil handler", name)
	}
	if err := checkRoute(name, prefix); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	prefix = strings.TrimRight(prefix, "/")
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, ErrServerClosed
	}
	if _, dup := s.routes[name]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("sockjs: route %q already exists", name)
	}
	if other, dup := s.prefixes[prefix]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("sockjs: prefix %q already used by route %q", prefix, other)
	}
	rt := newRoute(s, name, prefix, h, opts)
	s.routes[name] = rt
	s.prefixes[prefix] = name
	s.mu.Unlock()

	if err := rt.start(ctx); err != nil {
		s.mu.Lock()
		delete(s.routes, name)
		delete(s.prefixes, prefix)
		s.mu.Unlock()
		return nil, err
	}
	return rt, nil
}

// Manager returns the manager of the route named name. It never returns
// nil: when this node has no route of that name (a typo, or a route not
// added yet), the Manager's methods return ErrUnknownRoute (test with
// errors.Is), and it finds the route once one of that name is added.
func (s *Server) Manager(name string) *Manager {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt := s.routes[name]; rt != nil {
		return rt.mgr
	}
	return &Manager{srv: s, name: name}
}

// Shutdown stops the node gracefully: new session requests get 503, every
// websocket session is closed with c[1001,"Server shutting down"] and a
// close handshake, streaming and polling responses end without closing
// their sessions (so, in a cluster, their clients carry on through other
// nodes), and background goroutines stop. It waits for all of that, or
// until ctx ends, and returns ctx's error in that case.
//
// Shutdown does not stop the http.Server the routes are mounted on (call
// its Shutdown too, before or after: hijacked websocket connections are
// closed here, which http.Server.Shutdown does not do), and does not close
// a store or bus the application passed in. Sessions without a receiver
// stay in the store and expire there. Calling Shutdown again waits again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.draining)
	}
	routes := make([]*route, 0, len(s.routes))
	for _, rt := range s.routes {
		routes = append(routes, rt)
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.cancel()
	s.bg.Wait()
	for _, rt := range routes {
		rt.stop(ctx)
	}
	s.mu.Lock()
	owned := s.owned
	s.owned = nil
	s.mu.Unlock()
	for _, c := range owned {
		_ = c.Close()
	}
	return nil
}

// pausePoint is where a test may freeze the node's work (see
// export_test.go): lease renewals, bus messages, and receivers between
// taking messages and handing them over. A no-op otherwise.
func (s *Server) pausePoint() {
	if p := s.pause.Load(); p != nil {
		(*p)()
	}
}

func (s *Server) isDraining() bool {
	select {
	case <-s.draining:
		return true
	default:
		return false
	}
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// enter registers one receiver or websocket session in flight; false once
// the server is shutting down.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.active.Add(1)
	return true
}

func (s *Server) leave() { s.active.Done() }

// ServeHTTP serves every route of the node by its prefix (the longest
// matching one), answering 404 elsewhere. Use it when the node owns a whole
// listener or path space; unlike http.ServeMux it does not clean or redirect
// paths, which the SockJS protocol requires ("/prefix//" is a 404).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	s.mu.Lock()
	var best *route
	for _, rt := range s.routes {
		if (p == rt.prefix || strings.HasPrefix(p, rt.prefix+"/")) && (best == nil || len(rt.prefix) > len(best.prefix)) {
			best = rt
		}
	}
	s.mu.Unlock()
	if best == nil {
		http.NotFound(w, r)
		return
	}
	best.ServeHTTP(w, r)
}
