// Package hixie76 implements the server side of the old hixie-76 WebSocket
// protocol (draft-hixie-thewebsocketprotocol-76, republished as
// draft-ietf-hybi-thewebsocketprotocol-00), just enough for SockJS.
//
// Modern clients use RFC 6455; hixie-76 survives in the SockJS protocol test
// suite (Websocket.test_haproxy), which checks the behaviour needed behind
// HAProxy: the server must send the 101 response headers before it receives
// the client's 8-byte key3, because HAProxy holds key3 back until it has seen
// the response.
//
// # Handshake
//
// A hixie-76 request is a GET with "Upgrade: WebSocket", a Connection header
// containing the "upgrade" token and two keys, Sec-WebSocket-Key1 and
// Sec-WebSocket-Key2 (see IsRequest). For each key the decimal digits in it,
// read as one number, divided by the number of spaces in it, give a 32-bit
// key number; the division must be exact and there must be at least one
// space. Upgrade hijacks the connection, writes
//
//	HTTP/1.1 101 WebSocket Protocol Handshake
//	Upgrade: WebSocket
//	Connection: Upgrade
//	Sec-WebSocket-Origin: <the request's Origin>
//	Sec-WebSocket-Location: ws://<host><request-target>
//
// flushes it, then reads the 8 bytes of key3 that follow the request headers
// and answers with the 16-byte MD5 digest of key number 1 (big-endian, 4
// bytes), key number 2 (likewise) and key3.
//
// # Framing
//
// A text frame is a 0x00 byte, UTF-8 text and a 0xFF byte. A frame whose type
// byte has the high bit set is length-prefixed: the length is a base-128
// big-endian number whose bytes have the high bit set on all but the last
// one. The frame 0xFF 0x00 starts the closing handshake. Conn reads text
// frames and discards every other frame; all frames, kept or discarded, are
// bounded by the read limit.
package hixie76

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultReadLimit is the read limit of a new Conn: the largest frame
// payload, in bytes, that ReadMessage accepts.
const DefaultReadLimit = 1 << 20

var (
	// ErrTooLarge is returned by ReadMessage for a frame longer than the
	// read limit. The stream cannot be resynchronised afterwards; the caller
	// should close the connection.
	ErrTooLarge = errors.New("hixie76: frame too large")

	// ErrInvalidUTF8 is returned by WriteMessage for a payload that is not
	// valid UTF-8 (and so might contain the 0xFF frame terminator).
	ErrInvalidUTF8 = errors.New("hixie76: message is not valid UTF-8")

	// ErrCloseSent is returned by WriteMessage and WriteClose after
	// WriteClose has been called.
	ErrCloseSent = errors.New("hixie76: close frame already sent")
)

// IsRequest reports whether r asks for a hixie-76 WebSocket upgrade: a GET
// request with an "Upgrade: WebSocket" header (case-insensitively), a
// Connection header listing the "upgrade" token and both the
// Sec-WebSocket-Key1 and Sec-WebSocket-Key2 headers. It does not check the
// keys; Upgrade does.
func IsRequest(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if !strings.EqualFold(strings.TrimSpace(r.Header.Get("Upgrade")), "websocket") {
		return false
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return false
	}
	return len(r.Header.Values("Sec-Websocket-Key1")) > 0 &&
		len(r.Header.Values("Sec-Websocket-Key2")) > 0
}

// headerHasToken reports whether one of the comma-separated elements of the
// header's values equals token, case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// keyNumber returns the key number encoded in a Sec-WebSocket-Key1 or
// Sec-WebSocket-Key2 value: its digits read as a decimal number, divided by
// its number of spaces. It fails when the key has no digit or no space, when
// the division is not exact or when the result does not fit in 32 bits.
func keyNumber(key string) (uint32, error) {
	var n, spaces uint64
	digits := 0
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c >= '0' && c <= '9':
			digits++
			// A valid key number is below 2^32 and a key has at most a few
			// hundred spaces in practice; refuse anything that could
			// overflow the uint64 long before it does.
			if n > (1<<50)/10 {
				return 0, errors.New("key number too large")
			}
			n = n*10 + uint64(c-'0')
		case c == ' ':
			spaces++
		}
	}
	switch {
	case digits == 0:
		return 0, errors.New("key has no digits")
	case spaces == 0:
		return 0, errors.New("key has no spaces")
	case n%spaces != 0:
		return 0, errors.New("key number is not a multiple of the number of spaces")
	case n/spaces > 1<<32-1:
		return 0, errors.New("key number too large")
	}
	return uint32(n / spaces), nil
}

