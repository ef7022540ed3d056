//! Shared helpers of the integration tests: temporary roots that clean up after themselves.
#![allow(dead_code)]

pub mod containerd;
pub mod net;
pub mod oci;

/// The message of this thread's last failed C ABI call (`docker_error_message`).
pub fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf is writable for its length.
    let n = unsafe {
        docker_runtime::ffi::error::docker_error_message(buf.as_mut_ptr().cast(), buf.len())
    };
    buf.truncate(n.min(buf.len() - 1));
    String::from_utf8_lossy(&buf).into_owned()
}

/// The JSON documents a C callback of the form `int cb(void *userdata, const char *json)`
/// received (events, pull progress), and what it answers.
pub mod json_calls {
    use std::ffi::{c_char, c_int, c_void, CStr};
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct JsonCalls {
        pub seen: Mutex<Vec<serde_json::Value>>,
        pub answer: c_int,
    }

    impl JsonCalls {
        /// The `userdata` for [`on_json`].
        pub fn userdata(&self) -> *mut c_void {
            (self as *const JsonCalls).cast_mut().cast()
        }
    }

    /// Keeps each document and gives the answer.
    pub unsafe extern "C" fn on_json(ud: *mut c_void, json: *const c_char) -> c_int {
        // SAFETY: ud is a live JsonCalls of the test; json a NUL-terminated string for the
        // call.
        let (c, text) = unsafe { (&*ud.cast::<JsonCalls>(), CStr::from_ptr(json)) };
        let v = serde_json::from_str(text.to_str().unwrap()).unwrap();
        c.seen.lock().unwrap().push(v);
        c.answer
    }
}

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A temporary directory removed on drop (also when the test fails).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "dr-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Wait until `f` holds (polling), at most `limit`.
pub fn eventually(limit: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the built library and binaries (target/debug or target/release).
pub fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_docker"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The folder holding the library as this test build made it (`deps/`: cargo copies the
/// shared and static libraries up into the target folder only for `cargo build`).
pub fn lib_dir() -> PathBuf {
    target_dir().join("deps")
}

/// Run `docker` commands in-process on a runtime, capturing the exit status and both streams.
pub mod cli {
    use std::io::{Read, Seek, Write};

    use docker_runtime::commands::{self, Streams};
    use docker_runtime::Runtime;

    pub struct Output {
        pub status: i32,
        pub stdout: String,
        pub stderr: String,
    }

    fn tmpfile() -> std::fs::File {
        let dir = std::env::temp_dir();
        let path = dir.join(format!(
            "dr-io-{}-{}",
            std::process::id(),
            super::COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    /// `docker ARGS` with `stdin` as its input.
    pub fn call_with(rt: &Runtime, args: &[&str], stdin: &[u8], tty: Option<(u16, u16)>) -> Output {
        let mut i = tmpfile();
        i.write_all(stdin).unwrap();
        i.rewind().unwrap();
        let (mut o, mut e) = (tmpfile(), tmpfile());
        let mut io = Streams {
            stdin: i,
            stdout: o.try_clone().unwrap(),
            stderr: e.try_clone().unwrap(),
            tty_size: tty,
            client_ttys: [false; 2],
            sizes: None,
            local_env: true,
        };
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (status, _) = commands::run(rt, &mut io, &args);
        drop(io);
        let mut stdout = String::new();
        let mut stderr = String::new();
        o.rewind().unwrap();
        e.rewind().unwrap();
        o.read_to_string(&mut stdout).unwrap();
        e.read_to_string(&mut stderr).unwrap();
        Output {
            status,
            stdout,
            stderr,
        }
    }

    pub fn call(rt: &Runtime, args: &[&str]) -> Output {
        call_with(rt, args, b"", None)
    }

    /// `call`, asserting success; returns stdout.
    pub fn ok(rt: &Runtime, args: &[&str]) -> String {
        let out = call(rt, args);
        assert_eq!(
            out.status, 0,
            "docker {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// `docker run -d --network none ARGS`, asserting success; returns the container's id.
    pub fn detached(rt: &Runtime, args: &[&str]) -> String {
        let mut all = vec!["run", "-d", "--network", "none"];
        all.extend_from_slice(args);
        ok(rt, &all).trim().to_string()
    }
}

/// A command running `bin` under valgrind (leaks and invalid accesses are errors, exit 99),
/// or plainly where valgrind is not installed.
pub fn under_valgrind(bin: &Path) -> std::process::Command {
    let valgrind = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok();
    if !valgrind {
        return std::process::Command::new(bin);
    }
    let mut c = std::process::Command::new("valgrind");
    c.args([
        "-q",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--error-exitcode=99",
    ])
    .arg(bin);
    c
}

/// A runtime on a temporary root with a `busybox` image made from the host's busybox-static,
/// its own bridge, subnet, iptables chains and port range (see [`net::NetFixture`]).
pub struct Fixture {
    pub rt: std::sync::Arc<docker_runtime::Runtime>,
    pub net: net::NetFixture,
    pub image: String,
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        let net = net::NetFixture::new(tag);
        let root = net.root.join("root");
        let rt = docker_runtime::Runtime::new(&root, Self::options_of(&net)).unwrap();
        let rt = std::sync::Arc::new(rt);
        let image = make_busybox_image(&root);
        rt.tags().set("busybox", "latest", &image, true).unwrap();
        Fixture { rt, net, image }
    }

    fn options_of(net: &net::NetFixture) -> docker_runtime::RuntimeOptions {
        let mut opts = net.options();
        opts.init_path = Some(PathBuf::from(env!("CARGO_BIN_EXE_docker-init")));
        opts
    }

    pub fn options(&self) -> docker_runtime::RuntimeOptions {
        Self::options_of(&self.net)
    }

    pub fn root(&self) -> PathBuf {
        self.net.root.join("root")
    }

    /// Compile the C program `source` statically (it must run in the busybox image) into the
    /// fixture's image at `path` (e.g. `bin/probe`).
    /// Where `path` (relative) is in the image's layer: a file put there shows in every
    /// container started afterwards.
    pub fn in_image(&self, path: &str) -> std::path::PathBuf {
        self.root()
            .join("graph")
            .join(&self.image)
            .join("layer")
            .join(path)
    }

    pub fn install_static_c(&self, source: &str, path: &str) {
        let src = self.net.root.join(&format!("{}.c", path.replace('/', "-")));
        std::fs::write(&src, source).unwrap();
        let out = self.in_image(path);
        let built = std::process::Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .output()
            .expect("cc is needed (scripts/setup.sh installs build-essential)");
        assert!(
            built.status.success(),
            "cc -static {path}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
    }

    /// A new runtime on the same root (as after a restart), restored.
    pub fn reopen(&self) -> std::sync::Arc<docker_runtime::Runtime> {
        let rt = docker_runtime::Runtime::new(&self.root(), self.options()).unwrap();
        let rt = std::sync::Arc::new(rt);
        rt.restore().unwrap();
        rt
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Remove whatever a failed test left running (releasing its network) before the
        // bridge, the chains and the folder go; containers another runtime of the test made
        // on this root (a warm one, a second one) are registered first.
        let _ = self.rt.restore();
        for c in self.rt.containers() {
            let _ = c.kill();
            c.wait_timeout(std::time::Duration::from_secs(10));
            let _ = self.rt.remove_container(&c);
            let _ = docker_runtime::mount::unmount(&c.rootfs());
            // A container that ended while another runtime of the test watched it (or none)
            // keeps its cgroup until a restore: the test's root goes, so the cgroup goes now.
            if let Some(cg) = docker_runtime::cgroup::Cgroup::find(
                &docker_runtime::cgroup::CgroupPath::named(&c.id),
            ) {
                let _ = cg.thaw();
                cg.remove();
            }
        }
    }
}

/// Lay out a busybox image directly in the graph (the `graph/ID/{json,layer}` format).
pub fn make_busybox_image(root: &Path) -> String {
    let id = docker_runtime::ids::generate().unwrap();
    let img = root.join("graph").join(&id);
    make_busybox_tree(&img.join("layer"));
    std::fs::write(
        img.join("json"),
        format!("{{\"id\":\"{id}\",\"parent\":\"\",\"created\":\"2026-01-01T00:00:00Z\"}}"),
    )
    .unwrap();
    id
}

/// A busybox root file system at `layer`: the host's busybox-static with its applets, the
/// usual folders, `root` and `nobody`.
pub fn make_busybox_tree(layer: &Path) {
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "mnt"] {
        std::fs::create_dir_all(layer.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", layer.join("bin/busybox")).unwrap();
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox-static is needed (scripts/setup.sh installs it)");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", layer.join("bin").join(applet));
        }
    }
    std::fs::write(
        layer.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(layer.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(layer.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
}
