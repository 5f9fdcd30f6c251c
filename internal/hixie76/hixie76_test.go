package hixie76

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The handshake vector of the SockJS protocol test suite
// (Websocket.test_haproxy).
const (
	specKey1     = "4 @1  46546xW%0l 1 5"
	specKey2     = "12998 5 Y3 1  .P00"
	specKey3     = "aaaaaaaa"
	specResponse = "\xca4\x00\xd8\xa5\x08G\x97,\xd5qZ\xba\xbfC{"
)

const ioTimeout = 5 * time.Second

// server runs an httptest server whose handler upgrades every request with
// Upgrade and passes the result to fn; the handler's return is awaited by
// the test cleanup.
type server struct {
	*httptest.Server
	wg sync.WaitGroup
}

func startServer(t *testing.T, tlsOn bool, timeout time.Duration, fn func(*Conn, error)) *server {
	t.Helper()
	s := &server{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.wg.Add(1)
		defer s.wg.Done()
		c, err := Upgrade(w, r, timeout)
		fn(c, err)
		if c != nil {
			c.Close()
		}
	})
	if tlsOn {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(func() {
		s.Close()
		s.wg.Wait()
	})
	return s
}

func (s *server) addr() string { return s.Listener.Addr().String() }

// client is a raw hixie-76 client.
type client struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dial(t *testing.T, s *server, tlsOn bool) *client {
	t.Helper()
	var conn net.Conn
	var err error
	if tlsOn {
		conn, err = tls.Dial("tcp", s.addr(), &tls.Config{InsecureSkipVerify: true})
	} else {
		conn, err = net.Dial("tcp", s.addr())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(ioTimeout))
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// request builds a hixie-76 request for path with the spec keys, with the
// given headers replacing (or, with an empty value, removing) the defaults.
func request(method, host, path string, hdr ...string) string {
	h := [][2]string{
		{"Host", host},
		{"Connection", "Upgrade"},
		{"Upgrade", "WebSocket"},
		{"Origin", "http://" + host},
		{"Sec-WebSocket-Key1", specKey1},
		{"Sec-WebSocket-Key2", specKey2},
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		found := false
		for j := range h {
			if strings.EqualFold(h[j][0], hdr[i]) {
				h[j][1] = hdr[i+1]
				found = true
			}
		}
		if !found {
			h = append(h, [2]string{hdr[i], hdr[i+1]})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, path)
	for _, kv := range h {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", kv[0], kv[1])
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// readHead reads a response's status line and header block.
func (c *client) readHead() (status string, h http.Header) {
	c.t.Helper()
	line := func() string {
		s, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading response head: %v (got %q)", err, s)
		}
		if !strings.HasSuffix(s, "\r\n") {
			c.t.Fatalf("header line %q does not end in CRLF", s)
		}
		return strings.TrimSuffix(s, "\r\n")
	}
	status = line()
	h = http.Header{}
	for {
		l := line()
		if l == "" {
			return status, h
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			c.t.Fatalf("malformed header line %q", l)
		}
		h.Add(k, strings.TrimSpace(v))
	}
}

func (c *client) readN(n int) string {
	c.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c.br, b); err != nil {
		c.t.Fatalf("reading %d bytes: %v (got %q)", n, err, b)
	}
	return string(b)
}

// handshake performs the spec-vector handshake, sending key3 only after the
// response headers have been read.
func (c *client) handshake(s *server, path string) {
	c.t.Helper()
	c.send(request("GET", s.addr(), path))
	status, _ := c.readHead()
	if status != "HTTP/1.1 101 WebSocket Protocol Handshake" {
		c.t.Fatalf("status %q", status)
	}
	c.send(specKey3)
	if got := c.readN(16); got != specResponse {
		c.t.Fatalf("challenge response %q, want %q", got, specResponse)
	}
}

// readFrame reads one text or closing frame sent by the server.
func (c *client) readFrame() (string, bool) {
	c.t.Helper()
	typ, err := c.br.ReadByte()
	if err != nil {
		c.t.Fatalf("reading frame: %v", err)
	}
	switch typ {
	case 0x00:
		s, err := c.br.ReadString(0xFF)
		if err != nil {
			c.t.Fatalf("reading text frame: %v", err)
		}
		return strings.TrimSuffix(s, "\xff"), false
	case 0xFF:
		if b, err := c.br.ReadByte(); err != nil || b != 0 {
			c.t.Fatalf("closing frame: got 0xFF %#x, %v", b, err)
		}
		return "", true
	}
	c.t.Fatalf("unexpected frame type %#x", typ)
	return "", false
}

func TestHandshakeVector(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			done := make(chan error, 1)
			s := startServer(t, tlsOn, ioTimeout, func(c *Conn, err error) { done <- err })
			c := dial(t, s, tlsOn)
			path := "/echo/000/abc/websocket?x=1&y=%20"
			origin := "http://" + s.addr()
			c.send(request("GET", s.addr(), path))

			// The headers must arrive although key3 has not been sent.
			status, h := c.readHead()
			if status != "HTTP/1.1 101 WebSocket Protocol Handshake" {
				t.Fatalf("status %q", status)
			}
			scheme := "ws"
			if tlsOn {
				scheme = "wss"
			}
			want := map[string]string{
				"Upgrade":                "WebSocket",
				"Connection":             "Upgrade",
				"Sec-Websocket-Origin":   origin,
				"Sec-Websocket-Location": scheme + "://" + s.addr() + path,
			}
			for k, v := range want {
				if got := h.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if len(h) != len(want) {
				t.Errorf("headers %v, want exactly %v", h, want)
			}
			if c.br.Buffered() != 0 {
				t.Fatalf("%d bytes after the headers before key3 was sent", c.br.Buffered())
			}
			select {
			case err := <-done:
				t.Fatalf("Upgrade returned before key3 was sent: %v", err)
			case <-time.After(50 * time.Millisecond):
			}

			c.send(specKey3)
			if got := c.readN(16); got != specResponse {
				t.Fatalf("challenge response %q, want %q", got, specResponse)
			}
			if err := <-done; err != nil {
				t.Fatalf("Upgrade: %v", err)
			}
		})
	}
}

