package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Target is one system under test: the base URLs of its nodes
// ("http://127.0.0.1:port"). With several nodes, each session's requests
// are spread round-robin over them, as a load balancer without affinity
// would.
type Target struct {
	Bases []string
}

func (t Target) base(k int) string { return t.Bases[k%len(t.Bases)] }

// sessionURL is base/route/000/sid/transport.
func sessionURL(base, route, sid, transport string) string {
	return base + "/" + route + "/000/" + sid + "/" + transport
}

var wsDialer = websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   4096,
	WriteBufferSize:  1024,
	NetDialContext:   (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
}

// dialWS opens a SockJS websocket session on node k and reads its open
// frame.
func (t Target) dialWS(ctx context.Context, k int, route, sid string) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(sessionURL(t.base(k), route, sid, "websocket"), "http")
	c, _, err := wsDialer.DialContext(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ReadMessage()
	if err == nil && string(b) != "o" {
		err = fmt.Errorf("load: first websocket frame %q, want o", b)
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// httpSession is one session spoken over HTTP transports, with one
// keep-alive connection per node for its sender and one for its receiver.
type httpSession struct {
	t     Target
	route string
	sid   string
	idx   int
	wait  time.Duration // longest an xhr_send may take
	k     atomic.Int64  // requests so far, for the round-robin
	tx    h1pool        // used by the sending goroutine only
	rx    h1pool        // used by the receiving goroutine (closeAll from anywhere)
}

func newHTTPSession(t Target, route string, idx int, wait time.Duration) *httpSession {
	return &httpSession{t: t, route: route, sid: newSID(), idx: idx, wait: wait}
}

// next returns the node address and path of the session's next request.
func (s *httpSession) next(transport string) (addr, path string) {
	k := int(s.k.Add(1))
	return strings.TrimPrefix(s.t.base(s.idx+k), "http://"), "/" + s.route + "/000/" + s.sid + "/" + transport
}

var errStatus = errors.New("load: unexpected status")

// send posts one message with xhr_send and expects 204.
func (s *httpSession) send(msg string) error {
	addr, path := s.next("xhr_send")
	c, err := s.tx.get(addr)
	if err != nil {
		return err
	}
	resp, err := c.do(path, encodeSend(msg), time.Now().Add(s.wait))
	if err == nil {
		err = resp.body.discard()
	}
	s.tx.done(c, resp, err)
	if err != nil {
		return err
	}
	if resp.status != 204 && resp.status != 200 {
		return statusErr("xhr_send", resp.status)
	}
	return nil
}

// poll runs one xhr poll and returns its frame.
func (s *httpSession) poll() (frame, error) {
	addr, path := s.next("xhr")
	c, err := s.rx.get(addr)
	if err != nil {
		return frame{}, err
	}
	resp, err := c.do(path, nil, time.Time{})
	var b []byte
	if err == nil {
		b, err = io.ReadAll(&resp.body)
	}
	s.rx.done(c, resp, err)
	if err != nil {
		return frame{}, err
	}
	if resp.status != 200 {
		return frame{}, statusErr("xhr", resp.status)
	}
	return parseFrame(bytes.TrimSuffix(b, []byte{'\n'}))
}

// stream runs one xhr_streaming response, calling fn for each frame until
// the server ends the response (nil), fn returns false, or an error.
func (s *httpSession) stream(fn func(frame) bool) (err error) {
	addr, path := s.next("xhr_streaming")
	c, err := s.rx.get(addr)
	if err != nil {
		return err
	}
	resp, err := c.do(path, nil, time.Time{})
	if err != nil {
		s.rx.done(c, resp, err)
		return err
	}
	defer func() { s.rx.done(c, resp, err) }()
	if resp.status != 200 {
		return statusErr("xhr_streaming", resp.status)
	}
	r := bufio.NewReaderSize(&resp.body, 8192)
	var long []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) == 0 && len(long) == 0 {
				return nil
			}
			return err
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		line = line[:len(line)-1]
		if len(line) > 1 && line[0] == 'h' && line[1] == 'h' { // the 2048-byte prelude
			continue
		}
		f, err := parseFrame(line)
		if err != nil {
			return err
		}
		if !fn(f) {
			// Stop reading: this connection cannot be reused.
			_ = c.c.Close()
			c.broken = true
			return nil
		}
	}
}

// readWS reads the next websocket message into *buf (reused) and returns it.
func readWS(c *websocket.Conn, buf *bytes.Buffer) ([]byte, error) {
	_, r, err := c.NextReader()
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
