package main

import (
	"context"
	"fmt"
	"log/slog"

	"time"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/pubsub"
	"github.com/sockjs-cluster/sockjs/store"
)

// config is what the test server's flags set.
type config struct {
	SockJSURL string
	Logger    *slog.Logger
	NodeID    string
	Store     store.Store     // nil: in memory
	Bus       pubsub.Bus      // nil: in memory
	Observer  sockjs.Observer // nil: no metrics

	// ReceiverLease and DisconnectDelay set every route's options of the
	// same names; zero keeps the library's defaults.
	ReceiverLease   time.Duration
	DisconnectDelay time.Duration
}

// check refuses settings the flags cannot mean.
func (c *config) check() error {
	if c.ReceiverLease < 0 {
		return fmt.Errorf("flag -receiver-lease %v: negative", c.ReceiverLease)
	}
	if c.DisconnectDelay < 0 {
		return fmt.Errorf("flag -disconnect-delay %v: negative", c.DisconnectDelay)
	}
	return nil
}

// newServer builds the node serving every test service. The node is its
// own handler: it routes by prefix without http.ServeMux's path cleaning,
// which would redirect URLs the protocol wants answered with 404.
// Background work (the ticker) stops when ctx ends.
func newServer(ctx context.Context, cfg config) *sockjs.Server {
	node := sockjs.NewServer(sockjs.Config{Logger: cfg.Logger, NodeID: cfg.NodeID, Store: cfg.Store, Bus: cfg.Bus, Observer: cfg.Observer})
	registerServices(ctx, node, sockjs.Options{
		SockJSURL:       cfg.SockJSURL,
		ReceiverLease:   cfg.ReceiverLease,
		DisconnectDelay: cfg.DisconnectDelay,
		// The protocol suite and load tools connect from anywhere: this is a
		// test server, never a model for production.
		InsecureSkipOriginCheck: true,
	})
	return node
}