// challengeResponse returns the server's answer to the key numbers and key3:
// the MD5 digest of both key numbers as 32-bit big-endian integers followed
// by key3.
func challengeResponse(k1, k2 uint32, key3 []byte) [md5.Size]byte {
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:4], k1)
	binary.BigEndian.PutUint32(b[4:8], k2)
	copy(b[8:], key3)
	return md5.Sum(b[:])
}

// validHeaderText reports whether s can be copied into a response header
// value: no control characters (so no CR or LF).
func validHeaderText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// requestTarget returns the path and query the client asked for, as sent:
// r.RequestURI (unaffected by handlers that rewrite r.URL, such as
// http.StripPrefix) reduced to origin form, or r.URL's when it is not set.
func requestTarget(r *http.Request) string {
	if t := r.RequestURI; t != "" {
		if strings.HasPrefix(t, "/") {
			return t
		}
		if u, err := url.ParseRequestURI(t); err == nil {
			return u.RequestURI()
		}
	}
	return r.URL.RequestURI()
}

// handshakeError is an invalid request, answered with 400 Bad Request.
type handshakeError struct{ msg string }

func (e *handshakeError) Error() string { return "hixie76: bad handshake: " + e.msg }

func badRequest(w http.ResponseWriter, msg string) error {
	err := &handshakeError{msg}
	http.Error(w, "Bad Request: "+msg, http.StatusBadRequest)
	return err
}

// Upgrade performs the server side of a hixie-76 handshake on r and returns
// the connection.
//
// It first validates the request (see IsRequest) and the keys, answering 400
// Bad Request and returning an error when they are invalid. It then hijacks
// the connection, writes and flushes the 101 response headers, and only then
// reads the client's 8-byte key3 and writes the 16-byte challenge response;
// bytes that net/http had already buffered after the request headers are
// used. The whole exchange after the hijack must finish within
// handshakeTimeout (no limit when it is zero or negative); on any failure
// after the hijack the connection is closed and an error is returned. On
// success the connection has no deadline set.
//
// The Sec-WebSocket-Location header is ws://host/path?query (wss:// when
// r.TLS is set), from r.Host and the request-target as the client sent it.
// Sec-WebSocket-Origin echoes the Origin header, and is left out when the
// request has none. No subprotocol is negotiated.
func Upgrade(w http.ResponseWriter, r *http.Request, handshakeTimeout time.Duration) (*Conn, error) {
	if !IsRequest(r) {
		return nil, badRequest(w, "not a hixie-76 websocket upgrade request")
	}
	k1, err := keyNumber(r.Header.Get("Sec-Websocket-Key1"))
	if err != nil {
		return nil, badRequest(w, "Sec-WebSocket-Key1: "+err.Error())
	}
	k2, err := keyNumber(r.Header.Get("Sec-Websocket-Key2"))
	if err != nil {
		return nil, badRequest(w, "Sec-WebSocket-Key2: "+err.Error())
	}
	origin := r.Header.Get("Origin")
	target := requestTarget(r)
	if r.Host == "" || !validHeaderText(r.Host) || strings.ContainsAny(r.Host, "/ ") {
		return nil, badRequest(w, "invalid Host")
	}
	if !validHeaderText(origin) {
		return nil, badRequest(w, "invalid Origin")
	}
	if !validHeaderText(target) {
		return nil, badRequest(w, "invalid request-target")
	}
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}

	netConn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			http.Error(w, "Internal Server Error: connection cannot be hijacked", http.StatusInternalServerError)
		}
		return nil, fmt.Errorf("hixie76: hijack: %w", err)
	}
	fail := func(step string, err error) (*Conn, error) {
		netConn.Close()
		return nil, fmt.Errorf("hixie76: handshake: %s: %w", step, err)
	}

	// Replace whatever deadlines net/http left on the connection.
	var deadline time.Time
	if handshakeTimeout > 0 {
		deadline = time.Now().Add(handshakeTimeout)
	}
	if err := netConn.SetDeadline(deadline); err != nil {
		return fail("set deadline", err)
	}

	bw := rw.Writer
	if bw == nil {
		bw = bufio.NewWriter(netConn)
	}
	bw.WriteString("HTTP/1.1 101 WebSocket Protocol Handshake\r\n" +
		"Upgrade: WebSocket\r\n" +
		"Connection: Upgrade\r\n")
	if origin != "" {
		bw.WriteString("Sec-WebSocket-Origin: " + origin + "\r\n")
	}
	bw.WriteString("Sec-WebSocket-Location: " + scheme + "://" + r.Host + target + "\r\n\r\n")
	if err := bw.Flush(); err != nil {
		return fail("write response headers", err)
	}

	br := rw.Reader
	if br == nil {
		br = bufio.NewReader(netConn)
	}
	var key3 [8]byte
	if _, err := io.ReadFull(br, key3[:]); err != nil {
		return fail("read key3", err)
	}
	resp := challengeResponse(k1, k2, key3[:])
	bw.Write(resp[:])
	if err := bw.Flush(); err != nil {
		return fail("write challenge response", err)
	}
	if err := netConn.SetDeadline(time.Time{}); err != nil {
		return fail("clear deadline", err)
	}
	return newConn(netConn, br, bw), nil
}

