package sockjs

import (
	"sync"
	"time"
)

// knownFor is how long a node trusts that a session it saw open still is,
// when xhr_send or jsonp_send messages arrive for it.
var knownFor = time.Second

// knownSessions remembers, per node, sessions recently seen open, so that a
// client's sends following each other cost no store read before OnMessage.
//
// A close anywhere is announced to every node over the bus (msgForget) and
// forgets the session at once; an entry lives knownFor at most, which bounds
// the staleness should that announcement be lost. Either way the window is
// of the same kind as the one a store read leaves: a send checked just
// before another node closes the session still reaches OnMessage. Sends to
// a session the node does not know always read the store, so unknown and
// foreign sessions are answered exactly as before.
type knownSessions struct {
	mu sync.Mutex
	m  map[string]knownSession
}

type knownSession struct {
	owner string
	meta  []byte
	until time.Time
}

// get returns the session's meta when it is known open and bound to owner.
func (k *knownSessions) get(key, owner string, now time.Time) ([]byte, bool) {
	k.mu.Lock()
	e, ok := k.m[key]
	k.mu.Unlock()
	if !ok || now.After(e.until) || e.owner != owner {
		return nil, false
	}
	return e.meta, true
}

func (k *knownSessions) put(key, owner string, meta []byte, now time.Time) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]knownSession)
	}
	k.m[key] = knownSession{owner: owner, meta: meta, until: now.Add(knownFor)}
	k.mu.Unlock()
}

func (k *knownSessions) forget(key string) {
	k.mu.Lock()
	delete(k.m, key)
	k.mu.Unlock()
}

// sweep drops the entries that are out of date.
func (k *knownSessions) sweep(now time.Time) {
	k.mu.Lock()
	for key, e := range k.m {
		if now.After(e.until) {
			delete(k.m, key)
		}
	}
	k.mu.Unlock()
}
