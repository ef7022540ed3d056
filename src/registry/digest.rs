//! Content digests (`sha256:HEX`) and readers that hash what passes through them, so a blob is
//! verified while it streams and never trusted before its last byte is checked.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// A `sha256:` digest with 64 lowercase hex digits (the only algorithm registries use; others
/// are refused by name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parse and validate `sha256:HEX`.
    pub fn parse(s: &str) -> Result<Digest> {
        let bad = |why: &str| Err(Error::invalid(format!("invalid digest {s:?}: {why}")));
        let Some((alg, hex)) = s.split_once(':') else {
            return bad("expected ALGORITHM:HEX");
        };
        if alg != "sha256" {
            return bad("only sha256 digests are supported");
        }
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return bad("a sha256 digest is 64 lowercase hex digits");
        }
        Ok(Digest(s.to_string()))
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(data))
    }

    fn from_hasher(h: Sha256) -> Digest {
        Digest(format!("sha256:{}", hex(&h.finalize())))
    }

    /// `sha256:HEX`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The first 12 hex digits, as progress lines show a layer.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex sha256 of `data` (an image id derived from other ids).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// A reader that hashes and counts every byte read through it.
pub struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashReader<R> {
    pub fn new(inner: R) -> Self {
        HashReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest of what was read so far.
    pub fn digest(&self) -> Digest {
        Digest::from_hasher(self.hasher.clone())
    }

    /// The inner reader, the digest of what was read, and how many bytes.
    pub fn into_parts(self) -> (R, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hasher), self.count)
    }

    /// Read whatever is left (a tar parser stops at the end-of-archive blocks; the padding
    /// after them is part of the digest).
    pub fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// What a [`VerifyReader`] found, shared with whoever handed it to a decoder: `None` while the
/// end has not been reached, then the check's result.
pub type Outcome = Rc<RefCell<Option<Result<()>>>>;

/// A reader of a blob whose digest and size are known in advance (from a manifest): more
/// bytes than the size is an error as soon as they arrive; at the end, too few bytes or
/// another digest is an error, returned by `read` itself (so whoever reads to the end sees
/// it), kept in its [`Outcome`], and returned by [`VerifyReader::verify`].
pub struct VerifyReader<R> {
    inner: HashReader<R>,
    expected: Digest,
    size: u64,
    what: String,
    outcome: Outcome,
}

impl<R: Read> VerifyReader<R> {
    /// `what` names the blob in errors (`layer sha256:...`).
    pub fn new(inner: R, expected: Digest, size: u64, what: String) -> Self {
        VerifyReader {
            inner: HashReader::new(inner),
            expected,
            size,
            what,
            outcome: Rc::new(RefCell::new(None)),
        }
    }

    /// The shared result of the check, filled when the end is reached.
    pub fn outcome(&self) -> Outcome {
        self.outcome.clone()
    }

    fn settle(&self, r: Result<()>) -> Result<()> {
        let mut o = self.outcome.borrow_mut();
        if o.is_none() {
            *o = Some(r.clone());
        }
        r
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.inner.count()
    }

    fn check_end(&self) -> Result<()> {
        let got = self.inner.count();
        if got < self.size {
            return Err(Error::new(
                crate::error::ErrorKind::Remote,
                format!(
                    "{} is cut short: the registry sent {got} of its {} bytes",
                    self.what, self.size
                ),
            ));
        }
        let actual = Digest::from_hasher(self.inner.hasher.clone());
        if actual != self.expected {
            return Err(Error::corrupt(format!(
                "{} does not match its digest: the registry sent content with digest {actual}",
                self.what
            )));
        }
        Ok(())
    }

    /// Read to the end and check the size and the digest.
    pub fn verify(&mut self) -> Result<()> {
        if let Err(e) = self.inner.drain() {
            let e = io_error(e);
            // Our own check's error as it is; a transport error with what was being read.
            return Err(match self.outcome.borrow().clone() {
                Some(Err(ours)) => ours,
                _ => e.context(format_args!("reading {}", self.what)),
            });
        }
        let r = self.check_end();
        self.settle(r)
    }
}

/// An io::Error that carries one of our errors back into an [`Error`], or a plain one.
pub fn io_error(e: io::Error) -> Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(ours) => ours.clone(),
        None => Error::new(crate::error::ErrorKind::Remote, e.to_string()),
    }
}

impl<R: Read> Read for VerifyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Ask for one byte more than the rest, to notice a blob longer than announced.
        let room = (self.size - self.inner.count().min(self.size)) as usize + 1;
        let want = buf.len().min(room);
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                // The transport failed: that is the cause, whatever a decoder makes of it.
                let got = self.inner.count();
                let ours = io_error(e).context(format_args!(
                    "downloading {} (after {got} of {} bytes)",
                    self.what, self.size
                ));
                let _ = self.settle(Err(ours.clone()));
                return Err(io::Error::other(ours));
            }
        };
        if self.inner.count() > self.size {
            let e = self.settle(Err(Error::corrupt(format!(
                "{} is longer than the {} bytes its manifest gives",
                self.what, self.size
            ))));
            return Err(io::Error::new(io::ErrorKind::InvalidData, e.unwrap_err()));
        }
        if n == 0 && !buf.is_empty() && self.outcome.borrow().is_none() {
            let r = self.check_end();
            self.settle(r)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_refuse() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert_eq!(d.short(), "ba7816bf8f01");
        for bad in [
            "",
            "sha256",
            "md5:abc",
            "sha256:ABC",
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
            "sha256:../../../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            let e = Digest::parse(bad).unwrap_err();
            assert!(e.message().contains("invalid digest"), "{bad}: {e}");
        }
    }

    fn read_all(r: &mut impl Read) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).map(|_| v)
    }

    #[test]
    fn verify_reader_checks_size_and_digest() {
        let data = b"hello world".to_vec();
        let good = Digest::of(&data);
        let mut r = VerifyReader::new(&data[..], good.clone(), 11, "blob".into());
        let outcome = r.outcome();
        assert!(outcome.borrow().is_none());
        assert_eq!(read_all(&mut r).unwrap(), data);
        assert!(matches!(*outcome.borrow(), Some(Ok(()))));
        r.verify().unwrap();

        let mut short = VerifyReader::new(&data[..5], good.clone(), 11, "blob".into());
        let e = read_all(&mut short).unwrap_err();
        assert!(io_error(e).message().contains("cut short"));

        let mut long = VerifyReader::new(&data[..], good.clone(), 10, "blob".into());
        let e = read_all(&mut long).unwrap_err();
        assert!(io_error(e).message().contains("longer than"));

        let other = Digest::of(b"something else");
        let mut bad = VerifyReader::new(&data[..], other, 11, "blob x".into());
        let e = bad.verify().unwrap_err();
        assert!(
            e.message().contains("blob x does not match its digest"),
            "{e}"
        );
    }
}
