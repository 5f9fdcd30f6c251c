package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestAgainstExternal runs the suite against a running server, for example
// the sockjs-node test server:
//
//	SOCKJS_CONFORMANCE_URL=http://127.0.0.1:8081 go test ./internal/conformance/ -run TestAgainstExternal -v
func TestAgainstExternal(t *testing.T) {
	top := os.Getenv("SOCKJS_CONFORMANCE_URL")
	if top == "" {
		t.Skip("set SOCKJS_CONFORMANCE_URL to the top URL of a SockJS test server (e.g. http://127.0.0.1:8081) to run the conformance suite against it")
	}
	Run(t, Target{URL: func() string { return strings.TrimSuffix(top, "/") }})
	goleak.VerifyNone(t)
}

// TestSuiteShape checks that the port has every test of sockjs-protocol.py.
func TestSuiteShape(t *testing.T) {
	classes := suite()
	if len(classes) != 18 {
		t.Errorf("got %d classes, want 18", len(classes))
	}
	n := 0
	seen := map[string]bool{}
	for _, c := range classes {
		for _, tc := range c.tests {
			name := c.name + "/" + tc.name
			if seen[name] {
				t.Errorf("duplicate test %s", name)
			}
			seen[name] = true
			if !strings.HasPrefix(tc.name, "test_") || tc.fn == nil {
				t.Errorf("bad test %s", name)
			}
			n++
		}
	}
	if n != 68 {
		t.Errorf("got %d tests, want 68", n)
	}
}

// TestKillerStrings compares the killer strings with the ones the python
// suite computes from its regular expressions (length and SHA-256 of
// client_killer_string_esc and server_killer_string_esc).
func TestKillerStrings(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		n       int
		sha     string
	}{
		{"client", clientKillerStringEsc(), 6560, "b5b3d020e1aa4d7d9fab25f10c6efc5bfe463e05c093fa5935ca6dff2fd88835"},
		{"server", serverKillerStringEsc(), 266, "f44eb6eb0feb3643ced0c6a4e4df6e8bc51c1eebc6049a6799620e52c38d9d37"},
	} {
		sum := sha256.Sum256([]byte(tc.s))
		if len(tc.s) != tc.n || hex.EncodeToString(sum[:]) != tc.sha {
			t.Errorf("%s killer string: got %d bytes, sha256 %x; want %d bytes, sha256 %s", tc.name, len(tc.s), sum, tc.n, tc.sha)
		}
	}
	if got := []rune(serverKillerString()); len(got) != 44 || got[0] != 0x200c || got[43] != 0xffff {
		t.Errorf("server killer string: got %d code points %U...", len(got), got)
	}
}

// TestRawClient checks the raw HTTP client against net/http: one read of a
// streaming response is one chunk the server flushed.
func TestRawClient(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/top/stream" || r.Host == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		for _, s := range []string{"one\n", "two and more\n", strings.Repeat("x", 5000)} {
			fmt.Fprint(w, s)
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()

	t.Run("stream", func(t *testing.T) {
		e := newEnv(t, Target{URL: func() string { return srv.URL + "/top" }})
		s := e.postAsync("/stream")
		e.status(s.response, 200)
		s.expect("one\n")
		s.expect("two and more\n")
		s.expect(strings.Repeat("x", 5000))
		s.expectEnd()
		s.close()
	})
	t.Run("sync", func(t *testing.T) {
		e := newEnv(t, Target{URL: func() string { return srv.URL + "/top" }})
		r := e.get("/stream")
		e.status(r, 200)
		e.body(r, "one\ntwo and more\n"+strings.Repeat("x", 5000))
		e.verify404(e.get("/elsewhere"))
	})
}
