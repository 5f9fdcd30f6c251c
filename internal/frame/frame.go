// Package frame encodes and decodes SockJS protocol frames.
//
// Server-to-client frames are:
//
//	o                  open frame (Open)
//	h                  heartbeat frame (Heartbeat)
//	a["m1","m2",...]   array of messages (AppendMessages)
//	c[3000,"Go away!"] close frame (AppendClose)
//
// Message strings are JSON-quoted with SockJS escaping (AppendQuote): regular
// JSON escaping plus \uXXXX escapes for the code points that browsers and
// proxies are known to mangle. The client-to-server payload (the body of
// xhr_send and jsonp_send, or a websocket message) is a JSON array of strings
// and is decoded by ParseMessages.
//
// Polling transports that run the frame through JavaScript (jsonp and
// htmlfile) wrap the encoded frame once more in a JavaScript string literal
// with AppendJSString.
//
// All Append functions follow the strconv.AppendX convention: they append to
// dst and return the extended slice, and they do not allocate when dst has
// enough spare capacity.
//
// # Escaping
//
// AppendQuote writes the output of JavaScript's JSON.stringify followed by
// sockjs-node's quote step, which is what the SockJS protocol tests expect
// byte for byte:
//
//   - '"' and '\' are written as \" and \\.
//   - U+0008, U+0009, U+000A, U+000C and U+000D use the short forms
//     \b, \t, \n, \f and \r, as JSON.stringify does and as the protocol's
//     EventSource test expects (it wants \u0000\n\r for NUL, LF, CR).
//   - The other code points U+0000-U+001F are written as \u00XX.
//   - U+200C-U+200F, U+2028-U+202F, U+2060-U+206F and U+FFF0-U+FFFF are
//     written as \uXXXX (the protocol's escapable_by_server set).
//   - Hexadecimal digits are lower case, as in \u200c and \ufff0.
//   - Each byte of s that is not part of valid UTF-8 is replaced by U+FFFD,
//     which is in the escaped range and therefore written as \ufffd. (This
//     includes UTF-8-encoded surrogates, which are invalid UTF-8; sockjs-node
//     escapes UTF-16 surrogates, which a Go string cannot hold as such.)
//   - Everything else, including '/', '<', '>', '&', U+007F-U+009F and
//     non-BMP characters, is written as raw UTF-8. U+007F-U+009F are not in
//     the protocol's server set and sockjs-node does not escape them either.
//
// AppendJSString uses the same escaping and additionally writes '<' as
// \u003c, so that an htmlfile <script> block can never contain "</script"
// or "<!--", whatever the messages contain.
package frame

