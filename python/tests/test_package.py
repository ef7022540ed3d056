"""The package itself: installing it with pip into a venv, finding the library (and the error
when it is missing, at first use and never at import), the exception classes of the result
codes, and its type hints."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from support import PYTHON_DIR, REPO, dr

LIB = os.environ.get("DOCKER_RUNTIME_LIB", os.path.join(REPO, "target", "debug",
                                                         "libdocker_runtime.so"))

# Result name -> the class raised for it (src/ffi/result.rs).
EXPECTED = {
    "DOCKER_ERR_NULL_ARGUMENT": dr.InvalidArgument,
    "DOCKER_ERR_INVALID_UTF8": dr.InvalidArgument,
    "DOCKER_ERR_INVALID_ARGUMENT": dr.InvalidArgument,
    "DOCKER_ERR_NOT_FOUND": dr.NotFound,
    "DOCKER_ERR_ALREADY_EXISTS": dr.AlreadyExists,
    "DOCKER_ERR_IN_USE": dr.InUse,
    "DOCKER_ERR_EXHAUSTED": dr.Exhausted,
    "DOCKER_ERR_CORRUPT": dr.Corrupt,
    "DOCKER_ERR_IO": dr.IoError,
    "DOCKER_ERR_PERMISSION_DENIED": dr.PermissionDenied,
    "DOCKER_ERR_UNSUPPORTED": dr.Unsupported,
    "DOCKER_ERR_UNKNOWN_COMMAND": dr.UnknownCommand,
    "DOCKER_ERR_REMOTE": dr.RemoteError,
    "DOCKER_ERR_BUFFER_TOO_SMALL": dr.BufferTooSmall,
    "DOCKER_ERR_PANIC": dr.LibraryBug,
    "DOCKER_ERR_TIMED_OUT": dr.TimedOut,
    "DOCKER_ERR_CANCELLED": dr.Cancelled,
}


def build_python():
    """An interpreter that can build the package offline (setuptools and wheel importable, venv
    with pip): this one, or Debian's (scripts/setup.sh installs python3-venv, python3-pip,
    python3-setuptools, python3-wheel)."""
    for exe in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run([exe, "-c", "import setuptools, wheel, venv, ensurepip"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            return exe
    raise AssertionError("no python3 with setuptools, wheel and venv: run scripts/setup.sh")


def run_python(exe, code, env):
    return subprocess.run([exe, "-c", code], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd="/")


class InstallTest(unittest.TestCase):
    def test_pip_installs_the_package_into_a_venv_offline(self):
        with tempfile.TemporaryDirectory(prefix="dr-py-venv-") as d:
            # A copy: building must not write into the source tree (build/, *.egg-info).
            src = os.path.join(d, "src")
            shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns(
                "__pycache__", "build", "*.egg-info", "tests"))
            venv = os.path.join(d, "venv")
            subprocess.run([build_python(), "-m", "venv", "--system-site-packages", venv],
                           check=True)
            py = os.path.join(venv, "bin", "python")
            pip = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation",
                                  "--no-index", src], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            self.assertEqual(pip.returncode, 0, pip.stdout)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            env["DOCKER_RUNTIME_LIB"] = LIB
            out = run_python(py, "import docker_runtime as d, os\n"
                                 "print(os.path.dirname(d.__file__))\n"
                                 "print(d.version(), d.IpAllocator('10.9.0.0/24').acquire())\n"
                                 "print(sorted(os.listdir(os.path.dirname(d.__file__))))", env)
            self.assertEqual(out.returncode, 0, out.stderr)
            where, loaded, files = out.stdout.splitlines()
            self.assertTrue(where.startswith(os.path.join(venv, "lib")), where)
            self.assertEqual(loaded, f"{dr.version()} 10.9.0.2")
            self.assertIn("py.typed", files)
            # Without $DOCKER_RUNTIME_LIB: the installed location, here PREFIX = the venv.
            lib_dir = os.path.join(venv, "lib")
            shutil.copy(LIB, os.path.join(lib_dir, dr.SONAME))
            del env["DOCKER_RUNTIME_LIB"]
            out = run_python(py, "import docker_runtime as d, ctypes.util\n"
                                 "print(ctypes.util.find_library('docker_runtime'))\n"
                                 "print(d.lib.path)", env)
            self.assertEqual(out.returncode, 0, out.stderr)
            found, path = out.stdout.splitlines()
            if found == "None":  # nothing on the loader's path comes first
                self.assertEqual(path, os.path.join(lib_dir, dr.SONAME))

    def test_the_package_version_is_the_library_version(self):
        with open(os.path.join(PYTHON_DIR, "pyproject.toml")) as f:
            line = next(ln for ln in f if ln.startswith("version"))
        self.assertEqual(line.split('"')[1], dr.version())
        self.assertEqual(dr.__version__, dr.version())
        self.assertEqual(dr.SONAME, f"libdocker_runtime.so.{dr.version().split('.')[0]}")


class LibraryLookupTest(unittest.TestCase):
    def test_a_missing_library_fails_at_first_use_not_at_import(self):
        missing = os.path.join(tempfile.gettempdir(), "dr-py-no-such-dir", "libnope.so")
        env = dict(os.environ, DOCKER_RUNTIME_LIB=missing,
                   PYTHONPATH=PYTHON_DIR)
        code = ("import docker_runtime as d\n"
                "print('imported')\n"
                "try:\n"
                "    d.Runtime('/tmp/never-made')\n"
                "except d.LibraryNotFound as e:\n"
                "    assert isinstance(e, d.DockerError) and isinstance(e, OSError)\n"
                "    print(e.tried)\n"
                "    print(e)\n")
        out = run_python(sys.executable, code, env)
        self.assertEqual(out.returncode, 0, out.stderr)
        imported, tried, message = out.stdout.splitlines()
        self.assertEqual(imported, "imported")
        self.assertEqual(tried, repr([missing]))
        self.assertIn(f"{missing} (no such file)", message)
        self.assertIn("DOCKER_RUNTIME_LIB", message)
        self.assertFalse(os.path.exists("/tmp/never-made"))

    def test_a_file_that_is_not_the_library_is_named_with_the_loader_error(self):
        with tempfile.NamedTemporaryFile(suffix=".so") as f:
            f.write(b"not an ELF file\n" * 256)
            f.flush()
            env = dict(os.environ, DOCKER_RUNTIME_LIB=f.name, PYTHONPATH=PYTHON_DIR)
            out = run_python(sys.executable, "import docker_runtime as d\nd.version()", env)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("LibraryNotFound", out.stderr)
        self.assertIn(f.name, out.stderr)
        self.assertIn("header", out.stderr)  # the loader's "invalid ELF header"

    def test_an_older_library_and_another_library_are_named(self):
        with tempfile.TemporaryDirectory(prefix="dr-py-oldlib-") as d:
            def build(name, source):
                with open(os.path.join(d, name + ".c"), "w") as f:
                    f.write(source)
                so = os.path.join(d, name + ".so")
                subprocess.run(["cc", "-shared", "-fPIC", "-o", so, f.name], check=True)
                return so
            old = build("old", 'const char *docker_runtime_version(void) { return "0.0.9"; }\n')
            other = build("other", "int something_else(void) { return 0; }\n")
            code = "import docker_runtime as d\nprint(d.version())\nd.IpAllocator('10.0.0.0/24')"
            out = run_python(sys.executable, code,
                             dict(os.environ, DOCKER_RUNTIME_LIB=old, PYTHONPATH=PYTHON_DIR))
            self.assertEqual(out.stdout, "0.0.9\n")
            self.assertIn(f"LibraryNotFound: {old} (version 0.0.9) has no function "
                          "docker_ip_allocator_new: the library is older than this package",
                          out.stderr)
            out = run_python(sys.executable, code,
                             dict(os.environ, DOCKER_RUNTIME_LIB=other, PYTHONPATH=PYTHON_DIR))
            self.assertIn(f"{other} (not libdocker_runtime: no docker_runtime_version)",
                          out.stderr)

    def test_without_the_variable_every_place_is_named(self):
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_RUNTIME_LIB"}
        env["PYTHONPATH"] = PYTHON_DIR
        out = run_python(sys.executable, "import docker_runtime as d\nprint(d.candidates())",
                         env)
        self.assertEqual(out.returncode, 0, out.stderr)
        places = eval(out.stdout)  # a list literal printed by the child
        self.assertEqual(places[1:], [os.path.join(sys.prefix, "lib", dr.SONAME),
                                      f"/usr/local/lib/{dr.SONAME}", f"/usr/lib/{dr.SONAME}"])


class ErrorClassTest(unittest.TestCase):
    def test_every_result_code_of_the_library_has_its_class(self):
        names = {}
        for v in range(1, 64):
            name = dr.lib.docker_result_name(v)
            if name and name.decode() in EXPECTED:
                names[v] = name.decode()
        self.assertEqual(set(names.values()), set(EXPECTED), "the library's result names")
        from docker_runtime.errors import error_for
        for v, name in names.items():
            e = error_for(v, name, "m", 0)
            self.assertIs(type(e), EXPECTED[name], name)
            self.assertIsInstance(e, dr.DockerError)
            self.assertEqual((e.code, e.result, e.message), (name, v, "m"))
        self.assertTrue(issubclass(dr.AlreadyExists, dr.Conflict))
        self.assertTrue(issubclass(dr.InUse, dr.Conflict))
        self.assertIs(type(error_for(999, "DOCKER_ERR_FUTURE", "m", 0)), dr.DockerError)

    def test_real_failures_raise_their_class(self):
        with self.assertRaises(dr.InvalidArgument) as cm:
            dr.IpAllocator("10.0.0.0/33")
        self.assertEqual(cm.exception.code, "DOCKER_ERR_INVALID_ARGUMENT")
        self.assertIsInstance(cm.exception, ValueError)
        with self.assertRaises(dr.InvalidArgument) as cm:
            dr.IpAllocator(b"\xff/24")
        self.assertEqual(cm.exception.code, "DOCKER_ERR_INVALID_UTF8")
        ports = dr.PortAllocator(50000, 50000)
        ports.acquire()
        with self.assertRaises(dr.Exhausted):
            ports.acquire()
        ports.close()
        with tempfile.TemporaryDirectory(prefix="dr-py-err-") as d:
            blocker = os.path.join(d, "file")
            open(blocker, "w").close()
            with self.assertRaises(dr.IoError) as cm:
                dr.Runtime(os.path.join(blocker, "root"))
            self.assertIsInstance(cm.exception, OSError)
            self.assertEqual(cm.exception.errno, 20)  # ENOTDIR
            self.assertIn("root", cm.exception.message)
            null = os.open(os.devnull, os.O_WRONLY)
            self.addCleanup(os.close, null)
            with dr.Runtime(os.path.join(d, "root")) as rt:
                with self.assertRaises(dr.UnknownCommand):
                    rt.call_fds(["frobnicate"], stdout_fd=null, stderr_fd=null)
                with self.assertRaises(dr.NotFound) as cm:
                    rt.call_fds(["run", "--pull", "never", "nosuchimage", "true"], stdout_fd=null,
                                stderr_fd=null)
                self.assertIn("no such image: nosuchimage", cm.exception.message)
            with self.assertRaises(ValueError):
                rt.restore()  # closed


class TypeHintTest(unittest.TestCase):
    def test_the_package_type_checks_strictly(self):
        # Debian's mypy (python3-mypy, installed by scripts/setup.sh).
        with tempfile.TemporaryDirectory(prefix="dr-py-mypy-") as cache:
            out = subprocess.run(["/usr/bin/python3", "-m", "mypy", "--config-file",
                                  os.path.join(PYTHON_DIR, "pyproject.toml"), "--cache-dir", cache,
                                  os.path.join(PYTHON_DIR, "docker_runtime")],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(out.returncode, 0, out.stdout)
        self.assertIn("Success", out.stdout)


if __name__ == "__main__":
    unittest.main()
