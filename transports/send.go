package transports

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sockjs-cluster/sockjs/internal/frame"
	"github.com/sockjs-cluster/sockjs/internal/httpx"
)

var errTooLarge = errors.New("transports: request body too large")

// readBody reads a send request's body, refusing more than limit bytes
// without reading past the limit.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
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
	body, err := readBody(r, cfg.MaxBodySize)
	switch {
	case errors.Is(err, errTooLarge):
		w.Header().Set("Connection", "close")
		httpx.Text(w, http.StatusRequestEntityTooLarge, "Payload too large.")
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
	msgs, err := parseSendBody(ct, body)
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
	h.Set("Content-Type", "text/plain; charset=UTF-8")
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
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(2))
	httpx.NoCache(h)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}
