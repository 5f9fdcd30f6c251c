// Package redisbus is the pubsub.Bus over Redis pub/sub: the nodes of a
// cluster talk through one Redis deployment (standalone, Sentinel or
// Cluster), reached through the go-redis client the application brings.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", MaxRetries: -1})
//	bus := redisbus.New(rdb, redisbus.Options{})
//	defer rdb.Close()
//	defer bus.Close() // first: Close leaves rdb open
//
// # Overview
//
// Publish is one PUBLISH of Options.Prefix + channel. Each Bus opens one
// pub/sub connection of its own, at its first Subscribe, and multiplexes all
// its subscriptions over it: a channel shared by several subscriptions is
// subscribed in Redis once, and unsubscribed when the last of them goes. One
// goroutine reads that connection and appends each message to the queue of
// every subscription of its channel; each subscription has a goroutine of its
// own that calls its handler, one message at a time, in queue order. A slow
// handler therefore holds up its own subscription only, and never the
// connection.
//
// # Delivery guarantees
//
// The guarantees of package pubsub hold while the pub/sub connection is up:
//
//   - Subscribe returns once Redis has executed the SUBSCRIBE of every channel
//     listed: after subscribing, the bus sends a PING on the pub/sub
//     connection and waits for its reply, which Redis sends only after the
//     commands before it. A message published afterwards, from any node,
//     reaches the new subscription. The subscription takes the messages read
//     after that reply, and so none published before Subscribe was called,
//     even on a channel the bus was already subscribed to.
//   - Redis sends a connection the messages of all its channels in the order
//     in which it executed the PUBLISH commands, and the bus keeps that order
//     for each subscription, across all its channels.
//
// Delivery is at most once, provided the client does not retry commands
// (go-redis: MaxRetries: -1): go-redis runs a command again when its
// connection broke after it was sent, and a PUBLISH that had run is then
// delivered twice (the sockjs package sends websocket messages to other
// nodes this way). Redis does not keep pub/sub messages for anyone.
// Messages are lost
//
//   - while the pub/sub connection is down: everything published on the
//     bus's channels from the moment the connection breaks until the bus has
//     resubscribed on a new one is never delivered, and no error tells the
//     subscribers (Stats.Reconnects counts these gaps, and they are logged).
//     The sockjs package copes by re-reading the store on its next renewal
//     tick;
//   - for one subscription, when its queue is full (Options.QueueSize): the
//     new message is dropped for that subscription, counted in
//     Stats.Dropped and logged, and the other subscriptions get it. The
//     reading goroutine never waits for a handler;
//   - when Redis drops the connection because the bus reads too slowly
//     (client-output-buffer-limit pubsub, 32 MB by default): that is a lost
//     connection like any other.
//
// # Failures and reconnection
//
// When the pub/sub connection breaks (Redis restarts, CLIENT KILL, a network
// error), go-redis dials a new one on the next read and subscribes it to all
// the bus's channels; while Redis is unreachable the bus keeps trying, with
// a back-off of at most one second. The bus then checks that Redis has
// confirmed the SUBSCRIBE of every channel on the new connection (a PING
// after them, whose reply comes after theirs): a SUBSCRIBE that Redis
// refuses (an ACL rule, a server still loading its data) fails with an
// error reply on a connection that is otherwise fine, and go-redis does not
// try again. The bus then logs a warning and subscribes the missing
// channels again, with the same back-off, until Redis accepts; only then is
// the connection logged and counted as re-established. A SUBSCRIBE refused
// for a new subscription is retried in the same way, although Subscribe has
// returned. A connection that stays open but carries
// nothing any more (a half-open TCP connection after a network partition, a
// frozen server or proxy) fails no read, so the bus checks it: when it has
// been silent for Options.HealthCheckInterval the bus sends a PING, and when
// nothing arrives within another interval it replaces the connection.
// While Redis cannot be reached, Publish and Subscribe fail with go-redis's
// errors; existing subscriptions stay and resume by themselves. Stats counts
// reconnections.
//
// # Redis Cluster
//
// Classic PUBLISH is broadcast to every node of a Redis Cluster, whichever
// node receives it: every message crosses the cluster bus to every master,
// which suits this package's design, whose traffic is O(nodes) messages per
// broadcast, not O(sessions). Sharded pub/sub (SPUBLISH) is not used.
//
// The cluster bus forwards a message to the other nodes after PUBLISH has
// returned, and go-redis sends keyless commands such as PUBLISH to the nodes
// in turn, so two messages could overtake each other, or reach a
// subscription made after they were published. Given a *redis.ClusterClient,
// the bus therefore keeps all its traffic on one master, the one serving the
// hash slot of its prefix, where Redis delivers as a standalone server does:
// it puts the prefix in a hash tag (channel "x" is "{sockjs:}x" in Redis),
// sends every PUBLISH to that master, and stays subscribed to the channel
// named by the prefix alone, so that go-redis, which places a pub/sub
// connection by the slot of its first channel, places it on that master at
// every reconnection. (Tested with three masters and no replicas; failover
// was not tested. With ClusterOptions.ReadOnly, go-redis places pub/sub
// connections on replicas, where messages arrive through the cluster bus.)
//
// *redis.Ring is not supported (New panics): its shards are independent
// servers, and a publisher and a subscriber of one channel would not meet.
//
// # Concurrency and stopping
//
// All methods are safe for concurrent use. A handler is never called
// concurrently with itself; handlers of different subscriptions run
// concurrently. Unsubscribe and Close wait until the handlers concerned
// have returned, except when called from such a handler. Neither waits for
// Redis: the UNSUBSCRIBE follows in the background, and Close closes the
// pub/sub connection but not the client, which the application closes
// after the bus.
package redisbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/pubsub"
)

