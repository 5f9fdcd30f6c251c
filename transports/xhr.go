package transports

import "net/http"

const javascriptType = "application/javascript; charset=UTF-8"

// XHRPolling serves POST /{server}/{session}/xhr: one frame per response,
// each followed by a newline.
func XHRPolling(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	servePoll(cfg, s, w, r, id, javascriptType, appendLine)
}

func appendLine(dst, f []byte) []byte {
	dst = append(dst, f...)
	return append(dst, '\n')
}
