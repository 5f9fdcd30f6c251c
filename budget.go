package sockjs

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sockjs-cluster/sockjs/transports"
)

// itemOverhead is what a queued websocket message costs beyond its bytes,
// as the node's buffer budget counts it.
const itemOverhead = 32

// ReasonNodeBudget is the close reason of a websocket session the node
// closed because its clients' buffers together reached
// Config.MaxBufferedBytes and this session held the most.
const ReasonNodeBudget = "Slow consumer: node buffer budget exceeded"

// budget counts the bytes this node holds for its websocket clients (their
// send queues and the batches being written), against
// Config.MaxBufferedBytes. Past it, the sessions holding the most are
// closed first (see shed), then, if what is being written still keeps the
// node over, the session that asks for more.
type budget struct {
	max  int64
	used atomic.Int64

	shedding sync.Mutex // one shed at a time
	sheds    atomic.Int64
}

// reserve counts n more bytes for c, shedding the biggest consumers of
// routes when the node is over its budget; false when the bytes do not fit
// even then. s.routes is read under s.mu: no route or connection lock may
// be held by the caller.
func (s *Server) reserve(c *connSession, n int64) bool {
	b := &s.buffers
	if b.used.Add(n) <= b.max {
		c.held.Add(n)
		return true
	}
	b.used.Add(-n)
	s.shed(n)
	if b.used.Add(n) <= b.max {
		c.held.Add(n)
		return true
	}
	b.used.Add(-n)
	return false
}

// unreserve gives back n bytes counted for c.
func (s *Server) unreserve(c *connSession, n int64) {
	if n != 0 {
		c.held.Add(-n)
		s.buffers.used.Add(-n)
	}
}

// shed closes the websocket sessions that hold the most, biggest first,
// dropping their queues, until n more bytes fit the budget or nobody holds
// queued bytes any more. Bytes being written stay counted until their
// write ends (at most WriteTimeout).
func (s *Server) shed(n int64) {
	b := &s.buffers
	b.shedding.Lock()
	defer b.shedding.Unlock()
	if b.used.Load()+n <= b.max {
		return // someone else shed meanwhile
	}
	s.mu.Lock()
	var conns []*connSession
	for _, rt := range s.routes {
		rt.mu.Lock()
		for _, c := range rt.conns {
			if c.held.Load() > 0 {
				conns = append(conns, c)
			}
		}
		rt.mu.Unlock()
	}
	s.mu.Unlock()
	held := make(map[*connSession]int64, len(conns))
	for _, c := range conns {
		held[c] = c.held.Load()
	}
	slices.SortFunc(conns, func(a, b *connSession) int {
		switch ha, hb := held[a], held[b]; {
		case ha > hb:
			return -1
		case ha < hb:
			return 1
		}
		return 0
	})
	for _, c := range conns {
		if b.used.Load()+n <= b.max {
			return
		}
		if c.shed(CodeSlowConsumer, ReasonNodeBudget) {
			b.sheds.Add(1)
			c.rt.observeSlow(SlowQueue)
			c.rt.log.Warn("sockjs: closing a websocket session to keep the node's buffers within Config.MaxBufferedBytes",
				"route", c.rt.name, "session", c.key, "held", held[c], "budget", b.max)
		}
	}
}

// shed drops what c has queued and has it closed with code and reason;
// false when it was closing already with nothing queued.
func (c *connSession) shed(code int, reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing != nil && len(c.queue) == 0 {
		return false
	}
	if c.closing == nil {
		c.closing = &transports.Close{Code: code, Reason: reason}
		c.cause = CauseSlowConsumer
	}
	c.dropQueue()
	if c.claim() {
		c.writeAsync()
	}
	return true
}

// dropQueue forgets what is queued and gives its bytes back. c.mu must be
// held.
func (c *connSession) dropQueue() {
	clear(c.queue)
	c.queue = c.queue[:0]
	c.queued = 0
	c.rt.srv.unreserve(c, int64(c.charged))
	c.charged = 0
}