// Defaults applied to the zero fields of Options.
const (
	DefaultPrefix              = "sockjs:"
	DefaultQueueSize           = 4096
	DefaultHealthCheckInterval = 3 * time.Second
)

// maxBackoff bounds the wait between two attempts to reach Redis.
const maxBackoff = time.Second

// Options configures a Bus. The zero value is ready to use.
type Options struct {
	// Prefix is prepended to every channel name in Redis; empty means
	// DefaultPrefix. Buses that talk to each other use the same prefix;
	// different prefixes keep applications sharing a Redis apart. With a
	// *redis.ClusterClient it becomes a hash tag: "{sockjs:}name".
	Prefix string

	// QueueSize bounds each subscription's undelivered messages; zero (or
	// a negative value) means DefaultQueueSize. When a subscription's
	// queue is full, a new message is dropped for it and counted in
	// Stats.Dropped: delivery is at most once, and the reader never blocks.
	QueueSize int

	// HealthCheckInterval is how long the pub/sub connection may stay
	// silent before the bus sends a PING on it; when nothing has arrived
	// after another interval, it replaces the connection (a Redis busy for
	// that long, say with a slow script, gets a new connection too). Zero
	// means DefaultHealthCheckInterval; a negative value disables the
	// check, and a connection that dies silently then goes unnoticed until
	// TCP gives up on it, if ever: go-redis's default dialer enables TCP
	// keep-alive (about 45 seconds to give up on a silent peer), which does
	// not help when a proxy in between still answers.
	HealthCheckInterval time.Duration

	// Logger receives lost and re-established connections, channels Redis
	// refuses to subscribe, and overflowing queues; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Stats counts events since New: Reconnects counts the times the pub/sub
// connection was re-established after it had been lost or replaced (once
// Redis had confirmed every channel on the new connection), and
// Dropped the messages dropped because a subscription's queue was full
// (once per subscription that missed it). It is pubsub.Stats, so that a
// Bus is a pubsub.StatsReporter.
type Stats = pubsub.Stats

// Bus is a pubsub.Bus over Redis pub/sub. Create it with New; stop it with
// Close.
type Bus struct {
	client redis.UniversalClient
	prefix string // prepended to channel names in Redis
	// cluster is set for a *redis.ClusterClient: prefix is then a hash tag,
	// and channel "" stays subscribed, so that go-redis always connects the
	// pub/sub connection to the master that receives the PUBLISH commands.
	cluster     bool
	queueSize   int
	healthEvery time.Duration // <= 0: no health check
	log         *slog.Logger

	ctx    context.Context // ends at Close; bounds the background work
	cancel context.CancelFunc
	wg     sync.WaitGroup // the reader, syncer and health checker
	kick   chan struct{}  // wakes the syncer; buffered, never blocks
	ready  chan struct{}  // closed after the syncer's first pass

	reads      atomic.Uint64 // successful reads on the pub/sub connection
	reconnects atomic.Uint64
	dropped    atomic.Uint64
	closeOnce  sync.Once

	mu     sync.RWMutex
	closed bool
	ps     *redis.PubSub // nil until the first Subscribe
	// subs holds each channel's subscriptions, including those whose
	// Subscribe has not returned yet. A slice is never modified once stored
	// (copy on write), so the reader ranges over it without holding mu. The
	// keys are the channels the bus wants subscribed in Redis.
	subs map[string][]*subscription
	// live holds every subscription whose goroutine runs.
	live map[*subscription]struct{}
	// told holds the channels (bus names) go-redis has been told to
	// subscribe; go-redis records them even when it cannot send the
	// command, and resubscribes them all on every new connection. Only the
	// syncer changes it.
	told map[string]struct{}
	// have holds the channels (Redis names) that Redis has confirmed on the
	// current connection; the reader keeps it, and empties it when the
	// connection is lost or replaced.
	have map[string]struct{}
	// The check of the subscriptions (see checked): the reader asks for one
	// (checkReq) after a reconnection or an error reply, the syncer sends
	// its PING (check) once checkAt has passed, and checkFails counts the
	// checks that have found channels missing since the last that did not.
	checkReq   bool
	checkAt    time.Time
	check      *subCheck
	checkFails int
	checkSeq   uint64
	// wantGen counts changes to the keys of subs; doneGen is the last of
	// them the syncer has sent to Redis. synced is closed (and replaced)
	// after each of the syncer's passes.
	wantGen, doneGen uint64
	synced           chan struct{}
	replaceReq       bool                 // the health checker asks the syncer to replace ps
	replacing        bool                 // the syncer has closed ps and installs another
	swapped          chan struct{}        // closed (and replaced) when ps is replaced
	lost             chan struct{}        // closed (and replaced) when a read fails
	pongs            map[string]*pingWait // by PING payload
	pingSeq          uint64
}

var (
	_ pubsub.Bus            = (*Bus)(nil)
	_ pubsub.Closer         = (*Bus)(nil)
	_ pubsub.IdleSubscriber = (*Bus)(nil)
	_ pubsub.StatsReporter  = (*Bus)(nil)
)

// healthToken is the payload of the health checker's PINGs; Subscribe's
// PINGs carry pingPrefix and a sequence number, and the checks of the
// subscriptions checkPrefix and another.
const (
	healthToken = "redisbus:health"
	pingPrefix  = "redisbus:subscribe:"
	checkPrefix = "redisbus:check:"
)

// New returns a Bus that talks through client. The bus opens its pub/sub
// connection at its first Subscribe; a bus that only publishes uses the
// client's pool alone. New panics if client is nil or a *redis.Ring.
func New(client redis.UniversalClient, opts Options) *Bus {
	if client == nil {
		panic("redisbus: New: nil client")
	}
	if _, ok := client.(*redis.Ring); ok {
		panic("redisbus: New: *redis.Ring is not supported: its shards do not share pub/sub channels")
	}
	b := &Bus{
		client:      client,
		prefix:      opts.Prefix,
		queueSize:   opts.QueueSize,
		healthEvery: opts.HealthCheckInterval,
		log:         opts.Logger,
		kick:        make(chan struct{}, 1),
		ready:       make(chan struct{}),
		subs:        make(map[string][]*subscription),
		live:        make(map[*subscription]struct{}),
		told:        make(map[string]struct{}),
		have:        make(map[string]struct{}),
		synced:      make(chan struct{}),
		swapped:     make(chan struct{}),
		lost:        make(chan struct{}),
		pongs:       make(map[string]*pingWait),
	}
	if b.prefix == "" {
		b.prefix = DefaultPrefix
	}
	if _, ok := client.(*redis.ClusterClient); ok {
		b.cluster = true
		b.prefix = "{" + b.prefix + "}"
	}
	if b.queueSize <= 0 {
		b.queueSize = DefaultQueueSize
	}
	if b.healthEvery == 0 {
		b.healthEvery = DefaultHealthCheckInterval
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Stats returns the bus's counters.
func (b *Bus) Stats() Stats {
	return Stats{Reconnects: b.reconnects.Load(), Dropped: b.dropped.Load()}
}

// Publish sends payload to every subscription of channel, on every node, with
// one PUBLISH (to the master of the prefix's hash slot, over a Redis
// Cluster). It returns once Redis has answered; delivery is asynchronous.
// It does not retain payload. Errors wrap go-redis's, or ctx's; Publish does
// not retry beyond what the client is configured to.
func (b *Bus) Publish(ctx context.Context, channel string, payload []byte) error {
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return fmt.Errorf("redisbus: publish: %w", pubsub.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisbus: publish: %w", err)
	}
	var c redis.Cmdable = b.client
	if b.cluster {
		node, err := b.client.(*redis.ClusterClient).MasterForKey(ctx, b.prefix)
		if err != nil {
			return fmt.Errorf("redisbus: publish: %w", err)
		}
		c = node
	}
	if err := c.Publish(ctx, b.prefix+channel, payload).Err(); err != nil {
		return fmt.Errorf("redisbus: publish: %w", err)
	}
	return nil
}

// Subscribe starts delivering the messages of the listed channels to h, from
// one goroutine of its own, in the order in which Redis executed their
// PUBLISH commands. It returns once Redis has executed the SUBSCRIBE of every
// channel; it fails if Redis cannot be reached, and then h is never called.
func (b *Bus) Subscribe(ctx context.Context, h pubsub.Handler, channels ...string) (pubsub.Subscription, error) {
	return b.subscribe(ctx, h, nil, channels)
}

// SubscribeIdle implements pubsub.IdleSubscriber: it is Subscribe, and idle
// is called after the handler whenever the subscription's queue is empty.
func (b *Bus) SubscribeIdle(ctx context.Context, h pubsub.Handler, idle func(), channels ...string) (pubsub.Subscription, error) {
	if idle == nil {
		return nil, errors.New("redisbus: subscribe: nil idle callback")
	}
	return b.subscribe(ctx, h, idle, channels)
}

func (b *Bus) subscribe(ctx context.Context, h pubsub.Handler, idle func(), channels []string) (pubsub.Subscription, error) {
	if h == nil {
		return nil, errors.New("redisbus: subscribe: nil handler")
	}
	if len(channels) == 0 {
		return nil, errors.New("redisbus: subscribe: no channel")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisbus: subscribe: %w", err)
	}
	s := &subscription{bus: b, channels: unique(channels), limit: b.queueSize}
	s.Init(h, idle)

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("redisbus: subscribe: %w", pubsub.ErrClosed)
	}
	b.startLocked()
	// Registered now, s takes the messages read after the reply to its PING
	// (see confirm); its goroutine delivers them once Subscribe succeeds.
	for _, ch := range s.channels {
		b.subs[ch] = append(slices.Clip(b.subs[ch]), s)
	}
	b.wantGen++
	gen := b.wantGen
	b.mu.Unlock()
	b.wakeSyncer()

	if err := b.confirm(ctx, gen, s); err != nil {
		b.remove(s)
		s.Stop()
		return nil, fmt.Errorf("redisbus: subscribe: %w", err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.Stop()
		return nil, fmt.Errorf("redisbus: subscribe: %w", pubsub.ErrClosed)
	}
	b.live[s] = struct{}{}
	go s.Run(s.exit)
	return s, nil
}

// Close stops every subscription and waits until their handlers have
// returned (except the caller's own, when called from a handler), stops the
// bus's goroutines and closes its pub/sub connection. It does not close the
// client. Later Publish and Subscribe calls return an error wrapping
// pubsub.ErrClosed. Close is idempotent and always returns nil.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		clear(b.subs)
		ps := b.ps
		b.mu.Unlock()
		b.cancel()
		if ps != nil {
			_ = ps.Close() // makes the reader's Receive return
		}
	})

	b.mu.Lock()
	live := slices.Collect(maps.Keys(b.live))
	b.mu.Unlock()
	for _, s := range live {
		s.Stop()
	}
	for _, s := range live {
		_ = s.Wait(context.Background()) // returns at once for the caller's own
	}
	b.wg.Wait()
	return nil
}

