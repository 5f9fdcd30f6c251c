package conformance

import (
	"encoding/json"
	"strconv"
	"time"
)

// JSONEncoding: SockJS delivers any string, whatever characters browsers or
// proxies would mangle.

// xhrEcho opens an xhr-polling session, sends payload with xhr_send, polls,
// and returns the JSON string of the echoed message: the polled body
// stripped, without the framing 'a[' and ']'.
func xhrEcho(e *env, payload string) string {
	e.t.Helper()
	transURL := echoBase + "/000/" + newSessionID()
	r := e.post(transURL+"/xhr", "")
	e.body(r, "o\n")
	e.status(r, 200)

	r = e.post(transURL+"/xhr_send", payload)
	e.status(r, 204)

	r = e.post(transURL+"/xhr", "")
	e.status(r, 200)
	body := asciiStrip(r.body)
	e.check(len(body) >= 3 && body[:2] == "a[" && body[len(body)-1] == ']',
		"%s: expected an array frame a[...], got %s", r.req, show(r.body))
	return body[2 : len(body)-1]
}

// The server escapes at least the characters it must escape.
func jsonEncodingXhrServerEncodes(e *env) {
	want := serverKillerStringEsc()
	recv := xhrEcho(e, `["`+serverKillerString()+`"]`)
	// What comes back is exactly the escaped string.
	e.equal("echo of the server killer string", recv, want)
}

// The server decodes the characters the client escapes.
func jsonEncodingXhrServerDecodes(e *env) {
	sent := clientKillerStringEsc()
	recv := xhrEcho(e, "["+sent+"]")
	var a, b string
	if err := json.Unmarshal([]byte(recv), &a); err != nil {
		e.t.Fatalf("echo of the client killer string is not a JSON string: %v: %s", err, show(recv))
	}
	if err := json.Unmarshal([]byte(sent), &b); err != nil {
		e.t.Fatalf("conformance: bad client killer string: %v", err)
	}
	if a != b {
		ra, rb := []rune(a), []rune(b)
		i := 0
		for i < len(ra) && i < len(rb) && ra[i] == rb[i] {
			i++
		}
		e.t.Fatalf("echo of the client killer string differs from what was sent from code point #%d on (got %d code points, want %d):\n got: %s\nwant: %s",
			i, len(ra), len(rb), show(recv), show(sent))
	}
}

// HandlingClose: closing sessions and aborted requests.

// A session closed by the server gives every request the close frame, and
// streaming requests end after it.
func handlingCloseCloseFrame(e *env) {
	url := closeBase + "/000/" + newSessionID()
	r1 := e.postAsync(url + "/xhr_streaming")
	r1.read() // prelude
	r1.expect("o\n")
	r1.expect("c[3000,\"Go away!\"]\n")

	r2 := e.postAsync(url + "/xhr_streaming")
	r2.read() // prelude
	r2.expect("c[3000,\"Go away!\"]\n")

	r1.expectEnd()
	r2.expectEnd()
}

// A second receiving request gets "Another connection still open" and
// ends.
func handlingCloseCloseRequest(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r1 := e.postAsync(url + "/xhr_streaming")
	r1.read() // prelude
	r1.expect("o\n")

	r2 := e.postAsync(url + "/xhr_streaming")
	r2.read() // prelude
	r2.expect("c[2010,\"Another connection still open\"]\n")

	r2.expectEnd()
}

// A receiving request broken by the network closes the session: the next
// request gets a new session or the close frame 1002.
func handlingCloseAbortXhrStreaming(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r1 := e.postAsync(url + "/xhr_streaming")
	r1.read() // prelude
	r1.expect("o\n")

	r2 := e.postAsync(url + "/xhr_streaming")
	r2.read() // prelude
	r2.expect("c[2010,\"Another connection still open\"]\n")
	r2.expectEnd()

	r1.close()

	r3 := e.postAsync(url + "/xhr_streaming")
	r3.read() // prelude
	e.oneOf(r3.what("chunk read"), r3.read(), "o\n", "c[1002,\"Connection interrupted\"]\n")
	r3.close()
}

// The same for xhr-polling.
func handlingCloseAbortXhrPolling(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r1 := e.post(url+"/xhr", "")
	e.body(r1, "o\n")

	c1 := e.oldPostAsync(url + "/xhr")
	time.Sleep(250 * time.Millisecond)

	r2 := e.post(url+"/xhr", "")
	e.body(r2, "c[2010,\"Another connection still open\"]\n")

	_ = c1.Close()

	r3 := e.post(url+"/xhr", "")
	e.oneOf(r3.what("body"), r3.body, "o\n", "c[1002,\"Connection interrupted\"]\n")
}

// Http10 and Http11: sane Content-Length, Transfer-Encoding and keep-alive
// handling, on the greeting and on a streaming transport.

const greeting = "Welcome to SockJS!\n"

