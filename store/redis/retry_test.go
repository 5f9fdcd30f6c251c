package redisstore

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockjs-cluster/sockjs/internal/redistest"
	"github.com/sockjs-cluster/sockjs/store"
)

// replyDropper is a TCP proxy to Redis that, when armed, closes the
// client's connection instead of passing on the next reply: the command
// ran, and its caller sees the connection break.
type replyDropper struct {
	ln    net.Listener
	armed atomic.Bool
	wg    sync.WaitGroup
}

func startReplyDropper(t *testing.T, target string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &replyDropper{ln: ln}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			d.wg.Add(2)
			go d.copy(s, c, false)
			go d.copy(c, s, true)
		}
	}()
	t.Cleanup(func() { ln.Close(); d.wg.Wait() })
	return d
}

// copy copies src to dst until either fails; replies (from the server)
// are dropped, with both connections, once when armed.
func (d *replyDropper) copy(dst, src net.Conn, replies bool) {
	defer d.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if replies && d.armed.CompareAndSwap(true, false) {
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// TestRetriesRepeatCalls is why the store's client should not retry
// (redis.Options.MaxRetries: -1): when a Push ran but its connection broke
// before the answer came back, go-redis's retries (on by default) run it
// again, storing the message twice; without retries the call fails and
// the message is stored once.
func TestRetriesRepeatCalls(t *testing.T) {
	srv := redistest.Start(t)
	d := startReplyDropper(t, srv.Addr)
	for _, tc := range []struct {
		maxRetries int
		want       []string
	}{
		{0, []string{"once", "once"}}, // go-redis's default: 3 retries
		{-1, []string{"once"}},
	} {
		c := newClient(t, &redis.Options{Addr: d.ln.Addr().String(), MaxRetries: tc.maxRetries})
		s := New(c, Options{Prefix: uniquePrefix("retries")})
		if _, err := s.RenewNode(bg, "r", "n", store.NodeRequest{Lease: time.Minute}); err != nil {
			t.Fatal(err)
		}
		mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Minute, Receiver: "rc", Holder: "n"})
		d.armed.Store(true)
		_, err := s.Push(bg, "r", "a", []string{"once"})
		if (err == nil) != (tc.maxRetries >= 0) {
			t.Errorf("MaxRetries %d: Push whose answer was lost: %v", tc.maxRetries, err)
		}
		if got := mustPull(t, s, "r", "a", "rc"); len(got) != len(tc.want) {
			t.Errorf("MaxRetries %d: the session holds %q, want %q", tc.maxRetries, got, tc.want)
		}
	}
}
