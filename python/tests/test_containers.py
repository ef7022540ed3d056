"""Running real containers from Python through the C ABI (as an embedding host would)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import docker_runtime as dr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.environ.get("DOCKER_RUNTIME_BIN_DIR", os.path.join(REPO, "target", "debug"))


@unittest.skipUnless(os.geteuid() == 0, "containers need root (CI runs as root)")
class ContainerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dr-py-containers-")
        cls.rt = dr.Runtime(os.path.join(cls.dir, "root"),
                            init_path=os.path.join(BIN_DIR, "docker-init"))
        tar = subprocess.run(["bash", os.path.join(REPO, "contrib", "mkimage-busybox.sh")],
                             check=True, stdout=subprocess.PIPE).stdout
        status, out, err = cls.rt.call("import", "-", "busybox", stdin=tar)
        assert status == 0, err

    @classmethod
    def tearDownClass(cls):
        status, out, _ = cls.rt.call("ps", "-a", "-q", "--no-trunc")
        for cid in out.decode().split():
            cls.rt.call("rm", "-f", cid)
        cls.rt.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_run_streams_output_and_returns_the_status(self):
        status, out, err = self.rt.call("run", "--network", "none", "busybox",
                                         "sh", "-c", "echo hi from python; echo oops >&2; exit 4")
        self.assertEqual(status, 4)
        self.assertEqual(out, b"hi from python\n")
        self.assertEqual(err, b"oops\n")

    def test_stdin_and_detached_lifecycle(self):
        status, out, _ = self.rt.call("run", "-i", "--network", "none", "busybox", "rev",
                                      stdin=b"abc\n")
        self.assertEqual((status, out), (0, b"cba\n"))
        status, out, _ = self.rt.call("run", "-d", "--network", "none", "busybox",
                                      "sh", "-c", "echo started; sleep 100")
        self.assertEqual(status, 0)
        cid = out.decode().strip()
        self.assertEqual(len(cid), 64)
        status, out, _ = self.rt.call("ps", "-q")
        self.assertIn(cid[:12].encode(), out)
        for _ in range(500):
            if self.rt.call("logs", cid)[1] == b"started\n":
                break
            time.sleep(0.01)
        self.assertEqual(self.rt.call("logs", cid)[1], b"started\n")
        self.assertEqual(self.rt.call("kill", cid)[0], 0)
        self.assertEqual(self.rt.call("wait", cid)[1], b"137\n")
        self.assertEqual(self.rt.call("rm", cid)[0], 0)

    def test_errors_carry_the_library_message(self):
        with self.assertRaises(dr.DockerError) as cm:
            self.rt.call_fds(["run", "nosuchimage", "true"],
                             stdout_fd=os.open(os.devnull, os.O_WRONLY),
                             stderr_fd=os.open(os.devnull, os.O_WRONLY))
        self.assertEqual(cm.exception.code, "DOCKER_ERR_NOT_FOUND")
        self.assertIn("no such image: nosuchimage", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
