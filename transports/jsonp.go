package transports

import (
	"net/http"

	"github.com/sockjs-cluster/sockjs/internal/frame"
	"github.com/sockjs-cluster/sockjs/internal/httpx"
)

// JSONP serves GET /{server}/{session}/jsonp?c=callback: one frame per
// response, as /**/callback("frame");. The leading comment defeats content
// sniffing attacks that use the callback name as the start of the file.
func JSONP(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	cb, ok := callback(w, r)
	if !ok {
		return
	}
	servePoll(cfg, s, w, r, id, javascriptType, func(dst, f []byte) []byte {
		dst = append(dst, "/**/"...)
		dst = append(dst, cb...)
		dst = append(dst, '(')
		dst = frame.AppendJSString(dst, string(f))
		return append(dst, ");\r\n"...)
	})
}

// callback reads and checks the c parameter, answering 500 when it is
// missing or unsafe.
func callback(w http.ResponseWriter, r *http.Request) (string, bool) {
	cb := r.URL.Query().Get("c")
	if cb == "" {
		httpx.Text(w, http.StatusInternalServerError, `"callback" parameter required`)
		return "", false
	}
	if !frame.ValidCallback(cb) {
		httpx.Text(w, http.StatusInternalServerError, `invalid "callback" parameter`)
		return "", false
	}
	return cb, true
}
