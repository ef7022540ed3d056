//! Tarball streams: compression detected by content (gzip, bzip2, xz, or none), decoded in
//! process by library code (an image never supplies the program that unpacks it), in constant
//! memory.

use std::fmt;
use std::io::{self, BufReader, Read};

/// Size of the buffer between the source and the decoder or tar parser: large reads keep the
/// syscall count per megabyte low.
pub const BUF_SIZE: usize = 1 << 20;

/// How a tarball is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        })
    }
}

impl Compression {
    /// Recognise a compressed stream from its first bytes.
    pub fn detect(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(b"BZh") {
            Compression::Bzip2
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

/// Make `source` readable as a plain tar stream: read its first bytes, and put the matching
/// decoder in front of it. Multi-member gzip (pigz) and concatenated bzip2/xz streams are read
/// whole.
pub fn decompress<'a, R: Read + 'a>(
    mut source: R,
) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    // A pipe may hand the first bytes over in pieces: read until there are enough.
    let mut magic = [0u8; 6];
    let got = read_full(&mut source, &mut magic)?;
    let kind = Compression::detect(&magic[..got]);
    let buf = BufReader::with_capacity(
        BUF_SIZE,
        io::Cursor::new(magic[..got].to_vec()).chain(source),
    );
    let reader: Box<dyn Read + 'a> = match kind {
        Compression::None => Box::new(buf),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            flate2::bufread::MultiGzDecoder::new(buf),
        )),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            bzip2::bufread::MultiBzDecoder::new(buf),
        )),
        Compression::Xz => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            liblzma::bufread::XzDecoder::new_multi_decoder(buf),
        )),
    };
    Ok((kind, reader))
}

fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(kind: Compression, data: &[u8]) {
        let packed = match kind {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        };
        // A reader that hands over one byte at a time, like a slow pipe.
        struct Trickle(io::Cursor<Vec<u8>>);
        impl Read for Trickle {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                let n = b.len().min(1);
                self.0.read(&mut b[..n])
            }
        }
        let (k, mut r) = decompress(Trickle(io::Cursor::new(packed))).unwrap();
        assert_eq!(k, kind);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn every_format_is_detected_and_decoded() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for k in [
            Compression::None,
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Xz,
        ] {
            roundtrip(k, &data);
        }
        roundtrip(Compression::None, b"ab");
        let (k, mut r) = decompress(io::empty()).unwrap();
        assert_eq!(k, Compression::None);
        assert_eq!(r.read(&mut [0u8; 4]).unwrap(), 0);
    }
}
