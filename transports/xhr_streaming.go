package transports

import (
	"bytes"
	"net/http"
)

// The xhr_streaming prelude: 2 KiB of 'h' and a newline, so that old
// browsers start handing the response to the page.
var xhrPrelude = append(bytes.Repeat([]byte{'h'}, 2048), '\n')

// XHRStreaming serves POST /{server}/{session}/xhr_streaming.
func XHRStreaming(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	serveStream(cfg, s, w, r, id, javascriptType, xhrPrelude, appendLine)
}
