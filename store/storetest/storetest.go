// Package storetest is the conformance suite of store.Store: every guarantee
// of the store package documentation and every method's documented
// behaviour, as named subtests. An implementation runs it from its own
// tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memory.New(memory.Options{}) })
//	}
//
// Durations are short (tens to hundreds of milliseconds) with generous
// margins, expiry is awaited by polling Reap under a bounded deadline, and no
// subtest asserts how fast something happens, so a remote store on a loaded
// machine passes too. All subtests run in parallel with each other.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/store"
)

const (
	// long is an idle or lease duration that never runs out during a test.
	long = time.Minute
	// waitFor bounds every wait for something to happen.
	waitFor = 5 * time.Second
	// pollEvery is the polling period of waits.
	pollEvery = 10 * time.Millisecond
	// slack absorbs clock granularity (a remote store's clock, rounding to
	// milliseconds) when checking that something did not happen too early.
	slack = 25 * time.Millisecond
)

// Run runs the contract suite against stores made by newStore. newStore is
// called once per subtest and must return an empty store (e.g. a fresh
// instance, or a unique key prefix per call). A store holding resources
// registers its own release with t.Cleanup in newStore: store.Closer cannot
// be implemented by a store.Store, whose Close method has another signature.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, group := range []struct {
		name  string
		tests []test
	}{
		{"Create", createTests},
		{"Lease", leaseTests},
		{"Push", pushTests},
		{"Pull", pullTests},
		{"Open", openTests},
		{"Publish", publishTests},
		{"Close", closeTests},
		{"Owner", ownerTests},
		{"Values", valueTests},
		{"Count", countTests},
		{"Expiry", expiryTests},
		{"Context", contextTests},
	} {
		t.Run(group.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range group.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, &withNode{Store: newStore(t), routes: map[string]bool{}})
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// names gives a subtest its own route and session ids.
type names struct{ route, base string }

func newNames(t *testing.T) names {
	n := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return names{route: "route:" + n, base: n}
}

func (n names) id(s string) string { return n.base + "#" + s }

var bg = context.Background()

// create creates a session without a receiver that does not expire during
// the test.
func create(t *testing.T, s store.Store, route, id string) store.Session {
	t.Helper()
	res, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: long})
	if err != nil {
		t.Fatalf("Open(create %s): %v", id, err)
	}
	if !res.Created {
		t.Fatalf("Open(create %s): Created = false", id)
	}
	return res.Session
}

// attach takes the lease of an existing session for long.
func attach(t *testing.T, s store.Store, route, id, receiver string) store.OpenResult {
	t.Helper()
	res, err := s.Open(bg, route, id, store.OpenRequest{Receiver: receiver, Holder: h})
	if err != nil {
		t.Fatalf("Open(%s, receiver %s): %v", id, receiver, err)
	}
	if !res.Attached {
		t.Fatalf("Open(%s, receiver %s): Attached = false", id, receiver)
	}
	return res
}

// h is the node the suite's receivers run on unless a test says otherwise;
// Run's stores take its lease, for long, on every route they see.
const h = "storetest-node"

// renew takes or renews node's lease on route.
func renew(t *testing.T, s store.Store, route, node string, lease time.Duration, fresh bool) store.NodeLease {
	t.Helper()
	nl, err := s.RenewNode(bg, route, node, store.NodeRequest{Lease: lease, Fresh: fresh})
	if err != nil {
		t.Fatalf("RenewNode(%s, %s): %v", route, node, err)
	}
	return nl
}

// createAttachedOn creates a session held by receiver on node, whose
// lease it takes for long.
func createAttachedOn(t *testing.T, s store.Store, route, id, receiver, node string) {
	t.Helper()
	renew(t, s, route, node, long, false)
	res, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: long, Receiver: receiver, Holder: node})
	if err != nil || !res.Created || !res.Attached {
		t.Fatalf("Open(create %s, receiver %s on %s) = Created %v Attached %v, %v", id, receiver, node, res.Created, res.Attached, err)
	}
}

// withNode is a store whose routes get node h's lease, for long, before
// anything else touches them, so that tests need not take it themselves.
type withNode struct {
	store.Store
	mu     sync.Mutex
	routes map[string]bool
}

func (w *withNode) lease(ctx context.Context, route string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.routes[route] {
		return nil
	}
	if _, err := w.Store.RenewNode(ctx, route, h, store.NodeRequest{Lease: time.Hour}); err != nil {
		return err
	}
	w.routes[route] = true
	return nil
}

func (w *withNode) Open(ctx context.Context, route, id string, req store.OpenRequest) (store.OpenResult, error) {
	if req.Holder == h {
		if err := w.lease(ctx, route); err != nil {
			return store.OpenResult{}, err
		}
	}
	return w.Store.Open(ctx, route, id, req)
}

// createAttached creates a session and takes its hold on node h.
func createAttached(t *testing.T, s store.Store, route, id, receiver string) {
	t.Helper()
	res, err := s.Open(bg, route, id, store.OpenRequest{Create: true, Idle: long, Receiver: receiver, Holder: h})
	if err != nil {
		t.Fatalf("Open(create %s, receiver %s): %v", id, receiver, err)
	}
	if !res.Created || !res.Attached {
		t.Fatalf("Open(create %s, receiver %s): Created %v Attached %v, want both", id, receiver, res.Created, res.Attached)
	}
}

func push(t *testing.T, s store.Store, route, id string, msgs ...string) store.PushResult {
	t.Helper()
	res, err := s.Push(bg, route, id, msgs)
	if err != nil {
		t.Fatalf("Push(%s, %q): %v", id, msgs, err)
	}
	return res
}

func publish(t *testing.T, s store.Store, route, msg string) uint64 {
	t.Helper()
	seq, err := s.Publish(bg, route, msg)
	if err != nil {
		t.Fatalf("Publish(%q): %v", msg, err)
	}
	return seq
}

func pull(t *testing.T, s store.Store, route, id string, req store.PullRequest) store.PullResult {
	t.Helper()
	if req.Idle == 0 {
		req.Idle = long
	}
	res, err := s.Pull(bg, route, id, req)
	if err != nil {
		t.Fatalf("Pull(%s, receiver %s): %v", id, req.Receiver, err)
	}
	return res
}

// pullExpect pulls everything and checks the messages.
func pullExpect(t *testing.T, s store.Store, route, id, receiver string, want ...string) store.PullResult {
	t.Helper()
	res := pull(t, s, route, id, store.PullRequest{Receiver: receiver})
	if !equalMsgs(res.Messages, want) {
		t.Fatalf("Pull(%s) = %q, want %q", id, res.Messages, want)
	}
	return res
}

func get(t *testing.T, s store.Store, route, id string) store.Session {
	t.Helper()
	sess, err := s.Get(bg, route, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return sess
}

func equalMsgs(got, want []string) bool {
	return len(got) == len(want) && (len(got) == 0 || slices.Equal(got, want))
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// eventually polls cond until it holds, failing the test after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: did not happen within %v", what, waitFor)
		}
		time.Sleep(pollEvery)
	}
}

// failUnlessStarved fails the test, unless window has passed since start:
// the test itself was then descheduled (a loaded machine) long enough for a
// lease or idle period to run out legitimately, so the outcome says nothing
// about the store, and the test is skipped instead.
func failUnlessStarved(t *testing.T, start time.Time, window time.Duration, format string, args ...any) {
	t.Helper()
	if gap := time.Since(start); gap >= window-slack {
		t.Skipf("test starved for %v (window %v), outcome inconclusive: %s", gap, window, fmt.Sprintf(format, args...))
	}
	t.Fatalf(format, args...)
}

// reapUntil polls Reap until every id in want was returned, and fails if an
// id is returned twice or an id not in want is returned.
func reapUntil(t *testing.T, s store.Store, route string, want ...string) map[string]store.Session {
	t.Helper()
	got := make(map[string]store.Session)
	eventually(t, fmt.Sprintf("Reap returning %q", want), func() bool {
		batch, err := s.Reap(bg, route, 100)
		if err != nil {
			t.Fatalf("Reap: %v", err)
		}
		for _, sess := range batch {
			if !slices.Contains(want, sess.ID) {
				t.Fatalf("Reap returned %s, which should not have expired", sess.ID)
			}
			if _, dup := got[sess.ID]; dup {
				t.Fatalf("Reap returned %s twice", sess.ID)
			}
			got[sess.ID] = sess
		}
		return len(got) == len(want)
	})
	return got
}

// reapNone checks that Reap returns nothing now.
func reapNone(t *testing.T, s store.Store, route string) {
	t.Helper()
	got, err := s.Reap(bg, route, 100)
	if err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if len(got) > 0 {
		ids := make([]string, len(got))
		for i, sess := range got {
			ids[i] = sess.ID
		}
		t.Fatalf("Reap returned %q, want nothing expired", ids)
	}
}

