package frame

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestConstants(t *testing.T) {
	if Open != "o" {
		t.Errorf("Open = %q", Open)
	}
	if Heartbeat != "h" {
		t.Errorf("Heartbeat = %q", Heartbeat)
	}
	if got := ErrPayloadExpected.Error(); got != "Payload expected." {
		t.Errorf("ErrPayloadExpected = %q", got)
	}
	if got := ErrBrokenJSON.Error(); got != "Broken JSON encoding." {
		t.Errorf("ErrBrokenJSON = %q", got)
	}
}

var quoteTests = []struct {
	name, in, want string
}{
	{"empty", "", `""`},
	{"ascii", "hello world", `"hello world"`},
	{"long ascii", strings.Repeat("abcdefgh", 5) + "xyz", `"` + strings.Repeat("abcdefgh", 5) + `xyz"`},
	{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
	{"short escapes", "\b\t\n\f\r", `"\b\t\n\f\r"`},
	{"spec eventsource", "  \x00\n\r ", `"  \u0000\n\r "`},
	{"other controls", "\x00\x01\x0b\x0e\x1f", `"\u0000\u0001\u000b\u000e\u001f"`},
	{"control in long run", "abcdefghij\x1fklmnopqrst", `"abcdefghij\u001fklmnopqrst"`},
	{"not html escaped", "<script>&</script>", `"<script>&</script>"`},
	{"slash verbatim", "a/b", `"a/b"`},
	{"DEL and C1 verbatim", "\x7f\u0080\u009f", "\"\x7f\u0080\u009f\""},
	{"latin1", "żółć ÿ", `"żółć ÿ"`},
	{"below 200c", "\u200b", "\"\u200b\""},
	{"200c-200f", "\u200c\u200d\u200e\u200f", `"\u200c\u200d\u200e\u200f"`},
	{"2010-2027 verbatim", "\u2010\u2027", "\"\u2010\u2027\""},
	{"2028-202f", "\u2028\u2029\u202f", `"\u2028\u2029\u202f"`},
	{"2030-205f verbatim", "\u2030\u205f", "\"\u2030\u205f\""},
	{"2060-206f", "\u2060\u206f", `"\u2060\u206f"`},
	{"2070 verbatim", "\u2070", "\"\u2070\""},
	{"ffef verbatim", "\uffef", "\"\uffef\""},
	{"fff0-ffff", "\ufff0\ufffd\ufffe\uffff", `"\ufff0\ufffd\ufffe\uffff"`},
	{"non-BMP raw", "😀𝄞", `"😀𝄞"`},
	{"invalid byte", "a\xffb", `"a\ufffdb"`},
	{"truncated rune", "\xe2\x82", `"\ufffd\ufffd"`},
	{"encoded surrogate", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
	{"mixed long", "Hello, \"world\"\n\u2028 — ok <>&", `"Hello, \"world\"\n\u2028 — ok <>&"`},
}

func TestAppendQuote(t *testing.T) {
	for _, tt := range quoteTests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendQuote(nil, tt.in))
			if got != tt.want {
				t.Errorf("AppendQuote(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if ref := refQuote(tt.in, false); got != ref {
				t.Errorf("AppendQuote(%q) = %s, reference %s", tt.in, got, ref)
			}
			got = string(AppendQuote([]byte("prefix:"), tt.in))
			if got != "prefix:"+tt.want {
				t.Errorf("AppendQuote with prefix = %s", got)
			}
		})
	}
}