// startLocked creates the pub/sub connection's PubSub and starts the
// goroutines that serve it, the first time it is called. b.mu is held.
func (b *Bus) startLocked() {
	if b.ps != nil {
		return
	}
	b.ps = b.client.Subscribe(b.ctx) // no channel yet: connects lazily
	b.wg.Add(2)
	go b.readLoop()
	go b.syncLoop()
	if b.healthEvery > 0 {
		b.wg.Add(1)
		go b.healthLoop()
	}
}

// remove takes s out of its channels' subscriptions; the syncer unsubscribes
// the channels nobody wants any more.
func (b *Bus) remove(s *subscription) {
	b.mu.Lock()
	changed := false
	for _, ch := range s.channels {
		subs := b.subs[ch]
		i := slices.Index(subs, s)
		switch {
		case i < 0:
		case len(subs) == 1:
			delete(b.subs, ch)
			changed = true
		default:
			b.subs[ch] = slices.Delete(slices.Clone(subs), i, i+1)
		}
	}
	if changed {
		b.wantGen++
	}
	b.mu.Unlock()
	if changed {
		b.wakeSyncer()
	}
}

func (b *Bus) wakeSyncer() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// pingWait is a Subscribe waiting for the reply to its PING.
type pingWait struct {
	s    *subscription
	done chan struct{} // closed when the reply has arrived
}

