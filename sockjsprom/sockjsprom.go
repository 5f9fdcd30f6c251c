// Package sockjsprom exposes what a sockjs node does as Prometheus metrics.
// It lives in a module of its own, so that applications that do not use
// Prometheus do not depend on its client library.
//
//	obs := sockjsprom.New(sockjsprom.Options{})
//	if err := obs.Register(prometheus.DefaultRegisterer); err != nil { ... }
//	node := sockjs.NewServer(sockjs.Config{Observer: obs, ...})
//	mux.Handle("/metrics", promhttp.Handler())
//
// Nothing is registered globally: the application chooses the registry
// (an Observer is also a prometheus.Collector). One Observer serves one
// node (sockjs.Server); give each node of a process its own, with its own
// registry or a distinguishing constant label (Options.ConstLabels).
//
// # Metrics
//
// Every name starts with sockjs_. Labels are bounded: route is a route's
// name, transport one of the transport names listed in sockjs.Observer,
// call a store.Store method name, cause a slow-consumer cause, code a
// close code from a fixed set.
//
//	sockjs_sessions_opened_total{route,transport}       sessions created by this node
//	sockjs_sessions_closed_total{route,transport,code}  sessions whose OnClose ran on this node
//	sockjs_sessions_open{route,transport}               opened minus closed, on this node
//	sockjs_messages_received_total{route,transport}     messages from clients
//	sockjs_messages_sent_total{route,transport}         messages handed to clients
//	sockjs_sent_bytes_total{route,transport}            their bytes (before framing)
//	sockjs_broadcasts_total{route}                      broadcasts made by this node
//	sockjs_slow_consumer_closes_total{route,cause}      sessions closed with 1008 for falling behind
//	sockjs_another_connection_total{route,transport}    requests answered c[2010,...]
//	sockjs_store_call_duration_seconds{route,call}      store call latency (histogram)
//	sockjs_store_errors_total{route,call}               store calls that failed
//	sockjs_bus_publishes_total{route}                   messages published on the bus
//	sockjs_bus_publish_errors_total{route}              publishes that failed
//	sockjs_bus_lag_seconds{route}                       self-ping publish-to-receive lag (histogram)
//	sockjs_bus_reconnects_total                         bus connections re-established (pubsub.Stats)
//	sockjs_bus_dropped_total                            bus messages dropped by full queues (pubsub.Stats)
//	sockjs_lease_renewals_total{route,result}           node lease renewals, result "ok" or "failed"
//
// code is "expired" for a session that expired without being closed, the
// code itself for the codes the server uses (1000, 1001, 1002, 1008, 1011)
// and SockJS's 3000, "app" for the other application codes (3001 to 4999)
// and "other" for the rest.
//
// In a cluster each session is counted opened on the node that created it
// and closed on the node that ran its OnClose, once cluster-wide: the sum
// of sockjs_sessions_open over the nodes is the number of sessions open in
// the cluster, while one node's value is only its share of that balance
// (it may be negative). A node that crashes takes its counts with it while
// its sessions expire on other nodes, so the sum drifts below the truth
// after a crash until the crashed node's counters are gone from the
// query's range: use the store's count (sockjs.Manager.Count) for the
// exact figure.
//
// sockjs_store_errors_total leaves out the outcomes the protocol expects
// (the sentinel errors of package store: a session not found, busy,
// closed, a full queue...) and calls whose context was canceled; the
// latency histogram counts every call.
package sockjsprom

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/store"
)

// Options configure an Observer. The zero value is ready to use.
type Options struct {
	// ConstLabels are added to every metric (e.g. {"node": "a"}).
	ConstLabels prometheus.Labels
	// StoreBuckets are the buckets of sockjs_store_call_duration_seconds,
	// in seconds. Nil means 100µs to about 3s, doubling.
	StoreBuckets []float64
	// LagBuckets are the buckets of sockjs_bus_lag_seconds, in seconds.
	// Nil means 100µs to about 3s, doubling.
	LagBuckets []float64
}

