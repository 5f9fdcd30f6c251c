package transports

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sockjs-cluster/sockjs/internal/frame"
)

func TestParseSendBody(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, ct, body string
		want           []string
		err            error
	}{
		{"array", "text/plain", `["a","b"]`, []string{"a", "b"}, nil},
		{"empty array", "", `[]`, nil, nil},
		{"empty body", "", ``, nil, frame.ErrPayloadExpected},
		{"broken", "", `["a`, nil, frame.ErrBrokenJSON},
		{"form", form, `d=%5B%22x%22%5D`, []string{"x"}, nil},
		{"form with charset", form + "; charset=UTF-8", `d=%5B%22x%22%5D`, []string{"x"}, nil},
		{"form empty d", form, `d=`, nil, frame.ErrPayloadExpected},
		{"form no d", form, `p=p`, nil, frame.ErrPayloadExpected},
		{"form empty", form, ``, nil, frame.ErrPayloadExpected},
		{"form broken", form, `d=%5B%22x`, nil, frame.ErrBrokenJSON},
		{"form bad escape", form, `d=%zz`, nil, frame.ErrBrokenJSON},
		{"raw that looks like a form", "text/plain", `d=%5B%5D`, nil, frame.ErrBrokenJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSendBody(tt.ct, []byte(tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if tt.err == nil && len(got)+len(tt.want) > 0 && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParseSendBody(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte(`d=%5B%22x%22%5D`))
	f.Add("text/plain", []byte(`["a","\u0000"]`))
	f.Add("", []byte(`[`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		msgs, err := parseSendBody(ct, body)
		if err != nil {
			if !errors.Is(err, frame.ErrBrokenJSON) && !errors.Is(err, frame.ErrPayloadExpected) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, m := range msgs {
			if !utf8.ValidString(m) {
				t.Fatalf("invalid UTF-8 message %q from %q", m, body)
			}
		}
	})
}

// TestReadBodyGrowsWithWhatArrives: a body announcing a megabyte that sends
// ten bytes costs a small buffer, not the announced megabyte.
func TestReadBodyGrowsWithWhatArrives(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`["short"]`))
	r.ContentLength = 1 << 20
	bp, err := readBody(r, 2<<20)
	if err != nil {
		t.Fatalf("readBody: %v", err)
	}
	defer putBody(bp)
	if string(*bp) != `["short"]` {
		t.Fatalf("body %q", *bp)
	}
	if c := cap(*bp); c > 2*announceTrust {
		t.Fatalf("buffer of %d bytes for a 9-byte body announced as 1 MiB", c)
	}
}

// chunkReader hands out its data in the chunk sizes it is given, in turn.
type chunkReader struct {
	data   []byte
	chunks []byte
	i      int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.chunks) > 0 {
		n = int(r.chunks[r.i%len(r.chunks)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzReadBody: readBody returns exactly the body when it is within the
// limit and errTooLarge otherwise, whatever the body's chunking and
// announced length, and its buffer grows with what arrived, not with what
// was announced.
func FuzzReadBody(f *testing.F) {
	f.Add([]byte(`["a","b"]`), []byte{0, 3, 7}, int64(9), int64(100))
	f.Add([]byte("x"), []byte{}, int64(1<<20), int64(1<<20))
	f.Add(bytes.Repeat([]byte("y"), 5000), []byte{255}, int64(-1), int64(4096))
	f.Fuzz(func(t *testing.T, body, chunks []byte, announced, limit int64) {
		if limit < 0 || limit > 1<<20 {
			limit = 1 << 10
		}
		r := httptest.NewRequest("POST", "/", nil)
		r.Body = io.NopCloser(&chunkReader{data: body, chunks: chunks})
		r.ContentLength = announced
		bp, err := readBody(r, limit)
		switch {
		case announced > limit || int64(len(body)) > limit:
			if !errors.Is(err, errTooLarge) {
				t.Fatalf("%d bytes (announced %d) over limit %d: err %v", len(body), announced, limit, err)
			}
			return
		case err != nil:
			t.Fatalf("%d bytes within limit %d: %v", len(body), limit, err)
		}
		defer putBody(bp)
		if !bytes.Equal(*bp, body) {
			t.Fatalf("read %q, want %q", *bp, body)
		}
		// Pooled buffers may be larger from earlier use, but never past
		// what the pool keeps, what arrived (doubled by append) or what
		// is trusted of the announcement.
		if c := cap(*bp); c > max(maxPooledBody, 2*len(body)+2, announceTrust+1) {
			t.Fatalf("buffer of %d bytes for a %d-byte body announced as %d", c, len(body), announced)
		}
	})
}