// confirm returns once Redis has executed the SUBSCRIBE commands of the
// channels wanted at generation gen, which include those of s. It first waits
// for the syncer to have sent them, then sends a PING on the pub/sub
// connection and waits for its reply: Redis answers the commands of a
// connection in order. Should the connection break or be replaced meanwhile,
// the new one has been subscribed to every channel before anything else is
// sent on it, so a PING on it will do as well.
//
// The reader has s take messages from the reply on: s gets every message
// Redis executed after the PING (all those published after Subscribe
// returned), and none it executed before (none published before Subscribe
// was called, even on a channel the bus was already subscribed to).
//
// A PING that cannot be sent is sent again, up to maxPingRetries times 10ms
// apart: go-redis reconnects in between if it can, so only a Redis that
// cannot be reached makes Subscribe fail (within about 50ms).
const maxPingRetries = 5

func (b *Bus) confirm(ctx context.Context, gen uint64, s *subscription) error {
	for {
		b.mu.RLock()
		done, synced := b.doneGen >= gen, b.synced
		b.mu.RUnlock()
		if done {
			break
		}
		select {
		case <-synced:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.ctx.Done():
			return pubsub.ErrClosed
		}
	}

	retries := 0
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return pubsub.ErrClosed
		}
		ps, lost, swapped := b.ps, b.lost, b.swapped
		b.pingSeq++
		token := pingPrefix + strconv.FormatUint(b.pingSeq, 10)
		w := &pingWait{s: s, done: make(chan struct{})}
		b.pongs[token] = w
		b.mu.Unlock()

		err := ps.Ping(ctx, token)
		if err == nil {
			select {
			case <-w.done:
				return nil
			case <-lost: // the reply may never come: ping again
			case <-swapped:
			case <-ctx.Done():
				err = ctx.Err()
			case <-b.ctx.Done():
				err = pubsub.ErrClosed
			}
		}
		b.mu.Lock()
		delete(b.pongs, token)
		b.mu.Unlock()
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case b.ctx.Err() != nil:
			return pubsub.ErrClosed
		case errors.Is(err, redis.ErrClosed):
			b.mu.RLock()
			replaced := b.ps != ps || b.replacing
			b.mu.RUnlock()
			if !replaced {
				return err // the client is closed
			}
			select {
			case <-swapped:
			case <-ctx.Done():
				return ctx.Err()
			case <-b.ctx.Done():
				return pubsub.ErrClosed
			}
		case retries < maxPingRetries:
			// A connection killed under us: go-redis redials on the next
			// command. Redis that is down fails every attempt quickly.
			retries++
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			case <-b.ctx.Done():
				return pubsub.ErrClosed
			}
		default:
			return err
		}
	}
}

