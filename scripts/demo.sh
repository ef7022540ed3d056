#!/usr/bin/env bash
# The main job on a fresh machine: install what is needed, build, and run the C example
# against a runtime root in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
make -s -C c-examples PROFILE=release
root=$(mktemp -d /tmp/docker-runtime-demo.XXXXXX)
trap 'rm -rf "$root"' EXIT
c-examples/build/runtime_demo "$root/root"
