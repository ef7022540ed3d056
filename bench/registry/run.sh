#!/usr/bin/env bash
# Registry benchmark: pull and push of a ~300 MB, 5-layer image over loopback, side by side
# with `skopeo copy` between the same registry and an OCI directory. Run as root from anywhere:
#
#     bash bench/registry/run.sh            # RUNS=5 by default
#
# It builds the release `docker`, starts Debian's docker-registry on a free 127.0.0.1 port with
# its storage in a tmpfs, makes the image as an OCI layout (5 gzip layers of ~60 MB each:
# small files, a large incompressible file, a large text file) and copies it into the registry
# with skopeo. Then, alternately, RUNS times:
#   pull:  `docker -g ROOT pull REG/bench:v1` into an empty root (download, verify, unpack)
#     vs   `skopeo copy docker://REG/bench:v1 oci:DIR:v1` into an empty directory;
#   push:  `docker -g ROOT push PUSHREG/bench:v1` of the pulled image (uploads the blobs kept
#          at pull time, as they came)
#     vs   `skopeo copy oci:DIR:v1 docker://PUSHREG/skopeo:v1` (upload the stored blobs);
#   push of the same image with its kept blobs removed, as for an image made here (commit):
#          `docker push PUSHREG/packed:v1` (pack, gzip, upload every layer)
#     vs   skopeo copy of the same image with uncompressed layers, gzip level 1 (the same work:
#          compress and upload), PUSHREG being a registry started empty for that run.
# Roots and OCI directories live on a fresh loop-mounted ext4 (the root disk of these machines
# slows down for minutes after large deletions). Prints each run, the medians and the ratios
# (skopeo time / our time: >= 1 means we are faster), and removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "run as root (mount, loop device)" >&2; exit 1; }

bash scripts/setup.sh >&2
cargo build --release --bin docker >&2
DOCKER=$PWD/target/release/docker

work=$(mktemp -d /var/tmp/dr-bench-registry.XXXXXX)
export DOCKER_HOST=unix://$work/no-daemon.sock
mnt=$work/ext4
shm=$work/shm
regpids=
cleanup() {
  set +e
  for p in $regpids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  mountpoint -q "$mnt" && umount "$mnt"
  mountpoint -q "$shm" && umount "$shm"
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$shm"
mount -t tmpfs -o size=6g tmpfs "$shm"
make_loopfs "$work" "$mnt" 16G

# start_registry NAME: a registry on a free port with its storage in the tmpfs; sets REG
# (host:port) and adds its pid to regpids.
start_registry() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  REG=127.0.0.1:$port
  cat > "$work/$1.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $shm/$1
http:
  addr: $REG
  secret: bench
YML
  docker-registry serve "$work/$1.yml" >"$work/$1.log" 2>&1 &
  regpids="$regpids $!"
  for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://$REG/v2/')" 2>/dev/null && return
    sleep 0.1
  done
  echo "docker-registry did not start: $(cat "$work/$1.log")" >&2
  exit 1
}
# stop_registry NAME PID: stop one push registry and drop its storage.
stop_registry() {
  kill "$2" && wait "$2" 2>/dev/null || true
  rm -rf "${shm:?}/$1"
}
start_registry source
SRC=$REG

echo "generating the image..." >&2
python3 - "$mnt/src" "$mnt/plain" <<'PY'
import gzip, hashlib, json, os, random, sys, tarfile, io, time
random.seed(20130320)
out, plain_out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "blobs", "sha256"))
os.makedirs(os.path.join(plain_out, "blobs", "sha256"))
pool = os.urandom(32 << 20)
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
def blob(b, where=None):
    d = hashlib.sha256(b).hexdigest()
    with open(os.path.join(where or out, "blobs", "sha256", d), "wb") as f:
        f.write(b)
    return "sha256:" + d, len(b)