func sortedIDs(t *testing.T, s store.Store, route string) []string {
	t.Helper()
	ids, err := s.IDs(bg, route)
	if err != nil {
		t.Fatalf("IDs: %v", err)
	}
	ids = slices.Clone(ids)
	sort.Strings(ids)
	return ids
}

func count(t *testing.T, s store.Store, route string) int {
	t.Helper()
	n, err := s.Count(bg, route)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

// parallel runs fn(i) for i in [0, n) concurrently and waits for all.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

var createTests = []test{
	{"Snapshot", func(t *testing.T, s store.Store) {
		n := newNames(t)
		before := time.Now()
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Meta: []byte("meta")})
		after := time.Now()
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !res.Created || res.Attached || len(res.Messages) != 0 {
			t.Fatalf("Open = Created %v Attached %v Messages %q, want true false none", res.Created, res.Attached, res.Messages)
		}
		for _, sess := range []store.Session{res.Session, get(t, s, n.route, n.id("a"))} {
			if sess.Route != n.route || sess.ID != n.id("a") || sess.State != store.StateOpen ||
				sess.Receiver != "" || sess.Node != "" || string(sess.Meta) != "meta" ||
				sess.CloseCode != 0 || sess.CloseReason != "" || len(sess.Values) != 0 {
				t.Fatalf("session = %+v", sess)
			}
			if sess.Created.Before(before.Add(-time.Second)) || sess.Created.After(after.Add(time.Second)) {
				t.Fatalf("Created = %v, want between %v and %v", sess.Created, before, after)
			}
		}
	}},
	{"ExistingNotCreatedAgain", func(t *testing.T, s store.Store) {
		n := newNames(t)
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Meta: []byte("first")}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Meta: []byte("second")})
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		if res.Created || string(res.Session.Meta) != "first" {
			t.Fatalf("second Open = Created %v Meta %q, want false %q", res.Created, res.Session.Meta, "first")
		}
	}},
	{"AtomicUnderConcurrency", func(t *testing.T, s store.Store) {
		n := newNames(t)
		var created, failed atomic.Int32
		parallel(50, func(int) {
			res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long})
			if err != nil {
				failed.Add(1)
				return
			}
			if res.Created {
				created.Add(1)
			}
		})
		if failed.Load() != 0 || created.Load() != 1 {
			t.Fatalf("50 concurrent Opens: %d failed, %d Created, want 0 and 1", failed.Load(), created.Load())
		}
	}},
	{"AbsentWithoutCreateIsNotFound", func(t *testing.T, s store.Store) {
		n := newNames(t)
		for _, req := range []store.OpenRequest{
			{},
			{Receiver: "r1", Holder: h, Idle: long, Pull: true},
		} {
			_, err := s.Open(bg, n.route, n.id("a"), req)
			wantErr(t, "Open(absent)", err, store.ErrNotFound)
		}
		_, err := s.Get(bg, n.route, n.id("a"))
		wantErr(t, "Get after Open(absent)", err, store.ErrNotFound)
	}},
	{"IdleRequired", func(t *testing.T, s store.Store) {
		n := newNames(t)
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true}); err == nil {
			t.Fatal("Open(Create, Idle 0): no error")
		}
		_, err := s.Get(bg, n.route, n.id("a"))
		wantErr(t, "Get after failed creation", err, store.ErrNotFound)
	}},
	{"WithReceiver", func(t *testing.T, s store.Store) {
		n := newNames(t)
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Receiver: "r1", Holder: h})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !res.Created || !res.Attached || res.Session.Receiver != "r1" {
			t.Fatalf("Open = Created %v Attached %v Receiver %q, want true true r1", res.Created, res.Attached, res.Session.Receiver)
		}
		if got := get(t, s, n.route, n.id("a")).Receiver; got != "r1" {
			t.Fatalf("Get.Receiver = %q, want r1", got)
		}
	}},
	{"MetaNotAliased", func(t *testing.T, s store.Store) {
		n := newNames(t)
		meta := []byte("meta")
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Meta: meta})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		meta[0] = 'X'
		res.Session.Meta[1] = 'X'
		got := get(t, s, n.route, n.id("a"))
		if string(got.Meta) != "meta" {
			t.Fatalf("Meta = %q after callers changed their copies, want %q", got.Meta, "meta")
		}
		got.Meta[2] = 'X'
		if got := get(t, s, n.route, n.id("a")); string(got.Meta) != "meta" {
			t.Fatalf("Meta = %q after a caller changed Get's copy, want %q", got.Meta, "meta")
		}
	}},
	{"MetaAnySize", func(t *testing.T, s store.Store) {
		// Meta of any length and any bytes comes back as it was stored,
		// from Open, Get, CloseSession and Reap (a backend may store it in
		// pieces).
		n := newNames(t)
		for _, size := range []int{1, 63, 64, 65, 127, 128, 129, 300, 2048} {
			meta := make([]byte, size)
			for i := range meta {
				meta[i] = byte(i*7 + size)
			}
			id := n.id(fmt.Sprint("m", size))
			res, err := s.Open(bg, n.route, id, store.OpenRequest{Create: true, Idle: 50 * time.Millisecond, Meta: meta})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !slices.Equal(res.Session.Meta, meta) {
				t.Fatalf("Open: Meta of %d bytes = %q, want %q", size, res.Session.Meta, meta)
			}
			if got := get(t, s, n.route, id).Meta; !slices.Equal(got, meta) {
				t.Fatalf("Get: Meta of %d bytes = %q, want %q", size, got, meta)
			}
			if size%2 == 1 {
				sess, _, err := s.CloseSession(bg, n.route, id, 3000, "bye", 50*time.Millisecond)
				if err != nil || !slices.Equal(sess.Meta, meta) {
					t.Fatalf("CloseSession: Meta of %d bytes = %q, %v; want %q", size, sess.Meta, err, meta)
				}
			}
		}
		var ids []string
		for _, size := range []int{1, 63, 64, 65, 127, 128, 129, 300, 2048} {
			ids = append(ids, n.id(fmt.Sprint("m", size)))
		}
		for id, sess := range reapUntil(t, s, n.route, ids...) {
			size := 0
			fmt.Sscan(strings.TrimPrefix(id, n.id("m")), &size)
			if len(sess.Meta) != size {
				t.Fatalf("Reap: %s has Meta of %d bytes, want %d", id, len(sess.Meta), size)
			}
		}
	}},
	{"RoutesSeparate", func(t *testing.T, s store.Store) {
		n := newNames(t)
		other := n.route + ":other"
		createAttached(t, s, n.route, n.id("a"), "r1")
		_, err := s.Open(bg, other, n.id("a"), store.OpenRequest{})
		wantErr(t, "Open(same id, other route)", err, store.ErrNotFound)
		createAttached(t, s, other, n.id("a"), "r2")
		push(t, s, n.route, n.id("a"), "here")
		pullExpect(t, s, other, n.id("a"), "r2")
		pullExpect(t, s, n.route, n.id("a"), "r1", "here")
	}},
}

var ownerTests = []test{
	{"BoundSessionLooksAbsentToOthers", func(t *testing.T, s store.Store) {
		n := newNames(t)
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Owner: "alice", Receiver: "r1", Holder: h})
		if err != nil || !res.Created || res.Session.Owner != "alice" {
			t.Fatalf("Open(create, owner alice) = %+v, %v", res, err)
		}
		if err := s.Release(bg, n.route, n.id("a"), "r1", long); err != nil {
			t.Fatalf("Release: %v", err)
		}
		push(t, s, n.route, n.id("a"), "secret")
		for _, req := range []store.OpenRequest{
			{Owner: "mallory", Receiver: "r2", Holder: h, Idle: long, Pull: true},
			{Create: true, Owner: "mallory", Receiver: "r2", Holder: h, Idle: long, Pull: true},
			{Receiver: "r2", Holder: h, Idle: long, Pull: true}, // no identity at all
		} {
			res, err := s.Open(bg, n.route, n.id("a"), req)
			wantErr(t, fmt.Sprintf("Open(owner %q)", req.Owner), err, store.ErrNotFound)
			if res.Created || res.Attached || len(res.Messages) != 0 {
				t.Fatalf("Open(owner %q) on alice's session = %+v", req.Owner, res)
			}
		}
		if got := get(t, s, n.route, n.id("a")); got.Owner != "alice" || got.Receiver != "" {
			t.Fatalf("after refused opens: %+v", got)
		}
		res, err = s.Open(bg, n.route, n.id("a"), store.OpenRequest{Owner: "alice", Receiver: "r3", Holder: h, Idle: long, Pull: true})
		if err != nil || !res.Attached || !equalMsgs(res.Messages, []string{"secret"}) {
			t.Fatalf("Open(owner alice) = %+v, %v; want attached with the pending message", res, err)
		}
	}},
	{"UnboundSessionRefusesAnIdentity", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		_, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Owner: "bob", Receiver: "r1", Holder: h, Idle: long})
		wantErr(t, "Open(owner bob) on an unbound session", err, store.ErrNotFound)
	}},
}