// readLoop is the reader: it reads the pub/sub connection and dispatches
// what arrives, until Close.
func (b *Bus) readLoop() {
	defer b.wg.Done()
	// Reading connects; the first channels decide where (see Bus.cluster).
	select {
	case <-b.ready:
	case <-b.ctx.Done():
		return
	}
	b.mu.RLock()
	ps := b.ps
	b.mu.RUnlock()
	failures := 0
	// broken: the connection was lost or replaced, and Redis has not yet
	// confirmed every channel on its successor; asked: the reader has asked
	// for a check of the subscriptions since.
	broken, asked := false, false
	var refusal error // the last error reply, for the warnings
	for {
		msg, err := ps.Receive(b.ctx)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			if errors.Is(err, redis.ErrClosed) {
				// Replaced by the health checker; or the client was
				// closed, and this waits for Close.
				if ps = b.nextPubSub(ps); ps == nil {
					return
				}
				b.forgetConn()
				broken, asked = true, false
				failures = 0
				continue
			}
			if refused(err) {
				// Redis refused a command (a SUBSCRIBE, most likely) on a
				// connection that is still up: go-redis keeps it, and never
				// sends that command again.
				refusal = err
				b.log.Debug("redisbus: pub/sub command refused", "err", err)
				if broken && !asked {
					asked = true
					b.askCheck(true)
				} else if !broken {
					b.askCheck(false)
				}
				continue
			}
			// go-redis has closed the connection and, if it could, dialed
			// a new one and resubscribed it; if not, the next Receive
			// tries again.
			b.forgetConn()
			b.signalLost()
			if !broken {
				broken = true
				b.log.Warn("redisbus: pub/sub connection lost; reconnecting", "err", err)
			}
			asked = false
			failures++
			if failures > 1 && !b.sleep(b.backoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		b.reads.Add(1)
		if broken && !asked {
			// A new connection answers: has it every channel?
			asked = true
			b.askCheck(true)
		}
		switch m := msg.(type) {
		case *redis.Message:
			b.dispatch(m)
		case *redis.Subscription:
			if done, retries := b.confirmed(m, broken); done {
				b.settled(&broken, retries)
				refusal = nil
			}
		case *redis.Pong:
			if !strings.HasPrefix(m.Payload, checkPrefix) {
				b.pong(m.Payload)
			} else if done, retries := b.checked(m.Payload, refusal); done {
				b.settled(&broken, retries)
				refusal = nil
			}
		}
	}
}

// refused reports whether err is an error reply after which go-redis keeps
// the connection (it replaces it after READONLY, or MOVED to its own
// address).
func refused(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) || redis.IsReadOnlyError(err) {
		return false
	}
	_, moved := redis.IsMovedError(err)
	return !moved
}