// Observer is a sockjs.Observer that keeps Prometheus metrics; it is a
// prometheus.Collector too. Its methods are safe for concurrent use.
type Observer struct {
	sockjs.NopObserver

	opened, closed, received, sent, sentBytes *prometheus.CounterVec
	open                                      *prometheus.GaugeVec
	broadcasts, slow, another                 *prometheus.CounterVec
	storeDur                                  *prometheus.HistogramVec
	storeErrs                                 *prometheus.CounterVec
	published, publishErrs                    *prometheus.CounterVec
	lag                                       *prometheus.HistogramVec
	leases                                    *prometheus.CounterVec
	reconnects, dropped                       prometheus.CounterFunc

	busReconnects, busDropped atomic.Uint64

	collectors []prometheus.Collector
}

var (
	_ sockjs.Observer      = (*Observer)(nil)
	_ prometheus.Collector = (*Observer)(nil)
)

func defaultBuckets() []float64 { return prometheus.ExponentialBuckets(0.0001, 2, 16) }

// New returns an Observer; register it (Register) before its metrics can
// be scraped.
func New(opts Options) *Observer {
	if opts.StoreBuckets == nil {
		opts.StoreBuckets = defaultBuckets()
	}
	if opts.LagBuckets == nil {
		opts.LagBuckets = defaultBuckets()
	}
	cl := opts.ConstLabels
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: cl}, labels)
	}
	o := &Observer{
		opened:      counter("sockjs_sessions_opened_total", "Sessions created by this node.", "route", "transport"),
		closed:      counter("sockjs_sessions_closed_total", "Sessions whose OnClose ran on this node, by close code.", "route", "transport", "code"),
		received:    counter("sockjs_messages_received_total", "Messages received from clients.", "route", "transport"),
		sent:        counter("sockjs_messages_sent_total", "Messages handed to clients.", "route", "transport"),
		sentBytes:   counter("sockjs_sent_bytes_total", "Bytes of the messages handed to clients, before framing.", "route", "transport"),
		broadcasts:  counter("sockjs_broadcasts_total", "Broadcasts made by this node.", "route"),
		slow:        counter("sockjs_slow_consumer_closes_total", "Sessions closed with 1008 for falling behind.", "route", "cause"),
		another:     counter("sockjs_another_connection_total", "Receiving requests answered c[2010,\"Another connection still open\"].", "route", "transport"),
		storeErrs:   counter("sockjs_store_errors_total", "Store calls that failed (expected outcomes and canceled calls left out).", "route", "call"),
		published:   counter("sockjs_bus_publishes_total", "Messages published on the bus.", "route"),
		publishErrs: counter("sockjs_bus_publish_errors_total", "Bus publishes that failed.", "route"),
		leases:      counter("sockjs_lease_renewals_total", "Node lease renewals, by result (ok, failed).", "route", "result"),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sockjs_sessions_open", ConstLabels: cl,
			Help: "Sessions opened minus sessions closed on this node; summed over a cluster's nodes, the sessions open in the cluster.",
		}, []string{"route", "transport"}),
		storeDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sockjs_store_call_duration_seconds", ConstLabels: cl, Buckets: opts.StoreBuckets,
			Help: "Latency of the store's calls.",
		}, []string{"route", "call"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sockjs_bus_lag_seconds", ConstLabels: cl, Buckets: opts.LagBuckets,
			Help: "Publish-to-receive lag of the node's readiness self-ping through the bus.",
		}, []string{"route"}),
	}
	o.reconnects = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sockjs_bus_reconnects_total", ConstLabels: cl,
		Help: "Times the node's buses re-established their connection (messages published meanwhile were lost).",
	}, func() float64 { return float64(o.busReconnects.Load()) })
	o.dropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sockjs_bus_dropped_total", ConstLabels: cl,
		Help: "Bus messages dropped because a subscription's queue was full.",
	}, func() float64 { return float64(o.busDropped.Load()) })
	o.collectors = []prometheus.Collector{
		o.opened, o.closed, o.open, o.received, o.sent, o.sentBytes,
		o.broadcasts, o.slow, o.another, o.storeDur, o.storeErrs,
		o.published, o.publishErrs, o.lag, o.reconnects, o.dropped, o.leases,
	}
	return o
}