func http10Synchronous(e *env) {
	ep := e.top()
	c := e.dial(ep)
	// Connection: Keep-Alive is not HTTP/1.0, but HTTP/1.0 clients send it.
	r := c.request("GET", echoBase, "1.0", []header{hdr("Connection", "Keep-Alive")}, nil)
	e.status(r, 200)
	e.oneOf(r.what("HTTP version of the response"), r.proto, "1.0", "1.1")
	// No chunking in HTTP/1.0.
	e.headerEmpty(r, "transfer-encoding")

	// Either Content-Length (and maybe keep-alive) or Connection: close.
	if r.get("content-length") == "" {
		e.equal(r.what("Connection header, lower-cased (no Content-Length)"), lower(r.get("connection")), "close")
		e.equal(r.what("body"), c.readTillEOF(), greeting)
		c.expectClosed()
		return
	}
	n, err := strconv.Atoi(r.get("content-length"))
	e.check(err == nil, "%s: malformed Content-Length %s", r.req, show(r.get("content-length")))
	e.equalInt(r.what("Content-Length"), n, len(greeting))
	e.equal(r.what("body"), c.readN(len(greeting)), greeting)
	connection := lower(r.get("connection"))
	if connection == "close" || connection == "" {
		// HTTP/1.0 closes by default.
		c.expectClosed()
		return
	}
	e.equal(r.what("Connection header, lower-cased"), connection, "keep-alive")
	// A second request on the same connection.
	r = c.request("GET", echoBase, "1.0", []header{hdr("Connection", "Keep-Alive")}, nil)
	e.status(r, 200)
}

func http10Streaming(e *env) {
	url := closeBase + "/000/" + newSessionID()
	c := e.dial(e.top())
	r := c.request("POST", url+"/xhr_streaming", "1.0", []header{hdr("Connection", "Keep-Alive")}, nil)
	e.status(r, 200)
	// No chunking in HTTP/1.0, and the length is not known.
	e.headerEmpty(r, "transfer-encoding")
	e.headerEmpty(r, "content-length")
	// The Connection header does not matter: without Content-Length and
	// Transfer-Encoding the body ends when the connection closes.

	// As in HandlingClose.test_close_frame.
	prelude := c.readN(2048 + 1)
	e.check(prelude[0] == 'h', "%s: the prelude should start with 'h', got %s", r.req, show(prelude))
	e.equal(r.what("frame"), c.readN(2), "o\n")
	e.equal(r.what("frame"), c.readN(19), "c[3000,\"Go away!\"]\n")
	c.expectClosed()
}

func http11Synchronous(e *env) {
	c := e.dial(e.top())
	r := c.request("GET", echoBase, "1.1", []header{hdr("Connection", "Keep-Alive")}, nil)
	// The python has assertTrue(r.http, '1.1'): only a version is required.
	e.check(r.proto != "", "%s: response has no HTTP version", r.req)
	// Keep-alive is the HTTP/1.1 default.
	connection := lower(r.get("connection"))
	e.check(connection == "keep-alive" || connection == "",
		"%s: Connection header %s: your server doesn't support connection:Keep-Alive", r.req, show(r.get("connection")))
	// Content-Length or chunked Transfer-Encoding.
	if r.get("content-length") != "" {
		n, err := strconv.Atoi(r.get("content-length"))
		e.check(err == nil, "%s: malformed Content-Length %s", r.req, show(r.get("content-length")))
		e.equalInt(r.what("Content-Length"), n, len(greeting))
		e.equal(r.what("body"), c.readN(len(greeting)), greeting)
		e.headerEmpty(r, "transfer-encoding")
	} else {
		e.equal(r.what("Transfer-Encoding, lower-cased"), lower(r.get("transfer-encoding")), "chunked")
		e.equal(r.what("first chunk"), c.readChunk(), greeting)
		e.equal(r.what("second chunk"), c.readChunk(), "")
	}
	// A second request on the same connection.
	r = c.request("GET", echoBase, "1.1", []header{hdr("Connection", "Keep-Alive")}, nil)
	e.status(r, 200)
}

func http11Streaming(e *env) {
	url := closeBase + "/000/" + newSessionID()
	c := e.dial(e.top())
	r := c.request("POST", url+"/xhr_streaming", "1.1", []header{hdr("Connection", "Keep-Alive")}, nil)
	e.status(r, 200)
	// Chunking is required in HTTP/1.1 (the python only asserts the header
	// is present, then reads chunks).
	e.equal(r.what("Transfer-Encoding, lower-cased"), lower(r.get("transfer-encoding")), "chunked")
	e.headerEmpty(r, "content-length")

	// As in HandlingClose.test_close_frame.
	prelude := c.readChunk()
	e.check(prelude != "" && prelude[0] == 'h', "%s: the prelude chunk should start with 'h', got %s", r.req, show(prelude))
	e.equal(r.what("chunk"), c.readChunk(), "o\n")
	e.equal(r.what("chunk"), c.readChunk(), "c[3000,\"Go away!\"]\n")
	e.equal(r.what("chunk"), c.readChunk(), "")
}
