// Package sockjs is a SockJS server whose sessions live in a pluggable store,
// so that every HTTP request of a session may land on any node behind a
// plain round-robin load balancer: no sticky sessions.
//
// # Overview
//
// A Server is one node. Each call to Route adds a SockJS endpoint (a
// prefix, a Handler with OnOpen, OnMessage and OnClose, and Options) and
// returns its http.Handler:
//
//	node := sockjs.NewServer(sockjs.Config{})
//	chat := node.Route("chat", "/chat", sockjs.HandlerFuncs{
//		Message: func(s *sockjs.Session, msg string) {
//			node.Manager("chat").Broadcast(context.TODO(), msg)
//		},
//	}, sockjs.Options{})
//	mux.Handle("/chat/", chat)
//
// A Session is a handle valid on any node: Send, Close, per-session values
// and the opening request. A Manager (one per route, Server.Manager) counts,
// lists, finds, closes and broadcasts to a route's sessions cluster-wide.
// The zero Config runs one process with an in-memory store and bus.
// NewServer panics on an invalid Config and Route on invalid Options
// (Config.Validate, Options.Validate): configuration mistakes fail at
// start-up, not in production traffic.
//
// # Transports
//
// Every transport of SockJS protocol 0.3 is served, as the sockjs-protocol
// test suite specifies it: websocket (and the raw /websocket endpoint when
// Options.RawWebSocket is set), xhr-streaming, xhr-polling, eventsource,
// htmlfile and jsonp-polling, with xhr_send and jsonp_send for the
// client's messages, the /info and iframe pages, CORS, heartbeats, response
// limits and the JSESSIONID cookie option. Transports can be turned off per
// route (Options.DisabledTransports, Options.DisableWebSocket).
//
// # Clustering
//
// Sessions, their holds and their message queues live in a store.Store;
// nodes notify each other over a pubsub.Bus. A node holds the sessions it
// serves on one lease per route (Options.ReceiverLease), renewed every
// third of it whatever the number of sessions; a node that pauses or loses
// the store past its lease gives its holds up, and the store fences it:
// what it had not acknowledged it cannot write any more. Nodes sharing a
// store and a bus (for instance Redis) serve the same sessions: a poll may
// reach any node, at most one receiver per session is allowed cluster-wide
// (a second gets c[2010,"Another connection still open"]), and a close made
// on one node is served by the others. A websocket session is bound to its
// connection's node; other nodes reach it through the bus. The Redis
// backends are store/redis (package redisstore) and pubsub/redis (package
// redisbus); Options.SessionOwner binds sessions to an identity so that a
// leaked session id is useless to anyone else.
//
// # Concurrency
//
// Server, Manager and Session methods are safe for concurrent use. Handler
// callbacks run on request goroutines: messages of one session arrive one
// at a time and in order, different sessions' callbacks run concurrently.
// A callback may call any method of this package; a slow callback delays
// its session, so hand long work to another goroutine. A panicking callback
// is logged with its stack and its session closed with 1011.
//
// # Origins and cookies
//
// Websocket connections from browser pages of another origin are refused
// unless listed in Options.WebSocketOrigins (or allowed by
// Options.CheckOrigin); Options.InsecureSkipOriginCheck turns the check off.
// HTTP transports answer CORS requests from any origin, with credentials, as
// sockjs-client requires; Options.CORSOrigins narrows that. Session ids are
// chosen by the client: anyone who learns an id can read and inject that
// session's messages, so bind sessions with Options.SessionOwner (read back
// with Session.Owner), refuse unauthenticated clients before a session
// exists with Options.Authorize (403), and never put secrets in the URL.
// Refused websocket origins and refused sessions are logged, rate-limited. JSONP callbacks are limited to [a-zA-Z0-9_.] and prefixed with a
// comment.
//
// # Delivery guarantees
//
// While a session lives, every message sent to it reaches the client once
// and in send order, unicast and broadcast interleaved, whichever nodes its
// polls reach. A receiving request cut off mid-response closes its session
// with 1002 "Connection interrupted": what was in flight may be lost, and
// the client knows. OnClose runs exactly once per session, cluster-wide,
// when it is closed or when it expires (no receiver for
// Options.DisconnectDelay); inside it, Session.Err is a *CloseError with the
// close's code, reason and CloseCause (client, application, expired, slow
// consumer, shutdown, store failure, interrupted, panic). A websocket
// consumer that falls more than Options.MaxQueue messages behind is closed
// with 1008.
//
// # Operations
//
// Config.Observer is told what the node does (sessions, messages, store
// calls, the bus, lease renewals), for metrics, without this module
// depending on a metrics library; package sockjsprom, a module of its own,
// exposes it to Prometheus. Server.Ready and Server.ReadyHandler report
// whether the node can serve: they fail while a route's store cannot be
// reached (its node lease cannot be renewed) or its bus does not deliver
// the node's periodic ping to itself (Config.ReadinessPing and
// ReadinessTimeout).
package sockjs
