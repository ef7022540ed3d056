#!/usr/bin/env bash
# Install the system packages the build, the tests and the demo need (Debian; run as root).
set -euo pipefail
# docker-registry, skopeo, apache2-utils (htpasswd) and openssl: the registry tests and benchmark.
# libseccomp-dev: the seccomp filter compiler the library links.
# python3-venv, -pip, -setuptools, -wheel: the Python package's install test builds it offline
# (`pip install --no-build-isolation --no-index`) in a venv of Debian's python3; python3-mypy
# checks its type hints (--strict).
PKGS=(build-essential pkg-config libseccomp-dev python3 python3-venv python3-pip python3-setuptools
  python3-wheel python3-mypy valgrind iptables iproute2 busybox-static util-linux time curl
  docker-registry skopeo apache2-utils openssl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
