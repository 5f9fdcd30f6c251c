package frame

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseMessages(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  error
	}{
		// From the protocol tests.
		{"spec x", `["x"]`, []string{"x"}, nil},
		{"spec a", `["a"]`, []string{"a"}, nil},
		{"spec empty frame", `[]`, []string{}, nil},
		{"spec broken", `["x`, nil, ErrBrokenJSON},
		{"spec empty body", ``, nil, ErrPayloadExpected},
		{"spec eventsource escapes", `["  \u0000\n\r "]`, []string{"  \x00\n\r "}, nil},
		{"spec percent not decoded", `["%61bc"]`, []string{"%61bc"}, nil},
		{"spec websocket string", `"a"`, []string{"a"}, nil},

		{"whitespace only", " \t\r\n ", nil, ErrPayloadExpected},
		{"several", `["a","b","c"]`, []string{"a", "b", "c"}, nil},
		{"empty strings", `["",""]`, []string{"", ""}, nil},
		{"whitespace everywhere", " \t[ \n\"a\" ,\r\"b\"\t] \n", []string{"a", "b"}, nil},
		{"empty with whitespace", "[ \n ]", []string{}, nil},
		{"top-level string with whitespace", ` "a\nb" `, []string{"a\nb"}, nil},
		{"top-level empty string", `""`, []string{""}, nil},
		{"short escapes", `["\"\\\/\b\f\n\r\t"]`, []string{"\"\\/\b\f\n\r\t"}, nil},
		{"unicode escapes", `["\u0041\u00e9\u200C\uFFFF"]`, []string{"Aé\u200c\uffff"}, nil},
		{"surrogate pair", `["\ud83d\ude00"]`, []string{"😀"}, nil},
		{"surrogate pair upper hex", `["\uD834\uDD1E"]`, []string{"𝄞"}, nil},
		{"lone high surrogate", `["\ud800"]`, []string{"\ufffd"}, nil},
		{"lone high surrogate then text", `["\ud800abc"]`, []string{"\ufffdabc"}, nil},
		{"lone low surrogate", `["\udc00"]`, []string{"\ufffd"}, nil},
		{"reversed pair", `["\udc00\ud800"]`, []string{"\ufffd\ufffd"}, nil},
		{"high then non-surrogate escape", `["\ud800\u0041"]`, []string{"\ufffdA"}, nil},
		{"high then high then low", `["\ud800\ud83d\ude00"]`, []string{"\ufffd😀"}, nil},
		{"high then short escape", `["\ud800\n"]`, []string{"\ufffd\n"}, nil},
		{"raw utf8", `["żółw 😀"]`, []string{"żółw 😀"}, nil},
		{"raw line separator", "[\"\u2028\"]", []string{"\u2028"}, nil},
		{"raw DEL", "[\"\x7f\"]", []string{"\x7f"}, nil},
		{"invalid utf8 replaced", "[\"a\xffb\"]", []string{"a\ufffdb"}, nil},
		{"encoded surrogate replaced", "[\"\xed\xa0\x80\"]", []string{"\ufffd\ufffd\ufffd"}, nil},
		{"truncated rune replaced", "[\"\xe2\x82\"]", []string{"\ufffd\ufffd"}, nil},
		{"long message", `["` + strings.Repeat("abcdefgh", 100) + `"]`, []string{strings.Repeat("abcdefgh", 100)}, nil},
		{"escape after long run", `["` + strings.Repeat("x", 20) + `\n` + strings.Repeat("y", 20) + `"]`,
			[]string{strings.Repeat("x", 20) + "\n" + strings.Repeat("y", 20)}, nil},

		{"unterminated array", `["a"`, nil, ErrBrokenJSON},
		{"unterminated array after comma", `["a",`, nil, ErrBrokenJSON},
		{"open bracket only", `[`, nil, ErrBrokenJSON},
		{"unterminated string", `"abc`, nil, ErrBrokenJSON},
		{"trailing comma", `["a",]`, nil, ErrBrokenJSON},
		{"leading comma", `[,"a"]`, nil, ErrBrokenJSON},
		{"double comma", `["a",,"b"]`, nil, ErrBrokenJSON},
		{"missing comma", `["a" "b"]`, nil, ErrBrokenJSON},
		{"colon", `["a":"b"]`, nil, ErrBrokenJSON},
		{"trailing garbage", `["a"]x`, nil, ErrBrokenJSON},
		{"two arrays", `["a"]["b"]`, nil, ErrBrokenJSON},
		{"string then garbage", `"a" "b"`, nil, ErrBrokenJSON},
		{"number element", `[1]`, nil, ErrBrokenJSON},
		{"null element", `[null]`, nil, ErrBrokenJSON},
		{"bool element", `["a",true]`, nil, ErrBrokenJSON},
		{"object element", `[{}]`, nil, ErrBrokenJSON},
		{"nested array", `[["a"]]`, nil, ErrBrokenJSON},
		{"nested empty array", `[[]]`, nil, ErrBrokenJSON},
		{"top-level null", `null`, nil, ErrBrokenJSON},
		{"top-level object", `{"a":"b"}`, nil, ErrBrokenJSON},
		{"top-level number", `1`, nil, ErrBrokenJSON},
		{"single quotes", `['a']`, nil, ErrBrokenJSON},
		{"raw newline in string", "[\"a\nb\"]", nil, ErrBrokenJSON},
		{"raw tab in string", "[\"a\tb\"]", nil, ErrBrokenJSON},
		{"raw nul in string", "[\"\x00\"]", nil, ErrBrokenJSON},
		{"bad escape", `["\x41"]`, nil, ErrBrokenJSON},
		{"bad escape quote", `["\'"]`, nil, ErrBrokenJSON},
		{"short unicode escape", `["\u41"]`, nil, ErrBrokenJSON},
		{"non-hex unicode escape", `["\u00g1"]`, nil, ErrBrokenJSON},
		{"escape at end", `["\`, nil, ErrBrokenJSON},
		{"unicode escape at end", `["\u00`, nil, ErrBrokenJSON},
		{"high surrogate then broken escape", `["\ud800\u12"]`, nil, ErrBrokenJSON},
		{"byte order mark", "\ufeff[\"a\"]", nil, ErrBrokenJSON},
		{"non-JSON whitespace", "\v[\"a\"]", nil, ErrBrokenJSON},
		{"form feed whitespace", "[\f\"a\"]", nil, ErrBrokenJSON},
		{"nul after array", "[\"a\"]\x00", nil, ErrBrokenJSON},
		{"deep nesting", strings.Repeat("[", 100000), nil, ErrBrokenJSON},
		{"unicode quote", `[“a”]`, nil, ErrBrokenJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got, err := ParseMessages(in)
			if e := sameResult(got, err, tt.want, tt.err); e != nil {
				t.Errorf("ParseMessages(%q): %v", tt.in, e)
			}
			if tt.want != nil && got == nil {
				t.Errorf("ParseMessages(%q) = nil, want non-nil", tt.in)
			}
			if tt.err != nil && got != nil {
				t.Errorf("ParseMessages(%q) returned messages with an error", tt.in)
			}
			// encoding/json must agree.
			want, wantErr := refParse(in)
			if e := sameResult(got, err, want, wantErr); e != nil {
				t.Errorf("ParseMessages(%q) disagrees with encoding/json: %v", tt.in, e)
			}
			// The result must not alias the input.
			for i := range in {
				in[i] = 'Z'
			}
			if e := sameResult(got, err, tt.want, tt.err); e != nil {
				t.Errorf("ParseMessages(%q) result changed with the input: %v", tt.in, e)
			}
		})
	}
}

