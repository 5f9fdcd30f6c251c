package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"

	"github.com/sockjs-cluster/sockjs"
)

func echo(s *sockjs.Session, m string) { _ = s.Send(s.Context(), m) }

// TestRouters mounts a route under chi and gorilla/mux and runs a polling
// session and the greeting through each.
func TestRouters(t *testing.T) {
	tests := []struct {
		name  string
		mount func(h http.Handler) http.Handler
	}{
		{"chi", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Handle("/chat", h)
			r.Handle("/chat/*", h)
			return r
		}},
		{"chi mount", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Mount("/chat", h)
			return r
		}},
		{"gorilla mux", func(h http.Handler) http.Handler {
			r := mux.NewRouter()
			r.PathPrefix("/chat").Handler(h)
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := sockjs.NewServer(sockjs.Config{Logger: quiet})
			h := node.Route("chat", "/chat", sockjs.HandlerFuncs{Message: echo}, sockjs.Options{})
			srv := httptest.NewServer(tt.mount(h))
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = node.Shutdown(ctx)
				srv.Close()
			})
			base := srv.URL + "/chat"
			for _, u := range []string{base, base + "/"} {
				if code, body := do(t, http.MethodGet, u, ""); code != 200 || body != "Welcome to SockJS!\n" {
					t.Fatalf("GET %s: %d %q", u, code, body)
				}
			}
			id := newID()
			if code, body := do(t, http.MethodPost, base+"/000/"+id+"/xhr", ""); code != 200 || body != "o\n" {
				t.Fatalf("open: %d %q", code, body)
			}
			if code, body := do(t, http.MethodPost, base+"/000/"+id+"/xhr_send", `["hi"]`); code != 204 {
				t.Fatalf("send: %d %q", code, body)
			}
			if code, body := do(t, http.MethodPost, base+"/000/"+id+"/xhr", ""); code != 200 || body != "a[\"hi\"]\n" {
				t.Fatalf("echo: %d %q", code, body)
			}
		})
	}
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var client = &http.Client{Timeout: 10 * time.Second}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
