"""The docker-py-like surface over the typed C API, with real containers: every typed function
through it, bad input, streams stopped by their consumer, callbacks that raise, events."""

import ctypes
import gc
import io
import os
import shutil
import socket
import tarfile
import threading
import time
import unittest
from ctypes import byref, c_uint64, c_void_p

from support import Fixture, Registry, busybox_tar, eventually, dr

NONE = {"network_mode": "none"}


def tiny_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@unittest.skipUnless(os.geteuid() == 0, "containers need root (CI runs as root)")
class ContainerSurfaceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.f = Fixture("surface")
        cls.rt = cls.f.rt

    @classmethod
    def tearDownClass(cls):
        cls.f.close()

    def detached(self, script, **kw):
        c = self.rt.containers.run("busybox", ["sh", "-c", script], detach=True,
                                   **{**NONE, **kw})
        self.addCleanup(self.discard, c)
        return c

    def discard(self, c):
        c.close()
        try:
            with self.rt.containers.get(c.id) as again:
                again.remove(force=True)
        except dr.NotFound:
            pass

    def test_run_returns_the_output(self):
        self.assertEqual(self.rt.containers.run("busybox", ["echo", "hi"], **NONE), b"hi\n")
        out = self.rt.containers.run(
            "busybox", "sh -c 'echo $FOO $BAR; id -u; pwd; hostname'", user="1234",
            environment={"FOO": "foo"}, working_dir="/tmp", hostname="pyhost",
            remove=True, **NONE)
        self.assertEqual(out, b"foo\n1234\n/tmp\npyhost\n")
        both = self.rt.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"],
                                      stderr=True, environment=["BAR=1"], **NONE)
        self.assertEqual(sorted(both.splitlines()), [b"err", b"out"])
        self.assertEqual(self.rt.containers.run("busybox", ["rev"], stdin=b"abc\n", **NONE),
                         b"cba\n")

    def test_a_stdin_source_that_fails_is_raised(self):
        class Failing(io.RawIOBase):
            def readable(self):
                return True

            def readinto(self, b):
                raise OSError(5, "the stdin source broke")
        before = len(self.rt.containers.list(all=True))
        with self.assertRaises(OSError) as cm:
            self.rt.containers.run("busybox", ["cat"], stdin=Failing(), remove=True, **NONE)
        self.assertIn("the stdin source broke", str(cm.exception))
        self.assertEqual(len(self.rt.containers.list(all=True)), before)  # removed all the same

    def test_a_nonzero_exit_raises_container_error_with_stderr(self):
        with self.assertRaises(dr.ContainerError) as cm:
            self.rt.containers.run("busybox", ["sh", "-c", "echo partial; echo oops >&2; exit 3"],
                                   remove=True, **NONE)
        e = cm.exception
        self.assertEqual((e.exit_status, e.stderr, e.image), (3, b"oops\n", "busybox"))
        self.assertEqual(e.command, ["sh", "-c", "echo partial; echo oops >&2; exit 3"])
        self.assertIn("oops", str(e))
        with self.assertRaises(dr.NotFound):  # remove=True removed it
            self.rt.containers.get(e.container.id)

    def test_detached_lifecycle(self):
        c = self.detached("echo started; sleep 100")
        self.assertEqual(len(c.id), 64)
        self.assertEqual(c.short_id, c.id[:12])
        self.assertEqual(c.attrs["Id"], c.id)
        self.assertEqual(c.image, self.rt.images.get("busybox"))
        self.assertEqual(c.status, "running")
        self.assertIn(c, self.rt.containers.list())
        self.assertEqual(self.rt.containers.get(c.short_id), c)
        # A stream the consumer stops: the container keeps running.
        stream = c.logs(stream=True)
        self.assertEqual(next(stream), b"started\n")
        stream.close()
        c.reload()
        self.assertEqual(c.status, "running")
        self.assertEqual(c.logs(), b"started\n")
        with self.assertRaises(dr.InUse):
            c.remove()
        with self.assertRaises(dr.TimedOut):
            c.wait(timeout=0.2)
        c.kill()
        self.assertEqual(c.wait(timeout=30), {"StatusCode": 137})
        c.reload()
        self.assertEqual(c.status, "exited")
        self.assertNotIn(c, self.rt.containers.list())
        self.assertIn(c, self.rt.containers.list(all=True))
        c.remove()
        with self.assertRaises(dr.NotFound):
            self.rt.containers.get(c.id)

    def test_logs_tail_and_timestamps_as_docker_py(self):
        c = self.detached("echo o1; sleep 0.1; echo e1 >&2; sleep 0.1; echo o2")
        self.assertEqual(c.wait(timeout=30), {"StatusCode": 0})
        self.assertEqual(c.logs(), b"o1\no2\ne1\n")
        # The last lines of both streams together, in the order written (docker's count).
        self.assertEqual(c.logs(tail=2), b"o2\ne1\n")
        self.assertEqual(c.logs(tail=1), b"o2\n")
        self.assertEqual(c.logs(tail=0), b"")
        self.assertEqual(b"".join(c.logs(stream=True, tail=1)), b"o2\n")
        stamped = c.logs(timestamps=True, stderr=False).decode()
        self.assertRegex(stamped, r"^\d{4}-\d\d-\d\dT[0-9:.]+Z o1\n\S+ o2\n$")
        with self.assertRaises(TypeError):
            c.logs(tail="last")
        with self.assertRaises(TypeError):
            c.logs(tail=True)

    def test_a_live_stream_delivers_everything_in_order_then_ends(self):
        c = self.detached("i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; "
                          "echo bye >&2")
        chunks = list(c.logs(stream=True))
        want = b"".join(b"line %d\n" % i for i in range(200))
        got = b"".join(chunks)
        self.assertEqual(got.replace(b"bye\n", b""), want)
        self.assertIn(b"bye\n", got)
        self.assertEqual(c.wait(), {"StatusCode": 0})
        self.assertEqual(c.logs(stderr=False), want)
        self.assertEqual(c.logs(stdout=False), b"bye\n")
        # Its stream was taken: a second one yields the stored log.
        self.assertEqual(b"".join(c.logs(stream=True, stderr=False)), want)

    def test_an_unread_stream_past_its_cap_is_dropped_for_the_stored_log(self):
        from docker_runtime import containers
        cap, containers.STREAM_BUFFER_CAP = containers.STREAM_BUFFER_CAP, 1000
        self.addCleanup(setattr, containers, "STREAM_BUFFER_CAP", cap)
        c = self.detached("i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); done")
        self.assertEqual(c.wait(timeout=30), {"StatusCode": 0})
        self.assertTrue(c._channel.dropped)
        want = b"".join(b"line %d\n" % i for i in range(500))
        self.assertEqual(b"".join(c.logs(stream=True)), want)

    def test_run_stream_yields_live_output(self):
        gen = self.rt.containers.run("busybox", ["sh", "-c", "echo a; sleep 0.2; echo b"],
                                     stream=True, **NONE)
        self.assertEqual(b"".join(gen), b"a\nb\n")

    def test_exec_run_as_docker_py(self):
        c = self.detached("sleep 1000", environment={"FROM_RUN": "1"})
        code, out = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        self.assertEqual((code, out), (3, b"out\nerr\n"))
        self.assertEqual(c.exec_run("sh -c 'echo oops >&2'", demux=True), (0, (b"", b"oops\n")))
        res = c.exec_run("sh -c 'echo $FROM_RUN $FOO $(id -u) $PWD'", user="nobody",
                         environment={"FOO": "bar"}, workdir="/tmp")
        self.assertIsInstance(res, dr.ExecResult)
        self.assertEqual(res.exit_code, 0)
        self.assertEqual(res.output, b"1 bar 65534 /tmp\n")
        self.assertEqual(c.exec_run("cat", stdin=b"fed\n"), (0, b"fed\n"))
        self.assertTrue(c.exec_run("tty", tty=True).output.startswith(b"/dev/pts/"))
        self.assertEqual(c.exec_run("nosuch").exit_code, 127)
        code, out = c.exec_run("true", workdir="/nonexistent")
        self.assertEqual(code, 126)
        self.assertIn(b"/nonexistent", out)
        self.assertEqual(c.exec_run("touch /tmp/bg", detach=True), (None, b""))
        self.assertTrue(eventually(lambda: c.exec_run("test -e /tmp/bg").exit_code == 0))
        c.kill()
        c.wait()
        with self.assertRaises(dr.InUse) as cm:
            c.exec_run("true")
        self.assertIn("is not running", cm.exception.message)

    def test_create_start_stop_signal_and_resize(self):
        c = self.rt.containers.create("busybox", ["sh", "-c",
                                                  "trap 'echo term; exit 7' TERM; echo ready; "
                                                  "while true; do sleep 0.05; done"], **NONE)
        self.addCleanup(self.discard, c)
        self.assertEqual(c.status, "created")
        c.start()
        stream = c.logs(stream=True)
        self.assertEqual(next(stream), b"ready\n")  # the trap is set
        c.reload()
        self.assertEqual(c.status, "running")
        c.stop(timeout=10)
        self.assertEqual(b"".join(stream), b"term\n")
        self.assertEqual(c.wait(timeout=30), {"StatusCode": 7})
        self.assertEqual(c.logs(), b"ready\nterm\n")
        # A terminal: the container waits (at most 10 s) to see the new size.
        script = ("i=0; while [ \"$(stty size 2>/dev/null)\" != '33 111' ] && [ $i -lt 200 ]; "
                  "do sleep 0.05; i=$((i+1)); done; stty size")
        t = self.rt.containers.create("busybox", ["sh", "-c", script], tty=True, **NONE)
        self.addCleanup(self.discard, t)
        t.start()
        t.resize(33, 111)
        self.assertEqual(b"".join(t.logs(stream=True)).strip(), b"33 111")
        k = self.detached("trap 'exit 9' USR1; echo ready; while true; do sleep 0.05; done")
        self.assertEqual(next(k.logs(stream=True)), b"ready\n")
        with self.assertRaises(dr.InvalidArgument):
            k.kill(99)
        with self.assertRaises(ValueError):
            k.kill("SIGNOTHING")
        k.kill("SIGUSR1")
        self.assertEqual(k.wait(timeout=30)["StatusCode"], 9)

    def test_memory_and_capabilities_and_ports(self):
        c = self.rt.containers.create("busybox", ["grep", "CapEff", "/proc/self/status"],
                                      mem_limit="64m", cap_drop=["ALL"], **NONE)
        self.addCleanup(self.discard, c)
        self.assertEqual(c.attrs["Config"]["Memory"], 64 << 20)
        self.assertEqual(c.attrs["Config"]["CapDrop"], ["ALL"])
        c.start()
        self.assertEqual(b"".join(c.logs(stream=True)), b"CapEff:\t0000000000000000\n")
        port = self.f.ports[0]
        c = self.rt.containers.run("busybox", ["sh", "-c", "echo hello | nc -l -p 80"],
                                   detach=True, ports={"80/tcp": port})
        self.addCleanup(self.discard, c)

        def greeting():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    return s.recv(100) == b"hello\n"
            except OSError:
                return False
        self.assertTrue(eventually(greeting, 20))

    def test_cpu_shares(self):
        c = self.rt.containers.create("busybox", ["sleep", "300"], cpu_shares=512, **NONE)
        self.addCleanup(self.discard, c)
        self.assertEqual(c.attrs["Config"]["CpuShares"], 512)
        c.start()
        # The container's own cgroup has the weight: v1's shares as they are, v2's weight by
        # runc's conversion.
        v1 = f"/sys/fs/cgroup/cpu/docker-runtime/{c.id}/cpu.shares"
        v2 = f"/sys/fs/cgroup/docker-runtime/{c.id}/cpu.weight"
        path, want = (v1, "512") if os.path.exists(v1) else (v2, "20")
        with open(path) as f:
            self.assertEqual(f.read().strip(), want)
        c.kill()
        for bad in (1, 300000, -3):
            with self.subTest(bad=bad), self.assertRaises(dr.InvalidArgument) as cm:
                self.rt.containers.create("busybox", ["true"], cpu_shares=bad, **NONE)
            self.assertIn("CPU shares", cm.exception.message)
        for bad in ("lots", 1 << 70, 2.5):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                self.rt.containers.create("busybox", ["true"], cpu_shares=bad, **NONE)

    def test_mounts_as_docker_py_mount_dicts_or_strings(self):
        import tempfile
        host = tempfile.mkdtemp(prefix="dr-py-mount-")
        self.addCleanup(shutil.rmtree, host, True)
        with open(os.path.join(host, "f"), "w") as f:
            f.write("from the host\n")
        mounts = [
            {"Type": "bind", "Source": host, "Target": "/h", "ReadOnly": True},
            {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20}},
            "type=volume,src=pymounted,dst=/v",
        ]
        script = "cat /h/f; touch /h/x 2>/dev/null || echo ro; df -k /t | tail -1; echo v > /v/g"
        out = self.rt.containers.run("busybox", ["sh", "-c", script], mounts=mounts, **NONE)
        lines = out.decode().splitlines()
        self.assertEqual(lines[:2], ["from the host", "ro"])
        self.assertTrue(lines[2].startswith("tmpfs") and " 1024 " in lines[2], lines)
        self.assertFalse(os.path.exists(os.path.join(host, "x")))
        self.assertEqual(self.rt.volumes.get("pymounted").name, "pymounted")
        for bad in ({"Type": "bind", "Source": host, "Target": "/h",
                     "BindOptions": {"Propagation": "rshared"}},
                    {"Type": "bind", "Source": "/a,b", "Target": "/h"}):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                self.rt.containers.create("busybox", ["true"], mounts=[bad], **NONE)
        with self.assertRaises(dr.InvalidArgument) as cm:
            self.rt.containers.create("busybox", ["true"], mounts=["type=nfs,dst=/x"], **NONE)
        self.assertIn("nfs", cm.exception.message)

    def test_volumes_dict_and_list_forms(self):
        import tempfile
        with tempfile.TemporaryDirectory() as host:
            with open(os.path.join(host, "in"), "w") as f:
                f.write("from the host\n")
            out = self.rt.containers.run(
                "busybox", ["sh", "-c", "cat /mnt/in; echo kept > /data/f"], remove=True,
                volumes={host: {"bind": "/mnt", "mode": "ro"}, "pyvol": {"bind": "/data"}},
                **NONE)
            self.assertEqual(out, b"from the host\n")
            out = self.rt.containers.run("busybox", ["cat", "/d/f"], remove=True,
                                         volumes=["pyvol:/d:ro"], **NONE)
            self.assertEqual(out, b"kept\n")
            for bad in ({host: {"mode": "ro"}}, ["/nonexistent/x:/x"], ["a:b:c:d"]):
                with self.subTest(bad=bad), self.assertRaises((ValueError, dr.InvalidArgument)):
                    self.rt.containers.create("busybox", ["true"], volumes=bad)
        self.assertEqual(self.rt.call("volume", "rm", "pyvol")[0], 0)

    def test_bad_input(self):
        with self.assertRaises(dr.NotFound):
            self.rt.containers.get("0123456789ab")
        with self.assertRaises(dr.NotFound) as cm:
            self.rt.containers.create("nosuchimage", ["true"])
        self.assertIn("nosuchimage", cm.exception.message)
        for bad in ({"cap_add": ["NOT_A_CAPABILITY"]},
                    {"network_mode": "nosuchmode"}, {"mem_limit": -5},
                    {"security_opt": ["frobnicate=1"]}):
            with self.subTest(bad=bad), self.assertRaises(dr.InvalidArgument):
                self.rt.containers.create("busybox", ["true"], **bad)
        with self.assertRaises(dr.InvalidArgument):
            self.rt.containers.get(b"\xff")
        # Published ports are checked when the container starts.
        for ports in (["notaport"], {"80/tcp": ("127.0.0.1", 8080)}):
            c = self.rt.containers.create("busybox", ["true"], ports=ports)
            self.addCleanup(self.discard, c)
            with self.subTest(ports=ports), self.assertRaises(dr.InvalidArgument):
                c.start()
        c = self.rt.containers.create("busybox", ["cat"], **NONE)  # no stdin_open
        self.addCleanup(self.discard, c)
        with self.assertRaises(dr.InvalidArgument):
            c.start(stdin=b"x")
        with self.assertRaises(TypeError):
            self.rt.containers.create("busybox", ["true"], frobnicate=True)
        with self.assertRaises(ValueError):
            self.rt.containers.create("busybox", ["true"], mem_limit="lots")
        c = self.rt.containers.create("busybox", ["true"], **NONE)
        c.close()
        with self.assertRaises(ValueError):
            c.start()

    def test_names(self):
        c = self.rt.containers.create("busybox", ["true"], name="pyweb", **NONE)
        self.addCleanup(self.discard, c)
        self.assertEqual((c.name, c.attrs["Name"]), ("pyweb", "/pyweb"))
        with self.rt.containers.get("pyweb") as again:
            self.assertEqual(again.id, c.id)
        with self.assertRaises(dr.InUse) as cm:
            self.rt.containers.create("busybox", ["true"], name="pyweb", **NONE)
        self.assertIn(f'already in use by container "{c.id}"', cm.exception.message)
        with self.assertRaises(dr.InvalidArgument):
            self.rt.containers.create("busybox", ["true"], name="-bad", **NONE)
        other = self.rt.containers.create("busybox", ["true"], **NONE)
        self.addCleanup(self.discard, other)
        self.assertIn("_", other.name)

    def test_threads_running_containers_at_once(self):
        results, errors = {}, []

        def worker(n):
            try:
                for k in range(3):
                    out = self.rt.containers.run(
                        "busybox", ["sh", "-c", f"echo {n}-{k}; echo e{n} >&2"], stderr=True,
                        remove=True, **NONE)
                    results[(n, k)] = sorted(out.split())
            except BaseException as e:  # handed to the test's thread
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(results, {(n, k): [f"{n}-{k}".encode(), f"e{n}".encode()]
                                   for n in range(4) for k in range(3)})

    def test_a_container_outlives_its_runtime_handle(self):
        f = Fixture("outlive")
        self.addCleanup(f.close)
        c = f.rt.containers.create("busybox", ["echo", "after"], **NONE)
        f.rt.close()
        c.start()
        self.assertEqual(b"".join(c.logs(stream=True)), b"after\n")
        self.assertEqual(c.wait(), {"StatusCode": 0})
        c.remove()
        c.close()
        with self.assertRaises(ValueError):
            f.rt.containers.list()

    def test_events(self):
        with self.rt.events(decode=True) as ev:
            c = self.rt.containers.run("busybox", ["sh", "-c", "exit 5"], detach=True, **NONE)
            c.wait()
            c.remove()
            seen = []
            while not seen or seen[-1]["Action"] != "destroy":
                e = ev.get(timeout=20)
                if e["Actor"]["ID"] == c.id:
                    seen.append(e)
            self.assertEqual([e["Action"] for e in seen], ["create", "start", "die", "destroy"])
            self.assertEqual(seen[2]["Actor"]["Attributes"]["exitCode"], "5")
            self.assertTrue(all(e["Type"] == "container" for e in seen))
            self.assertIsInstance(seen[0]["timeNano"], int)
            c.close()
            img = self.rt.images.import_(tiny_tar({"f": b"x"}), "evented", "v1")
            while True:
                e = ev.get(timeout=20)
                if e["Type"] == "image" and e["Actor"]["ID"] == img.id:
                    break
            self.assertEqual(e["Action"], "import")
            self.rt.images.remove("evented:v1")
        with self.assertRaises(StopIteration):
            next(ev)

    def test_events_closed_from_another_thread_stop_a_blocked_iterator(self):
        ev = self.rt.events()
        got = []
        t = threading.Thread(target=lambda: got.extend(ev))
        t.start()
        time.sleep(0.2)
        ev.close()
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(got, [])
        with self.assertRaises(dr.TimedOut):
            self.rt.events().get(timeout=0.1)

    def test_a_stream_stopped_by_its_consumer_gets_no_more_callbacks(self):
        c = self.detached("while true; do echo tick; sleep 0.01; done")
        stream = c.logs(stream=True)
        self.assertTrue(next(stream).startswith(b"tick\n"))
        channel = c._channel
        stream.close()
        at_stop = channel.calls
        # The next call is answered nonzero; none may follow it.
        self.assertTrue(eventually(lambda: channel.calls > at_stop))
        calls = channel.calls
        time.sleep(0.5)  # ~50 more lines written
        self.assertEqual(channel.calls, calls)
        self.assertTrue(c.logs().count(b"tick\n") > 30)
        c.reload()
        self.assertEqual(c.status, "running")
        c.kill()
        self.assertEqual(c.wait(timeout=30), {"StatusCode": 137})

    def test_an_abandoned_stream_and_handle_are_freed(self):
        c = self.detached("while true; do echo tick; sleep 0.01; done")
        stream = c.logs(stream=True)
        next(stream)
        cid = c.id
        del stream
        c.close()  # ends the output stream; no callback after it
        gc.collect()
        again = self.rt.containers.get(cid)
        again.kill()
        self.assertEqual(again.wait(timeout=30)["StatusCode"], 137)
        again.remove()
        again.close()


