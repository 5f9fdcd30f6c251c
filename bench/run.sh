#!/usr/bin/env bash
# Runs the side-by-side benchmark (see cmd/bench): builds the servers,
# raises the file-descriptor limit, pins the load generator to CPU 1 (each
# server is pinned to CPU 0) and writes docs/bench/{README.md,chart.svg,results.json}
# and the summary between the bench:begin/bench:end markers of ../README.md.
#
#   bench/run.sh -quick     # 1 round, small counts, about 4 minutes
#   bench/run.sh            # the full run (3 rounds)
#   bench/run.sh -profile   # pprof profiles of our server -> docs/bench/profiles.md
#   bench/run.sh -src DIR -systems cluster -scenarios capacity -out DIR2 -readme -
#                           # what one route costs Redis, with examples/testserver
#                           # built from the source tree DIR (default: this one)
#
# Needs go, node and npm, redis-server and taskset (util-linux).
set -euo pipefail
cmdline="bench/run.sh${*:+ $*}"
# -src DIR: build examples/testserver from DIR (another checkout of the
# repository); everything else is built from this tree. It is passed on
# to the benchmark, which records the tree and its commit in the report.
src=""
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-src | --src)
		[ $# -ge 2 ] || { echo "run.sh: -src needs a directory" >&2; exit 2; }
		src=$2
		shift 2
		;;
	-src=* | --src=*)
		src=${1#*=}
		shift
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done
cd "$(dirname "$0")"
if [ -z "$src" ]; then
	src=$(cd .. && pwd)
elif ! src=$(cd "$OLDPWD" && cd "$src" 2>/dev/null && pwd); then
	echo "run.sh: -src: no such directory" >&2
	exit 2
fi
[ -d "$src/examples/testserver" ] || { echo "run.sh: $src has no examples/testserver" >&2; exit 2; }

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi
# On a fresh Debian machine, as root: install what is missing.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v taskset >/dev/null || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
for tool in go node npm redis-server taskset; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done

# 5000 idle websockets plus their clients: raise the soft limit as far as
# the hard limit allows.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi
if [ "$(ulimit -n)" -lt 12000 ]; then
	echo "run.sh: ulimit -n is $(ulimit -n); the idle scenario needs about 12000 (raise the hard limit)" >&2
	exit 1
fi

mkdir -p results/bin
bin=$(pwd)/results/bin
# examples/ is a module of its own (older checkouts: part of the root one).
if [ -f "$src/examples/go.mod" ]; then
	(cd "$src/examples" && go build -o "$bin/testserver" ./testserver)
else
	(cd "$src" && go build -o "$bin/testserver" ./examples/testserver)
fi
go build -o results/bin/sockjsgo ./peers/sockjsgo
go build -o results/bin/raw ./peers/raw
go build -o results/bin/profserver ./cmd/profserver
go build -o results/bin/bench ./cmd/bench
if [ ! -d peers/sockjsnode/node_modules ]; then
	(cd peers/sockjsnode && npm ci --no-audit --no-fund --loglevel=error)
fi

cpus=$(nproc)
if [ "$cpus" -ge 2 ]; then
	exec taskset -c 1 results/bin/bench -server-cpu 0 -client-cpu 1 -cmdline "$cmdline" -src "$src" ${args[@]+"${args[@]}"}
fi
echo "run.sh: only $cpus CPU: servers and load generator share it" >&2
exec results/bin/bench -server-cpu 0 -client-cpu 0 -cmdline "$cmdline" -src "$src" ${args[@]+"${args[@]}"}
