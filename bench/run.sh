#!/usr/bin/env bash
# The benchmarks, in one command (as root, from anywhere):
#
#     bash bench/run.sh                     # every figure (about 20 minutes); rewrites BENCHMARKS.md
#     bash bench/run.sh --smoke             # tiny sizes (under 2 minutes); prints the tables only
#     bash bench/run.sh --only run,daemon   # some figures: alloc restore run ctr daemon memory fs netsetup
#     bash bench/run.sh --smoke --out FILE  # also write the report to FILE
#
# It installs the peers from Debian (crun, runc, docker.io, containerd, hyperfine) and the tools the harness
# uses, builds the release binaries and the bench programs, then runs bench/harness.py, which
# measures each figure side by side with its peer and removes everything it made. If the
# harness itself is killed, the trap below undoes its journal. The "ours ABI" figures run the
# library as a long-lived embedding program would: `warm_start` on (bench/abi_run.py
# --warm-start), one docker-init helper and its cgroup folders prepared ahead of each start.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench: run as root (mounts, bridges, iptables, containers)" >&2; exit 1; }

partial=0
for a in "$@"; do
  case $a in
    --smoke|--only|--only=*|--out|--out=*) partial=1 ;;
  esac
done

# Peers and tools, from Debian. docker.io's maintainer scripts must not start a system dockerd
# (it would take the host's default bridge and iptables): a policy-rc.d refusing every start
# is put in place for the install when none exists.
need=()
for pair in crun:crun runc:runc dockerd:docker.io containerd:containerd hyperfine:hyperfine busybox:busybox-static \
    iptables:iptables ip:iproute2 mkfs.ext4:e2fsprogs python3:python3 /usr/bin/time:time \
    tar:tar cc:gcc; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# The library links libseccomp.
[ -e /usr/include/seccomp.h ] || need+=(libseccomp-dev)
# busybox-static specifically (a dynamic busybox cannot run inside the image).
if command -v busybox >/dev/null && ldd "$(command -v busybox)" >/dev/null 2>&1; then
  need+=(busybox-static)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
command -v cargo >/dev/null || { echo "bench: cargo is needed (rustup.rs)" >&2; exit 1; }

echo "bench: building (release)" >&2
cargo build --release --lib --bins --example image-pack -q
bench_exe() {
  cargo bench --bench "$1" --no-run --message-format=json -q 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1"
}
figures=$(bench_exe figures)
netbench=$(bench_exe network)
[ -x "$figures" ] && [ -x "$netbench" ] || { echo "bench: building the bench programs failed" >&2; exit 1; }

journal=$(mktemp /tmp/drbench-journal.XXXXXX)
trap 'python3 bench/harness.py cleanup "$journal" || true' EXIT
args=(--journal "$journal" --figures-bin "$figures" --netbench-bin "$netbench"
  --pack-bin "$PWD/target/release/examples/image-pack")
# A full run rewrites BENCHMARKS.md; a smoke or partial one only prints (or writes --out).
[ "$partial" = 0 ] && args+=(--out BENCHMARKS.md)
python3 bench/harness.py "${args[@]}" "$@"
# Printed, not written to BENCHMARKS.md: the typed C API against the command dispatch.
if [ "$partial" = 0 ]; then
  bash bench/typed/run.sh
fi
