#!/usr/bin/env bash
# exec latency: `exec CONTAINER /bin/true`, wall time from the command's start to its end, on
# a running `busybox sleep` container (no network), side by side (run as root from anywhere):
#
#     bash bench/exec/run.sh            # RUNS=200 by default
#
#   ours, in-process:  `docker -H none -g ROOT exec ID /bin/true` (the CLI opens the root,
#                      restores its containers, runs the helper; no daemon);
#   ours, daemon:      `docker -H unix://SOCK exec ID /bin/true` (a `docker -d` of our own);
#   runc:              `runc --root R exec bench /bin/true` on a runc container of the same
#                      busybox root file system (`runc spec`, detached);
#   docker 20.10:      `/usr/bin/docker -H unix://SOCK exec ID /bin/true` on a dockerd of the
#                      benchmark's own (Debian's docker.io: its own data and exec roots and
#                      socket, no bridge, no iptables), when installed; stopped at the end.
# The four alternate within each round (so drift hits them alike). Prints the medians, the
# 10th and 90th percentiles, and the ratios (peer time / ours: > 1 means we are faster).
# Removes everything it made. Not run by the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

RUNS=${RUNS:-200}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
cargo build --release -q --bin docker --bin docker-init
DOCKER=$PWD/target/release/docker

work=$(mktemp -d /var/tmp/dr-bench-exec.XXXXXX)
dpid= dockerd_pid=
# dockerd leaves its parent cgroups (`docker` in each hierarchy): removed at the end when this
# run made them.
own_cgroups=$(for d in /sys/fs/cgroup/*/; do [ -e "${d}docker" ] || echo "${d}docker"; done)
cleanup() {
  set +e
  runc --root "$work/runc" kill bench KILL 2>/dev/null
  sleep 0.2
  runc --root "$work/runc" delete -f bench 2>/dev/null
  "$DOCKER" -H none -g "$work/ours" rm -f "${ours_id:-x}" >/dev/null 2>&1
  [ -n "$dpid" ] && "$DOCKER" -H "unix://$work/ours.sock" rm -f "${daemon_id:-x}" >/dev/null 2>&1
  [ -n "$dpid" ] && kill "$dpid" && wait "$dpid" 2>/dev/null
  if [ -n "$dockerd_pid" ]; then
    $DK rm -f "${docker_id:-x}" >/dev/null 2>&1
    stop_dockerd "$dockerd_pid" "$work"
  fi
  unmount_under "$work"
  for d in $own_cgroups; do [ -d "$d" ] && rmdir "$d"; done
  rm -rf "$work"
}
trap cleanup EXIT

bash contrib/mkimage-busybox.sh >"$work/busybox.tar" 2>/dev/null

# Ours, in-process on a root of its own.
"$DOCKER" -H none -g "$work/ours" import - busybox <"$work/busybox.tar" >/dev/null
ours_id=$("$DOCKER" -H none -g "$work/ours" run -d --network none busybox sleep 100000)

# Ours, through a daemon on another root.
"$DOCKER" -d -H "unix://$work/ours.sock" -g "$work/daemon-root" -b drbenchx0 \
  --bip 10.215.0.1/24 --iptables-chain DRBENCHX --ip-forward=false 2>"$work/daemon.log" &
dpid=$!
for _ in $(seq 200); do [ -S "$work/ours.sock" ] && break; sleep 0.05; done
OD="$DOCKER -H unix://$work/ours.sock"
$OD import - busybox <"$work/busybox.tar" >/dev/null
daemon_id=$($OD run -d --network none busybox sleep 100000)

# runc, on a bundle of the same root file system.
mkdir -p "$work/bundle/rootfs"
tar -xf "$work/busybox.tar" -C "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["sleep", "100000"]
c["process"]["terminal"] = False
c["root"]["readonly"] = False
json.dump(c, open(p, "w"))
PY
runc --root "$work/runc" run -d --bundle "$work/bundle" bench </dev/null >/dev/null 2>&1

# docker 20.10, when installed.
DK=
if [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ]; then
  /usr/sbin/dockerd --data-root "$work/dockerd" --exec-root "$work/dexec" \
    --pidfile "$work/dockerd.pid" -H "unix://$work/dockerd.sock" --bridge=none \
    --iptables=false --ip-masq=false --storage-driver=overlay2 >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  DK="/usr/bin/docker -H unix://$work/dockerd.sock"
  for _ in $(seq 300); do $DK version >/dev/null 2>&1 && break; sleep 0.1; done
  $DK import "$work/busybox.tar" busybox >/dev/null
  docker_id=$($DK run -d --network none busybox sleep 100000)
else
  echo "Debian's docker.io is not installed: docker exec left out" >&2
fi

names=("ours in-process" "ours via daemon" "runc exec")
cmds=("$DOCKER -H none -g $work/ours exec $ours_id /bin/true"
      "$OD exec $daemon_id /bin/true"
      "runc --root $work/runc exec bench /bin/true")
if [ -n "$DK" ]; then
  names+=("docker 20.10 exec")
  cmds+=("$DK exec $docker_id /bin/true")
fi
for i in "${!cmds[@]}"; do  # each works, and warms its caches
  for _ in 1 2 3; do ${cmds[$i]} >/dev/null || { echo "${names[$i]} failed" >&2; exit 1; }; done
done

echo "== exec CONTAINER /bin/true, $RUNS rounds; $(nproc) cores, $(uname -r)" >&2
: >"$work/times"
for r in $(seq "$RUNS"); do
  for i in "${!cmds[@]}"; do
    t0=$EPOCHREALTIME
    ${cmds[$i]} >/dev/null
    t1=$EPOCHREALTIME
    echo "$i $t0 $t1" >>"$work/times"
  done
done
python3 - "$work/times" "${names[@]}" <<'PY'
import statistics, sys
times, names = sys.argv[1], sys.argv[2:]
ms = {i: [] for i in range(len(names))}
for line in open(times):
    i, t0, t1 = line.split()
    ms[int(i)].append((float(t1) - float(t0)) * 1000)
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]
med = {i: statistics.median(v) for i, v in ms.items()}
print(f"{'':20} {'median':>9} {'p10':>9} {'p90':>9}   ratio to ours in-process / via daemon")
for i, n in enumerate(names):
    v = ms[i]
    print(f"{n:20} {med[i]:7.2f}ms {q(v, .1):7.2f}ms {q(v, .9):7.2f}ms"
          f"   {med[i] / med[0]:5.2f} / {med[i] / med[1]:5.2f}")
PY
