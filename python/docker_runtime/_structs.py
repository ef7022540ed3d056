"""The option structs of the C API as ctypes Structures, and its callback types.

Growth rule (README "C API"): a struct's first field, `size`, is its size as this package
declares it. `init()` calls the library's `_init(&s, ctypes.sizeof(s))`, which writes exactly
that many bytes (the library's defaults, zeros past the fields it knows); the library then reads
`min(s.size, its own size)` bytes. So an older library never reads past what is declared here,
and fields declared here that an older library does not know are refused once set (never
silently ignored).
"""

from __future__ import annotations

import ctypes
from ctypes import (POINTER, c_char_p, c_int, c_int64, c_size_t, c_uint16, c_uint64, c_void_p)
from typing import List, Optional, Sequence, TypeVar, Union

__all__ = ["RuntimeOptions", "CallOptions", "ContainerConfig", "ContainerIo", "ExecConfig",
           "LOG_CALLBACK",
           "OUTPUT_CALLBACK", "PROGRESS_CALLBACK", "EVENT_CALLBACK", "STDOUT", "STDERR",
           "StringArray"]

# Arguments that carry bytes are plain pointers: the trampolines copy exactly `len` bytes.
LOG_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_char_p)
OUTPUT_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_void_p, c_size_t)
PROGRESS_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_char_p)
EVENT_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_char_p)

# enum docker_stream
STDOUT = 1
STDERR = 2

S = TypeVar("S", bound="_Options")


class _Options(ctypes.Structure):
    """An option struct of the C API, filled by `init()`."""

    _init: str = ""  # the name of the library's `_init` function

    @classmethod
    def init(cls: "type[S]") -> S:
        """A struct with the library's defaults: `_init(&opts, sizeof opts)`."""
        from . import _lib
        opts = cls()
        lib = _lib.load()
        _lib.check(getattr(lib, cls._init)(ctypes.byref(opts), ctypes.sizeof(opts)))
        return opts


class RuntimeOptions(_Options):
    _init = "docker_runtime_options_init"
    _fields_ = [
        ("size", c_size_t),
        ("bridge_name", c_char_p),
        ("bridge_subnet", c_char_p),
        ("iptables_chain", c_char_p),
        ("init_path", c_char_p),
        ("port_first", c_uint16),
        ("port_last", c_uint16),
        ("log_level", c_int),
        ("log_callback", LOG_CALLBACK),
        ("log_userdata", c_void_p),
        ("disable_ip_forward", c_int),
        ("max_layer_bytes", c_uint64),
        ("max_layer_entries", c_uint64),
        ("insecure_registries", c_char_p),
        ("registry_certs_dir", c_char_p),
        ("warm_start", c_int),
    ]


class CallOptions(_Options):
    _init = "docker_call_options_init"
    _fields_ = [
        ("size", c_size_t),
        ("stdin_fd", c_int),
        ("stdout_fd", c_int),
        ("stderr_fd", c_int),
        ("tty_rows", c_uint16),
        ("tty_cols", c_uint16),
    ]


_StrArray = POINTER(c_char_p)


class ContainerConfig(_Options):
    """docker_container_config: what `docker_container_create` makes."""

    _init = "docker_container_config_init"
    _fields_ = [
        ("size", c_size_t),
        ("image", c_char_p),
        ("argv", _StrArray),
        ("env", _StrArray),
        ("user", c_char_p),
        ("working_dir", c_char_p),
        ("hostname", c_char_p),
        ("memory", c_int64),
        ("tty", c_int),
        ("open_stdin", c_int),
        ("ports", _StrArray),
        ("network_mode", c_char_p),
        ("cap_add", _StrArray),
        ("cap_drop", _StrArray),
        ("security_opt", _StrArray),
        ("volumes", _StrArray),
        ("name", c_char_p),
        ("cpu_shares", c_int64),
        ("mounts", _StrArray),
    ]


class ContainerIo(_Options):
    """docker_container_io: where a started container's streams go."""

    _init = "docker_container_io_init"
    _fields_ = [
        ("size", c_size_t),
        ("stdin_fd", c_int),
        ("stdout_fd", c_int),
        ("stderr_fd", c_int),
        ("output", OUTPUT_CALLBACK),
        ("userdata", c_void_p),
    ]


class ExecConfig(_Options):
    """docker_exec_config: what `docker_container_exec` runs."""

    _init = "docker_exec_config_init"
    _fields_ = [
        ("size", c_size_t),
        ("argv", _StrArray),
        ("env", _StrArray),
        ("user", c_char_p),
        ("working_dir", c_char_p),
        ("tty", c_int),
        ("tty_rows", c_uint16),
        ("tty_cols", c_uint16),
        ("detach", c_int),
        ("stdin_fd", c_int),
        ("stdout_fd", c_int),
        ("stderr_fd", c_int),
    ]


Text = Union[str, bytes]


def encode(s: Optional[Text], what: str) -> Optional[bytes]:
    """A str or bytes argument as the C string bytes (None stays NULL)."""
    if s is None or isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise TypeError(f"{what} must be str or bytes, not {type(s).__name__}")
    return s.encode()


class StringArray:
    """A NULL-terminated `const char *const *` built from a sequence; keep the object alive for
    as long as the library may read it. An empty or None sequence is NULL."""

    def __init__(self, items: Optional[Sequence[Text]], what: str) -> None:
        if isinstance(items, (str, bytes)):
            raise TypeError(f"{what} must be a list of strings, not one string")
        self.items: List[bytes] = []
        for i in items or ():
            b = encode(i, what)
            if b is None:
                raise TypeError(f"{what}: None in the list")
            self.items.append(b)
        self.array: Optional["ctypes.Array[c_char_p]"] = None
        if self.items:
            self.array = (c_char_p * (len(self.items) + 1))(*self.items, None)

    @property
    def pointer(self) -> Optional["ctypes._Pointer[c_char_p]"]:
        return ctypes.cast(self.array, _StrArray) if self.array is not None else None
