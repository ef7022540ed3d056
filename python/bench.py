"""Measure the Python package (not installed by pip; run as root from the repository):

    DOCKER_RUNTIME_LIB=target/release/libdocker_runtime.so \\
    DOCKER_RUNTIME_BIN_DIR=target/release python3 python/bench.py [RUNS] [MIB]

1. `run busybox true` RUNS times through the typed surface (`containers.run`, removed) and
   through the command dispatch (`rt.call("run", "--rm", ...)`): median and p90 in ms.
2. MIB MiB of container output (`dd` of zeros) consumed through `logs(stream=True)` (the output
   callback into Python), through the dispatch into /dev/null, and `dd | cat > /dev/null` on
   the host for comparison: MiB/s.
"""

import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))

from support import Fixture  # noqa: E402

NONE = {"network_mode": "none"}


def timed(f, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    f = Fixture("bench")
    try:
        rt = f.rt
        typed = timed(lambda: rt.containers.run("busybox", ["true"], remove=True, **NONE), runs)
        disp = timed(lambda: rt.call("run", "--rm", "--network", "none", "busybox", "true"),
                     runs)
        print(f"run true, typed surface:   median {typed[0]:.1f} ms, p90 {typed[1]:.1f} ms")
        print(f"run true, dispatch call(): median {disp[0]:.1f} ms, p90 {disp[1]:.1f} ms")
        dd = ["dd", "if=/dev/zero", "bs=65536", f"count={mib * 16}"]
        c = rt.containers.create("busybox", dd, **NONE)
        t = time.perf_counter()
        c.start()
        n = sum(len(chunk) for chunk in c.logs(stream=True, stderr=False))
        c.wait()
        secs = time.perf_counter() - t
        assert n == mib << 20, n
        c.remove()
        c.close()
        print(f"{mib} MiB through the output callback: {mib / secs:.0f} MiB/s")
        null = os.open(os.devnull, os.O_WRONLY)
        t = time.perf_counter()
        rt.call_fds(["run", "--rm", "--network", "none", "busybox", *dd], -1, null, null)
        secs = time.perf_counter() - t
        os.close(null)
        print(f"{mib} MiB through the dispatch into /dev/null: {mib / secs:.0f} MiB/s")
        t = time.perf_counter()
        subprocess.run(f"{' '.join(dd)} 2>/dev/null | cat > /dev/null", shell=True, check=True)
        print(f"{mib} MiB host dd | cat > /dev/null: {mib / (time.perf_counter() - t):.0f} MiB/s")
    finally:
        f.close()


if __name__ == "__main__":
    main()