@unittest.skipUnless(os.geteuid() == 0, "containers need root (CI runs as root)")
class ImageSurfaceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.f = Fixture("images", busybox=False)
        cls.rt = cls.f.rt

    @classmethod
    def tearDownClass(cls):
        cls.f.close()

    def test_import_list_get_tag_remove(self):
        images = self.rt.images
        img = images.import_(busybox_tar(), "pybox", "v1")
        self.assertEqual(img.tags, ["pybox:v1"])
        self.assertEqual(len(img.id), 64)
        self.assertEqual(images.get("pybox:v1"), img)
        self.assertEqual(images.get(img.short_id), img)
        self.assertIn(img, images.list())
        self.assertEqual(images.list(name="pybox"), [img])
        self.assertTrue(img.tag("pybox", "v2"))
        self.assertEqual(sorted(img.tags), ["pybox:v1", "pybox:v2"])
        self.assertEqual(self.rt.containers.run("pybox:v2", ["echo", "ok"], **NONE), b"ok\n")
        images.remove("pybox:v2")
        img.reload()
        self.assertEqual(img.tags, ["pybox:v1"])
        c = self.rt.containers.create(img.id, ["true"], **NONE)
        with self.assertRaises(dr.InUse):
            images.remove(img.id)
        c.remove()
        c.close()
        # From a path and from a file object, into the same layer content.
        with open(os.path.join(self.f.dir, "box.tar"), "wb") as f:
            f.write(tiny_tar({"hello": b"from a path\n"}))
        by_path = images.import_(f.name, "frompath")
        self.assertEqual(by_path.tags, ["frompath:latest"])
        by_file = images.import_(io.BytesIO(tiny_tar({"x": b"1"})))
        self.assertEqual(by_file.tags, [])
        images.remove(by_file.id)
        with self.assertRaises(dr.ImageNotFound):
            images.get(by_file.id)

    def test_import_errors(self):
        with self.assertRaises(dr.Corrupt):
            self.rt.images.import_(b"this is no tar archive" * 100)

        class Failing(io.RawIOBase):
            def readable(self):
                return True

            def readinto(self, b):
                raise OSError(5, "the source broke")
        with self.assertRaises(OSError) as cm:
            self.rt.images.import_(Failing())
        self.assertIn("the source broke", str(cm.exception))
        with self.assertRaises(dr.NotFound):
            self.rt.images.remove("nosuchimage:v9")
        with self.assertRaises(dr.NotFound):
            self.rt.images.tag("nosuchimage", "x")
        with self.assertRaises(dr.InvalidArgument):
            self.rt.images.import_(tiny_tar({"a": b""}), "UPPER/case")

    def test_save_and_load(self):
        images = self.rt.images
        img = images.import_(tiny_tar({"saved": b"yes\n"}), "pysave", "v1")
        data = images.save("pysave:v1")
        self.assertIn(b"index.json", data)
        path = os.path.join(self.f.dir, "saved.tar")
        self.assertIsNone(images.save(["pysave"], path))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
        images.remove("pysave:v1")
        loaded = images.load(data)
        self.assertEqual([i.tags for i in loaded], [["pysave:v1"]])
        images.remove("pysave:v1")
        self.assertEqual(images.load(path)[0].tags, ["pysave:v1"])
        self.assertEqual(images.load(io.BytesIO(data))[0].tags, ["pysave:v1"])
        self.assertNotEqual(loaded[0].id, img.id)  # an imported image gets its content's id
        with self.assertRaises(dr.Corrupt):
            images.load(b"no archive" * 100)
        with self.assertRaises(dr.NotFound):
            images.save("nosuchimage:v9")
        with self.assertRaises(dr.InvalidArgument):
            images.save([])
        self.assertFalse(any(n.startswith(".saved.tar.partial") for n in os.listdir(self.f.dir)))

    def test_pull_with_progress_and_a_progress_callback_that_raises(self):
        reg = Registry()
        self.addCleanup(reg.close)
        f = Fixture("pull")
        self.addCleanup(f.close)
        name = f"{reg.host}/py/busybox"
        status, _, err = f.rt.call("tag", "busybox", name, "v1")
        self.assertEqual(status, 0, err)
        status, _, err = f.rt.call("push", f"{name}:v1")
        self.assertEqual(status, 0, err)
        f.rt.images.remove(f"{name}:v1")
        f.rt.images.remove("busybox")
        self.assertEqual(f.rt.images.list(), [])

        class Stop(Exception):
            pass

        def refuse(progress):
            raise Stop(progress)
        with self.assertRaises(Stop):
            f.rt.images.pull(name, "v1", progress=refuse)
        self.assertEqual(f.rt.images.list(name=name), [])
        seen = []
        img = f.rt.images.pull(name, "v1", progress=seen.append)
        self.assertEqual(img.tags, [f"{name}:v1"])
        self.assertTrue(all(isinstance(p, dict) and "status" in p for p in seen), seen)
        self.assertEqual(f.rt.containers.run(f"{name}:v1", ["echo", "pulled"], **NONE),
                         b"pulled\n")
        with self.assertRaises((dr.RemoteError, dr.NotFound)):
            f.rt.images.pull(f"{reg.host}/py/nosuch", "v1")


