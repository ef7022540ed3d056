"""Fixtures of the Python tests (as tests/common/ does for Rust): a temporary root with its own
bridge, subnet, iptables chains and public ports, the busybox image, and a local registry; all
removed again, also when a test fails."""

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYTHON_DIR)
BIN_DIR = os.environ.get("DOCKER_RUNTIME_BIN_DIR", os.path.join(REPO, "target", "debug"))

sys.path.insert(0, PYTHON_DIR)

import docker_runtime as dr  # noqa: E402

_BUILTINS = [("nat", "PREROUTING"), ("nat", "OUTPUT"), ("nat", "POSTROUTING"),
             ("mangle", "FORWARD"), ("filter", "FORWARD"), ("filter", "INPUT")]
_next = 0
_busybox_tar: Optional[bytes] = None


def busybox_tar() -> bytes:
    """The busybox image's root filesystem as a tar (contrib/mkimage-busybox.sh), made once."""
    global _busybox_tar
    if _busybox_tar is None:
        _busybox_tar = subprocess.run(
            ["bash", os.path.join(REPO, "contrib", "mkimage-busybox.sh")], check=True,
            stdout=subprocess.PIPE).stdout
    return _busybox_tar


def _host_routes() -> List[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-4", "route", "show", "table", "all"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    nets = []
    for line in out.splitlines():
        words = line.split()
        if words and words[0] in ("local", "broadcast", "unicast", "multicast"):
            words = words[1:]
        if not words or words[0] == "default":
            continue
        try:
            nets.append(ipaddress.ip_network(words[0], strict=False))
        except ValueError:
            pass
    return nets


def _subnet(n: int) -> str:
    pid = os.getpid()
    routes = _host_routes()
    for k in range(256):
        net = ipaddress.ip_network(f"10.{200 + pid % 50}.{(n * 11 + pid // 50 + k) % 256}.0/24")
        if not any(net.overlaps(r) for r in routes if isinstance(r, ipaddress.IPv4Network)):
            return f"{net.network_address + 1}/24"
    raise RuntimeError("no free 10.2xx.x.0/24 subnet")


def iptables(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["iptables", "-w", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


class Fixture:
    """A runtime on a temporary root with this test's own network (bridge `drpyPIDN`, chain
    `DRPYPIDNN`, a 10.2xx.x.0/24 subnet no host route covers, 20 public ports above the Rust
    fixtures' ranges). `busybox=True` imports the busybox image. `close()` removes the
    containers, the runtime, the network and the folder."""

    def __init__(self, tag: str, busybox: bool = True) -> None:
        global _next
        n, _next = _next, _next + 1
        pid = os.getpid()
        self.dir = tempfile.mkdtemp(prefix=f"dr-py-{tag}-")
        self.root = os.path.join(self.dir, "root")
        self.bridge = f"drpy{pid % 1000}{n}"
        self.chain = f"DRPY{pid}N{n}"
        first = 33000 + ((pid % 50) * 4 + n % 4) * 20
        self.ports = (first, first + 19)
        self.rt: Optional[dr.Runtime] = None
        try:
            self.rt = dr.Runtime(self.root, bridge_name=self.bridge, bridge_subnet=_subnet(n),
                                 iptables_chain=self.chain, port_range=self.ports,
                                 init_path=os.path.join(BIN_DIR, "docker-init"),
                                 ip_forward=False)
            if busybox:
                status, _, err = self.rt.call("import", "-", "busybox", stdin=busybox_tar())
                assert status == 0, err
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.rt is not None and not self.rt.closed:
            _, out, _ = self.rt.call("ps", "-a", "-q", "--no-trunc")
            for cid in out.decode().split():
                self.rt.call("rm", "-f", cid)
            self.rt.close()
            self.rt = None
        remove_network(self.bridge, self.chain)
        shutil.rmtree(self.dir, ignore_errors=True)


def remove_network(bridge: str, chain: str) -> None:
    chains = [("nat", chain), ("nat", f"{chain}-POST"), ("mangle", f"{chain}-ISO"),
              ("filter", f"{chain}-FWD"), ("filter", f"{chain}-IN")]
    for table, builtin in _BUILTINS:
        for line in iptables("-t", table, "-S", builtin).stdout.splitlines():
            if line.startswith("-A ") and any(line.endswith(f"-j {c}") for _, c in chains):
                iptables("-t", table, "-D", *line[3:].split())
    for table, c in chains:
        iptables("-t", table, "-F", c)
        iptables("-t", table, "-X", c)
    subprocess.run(["ip", "link", "del", bridge], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def eventually(f, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while not f():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    """Debian's docker-registry on a free 127.0.0.1 port with temporary storage; stopped and
    removed by close()."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="dr-py-registry-")
        self.proc: Optional[subprocess.Popen] = None
        for _ in range(10):
            self.port = free_port()
            config = os.path.join(self.dir, "config.yml")
            with open(config, "w") as f:
                f.write("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                        f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/storage\n"
                        f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: test-secret\n")
            log = open(os.path.join(self.dir, "registry.log"), "wb")
            self.proc = subprocess.Popen(["docker-registry", "serve", config],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            if eventually(lambda: self.proc.poll() is not None or self._up(), 20):
                if self.proc.poll() is None:
                    return
        self.close()
        raise RuntimeError("docker-registry did not start")

    def _up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
