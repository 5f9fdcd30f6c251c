package sockjs

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sockjs-cluster/sockjs/internal/httpx"
	"github.com/sockjs-cluster/sockjs/transports"
)

// refusalLogEvery is the least time between two log lines of one kind of
// refusal on one route; the refusals in between are counted and the count
// goes with the next line.
const refusalLogEvery = 10 * time.Second

// logLimit rate-limits one kind of log line, so that a flood of refused
// clients does not flood the log.
type logLimit struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// take reports whether a line may be logged now and how many were
// suppressed since the last one.
func (l *logLimit) take(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(refusalLogEvery)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// refusals are a route's rate-limited refusal logs.
type refusals struct {
	origin, authorize logLimit
}

// authorize runs Options.Authorize for a request that would create a
// session; a refusal is logged (at Info, rate-limited) and returned
// wrapping transports.ErrForbidden.
func (rt *route) authorize(r *http.Request) error {
	if rt.opts.Authorize == nil {
		return nil
	}
	err := rt.opts.Authorize(r)
	if err == nil {
		return nil
	}
	if ok, suppressed := rt.refused.authorize.take(time.Now()); ok {
		rt.log.Info("sockjs: session refused by Authorize (answered 403)",
			"path", r.URL.Path, "remote", r.RemoteAddr, "err", err, "suppressed", suppressed)
	}
	return fmt.Errorf("%w: %w", transports.ErrForbidden, err)
}

// refuseWebSocket answers 403, before upgrading, a websocket handshake that
// Authorize refuses; it reports whether it did.
func (rt *route) refuseWebSocket(w http.ResponseWriter, r *http.Request) bool {
	if rt.opts.Authorize == nil || r.Method != http.MethodGet || !httpx.IsWebSocketUpgrade(r) {
		return false
	}
	if rt.authorize(r) == nil {
		return false
	}
	httpx.Text(w, http.StatusForbidden, "Forbidden.")
	return true
}

// logOriginRefused logs a websocket handshake refused for its origin (at
// Warn, rate-limited): sockjs-client falls back to another transport
// without a word, and this line is the trace of why.
func (rt *route) logOriginRefused(r *http.Request, why string) {
	ok, suppressed := rt.refused.origin.take(time.Now())
	if !ok {
		return
	}
	rt.log.LogAttrs(r.Context(), slog.LevelWarn, "sockjs: websocket refused for its origin; the client falls back to another transport",
		slog.String("origin", r.Header.Get("Origin")), slog.String("host", r.Host),
		slog.String("why", why), slog.Int("suppressed", suppressed))
}