var leaseTests = []test{
	{"SecondReceiverBusy", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: h, Idle: long, Pull: true})
		wantErr(t, "Open(second receiver)", err, store.ErrReceiverBusy)
		if res.Attached || res.Session.ID != n.id("a") || res.Session.Route != n.route ||
			res.Session.Receiver != "r1" || res.Session.State != store.StateOpen {
			t.Fatalf("busy Open = Attached %v Session %+v, want not attached, session filled in with receiver r1", res.Attached, res.Session)
		}
	}},
	{"SameReceiverReopens", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		res := attach(t, s, n.route, n.id("a"), "r1")
		if res.Session.Receiver != "r1" {
			t.Fatalf("re-Open: Receiver = %q, want r1", res.Session.Receiver)
		}
		push(t, s, n.route, n.id("a"), "m")
		pullExpect(t, s, n.route, n.id("a"), "r1", "m")
	}},
	{"LapsesWithoutRenewal", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const lease = 200 * time.Millisecond
		create(t, s, n.route, n.id("a"))
		start := time.Now()
		renew(t, s, n.route, "n2", lease, false)
		if res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: "n2", Idle: long}); err != nil || !res.Attached {
			t.Fatalf("Open(r1) = Attached %v, %v", res.Attached, err)
		}
		eventually(t, "r2 taking the lapsed hold", func() bool {
			res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: h, Idle: long})
			if err != nil && !errors.Is(err, store.ErrReceiverBusy) {
				t.Fatalf("Open(r2): %v", err)
			}
			return res.Attached
		})
		if elapsed := time.Since(start); elapsed < lease-slack {
			t.Fatalf("r2 took the hold after %v, before r1's node lease of %v lapsed", elapsed, lease)
		}
		_, err := s.Pull(bg, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Idle: long})
		wantErr(t, "Pull by the receiver whose hold was taken over", err, store.ErrNotReceiver)
		if got := get(t, s, n.route, n.id("a")); got.Receiver != "r2" || got.Holder != h {
			t.Fatalf("Receiver, Holder = %q, %q, want r2, %s", got.Receiver, got.Holder, h)
		}
	}},
	{"BoundedHoldEndsByItself", func(t *testing.T, s store.Store) {
		// A bounded hold (HoldFor) is busy for others until it ends, then
		// taken by another receiver with no Release; its receiver is fenced
		// out (Pull refused, Release a no-op).
		n := newNames(t)
		const holdFor = 200 * time.Millisecond
		create(t, s, n.route, n.id("a"))
		start := time.Now()
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: h, Idle: long, HoldFor: holdFor})
		if err != nil || !res.Attached {
			t.Fatalf("Open(r1, HoldFor) = Attached %v, %v", res.Attached, err)
		}
		if got := get(t, s, n.route, n.id("a")); got.Receiver != "r1" {
			t.Fatalf("Receiver = %q during the bounded hold, want r1", got.Receiver)
		}
		push(t, s, n.route, n.id("a"), "m1")
		eventually(t, "r2 taking the session once r1's bounded hold ended", func() bool {
			res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: h, Idle: long})
			if err != nil && !errors.Is(err, store.ErrReceiverBusy) {
				t.Fatalf("Open(r2): %v", err)
			}
			return res.Attached
		})
		if elapsed := time.Since(start); elapsed < holdFor-slack {
			t.Fatalf("r2 took the hold after %v, before r1's hold of %v ended", elapsed, holdFor)
		}
		_, err = s.Pull(bg, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Idle: long})
		wantErr(t, "Pull by the receiver whose bounded hold ended", err, store.ErrNotReceiver)
		if err := s.Release(bg, n.route, n.id("a"), "r1", time.Millisecond); err != nil {
			t.Fatalf("Release by r1: %v", err)
		}
		pullExpect(t, s, n.route, n.id("a"), "r2", "m1")
		if got := get(t, s, n.route, n.id("a")); got.Receiver != "r2" {
			t.Fatalf("Receiver = %q after r1's Release, want r2 (r1's Release must do nothing)", got.Receiver)
		}
	}},
	{"BoundedHoldThenIdle", func(t *testing.T, s store.Store) {
		// A session whose bounded hold ends without a Release expires Idle
		// after the hold's end, not before; one released earlier, Idle
		// after the Release.
		n := newNames(t)
		const holdFor, idle = 150 * time.Millisecond, 150 * time.Millisecond
		for _, id := range []string{n.id("ends"), n.id("released")} {
			if _, err := s.Open(bg, n.route, id, store.OpenRequest{Create: true, Idle: idle, Receiver: "r-" + id, Holder: h, HoldFor: holdFor}); err != nil {
				t.Fatalf("Open(create %s, HoldFor): %v", id, err)
			}
		}
		start := time.Now()
		if err := s.Release(bg, n.route, n.id("released"), "r-"+n.id("released"), 0); err != nil {
			t.Fatalf("Release: %v", err)
		}
		reapUntil(t, s, n.route, n.id("released"))
		if elapsed := time.Since(start); elapsed >= holdFor+idle {
			t.Fatalf("the released session was reaped after %v, want about its idle of %v", elapsed, idle)
		}
		got := reapUntil(t, s, n.route, n.id("ends"))[n.id("ends")]
		if elapsed := time.Since(start); elapsed < holdFor+idle-slack {
			t.Fatalf("reaped after %v, before its bounded hold (%v) and idle (%v) had run out", elapsed, holdFor, idle)
		}
		if got.Receiver != "" {
			t.Fatalf("reaped session's Receiver = %q, want none (its hold had ended)", got.Receiver)
		}
	}},
	{"BoundedHoldTakenAgainUnbounded", func(t *testing.T, s store.Store) {
		// The same receiver taking its session again without HoldFor holds
		// it until released: it neither ends nor expires on its own.
		n := newNames(t)
		const holdFor, idle = 100 * time.Millisecond, 100 * time.Millisecond
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: idle, Receiver: "r1", Holder: h, HoldFor: holdFor}); err != nil {
			t.Fatalf("Open(create, HoldFor): %v", err)
		}
		if res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: h}); err != nil || !res.Attached {
			t.Fatalf("Open(r1 again, unbounded) = Attached %v, %v", res.Attached, err)
		}
		time.Sleep(holdFor + idle + 2*slack)
		reapNone(t, s, n.route)
		_, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: h})
		wantErr(t, "Open(r2) while r1 holds it unbounded", err, store.ErrReceiverBusy)
		pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1"})
	}},
	{"LapsedHolderCannotPull", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		renew(t, s, n.route, "n2", 100*time.Millisecond, false)
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: "n2", Idle: long}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
		if got := get(t, s, n.route, n.id("a")).Receiver; got != "" {
			t.Fatalf("Receiver = %q after the node lease lapsed, want none", got)
		}
		_, err := s.Pull(bg, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Idle: long})
		wantErr(t, "Pull with a lapsed node lease", err, store.ErrNotReceiver)
	}},
	{"NodeRenewalKeepsHolds", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const lease = 600 * time.Millisecond
		create(t, s, n.route, n.id("a"))
		last := time.Now() // before the latest renewal
		first := renew(t, s, n.route, "n2", lease, false)
		if first.Renewed || first.Epoch == 0 {
			t.Fatalf("first RenewNode = %+v, want a new epoch", first)
		}
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: "n2", Idle: long}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		for i, end := 0, time.Now().Add(5*lease/2); time.Now().Before(end); i++ {
			time.Sleep(50 * time.Millisecond)
			before := time.Now()
			nl, err := s.RenewNode(bg, n.route, "n2", store.NodeRequest{Lease: lease})
			if err != nil || !nl.Renewed || nl.Epoch != first.Epoch {
				failUnlessStarved(t, last, lease, "renewal %d = %+v, %v; want epoch %d kept", i, nl, err, first.Epoch)
			}
			last = before
			_, err = s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: h, Idle: long})
			if !errors.Is(err, store.ErrReceiverBusy) {
				failUnlessStarved(t, last, lease, "Open(r2) while n2 renews: error %v, want %v", err, store.ErrReceiverBusy)
			}
		}
		// Holding costs no write per session: the hold lives on the lease.
		pullExpect(t, s, n.route, n.id("a"), "r1")
	}},
	{"FencedAfterLapse", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const lease = 100 * time.Millisecond
		create(t, s, n.route, n.id("a"))
		old := renew(t, s, n.route, "n2", lease, false)
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: "n2", Idle: long}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		push(t, s, n.route, n.id("a"), "m1")
		time.Sleep(3 * lease)
		// The node comes back (it was paused, say): a new epoch, and the
		// old epoch's holds stay dead although the node's lease is live.
		cur := renew(t, s, n.route, "n2", long, false)
		if cur.Renewed || cur.Epoch <= old.Epoch {
			t.Fatalf("RenewNode after the lapse = %+v, want a new epoch above %d", cur, old.Epoch)
		}
		_, err := s.Pull(bg, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Idle: long, Ack: 99})
		wantErr(t, "Pull by a hold of the lapsed epoch", err, store.ErrNotReceiver)
		if err := s.Release(bg, n.route, n.id("a"), "r1", long); err != nil {
			t.Fatalf("Release by a dead hold: %v", err)
		}
		if got := get(t, s, n.route, n.id("a")).Receiver; got != "" {
			t.Fatalf("Receiver = %q, want none", got)
		}
		// Nothing the dead hold did moved the cursor: m1 is still there,
		// and another receiver takes the session over in one call.
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: "n2", Idle: long, Pull: true})
		if err != nil || !res.Attached || !equalMsgs(res.Messages, []string{"m1"}) {
			t.Fatalf("Open(r2) = Attached %v Messages %q, %v; want attached with [m1]", res.Attached, res.Messages, err)
		}
	}},
	{"FreshEpochEndsHolds", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttachedOn(t, s, n.route, n.id("a"), "r1", "n2")
		old := renew(t, s, n.route, "n2", long, false)
		cur := renew(t, s, n.route, "n2", long, true)
		if cur.Renewed || cur.Epoch <= old.Epoch {
			t.Fatalf("fresh RenewNode = %+v, want a new epoch above %d", cur, old.Epoch)
		}
		_, err := s.Pull(bg, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Idle: long})
		wantErr(t, "Pull by a hold of the node's previous process", err, store.ErrNotReceiver)
		attach(t, s, n.route, n.id("a"), "r2")
	}},
	{"SameReceiverTakesItsHoldAgain", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttachedOn(t, s, n.route, n.id("a"), "r1", "n2")
		renew(t, s, n.route, "n2", long, true)
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: "n2", Idle: long})
		if err != nil || !res.Attached {
			t.Fatalf("Open(r1) in the new epoch = Attached %v, %v", res.Attached, err)
		}
		pullExpect(t, s, n.route, n.id("a"), "r1")
	}},
	{"OpenNeedsNodeLease", func(t *testing.T, s store.Store) {
		n := newNames(t)
		_, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Receiver: "r1", Holder: "nobody"})
		wantErr(t, "Open by a node without a lease", err, store.ErrNodeLease)
		_, err = s.Get(bg, n.route, n.id("a"))
		wantErr(t, "Get after the refused Open", err, store.ErrNotFound)
		renew(t, s, n.route, "n2", 50*time.Millisecond, false)
		time.Sleep(150 * time.Millisecond)
		create(t, s, n.route, n.id("b"))
		_, err = s.Open(bg, n.route, n.id("b"), store.OpenRequest{Receiver: "r1", Holder: "n2", Idle: long})
		wantErr(t, "Open by a node whose lease lapsed", err, store.ErrNodeLease)
	}},
	{"PullByNonHolder", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("free"))
		push(t, s, n.route, n.id("free"), "m")
		_, err := s.Pull(bg, n.route, n.id("free"), store.PullRequest{Receiver: "r1", Idle: long})
		wantErr(t, "Pull without any lease", err, store.ErrNotReceiver)

		createAttached(t, s, n.route, n.id("held"), "r1")
		push(t, s, n.route, n.id("held"), "m")
		_, err = s.Pull(bg, n.route, n.id("held"), store.PullRequest{Receiver: "r2", Idle: long})
		wantErr(t, "Pull by a non-holder", err, store.ErrNotReceiver)
		pullExpect(t, s, n.route, n.id("held"), "r1", "m")

		_, err = s.Pull(bg, n.route, n.id("absent"), store.PullRequest{Receiver: "r1", Idle: long})
		wantErr(t, "Pull(absent)", err, store.ErrNotFound)
	}},
	{"ReleaseByNonHolderIsNoop", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		if err := s.Release(bg, n.route, n.id("a"), "r2", long); err != nil {
			t.Fatalf("Release by a non-holder: %v", err)
		}
		if got := get(t, s, n.route, n.id("a")).Receiver; got != "r1" {
			t.Fatalf("Receiver = %q after a non-holder's Release, want r1", got)
		}
		_, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: h, Idle: long})
		wantErr(t, "Open(r2)", err, store.ErrReceiverBusy)
		pullExpect(t, s, n.route, n.id("a"), "r1")
		if err := s.Release(bg, n.route, n.id("absent"), "r1", long); err != nil {
			t.Fatalf("Release(absent): %v, want nil", err)
		}
	}},
	{"Release", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		if err := s.Release(bg, n.route, n.id("a"), "r1", long); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if got := get(t, s, n.route, n.id("a")).Receiver; got != "" {
			t.Fatalf("Receiver = %q after Release, want none", got)
		}
		_, err := s.Pull(bg, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Idle: long})
		wantErr(t, "Pull after Release", err, store.ErrNotReceiver)
		attach(t, s, n.route, n.id("a"), "r2")
	}},
}

