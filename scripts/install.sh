#!/usr/bin/env bash
# Install the library, its header, a pkg-config file and the programs under PREFIX
# (default /usr/local):
#   PREFIX/lib/libdocker_runtime.{so,a}   PREFIX/include/docker_runtime.h
#   PREFIX/lib/pkgconfig/docker_runtime.pc
#   PREFIX/lib/docker-runtime/{docker,docker-init}  and  PREFIX/bin/docker-runtime -> docker
# (the CLI is installed as `docker-runtime` so that another `docker` on PATH is left alone).
# Builds in release mode first unless NO_BUILD=1; PROFILE=debug installs a debug build;
# TARGET_DIR=DIR takes the built files from DIR (default target/PROFILE).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${1:-/usr/local}
PROFILE=${PROFILE:-release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  if [ "$PROFILE" = release ]; then cargo build --release; else cargo build; fi
fi
T=${TARGET_DIR:-${CARGO_TARGET_DIR:-target}/$PROFILE}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
install -d "$PREFIX/lib/pkgconfig" "$PREFIX/include" "$PREFIX/bin" "$PREFIX/lib/docker-runtime"
install -m 0755 "$T/libdocker_runtime.so" "$PREFIX/lib/"
install -m 0644 "$T/libdocker_runtime.a" "$PREFIX/lib/"
install -m 0644 include/docker_runtime.h "$PREFIX/include/"
for b in docker docker-init; do
  if [ -f "$T/$b" ]; then install -m 0755 "$T/$b" "$PREFIX/lib/docker-runtime/"; fi
done
ln -sfn "$PREFIX/lib/docker-runtime/docker" "$PREFIX/bin/docker-runtime"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$VERSION|" docker_runtime.pc.in \
  > "$PREFIX/lib/pkgconfig/docker_runtime.pc"
if [ "$(id -u)" = 0 ] && [ "$PREFIX" = /usr/local ] && command -v ldconfig >/dev/null; then
  ldconfig
fi
echo "installed docker-runtime $VERSION under $PREFIX"