// TestParseResultsIndependent checks that the strings returned by one call,
// which share a buffer, stay intact while the buffer grows during decoding.
func TestParseResultsIndependent(t *testing.T) {
	// Invalid bytes expand from one to three bytes, forcing the shared
	// buffer (sized for the input) to be reallocated mid-payload.
	in := `["first","` + strings.Repeat("\xff", 100) + `","last"]`
	got, err := ParseMessages([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"first", strings.Repeat("\ufffd", 100), "last"}
	if e := sameResult(got, nil, want, nil); e != nil {
		t.Fatal(e)
	}
}

// randString returns a random string drawn from characters that exercise
// every escaping path.
func randString(rng *rand.Rand) string {
	pieces := []string{
		"a", "xyz", "hello world ", "\"", "\\", "/", "<", ">", "&", "\x00", "\x01", "\b", "\t", "\n",
		"\f", "\r", "\x1f", " ", "\x7f", "\u0080", "\u009f", "é", "ż", "\u0600", "\u200b",
		"\u200c", "\u200f", "\u2010", "\u2028", "\u2029", "\u202f", "\u2060", "\u206f", "\u2070",
		"\ufeff", "\uffef", "\ufff0", "\ufffd", "\uffff", "😀", "𝄞", "\U0010ffff", "abcdefghijklmnop",
	}
	n := rng.IntN(20)
	var b strings.Builder
	for i := 0; i < n; i++ {
		if rng.IntN(8) == 0 {
			// Any valid code point.
			for {
				r := rune(rng.IntN(utf8.MaxRune + 1))
				if utf8.ValidRune(r) {
					b.WriteRune(r)
					break
				}
			}
			continue
		}
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// TestRoundTrip: ParseMessages(AppendMessages(msgs)[1:]) == msgs for random
// valid strings, and encoding/json decodes the frame to the same messages.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 20000; n++ {
		msgs := make([]string, rng.IntN(6))
		for i := range msgs {
			msgs[i] = randString(rng)
		}
		frame := AppendMessages(nil, msgs)
		if frame[0] != 'a' {
			t.Fatalf("frame %q", frame)
		}
		got, err := ParseMessages(frame[1:])
		if e := sameResult(got, err, msgs, nil); e != nil {
			t.Fatalf("round trip of %q via %s: %v", msgs, frame, e)
		}
		ref, refErr := refParse(frame[1:])
		if e := sameResult(ref, refErr, msgs, nil); e != nil {
			t.Fatalf("encoding/json on %s: %v", frame, e)
		}
		for _, m := range msgs {
			q := AppendQuote(nil, m)
			got, err := ParseMessages(q)
			if e := sameResult(got, err, []string{m}, nil); e != nil {
				t.Fatalf("round trip of %q via %s: %v", m, q, e)
			}
		}
	}
}

// TestParseMatchesEncodingJSON mutates valid payloads at random and checks
// that ParseMessages and encoding/json agree on every result.
func TestParseMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("[]{},:\"\\/ubfnrt0123456789abcdefABCDEFxnul \t\r\n\x00\x1f\x7f\xc3\xa9\xed\xa0\x80\xff")
	for n := 0; n < 100000; n++ {
		var b []byte
		switch rng.IntN(4) {
		case 0:
			msgs := make([]string, rng.IntN(4))
			for i := range msgs {
				msgs[i] = randString(rng)
			}
			b = AppendMessages(nil, msgs)[1:]
		case 1:
			b = []byte(`["\ud83d\ude00","\u00e9\n"]`)
		case 2:
			b = AppendQuote(nil, randString(rng))
		default:
			b = nil
		}
		for k := rng.IntN(4); k > 0; k-- {
			if len(b) > 0 && rng.IntN(2) == 0 {
				i := rng.IntN(len(b))
				if rng.IntN(2) == 0 {
					b[i] = alphabet[rng.IntN(len(alphabet))]
				} else {
					b = append(b[:i], b[i+1:]...)
				}
			} else {
				i := rng.IntN(len(b) + 1)
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			}
		}
		got, err := ParseMessages(b)
		want, wantErr := refParse(b)
		if e := sameResult(got, err, want, wantErr); e != nil {
			t.Fatalf("ParseMessages(%q) disagrees with encoding/json: %v", b, e)
		}
	}
}

