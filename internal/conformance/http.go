package conformance

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The python suite talks HTTP through its own raw socket client
// (utils.RawHttpConnection): it writes the request by hand and reads the
// response line by line, and a streaming response one chunk per read. This
// file is the Go counterpart; net/http is not used, so that requests go out
// byte for byte as written (no path cleaning, no added headers) and the
// streaming tests see the transfer chunks the server wrote.

// ioTimeout bounds every network operation: a dial, a write, a read.
const ioTimeout = 5 * time.Second

// closeTimeout is how long expectClosed waits for the server to close a
// connection. The python helper waits 0.1 s; a larger value keeps the test
// stable on a loaded machine without changing what it checks.
const closeTimeout = time.Second

// maxBody bounds the Content-Length the client accepts.
const maxBody = 16 << 20

// endpoint is a parsed top URL.
type endpoint struct {
	scheme string // "http" or "https"
	host   string // host[:port] as written in the URL, sent as the Host header
	addr   string // host:port to dial
	prefix string // path of the top URL, without a trailing slash
}

func parseTop(top string) (endpoint, error) {
	u, err := url.Parse(top)
	if err != nil {
		return endpoint{}, err
	}
	port := ""
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	default:
		return endpoint{}, fmt.Errorf("%q: scheme must be http or https", top)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return endpoint{}, fmt.Errorf("%q: want scheme://host[:port][/path]", top)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return endpoint{
		scheme: u.Scheme,
		host:   u.Host,
		addr:   addr,
		prefix: strings.TrimSuffix(u.EscapedPath(), "/"),
	}, nil
}

// httpURL is the python suite's 'http:' + url for a path under the top URL.
func (ep endpoint) httpURL(path string) string {
	return ep.scheme + "://" + ep.host + ep.prefix + path
}

// wsURL is the websocket URL of a path under the top URL.
func (ep endpoint) wsURL(path string) string {
	scheme := "ws"
	if ep.scheme == "https" {
		scheme = "wss"
	}
	return scheme + "://" + ep.host + ep.prefix + path
}

// top calls Target.URL once and parses the answer.
func (e *env) top() endpoint {
	e.t.Helper()
	raw := e.target.URL()
	ep, err := parseTop(raw)
	if err != nil {
		e.t.Fatalf("conformance: bad Target.URL() %q: %v", raw, err)
	}
	return ep
}

// header is one request or response header.
type header struct{ name, value string }

// hdr makes a request header.
func hdr(name, value string) header { return header{name, value} }

// response is the status line and the headers of an HTTP response, and, for
// a response read whole, its body.
type response struct {
	req     string // "METHOD /path", for failure messages
	proto   string // HTTP version of the response, e.g. "1.1"
	status  int
	headers []header // names lower-cased, in the order received
	body    string
}

// get returns the value of the header name, or "" when there is none. Like
// the python helper (a dict), a repeated header gives its last value.
func (r *response) get(name string) string {
	name = strings.ToLower(name)
	v := ""
	for _, h := range r.headers {
		if h.name == name {
			v = h.value
		}
	}
	return v
}

// has reports whether the header name is present at all.
func (r *response) has(name string) bool {
	name = strings.ToLower(name)
	for _, h := range r.headers {
		if h.name == name {
			return true
		}
	}
	return false
}

// values returns every value of the header name.
func (r *response) values(name string) []string {
	name = strings.ToLower(name)
	var vs []string
	for _, h := range r.headers {
		if h.name == name {
			vs = append(vs, h.value)
		}
	}
	return vs
}

// headerList formats the headers for a failure message.
func (r *response) headerList() string {
	parts := make([]string, len(r.headers))
	for i, h := range r.headers {
		parts[i] = h.name + ": " + h.value
	}
	return "{" + strings.Join(parts, "; ") + "}"
}

// what prefixes a failure message with the request.
func (r *response) what(s string) string { return r.req + ": " + s }

// rawConn is one TCP (or TLS) connection to the server, the python
// RawHttpConnection.
type rawConn struct {
	e    *env
	ep   endpoint
	nc   net.Conn
	br   *bufio.Reader
	last string // the last request, for failure messages

	closeOnce sync.Once
}

