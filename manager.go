package sockjs

import (
	"context"
	"errors"
	"fmt"

	"github.com/sockjs-cluster/sockjs/store"
)

// Manager acts on all the sessions of one route, cluster-wide: every node
// running the route sees the same sessions. Get it with Server.Manager.
type Manager struct {
	rt *route
}

// Name returns the route's name.
func (m *Manager) Name() string { return m.rt.name }

// Broadcast sends msg to every session of the route open at this moment,
// on every node. It costs one store write and one bus message, whatever the
// number of sessions; each session receives it in order with its unicast
// messages. Sessions opened after Broadcast returns do not receive it.
func (m *Manager) Broadcast(ctx context.Context, msg string) error {
	return m.rt.broadcast(ctx, msg)
}

// Session returns a handle on session id. Errors: ErrSessionNotFound.
func (m *Manager) Session(ctx context.Context, id string) (*Session, error) {
	rec, err := m.rt.store.Get(ctx, m.rt.name, id)
	if err != nil {
		return nil, storeErr("session", err)
	}
	return m.rt.handleFor(ctx, rec), nil
}

// handleFor returns a handle on a stored session, bound to its local
// connection when this node holds it.
func (rt *route) handleFor(ctx context.Context, rec store.Session) *Session {
	s := rt.handle(ctx, publicID(rec.ID), rec.ID, rec.Meta, nil)
	if rec.Node == rt.srv.nodeID {
		if c := rt.conn(rec.ID); c != nil {
			s = c.handle
		}
	}
	return s
}

// Sessions returns handles on every open session of the route.
func (m *Manager) Sessions(ctx context.Context) ([]*Session, error) {
	ids, err := m.rt.store.IDs(ctx, m.rt.name)
	if err != nil {
		return nil, storeErr("sessions", err)
	}
	out := make([]*Session, 0, len(ids))
	for _, id := range ids {
		rec, err := m.rt.store.Get(ctx, m.rt.name, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, storeErr("sessions", err)
		}
		out = append(out, m.rt.handleFor(ctx, rec))
	}
	return out, nil
}

// Count returns how many sessions of the route are open.
func (m *Manager) Count(ctx context.Context) (int, error) {
	n, err := m.rt.store.Count(ctx, m.rt.name)
	return n, storeErr("count", err)
}

// Close closes every open session of the route with code and reason. It
// does not stop new sessions from opening.
func (m *Manager) Close(ctx context.Context, code int, reason string) error {
	ids, err := m.rt.store.IDs(ctx, m.rt.name)
	if err != nil {
		return storeErr("close", err)
	}
	var errs []error
	for _, id := range ids {
		if err := m.rt.closeSession(ctx, id, code, reason); err != nil && !errors.Is(err, ErrSessionNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sockjs: closing %d of %d sessions failed: %w", len(errs), len(ids), errors.Join(errs...))
	}
	return nil
}
