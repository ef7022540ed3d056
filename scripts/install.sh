#!/usr/bin/env bash
# Install docker-runtime like a C library (VERSION from Cargo.toml, MAJOR its first number):
#   LIBDIR/libdocker_runtime.so.VERSION   SONAME libdocker_runtime.so.MAJOR, stripped
#   LIBDIR/libdocker_runtime.so.MAJOR -> libdocker_runtime.so.VERSION
#   LIBDIR/libdocker_runtime.so -> libdocker_runtime.so.MAJOR
#   LIBDIR/libdocker_runtime.a            debug info stripped
#   LIBDIR/pkgconfig/docker_runtime.pc    Libs.private from `rustc --print native-static-libs`
#   PREFIX/include/docker_runtime.h
#   LIBDIR/docker-runtime/{docker,docker-engine,docker-init}  and  PREFIX/bin/docker-runtime -> docker
# (the CLI is installed as `docker-runtime` so that another `docker` on PATH is left alone), and
# LIBDIR/docker-runtime/install-manifest, the list `--uninstall` removes.
#
#   bash scripts/install.sh [PREFIX]               install (PREFIX default /usr/local)
#   bash scripts/install.sh --uninstall [PREFIX]   remove what the install put there, and the
#                                                  folders it made when they are left empty
# Environment: PREFIX (the argument wins), LIBDIR (default PREFIX/lib), DESTDIR (a staging root
# prepended to every path written, never to the paths inside the installed files);
# DEBUG_INFO=1 keeps the debug info: NAME.debug files next to the library and the programs
# (found by gdb through their .gnu_debuglink) and an unstripped archive.
# Builds in release mode first unless NO_BUILD=1; PROFILE=debug installs a debug build;
# TARGET_DIR=DIR takes the built files from DIR (default target/PROFILE).
set -euo pipefail
cd "$(dirname "$0")/.."
UNINSTALL=0
if [ "${1:-}" = --uninstall ]; then
  UNINSTALL=1
  shift
fi
PREFIX=${1:-${PREFIX:-/usr/local}}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=$PREFIX/include
BINDIR=$PREFIX/bin
DESTDIR=${DESTDIR:-}
PKGDIR=$LIBDIR/docker-runtime
MANIFEST=$PKGDIR/install-manifest
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR=${VERSION%%.*}

refresh_ld_cache() {
  if [ "$(id -u)" = 0 ] && [ -z "$DESTDIR" ] && [ "$PREFIX" = /usr/local ] &&
    command -v ldconfig >/dev/null; then
    ldconfig
  fi
}

