#!/usr/bin/env bash
# Every test, from a fresh machine: system packages, format and lint checks, the build, the
# Rust unit and integration tests (which also build and run the C examples under valgrind and
# the Python ctypes tests), and a check that the committed C header is current. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo build --all-targets
if git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code -- include/docker_runtime.h ||
    { echo "include/docker_runtime.h is not the committed one: commit the regenerated header" >&2; exit 1; }
fi
cargo test -- --test-threads="${TEST_THREADS:-4}"
echo "all tests passed"