import (
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Constant frames.
const (
	// Open is the frame that opens a session.
	Open = "o"
	// Heartbeat is the heartbeat frame.
	Heartbeat = "h"
)

// Errors returned by ParseMessages. Their texts are what the SockJS protocol
// expects in the body of the 500 response (hence the capitals and the
// full stops).
var (
	ErrPayloadExpected = errors.New("Payload expected.")
	ErrBrokenJSON      = errors.New("Broken JSON encoding.")
)

// maxCallbackLen is the maximum length of a JSONP/htmlfile callback name.
const maxCallbackLen = 256

const hexDigits = "0123456789abcdef"

// Escape tables for ASCII bytes. A zero entry means the byte is written
// verbatim; 'u' means \u00XX; any other value is the character that follows
// the backslash in the short form.
var (
	jsonEsc [utf8.RuneSelf]byte // AppendQuote
	jsEsc   [utf8.RuneSelf]byte // AppendJSString: jsonEsc plus '<'
)

func init() {
	for c := 0; c < 0x20; c++ {
		jsonEsc[c] = 'u'
	}
	jsonEsc['\b'] = 'b'
	jsonEsc['\t'] = 't'
	jsonEsc['\n'] = 'n'
	jsonEsc['\f'] = 'f'
	jsonEsc['\r'] = 'r'
	jsonEsc['"'] = '"'
	jsonEsc['\\'] = '\\'
	jsEsc = jsonEsc
	jsEsc['<'] = 'u'
}

// SWAR constants for examining eight bytes at a time.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialMask returns a non-zero value if any of the eight bytes packed in x
// (little endian) is a control character (< 0x20), '"', '\\', a non-ASCII byte
// (>= 0x80), or, when lt is true, '<'. If the result is non-zero, its lowest
// set bit is the high bit of the first such byte.
//
// The zero-byte tests below can report false positives only in bytes above
// (more significant than) a true positive of the same test, so the lowest set
// bit of the combined mask always belongs to a byte that really is special.
func specialMask(x uint64, lt bool) uint64 {
	m := (x - lsb*0x20) & ^x // byte < 0x20
	q := x ^ (lsb * '"')
	m |= (q - lsb) & ^q // byte == '"'
	bs := x ^ (lsb * '\\')
	m |= (bs - lsb) & ^bs // byte == '\\'
	if lt {
		l := x ^ (lsb * '<')
		m |= (l - lsb) & ^l // byte == '<'
	}
	return (m | x) & msb // | x: byte >= 0x80
}

// load64 returns s[i:i+8] as a little-endian uint64. The compiler merges the
// byte loads into a single load.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// mustEscape reports whether the non-ASCII code point r must be written as a
// \uXXXX escape.
func mustEscape(r rune) bool {
	switch {
	case r < 0x200c:
		return false
	case r <= 0x200f:
		return true
	case r < 0x2028:
		return false
	case r <= 0x202f:
		return true
	case r < 0x2060:
		return false
	case r <= 0x206f:
		return true
	default:
		return r >= 0xfff0 && r <= 0xffff
	}
}

// appendU4 appends the escape \uXXXX for the BMP code point r.
func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// AppendQuote appends s to dst as a JSON string literal (including the
// surrounding double quotes) with SockJS escaping, and returns the extended
// buffer. See the package documentation for the exact escaping rules.
func AppendQuote(dst []byte, s string) []byte {
	return appendQuoted(dst, s, &jsonEsc, false)
}

// AppendJSString appends s, usually an already encoded frame, to dst as a
// double-quoted JavaScript string literal, for the jsonp body
// /**/cb("...");\r\n and the htmlfile chunk <script>\np("...");\n</script>\r\n.
// It escapes like AppendQuote and additionally writes '<' as \u003c, so that
// the output never contains "</script" or "<!--". For the frame a["x"] it
// appends "a[\"x\"]".
func AppendJSString(dst []byte, s string) []byte {
	return appendQuoted(dst, s, &jsEsc, true)
}

func appendQuoted(dst []byte, s string, esc *[utf8.RuneSelf]byte, lt bool) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending verbatim output
	i := 0
	for i < len(s) {
		// Skip plain ASCII eight bytes at a time.
		if len(s)-i >= 8 && s[i] < utf8.RuneSelf {
			m := specialMask(load64(s, i), lt)
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		c := s[i]
		if c < utf8.RuneSelf {
			e := esc[c]
			if e == 0 {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			if e == 'u' {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, '\\', e)
			}
			i++
			start = i
			continue
		}
		// All escaped non-ASCII code points are encoded with the lead byte
		// 0xe2 (U+2000-U+2FFF) or 0xef (U+F000-U+FFFF). Other valid
		// sequences are copied without decoding them.
		if c != 0xe2 && c != 0xef {
			if n := validSeq(s, i); n > 0 {
				i += n
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		// An invalid byte decodes as (RuneError, 1); RuneError is U+FFFD,
		// which is in the escaped range, so it is written as \ufffd.
		if !mustEscape(r) {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendU4(dst, r)
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// validSeq returns the length of the valid multi-byte UTF-8 sequence that
// starts at s[i], or 0 if s[i:] does not start with one. It is a fast path
// for utf8.DecodeRuneInString that does not compute the code point.
func validSeq(s string, i int) int {
	const cont = 0xc0 // mask for the continuation byte test b&cont == 0x80
	c := s[i]
	switch {
	case c < 0xc2:
		return 0
	case c < 0xe0:
		if len(s)-i >= 2 && s[i+1]&cont == 0x80 {
			return 2
		}
	case c < 0xf0:
		if len(s)-i < 3 || s[i+2]&cont != 0x80 {
			return 0
		}
		b1 := s[i+1]
		switch c {
		case 0xe0: // no overlong encodings
			if 0xa0 <= b1 && b1 <= 0xbf {
				return 3
			}
		case 0xed: // no surrogates
			if 0x80 <= b1 && b1 <= 0x9f {
				return 3
			}
		default:
			if b1&cont == 0x80 {
				return 3
			}
		}
	case c <= 0xf4:
		if len(s)-i < 4 || s[i+2]&cont != 0x80 || s[i+3]&cont != 0x80 {
			return 0
		}
		b1 := s[i+1]
		switch c {
		case 0xf0: // no overlong encodings
			if 0x90 <= b1 && b1 <= 0xbf {
				return 4
			}
		case 0xf4: // nothing above U+10FFFF
			if 0x80 <= b1 && b1 <= 0x8f {
				return 4
			}
		default:
			if b1&cont == 0x80 {
				return 4
			}
		}
	}
	return 0
}

// AppendMessages appends the array frame a["m1","m2",...] to dst and returns
// the extended buffer. Each message is quoted with AppendQuote. An empty msgs
// gives a[].
func AppendMessages(dst []byte, msgs []string) []byte {
	// Grow once up front, enough for plain text, instead of letting append
	// double the buffer several times. A no-op when dst has the room.
	n := 3
	for _, m := range msgs {
		n += len(m) + 3
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, 'a', '[')
	for i, m := range msgs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendQuote(dst, m)
	}
	return append(dst, ']')
}

// AppendClose appends the close frame c[code,"reason"] to dst, for example
// c[3000,"Go away!"], and returns the extended buffer. The reason is quoted
// with AppendQuote.
func AppendClose(dst []byte, code int, reason string) []byte {
	dst = append(dst, 'c', '[')
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ',')
	dst = AppendQuote(dst, reason)
	return append(dst, ']')
}

// ValidCallback reports whether s can be used as the JSONP or htmlfile
// callback name: it must be 1 to 256 bytes long and consist only of ASCII
// letters, digits, '_' and '.'. (sockjs-node also accepts '-', which
// turns the callback into a subtraction expression, so it is rejected here.)
func ValidCallback(s string) bool {
	if len(s) == 0 || len(s) > maxCallbackLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