if [ "$UNINSTALL" = 1 ]; then
  [ -f "$DESTDIR$MANIFEST" ] ||
    { echo "install.sh: no $DESTDIR$MANIFEST: nothing installed there" >&2; exit 1; }
  mapfile -t entries < "$DESTDIR$MANIFEST"
  # Files first, then the folders the install made, deepest (last made) first.
  for e in "${entries[@]}"; do
    case "$e" in f\ *) rm -f "$DESTDIR${e#f }" ;; esac
  done
  for ((i = ${#entries[@]} - 1; i >= 0; i--)); do
    case "${entries[i]}" in
      d\ *) d=$DESTDIR${entries[i]#d }; if [ -d "$d" ]; then rmdir --ignore-fail-on-non-empty "$d"; fi ;;
    esac
  done
  refresh_ld_cache
  echo "uninstalled docker-runtime from $DESTDIR$PREFIX"
  exit 0
fi

PROFILE=${PROFILE:-release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  if [ "$PROFILE" = release ]; then cargo build --release; else cargo build; fi
fi
T=${TARGET_DIR:-${CARGO_TARGET_DIR:-target}/$PROFILE}

# What a program linking libdocker_runtime.a needs besides it, as rustc computes it: an empty
# staticlib crate linking the built rlib reports the native libraries of the whole crate graph
# (libseccomp, and the C runtime libraries std needs) without compiling the library again.
DEPS=$T/deps
[ -d "$DEPS" ] || DEPS=$T
RLIB=$T/libdocker_runtime.rlib
[ -f "$RLIB" ] || RLIB=$(ls -t "$DEPS"/libdocker_runtime*.rlib | head -n1)
PROBE=$(mktemp -d)
trap 'rm -rf "$PROBE"' EXIT
echo 'extern crate docker_runtime;' > "$PROBE/probe.rs"
LIBS_PRIVATE=$("${RUSTC:-rustc}" --edition 2021 --crate-type staticlib --crate-name probe \
  --print native-static-libs -L "dependency=$DEPS" --extern "docker_runtime=$RLIB" \
  -o "$PROBE/libprobe.a" "$PROBE/probe.rs" 2>&1 | sed -n 's/^note: native-static-libs: //p')
[ -n "$LIBS_PRIVATE" ] || { echo "install.sh: rustc did not report native-static-libs" >&2; exit 1; }

# A reinstall keeps what the earlier install recorded (the folders it made, an older version).
manifest=()
if [ -f "$DESTDIR$MANIFEST" ]; then mapfile -t manifest < "$DESTDIR$MANIFEST"; fi
# install -d DIR, recording in the manifest the folders (DIR and parents) that did not exist.
make_dir() {
  local d=$1 new=()
  while [ "$d" != / ] && [ -n "$d" ] && [ ! -d "$DESTDIR$d" ]; do
    new=("$d" "${new[@]}")
    d=$(dirname "$d")
  done
  install -d "$DESTDIR$1"
  for d in "${new[@]}"; do manifest+=("d $d"); done
}
# put MODE SRC DEST: install one file and record it.
put() {
  install -m "$1" "$2" "$DESTDIR$3"
  manifest+=("f $3")
}
# link TARGET NAME: a symbolic link, recorded.
link() {
  ln -sfn "$1" "$DESTDIR$2"
  manifest+=("f $2")
}
# put_elf SRC DEST: an executable or shared library, stripped; with DEBUG_INFO=1 its debug info
# goes to DEST.debug, named in DEST's .gnu_debuglink.
put_elf() {
  put 0755 "$1" "$2"
  if [ "${DEBUG_INFO:-0}" = 1 ]; then
    objcopy --only-keep-debug "$DESTDIR$2" "$DESTDIR$2.debug"
    chmod 0644 "$DESTDIR$2.debug"
    manifest+=("f $2.debug")
    strip --strip-unneeded "$DESTDIR$2"
    objcopy --add-gnu-debuglink="$DESTDIR$2.debug" "$DESTDIR$2"
  else
    strip --strip-unneeded "$DESTDIR$2"
  fi
}

make_dir "$LIBDIR/pkgconfig"
make_dir "$INCLUDEDIR"
make_dir "$PKGDIR"
put_elf "$T/libdocker_runtime.so" "$LIBDIR/libdocker_runtime.so.$VERSION"
link "libdocker_runtime.so.$VERSION" "$LIBDIR/libdocker_runtime.so.$MAJOR"
link "libdocker_runtime.so.$MAJOR" "$LIBDIR/libdocker_runtime.so"
put 0644 "$T/libdocker_runtime.a" "$LIBDIR/libdocker_runtime.a"
if [ "${DEBUG_INFO:-0}" != 1 ]; then strip --strip-debug "$DESTDIR$LIBDIR/libdocker_runtime.a"; fi
put 0644 include/docker_runtime.h "$INCLUDEDIR/docker_runtime.h"
for b in docker docker-engine docker-init; do
  if [ -f "$T/$b" ]; then put_elf "$T/$b" "$PKGDIR/$b"; fi
done
if [ -f "$T/docker" ]; then
  make_dir "$BINDIR"
  link "$PKGDIR/docker" "$BINDIR/docker-runtime"
fi
# The .pc file names the final paths (without DESTDIR), relative to ${prefix} when under it.
rel() { case "$1" in "$PREFIX"/*) echo "\${prefix}${1#"$PREFIX"}" ;; *) echo "$1" ;; esac; }
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@LIBDIR@|$(rel "$LIBDIR")|" \
  -e "s|@INCLUDEDIR@|$(rel "$INCLUDEDIR")|" -e "s|@VERSION@|$VERSION|" \
  -e "s|@LIBS_PRIVATE@|$LIBS_PRIVATE|" docker_runtime.pc.in > "$PROBE/docker_runtime.pc"
put 0644 "$PROBE/docker_runtime.pc" "$LIBDIR/pkgconfig/docker_runtime.pc"
manifest+=("f $MANIFEST")
printf '%s\n' "${manifest[@]}" | awk '!seen[$0]++' > "$DESTDIR$MANIFEST"
chmod 0644 "$DESTDIR$MANIFEST"
refresh_ld_cache
echo "installed docker-runtime $VERSION under $DESTDIR$PREFIX"
