#!/usr/bin/env bash
# Engine API benchmark: Debian's docker 20.10 CLI against our daemon and against Debian's own
# dockerd, on the same machine. Run as root from anywhere:
#
#     bash bench/engine_api/run.sh            # RUNS=20 by default
#
# It builds the release `docker`, makes a busybox image (the host's busybox-static), starts
# our daemon (its own root, socket, bridge and iptables chain) and a dockerd of its own
# (overlay2 on a fresh loop-mounted ext4, its own exec root and socket, no bridge, no
# iptables), imports the image into both, then measures with hyperfine, the two daemons'
# runs interleaved in one hyperfine call:
#   - `docker run --rm --network none busybox true` (create, attach, wait, start, remove);
#   - `docker version` (a ping and a version round trip);
# and requests per second of `GET /containers/json` from 16 concurrent raw connections over
# the unix socket for 5 s (bench/engine_api/load.py). Everything it made is removed at the
# end. Not run by the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

RUNS=${RUNS:-20}
[ "$(id -u)" = 0 ] || { echo "run as root (mount, loop device, daemons)" >&2; exit 1; }
[ -x /usr/bin/docker ] && [ -x /usr/sbin/dockerd ] || { echo "needs Debian's docker.io (scripts/setup.sh)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "needs hyperfine" >&2; exit 1; }
cargo build --release --bin docker --bin docker-init >&2
OURS_BIN=$PWD/target/release/docker

work=$(mktemp -d /var/tmp/dr-bench-engine.XXXXXX)
mnt=$work/ext4
ours_pid=
dockerd_pid=
# The bridge and every iptables chain our daemon made (CHAIN and CHAIN-*), with the jumps
# to them from the builtin chains.
remove_net() {
  local bridge=$1 chain=$2 table rule c
  for table in nat filter; do
    iptables -w -t "$table" -S | grep -E -- "-j $chain(-[A-Z]+)?\$" | grep '^-A' | while read -r rule; do
      eval "iptables -w -t $table ${rule/-A/-D}"
    done
    for op in -F -X; do
      for c in $(iptables -w -t "$table" -S | awk -v p="$chain" '$1=="-N" && ($2==p || index($2, p"-")==1) {print $2}'); do
        iptables -w -t "$table" "$op" "$c"
      done
    done
  done
  ip link del "$bridge" 2>/dev/null
}
cleanup() {
  set +e
  if [ -n "$ours_pid" ]; then
    DOCKER_CONFIG=$work/cfg /usr/bin/docker -H "unix://$work/ours.sock" ps -aq 2>/dev/null |
      xargs -r env DOCKER_CONFIG=$work/cfg /usr/bin/docker -H "unix://$work/ours.sock" rm -f >/dev/null 2>&1
    kill "$ours_pid"; wait "$ours_pid" 2>/dev/null
    remove_net drbenchapi0 DRBENCHAPI
  fi
  if [ -n "$dockerd_pid" ]; then
    stop_dockerd "$dockerd_pid" "$work"
    unmount_under "$work" "$mnt"
  fi
  mountpoint -q "$mnt" && umount "$mnt"
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/cfg"
make_loopfs "$work" "$mnt" 2G
export DOCKER_CONFIG=$work/cfg

# The image: busybox-static and its applets.
layer=$work/layer
mkdir -p "$layer"/{bin,etc,proc,sys,dev,tmp,root}
cp /bin/busybox "$layer/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$layer/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$layer/etc/passwd"
tar -C "$layer" -cf "$work/busybox.tar" .

"$OURS_BIN" -d -H "unix://$work/ours.sock" -g "$mnt/ours" -b drbenchapi0 --bip 10.217.0.1/24 \
  --iptables-chain DRBENCHAPI --ip-forward=false --init-path "$PWD/target/release/docker-init" \
  >"$work/ours.log" 2>&1 &
ours_pid=$!
/usr/sbin/dockerd --data-root "$mnt/dockerd" --exec-root "$work/dexec" \
  --pidfile "$work/dockerd.pid" -H "unix://$work/dockerd.sock" --bridge=none \
  --iptables=false --ip-masq=false --storage-driver=overlay2 >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
OURS="/usr/bin/docker -H unix://$work/ours.sock"
THEIRS="/usr/bin/docker -H unix://$work/dockerd.sock"
for i in $(seq 100); do
  $OURS version >/dev/null 2>&1 && $THEIRS version >/dev/null 2>&1 && break
  sleep 0.2
done
$OURS version >/dev/null || { echo "our daemon did not start: $(tail -5 "$work/ours.log")" >&2; exit 1; }
$THEIRS version >/dev/null || { echo "dockerd did not start: $(tail -5 "$work/dockerd.log")" >&2; exit 1; }
$OURS import "$work/busybox.tar" busybox >/dev/null
$THEIRS import "$work/busybox.tar" busybox >/dev/null
# Warm both (the first run sets up what later runs reuse).
$OURS run --rm --network none busybox true
$THEIRS run --rm --network none busybox true

hyperfine -N --warmup 2 --runs "$RUNS" \
  -n "run --rm (ours)" "$OURS run --rm --network none busybox true" \
  -n "run --rm (dockerd)" "$THEIRS run --rm --network none busybox true" \
  -n "version (ours)" "$OURS version" \
  -n "version (dockerd)" "$THEIRS version"

for who in ours dockerd; do
  printf '%s: ' "$who"
  python3 bench/engine_api/load.py "$work/$who.sock" 16 5
done
