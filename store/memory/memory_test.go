package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockjs-cluster/sockjs/store"
	"github.com/sockjs-cluster/sockjs/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return New(Options{}) })
}

var bg = context.Background()

// fakeClock is a manual clock for tests that run on one goroutine.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFake(opts Options) (*Store, *fakeClock) {
	c := &fakeClock{t: time.Unix(1_000_000, 0)}
	s := New(opts)
	s.now = c.now
	return s, c
}

func mustOpen(t *testing.T, s *Store, route, id string, req store.OpenRequest) store.OpenResult {
	if req.Holder == "n" {
		if _, err := s.RenewNode(bg, route, "n", store.NodeRequest{Lease: 1000 * time.Hour}); err != nil {
			t.Fatalf("RenewNode: %v", err)
		}
	}
	t.Helper()
	res, err := s.Open(bg, route, id, req)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	return res
}

func mustPull(t *testing.T, s *Store, route, id, receiver string) []string {
	t.Helper()
	res, err := s.Pull(bg, route, id, store.PullRequest{Receiver: receiver, Idle: time.Hour})
	if err != nil {
		t.Fatalf("Pull(%s): %v", id, err)
	}
	return res.Messages
}

func TestOptionsDefaults(t *testing.T) {
	got := New(Options{}).opts
	want := Options{MaxQueue: 10000, BroadcastRetention: time.Minute, MaxBroadcastLog: 100000, MaxQueueBytes: 1 << 20, MaxBroadcastBytes: 16 << 20, MaxTotalQueueBytes: 32 << 20}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	custom := Options{MaxQueue: 1, BroadcastRetention: time.Second, MaxBroadcastLog: 2, MaxQueueBytes: 3, MaxBroadcastBytes: 4, MaxTotalQueueBytes: 5}
	if got := New(custom).opts; got != custom {
		t.Fatalf("custom options = %+v, want %+v", got, custom)
	}
}

func TestBroadcastLogTrimming(t *testing.T) {
	attached := store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"}
	tests := []struct {
		name    string
		opts    Options
		publish func(s *Store, c *fakeClock)
		want    []string
		logLen  int  // messages in the log (not its trim mark)
		missed  bool // the pull finds that broadcasts were trimmed before it
	}{
		{
			name: "retention drops old messages",
			opts: Options{BroadcastRetention: time.Second},
			publish: func(s *Store, c *fakeClock) {
				_, _ = s.Publish(bg, "r", "old")
				c.advance(1500 * time.Millisecond)
				_, _ = s.Publish(bg, "r", "new1")
				c.advance(500 * time.Millisecond)
				_, _ = s.Publish(bg, "r", "new2")
			},
			want:   []string{"new1", "new2"},
			logLen: 2,
			missed: true,
		},
		{
			name: "count bound drops the oldest",
			opts: Options{MaxBroadcastLog: 3},
			publish: func(s *Store, c *fakeClock) {
				for i := range 5 {
					_, _ = s.Publish(bg, "r", fmt.Sprint("m", i))
				}
			},
			want:   []string{"m2", "m3", "m4"},
			logLen: 3,
			missed: true,
		},
		{
			name: "unicast kept when broadcasts are trimmed",
			opts: Options{MaxBroadcastLog: 1},
			publish: func(s *Store, c *fakeClock) {
				_, _ = s.Publish(bg, "r", "b0")
				_, _ = s.Push(bg, "r", "a", []string{"u"})
				_, _ = s.Publish(bg, "r", "b1")
			},
			want:   []string{"u", "b1"},
			logLen: 1,
			missed: true,
		},
		{
			name: "byte bound drops the oldest, never the newest",
			opts: Options{MaxBroadcastBytes: 10},
			publish: func(s *Store, c *fakeClock) {
				_, _ = s.Publish(bg, "r", "12345")
				_, _ = s.Publish(bg, "r", "6789")
				_, _ = s.Publish(bg, "r", "abcde")         // 14 bytes: 12345 goes
				_, _ = s.Publish(bg, "r", "0123456789ABC") // alone past the bound: stays
			},
			want:   []string{"0123456789ABC"},
			logLen: 1,
			missed: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newFake(tc.opts)
			mustOpen(t, s, "r", "a", attached)
			tc.publish(s, c)
			res, err := s.Pull(bg, "r", "a", store.PullRequest{Receiver: "r", Idle: time.Hour})
			if err != nil || !slices.Equal(res.Messages, tc.want) || res.Missed != tc.missed {
				t.Fatalf("Pull = %q, Missed %v, %v; want %q, Missed %v", res.Messages, res.Missed, err, tc.want, tc.missed)
			}
			if n := s.routes["r"].log.len(); n != tc.logLen {
				t.Fatalf("log holds %d entries, want %d", n, tc.logLen)
			}
		})
	}
}

