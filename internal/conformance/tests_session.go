package conformance

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// SessionURLs: /<server>/<session>/<transport>. The server accepts any
// server and session values, but not empty ones nor ones with dots.

// verifySessionURL opens a session with xhr-polling under sessionPart.
func verifySessionURL(e *env, sessionPart string) {
	e.t.Helper()
	r := e.post(echoBase+sessionPart+"/xhr", "")
	e.status(r, 200)
	e.body(r, "o\n")
}

func sessionURLsAnyValue(e *env) {
	// The python suite adds random.randint(0, 1024) so that the test can be
	// rerun at once; a wider range keeps the sessions of parallel or
	// repeated runs apart.
	r := strconv.Itoa(rand.IntN(1_000_000_000))
	verifySessionURL(e, "/a/a"+r)
	for _, sessionPart := range []string{"/_/_" + r, "/1/" + r, "/abcdefgh_i-j%20/abcdefg_i-j%20" + r} {
		verifySessionURL(e, sessionPart)
	}
}

func sessionURLsInvalidPaths(e *env) {
	for _, suffix := range []string{"//", "/a./a", "/a/a.", "/./.", "/", "///"} {
		e.verify404(e.get(echoBase + suffix + "/xhr"))
		e.verify404(e.post(echoBase+suffix+"/xhr", ""))
	}
}

// Only the session id identifies a session: the server id is for load
// balancers and is ignored.
func sessionURLsIgnoringServerID(e *env) {
	sessionID := newSessionID()
	r := e.post(echoBase+"/000/"+sessionID+"/xhr", "")
	e.status(r, 200)
	e.body(r, "o\n")

	r = e.post(echoBase+"/000/"+sessionID+"/xhr_send", `["a"]`)
	e.status(r, 204)
	e.emptyBody(r)

	r = e.post(echoBase+"/999/"+sessionID+"/xhr", "")
	e.status(r, 200)
	e.body(r, "a[\"a\"]\n")
}

// Protocol: framing and sessions, shown with xhr-polling.

func protocolSimpleSession(e *env) {
	transURL := echoBase + "/000/" + newSessionID()
	// A new session starts with the open frame; "\n" delimits xhr frames.
	r := e.post(transURL+"/xhr", "")
	e.status(r, 200)
	e.body(r, "o\n")

	// Messages are sent as a JSON array of strings.
	r = e.post(transURL+"/xhr_send", `["a"]`)
	e.status(r, 204)
	e.emptyBody(r)

	// The echo comes back as an array frame.
	r = e.post(transURL+"/xhr", "")
	e.status(r, 200)
	e.body(r, "a[\"a\"]\n")

	// Sending to a session that does not exist is an error.
	r = e.post(echoBase+"/000/bad_session/xhr_send", `["a"]`)
	e.verify404(r)

	// Only one receiving request may wait on a session: a second one gets a
	// close frame.
	r1 := e.oldPostAsync(transURL + "/xhr")
	time.Sleep(250 * time.Millisecond)
	r2 := e.post(transURL+"/xhr", "")
	e.body(r2, "c[2010,\"Another connection still open\"]\n")
	e.status(r2, 200)

	_ = r1.Close()
}

// The close service closes the session; every later poll gets the close
// frame until the session times out.
func protocolCloseSession(e *env) {
	transURL := closeBase + "/000/" + newSessionID()
	r := e.post(transURL+"/xhr", "")
	e.status(r, 200)
	e.body(r, "o\n")

	r = e.post(transURL+"/xhr", "")
	e.status(r, 200)
	e.body(r, "c[3000,\"Go away!\"]\n")

	r = e.post(transURL+"/xhr", "")
	e.status(r, 200)
	e.body(r, "c[3000,\"Go away!\"]\n")
}
