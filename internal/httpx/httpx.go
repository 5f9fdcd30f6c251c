// Package httpx holds the HTTP header rules SockJS shares between its
// endpoints: caching, CORS and the JSESSIONID cookie.
package httpx

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OneYear is the max-age of cacheable SockJS responses.
const OneYear = 365 * 24 * time.Hour

// NoCache forbids any caching: SockJS sends private data over GET.
func NoCache(h http.Header) {
	h["Cache-Control"] = noCache
}

// Shared header values. Every response of the hot paths sets them, so they
// are set as shared slices rather than allocated each time: net/http only
// reads the values it is given, and Header.Add appends to a copy (each
// slice is full). Nothing may write through them.
var (
	noCache    = []string{"no-store, no-cache, no-transform, must-revalidate, max-age=0"}
	anyOrigin  = []string{"*"}
	allowCreds = []string{"true"}
	varyOrigin = []string{"Origin"}
)

// CacheForever makes a response cacheable for a year.
func CacheForever(h http.Header) {
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(OneYear/time.Second)))
	h.Set("Expires", time.Now().Add(OneYear).UTC().Format(http.TimeFormat))
}

// CORS writes the CORS headers for r. allowed decides whether a request
// Origin may read the response (nil allows every origin, as the protocol
// expects). A request without Origin gets "*" and no credentials; a request
// with an allowed Origin (including the literal "null" of file:// pages) gets
// it echoed with credentials allowed. A disallowed origin gets no CORS
// headers at all, so the browser refuses the response.
func CORS(h http.Header, r *http.Request, allowed func(origin string) bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		h["Access-Control-Allow-Origin"] = anyOrigin
		return
	}
	if allowed != nil && !allowed(origin) {
		return
	}
	h["Access-Control-Allow-Origin"] = []string{origin}
	h["Access-Control-Allow-Credentials"] = allowCreds
	if len(h["Vary"]) == 0 {
		h["Vary"] = varyOrigin
	} else {
		h.Add("Vary", "Origin")
	}
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h.Set("Access-Control-Allow-Headers", rh)
	}
}

// Preflight answers an OPTIONS request for an endpoint accepting methods
// (e.g. "OPTIONS, POST").
func Preflight(w http.ResponseWriter, r *http.Request, methods string, allowed func(string) bool) {
	h := w.Header()
	CacheForever(h)
	h.Set("Access-Control-Max-Age", strconv.Itoa(int(OneYear/time.Second)))
	h.Set("Access-Control-Allow-Methods", methods)
	CORS(h, r, allowed)
	w.WriteHeader(http.StatusNoContent)
}

// MethodNotAllowed answers 405 with an Allow header and no body.
func MethodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	w.WriteHeader(http.StatusMethodNotAllowed)
}

// NotFound answers 404 with a short plain body.
func NotFound(w http.ResponseWriter) {
	Text(w, http.StatusNotFound, "Not found")
}

// Text writes a plain-text response.
func Text(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// IsWebSocketUpgrade reports whether r asks to be upgraded to a websocket.
func IsWebSocketUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.Contains(strings.ToLower(v), "websocket") {
			return true
		}
	}
	return false
}
