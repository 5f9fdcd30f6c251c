package transports

import "net/http"

var eventSourcePrelude = []byte("\r\n")

// EventSource serves GET /{server}/{session}/eventsource: each frame is one
// server-sent event. Frames are JSON, so they never hold a raw newline.
func EventSource(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	serveStream(cfg, s, w, r, id, eventType, eventSourcePrelude, appendEvent)
}

// appendEvent writes one frame as a server-sent event. sockjs-client runs
// decodeURI on every event's data, so '%' (and, for safety, the bytes that
// would end the event early; JSON frames never hold them raw) travel
// percent-encoded.
func appendEvent(dst, f []byte) []byte {
	dst = append(dst, "data: "...)
	for _, c := range f {
		switch c {
		case '%':
			dst = append(dst, "%25"...)
		case '\r':
			dst = append(dst, "%0D"...)
		case '\n':
			dst = append(dst, "%0A"...)
		case 0:
			dst = append(dst, "%00"...)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, "\r\n\r\n"...)
}