var pushTests = []test{
	{"PulledOnceInOrder", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		push(t, s, n.route, n.id("a"), "a", "b")
		push(t, s, n.route, n.id("a"), "c")
		res := pullExpect(t, s, n.route, n.id("a"), "r1", "a", "b", "c")
		if res.State != store.StateOpen || res.Released {
			t.Fatalf("Pull = State %v Released %v, want open, not released", res.State, res.Released)
		}
		pullExpect(t, s, n.route, n.id("a"), "r1")
	}},
	{"QueuedWithoutReceiver", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		push(t, s, n.route, n.id("a"), "a")
		attach(t, s, n.route, n.id("a"), "r1")
		push(t, s, n.route, n.id("a"), "b")
		pullExpect(t, s, n.route, n.id("a"), "r1", "a", "b")
	}},
	{"ResultNamesReceiver", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		if res := push(t, s, n.route, n.id("a"), "1"); res.Receiver != "" || res.Node != "" {
			t.Fatalf("Push without receiver = %+v, want no receiver, no node", res)
		}
		attach(t, s, n.route, n.id("a"), "r1")
		if res := push(t, s, n.route, n.id("a"), "2"); res.Receiver != "r1" || res.Node != "" {
			t.Fatalf("Push with receiver = %+v, want Receiver r1", res)
		}
		if err := s.Release(bg, n.route, n.id("a"), "r1", long); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if res := push(t, s, n.route, n.id("a"), "3"); res.Receiver != "" || res.Node != "" {
			t.Fatalf("Push after Release = %+v, want no receiver, no node", res)
		}
	}},
	{"SequenceNumbers", func(t *testing.T, s store.Store) {
		// First and Prev let a receiver tell whether a push follows what it
		// has delivered with nothing in between.
		n := newNames(t)
		create(t, s, n.route, n.id("other"))
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Receiver: "r1", Holder: h, Pull: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		c := res.Cursor
		p1 := push(t, s, n.route, n.id("a"), "a", "b")
		if p1.Prev != c || p1.First <= c {
			t.Fatalf("first Push = %+v after cursor %d, want Prev %d, First after it", p1, c, c)
		}
		push(t, s, n.route, n.id("other"), "x") // another session's number
		p2 := push(t, s, n.route, n.id("a"), "c")
		if p2.Prev != p1.First+1 || p2.First <= p2.Prev+1 {
			t.Fatalf("second Push = %+v after %+v, want Prev %d and a gap for the other session", p2, p1, p1.First+1)
		}
		publish(t, s, n.route, "news")
		p3 := push(t, s, n.route, n.id("a"), "d")
		if p3.Prev <= p2.First || p3.First != p3.Prev+1 {
			t.Fatalf("Push after a broadcast = %+v, want Prev at the broadcast (after %d), First right after", p3, p2.First)
		}
		got := pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1"})
		if !equalMsgs(got.Messages, []string{"a", "b", "c", "news", "d"}) || got.Cursor != p3.First {
			t.Fatalf("Pull = %q cursor %d, want a b c news d, cursor %d", got.Messages, got.Cursor, p3.First)
		}
		p4 := push(t, s, n.route, n.id("a"), "e")
		if p4.Prev != got.Cursor {
			t.Fatalf("Push after a Pull = %+v, want Prev %d (the cursor)", p4, got.Cursor)
		}
	}},
	{"BroadcastSequenceNumbers", func(t *testing.T, s store.Store) {
		n := newNames(t)
		if seq := publish(t, s, n.route, "nobody"); seq != 0 {
			t.Fatalf("Publish to a route without sessions = %d, want 0", seq)
		}
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Receiver: "r1", Holder: h, Pull: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		b1 := publish(t, s, n.route, "b1")
		b2 := publish(t, s, n.route, "b2")
		if b1 != res.Cursor+1 || b2 != b1+1 {
			t.Fatalf("broadcasts numbered %d, %d after cursor %d, want the next two", b1, b2, res.Cursor)
		}
		// A receiver that delivered both from their sender acknowledges them.
		got := pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Ack: b2})
		if len(got.Messages) != 0 || got.Cursor != b2 {
			t.Fatalf("Pull(Ack b2) = %q cursor %d, want nothing, cursor %d", got.Messages, got.Cursor, b2)
		}
		// The close takes a number: no broadcast after it follows the
		// session's last message directly.
		p := push(t, s, n.route, n.id("a"), "last")
		if _, _, err := s.CloseSession(bg, n.route, n.id("a"), 3000, "bye", long); err != nil {
			t.Fatalf("Close: %v", err)
		}
		create(t, s, n.route, n.id("other")) // keeps the route's log going
		if b3 := publish(t, s, n.route, "after"); b3 <= p.First+1 {
			t.Fatalf("broadcast after the close numbered %d, the session's last message %d: want a gap", b3, p.First)
		}
		got = pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1"})
		if !equalMsgs(got.Messages, []string{"last"}) || got.State != store.StateClosed {
			t.Fatalf("Pull after close = %q %v, want last, closed", got.Messages, got.State)
		}
	}},
	{"Ack", func(t *testing.T, s store.Store) {
		n := newNames(t)
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Receiver: "r1", Holder: h, Pull: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		p1 := push(t, s, n.route, n.id("a"), "a", "b")
		p2 := push(t, s, n.route, n.id("a"), "c")
		if p1.Prev != res.Cursor || p2.Prev != p1.First+1 {
			t.Fatalf("pushes %+v %+v after cursor %d", p1, p2, res.Cursor)
		}
		// The receiver delivered a and b from the pushes themselves.
		got := pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Ack: p1.First + 1})
		if !equalMsgs(got.Messages, []string{"c"}) || got.Cursor != p2.First {
			t.Fatalf("Pull(Ack b) = %q cursor %d, want c, cursor %d", got.Messages, got.Cursor, p2.First)
		}
		// An old Ack changes nothing.
		push(t, s, n.route, n.id("a"), "d")
		pullExpect(t, s, n.route, n.id("a"), "r1", "d")
		push(t, s, n.route, n.id("a"), "e")
		got = pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Ack: p1.First})
		if !equalMsgs(got.Messages, []string{"e"}) {
			t.Fatalf("Pull(old Ack) = %q, want e", got.Messages)
		}
		// Acknowledging and releasing without taking: what was not
		// acknowledged stays for the next receiver.
		p5 := push(t, s, n.route, n.id("a"), "f")
		push(t, s, n.route, n.id("a"), "g")
		got = pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Ack: p5.First, Release: true, Max: -1})
		if len(got.Messages) != 0 || !got.Released || got.Cursor != p5.First {
			t.Fatalf("Pull(Ack f, Release, Max -1) = %+v, want nothing taken, released, cursor %d", got, p5.First)
		}
		if r := get(t, s, n.route, n.id("a")).Receiver; r != "" {
			t.Fatalf("Receiver = %q after the release", r)
		}
		res, err = s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: h, Pull: true})
		if err != nil || !equalMsgs(res.Messages, []string{"g"}) {
			t.Fatalf("next receiver's Open = %q, %v; want g", res.Messages, err)
		}
	}},
	{"ClosedAndAbsent", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		if _, _, err := s.CloseSession(bg, n.route, n.id("a"), 3000, "bye", long); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err := s.Push(bg, n.route, n.id("a"), []string{"m"})
		wantErr(t, "Push(closed)", err, store.ErrClosed)
		_, err = s.Push(bg, n.route, n.id("absent"), []string{"m"})
		wantErr(t, "Push(absent)", err, store.ErrNotFound)
	}},
	{"NodeBoundStoresNothing", func(t *testing.T, s store.Store) {
		n := newNames(t)
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Node: "node-1", Receiver: "r1", Holder: h})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if res.Session.Node != "node-1" || get(t, s, n.route, n.id("a")).Node != "node-1" {
			t.Fatalf("Node = %q, want node-1", res.Session.Node)
		}
		if got := push(t, s, n.route, n.id("a"), "m1", "m2"); got != (store.PushResult{Receiver: "r1", Node: "node-1"}) {
			t.Fatalf("Push = %+v, want Receiver r1 Node node-1", got)
		}
		pullExpect(t, s, n.route, n.id("a"), "r1")
		// Broadcasts reach node-bound sessions over the bus, not the store.
		if _, err := s.Publish(bg, n.route, "b"); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		pullExpect(t, s, n.route, n.id("a"), "r1")
		if _, _, err := s.CloseSession(bg, n.route, n.id("a"), 3000, "bye", long); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err = s.Push(bg, n.route, n.id("a"), []string{"m"})
		wantErr(t, "Push(closed node-bound)", err, store.ErrClosed)
	}},
}

