package sockjs

// KnownFor lets tests lengthen how long a node trusts a session it saw open.
var KnownFor = &knownFor
