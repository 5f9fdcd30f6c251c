package transports

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// deadlineRecorder is a ResponseWriter that records the write deadlines
// set through http.ResponseController.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	set []time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

// TestStreamDeadline: the deadline is set for the first write, left alone
// while at least half of it remains, and moved once less does.
func TestStreamDeadline(t *testing.T) {
	const d = 400 * time.Millisecond
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	dl := streamDeadline{ctl: http.NewResponseController(rec), d: d}
	start := time.Now()
	dl.refresh()
	if len(rec.set) != 1 || rec.set[0].Before(start.Add(d)) {
		t.Fatalf("first refresh set %v, want one deadline %v ahead", rec.set, d)
	}
	dl.refresh()
	if len(rec.set) != 1 {
		t.Fatalf("a refresh with the whole deadline ahead set it again: %v", rec.set)
	}
	time.Sleep(d/2 + 50*time.Millisecond)
	before := time.Now()
	dl.refresh()
	if len(rec.set) != 2 || rec.set[1].Before(before.Add(d)) {
		t.Fatalf("refresh with less than half ahead: %v, want a second deadline %v ahead", rec.set, d)
	}

	none := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	(&streamDeadline{ctl: http.NewResponseController(none)}).refresh()
	if len(none.set) != 0 {
		t.Fatalf("no WriteTimeout set a deadline: %v", none.set)
	}
}
