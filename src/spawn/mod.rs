//! Starting a container through the `docker-init` helper: the protocol both sides speak, and
//! where the helper is found.

pub mod process;
pub mod protocol;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The file this code was loaded from (the shared library, or the program it is linked into).
fn library_path() -> Option<PathBuf> {
    // SAFETY: a zeroed Dl_info is valid for dladdr to fill.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let addr = library_path as *const libc::c_void;
    // SAFETY: dladdr only reads the address and writes info.
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the dynamic loader.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let p = PathBuf::from(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()),
    );
    p.canonicalize().ok()
}

/// The `docker-init` helper: `explicit` when given (it must exist), else `docker-init` (or
/// `docker-runtime/docker-init`) beside the library or the running program.
pub fn find_helper(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::not_found(format!(
                "docker-init helper {} does not exist",
                p.display()
            )))
        };
    }
    let mut dirs = Vec::new();
    if let Some(lib) = library_path() {
        dirs.extend(lib.parent().map(Path::to_path_buf));
    }
    if let Ok(exe) = std::fs::read_link("/proc/self/exe") {
        dirs.extend(exe.parent().map(Path::to_path_buf));
    }
    let candidates: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| [d.join("docker-init"), d.join("docker-runtime/docker-init")])
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            Error::not_found(format!(
                "docker-init helper not found (looked at {}); set the runtime's init path",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}
