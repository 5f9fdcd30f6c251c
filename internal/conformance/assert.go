package conformance

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Assertions. Like unittest's, a failed assertion ends the test: the later
// steps of a protocol exchange make no sense once an earlier one failed.

// show quotes s for a failure message, shortening very long strings.
func show(s string) string {
	const max = 600
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s...%s (%d bytes)", strconv.Quote(s[:400]), strconv.Quote(s[len(s)-100:]), len(s))
}

// equal is assertEqual for strings.
func (e *env) equal(what, got, want string) {
	e.t.Helper()
	if got != want {
		e.t.Fatalf("%s:\n got: %s\nwant: %s", what, show(got), show(want))
	}
}

// equalInt is assertEqual for integers.
func (e *env) equalInt(what string, got, want int) {
	e.t.Helper()
	if got != want {
		e.t.Fatalf("%s: got %d, want %d", what, got, want)
	}
}

// check fails the test with the message when ok is false.
func (e *env) check(ok bool, format string, args ...any) {
	e.t.Helper()
	if !ok {
		e.t.Fatalf(format, args...)
	}
}

// oneOf checks that got is one of want.
func (e *env) oneOf(what, got string, want ...string) {
	e.t.Helper()
	for _, w := range want {
		if got == w {
			return
		}
	}
	quoted := make([]string, len(want))
	for i, w := range want {
		quoted[i] = show(w)
	}
	e.t.Fatalf("%s:\n got: %s\nwant one of: %s", what, show(got), strings.Join(quoted, ", "))
}

// status checks the response status against the allowed values.
func (e *env) status(r *response, want ...int) {
	e.t.Helper()
	for _, w := range want {
		if r.status == w {
			return
		}
	}
	wants := make([]string, len(want))
	for i, w := range want {
		wants[i] = strconv.Itoa(w)
	}
	e.t.Fatalf("%s: status: got %d, want %s (body %s)", r.req, r.status, strings.Join(wants, " or "), show(r.body))
}

// body checks the whole response body.
func (e *env) body(r *response, want string) {
	e.t.Helper()
	e.equal(r.what("body"), r.body, want)
}

// emptyBody is assertFalse(r.body).
func (e *env) emptyBody(r *response) {
	e.t.Helper()
	if r.body != "" {
		e.t.Fatalf("%s: body should be empty, got %s", r.req, show(r.body))
	}
}

// bodyContains is assertTrue(s in r.body).
func (e *env) bodyContains(r *response, s string) {
	e.t.Helper()
	if !strings.Contains(r.body, s) {
		e.t.Fatalf("%s: body should contain %s, got %s", r.req, show(s), show(r.body))
	}
}

// headerEqual is assertEqual(r[name], want); a missing header counts as "".
func (e *env) headerEqual(r *response, name, want string) {
	e.t.Helper()
	got := r.get(name)
	if got != want || (want != "" && !r.has(name)) {
		gotShown := show(got)
		if !r.has(name) {
			gotShown = "(no such header)"
		}
		e.t.Fatalf("%s: header %s:\n got: %s\nwant: %s", r.req, name, gotShown, show(want))
	}
}

// headerEmpty is assertFalse(r[name]): the header is missing or empty.
func (e *env) headerEmpty(r *response, name string) {
	e.t.Helper()
	if v := r.get(name); v != "" {
		e.t.Fatalf("%s: header %s should be absent, got %s", r.req, name, show(v))
	}
}

// headerPresent is assertTrue(r[name]): the header is there and not empty.
func (e *env) headerPresent(r *response, name string) string {
	e.t.Helper()
	v := r.get(name)
	if v == "" {
		e.t.Fatalf("%s: header %s should be set, it is missing or empty (headers %s)", r.req, name, r.headerList())
	}
	return v
}

// headerMatches is assertTrue(re.search(pattern, r[name])).
func (e *env) headerMatches(r *response, name, pattern, msg string) {
	e.t.Helper()
	v := r.get(name)
	if !r.has(name) || !regexp.MustCompile(pattern).MatchString(v) {
		e.t.Fatalf("%s: header %s = %s should match /%s/ %s", r.req, name, show(v), pattern, msg)
	}
}

// verify404 checks a 404/not found answer; no body or content type is
// defined for it.
func (e *env) verify404(r *response) {
	e.t.Helper()
	e.status(r, 404)
}

// verify405 checks a 405/method not allowed answer: an Allow header, no
// content type and no body.
func (e *env) verify405(r *response) {
	e.t.Helper()
	e.status(r, 405)
	e.headerEmpty(r, "content-type")
	e.headerPresent(r, "allow")
	e.emptyBody(r)
}

// verifyContentType compares the Content-Type header ignoring spaces.
func (e *env) verifyContentType(r *response, want string) {
	e.t.Helper()
	if !r.has("content-type") {
		e.t.Fatalf("%s: no Content-Type header, want %s", r.req, show(want))
	}
	e.equal(r.what("Content-Type (spaces removed)"), strings.ReplaceAll(r.get("content-type"), " ", ""), want)
}

