package memory

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/store"
)

// queuedSum is what Usage().QueuedBytes should be: every queue's bytes plus
// the per-message allowance, counted from the sessions themselves.
func queuedSum(s *Store) (bytes, queues int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.routes {
		r.mu.Lock()
		for _, ss := range r.sessions {
			n := 0
			for i := 0; i < ss.queue.len(); i++ {
				n += len(ss.queue.at(i).msg)
			}
			if n != ss.queueBytes {
				panic(fmt.Sprintf("session %s: queueBytes %d, queue holds %d", ss.id, ss.queueBytes, n))
			}
			bytes += int64(n + ss.queue.len()*QueueEntryOverhead)
			if ss.queue.len() > 0 {
				queues++
			}
		}
		r.mu.Unlock()
	}
	return bytes, queues
}

func checkUsage(t *testing.T, s *Store) Usage {
	t.Helper()
	u := s.Usage()
	bytes, queues := queuedSum(s)
	if u.QueuedBytes != bytes || u.Queues != queues {
		t.Fatalf("Usage = %d bytes in %d queues, the sessions hold %d in %d", u.QueuedBytes, u.Queues, bytes, queues)
	}
	return u
}

// TestTotalQueueBudget: many sessions, each under its own bound, cannot
// together queue more than twice MaxTotalQueueBytes, and past the budget the
// biggest consumer is refused first while a small one still gets its
// messages.
func TestTotalQueueBudget(t *testing.T) {
	const budget = 64 << 10
	s, clock := newFake(Options{MaxQueueBytes: 1 << 20, MaxTotalQueueBytes: budget})
	for _, id := range []string{"big", "small", "other"} {
		mustOpen(t, s, "r", id, store.OpenRequest{Create: true, Idle: time.Second})
	}
	msg := strings.Repeat("x", 1000)
	n := 0
	for ; n < 1000; n++ {
		if _, err := s.Push(bg, "r", "big", []string{msg}); err != nil {
			if !errors.Is(err, store.ErrQueueFull) {
				t.Fatalf("Push %d: %v", n, err)
			}
			break
		}
	}
	u := checkUsage(t, s)
	if u.QueuedBytes > budget || u.QueuedBytes < budget-int64(len(msg)+QueueEntryOverhead) {
		t.Fatalf("after %d pushes the store holds %d bytes; want the budget %d, give or take a message", n, u.QueuedBytes, budget)
	}
	if u.BudgetRefusals != 1 {
		t.Fatalf("BudgetRefusals = %d, want 1", u.BudgetRefusals)
	}
	// Over the budget, a small consumer still queues.
	if _, err := s.Push(bg, "r", "small", []string{"hello"}); err != nil {
		t.Fatalf("Push to the small consumer past the budget: %v", err)
	}
	// ... but not without end: at twice the budget everyone is refused.
	for i := 0; i < 1000; i++ {
		if _, err := s.Push(bg, "r", "other", []string{msg}); err != nil {
			if !errors.Is(err, store.ErrQueueFull) {
				t.Fatalf("Push: %v", err)
			}
			break
		}
	}
	if u := checkUsage(t, s); u.QueuedBytes > 2*budget {
		t.Fatalf("the store holds %d bytes, over twice the budget %d", u.QueuedBytes, budget)
	}
	// Reading the big queue frees the budget.
	mustOpen(t, s, "r", "big", store.OpenRequest{Receiver: "rb", Holder: "n"})
	if got := mustPull(t, s, "r", "big", "rb"); len(got) != n {
		t.Fatalf("big pulled %d messages, want %d", len(got), n)
	}
	if _, err := s.Push(bg, "r", "big", []string{msg}); err != nil {
		t.Fatalf("Push after the big queue was read: %v", err)
	}
	checkUsage(t, s)
	// Expired sessions give their queues back.
	if err := s.Release(bg, "r", "big", "rb", time.Second); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	if _, err := s.Reap(bg, "r", 100); err != nil {
		t.Fatal(err)
	}
	if u := checkUsage(t, s); u.QueuedBytes != 0 || u.Queues != 0 {
		t.Fatalf("after every session expired: %+v", u)
	}
}

// FuzzQueueBudget runs a random sequence of pushes, pulls, acknowledged
// pulls, closes and expiries over a few sessions and checks that the
// store's usage always matches its queues and never passes twice the budget.
func FuzzQueueBudget(f *testing.F) {
	f.Add([]byte{0, 10, 1, 20, 2, 30, 3, 0, 4, 1, 5, 2, 0, 200, 0, 255})
	f.Add([]byte("push push pull push close reap push"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		const budget = 4 << 10
		s, clock := newFake(Options{MaxQueueBytes: 2 << 10, MaxTotalQueueBytes: budget})
		ids := []string{"a", "b", "c"}
		open := func(id string) {
			if _, err := s.Open(bg, "r", id, store.OpenRequest{Create: true, Idle: time.Second}); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Open(%s): %v", id, err)
			}
		}
		for _, id := range ids {
			open(id)
		}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%6, int(ops[i+1])
			id := ids[arg%len(ids)]
			switch op {
			case 0, 1: // push one or a few messages of arg*8 bytes
				msgs := []string{strings.Repeat("m", arg*8)}
				if op == 1 {
					msgs = append(msgs, "", strings.Repeat("n", arg))
				}
				_, err := s.Push(bg, "r", id, msgs)
				if err != nil && !errors.Is(err, store.ErrQueueFull) && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrClosed) {
					t.Fatalf("Push: %v", err)
				}
			case 2: // pull some
				_, _ = s.Open(bg, "r", id, store.OpenRequest{Receiver: "rx" + id, Holder: "n"})
				_, _ = s.Pull(bg, "r", id, store.PullRequest{Receiver: "rx" + id, Max: arg%4 + 1, Idle: time.Second})
				_ = s.Release(bg, "r", id, "rx"+id, time.Second)
			case 3:
				_, _, _ = s.CloseSession(bg, "r", id, 3000, "bye", time.Second)
			case 4: // expire everything due, then reopen
				clock.advance(time.Duration(arg) * 10 * time.Millisecond)
				if _, err := s.Reap(bg, "r", 100); err != nil {
					t.Fatal(err)
				}
				open(id)
			case 5:
				if _, err := s.RenewNode(bg, "r", "n", store.NodeRequest{Lease: time.Hour}); err != nil {
					t.Fatal(err)
				}
			}
			if u := checkUsage(t, s); u.QueuedBytes > 2*budget {
				t.Fatalf("op %d: the store holds %d bytes, over twice the budget %d", i/2, u.QueuedBytes, budget)
			}
		}
	})
}
