package transports

import (
	"net/http"

	"github.com/sockjs-cluster/sockjs/internal/httpx"
)

// Content types, as header values shared by every response (httpx.Value).
var (
	javascriptType = httpx.Value("application/javascript; charset=UTF-8")
	plainType      = httpx.Value("text/plain; charset=UTF-8")
	htmlType       = httpx.Value("text/html; charset=UTF-8")
	eventType      = httpx.Value("text/event-stream")
)

// XHRPolling serves POST /{server}/{session}/xhr: one frame per response,
// each followed by a newline.
func XHRPolling(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	servePoll(cfg, s, w, r, id, javascriptType, appendLine)
}

func appendLine(dst, f []byte) []byte {
	dst = append(dst, f...)
	return append(dst, '\n')
}