// subCheck is a check of the subscriptions in progress: a PING sent on the
// pub/sub connection after the SUBSCRIBE commands of the channels in want
// (Redis names). Redis answers a connection's commands in order, so when
// the reply arrives, every confirmation has arrived before it.
type subCheck struct {
	token string
	want  []string
}

// forgetConn records that the pub/sub connection is gone: no channel is
// confirmed on the next one yet, and a check in progress is void.
func (b *Bus) forgetConn() {
	b.mu.Lock()
	clear(b.have)
	b.check = nil
	b.mu.Unlock()
}

// askCheck asks the syncer for a check of the subscriptions, at once. With
// again false, it does not when a check is already in progress or planned.
func (b *Bus) askCheck(again bool) {
	b.mu.Lock()
	ask := again || !b.checkReq && b.check == nil
	if ask {
		b.checkReq, b.checkAt, b.check = true, time.Time{}, nil
	}
	b.mu.Unlock()
	if ask {
		b.wakeSyncer()
	}
}

// confirmed records the confirmation of a SUBSCRIBE or UNSUBSCRIBE. With
// pending set (the connection is new, or a check has failed), it reports
// whether Redis has now confirmed every channel the bus has asked for,
// and how many checks had failed before; the check in progress is then
// moot.
func (b *Bus) confirmed(m *redis.Subscription, pending bool) (done bool, retries int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch m.Kind {
	case "subscribe", "ssubscribe":
		b.have[m.Channel] = struct{}{}
	case "unsubscribe", "sunsubscribe":
		delete(b.have, m.Channel)
	default:
		return false, 0
	}
	if len(b.have) > m.Count {
		// Redis counts fewer channels on the connection than it has
		// confirmed: go-redis has replaced it without a failed read (a
		// write failed), and what the old one had counts no more.
		clear(b.have)
		if m.Count > 0 {
			b.have[m.Channel] = struct{}{}
		}
		if !b.checkReq && b.check == nil {
			b.checkReq, b.checkAt = true, time.Time{}
			b.wakeSyncer()
		}
		return false, 0
	}
	if !pending && b.checkFails == 0 {
		return false, 0
	}
	for ch := range b.told {
		if _, ok := b.have[b.prefix+ch]; !ok {
			return false, 0
		}
	}
	retries = b.checkFails
	b.checkReq, b.check, b.checkFails = false, nil, 0
	return true, retries
}

// checked takes the reply to the PING of a check, and reports whether Redis
// had confirmed every channel of the check by then, and how many checks had
// failed before. When it had not, checked logs it (refusal is the last
// error reply read, if any) and has the syncer subscribe the missing
// channels again after a back-off.
func (b *Bus) checked(token string, refusal error) (done bool, retries int) {
	b.mu.Lock()
	c := b.check
	if c == nil || c.token != token {
		b.mu.Unlock()
		return false, 0 // void, or overtaken by a newer check
	}
	b.check = nil
	var missing []string
	for _, ch := range c.want {
		if _, ok := b.have[ch]; !ok {
			missing = append(missing, ch)
		}
	}
	if len(missing) == 0 {
		retries = b.checkFails
		b.checkReq, b.checkFails = false, 0
		b.mu.Unlock()
		return true, retries
	}
	b.checkFails++
	fails := b.checkFails
	wait := b.backoff(fails + 1)
	b.checkReq, b.checkAt = true, time.Now().Add(wait)
	b.mu.Unlock()
	b.wakeSyncer() // it sets its timer

	// One warning per episode; the retries go to the debug log.
	level := slog.LevelDebug
	if fails == 1 {
		level = slog.LevelWarn
	}
	const show = 10
	b.log.Log(b.ctx, level, "redisbus: pub/sub channels not subscribed; retrying",
		"missing", len(missing), "wanted", len(c.want),
		"channels", missing[:min(len(missing), show)],
		"err", refusal, "attempt", fails, "retry_in", wait)
	return false, 0
}

