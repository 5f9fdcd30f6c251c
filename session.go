package sockjs

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/sockjs-cluster/sockjs/store"
)

// State is a session's lifecycle state.
type State = store.State

// Session states.
const (
	StateOpen   = store.StateOpen
	StateClosed = store.StateClosed
)

// Request is what a session keeps of the HTTP request that opened it.
type Request struct {
	RemoteAddr string      `json:"remote_addr"`
	Host       string      `json:"host"`
	RequestURI string      `json:"uri"`
	Header     http.Header `json:"header"`
}

func requestOf(r *http.Request) *Request {
	return &Request{RemoteAddr: r.RemoteAddr, Host: r.Host, RequestURI: r.RequestURI, Header: r.Header.Clone()}
}

// Session is a handle on one SockJS session. It is valid on any node of the
// cluster: its methods go through the route's store and bus, except for a
// websocket session's own node, which writes to the connection directly.
// A Session is safe for concurrent use.
type Session struct {
	rt   *route
	id   string // the client's session id
	key  string // the id in the store (differs for reused websocket ids)
	conn *connSession
	ctx  context.Context
	// batch, on the handle an xhr_send's OnMessage gets, gathers its sends
	// into few store calls (batch.go).
	batch *sendBatch
	// final is the record of a session already removed from the store
	// (expired): Value answers from it.
	final *store.Session

	owner string // the identity SessionOwner bound the session to

	mu       sync.Mutex
	meta     []byte
	request  *Request
	closeErr *CloseError // set on the handle OnClose gets (closecause.go)
}

func (rt *route) handle(ctx context.Context, id, key string, meta []byte, req *Request) *Session {
	return &Session{rt: rt, ctx: ctx, id: id, key: key, meta: meta, request: req}
}

// Context returns the context of the work that produced this handle: the
// request (or websocket connection) that carried the callback, or the
// node's background context for OnClose after an expiry. Use it for calls
// made from callbacks; it ends when that work ends.
func (s *Session) Context() context.Context {
	if s.ctx == nil {
		return s.rt.srv.ctx
	}
	return s.ctx
}

// ID returns the session id the client chose.
func (s *Session) ID() string { return s.id }

// Route returns the name of the session's route.
func (s *Session) Route() string { return s.rt.name }

// Request returns the request that opened the session (its headers, remote
// address and URI), or an empty Request when it could not be read back.
// Treat it as read-only.
func (s *Session) Request() *Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.request == nil {
		s.request = &Request{}
		if len(s.meta) == 0 && s.final == nil {
			// A handle made without the session's record (a node that
			// attached without reading it): read it now.
			if rec, err := s.rt.store.Get(s.Context(), s.rt.name, s.key); err == nil {
				s.meta = rec.Meta
			}
		}
		if len(s.meta) > 0 {
			_ = json.Unmarshal(s.meta, s.request)
		}
	}
	return s.request
}

// Send queues msg for the client. It returns once the message is stored
// (or, for a websocket session on this node, queued on its connection);
// it does not wait for the client. Errors: ErrSessionNotFound,
// ErrSessionClosed (a *CloseError saying how, when the session's record
// tells), ErrSlowConsumer (the session was closed because its queue
// overflowed), or a store error.
func (s *Session) Send(ctx context.Context, msg string) error {
	if s.conn != nil {
		return s.conn.send(msg)
	}
	if s.batch != nil {
		return s.closedErr(ctx, s.batch.add(ctx, msg))
	}
	return s.closedErr(ctx, s.rt.push(ctx, s.key, []string{msg}))
}

// Close closes the session with code and reason: the client receives
// c[code,"reason"], later receivers get the same frame until the session
// expires, and OnClose runs (once, cluster-wide) with CauseApplication
// (see Err). Closing a closed session does nothing.
func (s *Session) Close(ctx context.Context, code int, reason string) error {
	err := s.rt.closeSessionAs(ctx, s.key, code, reason, CauseApplication)
	if err == nil && s.batch != nil {
		s.batch.markClosed()
	}
	return err
}

// State returns the session's state as the store has it.
func (s *Session) State(ctx context.Context) (State, error) {
	rec, err := s.rt.store.Get(ctx, s.rt.name, s.key)
	if err != nil {
		return 0, storeErr("state", err)
	}
	return rec.State, nil
}

// Value returns one of the session's values ("" when unset). Values live in
// the store, so every node sees them; keep them small. In OnClose after an
// expiry, the values are those the session had when it expired.
func (s *Session) Value(ctx context.Context, key string) (string, error) {
	if s.final != nil {
		return s.final.Values[key], nil
	}
	rec, err := s.rt.store.Get(ctx, s.rt.name, s.key)
	if err != nil {
		return "", storeErr("value", err)
	}
	return rec.Values[key], nil
}

// SetValue sets one of the session's values; an empty value deletes it.
func (s *Session) SetValue(ctx context.Context, key, value string) error {
	return storeErr("set value", s.rt.store.SetValue(ctx, s.rt.name, s.key, key, value))
}