// TestParseHostile checks that large hostile payloads are rejected or
// accepted in linear time, without recursion.
func TestParseHostile(t *testing.T) {
	const size = 8 << 20
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"deep nesting", bytes.Repeat([]byte("["), size), ErrBrokenJSON},
		{"deep nesting with string", append(bytes.Repeat([]byte("["), size), `"a"`...), ErrBrokenJSON},
		{"many empty strings", append(append([]byte("["), bytes.Repeat([]byte(`"",`), size/3)...), `""]`...), nil},
		{"many escaped quotes", append(append([]byte(`["`), bytes.Repeat([]byte(`\"`), size/2)...), `"]`...), nil},
		{"many lone surrogates", append(append([]byte(`["`), bytes.Repeat([]byte(`\ud800`), size/6)...), `"]`...), nil},
		{"many high surrogates unterminated", append([]byte(`["`), bytes.Repeat([]byte(`\ud800`), size/6)...), ErrBrokenJSON},
		{"invalid utf8", append(append([]byte(`["`), bytes.Repeat([]byte{0xff}, size)...), `"]`...), nil},
		{"whitespace", bytes.Repeat([]byte(" "), size), ErrPayloadExpected},
		{"long string unterminated", append([]byte(`["`), bytes.Repeat([]byte("x"), size)...), ErrBrokenJSON},
		{"many commas", append([]byte(`["a"`), bytes.Repeat([]byte(","), size)...), ErrBrokenJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseMessages(tt.in)
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
			// Generous even under -race; quadratic behaviour on 8 MiB
			// would take hours.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
