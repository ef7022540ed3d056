//! The typed C API (containers, images, events) through its exported functions, on real
//! containers of a busybox image: streaming into a callback and into descriptors with nothing
//! lost, stdin, waits with timeouts, a callback that stops the stream, no callback after a
//! free, and bad input for every function.

mod common;

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::docker_runtime::ffi::container::*;
use ::docker_runtime::ffi::events::*;
use ::docker_runtime::ffi::image::*;
use ::docker_runtime::ffi::result::docker_result;
use ::docker_runtime::ffi::runtime::{
    docker_runtime, docker_runtime_call, docker_runtime_free, docker_runtime_new,
    docker_runtime_options, docker_runtime_options_init,
};

use common::json_calls::{on_json, JsonCalls};
use common::last_error;
use common::Fixture;

const OK: docker_result = docker_result::DOCKER_OK;

/// A `docker_runtime` handle on the fixture's root, with its network options.
struct Rt {
    ptr: *mut docker_runtime,
}

impl Rt {
    fn new(f: &Fixture) -> Rt {
        let s = |v: &str| CString::new(v).unwrap();
        let (root, bridge, subnet, chain) = (
            s(f.root().to_str().unwrap()),
            s(&f.net.bridge),
            s(&f.net.subnet),
            s(&f.net.chain),
        );
        let init = s(env!("CARGO_BIN_EXE_docker-init"));
        let mut opts = std::mem::MaybeUninit::<docker_runtime_options>::uninit();
        let size = std::mem::size_of::<docker_runtime_options>();
        // SAFETY: writable for its size.
        assert_eq!(
            unsafe { docker_runtime_options_init(opts.as_mut_ptr(), size) },
            OK
        );
        // SAFETY: initialised by _init.
        let mut opts = unsafe { opts.assume_init() };
        opts.bridge_name = bridge.as_ptr();
        opts.bridge_subnet = subnet.as_ptr();
        opts.iptables_chain = chain.as_ptr();
        opts.init_path = init.as_ptr();
        (opts.port_first, opts.port_last) = f.net.ports;
        opts.disable_ip_forward = 1;
        let mut ptr = std::ptr::null_mut();
        // SAFETY: valid strings and pointers for the call.
        let r = unsafe { docker_runtime_new(root.as_ptr(), &opts, &mut ptr) };
        assert_eq!(r, OK, "{}", last_error());
        Rt { ptr }
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        // SAFETY: made by docker_runtime_new, freed once.
        unsafe { docker_runtime_free(self.ptr) };
    }
}

/// NULL-terminated arrays of C strings that live as long as this.
struct Strv {
    _owned: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

fn strv(items: &[&str]) -> Strv {
    let owned: Vec<CString> = items.iter().map(|s| CString::new(*s).unwrap()).collect();
    let mut ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    Strv {
        _owned: owned,
        ptrs,
    }
}

fn config() -> docker_container_config {
    let mut cfg = std::mem::MaybeUninit::<docker_container_config>::uninit();
    let size = std::mem::size_of::<docker_container_config>();
    // SAFETY: writable for its size.
    assert_eq!(
        unsafe { docker_container_config_init(cfg.as_mut_ptr(), size) },
        OK
    );
    // SAFETY: initialised by _init.
    unsafe { cfg.assume_init() }
}

fn io() -> docker_container_io {
    let mut io = std::mem::MaybeUninit::<docker_container_io>::uninit();
    let size = std::mem::size_of::<docker_container_io>();
    // SAFETY: writable for its size.
    assert_eq!(
        unsafe { docker_container_io_init(io.as_mut_ptr(), size) },
        OK
    );
    // SAFETY: initialised by _init.
    unsafe { io.assume_init() }
}

static BUSYBOX: &CStr = c"busybox";
static NONE: &CStr = c"none";

/// A container of busybox running `argv` with no network, `tweak` applied to its config.
fn create_with(
    rt: &Rt,
    argv: &[&str],
    tweak: impl FnOnce(&mut docker_container_config),
) -> *mut docker_container {
    let args = strv(argv);
    let mut cfg = config();
    cfg.image = BUSYBOX.as_ptr();
    cfg.argv = args.ptrs.as_ptr();
    cfg.network_mode = NONE.as_ptr();
    tweak(&mut cfg);
    let mut c = std::ptr::null_mut();
    // SAFETY: the config's pointers live for the call.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut c) };
    assert_eq!(r, OK, "{}", last_error());
    c
}

fn create(rt: &Rt, argv: &[&str]) -> *mut docker_container {
    create_with(rt, argv, |_| {})
}

/// What a callback collected, per stream, and how it answers.
#[derive(Default)]
struct Collected {
    stdout: Mutex<Vec<u8>>,
    stderr: Mutex<Vec<u8>>,
    calls: AtomicUsize,
    /// Return this from every call.
    answer: c_int,
    /// Sleep this long in every call.
    nap_ms: u64,
    entered: AtomicBool,
}

unsafe extern "C" fn collect(
    ud: *mut c_void,
    stream: docker_stream,
    bytes: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: ud is the test's live Collected; bytes holds len bytes for the call.
    let (c, data) = unsafe {
        (
            &*ud.cast::<Collected>(),
            std::slice::from_raw_parts(bytes, len),
        )
    };
    c.entered.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(c.nap_ms));
    let target = match stream {
        docker_stream::DOCKER_STREAM_STDOUT => &c.stdout,
        docker_stream::DOCKER_STREAM_STDERR => &c.stderr,
    };
    target.lock().unwrap().extend_from_slice(data);
    c.calls.fetch_add(1, Ordering::SeqCst);
    c.answer
}

fn callback_io(c: &Collected) -> docker_container_io {
    let mut io = io();
    io.output = Some(collect);
    io.userdata = (c as *const Collected).cast_mut().cast();
    io
}

fn wait(c: *mut docker_container, timeout_ms: i64) -> (docker_result, c_int) {
    let mut code = -999;
    // SAFETY: a live handle and a writable int.
    let r = unsafe { docker_container_wait(c, timeout_ms, &mut code) };
    (r, code)
}

