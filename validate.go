package sockjs

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

// transportNames are the names Options.DisabledTransports accepts.
var transportNames = []string{
	TransportWebSocket, TransportXHR, TransportXHRStreaming,
	TransportEventSource, TransportHTMLFile, TransportJSONP,
}

// Validate reports what is wrong with cfg: a NodeID containing '/',
// whitespace or control characters (it names the node in bus channels and
// lease holders). The zero Config is valid. NewServer panics with this
// error.
func (cfg Config) Validate() error {
	if i := strings.IndexFunc(cfg.NodeID, func(r rune) bool {
		return r == '/' || unicode.IsSpace(r) || unicode.IsControl(r)
	}); i >= 0 {
		return fmt.Errorf("sockjs: Config.NodeID %q: must not contain '/', whitespace or control characters", cfg.NodeID)
	}
	if cfg.MaxBufferedBytes < 0 {
		return fmt.Errorf("sockjs: Config.MaxBufferedBytes %d: must not be negative (zero means the default)", cfg.MaxBufferedBytes)
	}
	return nil
}

// Validate reports what is wrong with o, every problem it finds joined in
// one error, each naming its field: negative durations and sizes (zero
// means the default; there is no "off"), DisabledTransports entries that
// are not Transport* names, WebSocketOrigins and CORSOrigins entries that
// are not origins ("scheme://host[:port]" without a path, or "null"),
// RequestHeaders entries that are not header names. The
// zero Options is valid. Server.RouteContext returns this error and
// Server.Route panics with it.
func (o Options) Validate() error {
	var errs []error
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"HeartbeatDelay", o.HeartbeatDelay},
		{"DisconnectDelay", o.DisconnectDelay},
		{"SendTimeout", o.SendTimeout},
		{"MessageTimeout", o.MessageTimeout},
		{"WriteTimeout", o.WriteTimeout},
		{"ReceiverLease", o.ReceiverLease},
	}
	for _, f := range durations {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("sockjs: Options.%s is negative (%v); zero means the default", f.name, f.d))
		}
	}
	sizes := []struct {
		name string
		n    int64
	}{
		{"ResponseLimit", int64(o.ResponseLimit)},
		{"MaxBodySize", o.MaxBodySize},
		{"MaxSessionID", int64(o.MaxSessionID)},
		{"MaxMessageSize", o.MaxMessageSize},
		{"MaxQueue", int64(o.MaxQueue)},
		{"MaxQueueBytes", int64(o.MaxQueueBytes)},
		{"MaxStoredRequest", int64(o.MaxStoredRequest)},
	}
	for _, f := range sizes {
		if f.n < 0 {
			errs = append(errs, fmt.Errorf("sockjs: Options.%s is negative (%d); zero means the default", f.name, f.n))
		}
	}
	for _, t := range o.DisabledTransports {
		if !slices.Contains(transportNames, t) {
			errs = append(errs, fmt.Errorf("sockjs: Options.DisabledTransports: unknown transport %q; valid names are %s",
				t, strings.Join(transportNames, ", ")))
		}
	}
	for _, origin := range o.WebSocketOrigins {
		if err := checkOriginEntry(origin); err != nil {
			errs = append(errs, fmt.Errorf("sockjs: Options.WebSocketOrigins: %w", err))
		}
	}
	for _, origin := range o.CORSOrigins {
		if err := checkOriginEntry(origin); err != nil {
			errs = append(errs, fmt.Errorf("sockjs: Options.CORSOrigins: %w", err))
		}
	}
	for _, h := range o.RequestHeaders {
		if h == "" || strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == ':' || r >= 0x7f }) {
			errs = append(errs, fmt.Errorf("sockjs: Options.RequestHeaders: %q is not a header name", h))
		}
	}
	return errors.Join(errs...)
}

// checkOriginEntry checks one entry of an origin list: browsers send
// "scheme://host[:port]" exactly, or "null" (file:// pages, sandboxed
// frames), so anything else never matches.
func checkOriginEntry(origin string) error {
	if origin == "null" {
		return nil
	}
	if origin == "*" {
		return fmt.Errorf("%q matches nothing (the list is compared exactly); see the field's doc for allowing every origin", origin)
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		(u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(origin, "/") || strings.HasSuffix(origin, "?")) {
		return fmt.Errorf("%q is not an origin (scheme://host[:port], without path or trailing slash)", origin)
	}
	return nil
}

// checkRoute checks Route's name and prefix: a name is not empty, and a
// prefix is empty (the route serves the root) or starts with '/'.
func checkRoute(name, prefix string) error {
	if name == "" {
		return errors.New("sockjs: route name is empty")
	}
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("sockjs: route %q: prefix %q must start with '/' (or be empty for the root)", name, prefix)
	}
	return nil
}
