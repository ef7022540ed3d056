#!/usr/bin/env python3
"""Requests per second on the daemon's socket, without client process start-up.

usage: load.py SOCKET CLIENTS SECONDS COMMAND [ARG...]

CLIENTS threads each loop for SECONDS: connect, send an rcli/2 request for COMMAND, read the
frames to the end, check the exit status is 0. Prints requests/s and latency percentiles.
"""
import json
import socket
import struct
import sys
import threading
import time


def one(path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(line)
    s.shutdown(socket.SHUT_WR)
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    status = None
    while buf:
        kind, n = buf[0], struct.unpack(">I", buf[4:8])[0]
        if kind == 3:
            status = struct.unpack(">i", buf[8:12])[0]
        buf = buf[8 + n:]
    if status != 0:
        raise SystemExit(f"exit status {status}")


def request_line(args):
    """The rcli/2 request line of a command."""
    return (json.dumps(["\u0000rcli/2", "{}"] + list(args)) + "\n").encode()


def measure(request, clients, seconds):
    """CLIENTS threads each calling request() for SECONDS; returns requests/s, the wall time and
    the latencies (seconds, sorted). bench/harness.py uses this for our daemon and Docker's."""
    lat = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def worker(i):
        while time.monotonic() < stop:
            t = time.perf_counter()
            request()
            lat[i].append(time.perf_counter() - t)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    all_lat = sorted(x for l in lat for x in l)
    return {"per_s": len(all_lat) / wall, "wall": wall, "latencies": all_lat}


def main():
    path, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    args = sys.argv[4:]
    line = request_line(args)
    r = measure(lambda: one(path, line), clients, seconds)
    all_lat, wall = r["latencies"], r["wall"]
    n = len(all_lat)
    pct = lambda p: all_lat[min(n - 1, int(p * n))] * 1000
    print(
        f"{' '.join(args)}: {clients} clients, {n} requests in {wall:.2f} s = {n / wall:.0f} req/s; "
        f"latency p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms"
    )


if __name__ == "__main__":
    main()
