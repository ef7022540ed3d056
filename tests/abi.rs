//! The ABI as C and Python programs see it: the committed header, the exported symbols, the C
//! examples (under valgrind when it is installed) and the Python ctypes tests.

mod common;

use std::process::Command;

use common::{crate_dir, lib_dir, target_dir, TempDir};

#[test]
fn committed_header_matches_a_fresh_generation() {
    let fresh = include_str!(concat!(env!("OUT_DIR"), "/docker_runtime.h"));
    let committed = std::fs::read_to_string(crate_dir().join("include/docker_runtime.h")).unwrap();
    assert!(
        fresh == committed,
        "include/docker_runtime.h is not the header build.rs generated ({}): run \
         `bash scripts/header.sh` and commit it",
        concat!(env!("OUT_DIR"), "/docker_runtime.h")
    );
}

#[test]
fn header_version_macros_match_cargo() {
    let h = std::fs::read_to_string(crate_dir().join("include/docker_runtime.h")).unwrap();
    for (name, v) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let line = format!("#define DOCKER_RUNTIME_VERSION_{name} {v}\n");
        assert!(h.contains(&line), "missing {line:?}");
    }
    // SAFETY: docker_runtime_version returns a static NUL-terminated string.
    let lib =
        unsafe { std::ffi::CStr::from_ptr(docker_runtime::ffi::error::docker_runtime_version()) };
    assert_eq!(lib.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn only_docker_symbols_are_exported() {
    let so = lib_dir().join("libdocker_runtime.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("running nm");
    assert!(out.status.success(), "nm failed on {}", so.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(names.contains(&"docker_runtime_new"), "{names:?}");
    let foreign: Vec<&&str> = names.iter().filter(|n| !n.starts_with("docker_")).collect();
    assert!(
        foreign.is_empty(),
        "unexpected exported symbols: {foreign:?}"
    );
}

/// Build the C examples into `out` with make; extra make variables in `vars`.
fn make_examples(out: &std::path::Path, vars: &[(&str, String)], env: &[(&str, String)]) {
    let profile = target_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(crate_dir().join("c-examples"))
        .arg(format!("PROFILE={profile}"))
        .arg(format!("LIBDIR={}", lib_dir().display()))
        .arg(format!("OUT={}", out.display()));
    for (k, v) in vars {
        cmd.arg(format!("{k}={v}"));
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running make");
    assert!(
        out.status.success(),
        "building the C examples failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_example(bin: &std::path::Path, root: &std::path::Path) -> String {
    let valgrind = Command::new("valgrind").arg("--version").output().is_ok();
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "-q",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=99",
        ])
        .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd.arg(root).output().expect("running a C example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed ({:?}):\n{stdout}\n{}",
        bin.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn c_examples_build_and_run_clean() {
    let build = TempDir::new("c-build");
    make_examples(build.path(), &[], &[]);
    let root = TempDir::new("c-root");
    let out = run_example(&build.join("runtime_demo"), &root.join("root"));
    assert!(out.contains("containers: 0"), "{out}");
    assert!(
        out.contains("runtime pool gave 10.77.0.2 and port 50100"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("ok"), "{out}");
    let out = run_example(&build.join("errors_demo"), &root.join("root2"));
    assert!(out.contains("all errors as expected"), "{out}");
    // The daemon hosted by a C program with one call, a client, a stop from a signal handler.
    let out = run_example(&build.join("serve_demo"), &root.join("root3"));
    assert!(
        out.contains("serve on ftp://nowhere -> DOCKER_ERR_INVALID_ARGUMENT"),
        "{out}"
    );
    assert!(
        out.contains(&format!("-> Version: {}\n", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("-> containers: 0\n"), "{out}");
    assert!(out.contains("stopped: DOCKER_OK"), "{out}");
    assert!(out.trim_end().ends_with("ok"), "{out}");
}

#[test]
fn pkg_config_finds_the_installed_library() {
    let prefix = TempDir::new("prefix");
    let profile = target_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let st = Command::new("bash")
        .arg(crate_dir().join("scripts/install.sh"))
        .arg(prefix.path())
        .env("PROFILE", &profile)
        .env("TARGET_DIR", lib_dir())
        .env("NO_BUILD", "1")
        .status()
        .unwrap();
    assert!(st.success(), "scripts/install.sh failed");
    let pc = prefix.join("lib/pkgconfig");
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "docker_runtime"])
        .env("PKG_CONFIG_PATH", &pc)
        .output()
        .unwrap();
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    assert!(flags.contains("-ldocker_runtime"), "{flags}");
    assert!(
        flags.contains(&prefix.path().display().to_string()),
        "{flags}"
    );
    let build = TempDir::new("c-pc-build");
    make_examples(
        build.path(),
        &[("USE_PKG_CONFIG", "1".into())],
        &[("PKG_CONFIG_PATH", pc.display().to_string())],
    );
    let root = TempDir::new("c-pc-root");
    let out = Command::new(build.join("runtime_demo"))
        .arg(root.join("root"))
        .env("LD_LIBRARY_PATH", prefix.join("lib"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn python_ctypes_tests_pass() {
    let out = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s"])
        .arg(crate_dir().join("python/tests"))
        .env("DOCKER_RUNTIME_LIB", lib_dir().join("libdocker_runtime.so"))
        .env("DOCKER_RUNTIME_BIN_DIR", target_dir())
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "python tests failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
