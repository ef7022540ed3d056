"""docker-runtime-oci, crun and runc running /bin/true from one busybox bundle (see run.sh)."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

work, ours, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
bundle = os.path.join(work, "bundle")
rootfs = os.path.join(bundle, "rootfs")
for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
    os.makedirs(os.path.join(rootfs, d), exist_ok=True)
shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
os.symlink("busybox", os.path.join(rootfs, "bin/true"))
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
mount = lambda dst, typ: {"destination": dst, "type": typ, "source": typ}
config = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
                "env": ["PATH=/bin"], "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": True},
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "bench",
    "mounts": [mount("/proc", "proc"), mount("/sys", "sysfs"), mount("/dev", "tmpfs"),
               mount("/dev/pts", "devpts"), mount("/dev/shm", "tmpfs"),
               mount("/dev/mqueue", "mqueue")],
    "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network")],
              "maskedPaths": ["/proc/kcore", "/proc/keys"],
              "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]},
}
with open(os.path.join(bundle, "config.json"), "w") as f:
    json.dump(config, f)

runtimes = {"docker-runtime-oci": ours}
for name in ("crun", "runc"):
    path = shutil.which(name)
    if path:
        runtimes[name] = path
times = {name: [] for name in runtimes}


def run(name, i):
    state = os.path.join(work, "state-" + name)
    cmd = [runtimes[name], "--root", state, "run", "--bundle", bundle, f"b{i}"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1000


names = list(runtimes)
for name in list(names):  # warm-up, untimed; a peer that cannot run here is left out
    try:
        run(name, 0)
    except subprocess.CalledProcessError:
        if name == "docker-runtime-oci":
            raise
        print(f"{name} cannot run this bundle on this host (crun 1.8 refuses a hybrid cgroup "
              "layout whose v2 mount holds a controller; bench/run.sh moves hugetlb for it): "
              "left out", file=sys.stderr)
        names.remove(name)
for i in range(1, n + 1):
    order = names[i % len(names):] + names[:i % len(names)]
    for name in order:
        times[name].append(run(name, i))
peer = "crun" if "crun" in names else ("runc" if "runc" in names else None)
base = statistics.median(times[peer]) if peer else None
print(f"\n`RUNTIME run --bundle B ID` of /bin/true (create, start, wait, delete), {n} rounds, "
      "alternating:\n")
print(f"| runtime | median ms | p10-p90 ms | / {peer or '-'} |")
print("| --- | ---: | ---: | ---: |")
for name in names:
    t = sorted(times[name])
    med = statistics.median(t)
    ratio = f"{med / base:.2f}" if base else "-"
    print(f"| {name} | {med:.2f} | {t[len(t) // 10]:.2f}-{t[len(t) * 9 // 10]:.2f} | {ratio} |")