func TestChallengeResponse(t *testing.T) {
	k1, err1 := keyNumber(specKey1)
	k2, err2 := keyNumber(specKey2)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	// 4146546015 / 5 and 1299853100 / 5.
	if k1 != 829309203 || k2 != 259970620 {
		t.Errorf("key numbers %d, %d", k1, k2)
	}
	if got := challengeResponse(k1, k2, []byte(specKey3)); string(got[:]) != specResponse {
		t.Errorf("response %q, want %q", got[:], specResponse)
	}
	// draft-ietf-hybi-thewebsocketprotocol-00, section 1.3.
	// It uses the same keys.
	if got := challengeResponse(k1, k2, []byte("^n:ds[4U")); string(got[:]) != "8jKS'y:G*Co,Wxa-" {
		t.Errorf("draft example response %q", got[:])
	}
}

func TestKeyNumber(t *testing.T) {
	for _, tc := range []struct {
		key string
		n   uint32
		ok  bool
	}{
		{"1 2", 12, true},
		{" 0", 0, true},
		{"4294967295 ", 1<<32 - 1, true},
		{"8589934590  ", 1<<32 - 1, true},
		{"4294967296 ", 0, false},
		{"12", 0, false},
		{"1 2 3", 0, false}, // 123 / 2
		{"   ", 0, false},
		{"", 0, false},
		{strings.Repeat("9", 40) + " ", 0, false},
		{strings.Repeat("0", 1000) + "7 ", 7, true},
	} {
		n, err := keyNumber(tc.key)
		if (err == nil) != tc.ok || n != tc.n {
			t.Errorf("keyNumber(%q) = %d, %v; want %d, ok=%v", tc.key, n, err, tc.n, tc.ok)
		}
	}
}

func TestKey3Pipelined(t *testing.T) {
	// A client that does not wait for the headers: key3 is already in
	// net/http's buffer when the handler hijacks the connection.
	got := make(chan string, 1)
	s := startServer(t, false, ioTimeout, func(c *Conn, err error) {
		if err != nil {
			got <- err.Error()
			return
		}
		p, err := c.ReadMessage()
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(p)
	})
	c := dial(t, s, false)
	c.send(request("GET", s.addr(), "/x") + specKey3 + "\x00hello\xff")
	c.readHead()
	if r := c.readN(16); r != specResponse {
		t.Fatalf("challenge response %q", r)
	}
	if g := <-got; g != "hello" {
		t.Fatalf("server read %q", g)
	}
}

