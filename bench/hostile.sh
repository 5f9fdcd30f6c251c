#!/usr/bin/env bash
# Plays every attack of cmd/hostile against examples/testserver, each on a
# fresh server: in memory, then as one node over a fresh redis-server.
# Prints one JSON line per attack and backend.
#
#   bench/hostile.sh [-src DIR] [-duration 6s] [-attacks "amplify fragments"]
#
# -src DIR builds examples/testserver from another checkout of the
# repository (an older commit, to compare). Needs go and redis-server.
set -euo pipefail
src=""
duration=6s
only=""
while [ $# -gt 0 ]; do
	case "$1" in
	-src) src=$2; shift 2 ;;
	-duration) duration=$2; shift 2 ;;
	-attacks) only=$2; shift 2 ;;
	*) echo "hostile.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
cd "$(dirname "$0")"
here=$(pwd)
src=${src:-$here/..}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/hostile" ./cmd/hostile
if [ -f "$src/examples/go.mod" ]; then
	(cd "$src/examples" && go build -o "$work/testserver" ./testserver)
else
	(cd "$src" && go build -o "$work/testserver" ./examples/testserver)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_up() {
	for _ in $(seq 100); do
		curl -fs "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "hostile.sh: $1 did not come up" >&2
	return 1
}

attacks="amplify unread-stream broadcast slow-body long-ids big-header header-48k fragments redis-oom"
for backend in memory redis; do
	for attack in ${only:-$attacks}; do
		[ "$attack" = redis-oom ] && [ "$backend" = memory ] && continue
		port=$(free_port)
		args=(-addr "127.0.0.1:$port")
		hargs=()
		if [ "$backend" = redis ]; then
			rport=$(free_port)
			redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
			rpid=$!
			for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
			args+=(-redis "redis://127.0.0.1:$rport/0")
			hargs=(-redis "127.0.0.1:$rport")
		fi
		"$work/testserver" "${args[@]}" >"$work/server.log" 2>&1 &
		spid=$!
		wait_up "http://127.0.0.1:$port/echo/info"
		sleep 0.5 # settle
		line=$("$work/hostile" -url "http://127.0.0.1:$port" -pid "$spid" "${hargs[@]}" -attack "$attack" -duration "$duration" || echo '{"error":"hostile failed"}')
		echo "{\"backend\":\"$backend\",${line#\{}"
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		if [ "$backend" = redis ]; then
			kill "$rpid" 2>/dev/null || true
			wait "$rpid" 2>/dev/null || true
		fi
	done
done