func TestPublishWithoutOpenSessionsLogsNothing(t *testing.T) {
	s, _ := newFake(Options{})
	if _, err := s.Publish(bg, "nobody", "m"); err != nil {
		t.Fatalf("Publish on an unknown route: %v", err)
	}
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour})
	if _, _, err := s.CloseSession(bg, "r", "a", 3000, "bye", time.Hour); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Publish(bg, "r", "m"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if n := s.routes["r"].log.len(); n != 0 {
		t.Fatalf("log holds %d entries with no open session, want 0", n)
	}
}

func TestMaxQueue(t *testing.T) {
	tests := []struct {
		name    string
		pushes  [][]string
		wantErr []bool
		want    []string
	}{
		{"fills to the limit", [][]string{{"a", "b"}, {"c"}}, []bool{false, false}, []string{"a", "b", "c"}},
		{"one past the limit", [][]string{{"a", "b", "c"}, {"d"}}, []bool{false, true}, []string{"a", "b", "c"}},
		{"batch past the limit stores nothing", [][]string{{"a"}, {"b", "c", "d"}, {"e"}}, []bool{false, true, false}, []string{"a", "e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newFake(Options{MaxQueue: 3})
			mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"})
			for i, msgs := range tc.pushes {
				_, err := s.Push(bg, "r", "a", msgs)
				if got := errors.Is(err, store.ErrQueueFull); got != tc.wantErr[i] || (err != nil && !got) {
					t.Fatalf("Push %d (%q): error %v, want ErrQueueFull %v", i, msgs, err, tc.wantErr[i])
				}
			}
			if got := mustPull(t, s, "r", "a", "r"); !slices.Equal(got, tc.want) {
				t.Fatalf("Pull = %q, want %q", got, tc.want)
			}
			if _, err := s.Push(bg, "r", "a", []string{"x", "y", "z"}); err != nil {
				t.Fatalf("Push after draining: %v", err)
			}
		})
	}
}

func TestReapMaxMustBePositive(t *testing.T) {
	s := New(Options{})
	if _, err := s.Reap(bg, "r", 0); err == nil {
		t.Fatal("Reap(max 0): no error")
	}
}

// TestReapHeapStaysSmall checks the deadline heap under polling: one entry
// per session whatever the deadlines do, nothing reaped early, everything
// reaped once due.
func TestReapHeapStaysSmall(t *testing.T) {
	s, c := newFake(Options{})
	const sessions = 100
	lease := store.OpenRequest{Create: true, Idle: time.Second, Receiver: "r", Holder: "n1"}
	renewNode := func() {
		if _, err := s.RenewNode(bg, "r", "n1", store.NodeRequest{Lease: 10 * time.Second}); err != nil {
			t.Fatalf("RenewNode: %v", err)
		}
	}
	renewNode()
	for i := range sessions {
		mustOpen(t, s, "r", fmt.Sprint(i), lease)
	}
	rt := s.routes["r"]
	for range 50 {
		c.advance(100 * time.Millisecond)
		renewNode()
		for i := range sessions {
			mustPull(t, s, "r", fmt.Sprint(i), "r")
			// A poll: release, then attach again.
			if err := s.Release(bg, "r", fmt.Sprint(i), "r", time.Second); err != nil {
				t.Fatalf("Release: %v", err)
			}
			mustOpen(t, s, "r", fmt.Sprint(i), lease)
		}
		if got, err := s.Reap(bg, "r", sessions); err != nil || len(got) != 0 {
			t.Fatalf("Reap = %d sessions, %v; want none", len(got), err)
		}
		if n := len(rt.deadline); n != sessions {
			t.Fatalf("heap holds %d entries for %d sessions", n, sessions)
		}
	}
	c.advance(time.Minute)
	got, err := s.Reap(bg, "r", 2*sessions)
	if err != nil || len(got) != sessions {
		t.Fatalf("Reap after all lapsed = %d sessions, %v; want %d", len(got), err, sessions)
	}
	if len(rt.deadline) != 0 || len(rt.sessions) != 0 || rt.open != 0 {
		t.Fatalf("after reaping all: heap %d sessions %d open %d, want all 0", len(rt.deadline), len(rt.sessions), rt.open)
	}
}