func TestEcho(t *testing.T) {
	type result struct {
		msgs []string
		err  error
	}
	res := make(chan result, 1)
	s := startServer(t, false, ioTimeout, func(c *Conn, err error) {
		if err != nil {
			res <- result{err: err}
			return
		}
		var r result
		for {
			p, err := c.ReadMessage()
			if err != nil {
				r.err = err
				if err == io.EOF {
					c.WriteClose()
				}
				break
			}
			r.msgs = append(r.msgs, string(p))
			if err := c.WriteMessage(p); err != nil {
				r.err = err
				break
			}
		}
		res <- r
	})
	c := dial(t, s, false)
	c.handshake(s, "/echo")

	big := strings.Repeat("0123456789abcdef", 10000) // larger than any buffer
	msgs := []string{"hello", "", "żółw ☃ 𝄞", "\x00\x01 nul", big}
	for _, m := range msgs {
		c.send("\x00" + m + "\xff")
		if got, closed := c.readFrame(); closed || got != m {
			t.Fatalf("echo of %.40q: %.40q (closed=%v)", m, got, closed)
		}
	}
	// Frames to be skipped: a length-prefixed binary frame (length 130 =
	// 0x81 0x02), an empty one, a 0xFF frame with a length and a text frame
	// of another type.
	c.send("\x80\x81\x02" + strings.Repeat("\xff", 130) + "\x80\x00" +
		"\xff\x01z" + "\x01ignored\xff" + "\x00after\xff")
	if got, _ := c.readFrame(); got != "after" {
		t.Fatalf("after skipped frames: %q", got)
	}
	c.send("\xff\x00")
	if _, closed := c.readFrame(); !closed {
		t.Fatal("no closing frame after ours")
	}
	if n, err := c.br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the closing frame: %d, %v; want EOF", n, err)
	}
	r := <-res
	if r.err != io.EOF {
		t.Fatalf("server read error %v, want io.EOF", r.err)
	}
	want := append(append([]string{}, msgs...), "after")
	if fmt.Sprint(r.msgs) != fmt.Sprint(want) {
		t.Fatalf("server read %d messages, want %d", len(r.msgs), len(want))
	}
}

func TestInvalidRequests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		hdr    []string
	}{
		{"key1 without spaces", "GET", []string{"Sec-WebSocket-Key1", "12345"}},
		{"key2 without spaces", "GET", []string{"Sec-WebSocket-Key2", "x1x"}},
		{"key1 not a multiple", "GET", []string{"Sec-WebSocket-Key1", "1 2 3"}},
		{"key2 not a multiple", "GET", []string{"Sec-WebSocket-Key2", "7  "}},
		{"key1 without digits", "GET", []string{"Sec-WebSocket-Key1", "a b c"}},
		{"key1 over 32 bits", "GET", []string{"Sec-WebSocket-Key1", "4294967296 "}},
		{"key2 huge", "GET", []string{"Sec-WebSocket-Key2", strings.Repeat("9", 200) + " "}},
		{"key1 empty", "GET", []string{"Sec-WebSocket-Key1", " "}},
		{"no key2", "GET", []string{"Sec-WebSocket-Key2", ""}},
		{"no key1", "GET", []string{"Sec-WebSocket-Key1", ""}},
		{"no upgrade", "GET", []string{"Upgrade", ""}},
		{"upgrade to something else", "GET", []string{"Upgrade", "h2c"}},
		{"connection keep-alive", "GET", []string{"Connection", "keep-alive"}},
		{"POST", "POST", []string{"Content-Length", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errc := make(chan error, 1)
			s := startServer(t, false, ioTimeout, func(c *Conn, err error) { errc <- err })
			c := dial(t, s, false)
			c.send(request(tc.method, s.addr(), "/x", tc.hdr...))
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if err := <-errc; err == nil {
				t.Error("Upgrade succeeded")
			}
		})
	}
}

func TestConnectionTokenList(t *testing.T) {
	s := startServer(t, false, ioTimeout, func(c *Conn, err error) {})
	c := dial(t, s, false)
	c.send(request("GET", s.addr(), "/x", "Connection", "keep-alive, Upgrade", "Upgrade", "websocket"))
	if status, _ := c.readHead(); !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		t.Fatalf("status %q", status)
	}
}

