package sockjs

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSessionPath(t *testing.T) {
	tests := []struct {
		name, path, id, transport string
		ok                        bool
	}{
		{"plain", "/000/abc/xhr", "abc", "xhr", true},
		{"escaped id", "/a/abc%20d/xhr", "abc d", "xhr", true},
		{"escaped slash stays in id", "/a/ab%2Fc/xhr", "ab/c", "xhr", true},
		{"empty server", "//abc/xhr", "", "", false},
		{"empty session", "/a//xhr", "", "", false},
		{"empty transport", "/a/b/", "", "", false},
		{"dot in server", "/a./b/xhr", "", "", false},
		{"dot in session", "/a/b./xhr", "", "", false},
		{"escaped dot in session", "/a/b%2E/xhr", "", "", false},
		{"control character", "/a/b%00c/xhr", "", "", false},
		{"too few parts", "/a/xhr", "", "", false},
		{"too many parts", "/a/b/c/xhr", "", "", false},
		{"no leading slash", "a/b/xhr", "", "", false},
		{"bad escape", "/a/b%zz/xhr", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, tr, ok := parseSessionPath(tt.path)
			if ok != tt.ok || id != tt.id || tr != tt.transport {
				t.Fatalf("parseSessionPath(%q) = %q, %q, %v; want %q, %q, %v", tt.path, id, tr, ok, tt.id, tt.transport, tt.ok)
			}
		})
	}
}

func TestIframePath(t *testing.T) {
	for _, p := range []string{"/iframe.html", "/iframe-a.html", "/iframe-.html", "/iframe-0.1.2.html", "/iframe-0.1.2abc-dirty.2144.html"} {
		if !isIframePath(p) {
			t.Errorf("%q not accepted", p)
		}
	}
	for _, p := range []string{"/iframe.htm", "/iframe", "/IFRAME.HTML", "/iframe.HTML", "/iframe.xml", "/iframe-/.html", "/iframe-A.html"} {
		if isIframePath(p) {
			t.Errorf("%q accepted", p)
		}
	}
}

func FuzzParseSessionPath(f *testing.F) {
	for _, s := range []string{"/000/abc/xhr", "/a/b%20c/xhr_send", "//", "/a./a/xhr", "/a/a/a/a", "/%2e/x/y", "/a/%/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		id, tr, ok := parseSessionPath(p)
		if !ok {
			if id != "" || tr != "" {
				t.Fatalf("refused path returned %q, %q", id, tr)
			}
			return
		}
		if id == "" || tr == "" || strings.Contains(id, ".") || strings.Contains(tr, ".") || strings.Contains(tr, "/") {
			t.Fatalf("parseSessionPath(%q) accepted id %q transport %q", p, id, tr)
		}
		if strings.ContainsFunc(id, isControl) {
			t.Fatalf("control character in id %q", id)
		}
		if strings.Count(p, "/") != 3 {
			t.Fatalf("accepted %q with %d slashes", p, strings.Count(p, "/"))
		}
	})
}

func FuzzNodeMessage(f *testing.F) {
	f.Add(encodeWake("abc"))
	f.Add(encodeDeliver("abc", []string{"x", "", "yz"}))
	f.Add(encodeClose("abc", 3000, "Go away!"))
	f.Add([]byte{msgDeliver, 200})
	f.Add(encodeForget("abc"))
	f.Add(encodeOffer("abc", "node/1", 7, 5, []string{"x", ""}))
	f.Add(encodePing("token", 12345))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeNodeMessage(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a message that decodes the same.
		var again []byte
		switch m.kind {
		case msgWake:
			again = encodeWake(m.key)
		case msgDeliver:
			again = encodeDeliver(m.key, m.msgs)
		case msgClose:
			again = encodeClose(m.key, m.code, m.reason)
		case msgForget:
			again = encodeForget(m.key)
		case msgOffer:
			again = encodeOffer(m.key, m.receiver, m.first, m.prev, m.msgs)
		case msgPing:
			again = encodePing(m.key, int64(m.first))
		}
		m2, err := decodeNodeMessage(again)
		if err != nil || m2.key != m.key || m2.code != m.code || m2.reason != m.reason || !slices.Equal(m2.msgs, m.msgs) ||
			m2.receiver != m.receiver || m2.first != m.first || m2.prev != m.prev {
			t.Fatalf("round trip of %q: %+v vs %+v (%v)", b, m, m2, err)
		}
	})
}

func FuzzBroadcastMessage(f *testing.F) {
	f.Add(encodeBroadcast("node-1", 42, "hello"))
	f.Add(encodeBroadcast("", 0, ""))
	f.Add([]byte{msgBroadcast, 3, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		origin, seq, msg, err := decodeBroadcast(b)
		if err != nil {
			return
		}
		o2, s2, m2, err := decodeBroadcast(encodeBroadcast(origin, seq, msg))
		if err != nil || o2 != origin || s2 != seq || m2 != msg {
			t.Fatalf("round trip of %q: %q %d %q vs %q %d %q (%v)", b, origin, seq, msg, o2, s2, m2, err)
		}
	})
}
