package sockjs

import (
	"context"
	"errors"
	"fmt"

	"github.com/sockjs-cluster/sockjs/store"
)

// Manager acts on all the sessions of one route, cluster-wide: every node
// running the route sees the same sessions. Get it with Server.Manager.
// The Manager of a name no route has yet returns ErrUnknownRoute from its
// methods until a route of that name is added to its Server.
type Manager struct {
	rt   *route  // nil for a Manager taken before its route existed
	srv  *Server // looks rt up then
	name string
}

// Name returns the route's name.
func (m *Manager) Name() string { return m.name }

// route returns the Manager's route, or ErrUnknownRoute (wrapped with the
// name) when its Server has no route of that name.
func (m *Manager) route() (*route, error) {
	if m.rt != nil {
		return m.rt, nil
	}
	m.srv.mu.Lock()
	rt := m.srv.routes[m.name]
	m.srv.mu.Unlock()
	if rt == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownRoute, m.name)
	}
	return rt, nil
}

// Broadcast sends msg to every session of the route open at this moment,
// on every node. It costs one store write and one bus message, whatever the
// number of sessions; each session receives it in order with its unicast
// messages. Sessions opened after Broadcast returns do not receive it.
func (m *Manager) Broadcast(ctx context.Context, msg string) error {
	rt, err := m.route()
	if err != nil {
		return err
	}
	return rt.broadcast(ctx, msg)
}

// Session returns a handle on session id. Errors: ErrSessionNotFound.
func (m *Manager) Session(ctx context.Context, id string) (*Session, error) {
	rt, err := m.route()
	if err != nil {
		return nil, err
	}
	rec, err := rt.store.Get(ctx, rt.name, id)
	if err != nil {
		return nil, storeErr("session", err)
	}
	return rt.handleFor(ctx, rec), nil
}

// handleFor returns a handle on a stored session, bound to its local
// connection when this node holds it.
func (rt *route) handleFor(ctx context.Context, rec store.Session) *Session {
	s := rt.handle(ctx, publicID(rec.ID), rec.ID, rec.Meta, nil)
	s.owner = rec.Owner
	if rec.Node == rt.srv.nodeID {
		if c := rt.conn(rec.ID); c != nil {
			s = c.handle
		}
	}
	return s
}

// Sessions returns handles on every open session of the route.
func (m *Manager) Sessions(ctx context.Context) ([]*Session, error) {
	rt, err := m.route()
	if err != nil {
		return nil, err
	}
	ids, err := rt.store.IDs(ctx, rt.name)
	if err != nil {
		return nil, storeErr("sessions", err)
	}
	out := make([]*Session, 0, len(ids))
	for _, id := range ids {
		rec, err := rt.store.Get(ctx, rt.name, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, storeErr("sessions", err)
		}
		out = append(out, rt.handleFor(ctx, rec))
	}
	return out, nil
}

// Count returns how many sessions of the route are open.
func (m *Manager) Count(ctx context.Context) (int, error) {
	rt, err := m.route()
	if err != nil {
		return 0, err
	}
	n, err := rt.store.Count(ctx, rt.name)
	return n, storeErr("count", err)
}

// Close closes every open session of the route with code and reason
// (OnClose sees CauseApplication). It does not stop new sessions from
// opening.
func (m *Manager) Close(ctx context.Context, code int, reason string) error {
	rt, err := m.route()
	if err != nil {
		return err
	}
	ids, err := rt.store.IDs(ctx, rt.name)
	if err != nil {
		return storeErr("close", err)
	}
	var errs []error
	for _, id := range ids {
		if err := rt.closeSessionAs(ctx, id, code, reason, CauseApplication); err != nil && !errors.Is(err, ErrSessionNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sockjs: closing %d of %d sessions failed: %w", len(errs), len(ids), errors.Join(errs...))
	}
	return nil
}
