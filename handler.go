package sockjs

// Handler is the application side of a route.
//
// OnOpen runs once per session, on the node that created it, before the
// client sees the open frame. OnMessage runs for each client message, on
// the node that received it; messages of one session arrive one at a time
// and in order. OnClose runs exactly once per session, cluster-wide: on the
// node that closed it, or on the node that found it expired; s.Err() tells
// why (a *CloseError with its Cause).
//
// Callbacks run on the request's goroutine: a slow callback delays that
// session's traffic (and, for OnOpen, its open frame). Hand long work to
// another goroutine.
type Handler interface {
	OnOpen(s *Session)
	OnMessage(s *Session, msg string)
	OnClose(s *Session)
}

// HandlerFuncs adapts plain functions to Handler; nil fields do nothing.
type HandlerFuncs struct {
	Open    func(s *Session)
	Message func(s *Session, msg string)
	Close   func(s *Session)
}

// OnOpen calls f.Open.
func (f HandlerFuncs) OnOpen(s *Session) {
	if f.Open != nil {
		f.Open(s)
	}
}

// OnMessage calls f.Message.
func (f HandlerFuncs) OnMessage(s *Session, msg string) {
	if f.Message != nil {
		f.Message(s, msg)
	}
}

// OnClose calls f.Close.
func (f HandlerFuncs) OnClose(s *Session) {
	if f.Close != nil {
		f.Close(s)
	}
}