// dial opens a connection to ep; it is closed when the test ends at the
// latest.
func (e *env) dial(ep endpoint) *rawConn {
	e.t.Helper()
	d := net.Dialer{Timeout: ioTimeout}
	nc, err := d.Dial("tcp", ep.addr)
	if err != nil {
		e.t.Fatalf("dial %s: %v", ep.addr, err)
	}
	if ep.scheme == "https" {
		host, _, _ := net.SplitHostPort(ep.addr)
		tc := tls.Client(nc, &tls.Config{ServerName: host, NextProtos: []string{"http/1.1"}})
		_ = tc.SetDeadline(time.Now().Add(ioTimeout))
		if err := tc.Handshake(); err != nil {
			_ = nc.Close()
			e.t.Fatalf("TLS handshake with %s: %v", ep.addr, err)
		}
		nc = tc
	}
	c := &rawConn{e: e, ep: ep, nc: nc, br: bufio.NewReader(nc), last: "connection to " + ep.addr}
	e.track(c)
	return c
}

// Close closes the connection; it may be called more than once.
func (c *rawConn) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.nc.Close() })
	return err
}

func (c *rawConn) fatalf(format string, args ...any) {
	c.e.t.Helper()
	c.e.t.Fatalf("%s: %s", c.last, fmt.Sprintf(format, args...))
}

// send writes data to the connection.
func (c *rawConn) send(data string) {
	c.e.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.nc, data); err != nil {
		c.fatalf("write: %v", err)
	}
}

// writeRequest sends an HTTP request for path (relative to the top URL).
// Like the python helper, a POST always carries a Content-Length (0 when
// there is no body), other methods only when body is not nil.
func (c *rawConn) writeRequest(method, path, version string, headers []header, body *string) {
	c.e.t.Helper()
	target := c.ep.prefix + path
	c.last = method + " " + target
	if method == "POST" && body == nil {
		empty := ""
		body = &empty
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/%s\r\n", method, target, version)
	fmt.Fprintf(&b, "Host: %s\r\n", c.ep.host)
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h.name, h.value)
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(*body))
	}
	b.WriteString("\r\n")
	if body != nil {
		b.WriteString(*body)
	}
	c.send(b.String())
}

var statusLineRE = regexp.MustCompile(`^HTTP/(\S+) (\S+)(?: (.*))?$`)

// request sends a request and reads the status line and the headers of the
// response, leaving the body unread (RawHttpConnection.request).
func (c *rawConn) request(method, path, version string, headers []header, body *string) *response {
	c.e.t.Helper()
	c.writeRequest(method, path, version, headers, body)
	return c.readHead()
}

// readHead reads the status line and the headers of a response.
func (c *rawConn) readHead() *response {
	c.e.t.Helper()
	line := c.readLine("status line")
	m := statusLineRE.FindStringSubmatch(line)
	if m == nil {
		c.fatalf("malformed status line %s", show(line))
	}
	status, err := strconv.Atoi(m[2])
	if err != nil {
		c.fatalf("malformed status code in %s", show(line))
	}
	r := &response{req: c.last, proto: m[1], status: status}
	for {
		line := c.readLine("header line")
		if line == "" {
			return r
		}
		name, value, _ := strings.Cut(line, ":")
		r.headers = append(r.headers, header{
			name:  strings.ToLower(strings.TrimSpace(name)),
			value: strings.TrimSpace(value),
		})
	}
}

func (c *rawConn) setReadDeadline(d time.Duration) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
}

// readLine reads one line and strips its "\r\n" or "\n".
func (c *rawConn) readLine(what string) string {
	c.e.t.Helper()
	line, err := c.tryReadLine()
	if err != nil {
		c.fatalf("reading %s (got %s so far): %v", what, show(line), err)
	}
	return line
}

