package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs"
)

// TestOpsEndpoints: with metrics on, /metrics serves the node's sockjs_
// metrics and /readyz turns 200 once the node is ready.
func TestOpsEndpoints(t *testing.T) {
	obs, metrics := newMetrics()
	node := sockjs.NewServer(sockjs.Config{Observer: obs, ReadinessPing: 20 * time.Millisecond})
	node.Route("r", "/r", sockjs.HandlerFuncs{}, sockjs.Options{})
	srv := httptest.NewServer(withOps(node, node, metrics))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = node.Shutdown(ctx)
		srv.Close()
	})
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := get("/readyz")
		if code == http.StatusOK && body == "ok\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body := get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, `sockjs_lease_renewals_total{result="ok",route="r"}`) {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	if code, _ := get("/r/info"); code != http.StatusOK {
		t.Fatalf("/r/info: %d", code)
	}
}