// TestAppendQuoteAllRunes checks every code point against the reference,
// alone and inside runs long enough to take the eight-byte path.
func TestAppendQuoteAllRunes(t *testing.T) {
	var buf []byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		buf = AppendQuote(buf[:0], s)
		if want := refQuote(s, false); string(buf) != want {
			t.Fatalf("U+%04X: got %s, want %s", r, buf, want)
		}
		escaped := strings.HasPrefix(string(buf), `"\`)
		if escaped != (serverEscapable(r) || r == '"' || r == '\\') {
			t.Fatalf("U+%04X: escaped = %v", r, escaped)
		}
		if r < 0x3000 || r >= 0xfff0 {
			s = "abcdefghi" + s + "jklmnopqrs"
			buf = AppendJSString(buf[:0], s)
			if want := refQuote(s, true); string(buf) != want {
				t.Fatalf("U+%04X in run: got %s, want %s", r, buf, want)
			}
		}
	}
}

// TestAppendQuoteEveryByte puts each byte value at each offset of a string
// that is long enough for the eight-byte path.
func TestAppendQuoteEveryByte(t *testing.T) {
	base := []byte("0123456789abcdefghijklmnopqrstuv")
	for c := 0; c < 256; c++ {
		for pos := 0; pos < len(base); pos++ {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			s := string(b)
			if got, want := string(AppendQuote(nil, s)), refQuote(s, false); got != want {
				t.Fatalf("byte %#x at %d: got %s, want %s", c, pos, got, want)
			}
			if got, want := string(AppendJSString(nil, s)), refQuote(s, true); got != want {
				t.Fatalf("JS byte %#x at %d: got %s, want %s", c, pos, got, want)
			}
		}
	}
}

func TestSpecialMask(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := func(c byte, lt bool) bool {
		return c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || lt && c == '<'
	}
	interesting := []byte{0, 1, 0x1f, 0x20, 0x21, '"', '#', '[', '\\', ']', ';', '<', '=', 0x7f, 0x80, 0xff, 'a'}
	var b [8]byte
	for n := 0; n < 200000; n++ {
		for i := range b {
			if rng.IntN(2) == 0 {
				b[i] = interesting[rng.IntN(len(interesting))]
			} else {
				b[i] = byte(rng.IntN(256))
			}
		}
		x := binary.LittleEndian.Uint64(b[:])
		for _, lt := range []bool{false, true} {
			first := -1
			for i, c := range b {
				if special(c, lt) {
					first = i
					break
				}
			}
			m := specialMask(x, lt)
			switch {
			case first < 0 && m != 0:
				t.Fatalf("%q lt=%v: mask %#x, want 0", b, lt, m)
			case first >= 0 && (m == 0 || trailingByte(m) != first):
				t.Fatalf("%q lt=%v: mask %#x, want first special byte %d", b, lt, m, first)
			}
		}
	}
}

func trailingByte(m uint64) int {
	for i := 0; i < 8; i++ {
		if m&(0x80<<(8*i)) != 0 {
			return i
		}
	}
	return -1
}

func TestAppendJSString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"open frame", "o", `"o"`},
		{"spec jsonp message", `a["x"]`, `"a[\"x\"]"`},
		{"spec close", `c[3000,"Go away!"]`, `"c[3000,\"Go away!\"]"`},
		{"spec content types", `a["abc","%61bc"]`, `"a[\"abc\",\"%61bc\"]"`},
		{"escaped frame", `a["\u0000\n"]`, `"a[\"\\u0000\\n\"]"`},
		{"script end tag", `a["</script><script>alert(1)</script>"]`, `"a[\"\u003c/script>\u003cscript>alert(1)\u003c/script>\"]"`},
		{"html comment", "<!--", `"\u003c!--"`},
		{"gt and amp verbatim", ">&", `">&"`},
		{"raw line separator", "\u2028\u2029", `"\u2028\u2029"`},
		{"raw controls", "\n\x00", `"\n\u0000"`},
		{"invalid utf8", "\xc3", `"\ufffd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendJSString(nil, tt.in))
			if got != tt.want {
				t.Errorf("AppendJSString(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if ref := refQuote(tt.in, true); got != ref {
				t.Errorf("AppendJSString(%q) = %s, reference %s", tt.in, got, ref)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil || back != toValid(tt.in) {
				t.Errorf("decoding %s: %q, %v", got, back, err)
			}
		})
	}
}

