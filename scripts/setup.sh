#!/usr/bin/env bash
# Install the system packages the build, the tests and the demo need (Debian; run as root).
set -euo pipefail
# docker-registry, skopeo, apache2-utils (htpasswd) and openssl: the registry tests and benchmark
# (skopeo also the save/load interop test and benchmark).
# libseccomp-dev: the seccomp filter compiler the library links.
# python3-venv, -pip, -setuptools, -wheel: the Python package's install test builds it offline
# (`pip install --no-build-isolation --no-index`) in a venv of Debian's python3; python3-mypy
# checks its type hints (--strict). containerd: the OCI runtime command's test drives it, and
# the save/load test imports a saved image into it (each
# test starts its own containerd; the package's service must not start: see policy-rc.d below).
# docker.io: Debian's docker 20.10, whose `load` and `save` the save/load test exchanges images
# with (the test starts its own dockerd on its own roots and socket; the service must not start).
PKGS=(build-essential pkg-config libseccomp-dev python3 python3-venv python3-pip python3-setuptools
  python3-wheel python3-mypy valgrind iptables iproute2 busybox-static util-linux time curl
  docker-registry skopeo apache2-utils openssl containerd docker.io)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # No package's service may start on the host (containerd's, docker-registry's): a
  # policy-rc.d refusing every start, for the install, when there is none.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
command -v cargo >/dev/null || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
