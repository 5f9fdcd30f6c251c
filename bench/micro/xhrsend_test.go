package micro

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sockjs-cluster/sockjs/transports"
)

// sink is a transports.Sessions that accepts every send and counts the
// messages.
type sink struct{ n int }

func (s *sink) Receive(context.Context, *http.Request, string, transports.Kind) (transports.Receiver, error) {
	panic("not used")
}

func (s *sink) Send(_ context.Context, _ *http.Request, _ string, msgs []string) error {
	s.n += len(msgs)
	return nil
}

func config() *transports.Config {
	return &transports.Config{
		ResponseLimit: 4096, MaxBodySize: 1 << 20, MaxMessageSize: 1 << 20,
		Prepare: func(http.ResponseWriter, *http.Request) {},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// body returns a JSON array of n messages of size bytes each, with one
// character that needs escaping in every message.
func body(n, size int) string {
	msg := `"` + strings.Repeat("x", size-3) + `\"` + `"`
	return "[" + strings.TrimSuffix(strings.Repeat(msg+",", n), ",") + "]"
}

// BenchmarkXHRSend measures one xhr_send request through the transport:
// body read under the limit, JSON parsed, messages handed on, 204 written.
func BenchmarkXHRSend(b *testing.B) {
	for _, tc := range []struct {
		name     string
		n, size  int
		form     bool
		baseline bool
	}{
		// baseline: the same request and recorder, the body read and 204
		// written by hand; the difference is the transport's own cost.
		{name: "baseline_1x16B", n: 1, size: 16, baseline: true},
		{name: "1x16B", n: 1, size: 16},
		{name: "1x1KiB", n: 1, size: 1024},
		{name: "32x64B", n: 32, size: 64},
		{name: "jsonp_form_1x16B", n: 1, size: 16, form: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := config()
			s := &sink{}
			payload := body(tc.n, tc.size)
			ct := "text/plain;charset=UTF-8"
			if tc.form {
				payload = "d=" + urlEncode(payload)
				ct = "application/x-www-form-urlencoded"
			}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/echo/000/abc/xhr_send", strings.NewReader(payload))
				r.Header.Set("Content-Type", ct)
				w := httptest.NewRecorder()
				switch {
				case tc.baseline:
					_, _ = io.ReadAll(r.Body)
					s.n++
					w.WriteHeader(http.StatusNoContent)
				case tc.form:
					transports.JSONPSend(cfg, s, w, r, "abc")
				default:
					transports.XHRSend(cfg, s, w, r, "abc")
				}
				if w.Code != http.StatusNoContent && w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			if s.n != b.N*tc.n {
				b.Fatalf("%d messages handed on, want %d", s.n, b.N*tc.n)
			}
		})
	}
}

func urlEncode(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "=", "%3D", " ", "%20", `"`, "%22", "\\", "%5C", "[", "%5B", "]", "%5D", ",", "%2C")
	return r.Replace(s)
}