// TestDeadlineMovesEarlier covers a deadline moved before the heap entry's
// (Close with a short idle after a long lease).
func TestDeadlineMovesEarlier(t *testing.T) {
	s, c := newFake(Options{})
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"})
	c.advance(90 * time.Minute)
	// The heap key (the creation deadline, 1h) comes due and moves to
	// lease+idle (2h).
	if got, _ := s.Reap(bg, "r", 10); len(got) != 0 {
		t.Fatalf("Reap during the lease = %d sessions", len(got))
	}
	if _, _, err := s.CloseSession(bg, "r", "a", 3000, "bye", time.Second); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c.advance(500 * time.Millisecond)
	if got, _ := s.Reap(bg, "r", 10); len(got) != 0 {
		t.Fatalf("Reap before the close idle = %d sessions", len(got))
	}
	c.advance(time.Second)
	got, err := s.Reap(bg, "r", 10)
	if err != nil || len(got) != 1 || got[0].State != store.StateClosed {
		t.Fatalf("Reap after the close idle = %+v, %v; want the closed session", got, err)
	}
	c.advance(3 * time.Hour)
	if got, _ := s.Reap(bg, "r", 10); len(got) != 0 {
		t.Fatalf("reaped again: %+v", got)
	}
}

func BenchmarkPoll(b *testing.B) {
	poll := store.OpenRequest{Receiver: "r", Holder: "n", Idle: 5 * time.Second, Pull: true, ReleaseIfData: true}
	for _, withData := range []bool{false, true} {
		b.Run(fmt.Sprintf("data=%v", withData), func(b *testing.B) {
			s := New(Options{})
			if _, err := s.Open(bg, "r", "a", store.OpenRequest{Create: true, Idle: 5 * time.Second}); err != nil {
				b.Fatal(err)
			}
			msgs := []string{"hello"}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if withData {
					if _, err := s.Push(bg, "r", "a", msgs); err != nil {
						b.Fatal(err)
					}
				}
				res, err := s.Open(bg, "r", "a", poll)
				if err != nil || !res.Attached {
					b.Fatal(res, err)
				}
				if err := s.Release(bg, "r", "a", "r", 5*time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPush(b *testing.B) {
	s := New(Options{})
	if _, err := s.Open(bg, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"}); err != nil {
		b.Fatal(err)
	}
	msgs := []string{"hello"}
	drain := store.PullRequest{Receiver: "r", Idle: time.Hour}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Push(bg, "r", "a", msgs); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if _, err := s.Pull(bg, "r", "a", drain); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkPublish1000Sessions(b *testing.B) {
	s := New(Options{})
	for i := range 1000 {
		if _, err := s.Open(bg, "r", fmt.Sprint(i), store.OpenRequest{Create: true, Idle: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Publish(bg, "r", "news"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReapNoneDue10000Sessions(b *testing.B) {
	s := New(Options{})
	for i := range 10000 {
		if _, err := s.Open(bg, "r", fmt.Sprint(i), store.OpenRequest{Create: true, Idle: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Reap(bg, "r", 100); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMaxQueueBytes: the unread queue is bounded in bytes too, and what a
// receiver takes (or acknowledges) makes room again.
func TestMaxQueueBytes(t *testing.T) {
	s, _ := newFake(Options{MaxQueueBytes: 10})
	mustOpen(t, s, "r", "a", store.OpenRequest{Create: true, Idle: time.Hour, Receiver: "r", Holder: "n"})
	for i, tc := range []struct {
		msgs []string
		full bool
	}{
		{[]string{"12345"}, false},
		{[]string{"123456"}, true},
		{[]string{"123", "45"}, false}, // exactly at the bound
		{[]string{"1"}, true},
	} {
		_, err := s.Push(bg, "r", "a", tc.msgs)
		if got := errors.Is(err, store.ErrQueueFull); got != tc.full || (err != nil && !got) {
			t.Fatalf("Push %d (%q): %v, want ErrQueueFull %v", i, tc.msgs, err, tc.full)
		}
	}
	if got := mustPull(t, s, "r", "a", "r"); !slices.Equal(got, []string{"12345", "123", "45"}) {
		t.Fatalf("Pull = %q", got)
	}
	res, err := s.Push(bg, "r", "a", []string{"1234567890"})
	if err != nil {
		t.Fatalf("Push after draining: %v", err)
	}
	// Acknowledged messages free their bytes as well.
	if _, err := s.Pull(bg, "r", "a", store.PullRequest{Receiver: "r", Ack: res.First, Max: -1}); err != nil {
		t.Fatalf("Pull(ack): %v", err)
	}
	if _, err := s.Push(bg, "r", "a", []string{"abcdefghij"}); err != nil {
		t.Fatalf("Push after the acknowledgement: %v", err)
	}
}
