"""Python bindings for libdocker_runtime (docker v0.1.0 rebuilt in Rust as a C library).

The docker-py-like surface::

    import docker_runtime
    with docker_runtime.Runtime("/var/lib/docker-runtime") as rt:
        print(rt.containers.run("busybox", ["echo", "hi"]))      # b"hi\\n"
        c = rt.containers.run("busybox", ["sh", "-c", "echo a; sleep 1"], detach=True)
        for chunk in c.logs(stream=True):
            print(chunk)
        print(c.wait())                                          # {"StatusCode": 0}
        c.remove()

The low-level layer beside it: `Runtime.call` (the command dispatch), `IpAllocator`,
`PortAllocator`, the option structs (`RuntimeOptions`, `CallOptions`, `ContainerConfig`,
`ContainerIo`, with the growth rule) and `lib` (the loaded library, its functions declared).

The library is loaded at first use (see `docker_runtime._lib`): $DOCKER_RUNTIME_LIB, else
ctypes.util.find_library("docker_runtime"), else the locations scripts/install.sh uses; a
missing library raises LibraryNotFound then, never at import.
"""

from __future__ import annotations

from typing import Any

from . import _lib
from ._lib import SONAME, candidates
from ._structs import CallOptions, ContainerConfig, ContainerIo, ExecConfig, RuntimeOptions
from .allocators import IpAllocator, PortAllocator
from .containers import Container, ContainerCollection, ExecResult
from .errors import (AlreadyExists, BufferTooSmall, Cancelled, Conflict, ContainerError,
                     Corrupt, DockerError, Exhausted, ImageNotFound, InUse, InvalidArgument,
                     IoError, LibraryBug, LibraryNotFound, NotFound, PermissionDenied,
                     RemoteError, TimedOut, UnknownCommand, Unsupported)
from .events import EventStream
from .images import Image, ImageCollection
from .runtime import LOG_LEVELS, Runtime
from .volumes import Volume, VolumeCollection

__version__ = "0.1.0"

__all__ = [
    "Runtime", "Container", "ContainerCollection", "ExecResult", "ExecConfig", "Image", "ImageCollection", "EventStream",
    "Volume", "VolumeCollection",
    "IpAllocator", "PortAllocator", "RuntimeOptions", "CallOptions", "ContainerConfig",
    "ContainerIo", "LOG_LEVELS", "SONAME", "candidates", "version", "lib",
    "DockerError", "NotFound", "ImageNotFound", "Conflict", "AlreadyExists", "InUse",
    "InvalidArgument", "UnknownCommand", "PermissionDenied", "Unsupported", "Exhausted",
    "Corrupt", "IoError", "RemoteError", "BufferTooSmall", "LibraryBug", "TimedOut",
    "Cancelled", "ContainerError", "LibraryNotFound",
]


def version() -> str:
    """The loaded library's version."""
    return str(_lib.load().docker_runtime_version().decode())


def __getattr__(name: str) -> Any:
    # `docker_runtime.lib`: the loaded library, loaded on first access.
    if name == "lib":
        return _lib.load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
