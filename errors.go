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

// CloseError is a session close as the client sees it: c[Code,"Reason"].
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("sockjs: session closed (%d %q)", e.Code, e.Reason)
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