// verifyOptions checks the answer to a CORS preflight OPTIONS request, for
// both an Origin "test" and an Origin "null": cacheable for long, the
// requested methods allowed, no body, and the CORS headers.
func (e *env) verifyOptions(path, allowedMethods string) {
	e.t.Helper()
	for _, origin := range []string{"test", "null"} {
		r := e.options(path, hdr("Access-Control-Request-Method", allowedMethods), hdr("Origin", origin))
		// A 200 'OK' or a 204 'No Content' are both acceptable answers
		// to a CORS request.
		e.status(r, 204, 200)
		e.headerMatches(r, "Cache-Control", "public", "")
		e.headerMatches(r, "Cache-Control", "max-age=[1-9][0-9]{6}", "(max-age must be large, one year (31536000) is best)")
		e.headerPresent(r, "Expires")
		maxAge := r.get("access-control-max-age")
		n, err := strconv.Atoi(maxAge)
		e.check(err == nil && n > 1000000, "%s: Access-Control-Max-Age should be an integer > 1000000, got %s", r.req, show(maxAge))
		// The server may allow more methods than the requested ones.
		allow := r.get("Access-Control-Allow-Methods")
		for _, m := range strings.Split(allowedMethods, ",") {
			m = strings.TrimSpace(m)
			e.check(strings.Contains(allow, m), "%s: Access-Control-Allow-Methods %s does not contain %s", r.req, show(allow), m)
		}
		e.emptyBody(r)
		e.verifyCORS(r, origin)
	}
}

// verifyNoCookie checks that the response sets no cookie.
func (e *env) verifyNoCookie(r *response) {
	e.t.Helper()
	e.headerEmpty(r, "Set-Cookie")
}

// verifyCORS checks the CORS headers of a response to a request with the
// given Origin header ("" for none): the origin is echoed with credentials
// allowed, and without an Origin the answer is "*" without credentials.
func (e *env) verifyCORS(r *response, origin string) {
	e.t.Helper()
	if origin != "" {
		e.headerEqual(r, "access-control-allow-origin", origin)
		// Credentials are needed to get cookies (JSESSIONID) flying.
		e.headerEqual(r, "access-control-allow-credentials", "true")
	} else {
		e.headerEqual(r, "access-control-allow-origin", "*")
		e.headerEmpty(r, "access-control-allow-credentials")
	}
}

// verifyNotCached checks that a response forbids any caching.
func (e *env) verifyNotCached(r *response) {
	e.t.Helper()
	e.headerEqual(r, "Cache-Control", "no-store, no-cache, no-transform, must-revalidate, max-age=0")
	e.headerEmpty(r, "Expires")
	e.headerEmpty(r, "Last-Modified")
}

// verifyCookie checks the JSESSIONID cookie: its first attribute is
// want (e.g. "JSESSIONID=dummy") and its second "path=/". When a response
// sets several cookies, the JSESSIONID one is checked.
func (e *env) verifyCookie(r *response, want string) {
	e.t.Helper()
	cookies := r.values("Set-Cookie")
	if len(cookies) == 0 {
		e.t.Fatalf("%s: no Set-Cookie header, want %s; path=/", r.req, want)
	}
	c := cookies[len(cookies)-1]
	for _, v := range cookies {
		if strings.HasPrefix(strings.TrimSpace(v), "JSESSIONID=") {
			c = v
		}
	}
	parts := strings.Split(c, ";")
	e.equal(r.what("Set-Cookie first part"), strings.TrimSpace(parts[0]), want)
	e.check(len(parts) > 1, "%s: Set-Cookie %s has no second part, want path=/", r.req, show(c))
	e.equal(r.what("Set-Cookie second part"), strings.ToLower(strings.TrimSpace(parts[1])), "path=/")
}

// jsonObject decodes a response body that must be one JSON object, keeping
// numbers as json.Number.
func (e *env) jsonObject(r *response) map[string]any {
	e.t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		e.t.Fatalf("%s: body is not a JSON object: %v: %s", r.req, err, show(r.body))
	}
	if _, err := dec.Token(); err != io.EOF {
		e.t.Fatalf("%s: body has data after the JSON object: %s", r.req, show(r.body))
	}
	return m
}

var jsonIntRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// isJSONInt reports whether v is a JSON number that python's json module
// decodes to an int (no fraction, no exponent).
func isJSONInt(v any) bool {
	n, ok := v.(json.Number)
	return ok && jsonIntRE.MatchString(string(n))
}

// asciiStrip is python's str.strip(): it removes leading and trailing ASCII
// whitespace.
func asciiStrip(s string) string { return strings.Trim(s, " \t\n\r\v\f") }

// newSessionID returns a fresh random UUID (version 4) string, python's
// str(uuid.uuid4()).
func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func lower(s string) string { return strings.ToLower(s) }
