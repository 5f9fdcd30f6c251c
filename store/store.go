// Package store defines where SockJS sessions live: the SessionStore contract
// that lets any request of a session land on any node.
//
// A Store keeps, per route and session id, the session's state (open or closed
// with a code and reason), its receiver lease, its queue of unicast messages,
// its cursor into the route's broadcast log, and a few small string values.
// The sockjs package drives it; applications only choose an implementation:
// store/memory for one process, store/redis for many.
//
// # Guarantees every implementation gives
//
// The conformance suite in store/storetest checks each of these.
//
// Expiry takes effect when Reap hands a session out: until then an expired
// session still behaves as it did (it can be reattached, which revives it).
// Implementations must not let sessions vanish on their own (Redis key TTLs
// alone would), because a session that is never reaped never gets its
// OnClose. Lease and expiry times come from one clock shared by every node
// (the store's own), never from the nodes' clocks.
//
//  1. Creation is atomic: of any number of concurrent Open calls with Create
//     set for one absent (route, id), exactly one reports Created.
//  2. At most one receiver per session: a hold, named by the caller
//     (Receiver) and kept alive by the lease of the node it runs on
//     (Holder), held until Release or until that node's lease lapses,
//     whichever comes first. While another receiver's hold is live, Open
//     answers ErrReceiverBusy. Holding costs nothing per session and per
//     second: a node renews one lease per route (RenewNode), whatever the
//     number of sessions it holds.
//  3. Every message handed to Push or Publish is returned by Pull exactly
//     once, to the lease holder, in one total order per route: a sequence
//     shared by unicast and broadcast messages. A session sees the broadcasts
//     published after it was created and before it was closed, as long as it
//     pulls before the broadcast log drops them (by age, count or bytes);
//     the call that finds some dropped reports it (Missed), never skipping
//     them silently. Messages a holder acknowledged (PullRequest.Ack) count
//     as returned. Unicast queues are bounded in messages and bytes
//     (ErrQueueFull).
//  4. A session whose receiver has been gone for its Idle duration (or whose
//     holder's node lease has lapsed for that long) expires. Reap hands each
//     expired session to exactly one caller, once, even across many nodes.
//  5. Publish costs O(1) writes whatever the number of sessions: the log is
//     read at delivery time.
//  6. Fencing. Each node lease has an epoch that grows whenever the lease
//     is taken anew (a new or restarted node, or one whose lease lapsed),
//     and a hold carries the epoch it was taken in. A hold whose node's
//     epoch moved on, or whose node's lease lapsed, is dead for good: its
//     receiver's Pull and Release are refused (ErrNotReceiver) or do
//     nothing, even once the node has renewed its lease again, so a node
//     that froze, was partitioned or lost the store past its lease can
//     never move a session's cursor again. Another receiver may take such
//     a session over with one Open call. A receiver therefore acknowledges
//     (PullRequest.Ack) what it is about to write before writing it: what
//     the store has handed out is then never handed out twice.
//
// # Node leases
//
// A node calls RenewNode for each route when it starts (Fresh) and then
// every third of its lease. Its holds live as long as the lease does; when
// it lapses (a crash, a partition, a pause), the sessions it held become
// available to other nodes' receivers at once and expire after their Idle
// duration unless one attaches. The node learns of the lapse from the new
// epoch its next RenewNode returns.
//
// All methods are safe for concurrent use. Every method takes a context and
// returns its error (wrapped) when the context ends first; the operation may
// or may not have happened then, as with any remote call.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors a caller branches on. Implementations wrap them with %w; test with
// errors.Is.
var (
	// ErrNotFound: the session does not exist (never created, or expired and
	// reaped).
	ErrNotFound = errors.New("store: session not found")
	// ErrReceiverBusy: another receiver holds the session's lease. The
	// protocol answers c[2010,"Another connection still open"].
	ErrReceiverBusy = errors.New("store: another receiver holds the session")
	// ErrNotReceiver: the caller's lease is gone (released, lapsed, or taken
	// over after lapsing).
	ErrNotReceiver = errors.New("store: not the session's receiver")
	// ErrClosed: the session is closed; messages are not accepted.
	ErrClosed = errors.New("store: session closed")
	// ErrQueueFull: the session's unread unicast queue is at its limit, in
	// messages or in bytes (a slow or vanished consumer). The message was
	// not stored.
	ErrQueueFull = errors.New("store: session queue full")
	// ErrNodeLease: the node asking for a hold (OpenRequest.Holder) has no
	// live lease: it never called RenewNode for the route, or its lease
	// lapsed. It must renew (and learn its new epoch) first.
	ErrNodeLease = errors.New("store: node lease not live")
)

// State is a session's lifecycle state.
type State int

