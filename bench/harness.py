#!/usr/bin/env python3
"""The benchmark harness behind `bench/run.sh` (run that, not this: it installs the peers and
builds the release binaries first).

    harness.py [--smoke] [--only FIGURES] [--out FILE] --journal FILE --figures-bin PATH
               --netbench-bin PATH --pack-bin PATH
    harness.py cleanup JOURNAL

Measures docker-runtime side by side with crun, runc, Debian's docker 20.10 and GNU tar, on
resources it makes for itself and removes at the end (also after a failure, and again from
run.sh's trap if this process was killed): a loop-mounted ext4 file system and a tmpfs, its own
bridges on /24s no host route covers, its own nat chains, its own daemons (ours and dockerd on
their own roots, sockets and exec roots), the hugetlb cgroup controller moved to a v1 mount
for crun (and moved back). Every resource is written to the journal before it is made;
`cleanup` undoes the journal in reverse order, whatever state it finds.

Peers and ours alternate within each round (the order rotates every round); each figure
reports the median and the min-max of its samples and the ratios of the medians. Network
traffic stays on 127.0.0.0/8 and the harness's own bridges.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "daemon"))
import load as rcli_load  # noqa: E402  (bench/daemon/load.py)

RELEASE = os.path.join(REPO, "target", "release")
DOCKER = os.path.join(RELEASE, "docker")
OCI = os.path.join(RELEASE, "docker-runtime-oci")
INIT = os.path.join(RELEASE, "docker-init")
LIB = os.path.join(RELEASE, "libdocker_runtime.so")
DEB_DOCKER = "/usr/bin/docker"  # Debian's client: another docker may come first on PATH
DOCKERD = "/usr/sbin/dockerd"  # Debian's docker.io
FIGURES = ("alloc", "restore", "run", "ctr", "daemon", "memory", "fs", "netsetup")


class BenchError(Exception):
    pass


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*argv, check=True, input=None, timeout=600, stdout=subprocess.PIPE, env=None):
    """Run a command; returns its stdout as text. A failure raises BenchError with stderr."""
    p = subprocess.run(list(argv), input=input, stdout=stdout, stderr=subprocess.PIPE,
                       timeout=timeout, env=env, text=input is None or isinstance(input, str))
    if check and p.returncode != 0:
        err = p.stderr if isinstance(p.stderr, str) else p.stderr.decode(errors="replace")
        raise BenchError(f"{' '.join(argv)} exited {p.returncode}: {err.strip()[-2000:]}")
    out = p.stdout
    if isinstance(out, bytes):
        out = out.decode(errors="replace")
    return out or ""


def quiet(*argv):
    """Run a command, ignoring its failure (cleanup)."""
    try:
        return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=300, text=True).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# --------------------------------------------------------------------------------------------
# Timing


class Timer:
    """Times one command from spawn to exit with posix_spawn (a vfork: cheap and the same for
    every peer), stdin and stdout from/to files or /dev/null, stderr kept for the error."""

    def __init__(self, base):
        self.err_path = os.path.join(base, "last-stderr")
        self.err = os.open(self.err_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                           0o600)
        self.null_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.null_w = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        self.env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}

    def run(self, argv, stdin=None, stdout=None):
        fin = os.open(stdin, os.O_RDONLY | os.O_CLOEXEC) if stdin else self.null_r
        fout = (os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                if stdout else self.null_w)
        os.ftruncate(self.err, 0)
        os.lseek(self.err, 0, os.SEEK_SET)
        actions = [(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, fout, 1),
                   (os.POSIX_SPAWN_DUP2, self.err, 2)]
        try:
            t = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, self.env, file_actions=actions)
            _, status, _ = os.wait4(pid, 0)
            dt = time.perf_counter() - t
        finally:
            if stdin:
                os.close(fin)
            if stdout:
                os.close(fout)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            os.lseek(self.err, 0, os.SEEK_SET)
            msg = os.read(self.err, 4000).decode(errors="replace").strip()
            raise BenchError(f"{' '.join(argv)} exited {code}: {msg}")
        return dt

    def sh(self, script):
        return self.run(["/bin/sh", "-c", script])


def stats(xs):
    xs = sorted(xs)
    return {"median": statistics.median(xs), "min": xs[0], "max": xs[-1], "n": len(xs)}


def alternate(rounds, variants, shuffle_seed=1):
    """Run every variant once per round, in an order that rotates each round; each variant is
    a function returning a list of samples. Returns {name: [samples]}."""
    names = list(variants)
    out = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            out[name].extend(variants[name]())
    return out


# --------------------------------------------------------------------------------------------
# The journal: every resource is recorded before it is made, and undone in reverse order.


class Journal:
    def __init__(self, path):
        self.path = path

    def add(self, kind, **fields):
        fields["kind"] = kind
        with open(self.path, "a") as f:
            f.write(json.dumps(fields) + "\n")
            f.flush()
            os.fsync(f.fileno())


def mounts_under(prefix):
    """Mount points at or under prefix, deepest first."""
    prefix = os.path.realpath(prefix)
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == prefix or mp.startswith(prefix + "/"):
                points.append(mp)
    return sorted(set(points), key=lambda p: -p.count("/"))


def unmount_all(prefix):
    for mp in mounts_under(prefix):
        if not quiet("umount", mp):
            quiet("umount", "-l", mp)


def pids_using(prefixes):
    """Processes whose root, cwd or executable lies under one of prefixes."""
    found = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        for link in ("root", "cwd", "exe"):
            try:
                target = os.readlink(f"/proc/{d}/{link}")
            except OSError:
                continue
            if any(target == p or target.startswith(p + "/") for p in prefixes):
                found.append(int(d))
                break
    return found


def pids_with_cmdline(fragment):
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fragment in cmd:
            found.append(int(d))
    return found


def kill_all(pids, sig=signal.SIGKILL):
    for p in pids:
        try:
            os.kill(p, sig)
        except OSError:
            pass


def wait_gone(pid, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not os.path.exists(f"/proc/{pid}") or proc_state(pid) == "Z":
            return True
        time.sleep(0.05)
    return False


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def iptables_unchain(chain):
    """Remove every jump to chain, CHAIN-POST, CHAIN-ISO, CHAIN-FWD and CHAIN-IN from the built-in
    chains, then the chains themselves (our runtime's five; a chain not there is skipped)."""
    ours = {chain, chain + "-POST", chain + "-ISO", chain + "-FWD", chain + "-IN"}
    for table in ("nat", "mangle", "filter"):
        listing = subprocess.run(["iptables", "-w", "-t", table, "-S"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True).stdout
        for line in listing.splitlines():
            words = line.split()
            if len(words) > 2 and words[0] == "-A" and words[1] not in ours \
                    and "-j" in words and words[words.index("-j") + 1] in ours:
                quiet("iptables", "-w", "-t", table, "-D", *words[1:])
        for c in sorted(ours):
            if quiet("iptables", "-w", "-t", table, "-F", c):
                quiet("iptables", "-w", "-t", table, "-X", c)


def undo(e):
    k = e["kind"]
    if k == "process":
        pid = e["pid"]
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return
        if exe.split(" (deleted)")[0] != e["exe"]:
            return  # the pid was recycled: not ours
        os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid, e.get("grace", 15)):
            kill_all([pid])
            wait_gone(pid, 5)
    elif k == "ours-root":
        if os.path.isdir(os.path.join(e["root"], "containers")):
            base = [DOCKER, "-H", e["nodaemon"], "-g", e["root"], *e["flags"]]
            ids = subprocess.run(base + ["ps", "-aq", "-notrunc"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True).stdout.split()
            for i in range(0, len(ids), 200):
                quiet(*base, "rm", "-f", *ids[i:i + 200])
        # Whatever is left (a monitor whose record was lost): processes in the root.
        kill_all(pids_using([e["root"]]))
        unmount_all(e["root"])
    elif k == "dockerd":
        sock = "unix://" + e["sock"]
        if os.path.exists(e["sock"]):
            ids = subprocess.run([DEB_DOCKER, "-H", sock, "ps", "-aq"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, timeout=60).stdout.split()
            for i in range(0, len(ids), 100):
                quiet(DEB_DOCKER, "-H", sock, "rm", "-f", *ids[i:i + 100])
        pid = None
        try:
            pid = int(open(e["pidfile"]).read().strip())
        except (OSError, ValueError):
            pass
        if pid and os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGTERM)
            if not wait_gone(pid, 30):
                kill_all([pid])
        # Its containerd and shims name the exec root on their command line; the containers'
        # processes live in cgroups under the harness's cgroup parent.
        kill_all(pids_with_cmdline(e["exec_root"]))
        remove_cgroup_tree(e["cgroup_parent"])
        unmount_all(e["exec_root"])
        unmount_all(e["data_root"])
        # What dockerd makes outside its roots, removed when it was not there before.
        remove_new_paths(e["new_paths"])
    elif k == "new-paths":
        remove_new_paths(e["paths"])
    elif k == "bridge":
        if os.path.exists(f"/sys/class/net/{e['name']}"):
            quiet("ip", "link", "del", e["name"])
    elif k == "chain":
        iptables_unchain(e["name"])
    elif k == "netbench":
        pid = e["pid"]
        if os.path.exists(f"/proc/{pid}"):
            kill_all([pid])
            wait_gone(pid, 5)
        kill_all(pids_with_cmdline(f"dr-netbench-{pid}"))
        iptables_unchain(f"DRTBENCH{pid}")
        if os.path.exists(f"/sys/class/net/drtbench{pid % 1000}"):
            quiet("ip", "link", "del", f"drtbench{pid % 1000}")
        shutil.rmtree(f"/tmp/dr-netbench-{pid}", ignore_errors=True)
    elif k == "containerd":
        # Its shims (and their containers) name its socket on their command line.
        kill_all(pids_with_cmdline(e["sock"]))
        undo(dict(e, kind="process"))
        unmount_all(e["state"])
        unmount_all(e["root"])
        # The runc shim puts a container's cgroup under /NAMESPACE (left behind, empty).
        remove_cgroup_tree(e["namespace"])
    elif k == "hugetlb":
        # crun and runc may leave their container's (empty) cgroup behind; a v1 hierarchy
        # that still has a child when it is unmounted lingers, holding hugetlb away from v2.
        for ctl in os.listdir("/sys/fs/cgroup"):
            try:
                os.rmdir(os.path.join("/sys/fs/cgroup", ctl, e["cid"]))
            except OSError:
                pass
        for attempt in range(3):
            if not os.path.ismount(e["path"]):
                if attempt == 0 and hugetlb_on_v2():
                    break
                os.makedirs(e["path"], exist_ok=True)
                sh("mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", e["path"])
            children = [d for d in os.listdir(e["path"])
                        if os.path.isdir(os.path.join(e["path"], d))]
            for d in children:
                try:
                    os.rmdir(os.path.join(e["path"], d))
                except OSError:
                    log(f"cleanup: hugetlb cgroup {d} is in use; left in place")
            time.sleep(0.5)
            quiet("umount", e["path"])
            for _ in range(20):
                if hugetlb_on_v2():
                    break
                time.sleep(0.25)
            if hugetlb_on_v2():
                break
        if e["created"] and not os.path.ismount(e["path"]):
            try:
                os.rmdir(e["path"])
            except OSError:
                pass
    elif k == "mount":
        kill_all(pids_using([e["path"]]))
        unmount_all(e["path"])
    elif k == "loopfs":
        kill_all(pids_using([e["mnt"]]))
        time.sleep(0.2)
        unmount_all(e["mnt"])
        if os.path.exists(e["img"]):
            os.unlink(e["img"])
    elif k == "tmpdir":
        if mounts_under(e["path"]):
            log(f"cleanup: {e['path']} still has mounts; left in place")
            return
        shutil.rmtree(e["path"], ignore_errors=True)
    elif k == "host-state":
        now = host_state()
        for key, before in e["state"].items():
            if now.get(key) != before:
                if key == "forward_policy":
                    quiet("iptables", "-w", "-P", "FORWARD", before)
                    log(f"cleanup: the FORWARD policy was {now.get(key)}; set back to {before}")
                else:
                    log(f"cleanup: NOTE {key} was {before} at the start and is {now.get(key)} "
                        "now (the harness never sets it; another program did)")


def remove_new_paths(paths):
    """Remove paths that a peer made outside the harness's own directories (they did not
    exist before it ran): files, and folders holding nothing but empty folders."""
    for p in paths:
        if os.path.isfile(p) or os.path.islink(p):
            os.unlink(p)
        elif os.path.isdir(p):
            for sub, _, _ in sorted(os.walk(p), key=lambda w: -w[0].count("/")):
                try:
                    os.rmdir(sub)
                except OSError:
                    log(f"cleanup: {sub} is not empty; left in place")


def remove_cgroup_tree(name):
    """Kill what runs in the cgroup folders /NAME of every hierarchy, then remove them,
    deepest first."""
    dirs = [os.path.join("/sys/fs/cgroup", ctl, name.strip("/"))
            for ctl in os.listdir("/sys/fs/cgroup")]
    trees = [sorted(os.walk(d), key=lambda w: -w[0].count("/")) for d in dirs if os.path.isdir(d)]
    for tree in trees:
        for sub, _, _ in tree:
            try:
                with open(os.path.join(sub, "cgroup.procs")) as f:
                    kill_all(int(p) for p in f.read().split())
            except OSError:
                pass
    if trees:
        time.sleep(0.5)
    for tree in trees:
        for sub, _, _ in tree:
            try:
                os.rmdir(sub)
            except OSError:
                pass


def hugetlb_on_v2():
    try:
        with open("/sys/fs/cgroup/unified/cgroup.controllers") as f:
            return "hugetlb" in f.read().split()
    except OSError:
        return False


def cleanup(journal_path):
    try:
        with open(journal_path) as f:
            entries = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return True
    ok = True
    for e in reversed(entries):
        try:
            undo(e)
        except Exception as ex:  # keep undoing the rest
            ok = False
            log(f"cleanup: {e['kind']}: {ex}")
    left = leftovers(entries)
    if left:
        log("cleanup: LEFT BEHIND: " + "; ".join(left))
        return False
    os.unlink(journal_path)
    log("cleanup: everything the harness made is gone")
    return ok


def leftovers(entries):
    left = []
    for e in entries:
        k = e["kind"]
        if k == "bridge" and os.path.exists(f"/sys/class/net/{e['name']}"):
            left.append(f"bridge {e['name']}")
        elif k == "chain":
            for t in ("nat", "mangle", "filter"):
                if quiet("iptables", "-w", "-t", t, "-S", e["name"]):
                    left.append(f"chain {t}/{e['name']}")
        elif k in ("loopfs", "mount", "tmpdir"):
            p = e.get("mnt") or e.get("path")
            if mounts_under(p):
                left.append(f"mounts under {p}")
            if k == "tmpdir" and os.path.exists(p):
                left.append(f"directory {p}")
        elif k == "hugetlb":
            if os.path.ismount(e["path"]):
                left.append(f"mount {e['path']}")
            if not hugetlb_on_v2():
                left.append("the hugetlb controller is not back on the v2 mount")
            left.extend(f"cgroup {d}" for d in
                        (os.path.join("/sys/fs/cgroup", c, e["cid"])
                         for c in os.listdir("/sys/fs/cgroup")) if os.path.isdir(d))
        elif k == "dockerd":
            if pids_with_cmdline(e["exec_root"]):
                left.append("dockerd/containerd processes")
    return left


def host_state():
    policy = sh("iptables", "-w", "-S", "FORWARD", check=False).splitlines()
    return {
        "ip_forward": open("/proc/sys/net/ipv4/ip_forward").read().strip(),
        "forward_policy": policy[0].split()[-1] if policy else "?",
        "default_route": sh("ip", "route", "show", "default", check=False).strip(),
    }


# --------------------------------------------------------------------------------------------
# Memory of processes


def smaps(pid):
    """Rss, Pss and private (clean + dirty) memory of a process, KiB."""
    out = {"rss": 0, "pss": 0, "private": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                w = line.split()
                if w[0] == "Rss:":
                    out["rss"] = int(w[1])
                elif w[0] == "Pss:":
                    out["pss"] = int(w[1])
                elif w[0] in ("Private_Clean:", "Private_Dirty:"):
                    out["private"] += int(w[1])
    except OSError:
        pass
    return out


def total_mem(pids):
    t = {"rss": 0, "pss": 0, "private": 0}
    for p in pids:
        for k, v in smaps(p).items():
            t[k] += v
    return t


def fsync_probe(d, n=30):
    """Median and max time of a 4 KiB write + fsync in directory d (the disk's state varies:
    it slows for minutes after a large deletion anywhere on it)."""
    path = os.path.join(d, ".fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    times = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    st = stats(times)
    return f"median {st['median'] * 1e3:.2f} ms, max {st['max'] * 1e3:.2f} ms"


def exe_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# The bench environment


def host_nets():
    """(network, mask) of every IPv4 route and address on the host, default routes aside."""
    nets = []
    text = sh("ip", "-4", "route", "show", "table", "all") + "\n".join(
        l.split()[3] for l in sh("ip", "-4", "-o", "addr").splitlines() if len(l.split()) > 3)
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        dst = words[1] if words[0] in ("local", "broadcast", "unicast", "multicast") and \
            len(words) > 1 else words[0]
        if dst == "default":
            continue
        ip, _, plen = dst.partition("/")
        try:
            n = int.from_bytes(socket.inet_aton(ip), "big")
        except OSError:
            continue
        plen = int(plen) if plen else 32
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0
        nets.append((n & mask, mask))
    return nets


def free_subnets(count, taken=()):
    """count /24s in 10.240-249.x.0 that overlap no host route or address."""
    nets = host_nets()
    out = []
    for second in range(240, 250):
        for third in range(random.randrange(256), random.randrange(256) + 256):
            lo = (10 << 24) | (second << 16) | ((third % 256) << 8)
            hi = lo | 0xFF
            if any(n <= hi and (n | (~m & 0xFFFFFFFF)) >= lo for n, m in nets):
                continue
            s = f"10.{second}.{third % 256}.1/24"
            if s not in out and s not in taken:
                out.append(s)
            if len(out) == count:
                return out
    raise BenchError("no free 10.24x.N.0/24 subnet")


class Env:
    """Everything the figures share: directories, the loop file system, the image tarball, the
    network names, our roots and daemon, dockerd. Made on demand, each recorded in the journal
    before it exists."""

    def __init__(self, args):
        self.args = args
        self.smoke = args.smoke
        self.journal = Journal(args.journal)
        self.journal.add("host-state", state=host_state())
        self.base = os.path.realpath(
            __import__("tempfile").mkdtemp(prefix="drbench.", dir="/tmp"))
        self.journal.add("tmpdir", path=self.base)
        self.tag = f"{os.getpid() % 1000:03d}"
        self.timer = Timer(self.base)
        self.nodaemon = "none"  # no daemon: in-process
        subnets = free_subnets(4)
        self.net = {
            "daemon": (f"drb{self.tag}d", subnets[0], f"DRB{self.tag}D"),
            "local": (f"drb{self.tag}l", subnets[1], f"DRB{self.tag}L"),
            "disk": (f"drb{self.tag}s", subnets[2], f"DRB{self.tag}S"),
            "docker": (f"drb{self.tag}k", subnets[3], None),
        }
        self.mnts = {}
        self.hugetlb = None
        self.load_at_start = open("/proc/loadavg").read().split()[:3]
        self.shm = None
        self.busybox_tar = None
        self.ours_daemon = None
        self.ours_daemon_pid = None
        self.dockerd_pid = None
        self.roots = {}
        self.facts = {}

    # -- file systems --

    def loopfs(self, disk=False):
        """A fresh ext4 on a loop device, mounted without discard. Its backing file lives in
        RAM (/dev/shm): the figures are then free of the root disk's state, which varies (it
        slows several-fold for minutes after a large deletion, its own or another program's),
        and removing the file costs the disk nothing. With disk=True (figure 1b only, a few
        MB) the backing file is on the root disk, so fsync costs what it costs there."""
        key = "disk" if disk else "ram"
        if key in self.mnts:
            return self.mnts[key]
        size_gb = 1 if disk else 2 if self.smoke else 6
        where = "/var/tmp" if disk else "/dev/shm"
        img = os.path.join(where, f"drbench-{os.getpid()}-{key}.ext4")
        mnt = os.path.join(self.base, f"fs-{key}")
        os.mkdir(mnt)
        self.journal.add("loopfs", img=img, mnt=mnt)
        sh("truncate", "-s", f"{size_gb}G", img)
        sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard",
           img)
        sh("mount", "-o", "loop,nodiscard", img, mnt)
        self.facts[f"file system ({key})"] = (
            f"ext4, {size_gb} GiB, fresh, on a loop device backed by a file in {where}; "
            f"4 KiB write + fsync: {fsync_probe(mnt)} at the start")
        self.mnts[key] = mnt
        return mnt

    def tmpfs(self):
        if self.shm:
            return self.shm
        p = os.path.join(self.base, "shm")
        os.mkdir(p)
        self.journal.add("mount", path=p)
        sh("mount", "-t", "tmpfs", "-o", "size=2g,mode=0700", "tmpfs", p)
        self.shm = p
        return p

    # -- the busybox image --

    def busybox(self):
        """The busybox rootfs tarball from contrib/mkimage-busybox.sh."""
        if self.busybox_tar:
            return self.busybox_tar
        path = os.path.join(self.loopfs(), "busybox.tar")
        sh("bash", os.path.join(REPO, "contrib", "mkimage-busybox.sh"), path)
        self.busybox_tar = path
        return path

    def ours_flags(self, which):
        bridge, subnet, chain = self.net[which]
        return ["-b", bridge, "--bip", subnet, "--iptables-chain", chain, "--ip-forward=false"]

    def ours_root(self, which):
        """A root of ours on the loop file system with the busybox image imported."""
        if which in self.roots:
            return self.roots[which]
        net = self.net_of(which)
        bridge, _, chain = self.net[net]
        self.journal.add("bridge", name=bridge)
        self.journal.add("chain", name=chain)
        root = os.path.join(self.loopfs(disk=which.endswith("-disk")), f"ours-{which}")
        self.journal.add("ours-root", root=root, nodaemon=self.nodaemon,
                         flags=self.ours_flags(net))
        self.local(root, net, "import", "-", "busybox", stdin=self.busybox())
        self.roots[which] = root
        return root

    @staticmethod
    def net_of(which):
        """The bridge, subnet and chain a root uses (roots used one after the other may
        share them)."""
        return {"daemon": "daemon", "local-disk": "disk"}.get(which, "local")

    def commands(self):
        """The commands of this build (`docker help`)."""
        if not hasattr(self, "_commands"):
            text = sh(DOCKER, "-H", self.nodaemon, "-g", os.path.join(self.base, "help-root"),
                      "help")
            self._commands = {l.split()[0] for l in text.split("Commands:", 1)[1].splitlines()
                              if l.strip()}
        return self._commands

    def local(self, root, net, *args, stdin=None, check=True):
        """Our CLI in-process (no daemon at the address) on root."""
        argv = [DOCKER, "-H", self.nodaemon, "-g", root, *self.ours_flags(net), *args]
        if stdin:
            with open(stdin, "rb") as f:
                p = subprocess.run(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        else:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        if check and p.returncode != 0:
            raise BenchError(f"docker {' '.join(args)} on {root} exited {p.returncode}: "
                             f"{p.stderr.decode(errors='replace').strip()[-2000:]}")
        return p.stdout.decode(errors="replace")

    def local_argv(self, which, *args):
        root = self.ours_root(which)
        return [DOCKER, "-H", self.nodaemon, "-g", root, *self.ours_flags(self.net_of(which)),
                *args]

    # -- our daemon --

    def start_ours_daemon(self):
        root = self.ours_root("daemon")
        sock = os.path.join(self.base, "ours.sock")
        logf = open(os.path.join(self.base, "ours-daemon.log"), "ab")
        p = subprocess.Popen([DOCKER, "-d", "-H", f"unix://{sock}", "-g", root,
                              *self.ours_flags("daemon")],
                             stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        self.journal.add("process", pid=p.pid, exe=DOCKER, grace=20)
        self.ours_daemon_proc = p
        for _ in range(400):
            if p.poll() is not None:
                raise BenchError(f"our daemon exited {p.returncode}; see "
                                 f"{self.base}/ours-daemon.log")
            if quiet(DOCKER, "-H", f"unix://{sock}", "version"):
                break
            time.sleep(0.025)
        else:
            raise BenchError("our daemon did not answer within 10 s")
        self.ours_daemon = f"unix://{sock}"
        self.ours_daemon_pid = p.pid
        return self.ours_daemon

    def stop_ours_daemon(self):
        if self.ours_daemon_pid:
            os.kill(self.ours_daemon_pid, signal.SIGTERM)
            self.ours_daemon_proc.wait(timeout=30)
            self.ours_daemon = self.ours_daemon_pid = None

    def daemon(self, *args, check=True):
        return sh(DOCKER, "-H", self.ours_daemon or self.start_ours_daemon(), *args,
                  check=check)

    # -- Debian's dockerd --

    def start_dockerd(self):
        bridge, subnet, _ = self.net["docker"]
        if not os.path.exists(f"/sys/class/net/{bridge}"):
            self.journal.add("bridge", name=bridge)
            sh("ip", "link", "add", bridge, "type", "bridge")
            sh("ip", "addr", "add", subnet, "dev", bridge)
            sh("ip", "link", "set", bridge, "up")
        d = os.path.join(self.base, "dockerd")
        os.makedirs(d, exist_ok=True)
        self.dkp = {
            "sock": os.path.join(d, "docker.sock"),
            "pidfile": os.path.join(d, "docker.pid"),
            "exec_root": os.path.join(d, "x"),
            "data_root": os.path.join(self.loopfs(), "dockerd"),
            "cgroup_parent": f"/drbench{self.tag}",
        }
        config = os.path.join(d, "daemon.json")
        with open(config, "w") as f:
            f.write("{}\n")
        outside = ["/etc/docker/key.json", "/run/docker", "/run/containerd", "/var/lib/docker",
                   "/var/lib/containerd", "/run/docker.sock", "/run/docker.pid"]
        self.journal.add("dockerd", new_paths=[p for p in outside if not os.path.lexists(p)],
                         **self.dkp)
        logf = open(os.path.join(d, "dockerd.log"), "ab")
        argv = [DOCKERD, "--data-root", self.dkp["data_root"], "--exec-root",
                self.dkp["exec_root"], "--pidfile", self.dkp["pidfile"],
                "-H", "unix://" + self.dkp["sock"], "--config-file", config,
                "--bridge", bridge, "--iptables=false", "--ip-forward=false",
                "--ip-masq=false", "--userland-proxy=false",
                "--cgroup-parent", self.dkp["cgroup_parent"], "--log-level=error"]
        self.dockerd_argv = argv
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        self.dockerd_proc = p
        for _ in range(600):
            if p.poll() is not None:
                raise BenchError(f"dockerd exited {p.returncode}; see {d}/dockerd.log")
            if os.path.exists(self.dkp["sock"]) and quiet(*self.dk_cli(), "version"):
                break
            time.sleep(0.05)
        else:
            raise BenchError("dockerd did not answer within 30 s")
        self.dockerd_pid = p.pid
        if not sh(*self.dk_cli(), "images", "-q", "busybox").strip():
            with open(self.busybox(), "rb") as f:
                sh(*self.dk_cli(), "import", "-", "busybox:latest", input=f.read())

    def stop_dockerd(self):
        if self.dockerd_pid:
            os.kill(self.dockerd_pid, signal.SIGTERM)
            self.dockerd_proc.wait(timeout=60)
            self.dockerd_pid = None

    def dk_cli(self):
        return [DEB_DOCKER, "-H", "unix://" + self.dkp["sock"]]

    def dk(self, *args, check=True, input=None):
        if not self.dockerd_pid:
            self.start_dockerd()
        return sh(*self.dk_cli(), *args, check=check, input=input)

    # -- Debian's containerd --

    def start_containerd(self):
        """A containerd on its own root, state folder and socket, with the busybox image
        imported (as a docker-archive); the ctr command line for it."""
        d = os.path.join(self.base, "containerd")
        os.makedirs(d, exist_ok=True)
        sock = os.path.join(d, "containerd.sock")
        root = os.path.join(self.loopfs(), "containerd-root")
        state = os.path.join(self.base, "containerd-state")
        config = os.path.join(d, "config.toml")
        with open(config, "w") as f:
            f.write(f'version = 2\nroot = "{root}"\nstate = "{state}"\n[grpc]\n'
                    f'  address = "{sock}"\n[plugins."io.containerd.grpc.v1.cri"]\n'
                    '  disable_tcp_service = true\n')
        logf = open(os.path.join(d, "containerd.log"), "ab")
        p = subprocess.Popen(["/usr/bin/containerd", "--config", config],
                             stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        namespace = f"drbench{self.tag}"
        self.journal.add("containerd", pid=p.pid, exe="/usr/bin/containerd", sock=sock,
                         root=root, state=state, namespace=namespace, grace=20)
        self.containerd_proc = p
        ctr = ["/usr/bin/ctr", "-a", sock, "-n", namespace]
        for _ in range(600):
            if p.poll() is not None:
                raise BenchError(f"containerd exited {p.returncode}; see {d}/containerd.log")
            if quiet(*ctr, "version"):
                break
            time.sleep(0.05)
        else:
            raise BenchError("containerd did not answer within 30 s")
        archive = os.path.join(d, "busybox-archive.tar")
        docker_archive(self.busybox(), CTR_IMAGE, archive)
        sh(*ctr, "image", "import", archive)
        return ctr

    def stop_containerd(self):
        p = getattr(self, "containerd_proc", None)
        if p and p.poll() is None:
            p.terminate()
            p.wait(timeout=60)

    # -- OCI bundle for crun and runc --

    def oci_bundle(self, disk=False):
        b = os.path.join(self.loopfs(disk), "bundle")
        if os.path.exists(b):
            return b
        os.makedirs(os.path.join(b, "rootfs"))
        sh("tar", "-C", os.path.join(b, "rootfs"), "-xf", self.busybox())
        sh("crun", "spec", "-b", b)
        with open(os.path.join(b, "config.json")) as f:
            spec = json.load(f)
        spec["process"]["args"] = ["/bin/true"]
        spec["process"]["terminal"] = False
        # Neither ours nor docker sets rlimits; the open-files hard limit here is 20000.
        spec["process"].pop("rlimits", None)
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(spec, f)
        return b

    def hugetlb_v1(self):
        """crun 1.8 refuses a hybrid layout whose v2 mount holds a controller: move hugetlb (the
        only one there on these machines) to a v1 mount of its own."""
        unified = "/sys/fs/cgroup/unified/cgroup.controllers"
        if not os.path.exists(unified) or not open(unified).read().split():
            return
        controllers = open(unified).read().split()
        if controllers != ["hugetlb"]:
            raise BenchError(f"the v2 mount holds {controllers}: only hugetlb is handled")
        path = "/sys/fs/cgroup/hugetlb"
        created = not os.path.exists(path)
        self.hugetlb = {"path": path, "created": created, "cid": f"drbench{self.tag}"}
        self.journal.add("hugetlb", **self.hugetlb)
        if created:
            os.mkdir(path)
        sh("mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", path)
        self.facts["cgroups"] = ("v1 controllers with a hybrid v2 mount; hugetlb moved from "
                                 "the v2 mount to a v1 mount for the run (crun 1.8 needs it), "
                                 "moved back at the end")

    def undo_hugetlb(self):
        if not self.hugetlb:
            return
        undo(dict(self.hugetlb, kind="hugetlb"))
        self.hugetlb = None
        if not hugetlb_on_v2():
            raise BenchError("the hugetlb controller did not go back to the v2 mount")


# --------------------------------------------------------------------------------------------
# Figures


def fig_alloc(env, res):
    log("allocators: ours vs v0.1.0's pre-filled queue")
    argv = ["alloc"] + (["--quick"] if env.smoke else [])
    a = json.loads(sh(env.args.figures_bin, *argv))
    root = os.path.join(env.loopfs(), "calls-root")
    n = 10000 if env.smoke else 200000
    a["calls"] = json.loads(sh(env.args.figures_bin, "calls", root, str(n)))
    a["cmd"] = "cargo bench --bench figures -- " + " ".join(argv)
    a["calls_cmd"] = f"cargo bench --bench figures -- calls $ROOT {n}"
    res["alloc"] = a


def fig_restore(env, res):
    n = 300 if env.smoke else 10000
    rounds = 2 if env.smoke else 5
    log(f"restore: making {n} stopped containers")
    root = env.ours_root("restore")
    env.local(root, "local", "run", "--network", "none", "busybox", "sh", "-c",
              "echo hello; echo oops >&2; exit 3", check=False)
    cdir = os.path.join(root, "containers")
    (real,) = os.listdir(cdir)
    with open(os.path.join(cdir, real, "config.json")) as f:
        rec = json.load(f)
    t0 = time.time()
    for i in range(n - 1):
        cid = "%064x" % random.getrandbits(256)
        d = os.path.join(cdir, cid)
        shutil.copytree(os.path.join(cdir, real), d, symlinks=True)
        for name in os.listdir(d):
            if name.startswith(real):
                os.rename(os.path.join(d, name), os.path.join(d, cid + name[len(real):]))
        rec["Id"] = cid
        rec["Created"] = (datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
                          + datetime.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(rec, f, indent=2)
    sh("sync")
    log(f"restore: {n} containers made in {time.time() - t0:.1f} s; measuring")
    bridge, subnet, chain = env.net["local"]
    restore = [env.args.figures_bin, "restore", root, bridge, subnet, chain]
    floor = [env.args.figures_bin, "floor", root]
    runs = {"restore": [], "floor": []}

    def one(name, argv):
        def f():
            r = json.loads(sh(*argv))
            if r["containers"] != n:
                raise BenchError(f"{name} saw {r['containers']} containers, not {n}")
            runs[name].append(r)
            return [r["seconds"]]
        return f
    # One untimed pass of each warms the page cache for both.
    one("restore", restore)()
    one("floor", floor)()
    runs = {"restore": [], "floor": []}
    samples = alternate(rounds, {"restore": one("restore", restore),
                                 "floor": one("floor", floor)})
    res["restore"] = {
        "n": n,
        "restore": stats(samples["restore"]),
        "floor": stats(samples["floor"]),
        "restore_rss": stats([r["peak_rss_kib"] for r in runs["restore"]]),
        "floor_rss": stats([r["peak_rss_kib"] for r in runs["floor"]]),
        "cmd_restore": "cargo bench --bench figures -- restore $ROOT BRIDGE SUBNET CHAIN",
        "cmd_floor": "cargo bench --bench figures -- floor $ROOT",
    }
    shutil.rmtree(cdir)
    os.mkdir(cdir, 0o700)


def docker_archive(layer_tar, name, out):
    """A docker-archive (`docker save`'s format, which `ctr image import` reads) at out, of
    one layer (a tarball) tagged name."""
    import hashlib
    import tarfile
    with open(layer_tar, "rb") as f:
        diff_id = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [name],
                            "Layers": ["layer/layer.tar"]}]).encode()
    with tarfile.open(out, "w") as t:
        t.add(layer_tar, "layer/layer.tar")
        for member, data in ((config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            t.addfile(info, __import__("io").BytesIO(data))


def fig_run(env, res):
    rounds, k = (2, 2) if env.smoke else (20, 5)
    env.journal.add("new-paths", paths=[p for p in OCI_PATHS if not os.path.lexists(p)])
    env.hugetlb_v1()
    try:
        log(f"run /bin/true: {rounds} rounds of {k} runs per variant")
        res["run"] = run_variants(env, rounds, k, disk=False)
        log(f"run /bin/true with the state on the disk: {rounds} rounds of {k} runs")
        res["run_disk"] = run_variants(env, rounds, k, disk=True)
    finally:
        env.undo_hugetlb()


# What crun and runc make outside their --root whatever it is (and containerd's runc shim,
# whose runtimes keep their state under /run/containerd/runc/NAMESPACE).
OCI_PATHS = ["/run/crun", "/run/runc", "/run/containerd"]


def fig_ctr(env, res):
    """`ctr run --rm IMAGE ID /bin/true` through one containerd (Debian's, its runc shim), with
    ours, crun and runc as the shim's runc binary, alternating."""
    rounds, k = (2, 2) if env.smoke else (10, 5)
    env.journal.add("new-paths", paths=[p for p in OCI_PATHS if not os.path.lexists(p)])
    env.hugetlb_v1()
    try:
        ctr = env.start_containerd()
        t = env.timer
        seq = iter(range(1_000_000))

        def one(binary):
            def f():
                return [t.run([*ctr, "run", "--rm", "--runc-binary", binary, CTR_IMAGE,
                               f"b{next(seq)}", "/bin/true"]) for _ in range(k)]
            return f
        variants = {"docker-runtime-oci": OCI, "crun": "/usr/bin/crun", "runc": "/usr/sbin/runc"}
        runners = {name: one(b) for name, b in variants.items()}
        for f in runners.values():
            f()
        log(f"ctr run --rm: {rounds} rounds of {k} runs per runtime")
        samples = alternate(rounds, runners)
        res["ctr"] = {name: dict(stats(samples[name]),
                                 cmd="ctr -a $SOCK run --rm --runc-binary "
                                 f"{os.path.basename(b)} IMAGE ID /bin/true")
                      for name, b in variants.items()}
    finally:
        env.stop_containerd()
        env.undo_hugetlb()


CTR_IMAGE = "docker.io/library/drbench-busybox:latest"



def run_variants(env, rounds, k, disk):
    """`run /bin/true` of every variant, alternating. disk: the subset that keeps its state
    (our root; crun's, runc's and the bundle) on the disk-backed file system, to show what
    the disk's fsync costs."""
    t = env.timer
    which = "local-disk" if disk else "local"
    local_root = env.ours_root(which)
    bridge_l, subnet_l, chain_l = env.net[env.net_of(which)]
    bundle = env.oci_bundle(disk)
    crun_root = os.path.join(env.loopfs(disk), "crun-state")
    runc_root = os.path.join(env.loopfs(disk), "runc-state")
    oci_root = os.path.join(env.loopfs(disk), "oci-state")
    cid = f"drbench{env.tag}"
    # A long-lived program embedding the library: warm_start on (one helper started ahead).
    abi = [sys.executable, os.path.join(HERE, "abi_run.py"), "--warm-start", LIB, local_root,
           bridge_l, subnet_l, chain_l, INIT, str(k), "--", "run", "--rm"]

    def abi_run(extra):
        def f():
            return json.loads(sh(*abi, *extra, "busybox", "/bin/true"))
        return f

    def spawn(argv):
        def f():
            return [t.run(argv) for _ in range(k)]
        return f

    def then_rm(f):
        def g():
            samples = f()
            ids = env.daemon("ps", "-aq", "-notrunc").split()
            if ids:
                env.daemon("rm", *ids)
            return samples
        return g

    none = ["--network", "none"]
    variants = {
        "host /bin/true": (["/bin/true"], "/bin/true"),
        "ours ABI, --network none": (abi_run(none),
                                     "python3 bench/abi_run.py --warm-start ... -- run --rm "
                                     "--network none busybox /bin/true"),
        "ours ABI, bridge": (abi_run([]),
                             "python3 bench/abi_run.py --warm-start ... -- run --rm "
                             "busybox /bin/true"),
        "ours ABI, --network none, seccomp=unconfined": (
            abi_run([*none, "--security-opt", "seccomp=unconfined"]),
            "python3 bench/abi_run.py --warm-start ... -- run --rm --network none "
            "--security-opt seccomp=unconfined busybox /bin/true"),
        "ours CLI in-process, --network none": (
            env.local_argv(which, "run", "--rm", *none, "busybox", "/bin/true"),
            "docker -H none -g $ROOT $NET run --rm --network none busybox /bin/true"),
        "ours CLI in-process, bridge": (
            env.local_argv(which, "run", "--rm", "busybox", "/bin/true"),
            "docker -H none -g $ROOT $NET run --rm busybox /bin/true"),
    }
    if not disk:
        daemon = env.ours_daemon or env.start_ours_daemon()
        variants.update({
            "ours CLI via daemon, --network none": (
                [DOCKER, "-H", daemon, "run", "--rm", *none, "busybox", "/bin/true"],
                "docker -H $SOCK run --rm --network none busybox /bin/true"),
            "ours CLI via daemon, bridge": (
                [DOCKER, "-H", daemon, "run", "--rm", "busybox", "/bin/true"],
                "docker -H $SOCK run --rm busybox /bin/true"),
            # Without --rm: the containers are removed after each batch, untimed.
            "ours CLI via daemon, --network none, no --rm": (
                then_rm(spawn([DOCKER, "-H", daemon, "run", *none, "busybox", "/bin/true"])),
                "docker -H $SOCK run --network none busybox /bin/true"),
            "ours CLI via daemon, bridge, no --rm": (
                then_rm(spawn([DOCKER, "-H", daemon, "run", "busybox", "/bin/true"])),
                "docker -H $SOCK run busybox /bin/true"),
        })
    variants.update({
        "docker-runtime-oci run": ([OCI, "--root", oci_root, "run", "--bundle", bundle, cid],
                                   "docker-runtime-oci --root $STATE run --bundle $BUNDLE ID"),
        "crun run": (["/usr/bin/crun", "--root", crun_root, "run", "--bundle", bundle, cid],
                     "crun --root $STATE run --bundle $BUNDLE ID"),
        "runc run": (["/usr/sbin/runc", "--root", runc_root, "run", "--bundle", bundle, cid],
                     "runc --root $STATE run --bundle $BUNDLE ID"),
    })
    if not disk:
        env.dk("version")
        variants.update({
            "docker 20.10 run, --network none": (
                [*env.dk_cli(), "run", "--rm", *none, "busybox", "/bin/true"],
                "/usr/bin/docker -H $DSOCK run --rm --network none busybox /bin/true"),
            "docker 20.10 run, bridge": (
                [*env.dk_cli(), "run", "--rm", "busybox", "/bin/true"],
                "/usr/bin/docker -H $DSOCK run --rm busybox /bin/true"),
        })
    runners = {name: (v if callable(v) else spawn(v)) for name, (v, _) in variants.items()}
    # A warm-up of each (first runs fill caches), then the alternating rounds.
    for f in runners.values():
        f()
    samples = alternate(rounds, runners)
    return {name: dict(stats(samples[name]), cmd=variants[name][1]) for name in variants}


def fig_daemon(env, res):
    rounds, k = (2, 3) if env.smoke else (10, 10)
    few, many = (20, 60) if env.smoke else (20, 1000)
    seconds = 1 if env.smoke else 5
    daemon = env.ours_daemon or env.start_ours_daemon()
    env.dk("version")
    t = env.timer
    out = res.setdefault("daemon", {})
    out["few"], out["many"] = few, many

    def fill(count):
        have_ours = len(env.daemon("ps", "-aq").split())
        have_dk = len(env.dk("ps", "-aq").split())
        log(f"daemon: {count} stopped containers in each daemon (have {have_ours}/{have_dk})")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: env.daemon("run", "-d", "--network", "none", "busybox",
                                               "/bin/true"), range(count - have_ours)))
            list(pool.map(lambda _: env.dk("create", "--network", "none", "busybox",
                                           "/bin/true"), range(count - have_dk)))

    def spawn(argv):
        return lambda: [t.run(argv) for _ in range(k)]

    ours_line = {c: rcli_load.request_line(c.split()) for c in ("version", "ps -a")}
    dk_path = {"version": "/version", "ps -a": "/containers/json?all=1"}

    def ours_raw(cmd):
        path = daemon[len("unix://"):]
        return lambda: rcli_load.one(path, ours_line[cmd])

    def dk_raw(cmd):
        return lambda: http_get(env.dkp["sock"], dk_path[cmd])

    def measure(label, cmds):
        variants = {}
        for c in cmds:
            variants[f"ours: docker {c}"] = spawn([DOCKER, "-H", daemon, *c.split()])
            variants[f"docker 20.10: docker {c}"] = spawn([*env.dk_cli(), *c.split()])
        for f in variants.values():
            f()
        samples = alternate(rounds, variants)
        block = {n: stats(s) for n, s in samples.items()}
        # On the socket: slices of `seconds / rounds` alternating ours and docker's.
        for c in cmds:
            for clients in (1, 16):
                lat = {"ours": [], "docker 20.10": []}
                wall = {"ours": 0.0, "docker 20.10": 0.0}
                for r in range(rounds):
                    pair = [("ours", ours_raw(c)), ("docker 20.10", dk_raw(c))]
                    for who, fn in pair if r % 2 == 0 else pair[::-1]:
                        m = rcli_load.measure(fn, clients, seconds / rounds)
                        lat[who].extend(m["latencies"])
                        wall[who] += m["wall"]
                for who in lat:
                    plural = "s" if clients > 1 else ""
                    block[f"{who}: {c}, socket, {clients} client{plural}"] = dict(
                        stats(lat[who]), per_s=len(lat[who]) / wall[who])
        out[label] = block

    fill(few)
    measure(f"{few} containers", ["version", "ps -a"])
    fill(many)
    measure(f"{many} containers", ["ps -a"])
    out["rss"] = {"ours daemon": smaps(env.ours_daemon_pid),
                  "dockerd + containerd": total_mem(docker_daemon_pids(env))}
    log("daemon: removing the stopped containers")
    ids = env.daemon("ps", "-aq", "-notrunc").split()
    for i in range(0, len(ids), 200):
        env.daemon("rm", *ids[i:i + 200])
    ids = env.dk("ps", "-aq").split()
    for i in range(0, len(ids), 200):
        env.dk("rm", *ids[i:i + 200])


def http_get(sock_path, path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    if not buf.startswith(b"HTTP/1.0 200") and not buf.startswith(b"HTTP/1.1 200"):
        raise BenchError(f"dockerd answered {buf[:60]!r}")


def docker_daemon_pids(env):
    pids = [env.dockerd_pid]
    for p in pids_with_cmdline(env.dkp["exec_root"]):
        if os.path.basename(exe_of(p)) == "containerd":
            pids.append(p)
    return pids


def docker_shims(env):
    return [p for p in pids_with_cmdline(env.dkp["exec_root"])
            if os.path.basename(exe_of(p)).startswith("containerd-shim")]


def ours_monitors(env):
    root = env.ours_root("daemon")
    pids = []
    for cid in os.listdir(os.path.join(root, "containers")):
        try:
            with open(os.path.join(root, "containers", cid, "config.json")) as f:
                st = json.load(f)["State"]
        except (OSError, ValueError, KeyError):
            continue
        if st.get("Running") and st.get("MonitorPid"):
            pids.append(st["MonitorPid"])
    return pids


def fig_memory(env, res):
    steps = [1, 3] if env.smoke else [1, 10, 100]
    log("memory: restarting both daemons for an idle baseline")
    env.stop_ours_daemon()
    env.start_ours_daemon()
    env.stop_dockerd()
    env.start_dockerd()
    time.sleep(2)
    rows = []

    def snapshot(n):
        monitors = ours_monitors(env)
        shims = docker_shims(env)
        if len(monitors) != n or len(shims) != n:
            raise BenchError(f"expected {n} helpers, found {len(monitors)} monitors of ours "
                             f"and {len(shims)} containerd shims")
        rows.append({
            "n": n,
            "ours_daemon": smaps(env.ours_daemon_pid),
            "ours_helpers": total_mem(monitors),
            "ours_helper_each": [smaps(p) for p in monitors],
            "docker_daemons": total_mem(docker_daemon_pids(env)),
            "docker_shims": total_mem(shims),
            "docker_shim_each": [smaps(p) for p in shims],
        })

    snapshot(0)
    have = 0
    for n in steps:
        log(f"memory: {n} running sleep containers in each")
        for _ in range(n - have):
            env.daemon("run", "-d", "busybox", "sleep", "100000")
            env.dk("run", "-d", "busybox", "sleep", "100000")
        have = n
        time.sleep(2)
        snapshot(n)
    res["memory"] = rows
    log("memory: removing the containers")
    ids = env.daemon("ps", "-q", "-notrunc").split()
    for i in range(0, len(ids), 100):
        env.daemon("rm", "-f", *ids[i:i + 100])
    ids = env.dk("ps", "-q").split()
    for i in range(0, len(ids), 100):
        env.dk("rm", "-f", *ids[i:i + 100])


class FsBench:
    """Import, export and commit next to GNU tar and docker, on the loop ext4."""

    def __init__(self, env, out):
        self.env, self.out, self.t = env, out, env.timer
        self.rounds = 2 if env.smoke else 5
        self.root = env.ours_root("local")
        self.scratch = os.path.join(env.loopfs(), "scratch")
        self.shm = env.tmpfs()
        env.dk("version")

    def settle(self):
        """The previous output removed and everything synced, untimed: no run pays for
        another's writeback."""
        if os.path.exists(self.scratch):
            shutil.rmtree(self.scratch)
        sh("sync")
        # Give the freed blocks back to the RAM under the loop file (it is mounted without
        # discard, so nothing timed pays for it).
        sh("fstrim", self.env.loopfs())

    def timed(self, argv, stdin=None, stdout=None, after=None):
        def f():
            self.settle()
            dt = self.t.run(argv, stdin=stdin, stdout=stdout)
            if after:
                after()
            return [dt]
        return f

    def ours(self, *args, stdin=None):
        return self.env.local(self.root, "local", *args, stdin=stdin)

    def run(self):
        env, out = self.env, self.out
        have = env.commands()
        if "import" not in have:
            raise BenchError("this build has no `import` command")
        out["missing"] = [c for c in ("export", "commit") if c not in have]
        dirs, large = (4, 1) if env.smoke else (60, 6)
        log("fs: making the dataset (busybox + many small files + some large ones)")
        src = os.path.join(self.shm, "src")
        os.mkdir(src)
        sh(sys.executable, os.path.join(HERE, "images", "dataset.py"), src, str(dirs),
           str(large))
        sh("tar", "-C", src, "-xf", env.busybox())
        self.tarball = os.path.join(self.shm, "dataset.tar")
        sh("tar", "--numeric-owner", "-C", src, "-cf", self.tarball, ".")
        shutil.rmtree(src)
        out["tar_bytes"] = os.path.getsize(self.tarball)
        out["entries"] = len(sh("tar", "-tf", self.tarball).splitlines())
        self.tree = os.path.join(env.loopfs(), "tree")
        os.mkdir(self.tree)
        sh("tar", "-C", self.tree, "-xf", self.tarball)
        self.import_(dirs)
        if "export" in have:
            self.export()
        os.unlink(self.tarball)
        shutil.rmtree(self.tree)
        if "commit" in have:
            self.commit()
        self.settle()

    def import_(self, dirs):
        log(f"fs: import vs tar -xf, {self.rounds} rounds")

        def tar_x():
            self.settle()
            os.mkdir(self.scratch)
            return [self.t.run(["/bin/tar", "-C", self.scratch, "-xf", self.tarball])]

        samples = alternate(self.rounds, {
            "ours import": self.timed(self.env.local_argv("local", "import", "-", "bench"),
                                      stdin=self.tarball, after=lambda: self.ours("rmi", "bench")),
            "tar -xf": tar_x,
            "docker 20.10 import": self.timed([*self.env.dk_cli(), "import", "-", "dbench"],
                                              stdin=self.tarball,
                                              after=lambda: self.env.dk("rmi", "dbench")),
        })
        self.out["import"] = {n: stats(s) for n, s in samples.items()}
        # Peak memory of import, for the whole tarball and for a tenth of it.
        tenth = os.path.join(self.shm, "tenth.tar")
        sub = [f"./usr{d:02d}" for d in range(max(1, dirs // 10))]
        sh("tar", "-C", self.tree, "--numeric-owner", "-cf", tenth, *sub)
        peaks = {}
        for label, tb in (("whole", self.tarball), ("tenth", tenth)):
            rss = os.path.join(self.env.base, "rss")
            self.settle()
            self.t.run(["/usr/bin/time", "-f", "%M", "-o", rss,
                        *self.env.local_argv("local", "import", "-", "peak")], stdin=tb)
            with open(rss) as f:
                peaks[label] = {"kib": int(f.read().split()[-1]), "bytes": os.path.getsize(tb)}
            self.ours("rmi", "peak")
        self.out["import_peak"] = peaks
        os.unlink(tenth)

    def export(self):
        env = self.env
        log(f"fs: export vs tar -cf, {self.rounds} rounds")
        self.ours("import", "-", "bench", stdin=self.tarball)
        ours_c = self.ours("run", "-d", "--network", "none", "bench", "/bin/true").strip()
        self.ours("wait", ours_c)
        with open(self.tarball, "rb") as f:
            env.dk("import", "-", "dbench", input=f.read())
        dk_c = env.dk("create", "--network", "none", "dbench", "/bin/true").strip()
        out_tar = os.path.join(self.shm, "out.tar")
        samples = alternate(self.rounds, {
            "ours export": self.timed(env.local_argv("local", "export", ours_c),
                                      stdout=out_tar),
            "ours export's packer alone (pack_dir of the tree)": self.timed(
                [env.args.pack_bin, self.tree], stdout=out_tar),
            "tar -cf": self.timed(["/bin/tar", "-C", self.tree, "-cf", "-", "."],
                                  stdout=out_tar),
            "docker 20.10 export": self.timed([*env.dk_cli(), "export", dk_c], stdout=out_tar),
        })
        self.out["export"] = {n: stats(s) for n, s in samples.items()}
        os.unlink(out_tar)
        self.ours("rm", ours_c)
        self.ours("rmi", "bench")
        env.dk("rm", dk_c)
        env.dk("rmi", "dbench")

    def commit(self):
        env = self.env
        files = 1000 if env.smoke else 10000
        log(f"fs: commit of a container that wrote {files} files of 10 KiB, "
            f"{self.rounds} rounds")
        # 10,000 files of 10 KiB: 7680 random bytes in base64, written by the shell's own
        # echo (busybox-static has no split, and a process per file would take long).
        write = ["sh", "-c", "mkdir /data && b=$(head -c 7680 /dev/urandom | base64 -w 0) && "
                 f"i=0 && while [ $i -lt {files} ]; do echo \"$i $b\" > /data/f$i || exit 1; "
                 "i=$((i+1)); done"]
        ours_c = self.ours("run", "-d", "--network", "none", "busybox", *write).strip()
        dk_c = env.dk("run", "-d", "--network", "none", "busybox", *write).strip()
        for who, status in (("ours", self.ours("wait", ours_c)), ("docker", env.dk("wait", dk_c))):
            if status.strip() != "0":
                raise BenchError(f"the writing container ({who}) exited {status.strip()}")
        rw = os.path.join(self.root, "containers", ours_c, "rw")

        def tar_pipe():
            self.settle()
            os.mkdir(self.scratch)
            return [self.t.sh(f"exec /bin/tar -C {rw} -cf - . | "
                              f"/bin/tar -C {self.scratch} -xf -")]

        samples = alternate(self.rounds, {
            "ours commit": self.timed(env.local_argv("local", "commit", ours_c, "benchc"),
                                      after=lambda: self.ours("rmi", "benchc")),
            "tar -c, piped to tar -x, of the layer": tar_pipe,
            "docker 20.10 commit": self.timed([*env.dk_cli(), "commit", dk_c, "dbenchc"],
                                              after=lambda: env.dk("rmi", "dbenchc")),
        })
        self.out["commit"] = {n: stats(s) for n, s in samples.items()}
        self.out["commit_files"] = files
        self.ours("rm", ours_c)
        env.dk("rm", dk_c)


def fig_fs(env, res):
    FsBench(env, res.setdefault("fs", {})).run()


def fig_netsetup(env, res):
    cycles = 10 if env.smoke else 200
    log(f"network setup breakdown: bench/network, {cycles} cycles")
    p = subprocess.Popen([env.args.netbench_bin, str(cycles)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    env.journal.add("netbench", pid=p.pid)
    out, err = p.communicate(timeout=1800)
    if p.returncode != 0:
        raise BenchError(f"bench/network exited {p.returncode}: {err.strip()[-2000:]}")
    res["netsetup"] = {"text": out.strip(), "cycles": cycles}


# --------------------------------------------------------------------------------------------
# The report


def ms(s):
    v = s * 1000
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def signed_ms(s):
    return ("+" if s >= 0 else "-") + ms(abs(s))


def span_ms(st):
    return f"{ms(st['min'])}-{ms(st['max'])}"


def ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


def summary(w, res):
    """The targets of the issues, against this run's medians."""
    rows = []

    def row(target, measured, met):
        rows.append((target, measured, "yes" if met else "**no**"))

    r = res.get("run")
    if r:
        crun = r["crun run"]["median"]
        for who in ("ours ABI", "ours CLI via daemon"):
            m = r[f"{who}, --network none"]["median"]
            row("`run /bin/true` without network at or below crun (#4)",
                f"{who}: {ms(m)} ms vs crun {ms(crun)} ms ({ratio(m, crun)}x)", m <= crun)
        for who in ("ours ABI", "ours CLI via daemon"):
            d = r[f"{who}, bridge"]["median"] - r[f"{who}, --network none"]["median"]
            row("network setup adds under 5 ms (#5)", f"{who}, `run --rm`: {signed_ms(d)} ms",
                d < 0.005)
        o = r["docker-runtime-oci run"]["median"]
        row("`docker-runtime-oci run` of /bin/true at or below crun (#14)",
            f"{ms(o)} ms vs crun {ms(crun)} ms ({ratio(o, crun)}x)", o <= crun)
        d = (r["ours CLI via daemon, bridge, no --rm"]["median"]
             - r["ours CLI via daemon, --network none, no --rm"]["median"])
        row("network setup adds under 5 ms (#5)",
            f"ours CLI via daemon, `run`: {signed_ms(d)} ms", d < 0.005)
    c = res.get("ctr")
    if c:
        o, cr = c["docker-runtime-oci"]["median"], c["crun"]["median"]
        row("`ctr run --rm` with ours at or below crun (#14)",
            f"{ms(o)} ms vs crun {ms(cr)} ms ({ratio(o, cr)}x)", o <= cr)
    d = res.get("daemon")
    if d and "rss" in d:
        few = d[f"{d['few']} containers"]
        for c in ("version", "ps -a"):
            m = few[f"ours: docker {c}"]["median"]
            row(f"`docker {c}` round trip through the daemon under 3 ms (#6)",
                f"{ms(m)} ms with {d['few']} containers (client process start to exit)",
                m < 0.003)
    rs = res.get("restore")
    if rs and "restore" in rs:
        q = rs["restore"]["median"] / rs["floor"]["median"]
        row(f"restore of {rs['n']} stopped containers within 2x of the parse floor (#8)",
            f"{q:.2f}x ({ms(rs['restore']['median'])} ms vs {ms(rs['floor']['median'])} ms)",
            q <= 2)
    f = res.get("fs", {})
    if "import" in f:
        q = f["import"]["tar -xf"]["median"] / f["import"]["ours import"]["median"]
        row("import at least 0.9x `tar -xf`'s throughput (#3)", f"{q:.2f}x", q >= 0.9)
        p = f["import_peak"]
        row("import's peak memory does not grow with the tarball (#3)",
            f"{p['whole']['kib']} KiB (whole) vs {p['tenth']['kib']} KiB (a tenth)",
            p["whole"]["kib"] <= p["tenth"]["kib"] * 1.25)
    m = res.get("memory")
    if m and m[-1]["n"]:
        last, idle = m[-1], m[0]
        per = ((last["ours_daemon"]["pss"] + last["ours_helpers"]["pss"]
                - idle["ours_daemon"]["pss"]) / last["n"])
        row("memory per running container well under 1 MiB (#4)",
            f"{per:.0f} KiB PSS (daemon growth + monitor) at N={last['n']}", per < 512)
    a = res.get("alloc")
    if a:
        slash8 = a["creation"][-1]["ours_s"]["median"]
        row("allocator creation O(1), a /8 as cheap as a /24 (#2)",
            f"/8 in {slash8 * 1e6:.2f} µs", slash8 < 1e-4)
    if not rows:
        return
    w("## Summary against the targets of the issues")
    w("")
    w("| target | this run | met |")
    w("| --- | --- | --- |")
    for t, v, ok in rows:
        w(f"| {t} | {v} | {ok} |")
    w("")


def code(cmd):
    """A command as a code span in a table cell (a pipe would end the cell)."""
    return "`" + cmd.replace("|", "\\|") + "`"


def run_table(w, r, peers):
    w("| variant | median ms | min-max ms | " + " | ".join(f"/ {p}" for p, _ in peers) +
      " | command |")
    w("| --- | ---: | ---: | " + " | ".join("---:" for _ in peers) + " | --- |")
    for name, st in r.items():
        m = st["median"]
        w(f"| {name} | {ms(m)} | {span_ms(st)} | " +
          " | ".join(ratio(m, v) for _, v in peers) + f" | `{st['cmd']}` |")


def machine_facts(env):
    def first_line(*argv):
        try:
            return sh(*argv, check=False).strip().splitlines()[0]
        except (IndexError, OSError):
            return "?"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = int(open("/proc/meminfo").readline().split()[1]) // 1024 // 1024
    commit = sh("git", "-C", REPO, "rev-parse", "--short", "HEAD", check=False).strip()
    dirty = sh("git", "-C", REPO, "status", "--porcelain", "--untracked-files=no",
               check=False).strip()
    facts = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": f"{mem} GiB",
        "kernel": platform.release(),
        "os": "Debian " + open("/etc/debian_version").read().strip(),
        "docker-runtime": f"{first_line(DOCKER, '-H', env.nodaemon, 'version')} "
                          f"(commit {commit}{', with local changes' if dirty else ''}, "
                          "release build)",
        "crun": first_line("crun", "--version"),
        "runc": first_line("runc", "--version"),
        "docker (Debian)": first_line(DOCKERD, "--version"),
        "GNU tar": first_line("tar", "--version"),
        "python": platform.python_version(),
    }
    facts.update(env.facts)
    facts["load average (1, 5, 15 min)"] = (
        f"{' '.join(env.load_at_start)} at the start, "
        f"{' '.join(open('/proc/loadavg').read().split()[:3])} at the end (2 cores, shared "
        "with other work: the spread of the samples grows with it)")
    return facts


def render(env, res, facts, smoke):
    L = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("Generated by `bench/run.sh`" + (" --smoke (tiny sizes: not figures to quote)" if smoke
                                       else "") + f" on {facts['date']}. Rerun it to refresh "
      "this file; do not edit the numbers by hand.")
    w("")
    w("    bash bench/run.sh                   # as root: everything; rewrites BENCHMARKS.md")
    w("    bash bench/run.sh --smoke           # tiny sizes, under 2 minutes; prints the tables")
    w("    bash bench/run.sh --only run,daemon # some figures: " + ", ".join(FIGURES))
    w("")
    w("The command installs the peers from Debian (crun, runc, docker.io, hyperfine) and the "
      "tools it needs, builds the release binaries, and then, on resources it makes and removes "
      "itself (also after a failure): a fresh loop-mounted ext4 and a tmpfs for every file, "
      "its own bridges on /24s no host route covers, its own nat chains, our daemon and "
      "Debian's `dockerd` each on its own root, socket and exec root (dockerd with "
      "`--bridge` on the harness's bridge, `--iptables=false --ip-forward=false "
      "--ip-masq=false --userland-proxy=false`, its own `--cgroup-parent`), the `hugetlb` "
      "cgroup controller moved to a v1 mount for crun. Traffic stays on the harness's own "
      "bridges. The host's default route, `eth0`, FORWARD policy and IP forwarding are never "
      "changed (checked at the end).")
    w("")
    w("Method: ours and its peers alternate within each round (the order rotates every round); "
      "a figure is the median of all its samples, with the min-max range; a ratio is ours "
      "over the peer, medians (below 1: ours is faster or smaller). Process start-to-exit "
      "times are taken by the harness with `posix_spawn` + `wait4` (`host /bin/true` shows "
      "that floor). In the commands, `$ROOT` is a runtime root on the loop file system, "
      "`$NET` is `-b BRIDGE --bip CIDR --iptables-chain CHAIN --ip-forward=false`, `$SOCK` our "
      "daemon's socket, `$DSOCK` dockerd's; `-H none` asks for no daemon: the client runs the "
      "command in-process.")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("| --- | --- |")
    for k, v in facts.items():
        if k != "date":
            w(f"| {k} | {v} |")
    w("")

    summary(w, res)

    if "run" in res:
        r = res["run"]
        crun = r["crun run"]["median"]
        runc = r["runc run"]["median"]
        dk_none = r["docker 20.10 run, --network none"]["median"]
        dk_br = r["docker 20.10 run, bridge"]["median"]
        w("## 1. `run IMAGE /bin/true`, from the call to the exit")
        w("")
        w(f"{r['crun run']['n']} runs of each, busybox image (contrib/mkimage-busybox.sh; the same "
          "rootfs as an OCI bundle for crun and runc, whose `config.json` is `crun spec` with "
          "`args` `/bin/true` and no rlimits). `--network none` and crun/runc: a network "
          "namespace with loopback only; bridge: a veth pair on the runtime's bridge with an "
          "address, as docker's default network. Every root, state directory, bundle and "
          "dockerd's data root is on the RAM-backed loop ext4 (see Machine). ABI: "
          "`docker_runtime_call_with` from Python ctypes (bench/abi_run.py), one runtime per "
          "batch of runs, its first call untimed, with the runtime option `warm_start` on as a "
          "long-lived embedding program would set it (one docker-init helper and its cgroup v1 "
          "folders prepared ahead of each start).")
        w("")
        run_table(w, r, [("crun", crun), ("runc", runc), ("docker none", dk_none)])
        w("")
        w("Cost of the network (bridge minus `--network none`, medians):")
        w("")
        for who in ("ours ABI", "ours CLI in-process", "ours CLI via daemon"):
            d = r[f"{who}, bridge"]["median"] - r[f"{who}, --network none"]["median"]
            w(f"- {who}: {signed_ms(d)} ms")
        d = (r["ours CLI via daemon, bridge, no --rm"]["median"]
             - r["ours CLI via daemon, --network none, no --rm"]["median"])
        w(f"- ours CLI via daemon, without `--rm`: {signed_ms(d)} ms")
        w(f"- docker 20.10: {signed_ms(dk_br - dk_none)} ms")
        w("")
        if "ours ABI, --network none, seccomp=unconfined" in r:
            d = (r["ours ABI, --network none"]["median"]
                 - r["ours ABI, --network none, seccomp=unconfined"]["median"])
            w(f"Cost of the default seccomp filter (ours ABI, `--network none`, minus the same "
              f"with `--security-opt seccomp=unconfined`, medians): {signed_ms(d)} ms. The "
              f"filter is compiled once per profile; each start resolves docker's profile "
              f"for the container's capabilities, sends the program and installs it.")
            w("")
        w("The `no --rm` rows keep their containers, which are removed after each batch, "
          "untimed.")
        w("")
        w(f"Ours through the daemon with a bridge vs docker with its bridge: "
          f"{ratio(r['ours CLI via daemon, bridge']['median'], dk_br)}.")
        w("")
    if "run_disk" in res:
        r = res["run_disk"]
        w("### 1b. The same with the state on the disk")
        w("")
        w("The same runs, alternating again, with our root, crun's and runc's state and the "
          "bundle on the disk-backed loop ext4 (see Machine for what an fsync cost there at "
          "the start): the difference from figure 1 is what the disk costs each of them. Our "
          "runtime writes each state change atomically (temporary file, fsync, rename, fsync of "
          "the folder); crun and runc keep their state without fsync.")
        w("")
        run_table(w, r, [("crun", r["crun run"]["median"]), ("runc", r["runc run"]["median"])])
        w("")

    if "ctr" in res:
        r = res["ctr"]
        w("### 1c. Through containerd: `ctr run --rm`")
        w("")
        w(f"{r['crun']['n']} runs of each: Debian's containerd on its own root, state folder and "
          "socket, its runc shim (`io.containerd.runc.v2`) running ours, crun and runc in turn "
          "as the runc binary (`--runc-binary`), the busybox image imported as a docker-archive. "
          "A run is `ctr` start to exit: the shim's start, create, start, wait, delete and the "
          "snapshot's mount, the same for every runtime.")
        w("")
        run_table(w, r, [("crun", r["crun"]["median"]), ("runc", r["runc"]["median"])])
        w("")

    if "import" in res.get("fs", {}):
        f = res["fs"]
        mb = f["tar_bytes"] / 1e6
        w("## 2. Images: import, export, commit")
        w("")
        w(f"Tarball: {mb:.0f} MB, {f['entries']} entries (busybox plus many small files, "
          "lognormal sizes, and some large ones of 20 MiB; the generator of bench/images), read "
          "from a tmpfs; every output on the loop ext4, removed and `sync`ed (untimed) before "
          "each run, so no run pays for another's writeback. Times are to the command's exit "
          "(no `sync` after it, for any of them).")
        w("")
        w("| operation | median s | min-max s | MB/s | ours / peer | command |")
        w("| --- | ---: | ---: | ---: | ---: | --- |")
        cmds = {
            "ours import": "docker -H none -g $ROOT import - bench < dataset.tar",
            "tar -xf": "tar -C $EMPTY -xf dataset.tar",
            "docker 20.10 import": "/usr/bin/docker -H $DSOCK import - dbench < dataset.tar",
            "ours export": "docker -H none -g $ROOT export CONTAINER > out.tar",
            "ours export's packer alone (pack_dir of the tree)":
                "target/release/examples/image-pack $TREE > out.tar",
            "tar -cf": "tar -C $TREE -cf - . > out.tar",
            "docker 20.10 export": "/usr/bin/docker -H $DSOCK export CONTAINER > out.tar",
            "ours commit": "docker -H none -g $ROOT commit CONTAINER benchc",
            "tar -c, piped to tar -x, of the layer": "tar -C $ROOT/containers/ID/rw -cf - . "
                                                     "| tar -C $EMPTY -xf -",
            "docker 20.10 commit": "/usr/bin/docker -H $DSOCK commit CONTAINER dbenchc",
        }
        for op, ours_name in (("import", "ours import"), ("export", "ours export"),
                              ("commit", "ours commit")):
            if op not in f:
                continue
            block = f[op]
            om = block[ours_name]["median"]
            size = mb if op != "commit" else f["commit_files"] * 10240 / 1e6
            for name, st in block.items():
                rat = "" if name == ours_name else ratio(om, st["median"])
                w(f"| {name} | {st['median']:.3f} | {st['min']:.3f}-{st['max']:.3f} | "
                  f"{size / st['median']:.0f} | {rat} | {code(cmds[name])} |")
        w("")
        for c in f.get("missing", []):
            w(f"Not measured: this build has no `{c}` command.")
            w("")
        p = f["import_peak"]
        w(f"Peak memory of `import` (GNU time's maximum RSS): {p['whole']['kib']} KiB for the "
          f"whole tarball ({p['whole']['bytes'] / 1e6:.0f} MB), {p['tenth']['kib']} KiB for a "
          f"tenth of it ({p['tenth']['bytes'] / 1e6:.0f} MB).")
        w("")
        if "commit" in f:
            w(f"Commit: the container wrote {f['commit_files']} files of 10 KiB "
              f"({f['commit_files'] * 10240 / 1e6:.0f} MB) of random base64 text with "
              "the shell's echo; ours and docker's containers ran the same command.")
            w("")

    if "rss" in res.get("daemon", {}):
        d = res["daemon"]
        w("## 3. Round trip through the daemon")
        w("")
        w("Client process start to exit (`docker -H $SOCK COMMAND` vs `/usr/bin/docker -H "
          "$DSOCK COMMAND`), and on the socket itself without a client process (a Python "
          "client: rcli/2 for ours, `GET /version` and `GET /containers/json?all=1` over HTTP "
          "for docker), one client and 16 at once. `ps -a` lists stopped containers (ours "
          "made with `run -d --network none busybox /bin/true`, docker's with `create`).")
        w("")
        w("| containers | what | median ms | min-max ms | requests/s | ours / docker | "
          "command |")
        w("| --- | --- | ---: | ---: | ---: | ---: | --- |")

        def command(name):
            who, _, what = name.partition(": ")
            cmd = what.split(",")[0].removeprefix("docker ")
            if ", socket" not in what:
                return (f"docker -H $SOCK {cmd}" if who == "ours"
                        else f"/usr/bin/docker -H $DSOCK {cmd}")
            if who == "ours":
                return f"bench/daemon/load.py: rcli/2 {json.dumps(cmd.split())} on $SOCK"
            path = "/version" if cmd == "version" else "/containers/json?all=1"
            return f"GET {path} HTTP/1.0 on $DSOCK"

        for label in (f"{d['few']} containers", f"{d['many']} containers"):
            block = d[label]
            for name, st in block.items():
                if not name.startswith("ours"):
                    continue
                peer_name = name.replace("ours", "docker 20.10", 1)
                peer = block.get(peer_name)
                per_s = f"{st['per_s']:.0f}" if "per_s" in st else ""
                w(f"| {label} | {name} | {ms(st['median'])} | {span_ms(st)} | {per_s} | "
                  f"{ratio(st['median'], peer['median']) if peer else ''} | "
                  f"{code(command(name))} |")
                if peer:
                    per_s = f"{peer['per_s']:.0f}" if "per_s" in peer else ""
                    w(f"| {label} | {peer_name} | {ms(peer['median'])} | {span_ms(peer)} | "
                      f"{per_s} | | {code(command(peer_name))} |")
        w("")
        w("The socket load generator is Python (threads under one interpreter lock): with 16 "
          "clients it, not our daemon, is the limit for the fast commands.")
        w("")
        rss = d["rss"]
        w(f"With {d['many']} stopped containers: our daemon {rss['ours daemon']['rss']} KiB "
          f"RSS ({rss['ours daemon']['pss']} KiB PSS); dockerd + containerd "
          f"{rss['dockerd + containerd']['rss']} KiB RSS "
          f"({rss['dockerd + containerd']['pss']} KiB PSS).")
        w("")

    if "restore" in res and "restore" in res["restore"]:
        r = res["restore"]
        w("## 4. Runtime creation and restore")
        w("")
        w(f"{r['n']} stopped containers on disk (one made by `run`, the others copies of its "
          "folder with new ids); each run is a fresh process; page cache warm for both.")
        w("")
        w("| | median ms | min-max ms | per container µs | peak RSS KiB | command |")
        w("| --- | ---: | ---: | ---: | ---: | --- |")
        for key, label in (("restore", "Runtime::new + restore"),
                           ("floor", "floor: read + parse every config.json")):
            st, rs = r[key], r[key + "_rss"]
            w(f"| {label} | {ms(st['median'])} | {span_ms(st)} | "
              f"{st['median'] / r['n'] * 1e6:.1f} | {rs['median']:.0f} | `{r['cmd_' + key]}` |")
        w("")
        w(f"Restore / floor: {ratio(r['restore']['median'], r['floor']['median'])} "
          "(target: within 2x).")
        w("")

    if "alloc" in res:
        a = res["alloc"]
        w("## 5. Allocators")
        w("")
        w("Ours (a range and a sorted set of allocated values, O(1) to create) next to v0.1.0's "
          "design reimplemented in the bench only: a bounded channel pre-filled with every "
          "address (4-byte values here; v0.1.0 kept Go `net.IP` slices, heavier still). "
          f"Command: `{a['cmd']}`.")
        w("")
        w("| pool | ours: create | v0.1.0 queue: create | queue memory | ratio |")
        w("| --- | ---: | ---: | ---: | ---: |")
        for c in a["creation"]:
            o, q = c["ours_s"]["median"], c["queue_s"]["median"]
            w(f"| {c['cidr']} | {o * 1e6:.2f} µs | {q * 1e3:.3f} ms | "
              f"{c['queue_rss_kib'] / 1024:.1f} MiB | {q / o:.0f}x faster |")
        p = a["ports"]
        o, q = p["ours_create_s"]["median"], p["queue_create_s"]["median"]
        w(f"| ports {p['range']} | {o * 1e6:.2f} µs | {q * 1e3:.3f} ms | | {q / o:.0f}x "
          "faster |")
        w("")
        w("| pool | acquire+release pairs/s: ours | through the C ABI | v0.1.0 queue |")
        w("| --- | ---: | ---: | ---: |")
        for c in a["pairs"]:
            w(f"| {c['cidr']} (100 held) | {c['ours_per_s']['median'] / 1e6:.1f} M | "
              f"{c['ours_abi_per_s']['median'] / 1e6:.1f} M | "
              f"{c['queue_per_s']['median'] / 1e6:.1f} M |")
        w(f"| ports {p['range']} | {p['ours_per_s']['median'] / 1e6:.1f} M | | "
          f"{p['queue_per_s']['median'] / 1e6:.1f} M |")
        w("")
        c = a["calls"]
        w(f"`docker_runtime_call(\"version\")` in-process: {c['per_s']:.0f} calls/s "
          f"(`{a['calls_cmd']}`).")
        w("")

    if res.get("memory"):
        rows = res["memory"]
        idle = rows[0]
        w("## 6. Memory: daemon idle, and per running container")
        w("")
        w("`sleep` containers started with `run -d busybox sleep 100000` on each daemon's "
          "bridge. Ours: the daemon plus one `docker-init` monitor per container (the helper's "
          "first process, which stays in the host's namespaces and waits); docker: dockerd and "
          "containerd plus one `containerd-shim-runc-v2` per container. The containers' own "
          "processes are not counted. KiB from `/proc/PID/smaps_rollup`; per container = "
          "(total at N - total idle) / N.")
        w("")
        w("| N | ours daemon RSS / PSS | ours monitors PSS (private) | ours per container PSS | "
          "dockerd+containerd RSS / PSS | shims PSS (private) | docker per container PSS |")
        w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            n = r["n"]
            ot = r["ours_daemon"]["pss"] + r["ours_helpers"]["pss"]
            dt = r["docker_daemons"]["pss"] + r["docker_shims"]["pss"]
            o0 = idle["ours_daemon"]["pss"]
            d0 = idle["docker_daemons"]["pss"]
            per_o = f"{(ot - o0) / n:.0f}" if n else ""
            per_d = f"{(dt - d0) / n:.0f}" if n else ""
            w(f"| {n} | {r['ours_daemon']['rss']} / {r['ours_daemon']['pss']} | "
              f"{r['ours_helpers']['pss']} ({r['ours_helpers']['private']}) | {per_o} | "
              f"{r['docker_daemons']['rss']} / {r['docker_daemons']['pss']} | "
              f"{r['docker_shims']['pss']} ({r['docker_shims']['private']}) | {per_d} |")
        last = rows[-1]
        if last["ours_helper_each"]:
            mo = statistics.median(h["rss"] for h in last["ours_helper_each"])
            mp = statistics.median(h["private"] for h in last["ours_helper_each"])
            sd = statistics.median(h["rss"] for h in last["docker_shim_each"])
            sp = statistics.median(h["private"] for h in last["docker_shim_each"])
            w("")
            w(f"One helper (median at N={last['n']}): our monitor {mo:.0f} KiB RSS, {mp:.0f} KiB "
              f"private; containerd-shim-runc-v2 {sd:.0f} KiB RSS, {sp:.0f} KiB private.")
        w("")

    if "netsetup" in res:
        n = res["netsetup"]
        w("## Network setup per container, in detail (bench/network)")
        w("")
        w(f"`cargo bench --bench network -- {n['cycles']}`: the network manager's allocate, "
          "attach (veth pair, move, rename, address, route) and release, against the same "
          "steps done by running `ip`/`iptables` once per step (as v0.1.0's lxc scripts did).")
        w("")
        w("```")
        w(n["text"])
        w("```")
        w("")
    w("## Not measured here")
    w("")
    w("podman and lxc-execute, quoted in the issues as further peers, are not installed or run "
      "by the harness. Debian's docker runs without its iptables rules (`--iptables=false`), "
      "which it would otherwise add once at start, not per container without `-p`.")
    w("")
    if res.get("errors"):
        w("## Figures that failed in this run")
        w("")
        for fig, msg in res["errors"].items():
            w(f"- {fig}: {msg}")
        w("")
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------------------------


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "cleanup":
        sys.exit(0 if cleanup(sys.argv[2]) else 1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", default=",".join(FIGURES))
    ap.add_argument("--out")
    ap.add_argument("--journal", required=True)
    ap.add_argument("--figures-bin", required=True)
    ap.add_argument("--netbench-bin", required=True)
    ap.add_argument("--pack-bin", required=True)
    args = ap.parse_args()
    only = [f for f in args.only.split(",") if f]
    for f in only:
        if f not in FIGURES:
            ap.error(f"unknown figure {f!r}: pick from {', '.join(FIGURES)}")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (mounts, bridges, iptables, containers)")

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    res = {"errors": {}}
    env = None
    ok = True
    try:
        env = Env(args)
        funcs = {"alloc": fig_alloc, "restore": fig_restore, "run": fig_run, "ctr": fig_ctr,
                 "daemon": fig_daemon, "memory": fig_memory, "fs": fig_fs,
                 "netsetup": fig_netsetup}
        for name in FIGURES:
            if name not in only:
                continue
            t0 = time.time()
            try:
                funcs[name](env, res)
                log(f"{name}: done in {time.time() - t0:.0f} s")
            except BenchError as e:
                ok = False
                res["errors"][name] = str(e)
                log(f"{name}: FAILED: {e}")
            except Exception as e:  # a bug in the harness: say where, go on with the rest
                ok = False
                res["errors"][name] = f"{type(e).__name__}: {e}"
                log(f"{name}: FAILED:\n{traceback.format_exc()}")
        try:
            report = render(env, res, machine_facts(env), args.smoke)
        except Exception:  # a bug in the report: keep the numbers
            ok = False
            log(f"render: FAILED:\n{traceback.format_exc()}")
            report = "```\n" + json.dumps(res, indent=1) + "\n```\n"
    finally:
        if env:
            for stop in (env.stop_ours_daemon, env.stop_dockerd):
                try:
                    stop()
                except Exception as e:  # cleanup below kills it anyway
                    log(f"stopping: {e}")
        clean = cleanup(args.journal)
    out = args.out
    if out:
        with open(out, "w") as f:
            f.write(report)
        log(f"wrote {out}")
    print(report)
    if not clean:
        log("the cleanup left something behind (listed above)")
        sys.exit(2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
