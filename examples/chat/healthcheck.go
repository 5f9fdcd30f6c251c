package main

// The -healthcheck mode. This file is the same in examples/chat and
// examples/testserver.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// healthcheck GETs url and returns the process's exit status: 0 for a 2xx
// answer within a few seconds, 1 otherwise. It lets a container image
// without a shell or curl (distroless, scratch) run its own health check:
//
//	/server -healthcheck http://127.0.0.1:8080/chat/info
func healthcheck(url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintln(os.Stderr, "healthcheck:", url, resp.Status)
		return 1
	}
	return 0
}