var pullTests = []test{
	{"MaxLeavesRestInOrder", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		push(t, s, n.route, n.id("a"), "m0", "m1", "m2", "m3", "m4")
		for _, want := range [][]string{{"m0", "m1"}, {"m2", "m3"}, {"m4"}, nil} {
			res := pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Max: 2})
			if !equalMsgs(res.Messages, want) {
				t.Fatalf("Pull(Max 2) = %q, want %q", res.Messages, want)
			}
		}
	}},
	{"Release", func(t *testing.T, s store.Store) {
		n := newNames(t)
		for _, tc := range []struct {
			id   string
			msgs []string
		}{{n.id("data"), []string{"m"}}, {n.id("nodata"), nil}} {
			createAttached(t, s, n.route, tc.id, "r1")
			if tc.msgs != nil {
				push(t, s, n.route, tc.id, tc.msgs...)
			}
			res := pull(t, s, n.route, tc.id, store.PullRequest{Receiver: "r1", Release: true})
			if !equalMsgs(res.Messages, tc.msgs) || !res.Released {
				t.Fatalf("Pull(%s, Release) = %q Released %v, want %q true", tc.id, res.Messages, res.Released, tc.msgs)
			}
			if got := get(t, s, n.route, tc.id).Receiver; got != "" {
				t.Fatalf("Receiver = %q after Pull(Release), want none", got)
			}
			attach(t, s, n.route, tc.id, "r2")
		}
	}},
	{"ReleaseIfData", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		res := pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1", ReleaseIfData: true})
		if len(res.Messages) != 0 || res.Released {
			t.Fatalf("Pull(ReleaseIfData, no data) = %q Released %v, want none false", res.Messages, res.Released)
		}
		if got := get(t, s, n.route, n.id("a")).Receiver; got != "r1" {
			t.Fatalf("Receiver = %q, want r1 kept", got)
		}
		push(t, s, n.route, n.id("a"), "m")
		res = pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1", ReleaseIfData: true})
		if !equalMsgs(res.Messages, []string{"m"}) || !res.Released {
			t.Fatalf("Pull(ReleaseIfData, data) = %q Released %v, want [m] true", res.Messages, res.Released)
		}
		attach(t, s, n.route, n.id("a"), "r2")
	}},
}

var openTests = []test{
	{"PullReleaseIfDataReleasesAtomically", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		push(t, s, n.route, n.id("a"), "m1", "m2")
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: h, Idle: long, Pull: true, ReleaseIfData: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		// Attached: the lease was granted and the messages taken under it;
		// Session shows it released in the same step.
		if !res.Attached || !equalMsgs(res.Messages, []string{"m1", "m2"}) || res.Session.Receiver != "" {
			t.Fatalf("Open(Pull, ReleaseIfData) = Attached %v Messages %q Receiver %q, want true [m1 m2] none",
				res.Attached, res.Messages, res.Session.Receiver)
		}
		attach(t, s, n.route, n.id("a"), "r2")
		pullExpect(t, s, n.route, n.id("a"), "r2")
	}},
	{"PullReleaseIfDataKeepsLeaseWithoutData", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: h, Idle: long, Pull: true, ReleaseIfData: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !res.Attached || len(res.Messages) != 0 || res.Session.Receiver != "r1" {
			t.Fatalf("Open = Attached %v Messages %q Receiver %q, want true none r1", res.Attached, res.Messages, res.Session.Receiver)
		}
		_, err = s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r2", Holder: h, Idle: long})
		wantErr(t, "Open(r2)", err, store.ErrReceiverBusy)
	}},
	{"PullKeepsLease", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		push(t, s, n.route, n.id("a"), "m")
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: h, Idle: long, Pull: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !res.Attached || !equalMsgs(res.Messages, []string{"m"}) || res.Session.Receiver != "r1" {
			t.Fatalf("Open(Pull) = Attached %v Messages %q Receiver %q, want true [m] r1", res.Attached, res.Messages, res.Session.Receiver)
		}
		pullExpect(t, s, n.route, n.id("a"), "r1")
	}},
	{"PullWithoutReceiverTakesNothing", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		push(t, s, n.route, n.id("a"), "m")
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Pull: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if res.Attached || len(res.Messages) != 0 {
			t.Fatalf("Open(Pull, no receiver) = Attached %v Messages %q, want false none", res.Attached, res.Messages)
		}
		attach(t, s, n.route, n.id("a"), "r1")
		pullExpect(t, s, n.route, n.id("a"), "r1", "m")
	}},
}

