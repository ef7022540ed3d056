"""The runtime handle: the docker-py-like collections (`containers`, `images`, `volumes`,
`events()`) and
the low-level layer beside them (the command dispatch `call`, the runtime's address and port
pools)."""

from __future__ import annotations

import os
import traceback
from ctypes import byref, c_char_p, c_int, c_size_t, c_uint16, c_void_p, create_string_buffer
from typing import TYPE_CHECKING, Callable, Optional, Sequence, Tuple

from . import _lib
from ._callbacks import running_callback
from ._handle import Closing
from ._pipes import Collector, Feeder
from ._structs import LOG_CALLBACK, CallOptions, RuntimeOptions, Text, encode
from .errors import DockerError

if TYPE_CHECKING:
    from .events import EventStream

__all__ = ["Runtime", "LOG_LEVELS"]

LOG_LEVELS = {0: "default", 1: "error", 2: "warning", 3: "info", 4: "debug"}

LogFunction = Callable[[str, str], None]


class Runtime(Closing):
    """A runtime on `root` (made if missing). Keyword options: bridge_name, bridge_subnet,
    iptables_chain, init_path, port_range=(first, last), log=callable(level_name, message)
    (called on library threads; an exception it raises is printed, never lost silently),
    debug, ip_forward (False: never turn on net.ipv4.ip_forward), max_layer_bytes and
    max_layer_entries (what one image layer may unpack to; 0: the defaults),
    insecure_registries (a list of HOST[:PORT] whose certificate is not checked, spoken to
    over http when they have no TLS) and registry_certs_dir (per-registry CA folders,
    DIR/HOST:PORT/ca.crt; default /etc/docker/certs.d), warm_start (True: keep one
    docker-init helper started ahead for the next container start, for a long-lived program;
    it costs one idle process and four empty cgroup folders).

    A context manager; `close()` frees the handle. Containers opened from it stay usable after
    (the library keeps what they need alive)."""

    def __init__(self, root: Text, bridge_name: Optional[Text] = None,
                 bridge_subnet: Optional[Text] = None, iptables_chain: Optional[Text] = None,
                 init_path: Optional[Text] = None, port_range: Optional[Tuple[int, int]] = None,
                 log: Optional[LogFunction] = None, debug: bool = False,
                 ip_forward: bool = True, max_layer_bytes: int = 0,
                 max_layer_entries: int = 0,
                 insecure_registries: Sequence[Text] = (),
                 registry_certs_dir: Optional[Text] = None,
                 warm_start: bool = False) -> None:
        self._h: Optional[c_void_p] = None
        lib = _lib.load()
        opts = RuntimeOptions.init()
        insecure = (",".join(os.fsdecode(h) for h in insecure_registries)
                    if insecure_registries else None)
        keep = [encode(v, k) for k, v in (("bridge_name", bridge_name),
                                          ("bridge_subnet", bridge_subnet),
                                          ("iptables_chain", iptables_chain),
                                          ("init_path", init_path),
                                          ("insecure_registries", insecure),
                                          ("registry_certs_dir", registry_certs_dir))]
        (opts.bridge_name, opts.bridge_subnet, opts.iptables_chain, opts.init_path,
         opts.insecure_registries, opts.registry_certs_dir) = keep
        if port_range is not None:
            opts.port_first, opts.port_last = port_range
        if debug:
            opts.log_level = 4
        if not ip_forward:
            opts.disable_ip_forward = 1
        opts.max_layer_bytes, opts.max_layer_entries = max_layer_bytes, max_layer_entries
        opts.warm_start = 1 if warm_start else 0
        # Referenced for the handle's life: the library calls it until docker_runtime_free.
        self._log_cb = LOG_CALLBACK(_log_trampoline(log)) if log is not None else None
        if self._log_cb is not None:
            opts.log_callback = self._log_cb
        handle = c_void_p()
        _lib.check(lib.docker_runtime_new(encode(root, "root"), byref(opts), byref(handle)))
        self._h = handle
        self.root = os.fsdecode(root)
        from .containers import ContainerCollection
        from .images import ImageCollection
        from .volumes import VolumeCollection
        self.containers = ContainerCollection(self)
        self.images = ImageCollection(self)
        self.volumes = VolumeCollection(self)

    @property
    def handle(self) -> c_void_p:
        """The `docker_runtime *` (ValueError once closed)."""
        if not self._h:
            raise ValueError("operation on a closed Runtime")
        return self._h

    @property
    def closed(self) -> bool:
        return not self._h

    def close(self) -> None:
        if self._h:
            _lib.load().docker_runtime_free(self._h)
            self._h = None

    def events(self, decode: bool = False) -> "EventStream":
        """Container and image events from now on, as `docker events` shows them: an iterator
        of JSON bytes (dicts with decode=True), blocking for the next; closed by `.close()`, a
        `with` block, or garbage collection."""
        from .events import EventStream
        return EventStream(self, decode)

    def restore(self) -> int:
        """Reconcile the containers of the root with the processes alive; returns how many
        were restored."""
        n = c_size_t()
        _lib.check(_lib.load().docker_runtime_restore(self.handle, byref(n)))
        return n.value

    # The command dispatch.

    def call_fds(self, args: Sequence[Text], stdin_fd: int = -1, stdout_fd: int = 1,
                 stderr_fd: int = 2, tty: Optional[Tuple[int, int]] = None) -> int:
        """Run a command with the given descriptors; returns the exit status. A failed
        command raises DockerError (its status is in .status)."""
        argv = (c_char_p * len(args))(*[encode(a, "argument") for a in args])
        opts = CallOptions.init()
        opts.stdin_fd, opts.stdout_fd, opts.stderr_fd = stdin_fd, stdout_fd, stderr_fd
        if tty:
            opts.tty_rows, opts.tty_cols = tty
        status = c_int(-1)
        r = _lib.load().docker_runtime_call_with(self.handle, len(args), argv, byref(opts),
                                                 byref(status))
        try:
            _lib.check(r)
        except DockerError as e:
            e.status = status.value  # type: ignore[attr-defined]
            raise
        return status.value

    def call(self, *args: Text, stdin: bytes = b"") -> Tuple[int, bytes, bytes]:
        """Run a command; returns (exit status, stdout bytes, stderr bytes). Failed commands
        return their status and message rather than raising. The streams go through pipes
        pumped by threads (no temp files)."""
        feeder = Feeder(stdin)
        out, err = Collector(), Collector()
        try:
            status = self.call_fds(list(args), feeder.read_fd, out.write_fd, err.write_fd)
        except DockerError as e:
            status = getattr(e, "status", -1)
        finally:
            feeder.close()
            o, e_ = out.finish(), err.finish()
            feeder.join()
        return status, o, e_

    # The runtime's pools (persisted under ROOT/network/).

    def ip_acquire(self) -> str:
        buf = create_string_buffer(16)
        _lib.check(_lib.load().docker_runtime_ip_acquire(self.handle, buf, 16))
        return buf.value.decode()

    def ip_acquire_specific(self, ip: Text) -> None:
        _lib.check(_lib.load().docker_runtime_ip_acquire_specific(self.handle, encode(ip, "ip")))

    def ip_release(self, ip: Text) -> None:
        _lib.check(_lib.load().docker_runtime_ip_release(self.handle, encode(ip, "ip")))

    def port_acquire(self) -> int:
        p = c_uint16()
        _lib.check(_lib.load().docker_runtime_port_acquire(self.handle, byref(p)))
        return p.value

    def port_acquire_specific(self, port: int) -> None:
        _lib.check(_lib.load().docker_runtime_port_acquire_specific(self.handle, port))

    def port_release(self, port: int) -> None:
        _lib.check(_lib.load().docker_runtime_port_release(self.handle, port))


def _log_trampoline(log: LogFunction) -> Callable[[Optional[int], int, bytes], int]:
    def trampoline(_userdata: Optional[int], level: int, message: bytes) -> int:
        with running_callback():
            try:
                log(LOG_LEVELS.get(level, str(level)), message.decode("utf-8", "replace"))
            except BaseException:  # noqa: BLE001 - a log call has no caller to hand it to
                traceback.print_exc()
        return 0
    return trampoline


def json_out(fn: Callable[..., int], *args: object) -> str:
    """Call a function returning a library-allocated string through its last argument."""
    p = c_void_p()
    _lib.check(fn(*args, byref(p)))
    return _lib.take_string(p)
