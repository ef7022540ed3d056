//! The boundary's guards (no panic crosses it, every failure becomes a result and a message)
//! and the argument checks every export uses.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::result::{clear_last_error, docker_result, set_last_error, FfiError, FfiResult};

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

/// The host's userdata pointer, which the host promises is usable from any thread (the
/// documented contract of every callback's userdata).
#[derive(Clone, Copy)]
pub struct Userdata(pub *mut c_void);
// SAFETY: the documented contract of every userdata argument: usable from any thread.
unsafe impl Send for Userdata {}
// SAFETY: as above.
unsafe impl Sync for Userdata {}

impl Userdata {
    pub fn ptr(&self) -> *mut c_void {
        self.0
    }
}

/// A duplicate (close-on-exec) of the caller's descriptor `fd`, named `name` in errors.
pub fn dup_fd(fd: c_int, name: &str) -> FfiResult<OwnedFd> {
    if fd < 0 {
        return Err(FfiError::new(
            docker_result::DOCKER_ERR_INVALID_ARGUMENT,
            format!("{name} {fd} is not a file descriptor"),
        ));
    }
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table; a closed fd fails with EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        let e = std::io::Error::last_os_error();
        return Err(crate::error::Error::io(format!("{name} {fd}"), e).into());
    }
    // SAFETY: new is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}