var publishTests = []test{
	{"OnlyAfterCreation", func(t *testing.T, s store.Store) {
		n := newNames(t)
		publish(t, s, n.route, "before-all")
		createAttached(t, s, n.route, n.id("old"), "r1")
		publish(t, s, n.route, "x")
		createAttached(t, s, n.route, n.id("new"), "r2")
		publish(t, s, n.route, "y")
		pullExpect(t, s, n.route, n.id("old"), "r1", "x", "y")
		pullExpect(t, s, n.route, n.id("new"), "r2", "y")
	}},
	{"InterleavedWithPush", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		push(t, s, n.route, n.id("a"), "a")
		publish(t, s, n.route, "b")
		push(t, s, n.route, n.id("a"), "c")
		pullExpect(t, s, n.route, n.id("a"), "r1", "a", "b", "c")

		publish(t, s, n.route, "d")
		push(t, s, n.route, n.id("a"), "e")
		publish(t, s, n.route, "f")
		push(t, s, n.route, n.id("a"), "g", "h")
		publish(t, s, n.route, "i")
		for _, want := range []string{"d", "e", "f", "g", "h", "i", ""} {
			res := pull(t, s, n.route, n.id("a"), store.PullRequest{Receiver: "r1", Max: 1})
			if want == "" && len(res.Messages) == 0 {
				break
			}
			if !equalMsgs(res.Messages, []string{want}) {
				t.Fatalf("Pull(Max 1) = %q, want [%s]", res.Messages, want)
			}
		}
	}},
	{"ManySessions", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const sessions = 20
		for i := range sessions {
			createAttached(t, s, n.route, n.id(fmt.Sprint(i)), "r")
		}
		publish(t, s, n.route, "p1")
		publish(t, s, n.route, "p2")
		for i := range sessions {
			pullExpect(t, s, n.route, n.id(fmt.Sprint(i)), "r", "p1", "p2")
			pullExpect(t, s, n.route, n.id(fmt.Sprint(i)), "r")
		}
	}},
	{"NotAfterClose", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("closing"), "r1")
		createAttached(t, s, n.route, n.id("staying"), "r2")
		push(t, s, n.route, n.id("closing"), "u1")
		publish(t, s, n.route, "b1")
		if _, closed, err := s.CloseSession(bg, n.route, n.id("closing"), 3000, "Go away!", long); err != nil || !closed {
			t.Fatalf("Close = %v, %v", closed, err)
		}
		publish(t, s, n.route, "b2")
		for range 2 {
			res := pull(t, s, n.route, n.id("closing"), store.PullRequest{Receiver: "r1", Max: 1})
			if len(res.Messages) != 1 || res.State != store.StateClosed || res.CloseCode != 3000 || res.CloseReason != "Go away!" {
				t.Fatalf("Pull(Max 1) after Close = %q State %v %d %q, want one message, closed 3000 %q",
					res.Messages, res.State, res.CloseCode, res.CloseReason, "Go away!")
			}
		}
		res := pullExpect(t, s, n.route, n.id("closing"), "r1")
		if res.State != store.StateClosed || res.CloseCode != 3000 {
			t.Fatalf("Pull after draining = State %v code %d, want closed 3000", res.State, res.CloseCode)
		}
		pullExpect(t, s, n.route, n.id("staying"), "r2", "b1", "b2")
	}},
	{"PendingBeforeCloseDelivered", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		push(t, s, n.route, n.id("a"), "u1")
		publish(t, s, n.route, "b1")
		push(t, s, n.route, n.id("a"), "u2")
		if _, _, err := s.CloseSession(bg, n.route, n.id("a"), 3000, "bye", long); err != nil {
			t.Fatalf("Close: %v", err)
		}
		publish(t, s, n.route, "b2")
		res := pullExpect(t, s, n.route, n.id("a"), "r1", "u1", "b1", "u2")
		if res.State != store.StateClosed || res.CloseCode != 3000 || res.CloseReason != "bye" {
			t.Fatalf("Pull = State %v %d %q, want closed 3000 bye", res.State, res.CloseCode, res.CloseReason)
		}
	}},
	{"OtherRouteNotSeen", func(t *testing.T, s store.Store) {
		n := newNames(t)
		other := n.route + ":other"
		createAttached(t, s, n.route, n.id("a"), "r1")
		createAttached(t, s, other, n.id("b"), "r2")
		publish(t, s, other, "there")
		publish(t, s, n.route, "here")
		pullExpect(t, s, n.route, n.id("a"), "r1", "here")
		pullExpect(t, s, other, n.id("b"), "r2", "there")
	}},
	{"ConcurrentExactlyOnceInOrder", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const (
			pushers   = 4
			perPusher = 40
			published = 40
		)
		ids := []string{n.id("a"), n.id("b")}
		for _, id := range ids {
			createAttached(t, s, n.route, id, "r")
		}
		var done atomic.Bool
		got := make([][]string, len(ids))
		errs := make(chan error, pushers+len(ids)+1)
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() { // receiver: pulls small batches until producers are done, then drains
				defer wg.Done()
				for {
					last := done.Load()
					res, err := s.Pull(bg, n.route, id, store.PullRequest{Receiver: "r", Idle: long, Max: 1 + len(got[i])%3})
					if err != nil {
						errs <- err
						return
					}
					got[i] = append(got[i], res.Messages...)
					if len(res.Messages) == 0 {
						if last {
							return
						}
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
		parallel(pushers+1, func(p int) {
			if p == pushers {
				for j := range published {
					if _, err := s.Publish(bg, n.route, fmt.Sprintf("b-%d", j)); err != nil {
						errs <- err
						return
					}
				}
				return
			}
			for j := range perPusher {
				if _, err := s.Push(bg, n.route, ids[p%len(ids)], []string{fmt.Sprintf("u%d-%d", p, j)}); err != nil {
					errs <- err
					return
				}
			}
		})
		done.Store(true)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent use: %v", err)
		}
		for i, msgs := range got {
			next := make(map[string]int) // producer -> next expected index
			for _, m := range msgs {
				producer, idx, _ := strings.Cut(m, "-")
				var k int
				fmt.Sscan(idx, &k)
				if k != next[producer] {
					t.Fatalf("session %s: got %s, want %s-%d (each message once, each producer's in order); all: %q", ids[i], m, producer, next[producer], msgs)
				}
				next[producer]++
			}
			want := map[string]int{"b": published}
			for p := i; p < pushers; p += len(ids) {
				want[fmt.Sprintf("u%d", p)] = perPusher
			}
			if !maps.Equal(next, want) {
				t.Fatalf("session %s: received per producer %v, want %v", ids[i], next, want)
			}
		}
	}},
}

