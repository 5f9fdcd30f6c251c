package sockjs

import (
	"encoding/binary"
	"errors"
	"strings"
)

// Bus messages between nodes. A node message is
//
//	kind byte | uvarint len(key) | key | body
//
// with body empty for a wake and a forget, (uvarint len | receiver,
// uvarint first, uvarint prev, then the messages as for a delivery) for an
// offer, a sequence of (uvarint len | message) for a
// delivery, and (uvarint code | reason) for a close. A broadcast message is
//
//	'b' | uvarint len(origin node) | origin | uvarint seq | message
//
// with seq the store's sequence number of the broadcast (0: none).

const (
	msgWake      = 'w'
	msgDeliver   = 'd'
	msgClose     = 'c'
	msgBroadcast = 'b'
	// msgForget goes to every node on the broadcast channel: the session
	// was closed or has expired (see knownSessions).
	msgForget = 'x'
	// msgOffer hands a receiver the messages just pushed to its session
	// (see receiver.offer).
	msgOffer = 'o'
)

type nodeMessage struct {
	kind   byte
	key    string
	msgs   []string
	code   int
	reason string
	// offers
	receiver    string
	first, prev uint64
}

var errBadMessage = errors.New("sockjs: malformed bus message")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, errBadMessage
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

func encodeWake(key string) []byte {
	return appendString([]byte{msgWake}, key)
}

func encodeForget(key string) []byte {
	return appendString([]byte{msgForget}, key)
}

func encodeDeliver(key string, msgs []string) []byte {
	n := 1 + 10 + len(key)
	for _, m := range msgs {
		n += 10 + len(m)
	}
	b := appendString(append(make([]byte, 0, n), msgDeliver), key)
	for _, m := range msgs {
		b = appendString(b, m)
	}
	return b
}

func encodeOffer(key, receiver string, first, prev uint64, msgs []string) []byte {
	n := 1 + 10 + len(key) + 10 + len(receiver) + 20
	for _, m := range msgs {
		n += 10 + len(m)
	}
	b := appendString(append(make([]byte, 0, n), msgOffer), key)
	b = appendString(b, receiver)
	b = binary.AppendUvarint(b, first)
	b = binary.AppendUvarint(b, prev)
	for _, m := range msgs {
		b = appendString(b, m)
	}
	return b
}

func readMessages(rest []byte) ([]string, error) {
	var msgs []string
	for len(rest) > 0 {
		s, r, err := readString(rest)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, s)
		rest = r
	}
	return msgs, nil
}

func encodeClose(key string, code int, reason string) []byte {
	b := appendString([]byte{msgClose}, key)
	b = binary.AppendUvarint(b, uint64(code))
	return append(b, reason...)
}

func decodeNodeMessage(b []byte) (nodeMessage, error) {
	if len(b) < 1 {
		return nodeMessage{}, errBadMessage
	}
	m := nodeMessage{kind: b[0]}
	key, rest, err := readString(b[1:])
	if err != nil {
		return m, err
	}
	m.key = key
	switch m.kind {
	case msgWake, msgForget:
	case msgDeliver:
		if m.msgs, err = readMessages(rest); err != nil {
			return m, err
		}
	case msgOffer:
		if m.receiver, rest, err = readString(rest); err != nil {
			return m, err
		}
		var k int
		if m.first, k = binary.Uvarint(rest); k <= 0 {
			return m, errBadMessage
		}
		rest = rest[k:]
		if m.prev, k = binary.Uvarint(rest); k <= 0 {
			return m, errBadMessage
		}
		if m.msgs, err = readMessages(rest[k:]); err != nil {
			return m, err
		}
		if len(m.msgs) == 0 || m.first == 0 {
			return m, errBadMessage
		}
	case msgPing:
		var k int
		if m.first, k = binary.Uvarint(rest); k <= 0 {
			return m, errBadMessage
		}
	case msgClose:
		code, k := binary.Uvarint(rest)
		if k <= 0 || code > 65535 {
			return m, errBadMessage
		}
		m.code, m.reason = int(code), string(rest[k:])
	default:
		return m, errBadMessage
	}
	return m, nil
}

func encodeBroadcast(origin string, seq uint64, msg string) []byte {
	b := appendString(append(make([]byte, 0, 13+len(origin)+len(msg)), msgBroadcast), origin)
	b = binary.AppendUvarint(b, seq)
	return append(b, msg...)
}

func decodeBroadcast(b []byte) (origin string, seq uint64, msg string, err error) {
	if len(b) == 0 || b[0] != msgBroadcast {
		return "", 0, "", errBadMessage
	}
	origin, rest, err := readString(b[1:])
	if err != nil {
		return "", 0, "", err
	}
	seq, k := binary.Uvarint(rest)
	if k <= 0 {
		return "", 0, "", errBadMessage
	}
	return origin, seq, string(rest[k:]), nil
}

// nodeOf returns the node part of a receiver name ("node/n").
func nodeOf(receiver string) string {
	node, _, _ := strings.Cut(receiver, "/")
	return node
}

// keySep separates a reused websocket session id from its unique suffix in
// the store key; session ids never contain it.
const keySep = "\x00"

// publicID returns the client's session id for a store key.
func publicID(key string) string {
	id, _, _ := strings.Cut(key, keySep)
	return id
}