// settled records that Redis has confirmed every channel: a lost or
// replaced connection has been re-established, or channels it had refused
// are subscribed at last.
func (b *Bus) settled(broken *bool, retries int) {
	switch {
	case *broken:
		*broken = false
		b.reconnects.Add(1)
		if retries > 0 {
			b.log.Info("redisbus: pub/sub connection re-established", "retries", retries)
		} else {
			b.log.Info("redisbus: pub/sub connection re-established")
		}
	case retries > 0:
		b.log.Info("redisbus: pub/sub channels subscribed again", "retries", retries)
	}
}

// nextPubSub waits until ps has been replaced and returns its successor, or
// nil once the bus is closed.
func (b *Bus) nextPubSub(ps *redis.PubSub) *redis.PubSub {
	for {
		b.mu.RLock()
		cur, swapped := b.ps, b.swapped
		b.mu.RUnlock()
		if cur != ps {
			return cur
		}
		select {
		case <-swapped:
		case <-b.ctx.Done():
			return nil
		}
	}
}

// backoff returns how long the reader waits after its nth consecutive
// failure: 50 ms, doubling up to a second, and to half the health check
// interval so that the reader answers the health checker's PING in time.
func (b *Bus) backoff(n int) time.Duration {
	d := maxBackoff
	if b.healthEvery > 0 {
		d = min(d, b.healthEvery/2)
	}
	if n < 8 {
		d = min(d, 50*time.Millisecond<<(n-2))
	}
	return d
}

// sleep waits for d; it returns false if the bus was closed meanwhile.
func (b *Bus) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.ctx.Done():
		return false
	}
}

func (b *Bus) signalLost() {
	b.mu.Lock()
	close(b.lost)
	b.lost = make(chan struct{})
	b.mu.Unlock()
}

// dispatch appends a message to the queue of every subscription of its
// channel.
func (b *Bus) dispatch(m *redis.Message) {
	ch, ok := strings.CutPrefix(m.Channel, b.prefix)
	if !ok {
		return
	}
	b.mu.RLock()
	subs := b.subs[ch]
	b.mu.RUnlock()
	if len(subs) == 0 {
		return // a channel being unsubscribed
	}
	payload := []byte(m.Payload) // one copy, shared by the handlers
	for _, s := range subs {
		if !s.enqueue(payload) {
			b.dropped.Add(1)
		}
	}
}

// pong has the subscription whose PING this replies to take messages from
// now on, and wakes its Subscribe.
func (b *Bus) pong(token string) {
	b.mu.Lock()
	w, ok := b.pongs[token]
	delete(b.pongs, token)
	b.mu.Unlock()
	if ok {
		w.s.accept()
		close(w.done)
	}
}

