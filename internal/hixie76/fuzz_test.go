package hixie76

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"testing"
	"testing/iotest"
	"time"
)

// fakeConn is a net.Conn that reads from r and discards writes.
type fakeConn struct{ r io.Reader }

func (c fakeConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c fakeConn) Close() error                     { return nil }
func (c fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c fakeConn) SetDeadline(time.Time) error      { return nil }
func (c fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c fakeConn) SetWriteDeadline(time.Time) error { return nil }

// refDecode is a straightforward decoder of a complete input, written
// independently of Conn's: it returns the text payloads that ReadMessage
// should return and the error that should follow them.
func refDecode(b []byte, limit int64) ([][]byte, error) {
	lim := big.NewInt(limit)
	var msgs [][]byte
	for {
		if len(b) == 0 {
			return msgs, io.ErrUnexpectedEOF
		}
		typ := b[0]
		b = b[1:]
		if typ&0x80 != 0 {
			// Length-prefixed frame. Too large as soon as the length read
			// so far, with the digits still to come, exceeds the limit.
			n := new(big.Int)
			for {
				if len(b) == 0 {
					return msgs, io.ErrUnexpectedEOF
				}
				d := b[0]
				b = b[1:]
				n.Mul(n, big.NewInt(128))
				n.Add(n, big.NewInt(int64(d&0x7f)))
				if n.Cmp(lim) > 0 {
					return msgs, ErrTooLarge
				}
				if d&0x80 == 0 {
					break
				}
				if new(big.Int).Mul(n, big.NewInt(128)).Cmp(lim) > 0 {
					return msgs, ErrTooLarge
				}
			}
			if typ == 0xFF && n.Sign() == 0 {
				return msgs, io.EOF
			}
			if n.Cmp(big.NewInt(int64(len(b)))) > 0 {
				return msgs, io.ErrUnexpectedEOF
			}
			b = b[n.Int64():]
			continue
		}
		// Sentinel-terminated frame.
		end := -1
		for i, c := range b {
			if c == 0xFF {
				end = i
				break
			}
		}
		if end < 0 {
			if int64(len(b)) > limit {
				return msgs, ErrTooLarge
			}
			return msgs, io.ErrUnexpectedEOF
		}
		if int64(end) > limit {
			return msgs, ErrTooLarge
		}
		if typ == 0x00 {
			msgs = append(msgs, append([]byte{}, b[:end]...))
		}
		b = b[end+1:]
	}
}

// FuzzReadMessage checks that ReadMessage, fed arbitrary input in arbitrary
// pieces with an arbitrary read limit, does not panic, respects the limit
// and agrees with refDecode.
func FuzzReadMessage(f *testing.F) {
	for _, seed := range []struct {
		data  string
		limit int64
	}{
		{"\x00hello\xff\xff\x00", 0},
		{"\x00\xff\x00a\xff\x80\x03abc\x00b\xff", 16},
		{"\x01skip\xff\x00x\xff", 3},
		{"\x00" + string(bytes.Repeat([]byte("z"), 40)) + "\xff", 39},
		{"\x80\x81\x00" + string(bytes.Repeat([]byte{0xff}, 128)) + "\xff\x00", 128},
		{"\x80\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", math.MaxInt64},
		{"\xff\x81\x00\x00", 1000},
		{"\x00\xc3\xa9\xff\x00\xff", 1},
		{"", 0},
	} {
		for _, small := range []bool{false, true} {
			f.Add([]byte(seed.data), seed.limit, small)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, limit int64, oneByte bool) {
		var r io.Reader = bytes.NewReader(data)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		// The smallest bufio buffer, so that frames span many refills.
		c := newConn(fakeConn{r}, bufio.NewReaderSize(r, 16), bufio.NewWriter(io.Discard))
		c.SetReadLimit(limit)
		if limit <= 0 {
			limit = DefaultReadLimit
		}
		wantMsgs, wantErr := refDecode(data, limit)

		var msgs [][]byte
		var err error
		for i := 0; ; i++ {
			if i > len(data) {
				t.Fatalf("%d messages from %d bytes", i, len(data))
			}
			var p []byte
			p, err = c.ReadMessage()
			if err != nil {
				if p != nil {
					t.Fatalf("payload %q with error %v", p, err)
				}
				break
			}
			if int64(len(p)) > limit {
				t.Fatalf("payload of %d bytes over the limit %d", len(p), limit)
			}
			if bytes.IndexByte(p, 0xFF) >= 0 {
				t.Fatalf("payload %q contains 0xFF", p)
			}
			msgs = append(msgs, p)
		}
		if err != wantErr {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
		if fmt.Sprintf("%q", msgs) != fmt.Sprintf("%q", wantMsgs) {
			t.Fatalf("messages %q, want %q", msgs, wantMsgs)
		}
		if p, err2 := c.ReadMessage(); p != nil || err2 != err {
			t.Fatalf("after %v: ReadMessage = %q, %v", err, p, err2)
		}
	})
}
