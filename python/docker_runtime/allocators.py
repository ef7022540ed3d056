"""In-memory address and port allocators (the low-level layer)."""

from __future__ import annotations

from ctypes import byref, c_uint16, c_void_p, create_string_buffer
from typing import Optional

from . import _lib
from ._handle import Closing
from ._structs import Text, encode

__all__ = ["IpAllocator", "PortAllocator"]


class IpAllocator(Closing):
    """Addresses of an IPv4 subnet (in memory)."""

    def __init__(self, cidr: Text) -> None:
        self._h: Optional[c_void_p] = None
        h = c_void_p()
        _lib.check(_lib.load().docker_ip_allocator_new(encode(cidr, "cidr"), byref(h)))
        self._h = h

    def close(self) -> None:
        if self._h:
            _lib.load().docker_ip_allocator_free(self._h)
            self._h = None

    @property
    def gateway(self) -> str:
        buf = create_string_buffer(16)
        _lib.check(_lib.load().docker_ip_allocator_gateway(self._h, buf, 16))
        return buf.value.decode()

    def acquire(self) -> str:
        buf = create_string_buffer(16)
        _lib.check(_lib.load().docker_ip_allocator_acquire(self._h, buf, 16))
        return buf.value.decode()

    def acquire_specific(self, ip: Text) -> None:
        _lib.check(_lib.load().docker_ip_allocator_acquire_specific(self._h, encode(ip, "ip")))

    def release(self, ip: Text) -> None:
        _lib.check(_lib.load().docker_ip_allocator_release(self._h, encode(ip, "ip")))


class PortAllocator(Closing):
    """TCP ports of a range (default 49153-65535), in memory."""

    def __init__(self, first: int = 0, last: int = 0) -> None:
        self._h: Optional[c_void_p] = None
        h = c_void_p()
        _lib.check(_lib.load().docker_port_allocator_new(first, last, byref(h)))
        self._h = h

    def close(self) -> None:
        if self._h:
            _lib.load().docker_port_allocator_free(self._h)
            self._h = None

    def acquire(self) -> int:
        p = c_uint16()
        _lib.check(_lib.load().docker_port_allocator_acquire(self._h, byref(p)))
        return p.value

    def acquire_specific(self, port: int) -> None:
        _lib.check(_lib.load().docker_port_allocator_acquire_specific(self._h, port))

    def release(self, port: int) -> None:
        _lib.check(_lib.load().docker_port_allocator_release(self._h, port))
