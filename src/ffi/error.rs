//! The library version, and the readers of the result codes and of each thread's last error.

use std::ffi::{c_char, c_int};

use super::guard::guard_value;
pub use super::result::docker_result;
use super::result::LAST_ERROR;

/// The library version, `MAJOR.MINOR.PATCH`, as a static NUL-terminated string (never freed).
/// Compare with the `DOCKER_RUNTIME_VERSION_*` macros of the header you compiled against.
#[no_mangle]
pub extern "C" fn docker_runtime_version() -> *const c_char {
    guard_value(std::ptr::null(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// The name of a result code (`"DOCKER_ERR_NOT_FOUND"`), a static string (never freed);
/// `"DOCKER_ERR_UNKNOWN"` for a value this library does not define. Takes an int so that any
/// value is safe to pass.
#[no_mangle]
pub extern "C" fn docker_result_name(result: c_int) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let s: &'static str = match docker_result::from_int(result) {
            None => "DOCKER_ERR_UNKNOWN\0",
            Some(docker_result::DOCKER_OK) => "DOCKER_OK\0",
            Some(docker_result::DOCKER_ERR_NULL_ARGUMENT) => "DOCKER_ERR_NULL_ARGUMENT\0",
            Some(docker_result::DOCKER_ERR_INVALID_UTF8) => "DOCKER_ERR_INVALID_UTF8\0",
            Some(docker_result::DOCKER_ERR_INVALID_ARGUMENT) => "DOCKER_ERR_INVALID_ARGUMENT\0",
            Some(docker_result::DOCKER_ERR_NOT_FOUND) => "DOCKER_ERR_NOT_FOUND\0",
            Some(docker_result::DOCKER_ERR_ALREADY_EXISTS) => "DOCKER_ERR_ALREADY_EXISTS\0",
            Some(docker_result::DOCKER_ERR_IN_USE) => "DOCKER_ERR_IN_USE\0",
            Some(docker_result::DOCKER_ERR_EXHAUSTED) => "DOCKER_ERR_EXHAUSTED\0",
            Some(docker_result::DOCKER_ERR_CORRUPT) => "DOCKER_ERR_CORRUPT\0",
            Some(docker_result::DOCKER_ERR_IO) => "DOCKER_ERR_IO\0",
            Some(docker_result::DOCKER_ERR_PERMISSION_DENIED) => "DOCKER_ERR_PERMISSION_DENIED\0",
            Some(docker_result::DOCKER_ERR_UNSUPPORTED) => "DOCKER_ERR_UNSUPPORTED\0",
            Some(docker_result::DOCKER_ERR_UNKNOWN_COMMAND) => "DOCKER_ERR_UNKNOWN_COMMAND\0",
            Some(docker_result::DOCKER_ERR_REMOTE) => "DOCKER_ERR_REMOTE\0",
            Some(docker_result::DOCKER_ERR_BUFFER_TOO_SMALL) => "DOCKER_ERR_BUFFER_TOO_SMALL\0",
            Some(docker_result::DOCKER_ERR_PANIC) => "DOCKER_ERR_PANIC\0",
            Some(docker_result::DOCKER_ERR_TIMED_OUT) => "DOCKER_ERR_TIMED_OUT\0",
            Some(docker_result::DOCKER_ERR_CANCELLED) => "DOCKER_ERR_CANCELLED\0",
        };
        s.as_ptr().cast()
    })
}

/// Copy the message of the last failed call on this thread into `buf` (`len` bytes),
/// NUL-terminated and cut to fit. Returns the message's full length without the NUL (as
/// `snprintf` does), so a caller can size a buffer; 0 when the last call succeeded. `buf` may be
/// NULL when `len` is 0. Does not change the recorded error.
#[no_mangle]
pub unsafe extern "C" fn docker_error_message(buf: *mut c_char, len: usize) -> usize {
    guard_value(0, || {
        LAST_ERROR.with(|l| {
            let l = l.borrow();
            let Some(e) = l.as_ref() else {
                if !buf.is_null() && len > 0 {
                    // SAFETY: buf is writable for len >= 1 bytes (the caller's contract).
                    unsafe { *buf = 0 };
                }
                return 0;
            };
            let msg = e.message.as_bytes();
            if !buf.is_null() && len > 0 {
                let n = msg.len().min(len - 1);
                // SAFETY: buf is writable for len bytes and n + 1 <= len.
                unsafe {
                    std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                }
            }
            msg.len()
        })
    })
}

/// The OS errno behind the last failed call on this thread, or 0 when there was none.
#[no_mangle]
pub extern "C" fn docker_error_errno() -> c_int {
    guard_value(0, || {
        LAST_ERROR.with(|l| l.borrow().as_ref().map_or(0, |e| e.errno))
    })
}

/// The result code of the last call on this thread (`DOCKER_OK` after a success).
#[no_mangle]
pub extern "C" fn docker_error_code() -> docker_result {
    guard_value(docker_result::DOCKER_ERR_PANIC, || {
        LAST_ERROR.with(|l| {
            l.borrow()
                .as_ref()
                .map_or(docker_result::DOCKER_OK, |e| e.code)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stable_and_named() {
        for (i, r) in docker_result::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            // SAFETY: docker_result_name returns a static NUL-terminated string.
            let name = unsafe { std::ffi::CStr::from_ptr(docker_result_name(i as c_int)) };
            assert!(name.to_str().unwrap().starts_with("DOCKER_"));
        }
        assert_eq!(docker_result::DOCKER_ERR_PANIC as i32, 15);
        // SAFETY: as above.
        let unknown = unsafe { std::ffi::CStr::from_ptr(docker_result_name(99)) };
        assert_eq!(unknown.to_str().unwrap(), "DOCKER_ERR_UNKNOWN");
    }
}