const (
	// StateOpen: the session accepts and delivers messages.
	StateOpen State = iota + 1
	// StateClosed: closed with a code and reason; receivers are answered
	// with the close frame until the session expires.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateOpen:
		return "open"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// Session is a snapshot of one session's record.
type Session struct {
	Route string
	ID    string
	State State
	// CloseCode and CloseReason are set once State is StateClosed.
	CloseCode   int
	CloseReason string
	// Receiver names the receiver of a live hold, "" when there is none.
	Receiver string
	// Holder is the node of that receiver, "" when there is none.
	Holder string
	// Node, when not empty, binds the session to a connection held by that
	// node (a websocket): its messages go to that node over the bus, are not
	// queued in the store, and it has no cursor in the broadcast log (Pull
	// returns no messages for it and only renews its lease).
	Node string
	// Owner is the identity the session was bound to at creation ("" for
	// none); see OpenRequest.Owner.
	Owner string
	// Meta is opaque data given at creation (the opening request's details).
	Meta []byte
	// Values are the session's small per-session values.
	Values map[string]string
	// Created is when the session was created.
	Created time.Time
}

// OpenRequest describes one Open call.
type OpenRequest struct {
	// Create makes Open create the session when it does not exist. Without
	// it, an absent session is ErrNotFound.
	Create bool
	// Meta and Node are stored at creation; see Session.
	Meta []byte
	Node string
	// Owner binds a created session to an identity. On an existing session
	// whose Owner differs, Open answers ErrNotFound and changes nothing, as
	// if the session did not exist (a session hijack looks like a miss).
	Owner string
	// Idle is how long the session lives without a receiver (the protocol's
	// disconnect delay). Required (> 0) when creating.
	Idle time.Duration
	// Receiver, when not empty, asks for the session's hold under this
	// name, unique among the holder node's receivers. Holder (required with
	// Receiver) is the node it runs on, whose lease keeps the hold alive
	// (ErrNodeLease when that lease is not live). A hold that is dead (its
	// node's lease lapsed or its epoch moved on) is taken over; one held by
	// the same Receiver is taken again in the node's current epoch. A
	// closed session gives no hold: the result's Session tells the caller
	// to answer with the close frame, after the messages sent before the
	// close, which Pull takes (without a hold).
	Receiver string
	Holder   string
	// Pull also takes the pending messages when the hold was taken.
	Pull bool
	// ReleaseIfData releases the hold in the same step when Pull took at
	// least one message (a polling request answers at once).
	ReleaseIfData bool
	// Lean lets the result's Session go without Meta and Values (Get reads
	// them), for callers that have them or do not need them: most of what
	// an attaching poll would otherwise carry back on every request.
	Lean bool
	// HoldFor, when positive, bounds the hold this call takes: it ends by
	// itself HoldFor after it was taken (by the store's clock), as if its
	// receiver had released it then, unless released or lost earlier. From
	// then on another receiver takes the session, this receiver's Pull
	// answers ErrNotReceiver and its Release does nothing, and the session
	// expires Idle after the hold's end unless attached again. A bounded
	// hold lives on its node's lease too, but is not one of the node's
	// holds that it keeps until released, so its end costs the store no
	// write: a long poll that ends with a heartbeat after HoldFor needs no
	// Release. Zero: the hold lasts until released or lost.
	HoldFor time.Duration
}

// OpenResult is what Open did.
type OpenResult struct {
	Session Session
	Created bool
	// Attached: the hold was given to the caller (and, with ReleaseIfData,
	// may already have been given back: then Session.Receiver is empty).
	Attached bool
	// Messages are the pulled messages, when Pull was asked and the caller
	// attached, or the session is closed.
	Messages []string
	// Cursor is the session's position in the route's sequence after the
	// call: every message of the session numbered up to it has been
	// returned (see PushResult).
	Cursor uint64
	// Missed reports that broadcasts the session had not taken yet were
	// trimmed from the route's log (by its age, count or byte bound)
	// before this call could take them: the session's sequence has a hole.
	Missed bool
}

// PullRequest describes one Pull call by the holder. It is refused
// (ErrNotReceiver) unless Receiver's hold is live.
type PullRequest struct {
	Receiver string
	// Idle, when > 0, becomes the session's idle expiry (applied once the
	// hold ends).
	Idle time.Duration
	// Release gives the hold up after taking the messages. ReleaseIfData
	// gives it up only when at least one message was taken.
	Release       bool
	ReleaseIfData bool
	// Max bounds how many messages one call returns (0: no bound; negative:
	// none, the call acknowledges or releases only). The rest stay
	// pending in order.
	Max int
	// Ack acknowledges the session's messages numbered up to it: the lease
	// holder delivered them itself, having learnt of them from their sender
	// (see PushResult). They are dropped, and the cursor moves to Ack, before
	// the call takes anything. An Ack at or behind the cursor does nothing.
	Ack uint64
}

// PullResult is what Pull returned.
type PullResult struct {
	Messages []string
	// State, CloseCode and CloseReason tell whether the session was closed;
	// pending messages are still returned first.
	State       State
	CloseCode   int
	CloseReason string
	Released    bool
	// Cursor and Missed are as in OpenResult.
	Cursor uint64
	Missed bool
}

// PushResult tells the sender whom to wake.
type PushResult struct {
	// Receiver is the session's holder on record at the time of the push
	// ("" if none): a receiver whose hold may have lapsed since, which a
	// wake-up then does not reach, harmlessly.
	Receiver string
	// Node is set for sessions bound to a node's connection (see
	// Session.Node): nothing was stored, the caller must deliver the
	// messages to that node itself.
	Node string
	// First is the sequence number of the first stored message; the others
	// follow it without gaps. Prev is the highest sequence number the
	// session had been given before them (pending or already returned). A
	// lease holder whose cursor (OpenResult.Cursor, PullResult.Cursor, or
	// the last message it delivered this way) is at least Prev may deliver
	// these messages itself, in order, straight from the sender, and
	// acknowledge them later (PullRequest.Ack) instead of pulling them.
	// Both are zero when nothing was stored.
	First, Prev uint64
}

// NodeRequest describes one RenewNode call.
type NodeRequest struct {
	// Lease is how long the node's holds live from now without another
	// renewal.
	Lease time.Duration
	// Fresh starts a new epoch even if the lease is live (a node starting).
	Fresh bool
}

// NodeLease is what RenewNode granted.
type NodeLease struct {
	// Epoch is the node's current epoch (> 0).
	Epoch uint64
	// Renewed reports that the lease was live and kept its epoch; false
	// when a new epoch began (every hold of the node's earlier epoch is
	// dead).
	Renewed bool
}

// Store is the session store contract. See the package documentation for
// the guarantees every implementation gives.
type Store interface {
	// Open creates and/or attaches to a session in one atomic step.
	// Errors: ErrNotFound (absent and !Create), ErrReceiverBusy (another
	// live lease; the result's Session is still filled in).
	Open(ctx context.Context, route, id string, req OpenRequest) (OpenResult, error)

	// Pull takes the session's pending messages (unicast queue merged with
	// the broadcast log past the session's cursor, in sequence order) for
	// the holder of a live hold. Errors: ErrNotFound, ErrNotReceiver.
	Pull(ctx context.Context, route, id string, req PullRequest) (PullResult, error)

	// Release gives the hold up when the caller's hold is live (otherwise
	// it does nothing and returns nil); the session then expires after idle
	// unless a receiver attaches.
	Release(ctx context.Context, route, id, receiver string, idle time.Duration) error

	// RenewNode takes or renews node's lease on the route's holds for
	// lease (> 0) from now, by the store's clock, and returns the node's
	// epoch. The epoch stays the same while the lease is renewed before it
	// lapses; it grows (a new value, higher than any the route's nodes had
	// before) when the node had no live lease, or when Fresh is set (a
	// node starting: holds of an earlier process with the same node id are
	// dead then). The holds of the previous epoch are dead from then on:
	// their sessions expire after their idle duration unless a receiver
	// attaches. One write whatever the number of sessions held.
	RenewNode(ctx context.Context, route, node string, req NodeRequest) (NodeLease, error)

	// Push appends unicast messages to an open session's queue. Errors:
	// ErrNotFound, ErrClosed, ErrQueueFull (nothing stored).
	Push(ctx context.Context, route, id string, msgs []string) (PushResult, error)

	// Publish appends a message to the route's broadcast log, for every
	// session of the route open at that moment. One write, whatever the
	// number of sessions. It returns the message's sequence number, or 0
	// when the route has no open session (nothing is logged). A receiver
	// whose cursor is just before it (seq-1: nothing at all came between)
	// may deliver the message itself, from the sender, and acknowledge it
	// later (PullRequest.Ack).
	Publish(ctx context.Context, route, msg string) (seq uint64, err error)

	// CloseSession marks an open session closed with code and reason; it
	// stays (serving the close frame) for idle, then expires. Closed reports
	// whether this call made the transition (exactly one caller sees true).
	// Messages sent before the close stay pending; broadcasts after it are
	// not delivered. The close takes a sequence number of its own, so no
	// later broadcast directly follows a message of the session. The returned Session is the record after the call.
	// Errors: ErrNotFound.
	CloseSession(ctx context.Context, route, id string, code int, reason string, idle time.Duration) (s Session, closed bool, err error)

	// Get returns a snapshot of the session. Errors: ErrNotFound.
	Get(ctx context.Context, route, id string) (Session, error)

	// SetValue sets (or, with an empty value, deletes) one small value of
	// the session. Errors: ErrNotFound.
	SetValue(ctx context.Context, route, id, key, value string) error

	// Count returns how many open sessions the route has.
	Count(ctx context.Context, route string) (int, error)

	// IDs returns the ids of the route's open sessions, in no set order.
	IDs(ctx context.Context, route string) ([]string, error)

	// Reap removes up to max (> 0) expired sessions of the route and
	// returns them as they were. Each expired session is returned by
	// exactly one Reap call. A session returned with StateOpen expired
	// without being closed: the caller runs the application's close
	// callback for it.
	Reap(ctx context.Context, route string, max int) ([]Session, error)
}

// Closer is implemented by stores that hold resources of their own. The
// sockjs package never closes a store it was given; the application does.
// (Store.CloseSession closes one session; Close closes the store.)
type Closer interface {
	Close() error
}