func (c *rawConn) tryReadLine() (string, error) {
	c.setReadDeadline(ioTimeout)
	line, err := c.br.ReadString('\n')
	if err != nil {
		return line, err
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// readN reads exactly n bytes (RawHttpConnection.read(size)).
func (c *rawConn) readN(n int) string {
	c.e.t.Helper()
	data, err := c.tryReadN(n)
	if err != nil {
		c.fatalf("reading %d bytes (got %d: %s): %v", n, len(data), show(data), err)
	}
	return data
}

func (c *rawConn) tryReadN(n int) (string, error) {
	c.setReadDeadline(ioTimeout)
	buf := make([]byte, n)
	got, err := io.ReadFull(c.br, buf)
	return string(buf[:got]), err
}

// readOnce does a single read, returning what one recv() would: "" at the end
// of the stream (RawHttpConnection.read()).
func (c *rawConn) readOnce() string {
	c.e.t.Helper()
	c.setReadDeadline(ioTimeout)
	buf := make([]byte, 1<<16)
	n, err := c.br.Read(buf)
	if n > 0 {
		return string(buf[:n])
	}
	if err == io.EOF {
		return ""
	}
	c.fatalf("read: %v", err)
	return ""
}

// readTillEOF reads until the server closes the connection.
func (c *rawConn) readTillEOF() string {
	c.e.t.Helper()
	var b strings.Builder
	buf := make([]byte, 1<<16)
	for {
		c.setReadDeadline(ioTimeout)
		n, err := c.br.Read(buf)
		b.Write(buf[:n])
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			c.fatalf("reading until the connection closes (got %s so far): %v", show(b.String()), err)
		}
	}
}

// readChunk reads one chunk of a chunked body and returns its data; the
// terminating chunk gives "" (RawHttpConnection.read_chunk).
func (c *rawConn) readChunk() string {
	c.e.t.Helper()
	data, err := c.tryReadChunk()
	if err != nil {
		c.fatalf("reading a chunk: %v", err)
	}
	return data
}

func (c *rawConn) tryReadChunk() (string, error) {
	line, err := c.tryReadLine()
	if err != nil {
		return "", fmt.Errorf("chunk size line (got %s): %w", show(line), err)
	}
	size, _, _ := strings.Cut(line, ";") // ignore chunk extensions
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 32)
	if err != nil || n < 0 {
		return "", fmt.Errorf("malformed chunk size line %s", show(line))
	}
	data, err := c.tryReadN(int(n) + 2)
	if err != nil {
		return "", fmt.Errorf("chunk of %d bytes (got %d: %s): %w", n, len(data), show(data), err)
	}
	if !strings.HasSuffix(data, "\r\n") {
		return "", fmt.Errorf("chunk of %d bytes not followed by CRLF: %s", n, show(data))
	}
	return data[:n], nil
}

