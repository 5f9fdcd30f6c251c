package sockjs

import (
	"context"
	"time"

	"github.com/sockjs-cluster/sockjs/store"
)

// observedStore times every call of a route's store for Config.Observer.
// Routes use it only when an Observer is set.
type observedStore struct {
	s   store.Store
	obs Observer
}

// observeStore wraps s when obs is set.
func observeStore(s store.Store, obs Observer) store.Store {
	if obs == nil {
		return s
	}
	return &observedStore{s: s, obs: obs}
}

var _ store.Store = (*observedStore)(nil)

func (o *observedStore) done(route, call string, start time.Time, err error) {
	o.obs.StoreCall(route, call, time.Since(start), err)
}

func (o *observedStore) Open(ctx context.Context, route, id string, req store.OpenRequest) (store.OpenResult, error) {
	start := time.Now()
	res, err := o.s.Open(ctx, route, id, req)
	o.done(route, "Open", start, err)
	return res, err
}

func (o *observedStore) Pull(ctx context.Context, route, id string, req store.PullRequest) (store.PullResult, error) {
	start := time.Now()
	res, err := o.s.Pull(ctx, route, id, req)
	o.done(route, "Pull", start, err)
	return res, err
}

func (o *observedStore) Release(ctx context.Context, route, id, receiver string, idle time.Duration) error {
	start := time.Now()
	err := o.s.Release(ctx, route, id, receiver, idle)
	o.done(route, "Release", start, err)
	return err
}

func (o *observedStore) RenewNode(ctx context.Context, route, node string, req store.NodeRequest) (store.NodeLease, error) {
	start := time.Now()
	nl, err := o.s.RenewNode(ctx, route, node, req)
	o.done(route, "RenewNode", start, err)
	return nl, err
}

func (o *observedStore) Push(ctx context.Context, route, id string, msgs []string) (store.PushResult, error) {
	start := time.Now()
	res, err := o.s.Push(ctx, route, id, msgs)
	o.done(route, "Push", start, err)
	return res, err
}

func (o *observedStore) Publish(ctx context.Context, route, msg string) (uint64, error) {
	start := time.Now()
	seq, err := o.s.Publish(ctx, route, msg)
	o.done(route, "Publish", start, err)
	return seq, err
}

func (o *observedStore) CloseSession(ctx context.Context, route, id string, code int, reason string, idle time.Duration) (store.Session, bool, error) {
	start := time.Now()
	s, closed, err := o.s.CloseSession(ctx, route, id, code, reason, idle)
	o.done(route, "CloseSession", start, err)
	return s, closed, err
}

func (o *observedStore) Get(ctx context.Context, route, id string) (store.Session, error) {
	start := time.Now()
	s, err := o.s.Get(ctx, route, id)
	o.done(route, "Get", start, err)
	return s, err
}

func (o *observedStore) SetValue(ctx context.Context, route, id, key, value string) error {
	start := time.Now()
	err := o.s.SetValue(ctx, route, id, key, value)
	o.done(route, "SetValue", start, err)
	return err
}

func (o *observedStore) Count(ctx context.Context, route string) (int, error) {
	start := time.Now()
	n, err := o.s.Count(ctx, route)
	o.done(route, "Count", start, err)
	return n, err
}

func (o *observedStore) IDs(ctx context.Context, route string) ([]string, error) {
	start := time.Now()
	ids, err := o.s.IDs(ctx, route)
	o.done(route, "IDs", start, err)
	return ids, err
}

func (o *observedStore) Reap(ctx context.Context, route string, max int) ([]store.Session, error) {
	start := time.Now()
	ss, err := o.s.Reap(ctx, route, max)
	o.done(route, "Reap", start, err)
	return ss, err
}
