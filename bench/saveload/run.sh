#!/usr/bin/env bash
# save/load benchmark: `docker save` and `docker load` of a ~100 MB, 3-layer image, side by
# side with `skopeo copy` doing the nearest work. Run as root from anywhere:
#
#     bash bench/saveload/run.sh            # RUNS=5 by default
#
# It builds the release `docker`, makes the image as an OCI layout (3 uncompressed layers:
# small files, a large incompressible file, a large text file), turns it into a
# docker-archive with skopeo and loads that into a root. Then, alternately, RUNS times:
#   save:  `docker -g ROOT save -o OUT.tar bench:v1` (pack every layer from its unpacked
#          files, hash it, write the archive)
#     vs   `skopeo copy oci:DIR:v1 docker-archive:SK.tar:bench:v1` (the layers are stored
#          tars already: copy and hash them into an archive);
#   load:  `docker -g EMPTYROOT load -i OUT.tar` (stage the archive, verify and unpack every
#          layer into the graph)
#     vs   `skopeo copy docker-archive:OUT.tar oci:DIR2:v1` (read, verify and store the
#          blobs; skopeo does not unpack, so it does less than a load).
# With Debian's docker 20.10 installed (docker.io), also its `docker save -o` of the same image
# and its `docker load -i OUT.tar` after an `rmi` (a full unpack), on a dockerd of the
# benchmark's own (overlay2 on the same ext4, its own exec root and socket, no bridge, no
# iptables), stopped at the end.
# Everything lives on a fresh loop-mounted ext4 (the root disk of these machines slows down
# for minutes after large deletions). Prints each run, the medians and the ratios (peer
# time / our time: >= 1 means we are faster), and removes everything it made. Not run by the
# tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "run as root (mount, loop device)" >&2; exit 1; }

command -v skopeo >/dev/null || bash scripts/setup.sh >&2
cargo build --release --bin docker >&2
DOCKER=$PWD/target/release/docker

work=$(mktemp -d /var/tmp/dr-bench-saveload.XXXXXX)
# No daemon: every command runs in-process on its -g root.
export DOCKER_HOST=unix://$work/no-daemon.sock
mnt=$work/ext4
dockerd_pid=
cleanup() {
  set +e
  if [ -n "$dockerd_pid" ]; then
    stop_dockerd "$dockerd_pid" "$work"
    unmount_under "$work" "$mnt"
  fi
  mountpoint -q "$mnt" && umount "$mnt"
  rm -rf "$work"
}
trap cleanup EXIT
make_loopfs "$work" "$mnt" 8G

echo "generating the image..." >&2
python3 - "$mnt/src" <<'PY'
import hashlib, io, json, os, random, sys, tarfile
random.seed(20130320)
out = sys.argv[1]
os.makedirs(os.path.join(out, "blobs", "sha256"))
pool = os.urandom(16 << 20)
words = [("".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(random.randint(2, 9)))).encode() for _ in range(5000)]
def text(n):
    parts, size = [], 0
    while size < n:
        w = random.choice(words)
        parts.append(w)
        size += len(w) + 1
    return b" ".join(parts)[:n]
def data(n):
    if random.random() < 0.5:
        off = random.randrange(0, len(pool) - n)
        return pool[off:off + n]
    return text(n)
def blob(b):
    d = hashlib.sha256(b).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(b)
    return "sha256:" + d, len(b)
layers, diff_ids, total = [], [], 0
for l in range(3):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, content, mode=0o644):
            global total
            ti = tarfile.TarInfo(name); ti.size = len(content); ti.mode = mode; ti.mtime = 1600000000
            t.addfile(ti, io.BytesIO(content)); total += len(content)
        for d in range(5):
            di = tarfile.TarInfo("layer%d/dir%02d" % (l, d)); di.type = tarfile.DIRTYPE; di.mode = 0o755; di.mtime = 1600000000
            t.addfile(di)
            for f in range(100):
                add("layer%d/dir%02d/f%03d" % (l, d, f), data(min(int(random.lognormvariate(8.5, 1.2)), 256 << 10)))
        add("layer%d/large.bin" % l, pool[l << 20:(l + 12) << 20])
        add("layer%d/large.txt" % l, text(12 << 20))
    raw = buf.getvalue()
    digest, size = blob(raw)
    diff_ids.append(digest)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids},
                  "created": "2026-01-01T00:00:00Z"}).encode()