// syncLoop is the syncer: it alone sends SUBSCRIBE and UNSUBSCRIBE, so that
// they reach Redis in the order of the changes they reflect; it sends the
// checks of the subscriptions, and replaces the PubSub when the health
// checker asks.
func (b *Bus) syncLoop() {
	defer b.wg.Done()
	// retry wakes the syncer when a check is due after a back-off.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	first := true
	for {
		select {
		case <-b.kick:
		case <-retry.C:
		case <-b.ctx.Done():
			return
		}

		b.mu.Lock()
		gen, ps, replace := b.wantGen, b.ps, b.replaceReq
		b.replaceReq = false
		if replace {
			b.replacing = true
			clear(b.told)
		}
		var add, drop []string
		if _, ok := b.told[""]; b.cluster && !ok {
			b.told[""] = struct{}{}
			add = append(add, b.prefix)
		}
		for ch := range b.subs {
			if _, ok := b.told[ch]; !ok {
				b.told[ch] = struct{}{}
				add = append(add, b.prefix+ch)
			}
		}
		for ch := range b.told {
			if _, ok := b.subs[ch]; !ok && !(b.cluster && ch == "") {
				delete(b.told, ch)
				drop = append(drop, b.prefix+ch)
			}
		}
		var check *subCheck
		if b.checkReq {
			if wait := time.Until(b.checkAt); wait > 0 {
				retry.Reset(wait)
			} else {
				check = b.newCheckLocked(&add)
			}
		}
		b.mu.Unlock()

		if replace {
			// The old connection is closed before the new one subscribes,
			// so that no message arrives through both.
			old := ps
			ps = b.client.Subscribe(b.ctx)
			_ = old.Close()
		}
		if len(drop) > 0 {
			if err := ps.Unsubscribe(b.ctx, drop...); err != nil {
				b.log.Debug("redisbus: unsubscribe", "err", err)
			}
		}
		if len(add) > 0 {
			err := ps.Subscribe(b.ctx, add...)
			if err != nil && !errors.Is(err, redis.ErrClosed) {
				// When the write fails, go-redis reconnects at once, but
				// records the new channels only afterwards: the new
				// connection lacks them. Saying it again fixes that; if
				// this fails too, the channels are recorded by now, and
				// the next connection will have them.
				err = ps.Subscribe(b.ctx, add...)
			}
			if err != nil {
				b.log.Debug("redisbus: subscribe", "err", err)
			}
		}
		if check != nil {
			b.sendCheck(ps, check)
		}

		b.mu.Lock()
		if replace {
			if b.closed {
				b.mu.Unlock()
				_ = ps.Close()
				return
			}
			b.ps, b.replacing = ps, false
			close(b.swapped)
			b.swapped = make(chan struct{})
		}
		b.doneGen = gen
		close(b.synced)
		b.synced = make(chan struct{})
		b.mu.Unlock()
		if first {
			first = false
			close(b.ready)
		}
	}
}

// newCheckLocked starts a check of the subscriptions, of every channel in
// b.told. After a failed check, it first has the syncer subscribe again
// (in *add) the channels that Redis has not confirmed and that the syncer
// does not subscribe anyway. b.mu is held.
func (b *Bus) newCheckLocked(add *[]string) *subCheck {
	b.checkReq = false
	b.checkSeq++
	c := &subCheck{token: checkPrefix + strconv.FormatUint(b.checkSeq, 10)}
	for ch := range b.told {
		name := b.prefix + ch
		c.want = append(c.want, name)
		if _, ok := b.have[name]; !ok && b.checkFails > 0 && !slices.Contains(*add, name) {
			*add = append(*add, name)
		}
	}
	b.check = c
	return c
}

// sendCheck sends the PING of check. When it cannot, and no newer check or
// reconnection has voided it, the check is tried again after a back-off.
func (b *Bus) sendCheck(ps *redis.PubSub, check *subCheck) {
	err := ps.Ping(b.ctx, check.token)
	if err == nil || b.ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
		return // ErrClosed: the client is closed
	}
	b.mu.Lock()
	again := b.check == check
	if again {
		b.check = nil
		b.checkReq, b.checkAt = true, time.Now().Add(b.backoff(b.checkFails+2))
	}
	b.mu.Unlock()
	if again {
		b.wakeSyncer() // to set the timer
	}
}

// healthLoop is the health checker: it pings a silent connection, and has
// the syncer replace it when the reply does not come.
func (b *Bus) healthLoop() {
	defer b.wg.Done()
	select {
	case <-b.ready:
	case <-b.ctx.Done():
		return
	}
	t := time.NewTicker(b.healthEvery)
	defer t.Stop()
	var seen uint64
	pinged := false
	for {
		select {
		case <-t.C:
		case <-b.ctx.Done():
			return
		}
		if n := b.reads.Load(); n != seen {
			seen, pinged = n, false
			continue
		}
		if pinged {
			pinged = false
			b.log.Warn("redisbus: pub/sub connection silent; replacing it", "no_reply_within", b.healthEvery)
			b.mu.Lock()
			b.replaceReq = true
			b.mu.Unlock()
			b.wakeSyncer()
			continue
		}
		b.mu.RLock()
		ps := b.ps
		b.mu.RUnlock()
		ctx, cancel := context.WithTimeout(b.ctx, b.healthEvery)
		// An error means that go-redis has found the connection broken (or
		// Redis unreachable), and deals with it.
		pinged = ps.Ping(ctx, healthToken) == nil
		cancel()
	}
}

// unique returns channels without repetitions, in their first order.
func unique(channels []string) []string {
	out := make([]string, 0, len(channels))
	for _, ch := range channels {
		if !slices.Contains(out, ch) {
			out = append(out, ch)
		}
	}
	return out
}