class LowLevelTypedTest(unittest.TestCase):
    """The typed structs through the low-level layer: the growth rule and bad sizes."""

    def test_init_sets_the_declared_size(self):
        for cls in (dr.ContainerConfig, dr.ContainerIo):
            s = cls.init()
            self.assertEqual(s.size, ctypes.sizeof(cls))
        io_ = dr.ContainerIo.init()
        self.assertEqual((io_.stdin_fd, io_.stdout_fd, io_.stderr_fd), (-1, -1, -1))
        self.assertFalse(io_.output)

    def test_bad_sizes_are_refused_and_nothing_is_written(self):
        for cls, fn in ((dr.ContainerConfig, "docker_container_config_init"),
                        (dr.ContainerIo, "docker_container_io_init")):
            s = cls()
            ctypes.memset(byref(s), 0xAB, ctypes.sizeof(s))
            for size in (0, 4, ctypes.sizeof(s) - 1, 1 << 20):
                with self.subTest(cls=cls.__name__, size=size):
                    with self.assertRaises(dr.InvalidArgument):
                        dr._lib.check(getattr(dr.lib, fn)(byref(s), size))
                    self.assertEqual(bytes(s), b"\xab" * ctypes.sizeof(s))
        with self.assertRaises(dr.InvalidArgument):
            dr._lib.check(dr.lib.docker_container_config_init(None, 64))

    @unittest.skipUnless(os.geteuid() == 0, "the runtime needs root (CI runs as root)")
    def test_a_newer_callers_field_is_zeroed_and_refused_once_set(self):
        class NewerConfig(ctypes.Structure):
            _fields_ = dr.ContainerConfig._fields_ + [("future", c_uint64)]

        n = NewerConfig()
        ctypes.memset(byref(n), 0xCD, ctypes.sizeof(n))
        as_cfg = ctypes.cast(ctypes.pointer(n), ctypes.POINTER(dr.ContainerConfig))
        dr._lib.check(dr.lib.docker_container_config_init(as_cfg, ctypes.sizeof(n)))
        self.assertEqual((n.size, n.future), (ctypes.sizeof(n), 0))
        f = Fixture("growth")
        self.addCleanup(f.close)
        keep = [b"busybox", b"none", (ctypes.c_char_p * 2)(b"true", None)]
        n.image, n.network_mode = keep[:2]
        n.argv = ctypes.cast(keep[2], ctypes.POINTER(ctypes.c_char_p))
        h = c_void_p()
        dr._lib.check(dr.lib.docker_container_create(f.rt.handle, as_cfg, byref(h)))
        dr.lib.docker_container_free(h)
        n.future = 1
        with self.assertRaises(dr.InvalidArgument) as cm:
            dr._lib.check(dr.lib.docker_container_create(f.rt.handle, as_cfg, byref(h)))
        self.assertIn("this library does not have", cm.exception.message)


class WarmStartTest(unittest.TestCase):
    def test_warm_start_keeps_a_helper_ready_until_close(self):
        import glob
        import tempfile
        from support import BIN_DIR
        base = "/sys/fs/cgroup/memory/docker-runtime"
        if not os.path.isdir("/sys/fs/cgroup/memory"):
            self.skipTest("no cgroup v1 memory hierarchy")
        root = tempfile.mkdtemp(prefix="dr-py-warm-")
        self.addCleanup(shutil.rmtree, root, True)
        spares = os.path.join(base, f".warm-{os.getpid()}-*")
        rt = dr.Runtime(os.path.join(root, "root"), init_path=os.path.join(BIN_DIR, "docker-init"),
                        ip_forward=False, warm_start=True)
        def procs(d):
            with open(os.path.join(d, "cgroup.procs")) as f:
                return f.read().strip()
        try:
            self.assertTrue(eventually(lambda: any(procs(d) for d in glob.glob(spares))),
                            glob.glob(spares))
        finally:
            rt.close()
        self.assertEqual(glob.glob(spares), [])


if __name__ == "__main__":
    unittest.main()