fn take_string(p: *mut c_char) -> String {
    // SAFETY: a string this library returned, freed once here.
    let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string();
    // SAFETY: as above.
    unsafe { docker_string_free(p) };
    s
}

fn containers_json(rt: &Rt) -> serde_json::Value {
    let mut p = std::ptr::null_mut();
    // SAFETY: a live runtime, a writable pointer.
    assert_eq!(
        unsafe { docker_runtime_containers_json(rt.ptr, 1, &mut p) },
        OK
    );
    serde_json::from_str(&take_string(p)).unwrap()
}

fn remove(c: *mut docker_container) {
    // SAFETY: a live handle; freed once.
    unsafe {
        assert_eq!(docker_container_remove(c, 1), OK, "{}", last_error());
        docker_container_free(c);
    }
}

#[test]
fn streams_into_a_callback_waits_and_lists() {
    let f = Fixture::new("typed-cb");
    let rt = Rt::new(&f);
    let c = create(&rt, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let got = Collected::default();
    let io = callback_io(&got);
    // SAFETY: a live handle; io and got outlive the stream (waited for below).
    assert_eq!(
        unsafe { docker_container_start(c, &io) },
        OK,
        "{}",
        last_error()
    );
    assert_eq!(wait(c, 10_000), (OK, 3));
    assert_eq!(&*got.stdout.lock().unwrap(), b"out\n");
    assert_eq!(&*got.stderr.lock().unwrap(), b"err\n");

    let mut id = [0 as c_char; 65];
    // SAFETY: buffers of the stated lengths.
    unsafe {
        assert_eq!(docker_container_id(c, id.as_mut_ptr(), 65), OK);
        let r = docker_container_id(c, id.as_mut_ptr(), 64);
        assert_eq!(r, docker_result::DOCKER_ERR_BUFFER_TOO_SMALL);
    }
    // SAFETY: NUL-terminated by docker_container_id.
    let id = unsafe { CStr::from_ptr(id.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 64);

    let mut p = std::ptr::null_mut();
    // SAFETY: a live handle.
    assert_eq!(unsafe { docker_container_inspect_json(c, &mut p) }, OK);
    let v: serde_json::Value = serde_json::from_str(&take_string(p)).unwrap();
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["State"]["ExitCode"], 3);

    let list = containers_json(&rt);
    let row = &list.as_array().unwrap()[0];
    assert_eq!(row["Id"], id.as_str());
    assert_eq!(row["State"], "exited");
    assert_eq!(row["ExitCode"], 3);
    assert_eq!(row["Status"], "Exit 3");
    assert_eq!(row["Command"], "sh -c echo out; echo err >&2; exit 3");

    // A second handle by prefix, the wait of a stopped container, the removal.
    let mut c2 = std::ptr::null_mut();
    let prefix = CString::new(&id[..12]).unwrap();
    // SAFETY: live runtime, valid string.
    assert_eq!(
        unsafe { docker_container_open(rt.ptr, prefix.as_ptr(), &mut c2) },
        OK
    );
    assert_eq!(wait(c2, 0), (OK, 3));
    remove(c2);
    assert!(containers_json(&rt).as_array().unwrap().is_empty());
    // SAFETY: the handle outlives its container; freed once.
    unsafe {
        assert_eq!(
            docker_container_remove(c, 0),
            docker_result::DOCKER_ERR_NOT_FOUND
        );
        docker_container_free(c);
    }
}

/// Output written right after the start and in bulk reaches a descriptor whole and in order;
/// stdin from a descriptor reaches the program and its end closes the container's stdin.
#[test]
fn descriptors_get_everything_and_stdin_is_fed() {
    let f = Fixture::new("typed-fd");
    let rt = Rt::new(&f);
    let out_path = f.net.root.join("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let c = create(&rt, &["seq", "1", "50000"]);
    let mut io = io();
    io.stdout_fd = std::os::fd::AsRawFd::as_raw_fd(&out);
    // SAFETY: a live handle; the library writes a duplicate of the descriptor.
    assert_eq!(
        unsafe { docker_container_start(c, &io) },
        OK,
        "{}",
        last_error()
    );
    drop(out);
    assert_eq!(wait(c, 20_000), (OK, 0));
    let text = std::fs::read_to_string(&out_path).unwrap();
    let want: String = (1..=50000).map(|n| format!("{n}\n")).collect();
    assert!(text == want, "{} bytes, want {}", text.len(), want.len());
    remove(c);

    let input = f.net.root.join("in");
    std::fs::write(&input, "hello from the host\n").unwrap();
    let stdin = std::fs::File::open(&input).unwrap();
    let c = create_with(&rt, &["sh", "-c", "cat; echo done"], |cfg| {
        cfg.open_stdin = 1
    });
    let got = Collected::default();
    let mut io = callback_io(&got);
    io.stdin_fd = std::os::fd::AsRawFd::as_raw_fd(&stdin);
    // SAFETY: as above.
    assert_eq!(
        unsafe { docker_container_start(c, &io) },
        OK,
        "{}",
        last_error()
    );
    drop(stdin);
    assert_eq!(wait(c, 20_000), (OK, 0));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout.lock().unwrap()),
        "hello from the host\ndone\n"
    );
    remove(c);
}

