"""Running real containers from Python through the command dispatch (the low-level layer)."""

import os
import time
import unittest

from support import Fixture, dr


@unittest.skipUnless(os.geteuid() == 0, "containers need root (CI runs as root)")
class ContainerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.f = Fixture("dispatch")
        cls.rt = cls.f.rt

    @classmethod
    def tearDownClass(cls):
        cls.f.close()

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
            self.rt.call_fds(["run", "--pull", "never", "nosuchimage", "true"],
                             stdout_fd=os.open(os.devnull, os.O_WRONLY),
                             stderr_fd=os.open(os.devnull, os.O_WRONLY))
        self.assertEqual(cm.exception.code, "DOCKER_ERR_NOT_FOUND")
        self.assertIn("no such image: nosuchimage", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
