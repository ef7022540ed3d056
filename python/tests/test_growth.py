"""The option structs' growth rule through ctypes: an older caller's smaller struct, a newer
caller's larger one, and bad sizes (tests/abi_growth.rs does the same from C)."""

import ctypes
import os
import shutil
import tempfile
import unittest
from ctypes import POINTER, byref, c_uint16, c_uint64, c_void_p

from support import dr

OptsPtr = POINTER(dr.RuntimeOptions)


class OldRuntimeOptions(ctypes.Structure):
    """docker_runtime_options as its first version declared it."""
    _fields_ = dr.RuntimeOptions._fields_[:10]


class NewRuntimeOptions(ctypes.Structure):
    """A later version: today's fields and one this library does not know."""
    _fields_ = dr.RuntimeOptions._fields_ + [("future", c_uint64)]


class WithCanary(ctypes.Structure):
    _fields_ = [("opts", OldRuntimeOptions), ("canary", ctypes.c_ubyte * 32)]


def as_opts(s):
    return ctypes.cast(ctypes.pointer(s), OptsPtr)


def message():
    n = dr.lib.docker_error_message(None, 0)
    buf = ctypes.create_string_buffer(n + 1)
    dr.lib.docker_error_message(buf, n + 1)
    return buf.value.decode()


class GrowthTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dr-py-growth-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def new(self, name, opts):
        h = c_void_p()
        r = dr.lib.docker_runtime_new(os.path.join(self.dir, name).encode(), opts, byref(h))
        return r, h

    def test_init_sets_the_declared_size(self):
        for cls in (dr.RuntimeOptions, dr.CallOptions):
            self.assertEqual(cls.init().size, ctypes.sizeof(cls))

    def test_an_older_caller_is_written_and_read_within_its_struct(self):
        self.assertEqual(OldRuntimeOptions._fields_[-1][0], "log_userdata")
        s = WithCanary()
        ctypes.memset(byref(s), 0xAB, ctypes.sizeof(s))
        o = s.opts
        self.assertEqual(dr.lib.docker_runtime_options_init(as_opts(o), ctypes.sizeof(o)), 0)
        self.assertEqual(o.size, ctypes.sizeof(OldRuntimeOptions))
        self.assertEqual(bytes(s.canary), b"\xab" * 32)
        keep = [b"drgrowpy0", b"10.79.8.1/24"]
        o.bridge_name, o.bridge_subnet = keep
        o.port_first, o.port_last = 50400, 50409
        r, h = self.new("old", as_opts(o))
        self.assertEqual(r, 0, message())
        try:
            self.assertEqual(bytes(s.canary), b"\xab" * 32)
            buf = ctypes.create_string_buffer(16)
            port = c_uint16()
            self.assertEqual(dr.lib.docker_runtime_ip_acquire(h, buf, 16), 0)
            self.assertEqual(dr.lib.docker_runtime_port_acquire(h, byref(port)), 0)
            self.assertEqual((buf.value, port.value), (b"10.79.8.2", 50400))
        finally:
            dr.lib.docker_runtime_free(h)

    def test_a_newer_caller_gets_zeros_and_is_refused_when_it_sets_them(self):
        n = NewRuntimeOptions()
        ctypes.memset(byref(n), 0xCD, ctypes.sizeof(n))
        self.assertEqual(dr.lib.docker_runtime_options_init(as_opts(n), ctypes.sizeof(n)), 0)
        self.assertEqual((n.size, n.future, n.max_layer_bytes), (ctypes.sizeof(n), 0, 0))
        keep = [b"drgrowpy1", b"10.79.9.1/24"]
        n.bridge_name, n.bridge_subnet = keep
        n.disable_ip_forward = 1
        r, h = self.new("new", as_opts(n))
        self.assertEqual(r, 0, message())
        dr.lib.docker_runtime_free(h)
        n.future = 1
        r, h = self.new("new", as_opts(n))
        self.assertEqual(dr.lib.docker_result_name(r), b"DOCKER_ERR_INVALID_ARGUMENT")
        self.assertIn("this library does not have", message())
        self.assertFalse(h)

    def test_bad_sizes_are_refused_and_nothing_is_written(self):
        o = dr.RuntimeOptions()
        ctypes.memset(byref(o), 0xAB, ctypes.sizeof(o))
        for size in (0, 8, ctypes.sizeof(OldRuntimeOptions) + 4, 1 << 20):
            r = dr.lib.docker_runtime_options_init(byref(o), size)
            self.assertEqual(dr.lib.docker_result_name(r), b"DOCKER_ERR_INVALID_ARGUMENT")
            self.assertIn("sizeof(struct docker_runtime_options)", message())
            self.assertEqual(bytes(o), b"\xab" * ctypes.sizeof(o))


if __name__ == "__main__":
    unittest.main()
