package transports

import (
	"net/http"
	"time"

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
	dl := streamDeadline{ctl: ctl, d: cfg.WriteTimeout}
	dl.refresh()
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
			dl.refresh()
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

// streamDeadline keeps a streaming response's write deadline at least half
// of d ahead of every write, setting it only when it has come closer than
// that rather than for every frame.
type streamDeadline struct {
	ctl *http.ResponseController
	d   time.Duration
	at  time.Time
}

func (dl *streamDeadline) refresh() {
	if dl.d <= 0 {
		return
	}
	now := time.Now()
	if dl.at.Sub(now) >= dl.d/2 {
		return
	}
	dl.at = now.Add(dl.d)
	_ = dl.ctl.SetWriteDeadline(dl.at)
}
