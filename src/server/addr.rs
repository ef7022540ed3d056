//! Daemon addresses (`-H`, `DOCKER_HOST`) and the connection type shared by both ends.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// Where the daemon listens unless `-H` says otherwise.
pub const DEFAULT_ADDR: &str = "unix:///var/run/docker-runtime.sock";

/// A daemon address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// `unix:///PATH`
    Unix(PathBuf),
    /// `tcp://HOST:PORT` (an empty host is 127.0.0.1)
    Tcp(String),
}

impl Addr {
    /// Parse `unix:///PATH` or `tcp://HOST:PORT`.
    pub fn parse(s: &str) -> Result<Addr> {
        let bad = |why: &str| {
            Error::invalid(format!(
                "invalid daemon address {s:?}: {why}; use unix:///PATH or tcp://HOST:PORT"
            ))
        };
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad("the socket path is empty"));
            }
            return Ok(Addr::Unix(PathBuf::from(path)));
        }
        if let Some(hp) = s.strip_prefix("tcp://") {
            let hp = hp.trim_end_matches('/');
            let Some((host, port)) = hp.rsplit_once(':') else {
                return Err(bad("the port is missing"));
            };
            if port.parse::<u16>().is_err() {
                return Err(bad(&format!("{port:?} is not a port number")));
            }
            let host = if host.is_empty() { "127.0.0.1" } else { host };
            return Ok(Addr::Tcp(format!("{host}:{port}")));
        }
        Err(bad("unknown scheme"))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Unix(p) => write!(f, "unix://{}", p.display()),
            Addr::Tcp(hp) => write!(f, "tcp://{hp}"),
        }
    }
}

/// One connection, on a unix or a TCP socket.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    /// Connect to `addr`.
    pub fn connect(addr: &Addr) -> io::Result<Stream> {
        match addr {
            Addr::Unix(p) => UnixStream::connect(p).map(Stream::Unix),
            Addr::Tcp(hp) => {
                let s = TcpStream::connect(hp.as_str())?;
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
        }
    }

    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
        }
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tcp(s) => s.shutdown(how),
        }
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tcp(s) => s.set_read_timeout(t),
        }
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(t),
            Stream::Tcp(s) => s.set_write_timeout(t),
        }
    }

    /// A short description of the peer for log lines.
    pub fn peer(&self) -> String {
        match self {
            Stream::Unix(_) => "unix".to_string(),
            Stream::Tcp(s) => s
                .peer_addr()
                .map_or_else(|_| "tcp".to_string(), |a| format!("tcp {a}")),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => (&*s).read(buf),
            Stream::Tcp(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => (&*s).write(buf),
            Stream::Tcp(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        assert_eq!(
            Addr::parse(DEFAULT_ADDR).unwrap(),
            Addr::Unix("/var/run/docker-runtime.sock".into())
        );
        assert_eq!(
            Addr::parse("tcp://127.0.0.1:4242").unwrap(),
            Addr::Tcp("127.0.0.1:4242".into())
        );
        assert_eq!(
            Addr::parse("tcp://:4242").unwrap(),
            Addr::Tcp("127.0.0.1:4242".into())
        );
        assert_eq!(
            Addr::parse("tcp://127.0.0.1:4242").unwrap().to_string(),
            "tcp://127.0.0.1:4242"
        );
        for bad in [
            "",
            "unix://",
            "tcp://host",
            "tcp://h:99999",
            "http://x:1",
            "/tmp/s",
        ] {
            let e = Addr::parse(bad).unwrap_err();
            assert!(e.message().contains("invalid daemon address"), "{e}");
        }
    }
}