// Conn is the server side of a hixie-76 WebSocket connection, returned by
// Upgrade.
//
// One goroutine may read (ReadMessage) while another writes (WriteMessage,
// WriteClose, SetWriteDeadline); Close may be called concurrently with both.
// SetReadLimit must not be called concurrently with ReadMessage.
type Conn struct {
	conn net.Conn

	// Reader side, owned by the reading goroutine.
	br        *bufio.Reader
	readLimit int64
	readErr   error // sticky
	buf       []byte

	// Writer side.
	wmu       sync.Mutex
	bw        *bufio.Writer
	closeSent bool

	closeOnce sync.Once
	closeErr  error
}

func newConn(c net.Conn, br *bufio.Reader, bw *bufio.Writer) *Conn {
	return &Conn{conn: c, br: br, bw: bw, readLimit: DefaultReadLimit}
}

// SetReadLimit sets the largest frame payload, in bytes, that ReadMessage
// accepts; a longer frame, even one that would be discarded, makes
// ReadMessage return ErrTooLarge. n <= 0 restores DefaultReadLimit.
func (c *Conn) SetReadLimit(n int64) {
	if n <= 0 {
		n = DefaultReadLimit
	}
	c.readLimit = n
}

// ReadMessage returns the payload of the next text frame (type byte 0x00),
// skipping the other frames. The payload is returned as received, not
// checked for valid UTF-8, in a new slice that the caller owns.
//
// After the closing frame (0xFF 0x00) it returns io.EOF; answering it with
// WriteClose and closing the connection is up to the caller. It returns
// ErrTooLarge for a frame longer than the read limit, io.ErrUnexpectedEOF
// when the connection ends without a closing frame, and the network error
// otherwise. Every error is final: later calls return it again.
func (c *Conn) ReadMessage() ([]byte, error) {
	if c.readErr != nil {
		return nil, c.readErr
	}
	p, err := c.readMessage()
	if err != nil {
		c.readErr = err
		return nil, err
	}
	return p, nil
}

