package sockjs

import (
	"context"
	"errors"
	"time"

	"github.com/sockjs-cluster/sockjs/store"
)

// CloseCause says why a session closed; see CloseError and Session.Err.
type CloseCause int

// Close causes. The node that closes a session knows why; OnClose may run
// on another node (an expiry found by any node's reaper), which tells the
// cause from the close code and reason the store keeps (see Session.Err).
const (
	// CauseUnknown is the zero value; no close of this package has it.
	CauseUnknown CloseCause = iota
	// CauseClient: the client closed its websocket connection (1000
	// "Connection closed" as the server records it).
	CauseClient
	// CauseApplication: Session.Close or Manager.Close, with the
	// application's code and reason.
	CauseApplication
	// CauseExpired: no receiver for the disconnect delay (an HTTP client
	// went away, or its node did). There is no close code.
	CauseExpired
	// CauseSlowConsumer: the session's queue overflowed, or it fell behind
	// the route's broadcast log (1008).
	CauseSlowConsumer
	// CauseShutdown: the node shut down under a websocket session (1001).
	CauseShutdown
	// CauseStoreFailure: the session store failed under a receiver (1011
	// "Session store unavailable").
	CauseStoreFailure
	// CauseInterrupted: a receiving request or connection was cut off, so
	// messages may have been lost (1002).
	CauseInterrupted
	// CausePanic: OnOpen or OnMessage panicked (1011 "Internal error").
	CausePanic
)

var causeNames = [...]string{
	CauseUnknown:      "unknown",
	CauseClient:       "client",
	CauseApplication:  "application",
	CauseExpired:      "expired",
	CauseSlowConsumer: "slow consumer",
	CauseShutdown:     "shutdown",
	CauseStoreFailure: "store failure",
	CauseInterrupted:  "interrupted",
	CausePanic:        "panic",
}

// String returns the cause's name ("expired", "slow consumer", ...).
func (c CloseCause) String() string {
	if c >= 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return "unknown"
}

// Reasons the server itself writes into close frames.
const (
	reasonClientClosed     = "Connection closed"
	reasonInternal         = "Internal error"
	reasonStoreUnavailable = "Session store unavailable"
)

// causeOf tells a close's cause from its code and reason, for closes whose
// cause is not known where OnClose runs: the codes and reasons the server
// uses map to their causes, anything else is the application's. ws marks a
// session bound to a websocket connection, whose own close is the client's.
func causeOf(code int, reason string, ws bool) CloseCause {
	switch code {
	case CodeSlowConsumer:
		return CauseSlowConsumer
	case CodeGoingAway:
		return CauseShutdown
	case CodeInterrupted:
		return CauseInterrupted
	case CodeServerError:
		if reason == reasonInternal {
			return CausePanic
		}
		return CauseStoreFailure
	case CodeNormal:
		if ws && reason == reasonClientClosed {
			return CauseClient
		}
	}
	return CauseApplication
}

// closeErrorOf is the close of a stored session: an open one found expired
// (by Reap), or a closed one with its code and reason.
func closeErrorOf(rec *store.Session) *CloseError {
	if rec.State != store.StateClosed {
		return &CloseError{Cause: CauseExpired}
	}
	return &CloseError{Code: rec.CloseCode, Reason: rec.CloseReason, Cause: causeOf(rec.CloseCode, rec.CloseReason, rec.Node != "")}
}

// Err returns nil while the session is open, and how it closed once this
// handle has seen it close: inside OnClose (on whichever node runs it) it
// is a *CloseError with the close's code, reason and Cause, and so it is on
// the handle a websocket session's callbacks get, once its connection is
// closing. Read it with errors.As; errors.Is(err, ErrSessionClosed) holds.
// Err does not ask the store: a handle taken elsewhere (Manager.Session)
// learns of a close from the errors of Send.
func (s *Session) Err() error {
	s.mu.Lock()
	ce := s.closeErr
	s.mu.Unlock()
	if ce != nil {
		return ce
	}
	if s.conn != nil {
		if ce := s.conn.closeError(); ce != nil {
			return ce
		}
	}
	return nil
}

// setClosed records the close the handle reports through Err.
func (s *Session) setClosed(ce *CloseError) {
	s.mu.Lock()
	if s.closeErr == nil {
		s.closeErr = ce
	}
	s.mu.Unlock()
}

// closedErr turns a send's ErrSessionClosed into the session's *CloseError
// when its record tells how it closed (one store read, on that error only).
func (s *Session) closedErr(ctx context.Context, err error) error {
	var ce *CloseError
	if !errors.Is(err, ErrSessionClosed) || errors.As(err, &ce) {
		return err
	}
	rec, gerr := s.rt.store.Get(ctx, s.rt.name, s.key)
	if gerr != nil || rec.State != store.StateClosed {
		return err
	}
	return closeErrorOf(&rec)
}

// Owner returns the identity Options.SessionOwner bound the session to
// when it opened ("" without SessionOwner), on every node: it is kept in
// the session's record.
func (s *Session) Owner() string { return s.owner }

// closeError is the websocket session's close, nil while it is open.
func (c *connSession) closeError() *CloseError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErrorLocked()
}

// closeErrorLocked is closeError with c.mu held.
func (c *connSession) closeErrorLocked() *CloseError {
	if c.closing == nil {
		return nil
	}
	cause := c.cause
	if cause == CauseUnknown {
		cause = causeOf(c.closing.Code, c.closing.Reason, true)
	}
	return &CloseError{Code: c.closing.Code, Reason: c.closing.Reason, Cause: cause}
}

// closeUnavailable closes a session whose receiver told its client
// c[1011,"Session store unavailable"], when the store takes the close
// (OnClose then sees CauseStoreFailure); a store that is still down leaves
// the session to expire.
func (rt *route) closeUnavailable(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := rt.closeSession(ctx, key, CodeServerError, reasonStoreUnavailable); err != nil && !errors.Is(err, ErrSessionNotFound) {
		rt.log.Debug("sockjs: closing a session after a store failure", "session", key, "err", err)
	}
}
