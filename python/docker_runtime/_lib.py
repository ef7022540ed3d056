"""Finding and loading libdocker_runtime, and the C signatures of every function used.

The library is loaded at the first call that needs it, never at import: a missing library is
a `LibraryNotFound` naming every place tried and how to fix it. Lookup order:

1. `$DOCKER_RUNTIME_LIB`, a path to the library. When it is set it is the only place tried
   (an explicit choice is never silently replaced by another copy).
2. `ctypes.util.find_library("docker_runtime")`: the loader's cache (`ldconfig`), as a system
   package or `scripts/install.sh` into /usr/local installs it.
3. The installed locations of `scripts/install.sh`: `libdocker_runtime.so.0` in `sys.prefix/lib`
   (an install with `PREFIX` set to this environment), `/usr/local/lib` and `/usr/lib`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from ctypes import (POINTER, c_char_p, c_int, c_int64, c_size_t, c_uint16, c_uint32, c_void_p)
from typing import Any, Callable, List, Optional, Tuple

from ._structs import (EVENT_CALLBACK, PROGRESS_CALLBACK, CallOptions, ContainerConfig,
                       ContainerIo, ExecConfig, RuntimeOptions)
from .errors import LibraryNotFound, error_for

SONAME = "libdocker_runtime.so.0"
ENV_VAR = "DOCKER_RUNTIME_LIB"

_P = c_void_p  # an opaque handle
_PP = POINTER(c_void_p)  # a handle (or a library-allocated string) returned through a pointer

# name: (restype, argtypes). The typed API is the second half.
SIGNATURES: "dict[str, Tuple[Any, List[Any]]]" = {
    "docker_runtime_version": (c_char_p, []),
    "docker_result_name": (c_char_p, [c_int]),
    "docker_error_message": (c_size_t, [c_char_p, c_size_t]),
    "docker_error_errno": (c_int, []),
    "docker_error_code": (c_int, []),
    "docker_runtime_options_init": (c_int, [POINTER(RuntimeOptions), c_size_t]),
    "docker_runtime_new": (c_int, [c_char_p, POINTER(RuntimeOptions), _PP]),
    "docker_runtime_free": (None, [_P]),
    "docker_runtime_restore": (c_int, [_P, POINTER(c_size_t)]),
    "docker_call_options_init": (c_int, [POINTER(CallOptions), c_size_t]),
    "docker_runtime_call": (c_int, [_P, c_int, POINTER(c_char_p), c_int, c_int, POINTER(c_int)]),
    "docker_runtime_call_with": (c_int, [_P, c_int, POINTER(c_char_p), POINTER(CallOptions),
                                         POINTER(c_int)]),
    "docker_runtime_ip_acquire": (c_int, [_P, c_char_p, c_size_t]),
    "docker_runtime_ip_acquire_specific": (c_int, [_P, c_char_p]),
    "docker_runtime_ip_release": (c_int, [_P, c_char_p]),
    "docker_runtime_port_acquire": (c_int, [_P, POINTER(c_uint16)]),
    "docker_runtime_port_acquire_specific": (c_int, [_P, c_uint16]),
    "docker_runtime_port_release": (c_int, [_P, c_uint16]),
    "docker_ip_allocator_new": (c_int, [c_char_p, _PP]),
    "docker_ip_allocator_free": (None, [_P]),
    "docker_ip_allocator_acquire": (c_int, [_P, c_char_p, c_size_t]),
    "docker_ip_allocator_acquire_specific": (c_int, [_P, c_char_p]),
    "docker_ip_allocator_release": (c_int, [_P, c_char_p]),
    "docker_ip_allocator_gateway": (c_int, [_P, c_char_p, c_size_t]),
    "docker_port_allocator_new": (c_int, [c_uint16, c_uint16, _PP]),
    "docker_port_allocator_free": (None, [_P]),
    "docker_port_allocator_acquire": (c_int, [_P, POINTER(c_uint16)]),
    "docker_port_allocator_acquire_specific": (c_int, [_P, c_uint16]),
    "docker_port_allocator_release": (c_int, [_P, c_uint16]),
    # The typed API.
    "docker_container_config_init": (c_int, [POINTER(ContainerConfig), c_size_t]),
    "docker_container_create": (c_int, [_P, POINTER(ContainerConfig), _PP]),
    "docker_container_open": (c_int, [_P, c_char_p, _PP]),
    "docker_container_free": (None, [_P]),
    "docker_container_id": (c_int, [_P, c_char_p, c_size_t]),
    "docker_container_io_init": (c_int, [POINTER(ContainerIo), c_size_t]),
    "docker_container_start": (c_int, [_P, POINTER(ContainerIo)]),
    "docker_container_wait": (c_int, [_P, c_int64, POINTER(c_int)]),
    "docker_container_stop": (c_int, [_P, c_uint32]),
    "docker_container_kill": (c_int, [_P, c_int]),
    "docker_container_remove": (c_int, [_P, c_int]),
    "docker_container_resize": (c_int, [_P, c_uint16, c_uint16]),
    "docker_exec_config_init": (c_int, [POINTER(ExecConfig), c_size_t]),
    "docker_container_exec": (c_int, [_P, POINTER(ExecConfig), POINTER(c_int)]),
    "docker_container_inspect_json": (c_int, [_P, _PP]),
    "docker_string_free": (None, [c_void_p]),
    "docker_runtime_containers_json": (c_int, [_P, c_int, _PP]),
    "docker_runtime_images_json": (c_int, [_P, _PP]),
    "docker_image_import": (c_int, [_P, c_int, c_char_p, c_char_p, c_char_p, c_size_t]),
    "docker_image_pull": (c_int, [_P, c_char_p, PROGRESS_CALLBACK, c_void_p, c_char_p,
                                  c_size_t]),
    "docker_image_tag": (c_int, [_P, c_char_p, c_char_p, c_char_p, c_int]),
    "docker_image_remove": (c_int, [_P, c_char_p]),
    "docker_image_save": (c_int, [_P, POINTER(c_char_p), c_int]),
    "docker_image_load": (c_int, [_P, c_int, _PP]),
    "docker_runtime_events": (c_int, [_P, EVENT_CALLBACK, c_void_p, _PP]),
    "docker_container_remove_with": (c_int, [_P, c_int, c_int]),
    "docker_volume_create": (c_int, [_P, c_char_p, POINTER(c_char_p), _PP]),
    "docker_volume_inspect_json": (c_int, [_P, c_char_p, _PP]),
    "docker_runtime_volumes_json": (c_int, [_P, _PP]),
    "docker_volume_remove": (c_int, [_P, c_char_p, c_int]),
    "docker_volumes_prune": (c_int, [_P, _PP]),
    "docker_subscription_free": (None, [_P]),
}


def _missing(path: str, version: str, name: str) -> Callable[..., Any]:
    def call(*_args: Any) -> Any:
        raise LibraryNotFound(
            f"{path} (version {version}) has no function {name}: the library is older than "
            f"this package; install a libdocker_runtime that has it", tried=[path])
    call.__name__ = name
    return call


def candidates() -> List[str]:
    """The places the library is looked for, in order (see the module docs); an empty string
    stands for ctypes.util.find_library finding nothing."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [env]
    places = [ctypes.util.find_library("docker_runtime") or ""]
    for d in (os.path.join(sys.prefix, "lib"), "/usr/local/lib", "/usr/lib"):
        places.append(os.path.join(d, SONAME))
    return places