// The exact response bodies of the protocol tests, assembled the way the
// transports are expected to assemble them.
func TestSpecBodies(t *testing.T) {
	jsonp := func(cb string, frame []byte) string {
		b := append([]byte("/**/"), cb...)
		b = append(b, '(')
		b = AppendJSString(b, string(frame))
		return string(append(b, ");\r\n"...))
	}
	htmlfile := func(frame []byte) string {
		b := AppendJSString([]byte("<script>\np("), string(frame))
		return string(append(b, ");\n</script>\r\n"...))
	}
	eventsource := func(frame []byte) string {
		return "data: " + string(frame) + "\r\n\r\n"
	}
	parse := func(t *testing.T, body string) []string {
		t.Helper()
		msgs, err := ParseMessages([]byte(body))
		if err != nil {
			t.Fatalf("ParseMessages(%q): %v", body, err)
		}
		return msgs
	}
	tests := []struct {
		name, got, want string
	}{
		{"JsonPolling open", jsonp("callback", []byte(Open)), "/**/callback(\"o\");\r\n"},
		{"JsonPolling message", jsonp("callback", AppendMessages(nil, parse(t, `["x"]`))),
			"/**/callback(\"a[\\\"x\\\"]\");\r\n"},
		{"JsonPolling content types", jsonp("x", AppendMessages(nil, append(parse(t, `["abc"]`), parse(t, `["%61bc"]`)...))),
			"/**/x(\"a[\\\"abc\\\",\\\"%61bc\\\"]\");\r\n"},
		{"JsonPolling close", jsonp("x", AppendClose(nil, 3000, "Go away!")),
			"/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n"},
		{"HtmlFile open", htmlfile([]byte(Open)), "<script>\np(\"o\");\n</script>\r\n"},
		{"HtmlFile message", htmlfile(AppendMessages(nil, parse(t, `["x"]`))),
			"<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n"},
		{"HtmlFile response limit", htmlfile(AppendMessages(nil, parse(t, `["`+strings.Repeat("x", 4096)+`"]`))),
			"<script>\np(\"a[\\\"" + strings.Repeat("x", 4096) + "\\\"]\");\n</script>\r\n"},
		{"EventSource message", eventsource(AppendMessages(nil, parse(t, `["x"]`))), "data: a[\"x\"]\r\n\r\n"},
		{"EventSource escapes", eventsource(AppendMessages(nil, parse(t, `["  \u0000\n\r "]`))),
			"data: a[\"  \\u0000\\n\\r \"]\r\n\r\n"},
		{"XhrPolling message", string(AppendMessages(nil, parse(t, `["x"]`))), `a["x"]`},
		{"Websocket close", string(AppendClose(nil, 3000, "Go away!")), `c[3000,"Go away!"]`},
		{"XhrStreaming response limit", string(AppendMessages(nil, parse(t, `["`+strings.Repeat("x", 128)+`"]`))),
			`a["` + strings.Repeat("x", 128) + `"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got  %q\nwant %q", tt.got, tt.want)
			}
		})
	}
}

// TestSpecJSONEncoding mirrors JSONEncoding.test_xhr_server_encodes and
// test_xhr_server_decodes of sockjs-protocol.py.
func TestSpecJSONEncoding(t *testing.T) {
	t.Run("server encodes", func(t *testing.T) {
		var raw, esc strings.Builder
		esc.WriteByte('"')
		for r := rune(255); r < 65536; r++ {
			if serverEscapable(r) {
				raw.WriteRune(r)
				esc.WriteString(`\u` + string(hexDigits[r>>12&0xf]) + string(hexDigits[r>>8&0xf]) +
					string(hexDigits[r>>4&0xf]) + string(hexDigits[r&0xf]))
			}
		}
		esc.WriteByte('"')
		msgs, err := ParseMessages([]byte(`["` + raw.String() + `"]`))
		if err != nil {
			t.Fatal(err)
		}
		body := string(AppendMessages(nil, msgs))
		recv := body[2 : len(body)-1] // skip framing and brackets
		if recv != esc.String() {
			t.Errorf("got  %s\nwant %s", recv, esc.String())
		}
	})
	t.Run("server decodes", func(t *testing.T) {
		var esc strings.Builder
		esc.WriteByte('"')
		for _, rg := range clientEscapable {
			for r := rg[0]; r <= rg[1]; r++ {
				esc.WriteString(`\u` + string(hexDigits[r>>12&0xf]) + string(hexDigits[r>>8&0xf]) +
					string(hexDigits[r>>4&0xf]) + string(hexDigits[r&0xf]))
			}
		}
		esc.WriteByte('"')
		msgs, err := ParseMessages([]byte("[" + esc.String() + "]"))
		if err != nil {
			t.Fatal(err)
		}
		body := string(AppendMessages(nil, msgs))
		recv := body[2 : len(body)-1]
		var a, b string
		if err := json.Unmarshal([]byte(recv), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(esc.String()), &b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("round trip changed the string")
		}
		if utf8.RuneCountInString(a) != 1093 {
			t.Errorf("decoded %d code points, want 1093", utf8.RuneCountInString(a))
		}
	})
}

func TestAppendMessages(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"nil", nil, `a[]`},
		{"empty", []string{}, `a[]`},
		{"one", []string{"x"}, `a["x"]`},
		{"empty string", []string{""}, `a[""]`},
		{"several", []string{"a", "b", "c"}, `a["a","b","c"]`},
		{"escapes", []string{"  \x00\n\r ", `"q"`, "\u2028"}, `a["  \u0000\n\r ","\"q\"","\u2028"]`},
		{"json looking", []string{`["x"]`, "{}"}, `a["[\"x\"]","{}"]`},
		{"unicode", []string{"żółw", "😀"}, `a["żółw","😀"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendMessages(nil, tt.in)); got != tt.want {
				t.Errorf("AppendMessages(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if got := string(AppendMessages([]byte("x"), tt.in)); got != "x"+tt.want {
				t.Errorf("AppendMessages with prefix = %s", got)
			}
			if got := string(AppendMessages(make([]byte, 0, 1), tt.in)); got != tt.want {
				t.Errorf("AppendMessages small buffer = %s", got)
			}
		})
	}
}

