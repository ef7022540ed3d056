//! Sparse files in layer archives: the cap on their maps, and GNU tar's sparse files in pax
//! archives (`tar --sparse --format=posix`): the entry is a
//! regular file whose data are the sparse file's runs of data, one after the other; pax
//! records say where each run goes and how long the file is. Three versions exist:
//!
//! - 0.0: `GNU.sparse.size`, `GNU.sparse.numblocks`, then one `GNU.sparse.offset` and one
//!   `GNU.sparse.numbytes` record per run, in order;
//! - 0.1: `GNU.sparse.size`, `GNU.sparse.numblocks`, `GNU.sparse.map` (`OFF,LEN,OFF,LEN...`);
//! - 1.0 (GNU tar's default): `GNU.sparse.major=1`, `GNU.sparse.minor=0`,
//!   `GNU.sparse.realsize`; the map is at the start of the data, as decimal numbers each ended
//!   by a newline (the number of runs, then offset and length of each), padded to 512 bytes.
//!
//! The real name is in `GNU.sparse.name` (the header's name is `GNUSparseFile.PID/NAME`).
//! A map is checked before anything is written: runs in order, inside the file, adding up to
//! the data stored, at most [`MAX_SPARSE_SEGMENTS`] of them.

use std::io::{self, Read};

use crate::error::{Error, Result};

/// Most segments (runs of data) in the map of one sparse file. The tar parser's cost is
/// quadratic in a GNU sparse header's map (measured, release build: 10 000 segments 0.1 s,
/// 40 000 1.8 s; the 4 MiB metadata cap alone would allow about 170 000, some 30 s per entry).
pub const MAX_SPARSE_SEGMENTS: u64 = 10_000;

/// One run of data: its offset in the file and its length.
pub type Run = (u64, u64);

/// A pax sparse file's description, from its entry's pax records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaxSparse {
    /// The file's real name, when the records give one.
    pub name: Option<Vec<u8>>,
    /// The file's length, holes included.
    pub size: u64,
    /// The runs; `None` for version 1.0, whose map starts the entry's data.
    pub map: Option<Vec<Run>>,
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::corrupt(format!("bad GNU sparse file in a pax archive: {what}"))
}

fn number(key: &str, v: &[u8]) -> Result<u64> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| corrupt(format_args!("{key} is not a number")))
}

fn too_many(n: u64) -> Result<()> {
    if n > MAX_SPARSE_SEGMENTS {
        return Err(corrupt(format_args!(
            "the map has more than {MAX_SPARSE_SEGMENTS} segments"
        )));
    }
    Ok(())
}

/// Pair up a flat list of numbers as runs.
fn pairs(numbers: &[u64]) -> Result<Vec<Run>> {
    if numbers.len() % 2 != 0 {
        return Err(corrupt("the map has an offset without a length"));
    }
    too_many(numbers.len() as u64 / 2)?;
    Ok(numbers.chunks(2).map(|p| (p[0], p[1])).collect())
}

impl PaxSparse {
    /// The description in `records` (an entry's pax records, in order, `GNU.sparse.*` among
    /// them); `None` when they describe no sparse file.
    pub fn from_records(records: &[(String, Vec<u8>)]) -> Result<Option<PaxSparse>> {
        let find = |k: &str| records.iter().find(|(n, _)| n == k).map(|(_, v)| &v[..]);
        if !records.iter().any(|(k, _)| k.starts_with("GNU.sparse.")) {
            return Ok(None);
        }
        let name = find("GNU.sparse.name").map(<[u8]>::to_vec);
        if let Some(major) = find("GNU.sparse.major") {
            let minor = find("GNU.sparse.minor").map_or(Ok(0), |v| number("minor", v))?;
            let major = number("GNU.sparse.major", major)?;
            if (major, minor) != (1, 0) {
                return Err(Error::unsupported(format!(
                    "GNU sparse format {major}.{minor} is not supported (only 0.0, 0.1 and 1.0)"
                )));
            }
            let size = find("GNU.sparse.realsize")
                .ok_or_else(|| corrupt("no GNU.sparse.realsize"))
                .and_then(|v| number("GNU.sparse.realsize", v))?;
            return Ok(Some(PaxSparse {
                name,
                size,
                map: None,
            }));
        }
        let size = find("GNU.sparse.size")
            .or_else(|| find("GNU.sparse.realsize"))
            .ok_or_else(|| corrupt("no GNU.sparse.size"))
            .and_then(|v| number("GNU.sparse.size", v))?;
        let map = if let Some(text) = find("GNU.sparse.map") {
            let text = std::str::from_utf8(text).map_err(|_| corrupt("the map is not text"))?;
            let numbers = text
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| number("GNU.sparse.map", s.as_bytes()))
                .collect::<Result<Vec<_>>>()?;
            pairs(&numbers)?
        } else {
            // Version 0.0: offset and length records alternate.
            let numbers = records
                .iter()
                .filter(|(k, _)| k == "GNU.sparse.offset" || k == "GNU.sparse.numbytes")
                .map(|(k, v)| number(k, v))
                .collect::<Result<Vec<_>>>()?;
            pairs(&numbers)?
        };
        Ok(Some(PaxSparse {
            name,
            size,
            map: Some(map),
        }))
    }
}