// expectClosed checks that the server has closed the connection (or closes
// it within closeTimeout) without sending anything more
// (RawHttpConnection.closed).
func (c *rawConn) expectClosed() {
	c.e.t.Helper()
	c.setReadDeadline(closeTimeout)
	buf := make([]byte, 256)
	n, err := c.br.Read(buf)
	switch {
	case n > 0:
		c.fatalf("connection should be closed, but the server sent %s", show(string(buf[:n])))
	case err == nil:
		c.fatalf("connection should be closed, but a read returned nothing and no error")
	case isTimeout(err):
		c.fatalf("connection should be closed, but it is still open after %v", closeTimeout)
	}
	// io.EOF, or a reset: closed.
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// do makes one request on a new connection and reads the whole response,
// like the python helper SynchronousHttpRequest: the body is delimited by
// chunked encoding, Content-Length or the connection closing; a response
// with none of these is an error unless it cannot have a body.
func (e *env) do(method, path string, headers []header, body *string) *response {
	e.t.Helper()
	c := e.dial(e.top())
	defer c.Close()
	r := c.request(method, path, "1.1", headers, body)
	switch {
	case strings.ToLower(r.get("Transfer-Encoding")) == "chunked":
		var b strings.Builder
		for {
			chunk := c.readChunk()
			if chunk == "" {
				break
			}
			b.WriteString(chunk)
		}
		r.body = b.String()
	case r.get("Content-Length") != "":
		n, err := strconv.Atoi(r.get("Content-Length"))
		if err != nil || n < 0 || n > maxBody {
			e.t.Fatalf("%s: bad Content-Length %s", r.req, show(r.get("Content-Length")))
		}
		r.body = c.readN(n)
	case connectionClose(r):
		r.body = c.readTillEOF()
	case r.status == 101 || r.status == 304 || r.status == 204 || (r.status == 200 && method == "OPTIONS"):
		r.body = ""
	default:
		e.t.Fatalf("%s: response %d (headers %s) has no Transfer-Encoding: chunked, Content-Length nor Connection: close",
			r.req, r.status, r.headerList())
	}
	return r
}

// connectionClose reports whether the Connection header has the token close.
func connectionClose(r *response) bool {
	for _, tok := range strings.Split(strings.ToLower(r.get("Connection")), ",") {
		if strings.TrimSpace(tok) == "close" {
			return true
		}
	}
	return false
}

// get is the python GET(url, headers=...).
func (e *env) get(path string, headers ...header) *response {
	e.t.Helper()
	return e.do("GET", path, headers, nil)
}

// post is the python POST(url, body=..., headers=...).
func (e *env) post(path, body string, headers ...header) *response {
	e.t.Helper()
	return e.do("POST", path, headers, &body)
}

// options is the python OPTIONS(url, headers=...).
func (e *env) options(path string, headers ...header) *response {
	e.t.Helper()
	return e.do("OPTIONS", path, headers, nil)
}

// stream is a response whose body is read piece by piece (the python
// AsynchronousHttpRequest): read returns one transfer chunk of a chunked
// body, Content-Length bytes of a sized body, or what one read returns of a
// body delimited by the connection closing.
type stream struct {
	*response
	c      *rawConn
	mode   int
	length int
}

const (
	streamChunked = iota
	streamSized
	streamRaw
)

func (e *env) async(method, path string, headers []header) *stream {
	e.t.Helper()
	c := e.dial(e.top())
	r := c.request(method, path, "1.1", headers, nil)
	s := &stream{response: r, c: c}
	switch {
	case strings.ToLower(r.get("Transfer-Encoding")) == "chunked":
		s.mode = streamChunked
	case r.get("Content-Length") != "":
		n, err := strconv.Atoi(r.get("Content-Length"))
		if err != nil || n < 0 || n > maxBody {
			e.t.Fatalf("%s: bad Content-Length %s", r.req, show(r.get("Content-Length")))
		}
		s.mode, s.length = streamSized, n
	case connectionClose(r) || r.status == 101:
		s.mode = streamRaw
	default:
		e.t.Fatalf("%s: response %d (headers %s) has no Transfer-Encoding: chunked, Content-Length nor Connection: close",
			r.req, r.status, r.headerList())
	}
	return s
}

// getAsync is the python GET_async(url, headers=...).
func (e *env) getAsync(path string, headers ...header) *stream {
	e.t.Helper()
	return e.async("GET", path, headers)
}

// postAsync is the python POST_async(url, headers=...).
func (e *env) postAsync(path string, headers ...header) *stream {
	e.t.Helper()
	return e.async("POST", path, headers)
}

// read is the python r.read() of an asynchronous response: one chunk.
func (s *stream) read() string {
	s.c.e.t.Helper()
	switch s.mode {
	case streamChunked:
		return s.c.readChunk()
	case streamSized:
		return s.c.readN(s.length)
	default:
		return s.c.readOnce()
	}
}

// expect reads one chunk and checks it is want.
func (s *stream) expect(want string) {
	s.c.e.t.Helper()
	s.c.e.equal(s.what("chunk read"), s.read(), want)
}

// expectEnd checks the python assertFalse(r.read()): the next read gives
// nothing, the end of the body (the terminating chunk of a chunked body).
func (s *stream) expectEnd() {
	s.c.e.t.Helper()
	var got string
	var err error
	switch s.mode {
	case streamChunked:
		got, err = s.c.tryReadChunk()
	case streamSized:
		got, err = s.c.tryReadN(s.length)
		if err == io.EOF {
			got, err = "", nil
		}
	default:
		got = s.c.readOnce()
	}
	switch {
	case err != nil && isTimeout(err):
		s.c.e.t.Fatalf("%s: expected the end of the response body, but the response is still open after %v", s.req, ioTimeout)
	case err != nil:
		s.c.e.t.Fatalf("%s: expected the end of the response body: %v", s.req, err)
	case got != "":
		s.c.e.t.Fatalf("%s: expected the end of the response body, got another chunk %s", s.req, show(got))
	}
}

func (s *stream) close() { _ = s.c.Close() }

// oldPostAsync is the python old_POST_async(url, load=False): it sends a
// POST with an empty body and does not read the response. The caller closes
// the returned connection (r1.close()) to abort the request.
func (e *env) oldPostAsync(path string) *rawConn {
	e.t.Helper()
	c := e.dial(e.top())
	c.writeRequest("POST", path, "1.1", nil, nil)
	return c
}
