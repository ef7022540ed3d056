//! The growth rule of the option structs, as C programs built on other headers see it:
//! `tests/growth/growth.c` is an older caller (the first version of `docker_runtime_options`),
//! a newer one (fields this library does not know) and one passing bad sizes. It is compiled
//! here against the committed header with the examples' warnings, and run under valgrind when
//! it is installed (its older caller keeps its struct on the heap in a block of exactly its
//! size, so any access past it is a valgrind error).

mod common;

use std::process::Command;

use common::{crate_dir, lib_dir, TempDir};

#[test]
fn old_and_newer_callers_and_bad_sizes() {
    let build = TempDir::new("growth-build");
    let bin = build.join("growth");
    // The library asks to be loaded as its SONAME, libdocker_runtime.so.0, which cargo does
    // not make: a link by that name next to the program, to the library this build made.
    let lib = build.path().to_path_buf();
    std::os::unix::fs::symlink(
        lib_dir().join("libdocker_runtime.so"),
        lib.join("libdocker_runtime.so.0"),
    )
    .unwrap();
    let out = Command::new("cc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-g",
            "-o",
        ])
        .arg(&bin)
        .arg(crate_dir().join("tests/growth/growth.c"))
        .arg(format!("-I{}", crate_dir().join("include").display()))
        .arg(format!("-L{}", lib_dir().display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-ldocker_runtime")
        .output()
        .expect("running cc");
    assert!(
        out.status.success(),
        "compiling growth.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let root = TempDir::new("growth-root");
    let mut cmd = common::under_valgrind(&bin);
    // The library this test build made: cargo's LD_LIBRARY_PATH for tests also names
    // target/debug, where `cargo build` leaves a copy that may be older.
    let out = cmd
        .arg(root.path())
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .expect("running growth");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "growth failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "ok: old caller: init leaves the bytes after the struct alone",
        "ok: old caller: its fields were used",
        "ok: newer caller: init zeroes the fields it does not know",
        "ok: newer caller, unknown fields zero: docker_runtime_new -> DOCKER_OK",
        "ok: newer caller, an unknown field set: docker_runtime_new -> DOCKER_ERR_INVALID_ARGUMENT",
        "ok: init with size 8 -> DOCKER_ERR_INVALID_ARGUMENT",
        "all as expected",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}
