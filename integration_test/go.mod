module github.com/sockjs-cluster/sockjs/integration_test

go 1.24

replace github.com/sockjs-cluster/sockjs => ../

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/gorilla/mux v1.8.1
	github.com/sockjs-cluster/sockjs v0.0.0-00010101000000-000000000000
)

require github.com/gorilla/websocket v1.5.3 // indirect
