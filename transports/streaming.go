package transports

import (
	"net/http"

	"github.com/sockjs-cluster/sockjs/internal/httpx"
)

// serveStream writes frames to one long response until the response limit,
// a close frame, or the client's departure. Each frame is flushed as its own
// chunk. The prelude does not count towards the limit.
func serveStream(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string, contentType []string, prelude []byte, wrap func(dst, f []byte) []byte) {
	drainBody(r)
	ctx := r.Context()
	cfg.Prepare(w, r)
	rc, err := s.Receive(ctx, r, id, KindStreaming)
	if err != nil {
		answerError(cfg, w, r, err)
		return
	}
	h := w.Header()
	h["Content-Type"] = contentType
	httpx.NoCache(h)
	ctl := http.NewResponseController(w)
	writeDeadline(ctl, cfg.WriteTimeout)
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(prelude); err != nil {
		rc.Release(true)
		return
	}
	if err := ctl.Flush(); err != nil {
		rc.Release(true)
		return
	}

	var buf, out []byte
	sent := 0
	for {
		b, err := rc.Next(ctx)
		if err != nil {
			rc.Release(true)
			return
		}
		buf, err = eachFrame(b, buf, func(f []byte) error {
			out = wrap(out[:0], f)
			writeDeadline(ctl, cfg.WriteTimeout)
			if _, err := w.Write(out); err != nil {
				return err
			}
			sent += len(out)
			return ctl.Flush()
		})
		if err != nil {
			rc.Release(true)
			return
		}
		if b.ends() || sent >= cfg.ResponseLimit {
			rc.Release(false)
			return
		}
	}
}
