package pubsub

// Stats are cumulative counters a bus may keep about what it lost.
type Stats struct {
	// Reconnects counts the times the bus's connection was re-established
	// after it broke; messages published in each gap were lost.
	Reconnects uint64
	// Dropped counts messages dropped because a subscription's queue was
	// full (its handler too slow).
	Dropped uint64
}

// StatsReporter is implemented by buses that keep Stats (the Redis bus).
// The sockjs package hands them to its Observer; Stats must be cheap and
// safe for concurrent use.
type StatsReporter interface {
	Stats() Stats
}
