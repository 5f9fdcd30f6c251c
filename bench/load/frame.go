package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// A frame is one SockJS frame as the server wrote it.
type frame struct {
	kind byte     // 'o', 'h', 'a', 'c'
	msgs []string // 'a'
	code int      // 'c'
}

var errBadFrame = errors.New("load: malformed frame")

// parseFrame reads one frame: o, h, a[...] or c[code,"reason"].
func parseFrame(b []byte) (frame, error) {
	if len(b) == 0 {
		return frame{}, errBadFrame
	}
	switch b[0] {
	case 'o', 'h':
		if len(b) != 1 {
			return frame{}, errBadFrame
		}
		return frame{kind: b[0]}, nil
	case 'a':
		msgs, err := parseArray(b[1:])
		return frame{kind: 'a', msgs: msgs}, err
	case 'c':
		var v [2]any
		if err := json.Unmarshal(b[1:], &v); err != nil {
			return frame{}, errBadFrame
		}
		code, _ := v[0].(float64)
		return frame{kind: 'c', code: int(code)}, nil
	}
	return frame{}, errBadFrame
}

// parseArray parses a JSON array of strings. The benchmark's messages never
// need escaping, so an array without a backslash is split by hand; anything
// else goes through encoding/json.
func parseArray(b []byte) ([]string, error) {
	if bytes.IndexByte(b, '\\') >= 0 {
		var msgs []string
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, errBadFrame
		}
		return msgs, nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, errBadFrame
	}
	b = b[1 : len(b)-1]
	msgs := make([]string, 0, 1+bytes.Count(b, []byte{','})/2)
	for len(b) > 0 {
		if b[0] != '"' {
			return nil, errBadFrame
		}
		end := bytes.IndexByte(b[1:], '"')
		if end < 0 {
			return nil, errBadFrame
		}
		msgs = append(msgs, string(b[1:1+end]))
		b = b[2+end:]
		if len(b) > 0 {
			if b[0] != ',' {
				return nil, errBadFrame
			}
			b = b[1:]
		}
	}
	return msgs, nil
}

// encodeSend returns the body of one message sent by a client: ["msg"].
// The benchmark's messages never need escaping.
func encodeSend(msg string) []byte {
	b := make([]byte, 0, len(msg)+4)
	b = append(b, '[', '"')
	b = append(b, msg...)
	return append(b, '"', ']')
}

// echoMsg is message seq of session sess: "sess:seq".
func echoMsg(sess, seq int) string {
	return strconv.Itoa(sess) + ":" + strconv.Itoa(seq)
}

// parseEchoMsg splits "sess:seq"; ok is false for anything else.
func parseEchoMsg(m string) (sess, seq int, ok bool) {
	i := strings.IndexByte(m, ':')
	if i < 0 {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(m[:i])
	b, err2 := strconv.Atoi(m[i+1:])
	return a, b, err1 == nil && err2 == nil
}
