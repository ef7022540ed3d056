#!/usr/bin/env bash
# The typed C API against the command dispatch (bench/typed/typed_bench.c says what is
# measured). Builds the release library and the program, runs it on a fresh root, removes it.
#   bash bench/typed/run.sh [N]      (N runs per run figure, default 50)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-50}
cargo build --release --lib --bins -q
work=$(mktemp -d /tmp/drbench-typed.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash contrib/mkimage-busybox.sh "$work/busybox.tar"
ln -s "$PWD/target/release/libdocker_runtime.so" "$work/libdocker_runtime.so.0"
cc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -Iinclude -o "$work/typed_bench" \
  bench/typed/typed_bench.c -Ltarget/release -Wl,-rpath,"$work" -ldocker_runtime
"$work/typed_bench" "$work/root" "$PWD/target/release/docker-init" "$work/busybox.tar" "$n"
