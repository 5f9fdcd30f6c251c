package sockjs

// KnownFor lets tests lengthen how long a node trusts a session it saw open.
var KnownFor = &knownFor

// SetPause makes the node call pause at each of its pause points (lease
// renewals, bus messages, receivers between taking messages and handing
// them over); a pause that blocks freezes the node there, as a stopped
// process or a long GC pause would. nil removes it.
func SetPause(s *Server, pause func()) {
	if pause == nil {
		s.pause.Store(nil)
		return
	}
	s.pause.Store(&pause)
}

// BufferedBytes is what the node counts against Config.MaxBufferedBytes.
func BufferedBytes(s *Server) int64 { return s.buffers.used.Load() }

// IsReadinessPing reports whether payload is a node's readiness ping.
func IsReadinessPing(payload []byte) bool {
	m, err := decodeNodeMessage(payload)
	return err == nil && m.kind == msgPing
}

// RouteReady is Ready for the route named name alone, without the
// Shutdown check.
func RouteReady(s *Server, name string) error {
	s.mu.Lock()
	rt := s.routes[name]
	s.mu.Unlock()
	_, timeout := s.readinessTimes()
	return rt.ready(mono(), timeout)
}
