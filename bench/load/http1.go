package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// h1conn is a minimal HTTP/1.1 client connection: POST requests with
// keep-alive, Content-Length and chunked responses. The load generator
// uses it instead of net/http so that it spends less CPU per request than
// the servers it measures (they and it have one CPU each).
type h1conn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	host   string
	broken bool
}

func dialH1(addr string) (*h1conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &h1conn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 4<<10), host: addr}, nil
}

var errH1 = errors.New("load: malformed HTTP response")

// response is a response whose body is being read.
type response struct {
	status int
	body   h1body
	close  bool
}

// do writes one POST of path with body and reads the response head.
func (h *h1conn) do(path string, body []byte, deadline time.Time) (*response, error) {
	_ = h.c.SetDeadline(deadline)
	bw := h.bw
	bw.WriteString("POST ")
	bw.WriteString(path)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(h.host)
	bw.WriteString("\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(body)))
	bw.WriteString("\r\n\r\n")
	bw.Write(body)
	if err := bw.Flush(); err != nil {
		h.broken = true
		return nil, err
	}
	resp, err := h.readHead()
	if err != nil {
		h.broken = true
		return nil, err
	}
	return resp, nil
}

func (h *h1conn) readHead() (*response, error) {
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, errH1
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, errH1
	}
	resp := &response{status: status, close: line[7] == '0'}
	resp.body.br = h.br
	length := int64(-1)
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return nil, errH1
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(v), 10, 64); err != nil {
				return nil, errH1
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			resp.body.chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			if bytes.EqualFold(v, []byte("close")) {
				resp.close = true
			}
		}
	}
	switch {
	case status == 204 || status == 304 || status/100 == 1:
		resp.body.done = true
	case resp.body.chunked:
	case length >= 0:
		resp.body.left = length
		resp.body.done = length == 0
	default:
		resp.body.untilEOF = true
		resp.close = true
	}
	return resp, nil
}

// h1body reads a response body: Content-Length, chunked, or until EOF.
type h1body struct {
	br       *bufio.Reader
	chunked  bool
	untilEOF bool
	left     int64 // of the body (Content-Length) or of the current chunk
	done     bool
}

func (b *h1body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.untilEOF {
		n, err := b.br.Read(p)
		if errors.Is(err, io.EOF) {
			b.done = true
		}
		return n, err
	}
	if b.chunked && b.left == 0 {
		line, err := b.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		size := strings.TrimSpace(string(line))
		if i := strings.IndexByte(size, ';'); i >= 0 {
			size = size[:i]
		}
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil {
			return 0, errH1
		}
		if n == 0 { // the last chunk; skip the trailer
			for {
				l, err := b.br.ReadSlice('\n')
				if err != nil {
					return 0, err
				}
				if len(bytes.TrimRight(l, "\r\n")) == 0 {
					break
				}
			}
			b.done = true
			return 0, io.EOF
		}
		b.left = n
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		if b.chunked {
			if _, err := b.br.Discard(2); err != nil { // CRLF after the chunk
				return n, err
			}
		} else {
			b.done = true
		}
	}
	if errors.Is(err, io.EOF) && !b.done {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// discard reads the rest of the body.
func (b *h1body) discard() error {
	_, err := io.Copy(io.Discard, b)
	return err
}

// h1pool keeps one connection per server address for one user (a
// session's sender, or its receiver).
type h1pool struct {
	mu     sync.Mutex
	closed bool
	conns  map[string]*h1conn
}

var errClosed = errors.New("load: session stopped")

func (p *h1pool) get(addr string) (*h1conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	if c := p.conns[addr]; c != nil && !c.broken {
		return c, nil
	}
	if p.conns == nil {
		p.conns = map[string]*h1conn{}
	}
	if c := p.conns[addr]; c != nil {
		_ = c.c.Close()
	}
	c, err := dialH1(addr)
	if err != nil {
		return nil, err
	}
	p.conns[addr] = c
	return c, nil
}

// done marks a connection after a response: reusable, or closed.
func (p *h1pool) done(c *h1conn, resp *response, err error) {
	if err != nil || resp.close || !resp.body.done {
		c.broken = true
		_ = c.c.Close()
	}
}

func (p *h1pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.conns {
		_ = c.c.Close()
	}
}

func statusErr(transport string, status int) error {
	return fmt.Errorf("%w %d from %s", errStatus, status, transport)
}
