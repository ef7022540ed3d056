//! The error type of the safe core. Every fallible function returns [`Result`]; the message
//! names the thing and the cause (`no such container: 3f2a...`), and carries the OS errno when
//! one caused it. `ffi/` maps [`ErrorKind`] onto the stable `docker_result` values.

use std::fmt;
use std::io;
use std::path::Path;

/// What went wrong, coarsely: one kind per `docker_result` error value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A malformed argument: a bad flag, CIDR, name or id.
    InvalidArgument,
    /// The named thing (container, image, file, tag) does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The thing is used by something else (a running container, a child image, a taken port).
    InUse,
    /// A pool (addresses, ports) has nothing left.
    Exhausted,
    /// A file or archive on disk or on the wire is malformed.
    Corrupt,
    /// An operating-system call failed.
    Io,
    /// The caller lacks a permission.
    PermissionDenied,
    /// The request is valid but not supported here.
    Unsupported,
    /// A command name that the dispatch table does not know.
    UnknownCommand,
    /// A remote peer (registry, URL) failed or answered wrongly.
    Remote,
}

/// An error with a message that names the thing and the cause.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    errno: Option<i32>,
    /// A command line that does not fit the command's usage (see [`Error::usage`]).
    usage: bool,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            errno: None,
            usage: false,
        }
    }

    /// A command line that does not fit its command's usage (an unknown flag, a missing
    /// argument): `InvalidArgument`, and docker's exit status 125 for the CLI.
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            usage: true,
            ..Self::invalid(message)
        }
    }

    /// Whether the error is a usage error ([`Error::usage`]).
    pub fn is_usage(&self) -> bool {
        self.usage
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn exists(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message)
    }

    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InUse, message)
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// An I/O error, with `context` saying what was being done to what
    /// (`creating /var/lib/docker-runtime/graph`). The kind follows the cause: a missing file is
    /// `NotFound`, a refused permission `PermissionDenied`, anything else `Io`.
    pub fn io(context: impl fmt::Display, err: io::Error) -> Self {
        let kind = match err.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            _ => ErrorKind::Io,
        };
        let errno = err.raw_os_error();
        let cause = match errno {
            // io::Error's Display appends "(os error N)"; keep the readable part only, the
            // errno travels separately.
            Some(n) => io::Error::from_raw_os_error(n)
                .to_string()
                .split(" (os error")
                .next()
                .unwrap_or_default()
                .to_string(),
            None => err.to_string(),
        };
        Error {
            kind,
            message: format!("{context}: {cause}"),
            errno,
            usage: false,
        }
    }

    /// Shorthand for an I/O error about a path: `"{what} {path}: {cause}"`.
    pub fn io_path(what: &str, path: &Path, err: io::Error) -> Self {
        Self::io(format_args!("{what} {}", path.display()), err)
    }

    /// An error from a raw errno (nix calls).
    pub fn errno(context: impl fmt::Display, errno: nix::errno::Errno) -> Self {
        Self::io(context, io::Error::from_raw_os_error(errno as i32))
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn os_errno(&self) -> Option<i32> {
        self.errno
    }

    /// Prefix the message with more context, keeping kind and errno.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_errno_and_name_the_thing() {
        let e = Error::io_path(
            "creating",
            Path::new("/x/graph"),
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(e.os_errno(), Some(libc::EACCES));
        assert_eq!(e.message(), "creating /x/graph: Permission denied");
    }

    #[test]
    fn context_prefixes_the_message() {
        let e = Error::not_found("no such image: abc").context("run");
        assert_eq!(e.message(), "run: no such image: abc");
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}