// readMessage reads frames until a text frame, a closing frame (io.EOF) or
// an error. Every other io.EOF is turned into io.ErrUnexpectedEOF.
func (c *Conn) readMessage() ([]byte, error) {
	for {
		typ, err := c.br.ReadByte()
		if err != nil {
			return nil, noEOF(err)
		}
		if typ&0x80 != 0 {
			n, err := c.readLength()
			if err != nil {
				return nil, err
			}
			if typ == 0xFF && n == 0 {
				return nil, io.EOF
			}
			if err := c.discard(n); err != nil {
				return nil, err
			}
			continue
		}
		p, err := c.readText()
		if err != nil {
			return nil, err
		}
		if typ == 0x00 {
			return p, nil
		}
	}
}

// readLength reads the base-128 length of a length-prefixed frame and
// checks it against the read limit.
func (c *Conn) readLength() (int64, error) {
	var n int64
	for {
		b, err := c.br.ReadByte()
		if err != nil {
			return 0, noEOF(err)
		}
		n = n<<7 | int64(b&0x7f)
		if n > c.readLimit {
			return 0, ErrTooLarge
		}
		if b&0x80 == 0 {
			return n, nil
		}
		if n > c.readLimit>>7 {
			// The next byte multiplies n by 128 at least.
			return 0, ErrTooLarge
		}
	}
}

// discard skips n bytes of input.
func (c *Conn) discard(n int64) error {
	for n > 0 {
		m := int(min(n, 1<<20))
		if _, err := c.br.Discard(m); err != nil {
			return noEOF(err)
		}
		n -= int64(m)
	}
	return nil
}

// readText reads a sentinel-terminated payload up to and including the
// 0xFF byte and returns a copy of it without the 0xFF. It works on whatever
// input has arrived, so that a payload is found too long as soon as its
// first byte past the read limit is received.
func (c *Conn) readText() ([]byte, error) {
	c.buf = c.buf[:0]
	for {
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				return nil, noEOF(err)
			}
		}
		chunk, _ := c.br.Peek(c.br.Buffered())
		i := bytes.IndexByte(chunk, 0xFF)
		n := len(chunk)
		if i >= 0 {
			n = i
		}
		if int64(len(c.buf))+int64(n) > c.readLimit {
			return nil, ErrTooLarge
		}
		c.buf = append(c.buf, chunk[:n]...)
		if i < 0 {
			c.br.Discard(n)
			continue
		}
		c.br.Discard(n + 1)
		p := make([]byte, len(c.buf))
		copy(p, c.buf)
		if cap(c.buf) > 64<<10 {
			c.buf = nil // do not pin a large buffer
		}
		return p, nil
	}
}

// noEOF turns io.EOF, which here always means the connection ended in the
// middle of, or instead of, a frame, into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteMessage writes p as one text frame. p must be valid UTF-8, which
// guarantees that it has no 0xFF byte; otherwise nothing is written and
// ErrInvalidUTF8 is returned. After a failed write (a timeout, for example)
// every later write fails too, so a partly written frame is never followed
// by another.
func (c *Conn) WriteMessage(p []byte) error {
	if !utf8.Valid(p) {
		return ErrInvalidUTF8
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return ErrCloseSent
	}
	c.bw.WriteByte(0x00)
	c.bw.Write(p)
	c.bw.WriteByte(0xFF)
	return c.bw.Flush()
}

// WriteClose writes the closing frame 0xFF 0x00. It does not close the
// connection.
func (c *Conn) WriteClose() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return ErrCloseSent
	}
	c.closeSent = true
	c.bw.WriteByte(0xFF)
	c.bw.WriteByte(0x00)
	return c.bw.Flush()
}

// SetWriteDeadline sets the deadline for the writes of WriteMessage and
// WriteClose. A write that times out leaves the connection unusable.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.conn.SetWriteDeadline(t)
}

// Close closes the network connection, without a closing frame. It unblocks
// pending reads and writes. Only the first call has an effect; later calls
// return the same result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.conn.Close() })
	return c.closeErr
}

// NetConn returns the underlying network connection.
func (c *Conn) NetConn() net.Conn { return c.conn }
