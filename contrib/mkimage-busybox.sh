#!/usr/bin/env bash
# Build a minimal busybox root file system from the host's static busybox (Debian package
# busybox-static) and write it as a tarball to FILE, or to stdout when FILE is - or absent:
#
#     contrib/mkimage-busybox.sh | docker import - busybox
#
# The image holds /bin/busybox with a symlink per applet (/bin/sh, /bin/ls, ...), /etc/passwd
# and /etc/group with root and nobody, empty /etc/hosts /etc/resolv.conf /etc/hostname (for
# the runtime to fill or bind-mount), and empty /proc /sys /dev /tmp (1777) /root. Everything
# is owned by root; the archive is sorted by name, so the same busybox gives the same tarball.
# Needs no network. BUSYBOX=/path/to/busybox picks another static busybox.
set -euo pipefail

out=${1:--}
busybox=${BUSYBOX:-$(command -v busybox || true)}
if [ -z "$busybox" ] || [ ! -x "$busybox" ]; then
  echo "mkimage-busybox: no busybox found: install busybox-static (apt-get install busybox-static)" >&2
  exit 1
fi
# A dynamically linked busybox would need the host's libraries inside the image.
if ldd "$busybox" >/dev/null 2>&1; then
  echo "mkimage-busybox: $busybox is dynamically linked: install busybox-static" >&2
  exit 1
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/mkimage-busybox.XXXXXX")
trap 'rm -rf "$root"' EXIT
umask 022
chmod 0755 "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list-full); do
  case "$applet" in bin/busybox) continue ;; esac
  mkdir -p "$root/$(dirname "$applet")"
  ln -s /bin/busybox "$root/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
: > "$root/etc/resolv.conf"
: > "$root/etc/hostname"

mtime=$(stat -c %Y "$busybox")
tar_args=(--numeric-owner --owner=0 --group=0 --sort=name --mtime="@$mtime" -C "$root" -c .)
if [ "$out" = - ]; then
  tar "${tar_args[@]}"
else
  tar "${tar_args[@]}" -f "$out"
fi
