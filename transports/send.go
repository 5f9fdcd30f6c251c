package transports

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sockjs-cluster/sockjs/internal/frame"
	"github.com/sockjs-cluster/sockjs/internal/httpx"
)

var errTooLarge = errors.New("transports: request body too large")

// bodyPool holds the buffers send bodies are read into: the messages are
// copied out by the parser, so a buffer is free again once they are parsed.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBody is the largest buffer kept for reuse.
const maxPooledBody = 64 << 10

// readBody reads a send request's body into a pooled buffer, refusing more
// than limit bytes without reading past the limit. The buffer grows with
// what arrives, never with what Content-Length announces beyond
// announceTrust: a client that announces a megabyte and sends nothing
// costs no megabyte. The caller hands the buffer back with putBody once
// done with the bytes.
func readBody(r *http.Request, limit int64) (*[]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	bp := bodyPool.Get().(*[]byte)
	if r.Body == nil {
		return bp, nil
	}
	b := (*bp)[:0]
	if n := min(r.ContentLength, announceTrust); n > int64(cap(b)) {
		b = make([]byte, 0, n+1) // +1: room to see the end of the body
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		room := cap(b) - len(b)
		if over := int64(len(b)) + int64(room) - (limit + 1); over > 0 {
			room -= int(over)
		}
		n, err := r.Body.Read(b[len(b) : len(b)+room])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			*bp = b
			putBody(bp)
			return nil, errTooLarge
		}
		if err == io.EOF {
			*bp = b
			return bp, nil
		}
		if err != nil {
			*bp = b
			putBody(bp)
			return nil, err
		}
	}
}

// announceTrust is how much of a body's announced length is allocated
// before it arrives.
const announceTrust = 16 << 10

func putBody(bp *[]byte) {
	if cap(*bp) > maxPooledBody {
		return
	}
	*bp = (*bp)[:0]
	bodyPool.Put(bp)
}

// parseSendBody turns a send request's body into messages. A form-encoded
// body (jsonp_send from a browser form) carries the payload in field d;
// anything else is the payload itself.
func parseSendBody(contentType string, body []byte) ([]string, error) {
	if isForm(contentType) {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, frame.ErrBrokenJSON
		}
		body = []byte(vals.Get("d"))
	}
	return frame.ParseMessages(body)
}

func isForm(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// serveSend runs the common part of xhr_send and jsonp_send and returns
// whether the messages were accepted (the caller writes the success answer).
func serveSend(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string, form bool) bool {
	cfg.Prepare(w, r)
	ctl := http.NewResponseController(w)
	if cfg.BodyTimeout > 0 {
		// A body that trickles in holds a goroutine and its buffer: it
		// has BodyTimeout to arrive whole.
		_ = ctl.SetReadDeadline(time.Now().Add(cfg.BodyTimeout))
	}
	bp, err := readBody(r, cfg.MaxBodySize)
	switch {
	case cfg.BodyTimeout <= 0:
	case err == nil:
		_ = ctl.SetReadDeadline(time.Time{})
	default:
		// The connection is closed after the answer: leave no time for
		// net/http to drain the rest of a trickling body first.
		_ = ctl.SetReadDeadline(time.Now())
	}
	switch {
	case errors.Is(err, errTooLarge):
		w.Header().Set("Connection", "close")
		httpx.Text(w, http.StatusRequestEntityTooLarge, "Payload too large.")
		return false
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		httpx.Text(w, http.StatusRequestTimeout, "Request body too slow.")
		return false
	case err != nil:
		// The client went away or sent a broken body.
		httpx.Text(w, http.StatusBadRequest, "Broken request body.")
		return false
	}
	ct := ""
	if form {
		ct = r.Header.Get("Content-Type")
	}
	msgs, err := parseSendBody(ct, *bp)
	putBody(bp)
	if err != nil {
		httpx.Text(w, http.StatusInternalServerError, err.Error())
		return false
	}
	if err := s.Send(r.Context(), r, id, msgs); err != nil {
		if errors.Is(err, ErrNotFound) {
			httpx.NotFound(w)
			return false
		}
		answerError(cfg, w, r, err)
		return false
	}
	return true
}

// XHRSend serves POST /{server}/{session}/xhr_send: a JSON array of
// messages, answered with 204.
func XHRSend(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	if !serveSend(cfg, s, w, r, id, false) {
		return
	}
	h := w.Header()
	h["Content-Type"] = plainType
	httpx.NoCache(h)
	w.WriteHeader(http.StatusNoContent)
}

// JSONPSend serves POST /{server}/{session}/jsonp_send: the payload as form
// field d or as the raw body, answered with 200 "ok" (some browsers
// mishandle 204 here).
func JSONPSend(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	if !serveSend(cfg, s, w, r, id, true) {
		return
	}
	h := w.Header()
	h["Content-Type"] = plainType
	h.Set("Content-Length", strconv.Itoa(2))
	httpx.NoCache(h)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}
