#!/usr/bin/env bash
# Daemon benchmark (run as root from anywhere):
#   1. round trip of `docker version` and `docker info` through the daemon (hyperfine), next to
#      the same commands run in-process by the client (its no-daemon fallback);
#   2. requests per second with 16 concurrent clients: client processes (xargs -P 16), and on
#      the socket itself without process start-up (load.py);
#   3. the daemon's resident memory, idle after start and idle after the load.
# Uses a temp root and socket; touches nothing else. Needs hyperfine (apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { echo "bench: apt-get install hyperfine" >&2; exit 1; }
cargo build --release -q --bin docker
DOCKER=$PWD/target/release/docker
TMP=$(mktemp -d /tmp/bench-daemon.XXXXXX)
SOCK=$TMP/d.sock
ADDR=unix://$SOCK
CLIENTS=16
N=${N:-2000}
cleanup() {
  [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$DOCKER" -d -H "$ADDR" -g "$TMP/root" -b drbench0 --bip 10.214.0.1/24 2>"$TMP/daemon.log" &
DPID=$!
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$TMP/daemon.log" >&2; exit 1; }
rss() { awk '/VmRSS/ {print $2 " " $3}' "/proc/$DPID/status"; }
echo "== machine: $(nproc) cores, $(uname -r); docker-runtime $("$DOCKER" -H "$ADDR" version)"
echo "== daemon RSS idle after start: $(rss)"

echo "== round trip (hyperfine; in-process = the client's fallback on a root of its own)"
hyperfine -N --warmup 20 --runs 300 \
  -n "daemon: docker version" "$DOCKER -H $ADDR version" \
  -n "daemon: docker info" "$DOCKER -H $ADDR info" \
  -n "in-process: docker version" "$DOCKER -H unix://$TMP/none.sock -g $TMP/local version" \
  -n "in-process: docker info" "$DOCKER -H unix://$TMP/none.sock -g $TMP/local info" \
  --export-markdown "$TMP/round-trip.md" 2>&1 | grep -v "^ *$" || true
cat "$TMP/round-trip.md"

echo "== $CLIENTS concurrent client processes, $N requests each command"
for cmd in version info; do
  start=$(date +%s.%N)
  seq "$N" | xargs -P "$CLIENTS" -I{} "$DOCKER" -H "$ADDR" "$cmd" >/dev/null
  end=$(date +%s.%N)
  awk -v n="$N" -v s="$start" -v e="$end" -v c="$cmd" \
    'BEGIN { printf "docker %s: %d requests in %.2f s = %.0f req/s\n", c, n, e - s, n / (e - s) }'
done

if command -v python3 >/dev/null; then
  echo "== $CLIENTS concurrent connections on the socket (no process start-up), 5 s each"
  python3 bench/daemon/load.py "$SOCK" "$CLIENTS" 5 version
  python3 bench/daemon/load.py "$SOCK" "$CLIENTS" 5 info
fi
sleep 1
echo "== daemon RSS idle after the load: $(rss); threads: $(awk '/Threads/ {print $2}' "/proc/$DPID/status")"
