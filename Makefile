# The commands the README names. `make test` is what CI runs.

.PHONY: test test-oldest chat testserver fuzz

# Formatting, vet and every test of the library, sockjsprom, examples and
# integration modules,
# with the race detector; vet and the unit tests of the benchmark's tools
# (not the benchmark itself: bench/run.sh).
test:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 ./...
	cd sockjsprom && go vet ./... && go test -race -count=1 ./...
	cd examples && go vet ./... && go test -race -count=1 ./...
	cd integration_test && go vet ./... && go test -race -count=1 ./...
	cd bench && go vet ./... && go test -count=1 ./cmd/... ./load/...

# The oldest Go the module supports: the go line of go.mod (a bare "1.24"
# names the toolchain go1.24.0). The go command fetches that toolchain from
# the module proxy. No race detector here, to keep CI short: the newest Go
# runs the tests with it above. The integration module is vetted and its
# tests compiled, not run; bench is vetted.
OLDEST_GO := $(shell awk '$$1 == "go" { v = $$2; if (split(v, p, ".") == 2) v = v ".0"; print v; exit }' go.mod)
test-oldest:
	GOTOOLCHAIN=go$(OLDEST_GO) go version
	GOTOOLCHAIN=go$(OLDEST_GO) go vet ./...
	GOTOOLCHAIN=go$(OLDEST_GO) go test -count=1 ./...
	cd sockjsprom && GOTOOLCHAIN=go$(OLDEST_GO) go vet ./... && GOTOOLCHAIN=go$(OLDEST_GO) go test -count=1 ./...
	cd examples && GOTOOLCHAIN=go$(OLDEST_GO) go vet ./... && GOTOOLCHAIN=go$(OLDEST_GO) go test -count=1 ./...
	cd integration_test && GOTOOLCHAIN=go$(OLDEST_GO) go vet ./... && GOTOOLCHAIN=go$(OLDEST_GO) go test -count=1 -run XXX_none ./...
	cd bench && GOTOOLCHAIN=go$(OLDEST_GO) go vet ./...

# The chat example on http://127.0.0.1:8080, in memory.
chat:
	cd examples && go run ./chat

# The server the sockjs-protocol suite and load tools expect.
testserver:
	cd examples && go run ./testserver -addr 127.0.0.1:8081

# Each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	go test -run='^$$' -fuzz='^FuzzParseSessionPath$$' -fuzztime=$(FUZZTIME) .
	go test -run='^$$' -fuzz='^FuzzNodeMessage$$' -fuzztime=$(FUZZTIME) .
	go test -run='^$$' -fuzz='^FuzzBroadcastMessage$$' -fuzztime=$(FUZZTIME) .
	go test -run='^$$' -fuzz='^FuzzEncodeMeta$$' -fuzztime=$(FUZZTIME) .
	go test -run='^$$' -fuzz='^FuzzParseSendBody$$' -fuzztime=$(FUZZTIME) ./transports
	go test -run='^$$' -fuzz='^FuzzReadBody$$' -fuzztime=$(FUZZTIME) ./transports
	go test -run='^$$' -fuzz='^FuzzQueueBudget$$' -fuzztime=$(FUZZTIME) ./store/memory
	go test -run='^$$' -fuzz='^FuzzParseMessages$$' -fuzztime=$(FUZZTIME) ./internal/frame
	go test -run='^$$' -fuzz='^FuzzAppendQuote$$' -fuzztime=$(FUZZTIME) ./internal/frame
	go test -run='^$$' -fuzz='^FuzzAppendMessages$$' -fuzztime=$(FUZZTIME) ./internal/frame
	go test -run='^$$' -fuzz='^FuzzValidCallback$$' -fuzztime=$(FUZZTIME) ./internal/frame
	go test -run='^$$' -fuzz='^FuzzReadMessage$$' -fuzztime=$(FUZZTIME) ./internal/hixie76
