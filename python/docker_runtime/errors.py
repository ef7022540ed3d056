"""Exceptions: one class per result code of the C API (src/ffi/result.rs), all under
`DockerError`.

Every `DockerError` has `.code` (the result's name, e.g. "DOCKER_ERR_NOT_FOUND"; None for errors
raised by this package itself), `.result` (its number), `.message` (the library's message) and
`.errno` (the OS errno, or 0).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Type

__all__ = [
    "DockerError", "NotFound", "ImageNotFound", "Conflict", "AlreadyExists", "InUse",
    "InvalidArgument", "UnknownCommand", "PermissionDenied", "Unsupported", "Exhausted",
    "Corrupt", "IoError", "RemoteError", "BufferTooSmall", "LibraryBug", "TimedOut",
    "Cancelled", "ContainerError", "LibraryNotFound", "error_for",
]


class DockerError(Exception):
    """A failed call: `code` is the result name, `message` the library's message, `errno` the
    OS errno or 0."""

    code: Optional[str]
    result: int
    message: str
    errno: int

    def __init__(self, message: str, code: Optional[str] = None, result: int = -1,
                 errno: int = 0) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.result = result
        self.message = message
        self.errno = errno


class NotFound(DockerError):
    """DOCKER_ERR_NOT_FOUND: the named container, image or thing does not exist."""


class ImageNotFound(NotFound):
    """An image name or id that resolves to no image (raised by the image collection)."""


class Conflict(DockerError):
    """The thing exists already or is in use."""


class AlreadyExists(Conflict):
    """DOCKER_ERR_ALREADY_EXISTS."""


class InUse(Conflict):
    """DOCKER_ERR_IN_USE: a taken port, a running container, an image a container uses, a
    handle that already streams."""


class InvalidArgument(DockerError, ValueError):
    """DOCKER_ERR_INVALID_ARGUMENT, DOCKER_ERR_INVALID_UTF8, DOCKER_ERR_NULL_ARGUMENT."""


class UnknownCommand(InvalidArgument):
    """DOCKER_ERR_UNKNOWN_COMMAND: not a docker command (the command dispatch)."""


class PermissionDenied(DockerError):
    """DOCKER_ERR_PERMISSION_DENIED."""


class Unsupported(DockerError):
    """DOCKER_ERR_UNSUPPORTED: not supported here."""


class Exhausted(DockerError):
    """DOCKER_ERR_EXHAUSTED: a pool (addresses, ports) is used up."""


class Corrupt(DockerError):
    """DOCKER_ERR_CORRUPT: a malformed file or archive."""


class IoError(DockerError, OSError):  # type: ignore[misc]  # errno: an int here, never None
    """DOCKER_ERR_IO: an operating-system call failed; `.errno` says which (also an OSError)."""

    def __init__(self, message: str, code: Optional[str] = None, result: int = -1,
                 errno: int = 0) -> None:
        DockerError.__init__(self, message, code, result, errno)
        self.errno = errno
        self.strerror = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message} (errno {self.errno})"


class RemoteError(DockerError):
    """DOCKER_ERR_REMOTE: a registry or URL failed."""


class BufferTooSmall(DockerError):
    """DOCKER_ERR_BUFFER_TOO_SMALL: an output buffer was too small (nothing written)."""


class LibraryBug(DockerError):
    """DOCKER_ERR_PANIC: a bug in the library was caught at the boundary."""


class TimedOut(DockerError):
    """DOCKER_ERR_TIMED_OUT: a wait's timeout passed."""


class Cancelled(DockerError):
    """DOCKER_ERR_CANCELLED: a callback asked to stop and the call stopped."""


class ContainerError(DockerError):
    """A container run by `containers.run` exited nonzero (as docker-py's): `container`,
    `exit_status`, `command`, `image`, `stderr`."""

    def __init__(self, container: object, exit_status: int, command: Optional[List[str]],
                 image: str, stderr: bytes) -> None:
        self.container = container
        self.exit_status = exit_status
        self.command = command
        self.image = image
        self.stderr = stderr
        err = f": {stderr.decode('utf-8', 'replace').strip()}" if stderr else ""
        super().__init__(f"command {command!r} in image {image!r} returned non-zero exit "
                         f"status {exit_status}{err}")


class LibraryNotFound(DockerError, OSError):  # type: ignore[misc]  # errno: 0
    """libdocker_runtime could not be loaded (raised at first use, never at import): `tried`
    lists the places looked at."""

    def __init__(self, message: str, tried: List[str]) -> None:
        DockerError.__init__(self, message)
        self.tried = tried


# Result values (src/ffi/result.rs; new ones appended, never reused) and their classes.
RESULTS: Dict[int, Type[DockerError]] = {
    1: InvalidArgument,   # NULL_ARGUMENT
    2: InvalidArgument,   # INVALID_UTF8
    3: InvalidArgument,   # INVALID_ARGUMENT
    4: NotFound,
    5: AlreadyExists,
    6: InUse,
    7: Exhausted,
    8: Corrupt,
    9: IoError,
    10: PermissionDenied,
    11: Unsupported,
    12: UnknownCommand,
    13: RemoteError,
    14: BufferTooSmall,
    15: LibraryBug,
    16: TimedOut,
    17: Cancelled,
}


def error_for(result: int, name: str, message: str, errno: int) -> DockerError:
    """The exception for a failed call (a result this package does not know yet: DockerError)."""
    cls = RESULTS.get(result, DockerError)
    return cls(message, code=name, result=result, errno=errno)