/// `cfg->volumes` takes `run -v`'s specs: a bind the container writes through, a named volume;
/// a missing bind source is refused before anything is made.
#[test]
fn volumes_through_the_config() {
    let f = Fixture::new("typed-vol");
    let rt = Rt::new(&f);
    let host = common::TempDir::new("typed-vol-host");
    let bind = format!("{}:/mnt", host.path().display());
    let vols = strv(&[bind.as_str(), "cvol:/data"]);
    let c = create_with(
        &rt,
        &["sh", "-c", "echo hi > /mnt/f; echo kept > /data/g"],
        |cfg| cfg.volumes = vols.ptrs.as_ptr(),
    );
    let io = io();
    // SAFETY: a live handle and options.
    assert_eq!(
        unsafe { docker_container_start(c, &io) },
        OK,
        "{}",
        last_error()
    );
    assert_eq!(wait(c, 20_000), (OK, 0));
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "hi\n");
    let data = f.root().join("volumes/cvol/_data/g");
    assert_eq!(std::fs::read_to_string(data).unwrap(), "kept\n");
    remove(c);
    let missing = strv(&["/nonexistent/source:/x"]);
    let args = strv(&["true"]);
    let mut cfg = config();
    cfg.image = BUSYBOX.as_ptr();
    cfg.argv = args.ptrs.as_ptr();
    cfg.volumes = missing.ptrs.as_ptr();
    let mut c = std::ptr::null_mut();
    // SAFETY: the config's pointers live for the call.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut c) };
    expect(
        r,
        docker_result::DOCKER_ERR_INVALID_ARGUMENT,
        "a missing bind source",
    );
    assert!(
        last_error().contains("bind source path does not exist"),
        "{}",
        last_error()
    );
    assert!(c.is_null());
}

/// A callback returning nonzero gets no further call; the container keeps running and a
/// later wait returns normally. A wait's timeout is `DOCKER_ERR_TIMED_OUT`.
#[test]
fn a_nonzero_callback_stops_the_stream_and_waits_time_out() {
    let f = Fixture::new("typed-stop");
    let rt = Rt::new(&f);
    let c = create(&rt, &["yes"]);
    let got = Collected {
        answer: 1,
        ..Default::default()
    };
    let io = callback_io(&got);
    // SAFETY: a live handle; got outlives the stream.
    assert_eq!(unsafe { docker_container_start(c, &io) }, OK);
    let t = Instant::now();
    assert_eq!(wait(c, 300), (docker_result::DOCKER_ERR_TIMED_OUT, -999));
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        got.calls.load(Ordering::SeqCst),
        1,
        "called after it said stop"
    );
    // SAFETY: a live handle.
    unsafe {
        assert_eq!(
            docker_container_start(c, &io),
            docker_result::DOCKER_ERR_IN_USE
        );
        assert_eq!(docker_container_kill(c, 0), OK);
    }
    assert_eq!(wait(c, 10_000), (OK, 137));
    assert_eq!(got.calls.load(Ordering::SeqCst), 1);
    remove(c);
}

/// A callback sleeping while another thread frees the handle: the free waits for it, and no
/// call comes after the free returned.
#[test]
fn no_callback_after_free() {
    let f = Fixture::new("typed-free");
    let rt = Rt::new(&f);
    let c = create(&rt, &["yes"]);
    let mut id = [0 as c_char; 65];
    // SAFETY: a live handle, a 65-byte buffer.
    assert_eq!(unsafe { docker_container_id(c, id.as_mut_ptr(), 65) }, OK);
    let got = Collected {
        nap_ms: 300,
        ..Default::default()
    };
    let io = callback_io(&got);
    // SAFETY: a live handle; got outlives the stream (the free below waits for it).
    assert_eq!(unsafe { docker_container_start(c, &io) }, OK);
    assert!(common::eventually(Duration::from_secs(10), || got
        .entered
        .load(Ordering::SeqCst)));
    let handle = c as usize;
    let freer = std::thread::spawn(move || {
        let t = Instant::now();
        // SAFETY: the handle is freed once, here.
        unsafe { docker_container_free(handle as *mut docker_container) };
        t.elapsed()
    });
    let took = freer.join().unwrap();
    let calls = got.calls.load(Ordering::SeqCst);
    assert!(calls >= 1);
    assert!(
        took >= Duration::from_millis(50),
        "free did not wait: {took:?}"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        got.calls.load(Ordering::SeqCst),
        calls,
        "a callback after the free"
    );
    let mut c = std::ptr::null_mut();
    // SAFETY: the id is NUL-terminated.
    assert_eq!(
        unsafe { docker_container_open(rt.ptr, id.as_ptr(), &mut c) },
        OK
    );
    remove(c);
}

fn expect(r: docker_result, want: docker_result, what: &str) {
    assert_eq!(r, want, "{what}: {}", last_error());
    assert!(!last_error().is_empty(), "{what}: no message");
}

