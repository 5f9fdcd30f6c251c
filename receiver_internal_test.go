package sockjs

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func newTestReceiver(cursor uint64) *receiver {
	return &receiver{cursor: cursor, wake: make(chan struct{}, 1)}
}

func TestTakeOffers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cursor uint64
		offers []pushed
		wake   bool // a wake-up for something else as well
		want   []string
		gap    bool
		after  uint64
	}{
		{"follows", 10, []pushed{{first: 11, prev: 10, msgs: []string{"a", "b"}}}, false, []string{"a", "b"}, false, 12},
		{"other sessions between", 10, []pushed{{first: 14, prev: 10, msgs: []string{"a"}}, {first: 20, prev: 14, msgs: []string{"b"}}}, false, []string{"a", "b"}, false, 20},
		{"earlier push not offered yet", 10, []pushed{{first: 14, prev: 12, msgs: []string{"a"}}}, false, nil, true, 10},
		{"out of order", 10, []pushed{{first: 12, prev: 11, msgs: []string{"b"}}, {first: 11, prev: 10, msgs: []string{"a"}}}, false, nil, true, 10},
		{"pulled already", 10, []pushed{{first: 9, prev: 5, msgs: []string{"x", "y"}}, {first: 11, prev: 10, msgs: []string{"a"}}}, false, []string{"a"}, false, 11},
		{"partly pulled", 10, []pushed{{first: 9, prev: 5, msgs: []string{"x", "y", "a"}}}, false, []string{"a"}, false, 11},
		{"gap after some", 10, []pushed{{first: 11, prev: 10, msgs: []string{"a"}}, {first: 15, prev: 13, msgs: []string{"b"}}}, false, []string{"a"}, true, 11},
		{"woken for a broadcast too", 10, []pushed{{first: 11, prev: 10, msgs: []string{"a"}}}, true, nil, true, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newTestReceiver(tc.cursor)
			for _, p := range tc.offers {
				rc.offer(p)
			}
			if tc.wake {
				rc.wakeUp()
			}
			if len(rc.wake) != 1 {
				t.Fatal("not signalled")
			}
			got, gap := rc.takeOffers()
			if !slices.Equal(got, tc.want) || gap != tc.gap || rc.cursor != tc.after {
				t.Fatalf("takeOffers = %q gap %v cursor %d, want %q gap %v cursor %d", got, gap, rc.cursor, tc.want, tc.gap, tc.after)
			}
			if again, gap := rc.takeOffers(); len(again) != 0 || gap {
				t.Fatalf("offers taken twice: %q gap %v", again, gap)
			}
		})
	}
}

// TestOffersBounded: a receiver that does not keep up stops collecting
// offers and pulls instead.
func TestOffersBounded(t *testing.T) {
	rc := newTestReceiver(0)
	for i := uint64(1); i <= maxOffers+10; i++ {
		rc.offer(pushed{first: i, prev: i - 1, msgs: []string{"m"}})
	}
	if n := len(rc.offers); n > maxOffers {
		t.Fatalf("%d offers kept, want at most %d", n, maxOffers)
	}
	if msgs, gap := rc.takeOffers(); !gap || len(msgs) != 0 {
		t.Fatalf("takeOffers = %d messages, gap %v; want a pull", len(msgs), gap)
	}
}

func TestEncodeMeta(t *testing.T) {
	for _, req := range []*Request{
		{},
		{RemoteAddr: "127.0.0.1:1234", Host: "example.com", RequestURI: "/echo/000/abc/websocket?x=\"y\"",
			Header: http.Header{"Cookie": {"a=b", "c=d"}, "X-Odd": {"\x00\xff\u2028</script>", ""}, "Empty": {}, "Nil": nil}},
	} {
		want, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		got := encodeMeta(req, nil, 0)
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("encodeMeta(%+v) = %s: not JSON: %v", req, got, err)
		}
		_ = json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("encodeMeta(%+v) = %s, encoding/json gives %s", req, got, want)
		}
	}
}

func BenchmarkEncodeMeta(b *testing.B) {
	req := &Request{RemoteAddr: "127.0.0.1:54321", Host: "127.0.0.1:8080", RequestURI: "/echo/123/abcdefgh/websocket",
		Header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "User-Agent": {"Go-http-client/1.1"}, "Origin": {"http://127.0.0.1:8080"}}}
	b.ReportAllocs()
	for b.Loop() {
		encodeMeta(req, nil, 0)
	}
}

