// Package integration_test holds the tests that need more than the library
// itself: third-party routers, several real nodes, real servers. It is its
// own module, so its dependencies never reach the library's users.
package integration