var closeTests = []test{
	{"Transition", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		sess, closed, err := s.CloseSession(bg, n.route, n.id("a"), 3000, "Go away!", long)
		if err != nil || !closed {
			t.Fatalf("Close = %v, %v; want true", closed, err)
		}
		if sess.ID != n.id("a") || sess.State != store.StateClosed || sess.CloseCode != 3000 || sess.CloseReason != "Go away!" {
			t.Fatalf("Close session = %+v", sess)
		}
		sess, closed, err = s.CloseSession(bg, n.route, n.id("a"), 1002, "other", long)
		if err != nil || closed {
			t.Fatalf("second Close = %v, %v; want false", closed, err)
		}
		for _, sess := range []store.Session{sess, get(t, s, n.route, n.id("a"))} {
			if sess.State != store.StateClosed || sess.CloseCode != 3000 || sess.CloseReason != "Go away!" {
				t.Fatalf("session after second Close = %+v, want the first code and reason", sess)
			}
		}
	}},
	{"ConcurrentExactlyOne", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		const closers = 20
		var (
			mu      sync.Mutex
			winners []int
			codes   = make(map[int]bool)
			errs    []error
		)
		parallel(closers, func(i int) {
			sess, closed, err := s.CloseSession(bg, n.route, n.id("a"), 4000+i, fmt.Sprint("closer ", i), long)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if closed {
				winners = append(winners, i)
			}
			if sess.State != store.StateClosed {
				errs = append(errs, fmt.Errorf("closer %d: session state %v", i, sess.State))
			}
			codes[sess.CloseCode] = true
		})
		if len(errs) > 0 {
			t.Fatalf("Close errors: %v", errs)
		}
		if len(winners) != 1 {
			t.Fatalf("%d Closes reported closed = true (%v), want exactly one", len(winners), winners)
		}
		if want := map[int]bool{4000 + winners[0]: true}; !maps.Equal(codes, want) {
			t.Fatalf("Closes returned codes %v, want only the winner's %d", codes, 4000+winners[0])
		}
	}},
	{"Absent", func(t *testing.T, s store.Store) {
		n := newNames(t)
		_, _, err := s.CloseSession(bg, n.route, n.id("absent"), 3000, "bye", long)
		wantErr(t, "Close(absent)", err, store.ErrNotFound)
	}},
	{"OpenClosedNotAttached", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		push(t, s, n.route, n.id("a"), "m")
		if _, _, err := s.CloseSession(bg, n.route, n.id("a"), 3000, "Go away!", long); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for i, req := range []store.OpenRequest{
			{Receiver: "r1", Holder: h, Idle: long},
			{Receiver: "r1", Holder: h, Idle: long, Pull: true, ReleaseIfData: true},
			{Create: true, Receiver: "r2", Holder: h, Idle: long, Pull: true},
		} {
			res, err := s.Open(bg, n.route, n.id("a"), req)
			if err != nil {
				t.Fatalf("Open(%+v) on a closed session: %v", req, err)
			}
			// The message sent before the close goes to the first puller, once.
			wantMsgs := 0
			if i == 1 {
				wantMsgs = 1
			}
			if len(res.Messages) != wantMsgs || (wantMsgs == 1 && res.Messages[0] != "m") {
				t.Fatalf("Open(%+v) on a closed session took %q, want %d pending message(s)", req, res.Messages, wantMsgs)
			}
			if res.Created || res.Attached || res.Session.Receiver != "" ||
				res.Session.State != store.StateClosed || res.Session.CloseCode != 3000 || res.Session.CloseReason != "Go away!" {
				t.Fatalf("Open(%+v) on a closed session = %+v, want not created, not attached, closed 3000", req, res)
			}
		}
	}},
	{"HolderKeepsPulling", func(t *testing.T, s store.Store) {
		n := newNames(t)
		createAttached(t, s, n.route, n.id("a"), "r1")
		if _, _, err := s.CloseSession(bg, n.route, n.id("a"), 3000, "bye", long); err != nil {
			t.Fatalf("Close: %v", err)
		}
		res := pullExpect(t, s, n.route, n.id("a"), "r1")
		if res.State != store.StateClosed || res.CloseCode != 3000 || res.CloseReason != "bye" {
			t.Fatalf("Pull after Close = %+v, want closed 3000 bye", res)
		}
	}},
}

var valueTests = []test{
	{"SetGetDelete", func(t *testing.T, s store.Store) {
		n := newNames(t)
		create(t, s, n.route, n.id("a"))
		set := func(k, v string) {
			t.Helper()
			if err := s.SetValue(bg, n.route, n.id("a"), k, v); err != nil {
				t.Fatalf("SetValue(%q, %q): %v", k, v, err)
			}
		}
		set("k1", "v1")
		set("k2", "v2")
		set("k2", "v2b")
		want := map[string]string{"k1": "v1", "k2": "v2b"}
		got := get(t, s, n.route, n.id("a"))
		if !maps.Equal(got.Values, want) {
			t.Fatalf("Get.Values = %v, want %v", got.Values, want)
		}
		got.Values["k1"] = "changed by caller"
		res, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !maps.Equal(res.Session.Values, want) {
			t.Fatalf("Open.Session.Values = %v, want %v", res.Session.Values, want)
		}
		set("k1", "")
		set("never-set", "")
		if got := get(t, s, n.route, n.id("a")).Values; !maps.Equal(got, map[string]string{"k2": "v2b"}) {
			t.Fatalf("Values after deleting k1 = %v, want only k2", got)
		}
	}},
	{"Absent", func(t *testing.T, s store.Store) {
		n := newNames(t)
		err := s.SetValue(bg, n.route, n.id("absent"), "k", "v")
		wantErr(t, "SetValue(absent)", err, store.ErrNotFound)
		_, err = s.Get(bg, n.route, n.id("absent"))
		wantErr(t, "Get(absent)", err, store.ErrNotFound)
	}},
}

var countTests = []test{
	{"OpenSessionsOnly", func(t *testing.T, s store.Store) {
		n := newNames(t)
		if c, ids := count(t, s, n.route), sortedIDs(t, s, n.route); c != 0 || len(ids) != 0 {
			t.Fatalf("empty route: Count %d IDs %q, want none", c, ids)
		}
		for _, id := range []string{"a", "b", "c"} {
			create(t, s, n.route, n.id(id))
		}
		create(t, s, n.route+":other", n.id("d"))
		if c := count(t, s, n.route); c != 3 {
			t.Fatalf("Count = %d, want 3", c)
		}
		if _, _, err := s.CloseSession(bg, n.route, n.id("b"), 3000, "bye", long); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if c := count(t, s, n.route); c != 2 {
			t.Fatalf("Count after Close = %d, want 2", c)
		}
		if ids, want := sortedIDs(t, s, n.route), []string{n.id("a"), n.id("c")}; !slices.Equal(ids, want) {
			t.Fatalf("IDs = %q, want %q", ids, want)
		}
	}},
	{"HeldSessionsAndReaping", func(t *testing.T, s store.Store) {
		// Sessions count whoever holds them and however: held until
		// released, held for a bounded time, released, never held. A
		// session counts once, until it is closed or reaped open; reaping
		// a closed one, or a node's lease lapsing, changes nothing.
		n := newNames(t)
		const short = 50 * time.Millisecond
		createAttached(t, s, n.route, n.id("held"), "r-held")
		create(t, s, n.route, n.id("idle"))
		if _, err := s.Open(bg, n.route, n.id("poll"), store.OpenRequest{Create: true, Idle: long, Receiver: "r-poll", Holder: h, HoldFor: long}); err != nil {
			t.Fatalf("Open(create, bounded hold): %v", err)
		}
		createAttached(t, s, n.route, n.id("released"), "r-released")
		if err := s.Release(bg, n.route, n.id("released"), "r-released", long); err != nil {
			t.Fatalf("Release: %v", err)
		}
		renew(t, s, n.route, "n-lapsing", short, false)
		if _, err := s.Open(bg, n.route, n.id("lapsing"), store.OpenRequest{Create: true, Idle: short, Receiver: "r-lapsing", Holder: "n-lapsing"}); err != nil {
			t.Fatalf("Open(create on a short lease): %v", err)
		}
		all := []string{n.id("held"), n.id("idle"), n.id("lapsing"), n.id("poll"), n.id("released")}
		if c, ids := count(t, s, n.route), sortedIDs(t, s, n.route); c != 5 || !slices.Equal(ids, all) {
			t.Fatalf("Count %d, IDs %q; want 5, %q", c, ids, all)
		}
		for _, id := range []string{"held", "poll"} {
			if _, closed, err := s.CloseSession(bg, n.route, n.id(id), 3000, "bye", short); err != nil || !closed {
				t.Fatalf("Close(%s) = %v, %v", id, closed, err)
			}
		}
		left := []string{n.id("idle"), n.id("lapsing"), n.id("released")}
		if c, ids := count(t, s, n.route), sortedIDs(t, s, n.route); c != 3 || !slices.Equal(ids, left) {
			t.Fatalf("after closing two held sessions: Count %d, IDs %q; want 3, %q", c, ids, left)
		}
		// The closed sessions, and the open one whose node's lease lapsed,
		// come due.
		got := reapUntil(t, s, n.route, n.id("held"), n.id("poll"), n.id("lapsing"))
		if st := got[n.id("lapsing")].State; st != store.StateOpen {
			t.Fatalf("the lapsed node's session was reaped %v, want open", st)
		}
		left = []string{n.id("idle"), n.id("released")}
		if c, ids := count(t, s, n.route), sortedIDs(t, s, n.route); c != 2 || !slices.Equal(ids, left) {
			t.Fatalf("after reaping: Count %d, IDs %q; want 2, %q", c, ids, left)
		}
	}},
}

