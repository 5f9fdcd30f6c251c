package transports

import "net/http"

var eventSourcePrelude = []byte("\r\n")

// EventSource serves GET /{server}/{session}/eventsource: each frame is one
// server-sent event. Frames are JSON, so they never hold a raw newline.
func EventSource(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	serveStream(cfg, s, w, r, id, "text/event-stream", eventSourcePrelude, appendEvent)
}

func appendEvent(dst, f []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, f...)
	return append(dst, "\r\n\r\n"...)
}
