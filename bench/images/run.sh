#!/usr/bin/env bash
# Image import/export benchmark, side by side with GNU tar, on a fresh loop-mounted ext4 (the
# root disk of these machines slows down for minutes after large deletions, which would
# distort the comparison). Run as root from anywhere:
#
#     bash bench/images/run.sh            # RUNS=5 by default
#
# It builds the release binaries, makes a ~300 MB tarball of many small files and some large
# ones (bench/images/dataset.py, in a tmpfs, so reading it costs the same for both), then
# alternately:
#   - `docker -g ROOT import - < tarball`  vs  `tar -xf tarball` into an empty directory;
#   - export's packer (`image-pack DIR`, pack_dir)  vs  `tar -cf - DIR`, both into a tmpfs file;
# prints each run, the medians and the ratios (tar time / our time: >= 1 means we are faster),
# the peak memory of import for the full tarball and for a tenth of it (it must not grow with
# the size), and removes everything it made. `bash bench/run.sh --only fs` measures the same
# figures (the `export` command itself, commit too) next to tar and Debian's docker.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "run as root (mount, loop device)" >&2; exit 1; }

bash scripts/setup.sh >&2
cargo build --release --bin docker --example image-pack >&2
DOCKER=$PWD/target/release/docker
PACK=$PWD/target/release/examples/image-pack

work=$(mktemp -d /var/tmp/dr-bench-images.XXXXXX)
# Run every docker command in-process on our root, never on a daemon that may be running.
export DOCKER_HOST=unix://$work/no-daemon.sock
mnt=$work/ext4
shm=$work/shm
cleanup() {
  set +e
  mountpoint -q "$mnt" && umount "$mnt"
  mountpoint -q "$shm" && umount "$shm"
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$shm"
mount -t tmpfs -o size=2g tmpfs "$shm"
make_loopfs "$work" "$mnt" 12G

echo "generating the tarball..." >&2
python3 bench/images/dataset.py "$shm/src"
tar --numeric-owner -C "$shm/src" -cf "$shm/full.tar" .
tar --numeric-owner -C "$shm/src" -cf "$shm/tenth.tar" ./usr0{0..5}
rm -rf "$shm/src"
size_mb=$(( $(stat -c %s "$shm/full.tar") / 1000000 ))
echo "tarball: $size_mb MB, $(tar -tf "$shm/full.tar" | wc -l) entries" >&2

# timed CMD...: run with stdin from $IN (or /dev/null), stdout to $OUT (or /dev/null); prints
# "WALL_SECONDS CPU_SECONDS MAXRSS_KIB". The peak memory comes from GNU time, whose own
# image is small (a Python parent's would be counted into a forked child's peak).
timed() {
  python3 - "$@" <<'PY'
import os, sys, time, subprocess, tempfile
stdin = open(os.environ.get("IN", "/dev/null"), "rb")
stdout = open(os.environ.get("OUT", "/dev/null"), "wb")
with tempfile.NamedTemporaryFile() as rss:
    t = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss.name] + sys.argv[1:],
                         stdin=stdin, stdout=stdout)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t
    if status != 0:
        sys.exit("command failed: %s" % " ".join(sys.argv[1:]))
    peak = int(open(rss.name).read().split()[-1])
print("%.3f %.3f %d" % (dt, ru.ru_utime + ru.ru_stime, peak))
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Every run starts from the same state: the previous run's output is removed (untimed) and
# synced, so neither side pays for the other's writeback or a fuller file system.
settle() { rm -rf "$mnt/out"; sync; }

# The tree that export and tar -cf both pack.
mkdir "$mnt/tree"
tar -C "$mnt/tree" -xf "$shm/full.tar"
sync

declare -a w_import w_tar w_export w_tarc c_import c_tar c_export c_tarc
one() { # one KIND: run and record one measurement
  local r
  case $1 in
    import) settle; r=$(IN=$shm/full.tar timed "$DOCKER" -g "$mnt/out" import - bench) ;;
    tar) settle; mkdir "$mnt/out"; r=$(IN=$shm/full.tar timed tar -C "$mnt/out" -xf -) ;;
    export) r=$(OUT=$shm/out.tar timed "$PACK" "$mnt/tree"); rm -f "$shm/out.tar" ;;
    tarc) r=$(OUT=$shm/out.tar timed tar -C "$mnt/tree" -cf - .); rm -f "$shm/out.tar" ;;
  esac
  read -r wall cpu rss <<<"$r"
  eval "w_$1+=($wall); c_$1+=($cpu)"
  printf 'run %d: %-7s %6.3f s wall %6.3f s cpu  peak %6d KiB\n' "$i" "$1" "$wall" "$cpu" "$rss" >&2
}
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then one tar; one import; else one import; one tar; fi
  if [ $((i % 2)) = 1 ]; then one tarc; one export; else one export; one tarc; fi
done

settle
rss_full=$(IN=$shm/full.tar timed "$DOCKER" -g "$mnt/out" import - bench | cut -d' ' -f3)
settle
rss_tenth=$(IN=$shm/tenth.tar timed "$DOCKER" -g "$mnt/out" import - bench | cut -d' ' -f3)
settle

med() { local -n arr=$1; printf '%s\n' "${arr[@]}" | median; }
echo
echo "images benchmark: $size_mb MB tarball, $RUNS runs each, medians, fresh loop ext4 ($(uname -r))"
awk -v a="$(med w_import)" -v b="$(med w_tar)" -v ca="$(med c_import)" -v cb="$(med c_tar)" -v s="$size_mb" 'BEGIN {
  printf "import %6.3f s (%4.0f MB/s)  tar -xf %6.3f s (%4.0f MB/s)  throughput import/tar = %.2f  (cpu %.3f s vs %.3f s)\n", a, s/a, b, s/b, b/a, ca, cb }'
awk -v a="$(med w_export)" -v b="$(med w_tarc)" -v ca="$(med c_export)" -v cb="$(med c_tarc)" -v s="$size_mb" 'BEGIN {
  printf "export %6.3f s (%4.0f MB/s)  tar -cf %6.3f s (%4.0f MB/s)  throughput export/tar = %.2f  (cpu %.3f s vs %.3f s)\n", a, s/a, b, s/b, b/a, ca, cb }'
echo "import peak memory: $rss_full KiB for the whole tarball, $rss_tenth KiB for a tenth of it"