var expiryTests = []test{
	{"IdleWithoutReceiver", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const idle = 100 * time.Millisecond
		start := time.Now()
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: idle, Meta: []byte("meta")}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := s.SetValue(bg, n.route, n.id("a"), "k", "v"); err != nil {
			t.Fatalf("SetValue: %v", err)
		}
		got := reapUntil(t, s, n.route, n.id("a"))[n.id("a")]
		if elapsed := time.Since(start); elapsed < idle-slack {
			t.Fatalf("reaped after %v, before its idle of %v", elapsed, idle)
		}
		if got.Route != n.route || got.State != store.StateOpen || string(got.Meta) != "meta" || got.Values["k"] != "v" {
			t.Fatalf("reaped session = %+v, want it as it was (open, meta, values)", got)
		}
		reapNone(t, s, n.route)
		_, err := s.Get(bg, n.route, n.id("a"))
		wantErr(t, "Get(reaped)", err, store.ErrNotFound)
		_, err = s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: h, Idle: long})
		wantErr(t, "Open(reaped)", err, store.ErrNotFound)
		_, err = s.Push(bg, n.route, n.id("a"), []string{"m"})
		wantErr(t, "Push(reaped)", err, store.ErrNotFound)
		if c := count(t, s, n.route); c != 0 {
			t.Fatalf("Count after reaping = %d, want 0", c)
		}
		create(t, s, n.route, n.id("a"))
	}},
	{"ExactlyOnceAcrossConcurrentReapers", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const sessions, reapers = 5, 10
		var want []string
		for i := range sessions {
			id := n.id(fmt.Sprint(i))
			want = append(want, id)
			if _, err := s.Open(bg, n.route, id, store.OpenRequest{Create: true, Idle: 50 * time.Millisecond}); err != nil {
				t.Fatalf("Open: %v", err)
			}
		}
		time.Sleep(150 * time.Millisecond)
		var (
			mu    sync.Mutex
			seen  = make(map[string]int)
			total atomic.Int32
			errs  []error
		)
		deadline := time.Now().Add(waitFor)
		parallel(reapers, func(int) {
			for total.Load() < sessions && time.Now().Before(deadline) {
				got, err := s.Reap(bg, n.route, 100)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, sess := range got {
					seen[sess.ID]++
				}
				mu.Unlock()
				total.Add(int32(len(got)))
				if len(got) == 0 {
					time.Sleep(pollEvery)
				}
			}
		})
		if len(errs) > 0 {
			t.Fatalf("Reap: %v", errs)
		}
		for _, id := range want {
			if seen[id] != 1 {
				t.Fatalf("%s reaped %d times across %d concurrent reapers, want once (all: %v)", id, seen[id], reapers, seen)
			}
		}
		if len(seen) != sessions {
			t.Fatalf("reaped %v, want %q", seen, want)
		}
	}},
	{"NotEarly", func(t *testing.T, s store.Store) {
		n := newNames(t)
		start := time.Now()
		if _, err := s.Open(bg, n.route, n.id("idle"), store.OpenRequest{Create: true, Idle: 5 * time.Second}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		// A live hold keeps the session past Idle: the deadline is the
		// node lease's end plus Idle.
		renew(t, s, n.route, "n2", 5*time.Second, false)
		if _, err := s.Open(bg, n.route, n.id("leased"), store.OpenRequest{Create: true, Idle: 50 * time.Millisecond, Receiver: "r1", Holder: "n2"}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		got, err := s.Reap(bg, n.route, 100)
		if err != nil {
			t.Fatalf("Reap: %v", err)
		}
		if len(got) > 0 {
			failUnlessStarved(t, start, 5*time.Second, "Reap returned %d sessions before their deadline", len(got))
		}
	}},
	{"RenewedLeaseKeepsAlive", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const lease, idle = 600 * time.Millisecond, 100 * time.Millisecond
		last := time.Now() // before the latest renewal
		renew(t, s, n.route, "n2", lease, false)
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: idle, Receiver: "r1", Holder: "n2"}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		for end := time.Now().Add(5 * lease / 2); time.Now().Before(end); {
			time.Sleep(50 * time.Millisecond)
			before := time.Now()
			if _, err := s.RenewNode(bg, n.route, "n2", store.NodeRequest{Lease: lease}); err != nil {
				failUnlessStarved(t, last, lease, "RenewNode: %v", err)
			}
			last = before
			got, err := s.Reap(bg, n.route, 100)
			if err != nil {
				t.Fatalf("Reap: %v", err)
			}
			if len(got) > 0 {
				failUnlessStarved(t, last, lease+idle, "Reap returned the session while its node's lease was renewed")
			}
		}
		got := reapUntil(t, s, n.route, n.id("a"))[n.id("a")]
		if elapsed := time.Since(last); elapsed < lease+idle-slack {
			t.Fatalf("reaped %v after the last renewal, before lease+idle = %v", elapsed, lease+idle)
		}
		if got.State != store.StateOpen {
			t.Fatalf("reaped State = %v, want open", got.State)
		}
	}},
	{"LapsedLease", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const lease, idle = 200 * time.Millisecond, 100 * time.Millisecond
		create(t, s, n.route, n.id("a"))
		start := time.Now()
		renew(t, s, n.route, "n2", lease, false)
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Receiver: "r1", Holder: "n2", Idle: idle}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		reapUntil(t, s, n.route, n.id("a"))
		if elapsed := time.Since(start); elapsed < lease+idle-slack {
			t.Fatalf("reaped after %v, before lease+idle = %v", elapsed, lease+idle)
		}
	}},
	{"ReleaseStartsIdle", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const idle = 100 * time.Millisecond
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: long, Receiver: "r1", Holder: h}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		start := time.Now()
		if err := s.Release(bg, n.route, n.id("a"), "r1", idle); err != nil {
			t.Fatalf("Release: %v", err)
		}
		reapUntil(t, s, n.route, n.id("a"))
		if elapsed := time.Since(start); elapsed < idle-slack {
			t.Fatalf("reaped %v after Release, before its idle of %v", elapsed, idle)
		}
	}},
	{"Closed", func(t *testing.T, s store.Store) {
		n := newNames(t)
		const idle = 100 * time.Millisecond
		create(t, s, n.route, n.id("free"))
		createAttached(t, s, n.route, n.id("leased"), "r1")
		start := time.Now()
		for _, id := range []string{n.id("free"), n.id("leased")} {
			if _, _, err := s.CloseSession(bg, n.route, id, 3000, "Go away!", idle); err != nil {
				t.Fatalf("Close(%s): %v", id, err)
			}
		}
		got := reapUntil(t, s, n.route, n.id("free"), n.id("leased"))
		if elapsed := time.Since(start); elapsed < idle-slack {
			t.Fatalf("reaped %v after Close, before its idle of %v", elapsed, idle)
		}
		for id, sess := range got {
			if sess.State != store.StateClosed || sess.CloseCode != 3000 || sess.CloseReason != "Go away!" {
				t.Fatalf("reaped %s = %+v, want closed 3000", id, sess)
			}
		}
	}},
	{"ReapMax", func(t *testing.T, s store.Store) {
		n := newNames(t)
		for i := range 5 {
			if _, err := s.Open(bg, n.route, n.id(fmt.Sprint(i)), store.OpenRequest{Create: true, Idle: 50 * time.Millisecond}); err != nil {
				t.Fatalf("Open: %v", err)
			}
		}
		time.Sleep(250 * time.Millisecond)
		seen := make(map[string]bool)
		for _, want := range []int{2, 2, 1, 0} {
			got, err := s.Reap(bg, n.route, 2)
			if err != nil {
				t.Fatalf("Reap: %v", err)
			}
			if len(got) != want {
				t.Fatalf("Reap(max 2) returned %d sessions, want %d", len(got), want)
			}
			for _, sess := range got {
				if seen[sess.ID] {
					t.Fatalf("Reap returned %s twice", sess.ID)
				}
				seen[sess.ID] = true
			}
		}
	}},
	{"OtherRouteUntouched", func(t *testing.T, s store.Store) {
		n := newNames(t)
		other := n.route + ":other"
		if _, err := s.Open(bg, n.route, n.id("a"), store.OpenRequest{Create: true, Idle: 50 * time.Millisecond}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		time.Sleep(150 * time.Millisecond)
		reapNone(t, s, other)
		reapUntil(t, s, n.route, n.id("a"))
	}},
}

var contextTests = []test{
	{"CancelledOnEntry", func(t *testing.T, s store.Store) {
		n := newNames(t)
		id := n.id("a")
		createAttached(t, s, n.route, id, "r1")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"Open", func() error {
				_, err := s.Open(ctx, n.route, id, store.OpenRequest{Create: true, Idle: long})
				return err
			}},
			{"Pull", func() error {
				_, err := s.Pull(ctx, n.route, id, store.PullRequest{Receiver: "r1", Idle: long})
				return err
			}},
			{"Release", func() error { return s.Release(ctx, n.route, id, "r1", long) }},
			{"Push", func() error { _, err := s.Push(ctx, n.route, id, []string{"m"}); return err }},
			{"Publish", func() error { _, err := s.Publish(ctx, n.route, "m"); return err }},
			{"Close", func() error { _, _, err := s.CloseSession(ctx, n.route, id, 3000, "bye", long); return err }},
			{"Get", func() error { _, err := s.Get(ctx, n.route, id); return err }},
			{"SetValue", func() error { return s.SetValue(ctx, n.route, id, "k", "v") }},
			{"Count", func() error { _, err := s.Count(ctx, n.route); return err }},
			{"IDs", func() error { _, err := s.IDs(ctx, n.route); return err }},
			{"Reap", func() error { _, err := s.Reap(ctx, n.route, 10); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.call(); !errors.Is(err, context.Canceled) {
					t.Fatalf("%s with a cancelled context: error %v, want context.Canceled", tc.name, err)
				}
			})
		}
	}},
}
