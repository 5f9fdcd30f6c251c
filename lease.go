package sockjs

import (
	"context"
	"errors"
	"time"

	"github.com/sockjs-cluster/sockjs/store"
)

// The node's lease on a route's holds (see store.Store.RenewNode): every
// receiving request and websocket session of this node holds its session
// while the lease lives, so holding costs the store one renewal per route
// and node every ReceiverLease/3, whatever the number of sessions.
//
// A lapse (the store unreachable, or this process paused, for longer than
// ReceiverLease) ends every hold of the lapsed epoch: other nodes may take
// the sessions over, and the store refuses what this node's receivers of
// that epoch ask (they answer polls with a heartbeat and end streams with
// c[1002]). When the next renewal reports a new epoch, the websocket
// sessions, which only this node can serve, take their holds again, or are
// closed with c[1002] when their session expired or was taken meanwhile.

// renewNode takes (fresh) or renews the lease and reacts to a new epoch.
//
// The store call is bounded by a renewal period: a store that does not
// answer (a blackholed connection) must not stall the lease loop, which
// has to notice the lease running out and give the holds up.
func (rt *route) renewNode(ctx context.Context, fresh bool) error {
	sent := mono()
	rctx, cancel := context.WithTimeout(ctx, rt.opts.ReceiverLease/3)
	nl, err := rt.store.RenewNode(rctx, rt.name, rt.srv.nodeID, store.NodeRequest{Lease: rt.opts.ReceiverLease, Fresh: fresh})
	cancel()
	rt.noteRenewal(sent, err)
	if err != nil {
		return storeErr("renew node lease", err)
	}
	old := rt.epoch.Swap(nl.Epoch)
	if old != 0 && old != nl.Epoch {
		rt.log.Warn("sockjs: this node's lease had lapsed; its holds were given up", "epoch", nl.Epoch)
		rt.retakeConns(ctx)
	}
	return nil
}

// leaseLoop renews the lease every ReceiverLease/3, and every second while
// the store fails (a hold refused for want of a lease renews at once: see
// open).
func (rt *route) leaseLoop() {
	defer rt.srv.bg.Done()
	every := rt.opts.ReceiverLease / 3
	t := time.NewTimer(every)
	defer t.Stop()
	ctx := rt.srv.ctx
	failing := false
	lastOK := time.Now() // the send time of the last renewal that succeeded
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rt.srv.pausePoint()
		sent := time.Now()
		err := rt.renewNode(ctx, rt.epoch.Load() == 0)
		if err == nil {
			lastOK = sent
		} else if time.Since(lastOK) >= rt.opts.ReceiverLease && ctx.Err() == nil {
			// The lease has run out by now, as far as this node can tell:
			// its receivers hold nothing any more; tell their clients.
			rt.storeLost()
		}
		switch {
		case err == nil && failing:
			rt.log.Info("sockjs: node lease renewed again")
			failing = false
		case err != nil && ctx.Err() == nil && !failing:
			rt.log.Warn("sockjs: renewing the node lease failed; retrying every second", "err", err)
			failing = true
		}
		next := every
		if err != nil {
			next = min(every, time.Second)
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
	}
}

// storeLost ends the node's receiving requests with c[1011]: the store has
// been unreachable for longer than the node's lease.
func (rt *route) storeLost() {
	rt.mu.Lock()
	var lost []*receiver
	for _, set := range rt.receivers {
		for rc := range set {
			lost = append(lost, rc)
		}
	}
	rt.mu.Unlock()
	for _, rc := range lost {
		rc.lost.Store(true)
		rc.signal()
	}
}

// open is store.Open for a hold; when the store sees no live lease of this
// node (it lapsed, or the store restarted empty), the lease is renewed at
// once and the Open tried again.
func (rt *route) open(ctx context.Context, key string, req store.OpenRequest) (store.OpenResult, error) {
	res, err := rt.store.Open(ctx, rt.name, key, req)
	if errors.Is(err, store.ErrNodeLease) && rt.renewNode(ctx, false) == nil {
		res, err = rt.store.Open(ctx, rt.name, key, req)
	}
	return res, err
}

// retakeConns has every websocket session of this node take its hold again
// in the new epoch; one whose session is gone or held by another receiver
// is closed.
func (rt *route) retakeConns(ctx context.Context) {
	rt.mu.Lock()
	conns := rt.connSnapshot()
	rt.mu.Unlock()
	for _, c := range conns {
		res, err := rt.store.Open(ctx, rt.name, c.key, store.OpenRequest{
			Receiver: c.name, Holder: rt.srv.nodeID, Owner: c.owner,
		})
		if err != nil || !res.Attached {
			c.closeWith(CodeInterrupted, "Connection interrupted")
		}
	}
}
