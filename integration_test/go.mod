module github.com/sockjs-cluster/sockjs/integration_test

go 1.24.0

replace github.com/sockjs-cluster/sockjs => ../

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/gorilla/mux v1.8.1
	github.com/redis/go-redis/v9 v9.22.0
	github.com/sockjs-cluster/sockjs v0.0.0-00010101000000-000000000000
	go.yaml.in/yaml/v3 v3.0.5
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gorilla/websocket v1.5.3
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
)
