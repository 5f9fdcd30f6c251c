// Package micro holds Go micro-benchmarks that need no server process:
// request handling the library's own benchmarks do not cover, measured
// through the exported transports API.
//
//	cd bench && go test -run='^$' -bench=. -benchmem ./micro
package micro
