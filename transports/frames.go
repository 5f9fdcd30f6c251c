package transports

import "github.com/sockjs-cluster/sockjs/internal/frame"

// eachFrame calls fn with every SockJS frame of b, in protocol order. The
// frame slice is only valid during the call.
func eachFrame(b Batch, buf []byte, fn func(f []byte) error) ([]byte, error) {
	if b.Open {
		if err := fn(openFrame); err != nil {
			return buf, err
		}
	}
	switch {
	case b.Frame != nil:
		if err := fn(b.Frame); err != nil {
			return buf, err
		}
	case len(b.Messages) > 0:
		buf = frame.AppendMessages(buf[:0], b.Messages)
		if err := fn(buf); err != nil {
			return buf, err
		}
	}
	if b.Heartbeat {
		if err := fn(heartbeatFrame); err != nil {
			return buf, err
		}
	}
	if b.Close != nil {
		buf = frame.AppendClose(buf[:0], b.Close.Code, b.Close.Reason)
		if err := fn(buf); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

var (
	openFrame      = []byte(frame.Open)
	heartbeatFrame = []byte(frame.Heartbeat)
)

// ends reports whether the response ends after b.
func (b Batch) ends() bool { return b.Close != nil || b.End }