/// NULL, wrong sizes, unknown ids, invalid UTF-8 and contradictory io, for every function.
#[test]
fn bad_input_is_refused_with_a_message() {
    use docker_result::*;
    let f = Fixture::new("typed-bad");
    let rt = Rt::new(&f);
    let null_c = std::ptr::null_mut::<docker_container>();
    let mut out = std::ptr::null_mut();
    let mut code = 0;
    let mut s: *mut c_char = std::ptr::null_mut();
    let bad_utf8 = [0xffu8, 0xfe, 0];
    let bad: *const c_char = bad_utf8.as_ptr().cast();
    // SAFETY: every pointer is NULL or valid; the functions must refuse, not crash.
    unsafe {
        let mut cfg = config();
        expect(
            docker_container_config_init(std::ptr::null_mut(), 8),
            DOCKER_ERR_NULL_ARGUMENT,
            "init NULL",
        );
        expect(
            docker_container_config_init(&mut cfg, 8),
            DOCKER_ERR_INVALID_ARGUMENT,
            "init size 8",
        );
        expect(
            docker_container_io_init(std::ptr::null_mut(), 8),
            DOCKER_ERR_NULL_ARGUMENT,
            "io init NULL",
        );
        expect(
            docker_container_create(rt.ptr, &cfg, &mut out),
            DOCKER_ERR_NULL_ARGUMENT,
            "no image",
        );
        cfg.image = BUSYBOX.as_ptr();
        expect(
            docker_container_create(std::ptr::null(), &cfg, &mut out),
            DOCKER_ERR_NULL_ARGUMENT,
            "rt NULL",
        );
        expect(
            docker_container_create(rt.ptr, std::ptr::null(), &mut out),
            DOCKER_ERR_NULL_ARGUMENT,
            "cfg NULL",
        );
        expect(
            docker_container_create(rt.ptr, &cfg, std::ptr::null_mut()),
            DOCKER_ERR_NULL_ARGUMENT,
            "out NULL",
        );
        let mut wrong = cfg;
        wrong.size = 12;
        expect(
            docker_container_create(rt.ptr, &wrong, &mut out),
            DOCKER_ERR_INVALID_ARGUMENT,
            "cfg size",
        );
        let mut wrong = cfg;
        wrong.image = bad;
        expect(
            docker_container_create(rt.ptr, &wrong, &mut out),
            DOCKER_ERR_INVALID_UTF8,
            "image utf8",
        );
        let argv = [c"echo".as_ptr(), bad, std::ptr::null()];
        let mut wrong = cfg;
        wrong.argv = argv.as_ptr();
        expect(
            docker_container_create(rt.ptr, &wrong, &mut out),
            DOCKER_ERR_INVALID_UTF8,
            "argv utf8",
        );
        let mut wrong = cfg;
        wrong.image = c"nosuchimage".as_ptr();
        expect(
            docker_container_create(rt.ptr, &wrong, &mut out),
            DOCKER_ERR_NOT_FOUND,
            "unknown image",
        );
        let mut wrong = cfg;
        wrong.network_mode = c"host".as_ptr();
        expect(
            docker_container_create(rt.ptr, &wrong, &mut out),
            DOCKER_ERR_INVALID_ARGUMENT,
            "network",
        );
        let mut wrong = cfg;
        wrong.memory = 1000;
        expect(
            docker_container_create(rt.ptr, &wrong, &mut out),
            DOCKER_ERR_INVALID_ARGUMENT,
            "memory",
        );
        let caps = strv(&["NOT_A_CAP"]);
        let mut wrong = cfg;
        wrong.cap_add = caps.ptrs.as_ptr();
        expect(
            docker_container_create(rt.ptr, &wrong, &mut out),
            DOCKER_ERR_INVALID_ARGUMENT,
            "cap",
        );
        expect(
            docker_container_create(rt.ptr, &cfg, &mut out),
            DOCKER_ERR_INVALID_ARGUMENT,
            "no command anywhere",
        );

        expect(
            docker_container_open(rt.ptr, c"0123456789ab".as_ptr(), &mut out),
            DOCKER_ERR_NOT_FOUND,
            "open unknown",
        );
        expect(
            docker_container_open(rt.ptr, bad, &mut out),
            DOCKER_ERR_INVALID_UTF8,
            "open utf8",
        );
        expect(
            docker_container_open(rt.ptr, std::ptr::null(), &mut out),
            DOCKER_ERR_NULL_ARGUMENT,
            "open NULL",
        );
        expect(
            docker_container_open(std::ptr::null(), c"x".as_ptr(), &mut out),
            DOCKER_ERR_NULL_ARGUMENT,
            "open rt NULL",
        );

        expect(
            docker_container_id(null_c, s.cast(), 0),
            DOCKER_ERR_NULL_ARGUMENT,
            "id NULL",
        );
        expect(
            docker_container_start(null_c, std::ptr::null()),
            DOCKER_ERR_NULL_ARGUMENT,
            "start NULL",
        );
        expect(
            docker_container_wait(null_c, 0, &mut code),
            DOCKER_ERR_NULL_ARGUMENT,
            "wait NULL",
        );
        expect(
            docker_container_stop(null_c, 0),
            DOCKER_ERR_NULL_ARGUMENT,
            "stop NULL",
        );
        expect(
            docker_container_kill(null_c, 0),
            DOCKER_ERR_NULL_ARGUMENT,
            "kill NULL",
        );
        expect(
            docker_container_remove(null_c, 0),
            DOCKER_ERR_NULL_ARGUMENT,
            "remove NULL",
        );
        expect(
            docker_container_resize(null_c, 1, 1),
            DOCKER_ERR_NULL_ARGUMENT,
            "resize NULL",
        );
        expect(
            docker_container_inspect_json(null_c, &mut s),
            DOCKER_ERR_NULL_ARGUMENT,
            "inspect NULL",
        );
        expect(
            docker_runtime_containers_json(std::ptr::null(), 1, &mut s),
            DOCKER_ERR_NULL_ARGUMENT,
            "list NULL",
        );
        expect(
            docker_runtime_containers_json(rt.ptr, 1, std::ptr::null_mut()),
            DOCKER_ERR_NULL_ARGUMENT,
            "list out NULL",
        );
        docker_container_free(null_c);
        docker_string_free(std::ptr::null_mut());

        let c = create(&rt, &["sleep", "30"]);
        expect(
            docker_container_wait(c, 0, std::ptr::null_mut()),
            DOCKER_ERR_NULL_ARGUMENT,
            "wait out NULL",
        );
        expect(
            docker_container_inspect_json(c, std::ptr::null_mut()),
            DOCKER_ERR_NULL_ARGUMENT,
            "inspect out NULL",
        );
        let got = Collected::default();
        let mut io = callback_io(&got);
        io.stdout_fd = 1;
        expect(
            docker_container_start(c, &io),
            DOCKER_ERR_INVALID_ARGUMENT,
            "callback and fd",
        );
        let mut io = callback_io(&got);
        io.stdin_fd = 0;
        expect(
            docker_container_start(c, &io),
            DOCKER_ERR_INVALID_ARGUMENT,
            "stdin without open_stdin",
        );
        let mut io = callback_io(&got);
        io.size = 4;
        expect(
            docker_container_start(c, &io),
            DOCKER_ERR_INVALID_ARGUMENT,
            "io size",
        );
        let mut io = crate::io();
        io.stdout_fd = 999;
        expect(docker_container_start(c, &io), DOCKER_ERR_IO, "closed fd");
        io.stdout_fd = -7;
        expect(
            docker_container_start(c, &io),
            DOCKER_ERR_INVALID_ARGUMENT,
            "fd -7",
        );
        expect(
            docker_container_resize(c, 24, 80),
            DOCKER_ERR_INVALID_ARGUMENT,
            "resize without tty",
        );
        assert_eq!(docker_container_start(c, std::ptr::null()), OK);
        expect(
            docker_container_start(c, std::ptr::null()),
            DOCKER_ERR_IN_USE,
            "start twice",
        );
        expect(
            docker_container_kill(c, 99),
            DOCKER_ERR_INVALID_ARGUMENT,
            "signal 99",
        );
        expect(
            docker_container_remove(c, 0),
            DOCKER_ERR_IN_USE,
            "remove running",
        );
        expect(
            docker_container_wait(c, 50, &mut code),
            DOCKER_ERR_TIMED_OUT,
            "wait timeout",
        );
        assert_eq!(docker_container_stop(c, 1), OK);
        assert_eq!(wait(c, 0).0, OK);
        remove(c);
    }
}

