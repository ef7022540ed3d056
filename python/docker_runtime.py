"""ctypes bindings for libdocker_runtime (docker v0.1.0 rebuilt in Rust).

Every function of the C API used here has its argtypes and restype declared. A failed call
raises DockerError carrying the library's result code name, message and errno.

The library is found through $DOCKER_RUNTIME_LIB, else as libdocker_runtime.so on the loader's
search path.
"""

import ctypes
import os
from ctypes import (POINTER, byref, c_char_p, c_int, c_size_t, c_uint16, c_uint64, c_void_p,
                    create_string_buffer)

__all__ = ["DockerError", "Runtime", "IpAllocator", "PortAllocator", "lib", "version"]


def _load():
    path = os.environ.get("DOCKER_RUNTIME_LIB", "libdocker_runtime.so")
    return ctypes.CDLL(path)


lib = _load()

LOG_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_char_p)


class _Options(ctypes.Structure):
    """An option struct of the C API: its first field, `size`, is the struct's size as this
    module declares it, so the library (older or newer) reads only what is here and
    refuses fields it does not know when they are set. Filled by `init()`."""

    _init = None  # the name of the library's `_init` function

    @classmethod
    def init(cls):
        """A struct with the library's defaults: `_init(&opts, sizeof opts)`."""
        opts = cls()
        _check(getattr(lib, cls._init)(byref(opts), ctypes.sizeof(opts)))
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


