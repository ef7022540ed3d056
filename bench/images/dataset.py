#!/usr/bin/env python3
"""The image benchmarks' dataset (bench/images/run.sh and bench/harness.py's `fs` figure):
many small files of lognormal sizes (median about 3 KiB, at most 256 KiB) in DIRS x 25
folders of 20 files, a symlink per folder, and LARGE files of 20 MiB. Always the same files for
the same arguments (seeded). The defaults, 60 and 6, make about 290 MB in 30,000 files.

usage: dataset.py DIR [DIRS [LARGE]]
"""
import os
import random
import sys


def main():
    if not 2 <= len(sys.argv) <= 4:
        sys.exit(__doc__)
    root = sys.argv[1]
    dirs = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    large = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    random.seed(20130320)
    pool = os.urandom(48 << 20)

    def data(n):
        off = random.randrange(0, len(pool) - n)
        return pool[off:off + n]

    total = 0
    for d in range(dirs):
        for s in range(25):
            path = os.path.join(root, "usr%02d" % d, "lib%02d" % s)
            os.makedirs(path)
            for f in range(20):
                n = min(int(random.lognormvariate(8.0, 1.1)), 256 << 10)
                with open(os.path.join(path, "f%03d.so" % f), "wb") as fh:
                    fh.write(data(n))
                total += n
            os.symlink("f000.so", os.path.join(path, "link.so"))
    for i in range(large):
        n = 20 << 20
        with open(os.path.join(root, "large%d.bin" % i), "wb") as fh:
            fh.write(data(n))
        total += n
    print("files: %d small + %d large, %.0f MB of data" % (dirs * 25 * 20, large, total / 1e6),
          file=sys.stderr)


main()
