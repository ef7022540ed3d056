//! The C ABI: a thin skin over the safe core, and nothing else.
//!
//! Conventions (see the README's "C API" section):
//! - opaque handles made by `_new` and released by `_free`; `_free(NULL)` does nothing;
//! - every function returns a `docker_result` (or documents why not); outputs are written only
//!   on success (`docker_runtime_call*` also writes the exit status of a command that failed);
//! - the message of the last failed call on this thread is read with `docker_error_message`,
//!   its OS errno with `docker_error_errno`;
//! - every pointer is NULL-checked and every string checked for UTF-8;
//! - no panic crosses the boundary: every exported function body runs inside [`guard`] (a test
//!   checks that none is missing), and a panic becomes `DOCKER_ERR_PANIC`.
//!
//! Modules: [`runtime`] (the handle, restore, command dispatch, the runtime's pools),
//! [`serve`] (the daemon as one call, `docker_runtime_serve`, stopped through a descriptor
//! the host writes to), [`alloc`] (stand-alone allocators), [`error`] (results and messages).

//!
//! Safety contract shared by every export (stated once here rather than on each function):
//! pointer arguments are NULL or valid for the documented use during the call; handles are
//! ones this library made and has not released; buffers are writable for their stated length.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod alloc;
pub mod error;
pub mod runtime;
pub mod serve;

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind};

pub use error::docker_result;

/// An error at the boundary: a result code, a message, an errno.
#[derive(Debug)]
pub struct FfiError {
    code: docker_result,
    message: String,
    errno: i32,
}

impl FfiError {
    pub fn new(code: docker_result, message: impl Into<String>) -> Self {
        FfiError {
            code,
            message: message.into(),
            errno: 0,
        }
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        let code = match e.kind() {
            ErrorKind::InvalidArgument => docker_result::DOCKER_ERR_INVALID_ARGUMENT,
            ErrorKind::NotFound => docker_result::DOCKER_ERR_NOT_FOUND,
            ErrorKind::AlreadyExists => docker_result::DOCKER_ERR_ALREADY_EXISTS,
            ErrorKind::InUse => docker_result::DOCKER_ERR_IN_USE,
            ErrorKind::Exhausted => docker_result::DOCKER_ERR_EXHAUSTED,
            ErrorKind::Corrupt => docker_result::DOCKER_ERR_CORRUPT,
            ErrorKind::Io => docker_result::DOCKER_ERR_IO,
            ErrorKind::PermissionDenied => docker_result::DOCKER_ERR_PERMISSION_DENIED,
            ErrorKind::Unsupported => docker_result::DOCKER_ERR_UNSUPPORTED,
            ErrorKind::UnknownCommand => docker_result::DOCKER_ERR_UNKNOWN_COMMAND,
            ErrorKind::Remote => docker_result::DOCKER_ERR_REMOTE,
        };
        FfiError {
            code,
            message: e.message().to_string(),
            errno: e.os_errno().unwrap_or(0),
        }
    }
}

pub type FfiResult<T> = std::result::Result<T, FfiError>;

thread_local! {
    static LAST_ERROR: RefCell<Option<FfiError>> = const { RefCell::new(None) };
}

fn set_last_error(e: FfiError) {
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
}

fn clear_last_error() {
    LAST_ERROR.with(|l| *l.borrow_mut() = None);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Run the body of an exported function: clear the thread's last error, catch any panic, turn
/// the outcome into a `docker_result` and record a failure's message.
pub fn guard(f: impl FnOnce() -> FfiResult<()>) -> docker_result {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => docker_result::DOCKER_OK,
        Ok(Err(e)) => {
            let code = e.code;
            set_last_error(e);
            code
        }
        Err(payload) => {
            set_last_error(FfiError::new(
                docker_result::DOCKER_ERR_PANIC,
                format!("internal error (panic): {}", panic_message(&*payload)),
            ));
            docker_result::DOCKER_ERR_PANIC
        }
    }
}