cd, cs = blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": layers}).encode()
md, ms = blob(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
          open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
print("image: 3 layers, %.0f MB of file data, %.0f MB of layer tars" %
      (total / 1e6, sum(l["size"] for l in layers) / 1e6), file=sys.stderr)
PY
skopeo --insecure-policy copy -q "oci:$mnt/src:v1" "docker-archive:$mnt/in.tar:bench:v1" >&2
"$DOCKER" -g "$mnt/root" load -q -i "$mnt/in.tar" >&2

# Debian's docker 20.10, when installed: a dockerd of our own, with the image loaded.
DK=
if [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ]; then
  /usr/sbin/dockerd --data-root "$mnt/dockerd" --exec-root "$work/dexec" \
    --pidfile "$work/dockerd.pid" -H "unix://$work/dockerd.sock" --bridge=none \
    --iptables=false --ip-masq=false --storage-driver=overlay2 >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  DK="/usr/bin/docker -H unix://$work/dockerd.sock"
  for _ in $(seq 300); do $DK version >/dev/null 2>&1 && break; sleep 0.1; done
  $DK version >/dev/null 2>&1 || { echo "dockerd did not start: $(tail -5 "$work/dockerd.log")" >&2; exit 1; }
  $DK load -q -i "$mnt/in.tar" >&2
else
  echo "Debian's docker.io is not installed: docker save/load left out" >&2
fi

now() { date +%s.%N; }
# timed NAME CMD...: run CMD (output discarded), print NAME and the seconds it took.
timed() {
  local name=$1; shift
  sync
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  t1=$(now)
  python3 -c "print('%s %.3f' % ('$name', $t1 - $t0))"
}

results=$work/results
: > "$results"
for i in $(seq "$RUNS"); do
  rm -rf "$mnt/out.tar" "$mnt/sk.tar" "$mnt/dk.tar" "$mnt/empty" "$mnt/oci2"
  timed save_ours "$DOCKER" -g "$mnt/root" save -o "$mnt/out.tar" bench:v1 | tee -a "$results"
  timed save_skopeo skopeo --insecure-policy copy -q "oci:$mnt/src:v1" \
    "docker-archive:$mnt/sk.tar:bench:v1" | tee -a "$results"
  timed load_ours "$DOCKER" -g "$mnt/empty" load -q -i "$mnt/out.tar" | tee -a "$results"
  timed load_skopeo skopeo --insecure-policy copy -q "docker-archive:$mnt/out.tar" \
    "oci:$mnt/oci2:v1" | tee -a "$results"
  if [ -n "$DK" ]; then
    timed save_docker $DK save -o "$mnt/dk.tar" bench:v1 | tee -a "$results"
    $DK rmi bench:v1 >/dev/null
    timed load_docker $DK load -q -i "$mnt/out.tar" | tee -a "$results"
  fi
done

python3 - "$results" "$(stat -c %s "$mnt/out.tar")" <<'PY'
import statistics, sys
SIZE = int(sys.argv[2]) / 1e6
r = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    r.setdefault(k, []).append(float(v))
m = {k: statistics.median(v) for k, v in r.items()}
n = len(r["save_ours"])
for op, peer, what in (("save", "skopeo", "skopeo copy oci: -> docker-archive: (copies stored tars; ours packs from files)"),
                       ("load", "skopeo", "skopeo copy docker-archive: -> oci: (stores blobs; ours also unpacks)"),
                       ("save", "docker", "docker 20.10 save -o (overlay2)"),
                       ("load", "docker", "docker 20.10 load -i of our archive after rmi (overlay2: unpacks)")):
    if op + "_" + peer not in m:
        continue
    ours, base = m[op + "_ours"], m[op + "_" + peer]
    print("%s: ours %.2f s (%.0f MB/s of archive), %s %.2f s; ratio %.2f   [%s]"
          % (op, ours, SIZE / ours, peer, base, base / ours, what))
print("archive %.0f MB; medians of %d runs; ratio = peer time / our time (>= 1: we are faster)" % (SIZE, n))
PY
