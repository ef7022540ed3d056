//! `docker_runtime_serve`, the daemon as one ABI call, driven as a C host would drive it: a
//! runtime from `docker_runtime_new`, serve on a thread with a stop pipe and a ready pipe, a
//! client (the `docker` program, or the wire protocol), then a stop. Each test owns its temp
//! root and socket; bad input gets its result code and message, and leaves nothing behind.

mod common;

use std::ffi::{c_char, CString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ::docker_runtime::ffi::error::docker_result;
use ::docker_runtime::ffi::runtime::{
    docker_runtime, docker_runtime_free, docker_runtime_new, docker_runtime_options,
    docker_runtime_options_init,
};
use ::docker_runtime::ffi::serve::{
    docker_runtime_serve, docker_serve_options, docker_serve_options_init,
};
use common::last_error;
use common::TempDir;
use docker_result::*;

const DOCKER: &str = env!("CARGO_BIN_EXE_docker");
static N: AtomicU32 = AtomicU32::new(0);

/// A runtime handle on a temp root, with a bridge name and chain of its own (nothing here
/// sets a network up), released on drop.
struct Rt(*mut docker_runtime);

// SAFETY: a docker_runtime handle may be used from several threads at once (its contract);
// it is released only on drop, after every thread using it was joined.
unsafe impl Send for Rt {}
// SAFETY: as above.
unsafe impl Sync for Rt {}

impl Rt {
    fn new(root: &Path) -> Rt {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tag = std::process::id() % 10_000;
        let bridge = CString::new(format!("drs{tag}x{n}")).unwrap();
        let chain = CString::new(format!("DRS{tag}X{n}")).unwrap();
        let root = CString::new(root.to_str().unwrap()).unwrap();
        let mut o = std::mem::MaybeUninit::<docker_runtime_options>::uninit();
        let mut rt = std::ptr::null_mut();
        // SAFETY: init fills the struct; the strings outlive the call; rt is writable.
        let r = unsafe {
            assert_eq!(
                docker_runtime_options_init(o.as_mut_ptr(), size_of::<docker_runtime_options>()),
                DOCKER_OK
            );
            let mut o = o.assume_init();
            o.bridge_name = bridge.as_ptr();
            o.iptables_chain = chain.as_ptr();
            o.disable_ip_forward = 1;
            docker_runtime_new(root.as_ptr(), &o, &mut rt)
        };
        assert_eq!(r, DOCKER_OK, "{}", last_error());
        Rt(rt)
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        // SAFETY: made by docker_runtime_new, released once.
        unsafe { docker_runtime_free(self.0) };
    }
}

fn default_options() -> docker_serve_options {
    let mut o = std::mem::MaybeUninit::<docker_serve_options>::uninit();
    // SAFETY: init fills every field of the writable struct.
    unsafe {
        assert_eq!(
            docker_serve_options_init(o.as_mut_ptr(), size_of::<docker_serve_options>()),
            DOCKER_OK
        );
        o.assume_init()
    }
}

/// Call `docker_runtime_serve` on this thread with `addrs`; returns its result and message.
/// Unless `adjust` says otherwise, its stop descriptor is readable from the start, so a call
/// expected to fail that serves instead returns at once (and the test fails, never hangs).
fn serve(
    rt: &Rt,
    addrs: &[&str],
    adjust: impl FnOnce(&mut docker_serve_options),
) -> (docker_result, String) {
    let owned: Vec<CString> = addrs.iter().map(|a| CString::new(*a).unwrap()).collect();
    let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    let (stop_r, stop_w) = nix::unistd::pipe().unwrap();
    drop(stop_w);
    let mut o = default_options();
    o.addresses = ptrs.as_ptr();
    o.addresses_len = ptrs.len();
    o.stop_fd = stop_r.as_raw_fd();
    o.stop_grace_ms = 2000;
    o.cancel_grace_ms = 1000;
    adjust(&mut o);
    // SAFETY: the handle is live; the strings, the array and the descriptors outlive the call.
    let r = unsafe { docker_runtime_serve(rt.0, &o) };
    (
        r,
        if r == DOCKER_OK {
            String::new()
        } else {
            last_error()
        },
    )
}

/// A serve running on its own thread, with its stop pipe.
struct Server {
    thread: Option<JoinHandle<(docker_result, String)>>,
    stop: Option<OwnedFd>,
    /// The stop pipe's read end, open until the server is dropped (after its thread).
    _stop_r: OwnedFd,
}

impl Server {
    /// Start serving `addr` on `rt` and wait until it accepts connections.
    fn start(rt: &std::sync::Arc<Rt>, addr: &str) -> Server {
        Server::start_with(rt, addr, |_| {})
    }

    fn start_with(
        rt: &std::sync::Arc<Rt>,
        addr: &str,
        adjust: impl FnOnce(&mut docker_serve_options) + Send + 'static,
    ) -> Server {
        let (stop_r, stop_w) = nix::unistd::pipe().unwrap();
        let (ready_r, ready_w) = nix::unistd::pipe().unwrap();
        let (rt, addr, stop_fd) = (rt.clone(), addr.to_string(), stop_r.as_raw_fd());
        let thread = std::thread::spawn(move || {
            let out = serve(&rt, &[&addr], |o| {
                o.stop_fd = stop_fd;
                o.ready_fd = ready_w.as_raw_fd();
                adjust(o);
            });
            drop(ready_w);
            out
        });
        let mut b = [0u8; 1];
        let n = std::fs::File::from(ready_r).read(&mut b).unwrap();
        let mut s = Server {
            thread: Some(thread),
            stop: Some(stop_w),
            _stop_r: stop_r,
        };
        if n != 1 {
            let (r, msg) = s.join();
            panic!("serve returned before it was ready: {r:?}: {msg}");
        }
        s
    }

    /// Write the stop byte (what a signal handler would do).
    fn stop(&self) {
        nix::unistd::write(self.stop.as_ref().unwrap(), b"x").unwrap();
    }

    fn join(&mut self) -> (docker_result, String) {
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing the stop pipe's write end stops a server a failed test left running.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn client(sock: &Path, args: &[&str]) -> std::process::Output {
    Command::new(DOCKER)
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args(args)
        .env_remove("DOCKER_HOST")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A plain (v0.1.0) request on the wire: one JSON line, half-close, the whole answer.
fn plain(sock: &Path, line: &str) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(line.as_bytes()).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

struct Setup {
    dir: TempDir,
    sock: PathBuf,
    addr: String,
    rt: std::sync::Arc<Rt>,
}

fn setup(tag: &str) -> Setup {
    let dir = TempDir::new(tag);
    let sock = dir.join("s.sock");
    let addr = format!("unix://{}", sock.display());
    let rt = std::sync::Arc::new(Rt::new(&dir.join("root")));
    Setup {
        dir,
        sock,
        addr,
        rt,
    }
}

#[test]
fn one_call_serves_clients_until_the_stop_descriptor_is_written() {
    let s = setup("serve");
    let mut server = Server::start(&s.rt, &s.addr);
    assert_eq!(
        std::fs::read_to_string(s.dir.join("root/docker.pid"))
            .unwrap()
            .trim(),
        std::process::id().to_string(),
        "the root is locked for the hosting process"
    );
    let out = client(&s.sock, &["version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Version: {}\n", env!("CARGO_PKG_VERSION"))
    );
    let info = plain(&s.sock, "[\"info\"]\n");
    assert!(info.starts_with("containers: 0\n"), "{info}");
    // The exit status and stderr of a failing command reach the client.
    let out = client(&s.sock, &["nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a docker command"));
    // An argument no C string can hold is refused as with the binary's daemon.
    let nul = plain(&s.sock, "[\"ver\\u0000sion\"]\n");
    assert_eq!(nul, "Error: argument 0 contains a NUL byte\n");

    server.stop();
    assert_eq!(server.join(), (DOCKER_OK, String::new()));
    assert!(!s.sock.exists(), "the socket is removed");
    assert!(!s.dir.join("root/docker.pid").exists(), "the pid file too");
    // Stopping twice: the second byte finds nobody, and harms nothing.
    server.stop();
    // The root and the address are free again: serve again on the same runtime.
    let mut again = Server::start(&s.rt, &s.addr);
    assert!(client(&s.sock, &["version"]).status.success());
    // Closing every write end of the stop pipe stops it too.
    drop(again.stop.take());
    assert_eq!(again.join().0, DOCKER_OK);
    assert!(!s.sock.exists());
}

#[test]
fn two_runtimes_serve_at_once_in_one_process() {
    let (a, b) = (setup("serve-two-a"), setup("serve-two-b"));
    let mut sa = Server::start(&a.rt, &a.addr);
    let mut sb = Server::start(&b.rt, &b.addr);
    for s in [&a, &b] {
        let out = client(&s.sock, &["info"]);
        assert!(out.status.success(), "{out:?}");
    }
    sa.stop();
    assert_eq!(sa.join().0, DOCKER_OK);
    // The other one is untouched by the first one's stop.
    assert!(client(&b.sock, &["version"]).status.success());
    sb.stop();
    assert_eq!(sb.join().0, DOCKER_OK);
    assert!(!a.sock.exists() && !b.sock.exists());
}

#[test]
fn a_stop_written_before_serving_returns_at_once_and_leaves_nothing() {
    let s = setup("serve-early");
    let (stop_r, stop_w) = nix::unistd::pipe().unwrap();
    nix::unistd::write(&stop_w, b"xx").unwrap();
    let (r, msg) = serve(&s.rt, &[&s.addr], |o| o.stop_fd = stop_r.as_raw_fd());
    assert_eq!((r, msg.as_str()), (DOCKER_OK, ""));
    // Twice on the same still-readable descriptor: the library never reads it.
    let (r, msg) = serve(&s.rt, &[&s.addr], |o| o.stop_fd = stop_r.as_raw_fd());
    assert_eq!((r, msg.as_str()), (DOCKER_OK, ""));
    assert!(!s.sock.exists());
    assert!(!s.dir.join("root/docker.pid").exists());
}

/// Expect `r` with a message containing `needle`.
fn expect(got: (docker_result, String), want: docker_result, needle: &str) {
    assert_eq!(got.0, want, "{}", got.1);
    assert!(got.1.contains(needle), "{needle:?} not in {:?}", got.1);
}

#[test]
fn bad_options_are_errors_with_a_message_and_bind_nothing() {
    let s = setup("serve-bad");
    let opts = default_options();
    // SAFETY: NULL handles and options are refused, never dereferenced.
    let r = unsafe { docker_runtime_serve(std::ptr::null(), &opts) };
    expect(
        (r, last_error()),
        DOCKER_ERR_NULL_ARGUMENT,
        "runtime is NULL",
    );
    // SAFETY: as above.
    let r = unsafe { docker_runtime_serve(s.rt.0, std::ptr::null()) };
    expect((r, last_error()), DOCKER_ERR_NULL_ARGUMENT, "opts is NULL");
    // SAFETY: init refuses NULL.
    assert_eq!(
        unsafe {
            docker_serve_options_init(std::ptr::null_mut(), size_of::<docker_serve_options>())
        },
        DOCKER_ERR_NULL_ARGUMENT
    );

    expect(
        serve(&s.rt, &[&s.addr], |o| o.size = 8),
        DOCKER_ERR_INVALID_ARGUMENT,
        "docker_serve_options_init",
    );
    expect(
        serve(&s.rt, &[], |o| {
            o.addresses = std::ptr::null();
            o.addresses_len = 2;
        }),
        DOCKER_ERR_NULL_ARGUMENT,
        "opts->addresses is NULL",
    );
    let bad_utf8 = [b'u', 0xff, 0xfe, 0];
    let bad_addrs = [bad_utf8.as_ptr().cast::<c_char>()];
    expect(
        serve(&s.rt, &[], |o| {
            o.addresses = bad_addrs.as_ptr();
            o.addresses_len = 1;
        }),
        DOCKER_ERR_INVALID_UTF8,
        "opts->addresses[0] is not valid UTF-8",
    );
    expect(
        serve(&s.rt, &[&s.addr], |o| o.stop_fd = 1 << 20),
        DOCKER_ERR_INVALID_ARGUMENT,
        "opts->stop_fd",
    );
    expect(
        serve(&s.rt, &[&s.addr], |o| o.ready_fd = -7),
        DOCKER_ERR_INVALID_ARGUMENT,
        "opts->ready_fd -7 is not a file descriptor",
    );
    assert!(!s.sock.exists(), "no failed call left a socket");
    assert!(!s.dir.join("root/docker.pid").exists(), "nor a pid file");
}

#[test]
fn bad_addresses_groups_and_socket_paths_are_errors_and_bind_nothing() {
    let s = setup("serve-bad-addr");
    let keep = |_: &mut docker_serve_options| {};
    expect(
        serve(&s.rt, &["ftp://x"], keep),
        DOCKER_ERR_INVALID_ARGUMENT,
        "invalid daemon address \"ftp://x\"",
    );
    expect(
        serve(&s.rt, &["tcp://127.0.0.1:notaport"], keep),
        DOCKER_ERR_INVALID_ARGUMENT,
        "is not a port number",
    );
    expect(
        serve(&s.rt, &[&s.addr, &s.addr], keep),
        DOCKER_ERR_INVALID_ARGUMENT,
        "is given twice",
    );
    let group = CString::new("no-such-group-xyz").unwrap();
    expect(
        serve(&s.rt, &[&s.addr], |o| o.socket_group = group.as_ptr()),
        DOCKER_ERR_NOT_FOUND,
        "group \"no-such-group-xyz\"",
    );
    // A path that is not a socket is never replaced.
    let file = s.dir.join("file.sock");
    std::fs::write(&file, b"keep me").unwrap();
    expect(
        serve(&s.rt, &[&format!("unix://{}", file.display())], keep),
        DOCKER_ERR_ALREADY_EXISTS,
        "exists and is not a socket",
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    assert!(!s.sock.exists(), "no failed call left a socket");
    assert!(!s.dir.join("root/docker.pid").exists(), "nor a pid file");
}

#[test]
fn a_root_or_a_socket_in_use_is_refused() {
    let a = setup("serve-a");
    let _server = Server::start(&a.rt, &a.addr);
    // Another handle on the same root, another socket.
    let other = a.dir.join("b.sock");
    let rt2 = Rt::new(&a.dir.join("root"));
    let (r, msg) = serve(&rt2, &[&format!("unix://{}", other.display())], |_| {});
    expect(
        (r, msg),
        DOCKER_ERR_IN_USE,
        &format!("is in use by another daemon (pid {},", std::process::id()),
    );
    assert!(!other.exists());
    // Another root, the same socket.
    let b = setup("serve-b");
    expect(
        serve(&b.rt, &[&a.addr], |_| {}),
        DOCKER_ERR_IN_USE,
        "another daemon is listening on unix://",
    );
    // The first server never noticed.
    assert!(client(&a.sock, &["version"]).status.success());
}

#[test]
fn sigterm_stops_a_serve_that_handles_signals_and_only_one_may() {
    let s = setup("serve-sig");
    let mut server = Server::start_with(&s.rt, &s.addr, |o| o.handle_signals = 1);
    // A second serve in the process cannot take the signals too.
    let b = setup("serve-sig2");
    expect(
        serve(&b.rt, &[&b.addr], |o| o.handle_signals = 1),
        DOCKER_ERR_IN_USE,
        "SIGTERM and SIGINT already stop another serve loop",
    );
    assert!(!b.sock.exists());
    nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(server.join().0, DOCKER_OK);
    assert!(!s.sock.exists());
    // The previous disposition (the default) is back.
    // SAFETY: a NULL new action only reads the current one into `old`, plain data.
    let old = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGTERM, std::ptr::null(), &mut old),
            0
        );
        old.sa_sigaction
    };
    assert_eq!(old, libc::SIG_DFL);
}
