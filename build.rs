//! Generates the C header from `src/ffi/` with cbindgen into `OUT_DIR` only (the source tree
//! is never written, so read-only and vendored builds work): `scripts/header.sh` copies it to
//! `include/docker_runtime.h`, and the test suite fails while the committed one differs. Also
//! gives the shared library its SONAME, `libdocker_runtime.so.MAJOR`.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("reading cbindgen.toml");
    let v = |k: &str| env::var(k).expect(k);
    config.after_includes = Some(format!(
        "\n#define DOCKER_RUNTIME_VERSION_MAJOR {}\n#define DOCKER_RUNTIME_VERSION_MINOR {}\n#define DOCKER_RUNTIME_VERSION_PATCH {}\n#define DOCKER_RUNTIME_VERSION \"{}\"",
        v("CARGO_PKG_VERSION_MAJOR"),
        v("CARGO_PKG_VERSION_MINOR"),
        v("CARGO_PKG_VERSION_PATCH"),
        v("CARGO_PKG_VERSION"),
    ));
    // Only the ABI skin (src/ffi/mod.rs and its submodules) is parsed: the safe core's items
    // never reach the header.
    let builder = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"));
    let mut header = Vec::new();
    builder
        .generate()
        .expect("generating the C header with cbindgen")
        .write(&mut header);
    fs::write(out_dir.join("docker_runtime.h"), &header).expect("writing OUT_DIR header");

    // The ABI's SONAME follows the crate's major version; scripts/install.sh installs
    // libdocker_runtime.so.VERSION with the .so.MAJOR and .so links.
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,-soname,libdocker_runtime.so.{}",
        v("CARGO_PKG_VERSION_MAJOR")
    );
}
