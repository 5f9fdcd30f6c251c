package sockjs

import (
	"errors"
	"fmt"

	"github.com/sockjs-cluster/sockjs/store"
)

var (
	// ErrSessionNotFound: no such session (never opened, or expired).
	ErrSessionNotFound = errors.New("sockjs: session not found")
	// ErrSessionClosed: the session is closed and takes no messages.
	ErrSessionClosed = errors.New("sockjs: session closed")
	// ErrSlowConsumer: the session fell too far behind and was closed.
	ErrSlowConsumer = errors.New("sockjs: slow consumer closed")
	// ErrServerClosed: the server is shutting down.
	ErrServerClosed = errors.New("sockjs: server closed")
	// ErrUnknownRoute: no route has that name.
	ErrUnknownRoute = errors.New("sockjs: unknown route")
)

// CloseError is a session close as the client sees it, c[Code,"Reason"],
// and why it happened (Cause). Session.Err returns one inside OnClose, and
// Send returns one for a session known to be closed. Code is 0 and Reason
// empty when the client was sent no close frame (CauseExpired).
type CloseError struct {
	Code   int
	Reason string
	Cause  CloseCause
}

func (e *CloseError) Error() string {
	if e.Code == 0 && e.Reason == "" {
		return fmt.Sprintf("sockjs: session closed (%s)", e.Cause)
	}
	return fmt.Sprintf("sockjs: session closed (%d %q, %s)", e.Code, e.Reason, e.Cause)
}

// Is makes a *CloseError match ErrSessionClosed.
func (e *CloseError) Is(target error) bool { return target == ErrSessionClosed }

// Close codes the server itself uses.
const (
	// CodeInterrupted: a receiving request was cut off mid-response; the
	// session may have lost messages and is closed.
	CodeInterrupted = 1002
	// CodeAnotherConnection: a second receiver came while one is open (the
	// session stays open).
	CodeAnotherConnection = 2010
	// CodeGoingAway: the server shut down under a websocket session.
	CodeGoingAway = 1001
	// CodeSlowConsumer: the session's outgoing queue overflowed.
	CodeSlowConsumer = 1008
	// CodeServerError: the session store failed.
	CodeServerError = 1011
	// CodeNormal: a websocket client closed its connection.
	CodeNormal = 1000
)

// storeErr turns a store error into this package's errors.
func storeErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return ErrSessionNotFound
	case errors.Is(err, store.ErrClosed):
		return ErrSessionClosed
	case errors.Is(err, store.ErrQueueFull):
		return ErrSlowConsumer
	}
	return fmt.Errorf("sockjs: %s: %w", op, err)
}
