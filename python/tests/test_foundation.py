"""The foundation through ctypes: runtime, dispatch, allocators, errors."""

import json
import os
import shutil
import tempfile
import unittest

from support import dr


class TempRoot:
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="dr-py-")
        return os.path.join(self.dir, "root")

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


class FoundationTest(unittest.TestCase):
    def test_version_matches_cargo(self):
        cargo = os.path.join(os.path.dirname(__file__), "..", "..", "Cargo.toml")
        with open(cargo) as f:
            line = next(l for l in f if l.startswith("version"))
        self.assertEqual(dr.version(), line.split('"')[1])

    def test_runtime_layout_and_info(self):
        with TempRoot() as root:
            with dr.Runtime(root) as rt:
                self.assertEqual(rt.restore(), 0)
                status, out, err = rt.call("info")
                self.assertEqual(status, 0, err)
                self.assertIn(b"containers: 0", out)
                self.assertIn(b"images: 0", out)
                status, out, _ = rt.call()
                self.assertEqual(status, 0)
                self.assertIn(b"Commands:", out)
            self.assertEqual(os.stat(os.path.join(root, "containers")).st_mode & 0o777, 0o700)
            self.assertEqual(os.stat(os.path.join(root, "graph")).st_mode & 0o777, 0o700)
            repos = os.path.join(root, "repositories")
            self.assertEqual(os.stat(repos).st_mode & 0o777, 0o600)
            with open(repos) as f:
                self.assertEqual(json.load(f), {"Repositories": {}})

    def test_unknown_command_is_an_error_with_status(self):
        with TempRoot() as root, dr.Runtime(root) as rt:
            with self.assertRaises(dr.DockerError) as cm:
                rt.call_fds(["frobnicate"], stdout_fd=os.open(os.devnull, os.O_WRONLY))
            self.assertEqual(cm.exception.code, "DOCKER_ERR_UNKNOWN_COMMAND")
            self.assertIn("frobnicate", cm.exception.message)
            self.assertEqual(cm.exception.status, 1)
            status, _, err = rt.call("frobnicate")
            self.assertEqual(status, 1)
            self.assertIn(b"is not a docker command", err)

    def test_corrupt_repositories_is_refused_and_kept(self):
        with TempRoot() as root:
            os.makedirs(root)
            path = os.path.join(root, "repositories")
            with open(path, "w") as f:
                f.write("{broken")
            with self.assertRaises(dr.DockerError) as cm:
                dr.Runtime(root)
            self.assertEqual(cm.exception.code, "DOCKER_ERR_CORRUPT")
            self.assertIn("repositories", cm.exception.message)
            with open(path) as f:
                self.assertEqual(f.read(), "{broken")

    def test_modern_docker_root_is_refused(self):
        with TempRoot() as root:
            os.makedirs(os.path.join(root, "overlay2"))
            with self.assertRaises(dr.DockerError) as cm:
                dr.Runtime(root)
            self.assertIn("overlay2", cm.exception.message)
            self.assertFalse(os.path.exists(os.path.join(root, "graph")))

    def test_log_callback_receives_skipped_containers(self):
        lines = []
        with TempRoot() as root:
            os.makedirs(os.path.join(root, "containers", "not-an-id"))
            with dr.Runtime(root, log=lambda lvl, msg: lines.append((lvl, msg))) as rt:
                self.assertEqual(rt.restore(), 0)
        self.assertTrue(any("not-an-id" in m and lvl == "warning" for lvl, m in lines), lines)

    def test_runtime_pools_persist(self):
        with TempRoot() as root:
            opts = dict(bridge_name="drpytest0", bridge_subnet="10.88.0.1/29",
                        port_range=(50000, 50001))
            with dr.Runtime(root, **opts) as rt:
                a = rt.ip_acquire()
                p = rt.port_acquire()
            with dr.Runtime(root, **opts) as rt:
                self.assertNotEqual(rt.ip_acquire(), a)
                self.assertNotEqual(rt.port_acquire(), p)
                with self.assertRaises(dr.DockerError) as cm:
                    rt.port_acquire()
                self.assertEqual(cm.exception.code, "DOCKER_ERR_EXHAUSTED")
                rt.ip_release(a)
                with self.assertRaises(dr.DockerError):
                    rt.ip_release(a)

    def test_allocators_and_errors(self):
        ips = dr.IpAllocator("172.30.0.0/16")
        self.assertEqual(ips.gateway, "172.30.0.1")
        got = {ips.acquire() for _ in range(100)}
        self.assertEqual(len(got), 100)
        self.assertNotIn("172.30.0.1", got)
        for bad in ("10.0.0.0/33", "abc", "10.0.0.1/32"):
            with self.assertRaises(dr.DockerError) as cm:
                dr.IpAllocator(bad)
            self.assertEqual(cm.exception.code, "DOCKER_ERR_INVALID_ARGUMENT")
        with self.assertRaises(dr.DockerError) as cm:
            dr.IpAllocator(b"\xff/24")
        self.assertEqual(cm.exception.code, "DOCKER_ERR_INVALID_UTF8")
        ports = dr.PortAllocator()
        self.assertEqual(ports.acquire(), 49153)
        with self.assertRaises(dr.DockerError) as cm:
            dr.PortAllocator(100, 10)
        self.assertIn("100-10", cm.exception.message)
        ports.release(49153)
        with self.assertRaises(dr.DockerError) as cm:
            ports.release(49153)
        self.assertIn("not allocated", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
