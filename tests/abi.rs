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
    let mut cmd = common::under_valgrind(bin);
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

/// `readelf ARGS FILE`'s output.
fn readelf(args: &[&str], file: &std::path::Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .expect("running readelf");
    assert!(out.status.success(), "readelf failed on {}", file.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `scripts/install.sh ARGS` of this test build, staged under `destdir`, with `env`.
fn install_sh(args: &[&str], destdir: &std::path::Path, libdir: &str, env: &[(&str, &str)]) {
    let profile = target_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = Command::new("bash")
        .arg(crate_dir().join("scripts/install.sh"))
        .args(args)
        .env("DESTDIR", destdir)
        .env("LIBDIR", libdir)
        .env("PROFILE", &profile)
        .env("TARGET_DIR", lib_dir())
        .env("NO_BUILD", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/install.sh {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pkg-config ARGS docker_runtime` on the staged install, split into words.
fn pkg_config(args: &[&str], pc_dir: &std::path::Path, sysroot: &std::path::Path) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("docker_runtime")
        .env("PKG_CONFIG_PATH", pc_dir)
        .env("PKG_CONFIG_SYSROOT_DIR", sysroot)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pkg-config {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn installs_and_uninstalls_like_a_c_library() {
    // A staged install (DESTDIR) with its own LIBDIR; pkg-config reaches it through its sysroot.
    let stage = TempDir::new("destdir");
    let prefix = "/opt/docker-runtime-test";
    let libdir = format!("{prefix}/lib64");
    install_sh(&[prefix], stage.path(), &libdir, &[]);
    let lib = stage.path().join(libdir.trim_start_matches('/'));
    let version = env!("CARGO_PKG_VERSION");
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let so = lib.join(format!("libdocker_runtime.so.{version}"));
    assert!(so.symlink_metadata().unwrap().is_file(), "{}", so.display());
    for (link, target) in [
        (
            format!("libdocker_runtime.so.{major}"),
            format!("libdocker_runtime.so.{version}"),
        ),
        (
            "libdocker_runtime.so".into(),
            format!("libdocker_runtime.so.{major}"),
        ),
    ] {
        let read = std::fs::read_link(lib.join(&link)).unwrap();
        assert_eq!(read, std::path::PathBuf::from(target), "{link}");
    }
    let soname = format!("Library soname: [libdocker_runtime.so.{major}]");
    assert!(readelf(&["-d"], &so).contains(&soname), "no {soname}");
    assert!(
        !readelf(&["-S", "-W"], &so).contains(".debug_info"),
        "the installed library is not stripped"
    );
    assert!(lib.join("libdocker_runtime.a").is_file());
    let include = stage.join("opt/docker-runtime-test/include/docker_runtime.h");
    assert!(include.is_file(), "{}", include.display());

    let pc_dir = lib.join("pkgconfig");
    let pc = std::fs::read_to_string(pc_dir.join("docker_runtime.pc")).unwrap();
    assert!(
        !pc.contains(&stage.path().display().to_string()),
        "the .pc file names DESTDIR:\n{pc}"
    );
    assert!(pc.contains("libdir=${prefix}/lib64\n"), "{pc}");
    let private = pc
        .lines()
        .find_map(|l| l.strip_prefix("Libs.private: "))
        .unwrap_or_default();
    for l in ["-lseccomp", "-lc"] {
        assert!(
            private.split(' ').any(|w| w == l),
            "no {l} in Libs.private: {pc}"
        );
    }

    // Shared: the C examples through the Makefile's pkg-config mode, run against the install.
    let build = TempDir::new("c-pc-build");
    make_examples(
        build.path(),
        &[("USE_PKG_CONFIG", "1".into())],
        &[
            ("PKG_CONFIG_PATH", pc_dir.display().to_string()),
            ("PKG_CONFIG_SYSROOT_DIR", stage.path().display().to_string()),
        ],
    );
    let demo = build.join("errors_demo");
    let needed = format!("Shared library: [libdocker_runtime.so.{major}]");
    assert!(readelf(&["-d"], &demo).contains(&needed), "no {needed}");
    let root = TempDir::new("c-pc-root");
    let out = Command::new(&demo)
        .arg(root.join("shared"))
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("all errors as expected"), "{stdout}");

    // Static: `pkg-config --static` gives what libdocker_runtime.a needs; the archive is
    // chosen over the shared library with -l:libdocker_runtime.a.
    let mut flags = pkg_config(&["--static", "--cflags", "--libs"], &pc_dir, stage.path());
    let l = flags.iter().position(|f| f == "-ldocker_runtime").unwrap();
    flags[l] = "-l:libdocker_runtime.a".into();
    let static_demo = build.join("errors_demo_static");
    let out = Command::new("cc")
        .args(["-std=c11", "-pthread", "-o"])
        .arg(&static_demo)
        .arg(crate_dir().join("c-examples/errors_demo.c"))
        .args(&flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "static link with {flags:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!readelf(&["-d"], &static_demo).contains("libdocker_runtime"));
    let out = Command::new(&static_demo)
        .arg(root.join("static"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("all errors as expected"), "{stdout}");

    install_sh(&["--uninstall", prefix], stage.path(), &libdir, &[]);
    let left: Vec<_> = std::fs::read_dir(stage.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left after --uninstall: {left:?}");
}

#[test]
fn debug_info_is_kept_beside_the_stripped_library_on_request() {
    let stage = TempDir::new("destdir-debug");
    let (prefix, libdir) = ("/usr/local", "/usr/local/lib");
    install_sh(&[prefix], stage.path(), libdir, &[("DEBUG_INFO", "1")]);
    let so = stage.join(&format!(
        "usr/local/lib/libdocker_runtime.so.{}",
        env!("CARGO_PKG_VERSION")
    ));
    let sections = readelf(&["-S", "-W"], &so);
    assert!(!sections.contains(".debug_info"), "not stripped");
    assert!(sections.contains(".gnu_debuglink"), "no .gnu_debuglink");
    let debug = so.with_file_name(format!(
        "libdocker_runtime.so.{}.debug",
        env!("CARGO_PKG_VERSION")
    ));
    assert!(readelf(&["-S", "-W"], &debug).contains(".debug_info"));
    install_sh(&["--uninstall", prefix], stage.path(), libdir, &[]);
    let left: Vec<_> = std::fs::read_dir(stage.path()).unwrap().collect();
    assert!(left.is_empty(), "left after --uninstall: {left:?}");
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
