package sockjs

import "time"

// ExpireRefusalLogs lets the next refusal of each kind on every route of s
// be logged at once, as if refusalLogEvery had passed.
func ExpireRefusalLogs(s *Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.routes {
		for _, l := range []*logLimit{&rt.refused.origin, &rt.refused.authorize} {
			l.mu.Lock()
			l.next = time.Time{}
			l.mu.Unlock()
		}
	}
}
