package load

import (
	"bufio"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestParseFrame(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind byte
		msgs []string
		code int
		bad  bool
	}{
		{in: "o", kind: 'o'},
		{in: "h", kind: 'h'},
		{in: `a["1:2","x"]`, kind: 'a', msgs: []string{"1:2", "x"}},
		{in: `a[]`, kind: 'a', msgs: []string{}},
		{in: `a["q\"uote","\u00e9"]`, kind: 'a', msgs: []string{`q"uote`, "é"}},
		{in: `c[2010,"Another connection still open"]`, kind: 'c', code: 2010},
		{in: `a["unterminated]`, bad: true},
		{in: `a["a""b"]`, bad: true},
		{in: "oo", bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			f, err := parseFrame([]byte(tc.in))
			if tc.bad {
				if err == nil {
					t.Fatalf("parsed %q as %+v, want an error", tc.in, f)
				}
				return
			}
			if err != nil || f.kind != tc.kind || f.code != tc.code || (tc.msgs != nil && !slices.Equal(f.msgs, tc.msgs)) {
				t.Fatalf("parseFrame(%q) = %+v, %v", tc.in, f, err)
			}
		})
	}
}

func TestEchoMsg(t *testing.T) {
	s, q, ok := parseEchoMsg(echoMsg(12, 345))
	if !ok || s != 12 || q != 345 {
		t.Fatalf("round trip: %d %d %v", s, q, ok)
	}
	if _, _, ok := parseEchoMsg("nope"); ok {
		t.Fatal("parsed a message without a separator")
	}
}

func TestTracker(t *testing.T) {
	var tr tracker
	for _, seq := range []int{0, 1, 3, 2, 3, 5} {
		tr.got(seq)
	}
	if tr.unique != 5 || tr.dup != 1 || tr.reorder != 1 || tr.max != 5 {
		t.Fatalf("tracker = %+v", tr)
	}
}

// TestH1Responses reads a chunked, a Content-Length and a 204 response
// back to back from one connection, as keep-alive delivers them.
func TestH1Responses(t *testing.T) {
	wire := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"2\r\no\n\r\n" + "b;ext=1\r\na[\"hello\"]\n\r\n" + "0\r\nX-Trailer: 1\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nh\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.0 200 OK\r\n\r\nrest"
	h := &h1conn{br: bufio.NewReader(strings.NewReader(wire))}
	for i, want := range []struct {
		status int
		body   string
		close  bool
	}{
		{200, "o\na[\"hello\"]\n", false},
		{200, "h\n", false},
		{204, "", false},
		{200, "rest", true},
	} {
		resp, err := h.readHead()
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(&resp.body)
		if err != nil || resp.status != want.status || string(b) != want.body || resp.close != want.close || !resp.body.done {
			t.Fatalf("response %d: status %d body %q close %v done %v err %v", i, resp.status, b, resp.close, resp.body.done, err)
		}
	}
}