func TestUpgradeRecorder(t *testing.T) {
	newReq := func() *http.Request {
		r := httptest.NewRequest("GET", "http://example.com/x", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "WebSocket")
		r.Header.Set("Sec-WebSocket-Key1", specKey1)
		r.Header.Set("Sec-WebSocket-Key2", specKey2)
		return r
	}
	// Header values that net/http would reject on the wire.
	r := newReq()
	r.Header.Set("Origin", "http://a\r\nX-Evil: 1")
	w := httptest.NewRecorder()
	if _, err := Upgrade(w, r, time.Second); err == nil || w.Code != 400 {
		t.Errorf("CRLF in Origin: %v, status %d", err, w.Code)
	}
	r = newReq()
	r.Host = "a\r\nb"
	w = httptest.NewRecorder()
	if _, err := Upgrade(w, r, time.Second); err == nil || w.Code != 400 {
		t.Errorf("CRLF in Host: %v, status %d", err, w.Code)
	}
	// A valid request on a ResponseWriter that cannot be hijacked.
	w = httptest.NewRecorder()
	if _, err := Upgrade(w, newReq(), time.Second); !errors.Is(err, http.ErrNotSupported) || w.Code != 500 {
		t.Errorf("no hijacker: %v, status %d", err, w.Code)
	}
}

func TestIsRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/x", nil)
	if IsRequest(r) {
		t.Error("plain GET")
	}
	r.Header.Set("Connection", "keep-alive, upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Key1", "x")
	if IsRequest(r) {
		t.Error("no Key2")
	}
	r.Header.Set("Sec-WebSocket-Key2", "y")
	if !IsRequest(r) {
		t.Error("valid request")
	}
	// RFC 6455 requests are not hixie-76 ones.
	r = httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	if IsRequest(r) {
		t.Error("RFC 6455 request")
	}
}

func TestLocationUsesRequestTarget(t *testing.T) {
	// The location is the URL the client asked for, even when a handler
	// has rewritten r.URL.
	s := &server{}
	s.Server = httptest.NewServer(http.StripPrefix("/prefix", http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if c, err := Upgrade(w, r, ioTimeout); err == nil {
				c.Close()
			}
		})))
	t.Cleanup(s.Close)
	c := dial(t, s, false)
	c.send(request("GET", s.addr(), "/prefix/a/b?q=1"))
	_, h := c.readHead()
	if got, want := h.Get("Sec-WebSocket-Location"), "ws://"+s.addr()+"/prefix/a/b?q=1"; got != want {
		t.Fatalf("location %q, want %q", got, want)
	}
}

func TestNoOrigin(t *testing.T) {
	s := startServer(t, false, ioTimeout, func(c *Conn, err error) {})
	c := dial(t, s, false)
	c.send(request("GET", s.addr(), "/x", "Origin", ""))
	status, h := c.readHead()
	if !strings.HasPrefix(status, "HTTP/1.1 101 ") || h.Get("Sec-WebSocket-Origin") != "" {
		t.Fatalf("status %q, headers %v", status, h)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	errc := make(chan error, 1)
	s := startServer(t, false, 100*time.Millisecond, func(c *Conn, err error) { errc <- err })
	c := dial(t, s, false)
	c.send(request("GET", s.addr(), "/x"))
	c.readHead()
	c.send("aaaa") // half of key3
	select {
	case err := <-errc:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Upgrade: %v, want a timeout", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Upgrade did not time out")
	}
	if n, err := c.br.Read(make([]byte, 1)); err == nil {
		t.Fatalf("connection still open: read %d bytes", n)
	}
}

// upgraded starts a server, handshakes and returns the server's Conn and the
// client.
func upgraded(t *testing.T) (*Conn, *client) {
	t.Helper()
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	s := startServer(t, false, ioTimeout, func(c *Conn, err error) {
		if err != nil {
			t.Errorf("Upgrade: %v", err)
			close(conns)
			return
		}
		conns <- c
		<-release
	})
	t.Cleanup(func() { close(release) }) // runs before the server cleanup
	c := dial(t, s, false)
	c.handshake(s, "/x")
	sc := <-conns
	if sc == nil {
		t.FailNow()
	}
	return sc, c
}

func TestTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name, frames string
		want         []string
	}{
		{"text at limit", "\x00" + strings.Repeat("a", 16) + "\xff", []string{strings.Repeat("a", 16)}},
		{"text over limit", "\x00" + strings.Repeat("a", 17) + "\xff", nil},
		{"text over limit, unterminated", "\x00" + strings.Repeat("a", 17), nil},
		{"skipped text over limit", "\x05" + strings.Repeat("a", 17) + "\xff", nil},
		{"binary at limit", "\x80\x10" + strings.Repeat("b", 16) + "\x00ok\xff", []string{"ok"}},
		{"binary over limit", "\x80\x11", nil},
		{"binary huge length", "\x80" + strings.Repeat("\xff", 20) + "\x7f", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, c := upgraded(t)
			sc.SetReadLimit(16)
			c.send(tc.frames)
			for _, m := range tc.want {
				p, err := sc.ReadMessage()
				if err != nil || string(p) != m {
					t.Fatalf("ReadMessage = %q, %v; want %q", p, err, m)
				}
			}
			if len(tc.want) > 0 {
				return
			}
			for range 2 { // the error is sticky
				if p, err := sc.ReadMessage(); err != ErrTooLarge {
					t.Fatalf("ReadMessage = %q, %v; want ErrTooLarge", p, err)
				}
			}
		})
	}
}

func TestUnexpectedEOF(t *testing.T) {
	sc, c := upgraded(t)
	c.send("\x00partial")
	c.conn.Close()
	if _, err := sc.ReadMessage(); err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadMessage: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestWriteErrors(t *testing.T) {
	sc, c := upgraded(t)
	if err := sc.WriteMessage([]byte("a\xffb")); err != ErrInvalidUTF8 {
		t.Fatalf("WriteMessage with 0xFF: %v", err)
	}
	if err := sc.WriteMessage([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	if err := sc.WriteClose(); err != nil {
		t.Fatal(err)
	}
	if err := sc.WriteMessage([]byte("late")); err != ErrCloseSent {
		t.Fatalf("WriteMessage after WriteClose: %v", err)
	}
	if err := sc.WriteClose(); err != ErrCloseSent {
		t.Fatalf("second WriteClose: %v", err)
	}
	if got, _ := c.readFrame(); got != "ok" {
		t.Fatalf("got %q", got)
	}
	if _, closed := c.readFrame(); !closed {
		t.Fatal("no closing frame")
	}
}

func TestWriteDeadline(t *testing.T) {
	sc, _ := upgraded(t)
	sc.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	chunk := []byte(strings.Repeat("x", 64<<10))
	var err error
	for i := 0; i < 10000 && err == nil; i++ { // the client never reads
		err = sc.WriteMessage(chunk)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("WriteMessage: %v, want a timeout", err)
	}
}

func TestConcurrentClose(t *testing.T) {
	sc, _ := upgraded(t)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if _, err := sc.ReadMessage(); err == nil {
			t.Error("ReadMessage succeeded after Close")
		}
	}()
	go func() {
		defer wg.Done()
		chunk := []byte(strings.Repeat("x", 64<<10))
		for {
			if err := sc.WriteMessage(chunk); err != nil {
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	for range 3 {
		go sc.Close()
	}
	err1 := sc.Close()
	if err2 := sc.Close(); err1 != err2 {
		t.Errorf("Close: %v then %v", err1, err2)
	}
	wg.Wait()
}

// The concurrent reader and writer of one Conn, under -race.
func TestConcurrentReadWrite(t *testing.T) {
	sc, c := upgraded(t)
	const n = 200
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := sc.WriteMessage([]byte(fmt.Sprint(i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			p, err := sc.ReadMessage()
			if err != nil || string(p) != fmt.Sprint(i) {
				t.Errorf("message %d: %q, %v", i, p, err)
				return
			}
		}
	}()
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\x00%d\xff", i)
	}
	c.send(b.String())
	for i := 0; i < n; i++ {
		if got, _ := c.readFrame(); got != fmt.Sprint(i) {
			t.Fatalf("frame %d: %q", i, got)
		}
	}
	wg.Wait()
}
