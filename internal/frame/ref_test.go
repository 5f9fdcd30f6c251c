package frame

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// This file holds slow, obviously-correct reference implementations that the
// tests and fuzz targets compare the real code against.

// serverEscapable reports whether the code point r is in the protocol's
// escapable_by_server set (sockjs-protocol.py), which must reach the client
// as a \uXXXX escape.
func serverEscapable(r rune) bool {
	return r <= 0x1f ||
		0x200c <= r && r <= 0x200f ||
		0x2028 <= r && r <= 0x202f ||
		0x2060 <= r && r <= 0x206f ||
		0xfff0 <= r && r <= 0xffff
}

// clientEscapable lists the protocol's escapable_by_client set as ranges
// (generated from the regular expression in sockjs-protocol.py).
var clientEscapable = [][2]rune{
	{0x0000, 0x001f}, {0x0022, 0x0022}, {0x007f, 0x009f}, {0x00ad, 0x00ad}, {0x0300, 0x0333},
	{0x033d, 0x0346}, {0x034a, 0x034c}, {0x0350, 0x0352}, {0x0357, 0x0358}, {0x035c, 0x0362},
	{0x0374, 0x0374}, {0x037e, 0x037e}, {0x0387, 0x0387}, {0x0591, 0x05af}, {0x05c4, 0x05c4},
	{0x0600, 0x0604}, {0x0610, 0x0617}, {0x0653, 0x0654}, {0x0657, 0x065b}, {0x065d, 0x065e},
	{0x06df, 0x06e2}, {0x06eb, 0x06ec}, {0x070f, 0x070f}, {0x0730, 0x0730}, {0x0732, 0x0733},
	{0x0735, 0x0736}, {0x073a, 0x073a}, {0x073d, 0x073d}, {0x073f, 0x0741}, {0x0743, 0x0743},
	{0x0745, 0x0745}, {0x0747, 0x0747}, {0x07eb, 0x07f1}, {0x0951, 0x0951}, {0x0958, 0x095f},
	{0x09dc, 0x09dd}, {0x09df, 0x09df}, {0x0a33, 0x0a33}, {0x0a36, 0x0a36}, {0x0a59, 0x0a5b},
	{0x0a5e, 0x0a5e}, {0x0b5c, 0x0b5d}, {0x0e38, 0x0e39}, {0x0f43, 0x0f43}, {0x0f4d, 0x0f4d},
	{0x0f52, 0x0f52}, {0x0f57, 0x0f57}, {0x0f5c, 0x0f5c}, {0x0f69, 0x0f69}, {0x0f72, 0x0f76},
	{0x0f78, 0x0f78}, {0x0f80, 0x0f83}, {0x0f93, 0x0f93}, {0x0f9d, 0x0f9d}, {0x0fa2, 0x0fa2},
	{0x0fa7, 0x0fa7}, {0x0fac, 0x0fac}, {0x0fb9, 0x0fb9}, {0x17b4, 0x17b5}, {0x1939, 0x193a},
	{0x1a17, 0x1a17}, {0x1b6b, 0x1b6b}, {0x1cda, 0x1cdb}, {0x1dc0, 0x1dcf}, {0x1dfc, 0x1dfc},
	{0x1dfe, 0x1dfe}, {0x1f71, 0x1f71}, {0x1f73, 0x1f73}, {0x1f75, 0x1f75}, {0x1f77, 0x1f77},
	{0x1f79, 0x1f79}, {0x1f7b, 0x1f7b}, {0x1f7d, 0x1f7d}, {0x1fbb, 0x1fbb}, {0x1fbe, 0x1fbe},
	{0x1fc9, 0x1fc9}, {0x1fcb, 0x1fcb}, {0x1fd3, 0x1fd3}, {0x1fdb, 0x1fdb}, {0x1fe3, 0x1fe3},
	{0x1feb, 0x1feb}, {0x1fee, 0x1fef}, {0x1ff9, 0x1ff9}, {0x1ffb, 0x1ffb}, {0x1ffd, 0x1ffd},
	{0x2000, 0x20ff}, {0x2126, 0x2126}, {0x212a, 0x212b}, {0x2329, 0x232a}, {0x2adc, 0x2adc},
	{0x302b, 0x302c}, {0xaab2, 0xaab3}, {0xf900, 0xfa0d}, {0xfa10, 0xfa10}, {0xfa12, 0xfa12},
	{0xfa15, 0xfa1e}, {0xfa20, 0xfa20}, {0xfa22, 0xfa22}, {0xfa25, 0xfa26}, {0xfa2a, 0xfa2d},
	{0xfa30, 0xfa6d}, {0xfa70, 0xfad9}, {0xfb1d, 0xfb1d}, {0xfb1f, 0xfb1f}, {0xfb2a, 0xfb36},
	{0xfb38, 0xfb3c}, {0xfb3e, 0xfb3e}, {0xfb40, 0xfb41}, {0xfb43, 0xfb44}, {0xfb46, 0xfb4e},
	{0xfeff, 0xfeff}, {0xfff0, 0xffff},
}

// refQuote is a straightforward rune-by-rune version of AppendQuote (lt ==
// false) and AppendJSString (lt == true).
func refQuote(s string, lt bool) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\r':
			b.WriteString(`\r`)
		case serverEscapable(r) || lt && r == '<':
			// Invalid bytes decode as U+FFFD and land here.
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// toValid replaces every byte of s that is not part of valid UTF-8 by U+FFFD,
// byte by byte, as encoding/json does. (strings.ToValidUTF8 would replace a
// whole run of invalid bytes by a single U+FFFD.)
func toValid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r)
		i += size
	}
	return string(b)
}

// refParse is ParseMessages built on encoding/json.
func refParse(b []byte) ([]string, error) {
	if len(bytes.Trim(b, " \t\r\n")) == 0 {
		return nil, ErrPayloadExpected
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, ErrBrokenJSON
	}
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, ErrBrokenJSON
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, ErrBrokenJSON
}

// sameResult compares two ParseMessages results, treating nil and empty
// slices as equal.
func sameResult(got []string, gotErr error, want []string, wantErr error) error {
	if !errors.Is(gotErr, wantErr) {
		return fmt.Errorf("error %v, want %v", gotErr, wantErr)
	}
	if len(got) != len(want) {
		return fmt.Errorf("got %d messages %q, want %d %q", len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("message %d is %q, want %q", i, got[i], want[i])
		}
	}
	return nil
}
