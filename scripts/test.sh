#!/usr/bin/env bash
# Every test, from a fresh machine: system packages, format and lint checks, the build, a check
# that the committed C header is the generated one, and the Rust unit and integration tests
# (which also build and run the C examples under valgrind and the Python ctypes tests, and
# install the library into a temporary prefix). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo build --all-targets
bash scripts/header.sh --check
cargo test -- --test-threads="${TEST_THREADS:-4}"
echo "all tests passed"
