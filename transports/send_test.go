package transports

import (
	"errors"
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
