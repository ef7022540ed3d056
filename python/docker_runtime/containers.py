"""Containers, docker-py style: `rt.containers.run/create/get/list` and `Container`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal as signals
import threading
from ctypes import byref, c_int, c_void_p, create_string_buffer
from typing import (TYPE_CHECKING, Any, Dict, Iterator, List, Literal, Mapping, NamedTuple,
                    Optional, Sequence, Tuple, Union, overload)

from . import _lib
from ._callbacks import OutputChannel, in_callback
from ._handle import Closing
from ._pipes import Collector, Feeder, Source
from ._structs import (STDERR, STDOUT, ContainerConfig, ContainerIo, ExecConfig, StringArray,
                       Text, encode)
from .errors import ContainerError, DockerError, TimedOut

if TYPE_CHECKING:
    from .images import Image
    from .runtime import Runtime

__all__ = ["Container", "ContainerCollection", "ExecResult", "STREAM_BUFFER_CAP"]

# What a detached container's live output may queue before a consumer reads it (see
# OutputChannel); past it `logs(stream=True)` reads the stored log instead.
STREAM_BUFFER_CAP = 64 << 20

# How often a live stream with nothing queued asks whether the container's output ended.
_POLL_S = 0.05

Command = Union[str, Sequence[Text], None]
PortValue = Union[None, int, str, Tuple[str, int], List[Any]]


class ExecResult(NamedTuple):
    """What `Container.exec_run` returns, as docker-py's: the exit code (None when detached)
    and the output (bytes, or a (stdout, stderr) pair with demux=True)."""

    exit_code: Optional[int]
    output: Any


class Container(Closing):
    """One container through a `docker_container` handle (freed by `close()`, a `with` block,
    or garbage collection; the handle keeps the runtime's core alive).

    Handle calls may come from several threads; `close()` waits for those in flight."""

    def __init__(self, rt: "Runtime", handle: c_void_p) -> None:
        self._rt = rt
        self._h: Optional[c_void_p] = handle
        self._cond = threading.Condition()
        self._in_flight = 0
        buf = create_string_buffer(65)
        _lib.check(_lib.load().docker_container_id(handle, buf, len(buf)))
        self._id = buf.value.decode()  # known for good: usable after close()
        self._attrs: Optional[Dict[str, Any]] = None
        # Referenced until the handle is freed: the library may call it until then.
        self._channel: Optional[OutputChannel] = None
        # The thread feeding the current run's stdin (it ends at the source's end or when
        # the container stops reading); kept to report the source's error.
        self._feeder: Optional[Feeder] = None

    # The handle.

    def _call(self, fn_name: str, *args: Any) -> None:
        with self._cond:
            if not self._h:
                raise ValueError("operation on a closed Container")
            self._in_flight += 1
            h = self._h
        try:
            _lib.check(getattr(_lib.load(), fn_name)(h, *args))
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def close(self) -> None:
        """Free the handle, once the calls in flight on it returned: its output stream ends
        first (no callback after). The container itself stays."""
        with self._cond:
            h, self._h = self._h, None
            if not h:
                return
            self._cond.wait_for(lambda: self._in_flight == 0)
        free = _lib.load().docker_container_free
        if in_callback():
            # Freeing from inside this handle's own callback would wait for itself.
            threading.Thread(target=free, args=(h,), daemon=True).start()
        else:
            free(h)

    def __repr__(self) -> str:
        return f"<Container: {self.short_id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Container) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # What it is.

    @property
    def id(self) -> str:
        return self._id

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def name(self) -> str:
        """The name without docker's `/`, from the attributes (as docker-py)."""
        return str(self.attrs.get("Name", "")).lstrip("/")

    @property
    def attrs(self) -> Dict[str, Any]:
        """The container as `docker inspect` prints it (loaded once; `reload()` refreshes)."""
        if self._attrs is None:
            self.reload()
        assert self._attrs is not None
        return self._attrs

    @property
    def status(self) -> str:
        """"created", "running" or "exited", from the attributes (call `reload()` first for
        the current one, as with docker-py)."""
        state = self.attrs.get("State", {})
        if state.get("Running"):
            return "running"
        return "exited" if state.get("StartedAt") else "created"

    @property
    def image(self) -> "Image":
        return self._rt.images.get(self.attrs["Image"])

    def reload(self) -> None:
        p = c_void_p()
        self._call("docker_container_inspect_json", byref(p))
        self._attrs = json.loads(_lib.take_string(p))

    # Its life.

    def start(self, stdin: Optional[Source] = None) -> None:
        """Start it; its output is streamed into this object from the start (nothing lost) for
        `logs(stream=True)`. `stdin`: bytes or a binary file object fed to the container's
        stdin (it must have been created with stdin_open=True)."""
        self._start(OutputChannel(STREAM_BUFFER_CAP), stdin)

    def _start(self, channel: OutputChannel, stdin: Optional[Source]) -> None:
        io = ContainerIo.init()
        io.output = channel.cfunc
        feeder = Feeder(stdin) if stdin is not None else None
        if feeder is not None:
            io.stdin_fd = feeder.read_fd
        try:
            self._call("docker_container_start", byref(io))
        finally:
            if feeder is not None:  # the library reads its own duplicate
                feeder.close()
        self._channel, self._feeder = channel, feeder
        self._attrs = None

    def wait(self, timeout: Optional[float] = None) -> Dict[str, int]:
        """Wait for it to exit (and for its output stream to deliver everything): {"StatusCode":
        n} as docker-py. `timeout` in seconds; TimedOut when it passes."""
        code = c_int()
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        self._call("docker_container_wait", ms, byref(code))
        if self._channel is not None:
            self._channel.reraise()
        feeder, self._feeder = self._feeder, None
        if feeder is not None and feeder.error is not None:
            raise feeder.error  # reading the stdin source failed: the container saw its end
        return {"StatusCode": code.value}

    def stop(self, timeout: int = 10) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        self._call("docker_container_stop", int(timeout))

    def kill(self, signal: Union[int, str, None] = None) -> None:
        """Send `signal` (a number or a name like "SIGTERM"/"TERM"; None: SIGKILL)."""
        self._call("docker_container_kill", _signal_number(signal))

    def remove(self, *, v: bool = False, link: bool = False, force: bool = False) -> None:
        """Delete it (a running one only with force=True; Conflict otherwise), as docker-py
        (keywords only, as its **kwargs);
        v=True: its anonymous volumes too (named ones stay), as `docker rm -v`. link=True
        removes a link in docker, and this runtime has no links: ValueError."""
        if link:
            raise ValueError("link=True: this runtime has no container links to remove")
        self._call("docker_container_remove_with", 1 if force else 0, 1 if v else 0)

    def resize(self, height: int, width: int) -> None:
        """Resize its tty."""
        self._call("docker_container_resize", height, width)

    def exec_run(self, cmd: Union[str, Sequence[Text]], stdout: bool = True,
                 stderr: bool = True, stdin: Optional[Source] = None, tty: bool = False,
                 user: Optional[Text] = None, detach: bool = False,
                 environment: Union[Mapping[str, Any], Sequence[Text], None] = None,
                 workdir: Optional[Text] = None, demux: bool = False) -> ExecResult:
        """Run `cmd` in the running container, as docker-py's `exec_run`: in its namespaces
        and cgroup with its confinement, as `user` (default the container's), with
        `environment` added to its own, in `workdir` (default its own). Returns
        ExecResult(exit_code, output): output is stdout and stderr together (only those
        asked for), or (stdout, stderr) with demux=True; a program that is not found gives
        127, one that cannot be started 126 with the reason in its output. detach=True:
        returns ExecResult(None, b"") once it runs. `stdin`: bytes or a binary file fed to
        it. Conflict (`DockerError` with DOCKER_ERR_IN_USE) for a container that does not
        run or is paused."""
        cfg = ExecConfig.init()
        argv = StringArray(_argv(cmd), "cmd")
        env = StringArray(_environment(environment), "environment")
        keep = [encode(user, "user"), encode(workdir, "workdir")]
        cfg.argv, cfg.env = argv.pointer, env.pointer
        cfg.user, cfg.working_dir = keep
        cfg.tty, cfg.detach = (1 if tty else 0), (1 if detach else 0)
        feeder = Feeder(stdin) if stdin is not None and not detach else None
        out, err = Collector(), Collector()
        if feeder is not None:
            cfg.stdin_fd = feeder.read_fd
        # Not demultiplexed: one pipe for both, so the output keeps the order it came in.
        cfg.stdout_fd = out.write_fd if stdout else -1
        cfg.stderr_fd = (err if demux else out).write_fd if stderr else -1
        code = c_int()
        try:
            self._call("docker_container_exec", byref(cfg), byref(code))
        finally:
            if feeder is not None:
                feeder.close()
            o, e = out.finish(), err.finish()
        if detach:
            return ExecResult(None, b"")
        return ExecResult(code.value, (o, e) if demux else o)

    # Its output.

    @overload
    def logs(self, stdout: bool = ..., stderr: bool = ...,
             stream: Literal[False] = ..., timestamps: bool = ...,
             tail: Union[int, str] = ...) -> bytes: ...

    @overload
    def logs(self, stdout: bool = ..., stderr: bool = ..., *,
             stream: Literal[True], timestamps: bool = ...,
             tail: Union[int, str] = ...) -> Iterator[bytes]: ...

    def logs(self, stdout: bool = True, stderr: bool = True, stream: bool = False,
             timestamps: bool = False, tail: Union[int, str] = "all"
             ) -> Union[bytes, Iterator[bytes]]:
        """stream=False: the stored log as bytes (its stdout log, then its stderr log, as
        `docker logs` prints them). stream=True: a generator of output chunks, live through the
        output callback, from the start of the run this object started; it ends when the
        output ends, and closing it early stops the stream (the container keeps running). For
        a container this object did not start (or whose unread stream passed
        STREAM_BUFFER_CAP), the generator yields the stored log. timestamps and tail (an int,
        or "all") as docker-py's, as `docker logs -t --tail N`: the last N lines of both
        streams together, in the order written; with either, stream=True yields the stored
        log."""
        if isinstance(tail, bool) or not (tail == "all" or isinstance(tail, int)):
            raise TypeError(f"tail must be an int or 'all', not {tail!r}")
        options = (["-t"] if timestamps else []) + ["--tail", str(tail)]
        if not stream:
            return self._stored_logs(stdout, stderr, options)
        channel = self._channel
        if (channel is None or channel.attached or channel.dropped or timestamps
                or tail != "all"):
            return iter([self._stored_logs(stdout, stderr, options)])
        channel.attach()
        return self._live(channel, stdout, stderr)

    def _stored_logs(self, stdout: bool, stderr: bool, options: List[str]) -> bytes:
        out, err = Collector(), Collector()
        try:
            self._rt.call_fds(["logs", *options, self.id], -1, out.write_fd, err.write_fd)
        finally:
            o, e = out.finish(), err.finish()
        return (o if stdout else b"") + (e if stderr else b"")

    def _live(self, channel: OutputChannel, stdout: bool, stderr: bool) -> Iterator[bytes]:
        wanted = {STDOUT: stdout, STDERR: stderr}
        try:
            ended = False
            while True:
                chunks = channel.take(_POLL_S)
                for s, data in chunks:
                    if wanted.get(s, True):
                        yield data
                channel.reraise()
                if ended and not chunks:
                    return
                if not chunks:
                    ended = self._output_ended()
        finally:
            channel.stop()

    def _output_ended(self) -> bool:
        try:
            self.wait(timeout=0)
            return True
        except TimedOut:
            return False


class ContainerCollection:
    """`rt.containers`."""

    def __init__(self, rt: "Runtime") -> None:
        self._rt = rt

    def create(self, image: Text, command: Command = None, **kwargs: Any) -> Container:
        """Create (not start) a container. Keywords as docker-py's: environment (dict or
        ["K=V"]), user, working_dir, hostname, mem_limit (bytes or "512m"), tty, stdin_open,
        ports ({"80/tcp": 8080, "82": None} or ["8080:80"]; checked at the start; the library
        takes no host address yet), network_mode ("bridge", "none"), network_disabled,
        cap_add, cap_drop, security_opt, volumes ({"/host/dir": {"bind": "/mnt", "mode": "ro"},
        "name": {"bind": "/data"}} or ["/host/dir:/mnt:ro", "name:/data", "/anonymous"]), name
        (docker's rules, unique: a taken one raises InUse naming its holder; none: a generated
        name), cpu_shares (a relative CPU weight, 2 to 262144; 1024 is the default), mounts
        (docker-py's Mount dicts, {"Type": "bind"|"volume"|"tmpfs", "Source": ..., "Target":
        ..., "ReadOnly": bool, "VolumeOptions": {"NoCopy": bool}, "TmpfsOptions": {"SizeBytes":
        int, "Mode": int}}, or `--mount` strings). Unknown keywords are a TypeError."""
        cfg = ContainerConfig.init()
        keep = _fill_config(cfg, image, command, kwargs)
        h = c_void_p()
        _lib.check(_lib.load().docker_container_create(self._rt.handle, byref(cfg), byref(h)))
        del keep
        return Container(self._rt, h)

    def run(self, image: Text, command: Command = None, stdout: bool = True,
            stderr: bool = False, remove: bool = False, detach: bool = False,
            stream: bool = False, stdin: Optional[Source] = None,
            **kwargs: Any) -> Union[bytes, Container, Iterator[bytes]]:
        """Create and start a container. Attached (default): wait for it and return its output
        (stdout; stderr too with stderr=True), raising ContainerError with its exit status
        and stderr when it exits nonzero. detach=True: return the running Container.
        stream=True: return the live output generator. stdin: bytes or a binary file fed to
        its stdin (implies stdin_open). Other keywords: see create()."""
        if stdin is not None:
            kwargs["stdin_open"] = True
        c = self.create(image, command, **kwargs)
        if detach or stream:
            c.start(stdin)
            return c.logs(stream=True, stdout=stdout, stderr=stderr) if stream and not detach \
                else c
        return self._run_attached(c, image, command, stdout, stderr, remove, stdin)

    def _run_attached(self, c: Container, image: Text, command: Command, stdout: bool,
                      stderr: bool, remove: bool, stdin: Optional[Source]) -> bytes:
        channel = OutputChannel(None)
        channel.attach()
        try:
            c._start(channel, stdin)
            code = c.wait()["StatusCode"]
        except BaseException:
            if remove:  # also when the run failed; its error is the one to see
                with contextlib.suppress(DockerError):
                    c.remove(force=True)
                c.close()
            raise
        chunks = channel.take(0)
        out = b"".join(d for s, d in chunks
                       if (s == STDOUT and stdout) or (s == STDERR and stderr))
        err = b"".join(d for s, d in chunks if s == STDERR)
        if remove:
            c.remove(force=True)
            c.close()
        if code != 0:
            raise ContainerError(c, code, _argv(command),
                                 image if isinstance(image, str) else image.decode(), err)
        return out

    def get(self, container_id: Text) -> Container:
        """The container with this id, name or unique id prefix (NotFound otherwise)."""
        h = c_void_p()
        _lib.check(_lib.load().docker_container_open(
            self._rt.handle, encode(container_id, "container_id"), byref(h)))
        return Container(self._rt, h)

    def list(self, all: bool = False) -> List[Container]:
        """The running containers (all=True: every one), newest first."""
        from .runtime import json_out
        rows = json.loads(json_out(_lib.load().docker_runtime_containers_json,
                                   self._rt.handle, 1 if all else 0))
        found = []
        for row in rows:
            try:
                found.append(self.get(row["Id"]))
            except DockerError as e:
                if e.result != 4:  # removed since the listing: skip it
                    raise
        return found


def _argv(command: Command) -> Optional[List[str]]:
    if command is None:
        return None
    if isinstance(command, (str, bytes)):
        return shlex.split(os.fsdecode(command))
    return [os.fsdecode(c) for c in command]


def _fill_config(cfg: ContainerConfig, image: Text, command: Command,
                 kwargs: Dict[str, Any]) -> List[object]:
    """Fill `cfg` from docker-py style keywords; returns what must stay alive for the call."""
    known = {"environment", "user", "working_dir", "hostname", "mem_limit", "tty",
             "stdin_open", "ports", "network_mode", "network_disabled", "cap_add", "cap_drop",
             "security_opt", "volumes", "name", "cpu_shares", "mounts"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"unsupported container option(s): {', '.join(unknown)}")
    keep: List[object] = []

    def text(value: Optional[Text], what: str) -> Optional[bytes]:
        b = encode(value, what)
        keep.append(b)
        return b

    def strings(value: Optional[Sequence[Text]], what: str) -> Any:
        a = StringArray(value, what)
        keep.append(a)
        return a.pointer

    cfg.image = text(image, "image")
    cfg.argv = strings(_argv(command), "command")
    cfg.env = strings(_environment(kwargs.get("environment")), "environment")
    cfg.user = text(kwargs.get("user"), "user")
    cfg.working_dir = text(kwargs.get("working_dir"), "working_dir")
    cfg.hostname = text(kwargs.get("hostname"), "hostname")
    cfg.memory = _bytes_size(kwargs.get("mem_limit"))
    cfg.tty = 1 if kwargs.get("tty") else 0
    cfg.open_stdin = 1 if kwargs.get("stdin_open") else 0
    cfg.ports = strings(_ports(kwargs.get("ports")), "ports")
    mode = "none" if kwargs.get("network_disabled") else kwargs.get("network_mode")
    cfg.network_mode = text(mode, "network_mode")
    cfg.cap_add = strings(kwargs.get("cap_add"), "cap_add")
    cfg.cap_drop = strings(kwargs.get("cap_drop"), "cap_drop")
    cfg.security_opt = strings(kwargs.get("security_opt"), "security_opt")
    cfg.volumes = strings(_volumes(kwargs.get("volumes")), "volumes")
    cfg.name = text(kwargs.get("name"), "name")
    shares = kwargs.get("cpu_shares") or 0
    if isinstance(shares, bool) or not isinstance(shares, int) or \
            not -(1 << 63) <= shares < 1 << 63:
        raise ValueError(f"cpu_shares {shares!r}: expected a whole weight, 2 to 262144")
    cfg.cpu_shares = shares
    cfg.mounts = strings(_mounts(kwargs.get("mounts")), "mounts")
    return keep


def _environment(env: Union[Mapping[str, Any], Sequence[Text], None]) -> List[Text]:
    if env is None:
        return []
    if isinstance(env, Mapping):
        return [f"{k}={v}" for k, v in env.items()]
    return list(env)


_SIZE = re.compile(r"^\s*(\d+)\s*([bkmg]?)b?\s*$", re.IGNORECASE)


def _bytes_size(v: Union[int, str, None]) -> int:
    """docker-py's mem_limit: bytes as an int, or a string with a b/k/m/g unit."""
    if v is None:
        return 0
    if isinstance(v, int):
        return v
    m = _SIZE.match(v)
    if not m:
        raise ValueError(f"mem_limit {v!r}: expected bytes or a number with a unit b, k, m, g")
    return int(m.group(1)) << {"": 0, "b": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]


def _ports(ports: Union[Mapping[Any, PortValue], Sequence[str], None]) -> List[str]:
    """docker-py's ports mapping as `-p` specs."""
    if ports is None:
        return []
    if not isinstance(ports, Mapping):
        return list(ports)
    specs = []
    for key, value in ports.items():
        private = str(key)
        if private.endswith("/tcp"):
            private = private[:-4]
        for v in value if isinstance(value, list) else [value]:
            if v is None:
                specs.append(private)
            elif isinstance(v, tuple):
                specs.append(f"{v[0]}:{v[1]}:{private}" if len(v) == 2 else f"{v[0]}::{private}")
            else:
                specs.append(f"{v}:{private}")
    return specs


def _volumes(volumes: Union[Mapping[str, Any], Sequence[str], None]) -> List[str]:
    """docker-py's volumes (dict of source -> {"bind": path, "mode": "ro"|"rw"}, or a list of
    `-v` specs) as `-v` specs."""
    if volumes is None:
        return []
    if not isinstance(volumes, Mapping):
        return list(volumes)
    specs = []
    for source, value in volumes.items():
        if not isinstance(value, Mapping) or "bind" not in value:
            raise ValueError(f"volumes[{source!r}]: want {{'bind': PATH, 'mode': 'ro'|'rw'}}")
        mode = value.get("mode")
        specs.append(f"{source}:{value['bind']}" + (f":{mode}" if mode else ""))
    return specs


def _mount_spec(m: Union[Mapping[str, Any], str]) -> str:
    """A docker-py Mount (the Engine API's keys) as a `--mount` value."""
    if isinstance(m, str):
        return m
    known = {"Type", "Source", "Target", "ReadOnly", "VolumeOptions", "TmpfsOptions",
             "Consistency"}
    unknown = sorted(k for k, v in m.items() if k not in known and v)
    vol, tmp = m.get("VolumeOptions") or {}, m.get("TmpfsOptions") or {}
    unknown += [f"VolumeOptions.{k}" for k, v in vol.items() if k != "NoCopy" and v]
    unknown += [f"TmpfsOptions.{k}" for k, v in tmp.items() if k not in ("SizeBytes", "Mode")]
    if unknown:
        raise ValueError(f"mount {dict(m)!r}: unsupported {', '.join(unknown)}")
    parts = [f"type={m.get('Type') or 'volume'}"]
    for key, name in (("Source", "src"), ("Target", "dst")):
        value = m.get(key)
        if value:
            if "," in str(value):
                raise ValueError(f"mount {key} {value!r}: a comma cannot be passed")
            parts.append(f"{name}={value}")
    parts += ["readonly"] if m.get("ReadOnly") else []
    parts += ["volume-nocopy"] if vol.get("NoCopy") else []
    parts += [f"tmpfs-size={tmp['SizeBytes']}"] if tmp.get("SizeBytes") else []
    parts += [f"tmpfs-mode={tmp['Mode']:o}"] if tmp.get("Mode") else []
    return ",".join(parts)


def _mounts(mounts: Optional[Sequence[Union[Mapping[str, Any], str]]]) -> List[str]:
    """docker-py's mounts (Mount dicts, or `--mount` strings) as `--mount` values."""
    return [_mount_spec(m) for m in mounts or []]


def _signal_number(sig: Union[int, str, None]) -> int:
    if sig is None:
        return 0
    if isinstance(sig, int):
        return sig
    name = sig.upper()
    if name.isdigit():
        return int(name)
    try:
        return int(signals.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise ValueError(f"unknown signal {sig!r}") from None