func TestAppendClose(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		reason string
		want   string
	}{
		{"go away", 3000, "Go away!", `c[3000,"Go away!"]`},
		{"another connection", 2010, "Another connection still open", `c[2010,"Another connection still open"]`},
		{"interrupted", 1002, "Connection interrupted", `c[1002,"Connection interrupted"]`},
		{"empty reason", 1000, "", `c[1000,""]`},
		{"zero", 0, "x", `c[0,"x"]`},
		{"negative", -1, "x", `c[-1,"x"]`},
		{"escaped reason", 4000, "a\"b\n\u2028", `c[4000,"a\"b\n\u2028"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendClose(nil, tt.code, tt.reason)); got != tt.want {
				t.Errorf("AppendClose(%d, %q) = %s, want %s", tt.code, tt.reason, got, tt.want)
			}
		})
	}
}

func TestValidCallback(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"spec callback", "callback", true},
		{"spec x", "x", true},
		{"sockjs-client style", "_jp.a1b2c3d", true},
		{"all classes", "azAZ09_.", true},
		{"max length", strings.Repeat("a", 256), true},
		{"too long", strings.Repeat("a", 257), false},
		{"empty", "", false},
		{"spec space", " ", false},
		{"spec star", "*", false},
		{"spec paren", "abc(", false},
		{"spec encoded paren", "abc%28", false},
		{"hyphen", "a-b", false},
		{"bracket", "a[0]", false},
		{"semicolon", "a;b", false},
		{"slash", "a/b", false},
		{"newline", "a\n", false},
		{"nul", "a\x00", false},
		{"non-ascii", "ą", false},
		{"dollar", "$", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidCallback(tt.in); got != tt.want {
				t.Errorf("ValidCallback(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestAllocs(t *testing.T) {
	msgs := []string{"hello", "żółw \u2028 \x00 😀 \xff", strings.Repeat("x", 300)}
	buf := make([]byte, 0, 4096)
	tests := []struct {
		name string
		f    func()
	}{
		{"AppendQuote", func() { AppendQuote(buf, msgs[1]) }},
		{"AppendJSString", func() { AppendJSString(buf, `a["</script>\u2028"]`) }},
		{"AppendMessages", func() { AppendMessages(buf, msgs) }},
		{"AppendClose", func() { AppendClose(buf, 3000, "Go away!") }},
		{"ValidCallback", func() { ValidCallback("_jp.abc") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.f); n != 0 {
				t.Errorf("%v allocations, want 0", n)
			}
		})
	}
	t.Run("ParseMessages", func(t *testing.T) {
		// The decoded-bytes buffer and the result slice.
		payload := []byte(`["a","b\n","c\u2028",` + "\"\xff\"]")
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseMessages(payload) }); n > 2 {
			t.Errorf("%v allocations, want at most 2", n)
		}
	})
}

// TestValidSeq compares validSeq with utf8.DecodeRuneInString on all lead
// bytes, all second bytes and boundary values of the later bytes, including
// truncated sequences.
func TestValidSeq(t *testing.T) {
	later := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xe2, 0xff}
	for c := 0x80; c < 0x100; c++ {
		for b1 := 0; b1 < 0x100; b1++ {
			for _, b2 := range later {
				for _, b3 := range later {
					full := string([]byte{byte(c), byte(b1), b2, b3})
					for n := 1; n <= 4; n++ {
						s := full[:n]
						r, size := utf8.DecodeRuneInString(s)
						want := size
						if r == utf8.RuneError && size == 1 {
							want = 0
						}
						if got := validSeq(s, 0); got != want {
							t.Fatalf("validSeq(%q) = %d, want %d", s, got, want)
						}
					}
				}
			}
		}
	}
}