def _declare(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_declare("docker_runtime_version", c_char_p)
_declare("docker_result_name", c_char_p, c_int)
_declare("docker_error_message", c_size_t, c_char_p, c_size_t)
_declare("docker_error_errno", c_int)
_declare("docker_error_code", c_int)
_declare("docker_runtime_options_init", c_int, POINTER(RuntimeOptions), c_size_t)
_declare("docker_runtime_new", c_int, c_char_p, POINTER(RuntimeOptions), POINTER(c_void_p))
_declare("docker_runtime_free", None, c_void_p)
_declare("docker_runtime_restore", c_int, c_void_p, POINTER(c_size_t))
_declare("docker_call_options_init", c_int, POINTER(CallOptions), c_size_t)
_declare("docker_runtime_call", c_int, c_void_p, c_int, POINTER(c_char_p), c_int, c_int,
         POINTER(c_int))
_declare("docker_runtime_call_with", c_int, c_void_p, c_int, POINTER(c_char_p),
         POINTER(CallOptions), POINTER(c_int))
_declare("docker_runtime_ip_acquire", c_int, c_void_p, c_char_p, c_size_t)
_declare("docker_runtime_ip_acquire_specific", c_int, c_void_p, c_char_p)
_declare("docker_runtime_ip_release", c_int, c_void_p, c_char_p)
_declare("docker_runtime_port_acquire", c_int, c_void_p, POINTER(c_uint16))
_declare("docker_runtime_port_acquire_specific", c_int, c_void_p, c_uint16)
_declare("docker_runtime_port_release", c_int, c_void_p, c_uint16)
_declare("docker_ip_allocator_new", c_int, c_char_p, POINTER(c_void_p))
_declare("docker_ip_allocator_free", None, c_void_p)
_declare("docker_ip_allocator_acquire", c_int, c_void_p, c_char_p, c_size_t)
_declare("docker_ip_allocator_acquire_specific", c_int, c_void_p, c_char_p)
_declare("docker_ip_allocator_release", c_int, c_void_p, c_char_p)
_declare("docker_ip_allocator_gateway", c_int, c_void_p, c_char_p, c_size_t)
_declare("docker_port_allocator_new", c_int, c_uint16, c_uint16, POINTER(c_void_p))
_declare("docker_port_allocator_free", None, c_void_p)
_declare("docker_port_allocator_acquire", c_int, c_void_p, POINTER(c_uint16))
_declare("docker_port_allocator_acquire_specific", c_int, c_void_p, c_uint16)
_declare("docker_port_allocator_release", c_int, c_void_p, c_uint16)

LOG_LEVELS = {0: "default", 1: "error", 2: "warning", 3: "info", 4: "debug"}


class DockerError(Exception):
    """A failed call: `code` is the result name (e.g. DOCKER_ERR_NOT_FOUND), `message` the
    library's message, `errno` the OS errno or 0."""

    def __init__(self, code, message, errno):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.errno = errno


def _check(result):
    if result == 0:
        return
    n = lib.docker_error_message(None, 0)
    buf = create_string_buffer(n + 1)
    lib.docker_error_message(buf, n + 1)
    raise DockerError(lib.docker_result_name(result).decode(),
                      buf.value.decode("utf-8", "replace"), lib.docker_error_errno())


def _bytes(s, what):
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise TypeError(f"{what} must be str or bytes")
    return s.encode()


def version():
    return lib.docker_runtime_version().decode()


class Runtime:
    """A runtime on `root`. Keyword options: bridge_name, bridge_subnet, iptables_chain,
    init_path, port_range=(first, last), log=callable(level_name, message), debug,
    ip_forward (False: never turn on net.ipv4.ip_forward), max_layer_bytes and
    max_layer_entries (what one image layer may unpack to; 0: the defaults)."""

    def __init__(self, root, bridge_name=None, bridge_subnet=None, iptables_chain=None,
                 init_path=None, port_range=None, log=None, debug=False, ip_forward=True,
                 max_layer_bytes=0, max_layer_entries=0):
        self._h = None
        opts = RuntimeOptions.init()
        # Keep the encoded strings alive for the call.
        self._keep = [_bytes(v, k) for k, v in (("bridge_name", bridge_name),
                                               ("bridge_subnet", bridge_subnet),
                                               ("iptables_chain", iptables_chain),
                                               ("init_path", init_path))]
        opts.bridge_name, opts.bridge_subnet, opts.iptables_chain, opts.init_path = self._keep
        if port_range is not None:
            opts.port_first, opts.port_last = port_range
        if debug:
            opts.log_level = 4
        if not ip_forward:
            opts.disable_ip_forward = 1
        opts.max_layer_bytes, opts.max_layer_entries = max_layer_bytes, max_layer_entries
        self._log_cb = None
        if log is not None:
            def trampoline(_userdata, level, message):
                log(LOG_LEVELS.get(level, str(level)), message.decode("utf-8", "replace"))
                return 0
            self._log_cb = LOG_CALLBACK(trampoline)
            opts.log_callback = self._log_cb
        handle = c_void_p()
        _check(lib.docker_runtime_new(_bytes(root, "root"), byref(opts), byref(handle)))
        self._h = handle

    def close(self):
        if self._h:
            lib.docker_runtime_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def restore(self):
        n = c_size_t()
        _check(lib.docker_runtime_restore(self._h, byref(n)))
        return n.value

    def call_fds(self, args, stdin_fd=-1, stdout_fd=1, stderr_fd=2, tty=None):
        """Run a command with the given descriptors; returns the exit status. A failed
        command raises DockerError (its status is in .status)."""
        argv = (c_char_p * len(args))(*[_bytes(a, "argument") for a in args])
        opts = CallOptions.init()
        opts.stdin_fd, opts.stdout_fd, opts.stderr_fd = stdin_fd, stdout_fd, stderr_fd
        if tty:
            opts.tty_rows, opts.tty_cols = tty
        status = c_int(-1)
        r = lib.docker_runtime_call_with(self._h, len(args), argv, byref(opts), byref(status))
        try:
            _check(r)
        except DockerError as e:
            e.status = status.value
            raise
        return status.value

    def call(self, *args, stdin=b""):
        """Run a command; returns (exit status, stdout bytes, stderr bytes). Failed commands
        return their status and message rather than raising."""
        import tempfile
        with tempfile.TemporaryFile() as i, tempfile.TemporaryFile() as o, \
                tempfile.TemporaryFile() as e:
            i.write(stdin)
            i.seek(0)
            try:
                status = self.call_fds(list(args), i.fileno(), o.fileno(), e.fileno())
            except DockerError as err:
                status = err.status
            o.seek(0)
            e.seek(0)
            return status, o.read(), e.read()

    def ip_acquire(self):
        buf = create_string_buffer(16)
        _check(lib.docker_runtime_ip_acquire(self._h, buf, 16))
        return buf.value.decode()

    def ip_acquire_specific(self, ip):
        _check(lib.docker_runtime_ip_acquire_specific(self._h, _bytes(ip, "ip")))

    def ip_release(self, ip):
        _check(lib.docker_runtime_ip_release(self._h, _bytes(ip, "ip")))

    def port_acquire(self):
        p = c_uint16()
        _check(lib.docker_runtime_port_acquire(self._h, byref(p)))
        return p.value

    def port_acquire_specific(self, port):
        _check(lib.docker_runtime_port_acquire_specific(self._h, port))

    def port_release(self, port):
        _check(lib.docker_runtime_port_release(self._h, port))


class IpAllocator:
    """Addresses of an IPv4 subnet (in memory)."""

    def __init__(self, cidr):
        self._h = None
        h = c_void_p()
        _check(lib.docker_ip_allocator_new(_bytes(cidr, "cidr"), byref(h)))
        self._h = h

    def close(self):
        if self._h:
            lib.docker_ip_allocator_free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    @property
    def gateway(self):
        buf = create_string_buffer(16)
        _check(lib.docker_ip_allocator_gateway(self._h, buf, 16))
        return buf.value.decode()

    def acquire(self):
        buf = create_string_buffer(16)
        _check(lib.docker_ip_allocator_acquire(self._h, buf, 16))
        return buf.value.decode()

    def acquire_specific(self, ip):
        _check(lib.docker_ip_allocator_acquire_specific(self._h, _bytes(ip, "ip")))

    def release(self, ip):
        _check(lib.docker_ip_allocator_release(self._h, _bytes(ip, "ip")))


class PortAllocator:
    """TCP ports of a range (default 49153-65535), in memory."""

    def __init__(self, first=0, last=0):
        self._h = None
        h = c_void_p()
        _check(lib.docker_port_allocator_new(first, last, byref(h)))
        self._h = h

    def close(self):
        if self._h:
            lib.docker_port_allocator_free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def acquire(self):
        p = c_uint16()
        _check(lib.docker_port_allocator_acquire(self._h, byref(p)))
        return p.value

    def acquire_specific(self, port):
        _check(lib.docker_port_allocator_acquire_specific(self._h, port))

    def release(self, port):
        _check(lib.docker_port_allocator_release(self._h, port))