fn subscribe(rt: &Rt, e: &JsonCalls) -> *mut docker_subscription {
    let mut s = std::ptr::null_mut();
    let ud = e.userdata();
    // SAFETY: a live runtime; e outlives the subscription (freed before it).
    assert_eq!(
        unsafe { docker_runtime_events(rt.ptr, Some(on_json), ud, &mut s) },
        OK
    );
    s
}

fn actions(e: &JsonCalls) -> Vec<String> {
    e.seen
        .lock()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v["Type"].as_str().unwrap(),
                v["Action"].as_str().unwrap()
            )
        })
        .collect()
}

fn images_json(rt: &Rt) -> Vec<serde_json::Value> {
    let mut p = std::ptr::null_mut();
    // SAFETY: a live runtime, a writable pointer.
    assert_eq!(unsafe { docker_runtime_images_json(rt.ptr, &mut p) }, OK);
    serde_json::from_str::<serde_json::Value>(&take_string(p))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The fixture's busybox layer as a tar file.
fn layer_tar(f: &Fixture) -> std::path::PathBuf {
    let tar = f.net.root.join("layer.tar");
    let layer = f.root().join("graph").join(&f.image).join("layer");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(&layer)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

/// Import, tag, list, remove images and run a container, with an events subscription
/// watching; a second subscription that answers nonzero gets one event only.
#[test]
fn images_and_events() {
    use docker_result::*;
    let f = Fixture::new("typed-img");
    let rt = Rt::new(&f);
    let all = JsonCalls::default();
    let first_only = JsonCalls {
        answer: 1,
        ..Default::default()
    };
    let (s1, s2) = (subscribe(&rt, &all), subscribe(&rt, &first_only));

    let tar = layer_tar(&f);
    let file = std::fs::File::open(&tar).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let mut id = [0 as c_char; 65];
    // SAFETY: live runtime, valid strings, a 65-byte buffer.
    unsafe {
        let r = docker_image_import(
            rt.ptr,
            fd,
            c"imported".as_ptr(),
            std::ptr::null(),
            id.as_mut_ptr(),
            65,
        );
        assert_eq!(r, OK, "{}", last_error());
    }
    // SAFETY: NUL-terminated by the import.
    let id = unsafe { CStr::from_ptr(id.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string();
    let listed = images_json(&rt);
    let mine = listed.iter().find(|i| i["Id"] == id.as_str()).unwrap();
    assert_eq!(mine["RepoTags"], serde_json::json!(["imported:latest"]));
    assert!(mine["Size"].as_u64().unwrap() > 500_000, "{mine}");
    assert_eq!(mine["ParentId"], "");

    // SAFETY: live runtime and valid strings.
    unsafe {
        assert_eq!(
            docker_image_tag(
                rt.ptr,
                c"imported".as_ptr(),
                c"again".as_ptr(),
                c"v2".as_ptr(),
                0
            ),
            OK
        );
        let r = docker_image_tag(
            rt.ptr,
            c"imported".as_ptr(),
            c"busybox".as_ptr(),
            std::ptr::null(),
            0,
        );
        expect(r, DOCKER_ERR_ALREADY_EXISTS, "tag over another image");
        assert_eq!(docker_image_remove(rt.ptr, c"again:v2".as_ptr()), OK);
        let by_id = CString::new(id.as_str()).unwrap();
        assert_eq!(
            docker_image_remove(rt.ptr, by_id.as_ptr()),
            OK,
            "{}",
            last_error()
        );
    }
    assert!(images_json(&rt).iter().all(|i| i["Id"] != id.as_str()));

    let c = create(&rt, &["sh", "-c", "exit 5"]);
    // SAFETY: live handles and valid strings.
    unsafe {
        assert_eq!(docker_container_start(c, std::ptr::null()), OK);
        expect(
            docker_image_remove(rt.ptr, c"busybox".as_ptr()),
            DOCKER_ERR_IN_USE,
            "image in use",
        );
    }
    assert_eq!(wait(c, 10_000), (OK, 5));
    // A commit through the command dispatch is announced too.
    let mut cid = [0 as c_char; 65];
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap();
    let nfd = std::os::fd::AsRawFd::as_raw_fd(&null);
    // SAFETY: live handles, a 65-byte buffer, argv of valid strings, open descriptors.
    unsafe {
        assert_eq!(docker_container_id(c, cid.as_mut_ptr(), 65), OK);
        let argv = [c"commit".as_ptr(), cid.as_ptr(), c"committed".as_ptr()];
        let mut status = -1;
        let r = docker_runtime_call(rt.ptr, 3, argv.as_ptr(), nfd, nfd, &mut status);
        assert_eq!((r, status), (OK, 0), "{}", last_error());
    }
    remove(c);
    let want = [
        "image import",
        "image tag",
        "image tag",
        "image untag",
        "image untag",
        "image delete",
        "container create",
        "container start",
        "container die",
        "image commit",
        "image tag",
        "container destroy",
    ];
    assert!(common::eventually(Duration::from_secs(5), || actions(&all)
        .len()
        == want.len()));
    // SAFETY: made by docker_runtime_events, freed once.
    unsafe {
        docker_subscription_free(s1);
        docker_subscription_free(s2);
    }
    assert_eq!(actions(&all), want);
    let seen = all.seen.lock().unwrap();
    let die = &seen[8];
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "5");
    assert_eq!(die["Actor"]["Attributes"]["image"], "busybox");
    assert!(die["Actor"]["Attributes"]["name"]
        .as_str()
        .unwrap()
        .contains('_'));
    assert_eq!(seen[1]["Actor"]["Attributes"]["name"], "imported:latest");
    assert_eq!(seen[10]["Actor"]["Attributes"]["name"], "committed:latest");
    assert!(die["timeNano"].as_i64().unwrap() / 1_000_000_000 == die["time"].as_i64().unwrap());
    assert_eq!(actions(&first_only), ["image import"]);
}

/// An import whose writer goes away halfway fails and registers nothing; bad input to the
/// image and event functions is refused.
#[test]
fn image_and_event_bad_input() {
    use docker_result::*;
    let f = Fixture::new("typed-imgbad");
    let rt = Rt::new(&f);
    let before = images_json(&rt).len();
    let cut = std::fs::read(layer_tar(&f)).unwrap()[..300_000].to_vec();
    let (r, w) = nix::unistd::pipe().unwrap();
    let writer = std::thread::spawn(move || {
        let mut w = std::fs::File::from(w);
        std::io::Write::write_all(&mut w, &cut).unwrap();
        // Closing the writer halfway through busybox: the import sees a cut archive.
    });
    let mut id = [0 as c_char; 65];
    let fd = std::os::fd::AsRawFd::as_raw_fd(&r);
    // SAFETY: live runtime, a 65-byte buffer.
    let res = unsafe {
        docker_image_import(
            rt.ptr,
            fd,
            std::ptr::null(),
            std::ptr::null(),
            id.as_mut_ptr(),
            65,
        )
    };
    writer.join().unwrap();
    assert_eq!(res, DOCKER_ERR_CORRUPT, "{}", last_error());
    assert!(!last_error().is_empty());
    assert_eq!(images_json(&rt).len(), before);

    let bad_utf8 = [0xffu8, 0];
    let bad: *const c_char = bad_utf8.as_ptr().cast();
    let mut s: *mut c_char = std::ptr::null_mut();
    let mut sub = std::ptr::null_mut();
    let e = JsonCalls::default();
    let ud = e.userdata();
    // SAFETY: every pointer is NULL or valid; the functions must refuse, not crash.
    unsafe {
        let idp = id.as_mut_ptr();
        expect(
            docker_runtime_images_json(std::ptr::null(), &mut s),
            DOCKER_ERR_NULL_ARGUMENT,
            "images NULL",
        );
        expect(
            docker_runtime_images_json(rt.ptr, std::ptr::null_mut()),
            DOCKER_ERR_NULL_ARGUMENT,
            "images out NULL",
        );
        expect(
            docker_image_import(
                std::ptr::null(),
                fd,
                std::ptr::null(),
                std::ptr::null(),
                idp,
                65,
            ),
            DOCKER_ERR_NULL_ARGUMENT,
            "import rt",
        );
        expect(
            docker_image_import(rt.ptr, fd, std::ptr::null(), std::ptr::null(), idp, 64),
            DOCKER_ERR_BUFFER_TOO_SMALL,
            "import buf",
        );
        expect(
            docker_image_import(
                rt.ptr,
                fd,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null_mut(),
                65,
            ),
            DOCKER_ERR_NULL_ARGUMENT,
            "import buf NULL",
        );
        expect(
            docker_image_import(rt.ptr, -1, std::ptr::null(), std::ptr::null(), idp, 65),
            DOCKER_ERR_INVALID_ARGUMENT,
            "import fd -1",
        );
        expect(
            docker_image_import(rt.ptr, 999, std::ptr::null(), std::ptr::null(), idp, 65),
            DOCKER_ERR_IO,
            "import closed fd",
        );
        expect(
            docker_image_import(rt.ptr, fd, bad, std::ptr::null(), idp, 65),
            DOCKER_ERR_INVALID_UTF8,
            "import repo utf8",
        );
        expect(
            docker_image_import(rt.ptr, fd, c"UPPER".as_ptr(), std::ptr::null(), idp, 65),
            DOCKER_ERR_INVALID_ARGUMENT,
            "import repo",
        );
        expect(
            docker_image_pull(
                std::ptr::null(),
                c"busybox".as_ptr(),
                None,
                std::ptr::null_mut(),
                idp,
                65,
            ),
            DOCKER_ERR_NULL_ARGUMENT,
            "pull rt",
        );
        expect(
            docker_image_pull(
                rt.ptr,
                std::ptr::null(),
                None,
                std::ptr::null_mut(),
                idp,
                65,
            ),
            DOCKER_ERR_NULL_ARGUMENT,
            "pull ref",
        );
        expect(
            docker_image_pull(rt.ptr, bad, None, std::ptr::null_mut(), idp, 65),
            DOCKER_ERR_INVALID_UTF8,
            "pull utf8",
        );
        expect(
            docker_image_pull(
                rt.ptr,
                c"Bad Name".as_ptr(),
                None,
                std::ptr::null_mut(),
                idp,
                65,
            ),
            DOCKER_ERR_INVALID_ARGUMENT,
            "pull ref",
        );
        expect(
            docker_image_pull(
                rt.ptr,
                c"busybox".as_ptr(),
                None,
                std::ptr::null_mut(),
                idp,
                10,
            ),
            DOCKER_ERR_BUFFER_TOO_SMALL,
            "pull buf",
        );
        expect(
            docker_image_tag(
                rt.ptr,
                c"nosuch".as_ptr(),
                c"x".as_ptr(),
                std::ptr::null(),
                0,
            ),
            DOCKER_ERR_NOT_FOUND,
            "tag unknown",
        );
        expect(
            docker_image_tag(rt.ptr, std::ptr::null(), c"x".as_ptr(), std::ptr::null(), 0),
            DOCKER_ERR_NULL_ARGUMENT,
            "tag NULL",
        );
        expect(
            docker_image_tag(rt.ptr, c"busybox".as_ptr(), bad, std::ptr::null(), 0),
            DOCKER_ERR_INVALID_UTF8,
            "tag utf8",
        );
        expect(
            docker_image_tag(
                rt.ptr,
                c"busybox".as_ptr(),
                c"x".as_ptr(),
                c"bad tag".as_ptr(),
                0,
            ),
            DOCKER_ERR_INVALID_ARGUMENT,
            "tag tag",
        );
        expect(
            docker_image_remove(rt.ptr, c"nosuch".as_ptr()),
            DOCKER_ERR_NOT_FOUND,
            "remove unknown",
        );
        expect(
            docker_image_remove(rt.ptr, std::ptr::null()),
            DOCKER_ERR_NULL_ARGUMENT,
            "remove NULL",
        );
        expect(
            docker_image_remove(rt.ptr, bad),
            DOCKER_ERR_INVALID_UTF8,
            "remove utf8",
        );
        expect(
            docker_runtime_events(rt.ptr, None, ud, &mut sub),
            DOCKER_ERR_NULL_ARGUMENT,
            "events cb",
        );
        expect(
            docker_runtime_events(std::ptr::null(), Some(on_json), ud, &mut sub),
            DOCKER_ERR_NULL_ARGUMENT,
            "events rt",
        );
        expect(
            docker_runtime_events(rt.ptr, Some(on_json), ud, std::ptr::null_mut()),
            DOCKER_ERR_NULL_ARGUMENT,
            "events out",
        );
        docker_subscription_free(std::ptr::null_mut());
    }
    drop(r);
}

/// The typed C examples, built with the examples' warnings (`-Wall -Wextra -Werror`) and
/// with AddressSanitizer and LeakSanitizer (`SANITIZE=1`): an invalid access or a leak fails
/// the run. (Not valgrind: valgrind 3.19, Debian's, lacks `pidfd_open` and `openat2`, which
/// starting a container needs.) A stream into a callback, and 4 threads running containers.
#[test]
fn typed_c_examples_run_clean() {
    let build = common::TempDir::new("typed-c-build");
    let profile = common::target_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let made = std::process::Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(common::crate_dir().join("c-examples"))
        .arg(format!("PROFILE={profile}"))
        .arg(format!("LIBDIR={}", common::lib_dir().display()))
        .arg(format!("OUT={}", build.path().display()))
        .arg("SANITIZE=1")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let f = Fixture::new("typed-c");
    for (example, want) in [
        (
            "stream_demo",
            "stdout: hello from busybox\nstderr bytes: 5\ninspect has the id: yes\nok\n",
        ),
        (
            "threads_demo",
            "containers left: []\n4 of 4 threads ran 3 containers each\nok\n",
        ),
    ] {
        let out = std::process::Command::new(build.join(example))
            .arg(f.root())
            .arg(env!("CARGO_BIN_EXE_docker-init"))
            .env("LD_LIBRARY_PATH", build.path())
            .env("ASAN_OPTIONS", "detect_leaks=1:exitcode=99")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{example} ({:?}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.ends_with(want), "{example}:\n{stdout}");
    }
}

/// Events whose callback sleeps while another thread frees the subscription: the free waits
/// for the call in progress, and no call comes after it returned.
#[test]
fn no_event_callback_after_free() {
    let f = Fixture::new("typed-evfree");
    let rt = Rt::new(&f);
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static ENTERED: AtomicBool = AtomicBool::new(false);
    unsafe extern "C" fn slow(_: *mut c_void, _: *const c_char) -> c_int {
        ENTERED.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        CALLS.fetch_add(1, Ordering::SeqCst);
        0
    }
    let mut s = std::ptr::null_mut();
    // SAFETY: a live runtime; the callback uses no userdata.
    let r = unsafe { docker_runtime_events(rt.ptr, Some(slow), std::ptr::null_mut(), &mut s) };
    assert_eq!(r, OK);
    for n in 0..5 {
        let repo = CString::new(format!("again{n}")).unwrap();
        // SAFETY: live runtime, valid strings.
        let r = unsafe {
            docker_image_tag(rt.ptr, BUSYBOX.as_ptr(), repo.as_ptr(), std::ptr::null(), 0)
        };
        assert_eq!(r, OK);
    }
    assert!(common::eventually(Duration::from_secs(5), || ENTERED.load(Ordering::SeqCst)));
    let handle = s as usize;
    let took = std::thread::spawn(move || {
        let t = Instant::now();
        // SAFETY: freed once, here.
        unsafe { docker_subscription_free(handle as *mut docker_subscription) };
        t.elapsed()
    })
    .join()
    .unwrap();
    let calls = CALLS.load(Ordering::SeqCst);
    assert!(
        took >= Duration::from_millis(50),
        "the free did not wait: {took:?}"
    );
    assert!(
        calls < 5,
        "all 5 delivered before the free: the test proves nothing"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        calls,
        "a callback after the free"
    );
}

/// `docker_container_config.name` (version 2): a name given, a taken one refused naming its
/// holder, none given (and a caller built on the first version, whose struct ends before
/// `name`) a generated one; the handle opened by name; `Names` in the containers JSON.
#[test]
fn names_through_the_c_api() {
    let f = Fixture::new("abinames");
    let rt = Rt::new(&f);
    let c = create_with(&rt, &["true"], |cfg| cfg.name = c"cweb".as_ptr());
    let list = containers_json(&rt);
    let row = &list[0];
    assert_eq!(row["Names"], serde_json::json!(["cweb"]));
    let id = row["Id"].as_str().unwrap().to_string();
    let mut again = std::ptr::null_mut();
    // SAFETY: live runtime, valid string.
    let r = unsafe { docker_container_open(rt.ptr, c"cweb".as_ptr(), &mut again) };
    assert_eq!(r, OK, "{}", last_error());
    // SAFETY: a live handle, freed once.
    unsafe { docker_container_free(again) };
    let args = strv(&["true"]);
    let mut cfg = config();
    cfg.image = BUSYBOX.as_ptr();
    cfg.argv = args.ptrs.as_ptr();
    cfg.network_mode = NONE.as_ptr();
    cfg.name = c"cweb".as_ptr();
    let mut out = std::ptr::null_mut();
    // SAFETY: the config's pointers live for the call.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut out) };
    expect(r, docker_result::DOCKER_ERR_IN_USE, "a taken name");
    assert!(last_error().contains(&format!("already in use by container \"{id}\"")));
    cfg.name = c"-bad".as_ptr();
    // SAFETY: as above.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut out) };
    expect(r, docker_result::DOCKER_ERR_INVALID_ARGUMENT, "a bad name");
    // A first-version caller: its struct ends where `name` begins.
    cfg.name = c"ignored-past-the-size".as_ptr();
    cfg.size = std::mem::offset_of!(docker_container_config, name);
    // SAFETY: as above; the library reads only `size` bytes.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut out) };
    assert_eq!(r, OK, "{}", last_error());
    let names: Vec<String> = containers_json(&rt)
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["Names"][0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.iter().any(|n| n != "cweb" && n.contains('_')),
        "{names:?}"
    );
    remove(out);
    remove(c);
}

/// `docker_container_config.mounts` (version 5) takes `run --mount`'s specs: a read-only bind
/// the container cannot write through, a tmpfs whose size is the one asked; a bad spec is
/// refused naming it, and a version-4 caller's struct (which ends before `mounts`) is read
/// without them.
#[test]
fn mounts_through_the_config() {
    let f = Fixture::new("typed-mounts");
    let rt = Rt::new(&f);
    let host = common::TempDir::new("typed-mounts-host");
    std::fs::write(host.join("f"), "from the host\n").unwrap();
    let bind = format!("type=bind,src={},dst=/h,readonly", host.path().display());
    let mounts = strv(&[bind.as_str(), "type=tmpfs,dst=/t,tmpfs-size=1m"]);
    let script = "cat /h/f; touch /h/x 2>/dev/null || echo read-only; df -k /t | tail -1";
    let c = create_with(&rt, &["sh", "-c", script], |cfg| {
        cfg.mounts = mounts.ptrs.as_ptr()
    });
    let got = Collected::default();
    let io = callback_io(&got);
    // SAFETY: a live handle and options whose callback data outlives the run.
    let r = unsafe { docker_container_start(c, &io) };
    assert_eq!(r, OK, "{}", last_error());
    assert_eq!(wait(c, 20_000), (OK, 0));
    let out = String::from_utf8(got.stdout.lock().unwrap().clone()).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("from the host"));
    assert_eq!(lines.next(), Some("read-only"));
    let tmpfs = lines.next().unwrap_or_default();
    assert!(
        tmpfs.starts_with("tmpfs") && tmpfs.contains(" 1024 "),
        "{out}"
    );
    assert!(!host.join("x").exists());
    remove(c);
    let bad = strv(&["type=nfs,dst=/x"]);
    let args = strv(&["true"]);
    let mut cfg = config();
    cfg.image = BUSYBOX.as_ptr();
    cfg.argv = args.ptrs.as_ptr();
    cfg.network_mode = NONE.as_ptr();
    cfg.mounts = bad.ptrs.as_ptr();
    let mut out = std::ptr::null_mut();
    // SAFETY: the config's pointers live for the call.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut out) };
    expect(
        r,
        docker_result::DOCKER_ERR_INVALID_ARGUMENT,
        "an nfs mount",
    );
    assert!(last_error().contains("nfs"), "{}", last_error());
    // A version-4 caller: the field past its size is not read.
    cfg.size = std::mem::offset_of!(docker_container_config, mounts);
    // SAFETY: as above; the library reads only `size` bytes.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut out) };
    assert_eq!(r, OK, "{}", last_error());
    remove(out);
}

/// `docker_container_config.cpu_shares` (version 4): the weight recorded and written into the
/// container's cgroup at its start, a bad one refused naming it, and a caller built on version
/// 3 (whose struct ends before `cpu_shares`) given the default weight.
#[test]
fn cpu_shares_through_the_c_api() {
    let f = Fixture::new("abishares");
    let rt = Rt::new(&f);
    let inspect = |c: *mut docker_container| {
        let mut p = std::ptr::null_mut();
        // SAFETY: a live handle and an out pointer.
        assert_eq!(unsafe { docker_container_inspect_json(c, &mut p) }, OK);
        serde_json::from_str::<serde_json::Value>(&take_string(p)).unwrap()
    };
    let c = create_with(&rt, &["sleep", "300"], |cfg| cfg.cpu_shares = 512);
    let v = inspect(c);
    assert_eq!(v["Config"]["CpuShares"], 512);
    let io = io();
    // SAFETY: a live handle and an io struct.
    let r = unsafe { docker_container_start(c, &io) };
    assert_eq!(r, OK, "{}", last_error());
    let id = v["Id"].as_str().unwrap();
    let v1 = std::path::Path::new("/sys/fs/cgroup/cpu/docker-runtime").join(id);
    let (file, want) = if v1.exists() {
        (v1.join("cpu.shares"), "512")
    } else {
        let v2 = std::path::Path::new("/sys/fs/cgroup/docker-runtime").join(id);
        (v2.join("cpu.weight"), "20")
    };
    assert_eq!(std::fs::read_to_string(file).unwrap().trim(), want);
    remove(c);
    let args = strv(&["true"]);
    let mut cfg = config();
    cfg.image = BUSYBOX.as_ptr();
    cfg.argv = args.ptrs.as_ptr();
    cfg.network_mode = NONE.as_ptr();
    cfg.cpu_shares = 1;
    let mut out = std::ptr::null_mut();
    // SAFETY: the config's pointers live for the call.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut out) };
    expect(r, docker_result::DOCKER_ERR_INVALID_ARGUMENT, "one share");
    assert!(
        last_error().contains("invalid CPU shares 1"),
        "{}",
        last_error()
    );
    // A version-3 caller: the field past its size is not read.
    cfg.size = std::mem::offset_of!(docker_container_config, cpu_shares);
    // SAFETY: as above; the library reads only `size` bytes.
    let r = unsafe { docker_container_create(rt.ptr, &cfg, &mut out) };
    assert_eq!(r, OK, "{}", last_error());
    // The default weight: no CpuShares recorded (as a docker run without -c).
    assert!(inspect(out)["Config"]["CpuShares"].is_null());
    remove(out);
}
