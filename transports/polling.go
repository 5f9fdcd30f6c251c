package transports

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sockjs-cluster/sockjs/internal/httpx"
)

// servePoll answers a polling request with the first frame the session has.
// The receiver is released before the response is written, so the client's
// next poll, which may arrive the instant this one ends, finds the session
// free on whichever node it lands.
func servePoll(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string, contentType []string, wrap func(dst, f []byte) []byte) {
	drainBody(r)
	ctx := r.Context()
	cfg.Prepare(w, r)
	rc, err := s.Receive(ctx, r, id, KindPolling)
	if err != nil {
		answerError(cfg, w, r, err)
		return
	}
	b, err := rc.Next(ctx)
	if err != nil {
		rc.Release(true)
		return
	}
	rc.Release(false)

	var out []byte
	_, _ = eachFrame(b, nil, func(f []byte) error {
		out = wrap(out, f)
		return nil
	})
	h := w.Header()
	h["Content-Type"] = contentType
	httpx.NoCache(h)
	h.Set("Content-Length", strconv.Itoa(len(out)))
	ctl := http.NewResponseController(w)
	writeDeadline(ctl, cfg.WriteTimeout)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// answerError answers a request whose session layer refused it: 404 when
// the session is not there for this client, 403 when it may not be opened,
// 503 when the layer failed.
func answerError(cfg *Config, w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	if errors.Is(err, ErrNotFound) {
		httpx.NotFound(w)
		return
	}
	if errors.Is(err, ErrForbidden) {
		httpx.Text(w, http.StatusForbidden, "Forbidden.")
		return
	}
	cfg.Logger.Warn("sockjs: session unavailable", "path", r.URL.Path, "err", err)
	httpx.Text(w, http.StatusServiceUnavailable, "Session store unavailable.")
}
