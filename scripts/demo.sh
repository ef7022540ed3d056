#!/usr/bin/env bash
# The main job on a fresh machine (Debian, as root): install what is needed, build, make a
# busybox image from the host's busybox-static, and run real containers with it:
#   - `docker run busybox echo ...` (output streamed, exit status returned),
#   - a web server with a published port, fetched from the host at 127.0.0.1:PUBLIC,
#   - ps, logs, stop, rm.
# The commands go through a `docker -d` daemon started on a temporary root and socket, with its
# own bridge (drdemo0) and iptables chain (DRDEMO); all of it is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
root=$(mktemp -d /tmp/docker-runtime-demo.XXXXXX)
sock="unix://$root/docker.sock"
# Our binary by path: another docker client may be first on PATH.
docker() { target/release/docker -H "$sock" "$@"; }
cleanup() {
  set +e
  for id in $(docker ps -a -q --no-trunc 2>/dev/null); do docker rm -f "$id" >/dev/null; done
  [ -n "${daemon:-}" ] && kill -TERM "$daemon" && wait "$daemon"
  for t in "nat PREROUTING DRDEMO" "nat OUTPUT DRDEMO" "nat POSTROUTING DRDEMO-POST" "mangle FORWARD DRDEMO-ISO" "filter FORWARD DRDEMO-FWD" "filter INPUT DRDEMO-IN"; do
    set -- $t
    while iptables -w -t "$1" -S "$2" 2>/dev/null | grep -q -- "-j $3\$"; do
      rule=$(iptables -w -t "$1" -S "$2" | grep -- "-j $3\$" | head -n1 | sed 's/^-A //')
      iptables -w -t "$1" -D $rule
    done
    iptables -w -t "$1" -F "$3" 2>/dev/null; iptables -w -t "$1" -X "$3" 2>/dev/null
  done
  ip link del drdemo0 2>/dev/null
  rm -rf "$root"
}
trap cleanup EXIT
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "docker -d -H $sock -g $root/root -b drdemo0 --iptables-chain DRDEMO --ip-forward=false &"
target/release/docker -d -H "$sock" -g "$root/root" -b drdemo0 --iptables-chain DRDEMO \
  --ip-forward=false 2> "$root/daemon.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$root/docker.sock" ] && break; sleep 0.05; done
docker version

say "contrib/mkimage-busybox.sh | docker import - busybox"
contrib/mkimage-busybox.sh | docker import - busybox
say "docker images"
docker images
say "docker run busybox echo hello from a container"
docker run busybox echo hello from a container
say "docker run busybox sh -c 'hostname; id; ps; exit 3'"
set +e; docker run busybox sh -c 'hostname; id; ps; exit 3'; echo "(exit status $?)"; set -e
say "docker run -d -p 80 busybox httpd -f -p 80 -h /etc"
id=$(docker run -d -p 80 busybox httpd -f -p 80 -h /etc)
echo "$id"
port=$(docker port "$id" 80)
say "curl http://127.0.0.1:$port/passwd   (the container's /etc/passwd, through the mapped port)"
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/passwd" && break; sleep 0.1; done
say "docker ps"
docker ps
say "docker stop -t 1 $id; docker rm $id"
docker stop -t 1 "$id"
docker rm "$id"
say "docker ps -a"
docker ps -a
echo
echo "demo finished: the temporary root, bridge and rules are removed on exit"
