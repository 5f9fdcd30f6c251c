package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sockjs-cluster/sockjs"
	"github.com/sockjs-cluster/sockjs/sockjsprom"
)

// newMetrics returns the node's Observer and the /metrics handler: the
// node's sockjs_ metrics and the Go runtime's and process's, on a registry
// of their own (nothing global).
func newMetrics() (sockjs.Observer, http.Handler) {
	obs := sockjsprom.New(sockjsprom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(obs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return obs, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// withOps serves GET /readyz (the node's readiness) and, when metrics is
// not nil, GET /metrics beside h.
func withOps(h http.Handler, node *sockjs.Server, metrics http.Handler) http.Handler {
	ready := node.ReadyHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/readyz" && r.Method == http.MethodGet:
			ready.ServeHTTP(w, r)
		case r.URL.Path == "/metrics" && r.Method == http.MethodGet && metrics != nil:
			metrics.ServeHTTP(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// metricsHandler, set by main from the -metrics flag before the server
// starts, serves /metrics; nil means no metrics.
var metricsHandler http.Handler
