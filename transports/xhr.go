package transports

import "net/http"

// Content types, as header values shared by every response: net/http
// only reads them (see the shared values in internal/httpx).
var (
	javascriptType = []string{"application/javascript; charset=UTF-8"}
	plainType      = []string{"text/plain; charset=UTF-8"}
	htmlType       = []string{"text/html; charset=UTF-8"}
	eventType      = []string{"text/event-stream"}
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
