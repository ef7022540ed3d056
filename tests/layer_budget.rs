//! A runtime's layer budget (`max_layer_bytes`, `max_layer_entries`): an archive that goes past
//! it is refused with an error naming the limit, and leaves no image and nothing in
//! `graph/:tmp:`. Without the budget (main c49bff3 had none), every archive here was imported
//! whole, however many entries or bytes it held.

mod common;
mod images_util;

use std::ffi::{c_char, c_int, CString};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use common::last_error;
use common::{cli, TempDir};
use docker_runtime::ffi::error::docker_result;
use docker_runtime::ffi::runtime::{
    docker_runtime_call, docker_runtime_free, docker_runtime_new, docker_runtime_options,
    docker_runtime_options_init,
};
use docker_runtime::image::LayerLimits;
use docker_runtime::{Runtime, RuntimeOptions};
use images_util::{image_dirs, tmp_leftovers, Tar};

fn runtime(root: &Path, max_bytes: u64, max_entries: u64) -> Runtime {
    let opts = RuntimeOptions {
        layer_limits: LayerLimits::new(max_bytes, max_entries),
        ..Default::default()
    };
    Runtime::new(root, opts).unwrap()
}

fn import(rt: &Runtime, tar: &[u8]) -> cli::Output {
    cli::call_with(rt, &["import", "-", "budget"], tar, None)
}

/// The import failed with an error that names each of `expect`, and left nothing.
fn refused(rt: &Runtime, tar: &[u8], expect: &[&str]) {
    let out = import(rt, tar);
    assert_ne!(out.status, 0, "imported: {}", out.stdout);
    for e in expect {
        assert!(out.stderr.contains(e), "{:?} lacks {e:?}", out.stderr);
    }
    assert!(image_dirs(rt.root()).is_empty(), "an image was left");
    assert!(tmp_leftovers(rt.root()).is_empty(), ":tmp: not cleaned");
}

fn accepted(rt: &Runtime, tar: &[u8]) {
    let out = import(rt, tar);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let id = out.stdout.trim();
    assert!(rt.root().join("graph").join(id).join("layer").is_dir());
    cli::ok(rt, &["rmi", id]);
}

fn files(n: usize) -> Vec<u8> {
    let mut t = Tar::new();
    for i in 0..n {
        t.file(&format!("f{i}"), b"x");
    }
    t.finish()
}

#[test]
fn defaults_are_generous_and_zero_means_default() {
    let d = LayerLimits::default();
    assert_eq!(d.max_bytes, 1 << 40);
    assert_eq!(d.max_entries, 10_000_000);
    assert_eq!(LayerLimits::new(0, 0), d);
    assert_eq!(RuntimeOptions::default().layer_limits, d);
    assert_eq!(LayerLimits::new(5, 0).max_bytes, 5);
}

#[test]
fn more_entries_than_the_budget_are_refused() {
    let dir = TempDir::new("budget-entries");
    let rt = runtime(&dir.join("root"), 0, 100);
    accepted(&rt, &files(100));
    refused(
        &rt,
        &files(101),
        &["more than 100 entries", "max_layer_entries"],
    );
    // Directories, links and whiteouts are entries too.
    let mut t = Tar::new();
    for i in 0..50 {
        t.dir(&format!("d{i}"));
        t.symlink(&format!("d{i}/l"), "/");
    }
    t.file(".wh.gone", b"");
    refused(&rt, &t.finish(), &["max_layer_entries"]);
}

#[test]
fn more_bytes_than_the_budget_are_refused() {
    let dir = TempDir::new("budget-bytes");
    let rt = runtime(&dir.join("root"), 1 << 20, 0);
    let mib = vec![b'x'; 1 << 20];
    let mut t = Tar::new();
    t.file("exact", &mib);
    accepted(&rt, &t.finish());
    let half = vec![b'x'; 600 << 10];
    let mut t = Tar::new();
    t.file("a", &half).file("b", &half);
    refused(
        &rt,
        &t.finish(),
        &["more than 1048576 bytes", "max_layer_bytes"],
    );
    // A sparse file counts its full length (its holes could be written out by whoever copies
    // the layer), and is refused before anything of it is written.
    let mut t = Tar::new();
    t.sparse("s", 8 << 30, &[(8 << 30, b"")]);
    refused(&rt, &t.finish(), &["max_layer_bytes"]);
}

/// `import -` through the C ABI: the runtime's status and the command's output.
fn c_import(
    rt: *const docker_runtime::ffi::runtime::docker_runtime,
    tar: &[u8],
) -> (docker_result, String) {
    let dir = TempDir::new("budget-c-io");
    let mut input = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(dir.join("in"))
        .unwrap();
    input.write_all(tar).unwrap();
    input.rewind().unwrap();
    let mut output = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(dir.join("out"))
        .unwrap();
    let args: Vec<CString> = ["import", "-", "budget"]
        .iter()
        .map(|a| CString::new(*a).unwrap())
        .collect();
    let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    let mut status: c_int = -1;
    // SAFETY: the handle is live; argv and the descriptors outlive the call.
    let r = unsafe {
        docker_runtime_call(
            rt,
            argv.len() as c_int,
            argv.as_ptr(),
            input.as_raw_fd(),
            output.as_raw_fd(),
            &mut status,
        )
    };
    let mut text = String::new();
    output.rewind().unwrap();
    output.read_to_string(&mut text).unwrap();
    if r != docker_result::DOCKER_OK {
        text.push_str(&last_error());
    }
    (r, text)
}

/// The options struct carries the budget at its end; 0 (what init sets) is the default.
#[test]
fn c_options_carry_the_budget() {
    let dir = TempDir::new("budget-c");
    let root = CString::new(dir.join("root").to_str().unwrap()).unwrap();
    let mut o = std::mem::MaybeUninit::<docker_runtime_options>::uninit();
    let mut rt = std::ptr::null_mut();
    // SAFETY: init fills the struct; the root string outlives the call; rt is writable.
    let r = unsafe {
        assert_eq!(
            docker_runtime_options_init(o.as_mut_ptr(), size_of::<docker_runtime_options>()),
            docker_result::DOCKER_OK
        );
        let mut o = o.assume_init();
        assert_eq!((o.max_layer_bytes, o.max_layer_entries), (0, 0));
        o.max_layer_entries = 2;
        o.disable_ip_forward = 1;
        docker_runtime_new(root.as_ptr(), &o, &mut rt)
    };
    assert_eq!(r, docker_result::DOCKER_OK, "{}", last_error());
    let (r, _) = c_import(rt, &files(2));
    assert_eq!(r, docker_result::DOCKER_OK);
    let (r, text) = c_import(rt, &files(3));
    assert_ne!(r, docker_result::DOCKER_OK);
    assert!(text.contains("max_layer_entries"), "{text}");
    assert!(tmp_leftovers(&dir.join("root")).is_empty());
    // SAFETY: made by docker_runtime_new, released once.
    unsafe { docker_runtime_free(rt) };
}