// TestStoredMetaBounded: the stored copy of the opening request keeps the
// allowed headers only, never secrets by default, and stays within its
// bound whatever the client sends (a 256 KiB header, a 64 KiB URI).
func TestStoredMetaBounded(t *testing.T) {
	opts := Options{}.withDefaults()
	rt := &route{opts: opts}
	big := strings.Repeat("x", 256<<10)
	req := &Request{
		RemoteAddr: "127.0.0.1:1234",
		Host:       "example.com",
		RequestURI: "/echo/000/" + strings.Repeat("i", 64<<10) + "/xhr",
		Header: http.Header{
			"Cookie":              {"session=secret"},
			"Authorization":       {"Bearer secret"},
			"Proxy-Authorization": {"Basic secret"},
			"User-Agent":          {"test-agent"},
			"Origin":              {"https://app.example"},
			"X-Huge":              {big},
			"Referer":             {big},
		},
	}
	b := rt.storedMeta(req)
	if len(b) > opts.MaxStoredRequest {
		t.Fatalf("stored request is %d bytes, bound %d", len(b), opts.MaxStoredRequest)
	}
	var got Request
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("stored request %q: not JSON: %v", b, err)
	}
	for _, h := range []string{"Cookie", "Authorization", "Proxy-Authorization", "X-Huge", "Referer"} {
		if got.Header.Get(h) != "" {
			t.Errorf("stored request kept %s", h)
		}
	}
	if got.Header.Get("User-Agent") != "test-agent" || got.Header.Get("Origin") != "https://app.example" || got.RemoteAddr != req.RemoteAddr {
		t.Errorf("stored request %+v lost what it should keep", got)
	}
	rt.opts.RequestHeaders = []string{"Authorization"}
	if err := json.Unmarshal(rt.storedMeta(req), &got); err != nil || got.Header.Get("Authorization") != "Bearer secret" {
		t.Errorf("Authorization listed explicitly: %+v, %v", got.Header, err)
	}
}

// FuzzEncodeMeta: whatever the opening request holds, its stored copy is
// JSON that decodes into a Request, stays within the bound (plus the
// remote address, which the server sets), and keeps no header the route
// does not keep.
func FuzzEncodeMeta(f *testing.F) {
	f.Add("/r/000/abc/xhr?x=1", "example.com", "User-Agent", "Mozilla", "Cookie", "secret", 2048)
	f.Add(strings.Repeat("\x01", 3000), strings.Repeat("\u2028", 500), "Origin", strings.Repeat("\x00", 100), "Authorization", "Bearer x", 100)
	f.Add("", "", "", "", "", "", 0)
	f.Fuzz(func(t *testing.T, uri, host, k1, v1, k2, v2 string, max int) {
		if max < 0 || max > 1<<16 {
			max = 2048
		}
		req := &Request{
			RemoteAddr: "127.0.0.1:1234", Host: host, RequestURI: uri,
			Header: http.Header{k1: {v1}, k2: {v2, v1}, "Cookie": {"c=1"}, "Authorization": {"Basic x"}},
		}
		keep := func(name string) bool { return name == k1 && name != "Cookie" && name != "Authorization" }
		b := encodeMeta(req, keep, max)
		var got Request
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("encodeMeta = %q: %v", b, err)
		}
		for name := range got.Header {
			if !keep(name) && !(keep(k1) && name == string([]rune(k1))) {
				t.Fatalf("stored header %q, which the route does not keep", name)
			}
		}
		// The fixed keys and the remote address are outside the bound.
		if slack := 64 + len(req.RemoteAddr); max > 0 && len(b) > max+slack {
			t.Fatalf("encoded %d bytes, bound %d", len(b), max)
		}
		valid := string([]rune(uri)) // as JSON decodes invalid UTF-8
		if max > 0 && !strings.HasPrefix(valid, strings.TrimRight(got.RequestURI, "\uFFFD")) {
			t.Fatalf("stored URI %q is not a prefix of %q", got.RequestURI, uri)
		}
		if max <= 0 && got.RequestURI != valid && got.RequestURI != uri {
			t.Fatalf("stored URI %q, want %q", got.RequestURI, uri)
		}
	})
}