// Register registers the Observer's metrics on r.
func (o *Observer) Register(r prometheus.Registerer) error {
	return r.Register(o)
}

// Describe implements prometheus.Collector.
func (o *Observer) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range o.collectors {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (o *Observer) Collect(ch chan<- prometheus.Metric) {
	for _, c := range o.collectors {
		c.Collect(ch)
	}
}

// CodeLabel is the code label of a close code (see the package doc).
func CodeLabel(code int) string {
	switch code {
	case 0:
		return "expired"
	case 1000, 1001, 1002, 1008, 1011, 3000:
		return strconv.Itoa(code)
	}
	if code > 3000 && code < 5000 {
		return "app"
	}
	return "other"
}

// SessionOpened implements sockjs.Observer.
func (o *Observer) SessionOpened(route, transport string) {
	o.opened.WithLabelValues(route, transport).Inc()
	o.open.WithLabelValues(route, transport).Inc()
}

// SessionClosed implements sockjs.Observer.
func (o *Observer) SessionClosed(route, transport string, code int) {
	o.closed.WithLabelValues(route, transport, CodeLabel(code)).Inc()
	o.open.WithLabelValues(route, transport).Dec()
}

// MessagesReceived implements sockjs.Observer.
func (o *Observer) MessagesReceived(route, transport string, n int) {
	o.received.WithLabelValues(route, transport).Add(float64(n))
}

// MessagesSent implements sockjs.Observer.
func (o *Observer) MessagesSent(route, transport string, n, bytes int) {
	o.sent.WithLabelValues(route, transport).Add(float64(n))
	o.sentBytes.WithLabelValues(route, transport).Add(float64(bytes))
}

// Broadcast implements sockjs.Observer.
func (o *Observer) Broadcast(route string) { o.broadcasts.WithLabelValues(route).Inc() }

// SlowConsumer implements sockjs.Observer.
func (o *Observer) SlowConsumer(route, cause string) { o.slow.WithLabelValues(route, cause).Inc() }

// AnotherConnection implements sockjs.Observer.
func (o *Observer) AnotherConnection(route, transport string) {
	o.another.WithLabelValues(route, transport).Inc()
}

// StoreCall implements sockjs.Observer.
func (o *Observer) StoreCall(route, call string, d time.Duration, err error) {
	o.storeDur.WithLabelValues(route, call).Observe(d.Seconds())
	if failed(err) {
		o.storeErrs.WithLabelValues(route, call).Inc()
	}
}

// failed tells a store failure from the outcomes the protocol expects.
func failed(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, store.ErrNotFound),
		errors.Is(err, store.ErrReceiverBusy),
		errors.Is(err, store.ErrNotReceiver),
		errors.Is(err, store.ErrClosed),
		errors.Is(err, store.ErrQueueFull),
		errors.Is(err, store.ErrNodeLease),
		errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// BusPublished implements sockjs.Observer.
func (o *Observer) BusPublished(route string, err error) {
	o.published.WithLabelValues(route).Inc()
	if err != nil {
		o.publishErrs.WithLabelValues(route).Inc()
	}
}

// BusLag implements sockjs.Observer.
func (o *Observer) BusLag(route string, lag time.Duration) {
	o.lag.WithLabelValues(route).Observe(lag.Seconds())
}

// BusStats implements sockjs.Observer.
func (o *Observer) BusStats(s pubsub.Stats) {
	o.busReconnects.Store(s.Reconnects)
	o.busDropped.Store(s.Dropped)
}

// LeaseRenewed implements sockjs.Observer.
func (o *Observer) LeaseRenewed(route string, err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	o.leases.WithLabelValues(route, result).Inc()
}