def _describe_tried(tried: List[Tuple[str, str]]) -> str:
    return "; ".join(f"{p} ({why})" for p, why in tried)


class Library:
    """The loaded library with every function of SIGNATURES declared (a function the loaded
    library lacks raises LibraryNotFound when called)."""

    def __init__(self, cdll: ctypes.CDLL, path: str) -> None:
        self.path = path
        self._cdll = cdll
        cdll.docker_runtime_version.restype = c_char_p
        version = cdll.docker_runtime_version().decode()
        for name, (restype, argtypes) in SIGNATURES.items():
            try:
                f = getattr(cdll, name)
            except AttributeError:
                setattr(self, name, _missing(path, version, name))
                continue
            f.restype = restype
            f.argtypes = argtypes
            setattr(self, name, f)

    def __getattr__(self, name: str) -> Any:
        # A function not declared above: the raw symbol (undeclared argtypes: the caller's
        # responsibility, as with ctypes.CDLL).
        return getattr(self._cdll, name)


_lock = threading.Lock()
_loaded: Optional[Library] = None


def load() -> Library:
    """The library, loaded on first use; LibraryNotFound when no candidate loads."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load_first()
    return _loaded


def _load_first() -> Library:
    tried: List[Tuple[str, str]] = []
    env_set = bool(os.environ.get(ENV_VAR))
    for path in candidates():
        if not path:
            tried.append(("ctypes.util.find_library('docker_runtime')", "not found"))
            continue
        if os.path.isabs(path) and not os.path.exists(path):
            tried.append((path, "no such file"))
            continue
        try:
            cdll = ctypes.CDLL(path)
        except OSError as e:
            tried.append((path, str(e)))
            continue
        if not hasattr(cdll, "docker_runtime_version"):
            tried.append((path, "not libdocker_runtime: no docker_runtime_version"))
            continue
        return Library(cdll, path)
    if env_set:
        fix = (f"point ${ENV_VAR} at an existing libdocker_runtime.so (cargo build puts it in "
               f"target/debug/), or unset it to search the installed locations")
    else:
        fix = (f"install the library (bash scripts/install.sh [PREFIX], then ldconfig), or set "
               f"${ENV_VAR} to the path of libdocker_runtime.so")
    raise LibraryNotFound(
        f"libdocker_runtime could not be loaded; tried: {_describe_tried(tried)}. To fix: {fix}",
        tried=[p for p, _ in tried])


def check(result: int) -> None:
    """Raise the exception for a failed call's result (the thread's last error)."""
    if result == 0:
        return
    lib = load()
    n = lib.docker_error_message(None, 0)
    buf = ctypes.create_string_buffer(n + 1)
    lib.docker_error_message(buf, n + 1)
    name = lib.docker_result_name(result)
    raise error_for(result, name.decode() if name else f"docker_result {result}",
                    buf.value.decode("utf-8", "replace"), lib.docker_error_errno())


def take_string(ptr: c_void_p) -> str:
    """A library-allocated string returned through `char **`: copied, then freed."""
    if not ptr.value:
        return ""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        load().docker_string_free(ptr)
