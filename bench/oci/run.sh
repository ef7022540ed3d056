#!/usr/bin/env bash
# docker-runtime-oci next to crun and runc on the same bundle: `RUNTIME run --bundle B ID`
# (create, start, wait, delete) of /bin/true, alternating, N rounds (default 100); medians and
# ratios printed as a markdown table. Builds the release binaries; removes what it made.
#   bash bench/oci/run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100}
cargo build --release --bins -q
work=$(mktemp -d /tmp/drbench-oci.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 bench/oci/bench.py "$work" "$PWD/target/release/docker-runtime-oci" "$n"
