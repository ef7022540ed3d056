//! Result codes and the error of the last failed call on each thread.

use std::cell::RefCell;
use std::ffi::c_int;

use crate::error::{Error, ErrorKind};

/// The outcome of a call. Values are stable: new ones are appended, retired ones never reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum docker_result {
    /// Success.
    DOCKER_OK = 0,
    /// A required pointer argument was NULL.
    DOCKER_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    DOCKER_ERR_INVALID_UTF8 = 2,
    /// An argument was malformed (flag, CIDR, name, id, range).
    DOCKER_ERR_INVALID_ARGUMENT = 3,
    /// The named thing does not exist.
    DOCKER_ERR_NOT_FOUND = 4,
    /// The thing to create exists already.
    DOCKER_ERR_ALREADY_EXISTS = 5,
    /// The thing is in use (a taken port, a running container, an image with children).
    DOCKER_ERR_IN_USE = 6,
    /// A pool (addresses, ports) is exhausted.
    DOCKER_ERR_EXHAUSTED = 7,
    /// A file or archive is malformed.
    DOCKER_ERR_CORRUPT = 8,
    /// An operating-system call failed; `docker_error_errno` tells which errno.
    DOCKER_ERR_IO = 9,
    /// Permission denied.
    DOCKER_ERR_PERMISSION_DENIED = 10,
    /// Not supported here.
    DOCKER_ERR_UNSUPPORTED = 11,
    /// The command name is not a docker command.
    DOCKER_ERR_UNKNOWN_COMMAND = 12,
    /// A remote peer (registry, URL) failed.
    DOCKER_ERR_REMOTE = 13,
    /// An output buffer was too small; nothing was written.
    DOCKER_ERR_BUFFER_TOO_SMALL = 14,
    /// A bug in the library was caught at the boundary; the runtime may still be used.
    DOCKER_ERR_PANIC = 15,
    /// A wait's timeout passed; its outputs are untouched.
    DOCKER_ERR_TIMED_OUT = 16,
    /// A callback returned nonzero and the call stopped because of it.
    DOCKER_ERR_CANCELLED = 17,
}

impl docker_result {
    /// Every value, in order; index == value.
    pub(super) const ALL: [docker_result; 18] = [
        docker_result::DOCKER_OK,
        docker_result::DOCKER_ERR_NULL_ARGUMENT,
        docker_result::DOCKER_ERR_INVALID_UTF8,
        docker_result::DOCKER_ERR_INVALID_ARGUMENT,
        docker_result::DOCKER_ERR_NOT_FOUND,
        docker_result::DOCKER_ERR_ALREADY_EXISTS,
        docker_result::DOCKER_ERR_IN_USE,
        docker_result::DOCKER_ERR_EXHAUSTED,
        docker_result::DOCKER_ERR_CORRUPT,
        docker_result::DOCKER_ERR_IO,
        docker_result::DOCKER_ERR_PERMISSION_DENIED,
        docker_result::DOCKER_ERR_UNSUPPORTED,
        docker_result::DOCKER_ERR_UNKNOWN_COMMAND,
        docker_result::DOCKER_ERR_REMOTE,
        docker_result::DOCKER_ERR_BUFFER_TOO_SMALL,
        docker_result::DOCKER_ERR_PANIC,
        docker_result::DOCKER_ERR_TIMED_OUT,
        docker_result::DOCKER_ERR_CANCELLED,
    ];

    /// The result with value `v`, if there is one.
    pub fn from_int(v: c_int) -> Option<docker_result> {
        usize::try_from(v)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }
}

/// An error at the boundary: a result code, a message, an errno.
#[derive(Debug)]
pub struct FfiError {
    pub(super) code: docker_result,
    pub(super) message: String,
    pub(super) errno: i32,
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
    pub(super) static LAST_ERROR: RefCell<Option<FfiError>> = const { RefCell::new(None) };
}

pub(super) fn set_last_error(e: FfiError) {
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
}

pub(super) fn clear_last_error() {
    LAST_ERROR.with(|l| *l.borrow_mut() = None);
}
