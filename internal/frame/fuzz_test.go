package frame

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkQuoted verifies an AppendQuote (lt == false) or AppendJSString (lt ==
// true) result q for input s.
func checkQuoted(t *testing.T, s string, q []byte, lt bool) {
	t.Helper()
	if want := refQuote(s, lt); string(q) != want {
		t.Fatalf("quote(%q) = %s, reference %s", s, q, want)
	}
	if !json.Valid(q) {
		t.Fatalf("quote(%q) = %s is not valid JSON", s, q)
	}
	if !utf8.Valid(q) {
		t.Fatalf("quote(%q) = %q is not valid UTF-8", s, q)
	}
	var back string
	if err := json.Unmarshal(q, &back); err != nil {
		t.Fatalf("decoding %s: %v", q, err)
	}
	if want := toValid(s); back != want {
		t.Fatalf("quote(%q) = %s decodes to %q, want %q", s, q, back, want)
	}
	for _, r := range string(q) {
		if serverEscapable(r) {
			t.Fatalf("quote(%q) = %s contains raw U+%04X", s, q, r)
		}
		if lt && r == '<' {
			t.Fatalf("JS quote(%q) = %s contains raw '<'", s, q)
		}
	}
	msgs, err := ParseMessages(q)
	if e := sameResult(msgs, err, []string{toValid(s)}, nil); e != nil {
		t.Fatalf("ParseMessages(%s): %v", q, e)
	}
}

func FuzzAppendQuote(f *testing.F) {
	for _, tt := range quoteTests {
		f.Add(tt.in)
	}
	f.Add("</script><!--")
	f.Add("abcdefgh\u2028abcdefgh\xffabcdefgh")
	f.Fuzz(func(t *testing.T, s string) {
		checkQuoted(t, s, AppendQuote(nil, s), false)
		checkQuoted(t, s, AppendJSString(nil, s), true)
		// Appending must not disturb the prefix.
		if got := AppendQuote([]byte("pre"), s); string(got[:3]) != "pre" || string(got[3:]) != refQuote(s, false) {
			t.Fatalf("AppendQuote with prefix = %q", got)
		}
	})
}

func FuzzAppendMessages(f *testing.F) {
	f.Add("x", "", "", uint8(1))
	f.Add("a", "b", "c", uint8(3))
	f.Add("  \x00\n\r ", "\u2028\"\\", "\xff😀", uint8(3))
	f.Add("", "", "", uint8(0))
	f.Fuzz(func(t *testing.T, m1, m2, m3 string, n uint8) {
		msgs := []string{m1, m2, m3}[:n%4]
		want := make([]string, len(msgs))
		ref := "a["
		for i, m := range msgs {
			want[i] = toValid(m)
			if i > 0 {
				ref += ","
			}
			ref += refQuote(m, false)
		}
		ref += "]"
		frame := AppendMessages(nil, msgs)
		if string(frame) != ref {
			t.Fatalf("AppendMessages(%q) = %s, reference %s", msgs, frame, ref)
		}
		var decoded []string
		if err := json.Unmarshal(frame[1:], &decoded); err != nil {
			t.Fatalf("AppendMessages(%q) = %s: %v", msgs, frame, err)
		}
		if e := sameResult(decoded, nil, want, nil); e != nil {
			t.Fatalf("encoding/json on %s: %v", frame, e)
		}
		got, err := ParseMessages(frame[1:])
		if e := sameResult(got, err, want, nil); e != nil {
			t.Fatalf("ParseMessages(%s): %v", frame[1:], e)
		}
		// The frame survives the jsonp/htmlfile wrapping.
		js := AppendJSString(nil, string(frame))
		var unwrapped string
		if err := json.Unmarshal(js, &unwrapped); err != nil || unwrapped != string(frame) {
			t.Fatalf("AppendJSString(%s) = %s: %q, %v", frame, js, unwrapped, err)
		}
		if strings.Contains(strings.ToLower(string(js)), "</script") {
			t.Fatalf("AppendJSString(%s) = %s contains </script", frame, js)
		}
		// The close frame with the same reason.
		c := AppendClose(nil, int(n)*1000, m1)
		var parts []any
		if err := json.Unmarshal(c[1:], &parts); err != nil || len(parts) != 2 ||
			parts[0] != float64(int(n)*1000) || parts[1] != toValid(m1) {
			t.Fatalf("AppendClose(%d, %q) = %s: %v, %v", int(n)*1000, m1, c, parts, err)
		}
	})
}

func FuzzParseMessages(f *testing.F) {
	seeds := []string{
		``, ` `, `[]`, `["x"]`, `["x`, `"a"`, `["a","b"]`, `["  \u0000\n\r "]`,
		`["\ud83d\ude00"]`, `["\ud800"]`, `["\ud800\u0041"]`, `[1]`, `[["a"]]`, `null`,
		`{"a":"b"}`, `["a",]`, `["a"]x`, "[\"\xff\"]", `["\/\b\f\n\r\t\"\\"]`,
		` [ "a" , "b" ] `, `["` + strings.Repeat("abcdefgh", 4) + `\n"]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := string(b)
		got, err := ParseMessages(b)
		want, wantErr := refParse(b)
		if e := sameResult(got, err, want, wantErr); e != nil {
			t.Fatalf("ParseMessages(%q) disagrees with encoding/json: %v", b, e)
		}
		if err != nil {
			if got != nil {
				t.Fatalf("ParseMessages(%q) returned messages and %v", b, err)
			}
			return
		}
		if got == nil {
			t.Fatalf("ParseMessages(%q) returned nil without an error", b)
		}
		if string(b) != in {
			t.Fatalf("ParseMessages modified its input")
		}
		for _, m := range got {
			if !utf8.ValidString(m) {
				t.Fatalf("ParseMessages(%q) returned invalid UTF-8 %q", b, m)
			}
		}
		// Re-encoding and parsing again gives the same messages.
		frame := AppendMessages(nil, got)
		again, err := ParseMessages(frame[1:])
		if e := sameResult(again, err, got, nil); e != nil {
			t.Fatalf("round trip of %q via %s: %v", got, frame, e)
		}
		// The results do not alias the input.
		for i := range b {
			b[i] = 0
		}
		for i, m := range got {
			if m != want[i] {
				t.Fatalf("message %d changed with the input", i)
			}
		}
	})
}

var callbackRE = regexp.MustCompile(`^[a-zA-Z0-9_.]{1,256}$`)

func FuzzValidCallback(f *testing.F) {
	for _, s := range []string{"callback", "x", "_jp.a1b2c3", "", " ", "*", "abc(", "abc%28", "a-b",
		strings.Repeat("a", 256), strings.Repeat("a", 257), "ą", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ValidCallback(s)
		if want := callbackRE.MatchString(s); got != want {
			t.Fatalf("ValidCallback(%q) = %v, want %v", s, got, want)
		}
		if got && strings.ContainsAny(s, "()/*<>;\"'\\ \r\n-") {
			t.Fatalf("ValidCallback(%q) accepted a dangerous character", s)
		}
	})
}
