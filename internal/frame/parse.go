package frame

import (
	"bytes"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// ParseMessages decodes a client payload: a JSON array of strings, as sent to
// xhr_send and jsonp_send and over websocket, or a single JSON string, which
// websocket clients may send and which is returned as one message.
//
// It returns ErrPayloadExpected if b is empty or contains only JSON
// whitespace, and ErrBrokenJSON for anything else that is not such an array
// or string: malformed JSON, elements that are not strings (including nested
// arrays, null and numbers), other top-level values and trailing data. "[]"
// yields an empty, non-nil slice.
//
// Strings are decoded as encoding/json does: \uXXXX escapes, including
// surrogate pairs, are decoded; an escape of an unpaired surrogate becomes
// U+FFFD; each byte that is not part of valid UTF-8 becomes U+FFFD; raw
// control characters are an error.
//
// The parser is iterative and runs in time linear in len(b). All returned
// strings share one backing array, so keeping any one of them alive keeps the
// decoded payload alive; callers that retain a single small message for a
// long time from a large payload may want to strings.Clone it.
func ParseMessages(b []byte) ([]string, error) {
	i := skipSpace(b, 0)
	if i == len(b) {
		return nil, ErrPayloadExpected
	}
	switch b[i] {
	case '"':
		p := parser{buf: make([]byte, 0, len(b)-i)}
		s, j, ok := p.str(view(b), i+1)
		if !ok || skipSpace(b, j) != len(b) {
			return nil, ErrBrokenJSON
		}
		return []string{s}, nil
	case '[':
	default:
		return nil, ErrBrokenJSON
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		if skipSpace(b, i+1) != len(b) {
			return nil, ErrBrokenJSON
		}
		return []string{}, nil
	}
	// Every element needs two quotes, so half the number of quotes is an
	// upper bound of the number of elements that is exact unless strings
	// contain escaped quotes. It is capped so that a broken payload full
	// of quotes cannot make us allocate many times its size up front;
	// larger arrays grow by append as their elements are decoded.
	msgs := make([]string, 0, min(bytes.Count(b[i:], quote)/2, maxPrealloc))
	p := parser{buf: make([]byte, 0, len(b)-i)}
	src := view(b)
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, ErrBrokenJSON
		}
		s, j, ok := p.str(src, i+1)
		if !ok {
			return nil, ErrBrokenJSON
		}
		msgs = append(msgs, s)
		i = skipSpace(b, j)
		if i >= len(b) {
			return nil, ErrBrokenJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			if skipSpace(b, i+1) != len(b) {
				return nil, ErrBrokenJSON
			}
			return msgs, nil
		default:
			return nil, ErrBrokenJSON
		}
	}
}

var quote = []byte{'"'}

// maxPrealloc caps the initial capacity of the slice ParseMessages returns.
const maxPrealloc = 1024

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// parser holds the buffer that all decoded strings of one payload share.
//
// Invariant: bytes in buf[:len(buf)] are never modified once appended. The
// returned strings alias buf through unsafe.String; when append moves buf to
// a new array, the earlier strings keep pointing at the old array, which is
// never written to again. So the strings are immutable, as Go requires.
type parser struct {
	buf []byte
}

// str decodes the JSON string whose opening quote is at b[i-1]. It returns
// the decoded string and the index just past the closing quote, or ok ==
// false if the string is malformed or unterminated.
func (p *parser) str(b string, i int) (s string, next int, ok bool) {
	start := len(p.buf) // the decoded string is p.buf[start:]
	run := i            // b[run:i] is pending verbatim output
	for i < len(b) {
		// Skip plain ASCII eight bytes at a time.
		if len(b)-i >= 8 && b[i] < utf8.RuneSelf {
			m := specialMask(load64(b, i), false)
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		c := b[i]
		switch {
		case c == '"':
			p.buf = append(p.buf, b[run:i]...)
			return bstr(p.buf[start:]), i + 1, true
		case c == '\\':
			p.buf = append(p.buf, b[run:i]...)
			if i+1 >= len(b) {
				return "", 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/':
				p.buf = append(p.buf, b[i+1])
			case 'b':
				p.buf = append(p.buf, '\b')
			case 'f':
				p.buf = append(p.buf, '\f')
			case 'n':
				p.buf = append(p.buf, '\n')
			case 'r':
				p.buf = append(p.buf, '\r')
			case 't':
				p.buf = append(p.buf, '\t')
			case 'u':
				r := hex4(b, i+2)
				if r < 0 {
					return "", 0, false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					// A pair is decoded only if the next escape is a
					// low surrogate; otherwise this one alone becomes
					// U+FFFD and the next escape is decoded on its own.
					r2 := rune(-1)
					if i+3 < len(b) && b[i+2] == '\\' && b[i+3] == 'u' {
						r2 = hex4(b, i+4)
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				p.buf = utf8.AppendRune(p.buf, r)
			default:
				return "", 0, false
			}
			i += 2
			run = i
		case c < 0x20:
			return "", 0, false
		case c < utf8.RuneSelf:
			i++
		default:
			if n := validSeq(b, i); n > 0 {
				i += n
				continue
			}
			// Invalid UTF-8: replace this one byte.
			p.buf = append(p.buf, b[run:i]...)
			p.buf = append(p.buf, "\uFFFD"...)
			i++
			run = i
		}
	}
	return "", 0, false
}

// hex4 decodes the four hexadecimal digits at b[i:i+4], or returns -1.
func hex4(b string, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range [4]byte{b[i], b[i+1], b[i+2], b[i+3]} {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// view returns b as a string without copying, for reading only while
// ParseMessages runs. No string derived from it is retained: everything
// returned is copied into parser.buf first.
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// bstr returns b as a string without copying. The caller guarantees that the
// bytes of b are never modified afterwards.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