layers, plain_layers, diff_ids, total = [], [], [], 0
for l in range(5):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, content, mode=0o644):
            global total
            ti = tarfile.TarInfo(name); ti.size = len(content); ti.mode = mode; ti.mtime = 1600000000
            t.addfile(ti, io.BytesIO(content)); total += len(content)
        for d in range(10):
            di = tarfile.TarInfo("layer%d/dir%02d" % (l, d)); di.type = tarfile.DIRTYPE; di.mode = 0o755; di.mtime = 1600000000
            t.addfile(di)
            for f in range(150):
                add("layer%d/dir%02d/f%03d" % (l, d, f), data(min(int(random.lognormvariate(8.5, 1.2)), 512 << 10)))
        add("layer%d/large.bin" % l, pool[l << 20:(l + 22) << 20])
        add("layer%d/large.txt" % l, text(22 << 20))
    raw = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    digest, size = blob(gzip.compress(raw, compresslevel=6, mtime=0))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
    digest, size = blob(raw, plain_out)
    plain_layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids},
                  "created": "2026-01-01T00:00:00Z"}).encode()
def layout(where, layers):
    cd, cs = blob(cfg, where)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                      "layers": layers}).encode()
    md, ms = blob(man, where)
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
              open(os.path.join(where, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(where, "oci-layout"), "w"))
layout(out, layers)
layout(plain_out, plain_layers)
print("image: 5 layers, %.0f MB of file data, %.0f MB compressed" %
      (total / 1e6, sum(l["size"] for l in layers) / 1e6), file=sys.stderr)
PY
skopeo copy -q --dest-tls-verify=false "oci:$mnt/src:v1" "docker://$SRC/bench:v1" >&2

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
  rm -rf "$mnt/root" "$mnt/oci"
  timed pull_ours "$DOCKER" -g "$mnt/root" pull "$SRC/bench:v1" | tee -a "$results"
  timed pull_skopeo skopeo copy -q --src-tls-verify=false "docker://$SRC/bench:v1" "oci:$mnt/oci:v1" | tee -a "$results"
  # Pushes go to a registry of their own, new each run and empty: every blob is uploaded
  # (skopeo's blob cache cannot mount them from the source registry).
  start_registry "push$i"
  pid=${regpids##* }
  "$DOCKER" -g "$mnt/root" tag "$SRC/bench:v1" "$REG/bench" v1 >/dev/null 2>&1
  timed push_ours "$DOCKER" -g "$mnt/root" push "$REG/bench:v1" | tee -a "$results"
  rm -f "$mnt"/root/graph/*/layer.blob
  "$DOCKER" -g "$mnt/root" tag "$SRC/bench:v1" "$REG/packed" v1 >/dev/null 2>&1
  timed push_packed_ours "$DOCKER" -g "$mnt/root" push "$REG/packed:v1" | tee -a "$results"
  timed push_skopeo skopeo copy -q --dest-tls-verify=false "oci:$mnt/oci:v1" "docker://$REG/skopeo:v1" | tee -a "$results"
  timed push_skopeo_gzip1 skopeo copy -q --dest-tls-verify=false --dest-compress-format gzip \
    --dest-compress-level 1 "oci:$mnt/plain:v1" "docker://$REG/skopeo-gzip:v1" | tee -a "$results"
  stop_registry "push$i" "$pid"
  regpids=${regpids% *}
done

python3 - "$results" "$(du -sb "$mnt/plain/blobs" | cut -f1)" <<'PY'
import statistics, sys
SIZE = int(sys.argv[2]) / 1e6
r = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    r.setdefault(k, []).append(float(v))
m = {k: statistics.median(v) for k, v in r.items()}
n = len(r["pull_ours"])
for op, base, what in (("pull", "pull_skopeo", "skopeo copy docker:// -> oci: (stores the blobs)"),
                       ("push", "push_skopeo", "skopeo copy oci: -> docker:// (uploads the stored gzip blobs; ours: the blobs kept at pull)"),
                       ("push_packed", "push_skopeo_gzip1", "skopeo copy of uncompressed layers, gzip level 1 (packs like us; ours: no kept blobs)")):
    print("%s: ours %.2f s (%.0f MB/s of layer data), %s %.2f s; ratio %.2f   [%s]"
          % (op, m[op + "_ours"], SIZE / m[op + "_ours"], base, m[base], m[base] / m[op + "_ours"], what))
print("medians of %d runs; ratio = baseline time / our time (>= 1: we are faster)" % n)
PY