/// [`guard`] for functions that return nothing (`_free`): a panic is swallowed and recorded.
pub fn guard_void(f: impl FnOnce()) {
    let _ = guard(|| {
        f();
        Ok(())
    });
}

/// For functions returning a value that cannot fail (`docker_runtime_version`, the error
/// readers): catch a panic and return `fallback`. Leaves the thread's last error alone.
pub fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Borrow a NUL-terminated UTF-8 string argument named `name`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(FfiError::new(
            docker_result::DOCKER_ERR_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string that lives for the call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| {
        FfiError::new(
            docker_result::DOCKER_ERR_INVALID_UTF8,
            format!("{name} is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })
}

/// Like [`str_arg`], but NULL gives `None`.
///
/// # Safety
/// As [`str_arg`].
pub unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// Borrow a handle argument.
///
/// # Safety
/// `p` is NULL or a live handle of this type made by this library.
pub unsafe fn handle<'a, T>(p: *const T, name: &str) -> FfiResult<&'a T> {
    // SAFETY: the caller promises a live handle or NULL; as_ref checks NULL.
    unsafe { p.as_ref() }.ok_or_else(|| {
        FfiError::new(
            docker_result::DOCKER_ERR_NULL_ARGUMENT,
            format!("{name} is NULL"),
        )
    })
}

/// Parse a dotted IPv4 address argument.
pub fn ip_arg(s: &str) -> FfiResult<std::net::Ipv4Addr> {
    s.parse().map_err(|_| {
        FfiError::new(
            docker_result::DOCKER_ERR_INVALID_ARGUMENT,
            format!("{s:?} is not an IPv4 address"),
        )
    })
}

/// Check an output pointer before any work is done.
pub fn out_arg<T>(p: *mut T, name: &str) -> FfiResult<()> {
    if p.is_null() {
        Err(FfiError::new(
            docker_result::DOCKER_ERR_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ))
    } else {
        Ok(())
    }
}

/// Copy `s` into the caller's buffer `buf` of `len` bytes, NUL-terminated. Too small is
/// `DOCKER_ERR_BUFFER_TOO_SMALL` and nothing is written.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes.
pub unsafe fn write_str_out(s: &str, buf: *mut c_char, len: usize, name: &str) -> FfiResult<()> {
    out_arg(buf, name)?;
    if s.len() + 1 > len {
        return Err(FfiError::new(
            docker_result::DOCKER_ERR_BUFFER_TOO_SMALL,
            format!("{name} holds {len} bytes; {} are needed", s.len() + 1),
        ));
    }
    // SAFETY: buf is non-NULL and writable for len >= s.len() + 1 bytes; the regions cannot
    // overlap (s is Rust-owned).
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
        *buf.add(s.len()) = 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every exported function's body must run inside `guard`/`guard_void`, so no panic can
    /// cross the boundary. Checked on the source, so a new export cannot forget it.
    #[test]
    fn every_export_is_guarded() {
        let sources = [
            ("alloc.rs", include_str!("alloc.rs")),
            ("error.rs", include_str!("error.rs")),
            ("runtime.rs", include_str!("runtime.rs")),
            ("serve.rs", include_str!("serve.rs")),
        ];
        let mut checked = 0;
        for (file, src) in sources {
            let mut rest = src;
            while let Some(i) = rest.find("extern \"C\" fn ") {
                let after = &rest[i..];
                let name: String = after["extern \"C\" fn ".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let brace = after.find('{').expect("function body");
                let body = after[brace + 1..].trim_start();
                let guarded = ["guard(", "guard_void(", "guard_value("]
                    .iter()
                    .any(|g| body.starts_with(g));
                assert!(
                    guarded,
                    "{file}: {name} does not start its body with guard(...)"
                );
                checked += 1;
                rest = &after[brace..];
            }
        }
        assert!(checked >= 15, "only {checked} exports found");
    }
}