/// Read a version 1.0 map from the start of an entry's data: returns the runs and the bytes
/// the map took (whole 512-byte blocks).
pub fn read_map(data: &mut impl Read) -> Result<(Vec<Run>, u64)> {
    let mut numbers: Vec<u64> = Vec::new();
    let mut want: Option<u64> = None;
    let mut digits = String::new();
    let mut block = [0u8; 512];
    let mut taken = 0;
    loop {
        data.read_exact(&mut block).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => corrupt("the data ends inside the map"),
            _ => Error::io("reading a sparse map", e),
        })?;
        taken += 512;
        for &b in &block {
            if b != b'\n' {
                if !b.is_ascii_digit() || digits.len() >= 20 {
                    return Err(corrupt("the map holds something else than numbers"));
                }
                digits.push(b as char);
                continue;
            }
            let n = number("the map", digits.as_bytes())?;
            digits.clear();
            match want {
                None => {
                    too_many(n)?;
                    want = Some(n * 2);
                }
                Some(_) => numbers.push(n),
            }
            if want == Some(numbers.len() as u64) {
                return Ok((pairs(&numbers)?, taken));
            }
        }
    }
}

/// Check that `map` fits a file of `size` bytes, in order, and that its runs add up to
/// `stored`, the data bytes the entry holds after its map.
pub fn check_map(map: &[Run], size: u64, stored: u64) -> Result<()> {
    too_many(map.len() as u64)?;
    let mut end = 0u64;
    let mut total = 0u64;
    for &(off, len) in map {
        let run_end = off
            .checked_add(len)
            .filter(|&e| e <= size)
            .ok_or_else(|| corrupt(format_args!("a run at {off} goes past the file's end")))?;
        if off < end {
            return Err(corrupt("the map's runs overlap or are out of order"));
        }
        end = run_end;
        total += len;
    }
    if total != stored {
        return Err(corrupt(format_args!(
            "the map's runs add up to {total} bytes, the entry holds {stored}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn the_three_versions_are_read() {
        assert_eq!(
            PaxSparse::from_records(&recs(&[("mtime", "1")])).unwrap(),
            None
        );
        let v0 = recs(&[
            ("GNU.sparse.size", "100"),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.offset", "0"),
            ("GNU.sparse.numbytes", "5"),
            ("GNU.sparse.offset", "50"),
            ("GNU.sparse.numbytes", "10"),
        ]);
        let want = Some(vec![(0, 5), (50, 10)]);
        let got = PaxSparse::from_records(&v0).unwrap().unwrap();
        assert_eq!((got.size, got.map, got.name), (100, want.clone(), None));
        let v01 = recs(&[
            ("GNU.sparse.size", "100"),
            ("GNU.sparse.name", "dir/f"),
            ("GNU.sparse.map", "0,5,50,10"),
        ]);
        let got = PaxSparse::from_records(&v01).unwrap().unwrap();
        assert_eq!((got.map, got.name), (want, Some(b"dir/f".to_vec())));
        let v1 = recs(&[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "7"),
        ]);
        let got = PaxSparse::from_records(&v1).unwrap().unwrap();
        assert_eq!((got.size, got.map), (7, None));
        let v2 = recs(&[("GNU.sparse.major", "2"), ("GNU.sparse.realsize", "7")]);
        assert!(PaxSparse::from_records(&v2)
            .unwrap_err()
            .to_string()
            .contains("2.0 is not supported"));
        let odd = recs(&[("GNU.sparse.size", "9"), ("GNU.sparse.map", "0,5,7")]);
        assert!(PaxSparse::from_records(&odd).is_err());
        let nan = recs(&[("GNU.sparse.size", "x")]);
        assert!(PaxSparse::from_records(&nan).is_err());
    }

    #[test]
    fn a_data_map_is_read_in_whole_blocks() {
        let mut data = b"2\n0\n5\n600\n1\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(b"hello!");
        let mut r = &data[..];
        assert_eq!(read_map(&mut r).unwrap(), (vec![(0, 5), (600, 1)], 512));
        assert_eq!(r, b"hello!");
        // A map over several blocks.
        let runs: Vec<Run> = (0..100)
            .map(|i| (i * 10_000_000_000, 1_000_000_000))
            .collect();
        let mut long = b"100\n".to_vec();
        for (off, len) in &runs {
            long.extend_from_slice(format!("{off}\n{len}\n").as_bytes());
        }
        assert!(long.len() > 2048);
        long.resize(long.len().div_ceil(512) * 512, 0);
        let n = long.len() as u64;
        assert_eq!(read_map(&mut &long[..]).unwrap(), (runs, n));
        assert!(read_map(&mut &b"1\n0\n"[..]).is_err());
        let mut junk = b"1\n0\nx\n".to_vec();
        junk.resize(512, 0);
        assert!(read_map(&mut &junk[..]).is_err());
        let mut huge = format!("{}\n", MAX_SPARSE_SEGMENTS + 1).into_bytes();
        huge.resize(512, 0);
        assert!(read_map(&mut &huge[..])
            .unwrap_err()
            .to_string()
            .contains("segments"));
    }

    #[test]
    fn maps_are_checked() {
        check_map(&[(0, 5), (50, 10)], 100, 15).unwrap();
        check_map(&[(0, 5), (100, 0)], 100, 5).unwrap();
        assert!(check_map(&[(0, 5), (96, 10)], 100, 15).is_err());
        assert!(check_map(&[(50, 5), (0, 10)], 100, 15).is_err());
        assert!(check_map(&[(0, 5), (3, 10)], 100, 15).is_err());
        assert!(check_map(&[(0, 5)], 100, 6).is_err());
        assert!(check_map(&[(u64::MAX, 5)], u64::MAX, 5).is_err());
    }
}
