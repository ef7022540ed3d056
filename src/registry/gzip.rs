//! The gzip stream of a pushed layer: one ordinary gzip member, deflated at zlib's fastest
//! level, except that input which does not compress (random data, and files that are already
//! compressed: `.gz`, `.jpg`, `.zip`, `.jar`...) is stored instead of deflated. Deflating such
//! data gains nothing and costs ten times what storing it does, so each 1 MiB of input is
//! probed first (two 16 KiB samples are deflated on the side); when neither shrinks by 5%, the
//! chunk is written as deflate stored blocks. Before them the compressor is sync-flushed (the
//! stream is then byte-aligned, as pigz leaves it between its blocks), and after them it starts
//! afresh (`reset`: its back-references only reach its own later output, which the decoder
//! has just before them too). Any gzip reader decodes the result as one member.

use std::io::{self, Read};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Input read and judged at a time.
const CHUNK: usize = 1 << 20;
/// Bytes of each sample deflated to judge a chunk.
const SAMPLE: usize = 16 << 10;
/// Deflate level of compressible input (zlib's fastest).
pub const LEVEL: u32 = 1;

/// The 10-byte gzip header: deflate, no name, no mtime, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A reader of the gzip stream of what `inner` yields.
pub struct GzipReader<R> {
    inner: R,
    deflate: Compress,
    probe: Compress,
    /// The compressor has taken input since it was last flushed or reset.
    dirty: bool,
    /// Stored blocks were written since the compressor was last reset.
    stale: bool,
    /// The chunk in `input` is written as stored blocks.
    store: bool,
    crc: Crc,
    input: Vec<u8>,
    ipos: usize,
    ilen: usize,
    out: Vec<u8>,
    opos: usize,
    scratch: Vec<u8>,
    started: bool,
    eof: bool,
    finished: bool,
}

