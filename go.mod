module github.com/sockjs-cluster/sockjs

go 1.23.0

require (
	github.com/gorilla/websocket v1.5.3
	go.uber.org/goleak v1.3.0
)
