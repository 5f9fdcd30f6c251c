# The commands the README names. `make test` is what CI runs.

.PHONY: test chat testserver fuzz

# Formatting, vet and every test of the library and integration modules,
# with the race detector; vet and the unit tests of the benchmark's tools
# (not the benchmark itself: bench/run.sh).
test:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 ./...
	cd integration_test && go vet ./... && go test -race -count=1 ./...
	cd bench && go vet ./... && go test -count=1 ./cmd/... ./load/...

# The chat example on http://127.0.0.1:8080, in memory.
chat:
	go run ./examples/chat

# The server the sockjs-protocol suite and load tools expect.
testserver:
	go run ./examples/testserver -addr 127.0.0.1:8081

# Each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	go test -run='^$$' -fuzz='^FuzzParseSessionPath$$' -fuzztime=$(FUZZTIME) .
	go test -run='^$$' -fuzz='^FuzzNodeMessage$$' -fuzztime=$(FUZZTIME) .
	go test -run='^$$' -fuzz='^FuzzBroadcastMessage$$' -fuzztime=$(FUZZTIME) .
	go test -run='^$$' -fuzz='^FuzzParseSendBody$$' -fuzztime=$(FUZZTIME) ./transports
	go test -run='^$$' -fuzz='^FuzzParseMessages$$' -fuzztime=$(FUZZTIME) ./internal/frame
	go test -run='^$$' -fuzz='^FuzzAppendQuote$$' -fuzztime=$(FUZZTIME) ./internal/frame
	go test -run='^$$' -fuzz='^FuzzAppendMessages$$' -fuzztime=$(FUZZTIME) ./internal/frame
	go test -run='^$$' -fuzz='^FuzzValidCallback$$' -fuzztime=$(FUZZTIME) ./internal/frame
	go test -run='^$$' -fuzz='^FuzzReadMessage$$' -fuzztime=$(FUZZTIME) ./internal/hixie76
