# Shell helpers the narrow benchmarks share (sourced: `. bench/lib.sh` from the repository
# root). Each names the folder it works in; none touches anything outside it.

# make_loopfs WORK MNT SIZE: a fresh ext4 in WORK/fs.img, SIZE as truncate takes it, mounted
# at MNT (inode tables and journal made now, not lazily while the benchmark runs).
make_loopfs() {
  mkdir -p "$2"
  truncate -s "$3" "$1/fs.img"
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$1/fs.img"
  mount -o loop "$1/fs.img" "$2"
}

# stop_dockerd PID WORK: stop a dockerd started with `--exec-root WORK/dexec`, and the
# containerd it started if it outlived it (found by its pid file).
stop_dockerd() {
  kill "$1"
  wait "$1" 2>/dev/null
  local cpid
  cpid=$(cat "$2/dexec/containerd/containerd.pid" 2>/dev/null)
  [ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
  return 0
}

# unmount_under WORK [KEEP]: lazily unmount every mount under WORK, deepest first, but KEEP.
unmount_under() {
  grep -o " $1[^ ]*" /proc/self/mounts | sort -r | while read -r m; do
    [ "$m" != "${2:-}" ] && umount -l "$m"
  done
  return 0
}