impl<R: Read> GzipReader<R> {
    pub fn new(inner: R) -> Self {
        GzipReader {
            inner,
            deflate: Compress::new(Compression::new(LEVEL), false),
            probe: Compress::new(Compression::new(LEVEL), false),
            dirty: false,
            stale: false,
            store: false,
            crc: Crc::new(),
            input: vec![0; CHUNK],
            ipos: 0,
            ilen: 0,
            out: Vec::with_capacity(CHUNK + (64 << 10)),
            opos: 0,
            scratch: Vec::with_capacity(SAMPLE * 2),
            started: false,
            eof: false,
            finished: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// True when a sample of `data` does not shrink by 5% when deflated.
    fn incompressible(&mut self, data: &[u8]) -> io::Result<bool> {
        self.probe.reset();
        self.scratch.clear();
        let status = self
            .probe
            .compress_vec(data, &mut self.scratch, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        // Out of room before the end: it grew, so it does not compress.
        Ok(status != Status::StreamEnd || self.scratch.len() * 20 > data.len() * 19)
    }

    /// True when the chunk now in `input` is to be stored.
    fn judge(&mut self) -> io::Result<bool> {
        if self.ilen < 2 * SAMPLE {
            return Ok(false);
        }
        let input = std::mem::take(&mut self.input);
        let mid = self.ilen / 2;
        let stored = self.incompressible(&input[..SAMPLE])?
            && self.incompressible(&input[mid..mid + SAMPLE])?;
        self.input = input;
        Ok(stored)
    }

    /// Make room in `out` (it is empty when this is called, or holds data not yet sent).
    fn reserve(&mut self) {
        if self.out.capacity() - self.out.len() < (64 << 10) {
            self.out.reserve(CHUNK);
        }
    }

    fn run(&mut self, input_end: usize, flush: FlushCompress) -> io::Result<Status> {
        let before = self.deflate.total_in();
        self.reserve();
        let status = self
            .deflate
            .compress_vec(&self.input[self.ipos..input_end], &mut self.out, flush)
            .map_err(io::Error::other)?;
        self.ipos += (self.deflate.total_in() - before) as usize;
        Ok(status)
    }

    /// Sync-flush the compressor: everything it holds is written and the stream is
    /// byte-aligned.
    fn flush(&mut self) -> io::Result<()> {
        loop {
            self.run(self.ipos, FlushCompress::Sync)?;
            // The flush is complete when it did not use up the room it had.
            if self.out.capacity() > self.out.len() {
                break;
            }
        }
        self.dirty = false;
        Ok(())
    }

    /// Write the rest of the chunk as stored blocks (the stream is byte-aligned).
    fn store_rest(&mut self) {
        for block in self.input[self.ipos..self.ilen].chunks(0xffff) {
            let len = block.len() as u16;
            self.out.push(0); // BFINAL=0, BTYPE=00, then padding to the byte
            self.out.extend_from_slice(&len.to_le_bytes());
            self.out.extend_from_slice(&(!len).to_le_bytes());
            self.out.extend_from_slice(block);
        }
        self.ipos = self.ilen;
        self.stale = true;
    }

    /// Before deflating again after stored blocks: a fresh compressor.
    fn refresh(&mut self) {
        if self.stale {
            self.deflate.reset();
            self.stale = false;
        }
    }

    /// Produce more output into `out`; false at the end of the stream.
    fn fill(&mut self) -> io::Result<bool> {
        if !self.started {
            self.started = true;
            self.out.extend_from_slice(&HEADER);
            return Ok(true);
        }
        if self.ipos == self.ilen && !self.eof {
            self.ipos = 0;
            self.ilen = 0;
            while self.ilen < CHUNK {
                match self.inner.read(&mut self.input[self.ilen..]) {
                    Ok(0) => break,
                    Ok(n) => self.ilen += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if self.ilen < CHUNK {
                self.eof = true;
            }
            self.crc.update(&self.input[..self.ilen]);
            self.store = self.judge()?;
            if self.store && self.dirty {
                self.flush()?;
            }
        }
        if self.ipos < self.ilen {
            if self.store {
                self.store_rest();
            } else {
                self.refresh();
                self.run(self.ilen, FlushCompress::None)?;
                self.dirty = true;
            }
            return Ok(true);
        }
        if self.eof && !self.finished {
            self.refresh();
            while self.run(self.ipos, FlushCompress::Finish)? != Status::StreamEnd {}
            self.out.extend_from_slice(&self.crc.sum().to_le_bytes());
            self.out.extend_from_slice(&self.crc.amount().to_le_bytes());
            self.finished = true;
            return Ok(true);
        }
        Ok(false)
    }
}

impl<R: Read> Read for GzipReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.opos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.opos);
                buf[..n].copy_from_slice(&self.out[self.opos..self.opos + n]);
                self.opos += n;
                return Ok(n);
            }
            self.out.clear();
            self.opos = 0;
            if !self.fill()? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn text(n: usize) -> Vec<u8> {
        let words = ["layer ", "image ", "registry ", "digest ", "overlay "];
        let mut v = Vec::new();
        let mut i = 0usize;
        while v.len() < n {
            v.extend_from_slice(words[(i * 7 + i / 3) % words.len()].as_bytes());
            i += 1;
        }
        v.truncate(n);
        v
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzipReader::new(data).read_to_end(&mut out).unwrap();
        out
    }

    fn gunzip_single(data: &[u8]) -> Vec<u8> {
        // A single-member decoder: the whole input is one gzip stream.
        let mut d = flate2::read::GzDecoder::new(data);
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert_eq!(
            d.into_inner().len(),
            0,
            "trailing data after the gzip member"
        );
        out
    }

    #[test]
    fn round_trips_and_stores_what_does_not_compress() {
        let random = noise(3 * CHUNK + 12345);
        let t = text(3 * CHUNK + 777);
        let mut mixed = Vec::new();
        for i in 0..6 {
            mixed.extend(if i % 2 == 0 {
                noise(CHUNK)
            } else {
                text(CHUNK)
            });
        }
        mixed.extend(text(100));
        for data in [&random, &t, &mixed, &Vec::new(), &b"tiny".to_vec()] {
            let z = gz(data);
            assert_eq!(&gunzip_single(&z), data);
        }
        // Stored: barely larger than the input.
        let z = gz(&random);
        assert!(
            z.len() < random.len() + random.len() / 500 + 64,
            "{}",
            z.len()
        );
        // Deflated: much smaller.
        assert!(gz(&t).len() < t.len() / 4);
        let zm = gz(&mixed);
        assert!(zm.len() < mixed.len() * 7 / 10, "{}", zm.len());
    }

    #[test]
    fn reads_in_any_sizes_from_a_trickling_source() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                let n = b.len().min(self.0.len()).min(4099);
                b[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut data = text(CHUNK);
        data.extend(noise(CHUNK + 5));
        let mut r = GzipReader::new(Trickle(&data));
        let mut out = Vec::new();
        let mut buf = [0u8; 777];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(gunzip_single(&out), data);
    }
}
