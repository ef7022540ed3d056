//! When a container's output was written: a side index next to each log, so that `logs -t`
//! can stamp every line while the logs themselves stay v0.1.0's raw per-stream files.
//!
//! `ID-stdout.log.times` (and `ID-stderr.log.times`) hold one text line per entry,
//! `END UNIX_NANOS`: the log's bytes before offset `END` (and after the previous entry's) had
//! been written at time `UNIX_NANOS`. The monitor appends an entry when it sees a log grow
//! (inotify, `IN_MODIFY`), at most one per stream per millisecond (a chatty program's writes
//! within the millisecond share the entry written when it ends), so a stamp is at most about a
//! millisecond late and the index at most ~30 bytes per stream per millisecond. Bytes written
//! while no runtime watched the container (between a process exit and the next restore) are
//! stamped with the log's modification time when watching resumes; bytes no entry covers
//! (a v0.1.0 log, or output not yet noted) take the log's modification time. A line's stamp is
//! the time its last byte (its newline) was written.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// The index of `log`.
pub fn index_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".times");
    PathBuf::from(p)
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(0)
}

fn mtime(path: &Path) -> DateTime<Utc> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now())
}

fn parse_entries(text: &str) -> impl Iterator<Item = (u64, i64)> + '_ {
    text.lines().filter_map(|l| {
        let (end, t) = l.split_once(' ')?;
        Some((end.parse().ok()?, t.parse().ok()?))
    })
}

/// One log the monitor notes the growth of.
#[derive(Debug)]
pub struct Tracked {
    log: PathBuf,
    index: File,
    /// Where the last entry ended.
    end: u64,
    last: DateTime<Utc>,
    /// Growth seen within the millisecond of the last entry, not yet written.
    pub pending: bool,
}

impl Tracked {
    /// Start noting `log`'s growth: what it holds beyond the index's last entry (written
    /// while nothing watched) is stamped with its modification time.
    pub fn open(log: &Path) -> Result<Tracked> {
        let path = index_path(log);
        let mut index = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| Error::io_path("opening", &path, e))?;
        let mut text = String::new();
        index
            .read_to_string(&mut text)
            .map_err(|e| Error::io_path("reading", &path, e))?;
        let end = parse_entries(&text).map(|(e, _)| e).max().unwrap_or(0);
        let mut t = Tracked {
            log: log.to_path_buf(),
            index,
            end,
            last: DateTime::<Utc>::MIN_UTC,
            pending: false,
        };
        t.record(mtime(log));
        // The limit is on the entries of live output: the next growth gets its own.
        t.last = DateTime::<Utc>::MIN_UTC;
        Ok(t)
    }

    /// Append an entry for what the log holds now, when it grew.
    pub fn record(&mut self, at: DateTime<Utc>) {
        let len = super::stream::log_len(&self.log);
        if len > self.end {
            // One small append: entries never interleave with another writer's.
            let _ = self
                .index
                .write_all(format!("{len} {}\n", nanos(at)).as_bytes());
            self.end = len;
            self.last = at;
        }
        self.pending = false;
    }

    /// The log changed at `now`: an entry, unless one was written within the millisecond
    /// (then [`Self::flush`] writes it once the millisecond is over).
    pub fn note(&mut self, now: DateTime<Utc>) {
        self.pending = true;
        self.flush(now);
    }

    /// Whether this notes `log`.
    pub fn is_of(&self, log: &Path) -> bool {
        self.log == log
    }

    /// Write the entry a [`Self::note`] put off, once its millisecond is over.
    pub fn flush(&mut self, now: DateTime<Utc>) {
        if self.pending && now - self.last >= chrono::Duration::milliseconds(1) {
            self.record(now);
        }
    }
}

/// The index of one log, read as far as needed.
#[derive(Debug)]
pub struct Times {
    log: PathBuf,
    /// (end, unix nanos), sorted by end.
    entries: Vec<(u64, i64)>,
    /// Bytes of the index read so far.
    read: u64,
}

impl Times {
    pub fn new(log: &Path) -> Times {
        Times {
            log: log.to_path_buf(),
            entries: Vec::new(),
            read: 0,
        }
    }

    /// Read the entries appended since the last look (whole lines only).
    fn refresh(&mut self) {
        let Ok(mut f) = File::open(index_path(&self.log)) else {
            return;
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.read)).is_err() || f.read_to_end(&mut buf).is_err() {
            return;
        }
        let whole = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.read += whole as u64;
        let text = String::from_utf8_lossy(&buf[..whole]);
        self.entries.extend(parse_entries(&text));
        self.entries.sort_unstable();
    }

    /// When the byte before offset `end` was written.
    pub fn at(&mut self, end: u64) -> DateTime<Utc> {
        let find = |entries: &[(u64, i64)]| {
            let i = entries.partition_point(|(e, _)| *e < end);
            entries
                .get(i)
                .map(|(_, t)| DateTime::from_timestamp_nanos(*t))
        };
        if let Some(t) = find(&self.entries) {
            return t;
        }
        self.refresh();
        find(&self.entries).unwrap_or_else(|| mtime(&self.log))
    }
}

/// docker's `logs -t` stamp: RFC 3339 with nine fractional digits, in UTC.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// The length of `log` and where its last `n` lines start, the newest first (a last line
/// without a newline counts; a missing log is empty).
fn last_line_starts(log: &Path, n: usize) -> Result<(u64, Vec<u64>)> {
    let mut f = match File::open(log) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, Vec::new())),
        Err(e) => return Err(Error::io_path("opening log", log, e)),
    };
    let len = f
        .metadata()
        .map_err(|e| Error::io_path("reading", log, e))?
        .len();
    let mut starts = Vec::new();
    if n == 0 || len == 0 {
        return Ok((len, starts));
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = len;
    while pos > 0 {
        let step = (buf.len() as u64).min(pos);
        pos -= step;
        let chunk = &mut buf[..step as usize];
        f.seek(SeekFrom::Start(pos))
            .and_then(|_| f.read_exact(chunk))
            .map_err(|e| Error::io_path("reading", log, e))?;
        for i in (0..chunk.len()).rev() {
            // The log's final newline ends its last line: it starts none.
            let at = pos + i as u64;
            if chunk[i] == b'\n' && at != len - 1 {
                starts.push(at + 1);
                if starts.len() == n {
                    return Ok((len, starts));
                }
            }
        }
    }
    starts.push(0);
    Ok((len, starts))
}

/// Where each of a container's two logs (stdout's, stderr's) starts for its part of the
/// last `n` lines of the two together, in the order they were written (each line's time
/// from the logs' indexes, the newer taken first; stdout's on a tie), as docker counts
/// `logs --tail`: `n` lines of the whole log, not `n` per stream.
pub fn tail_offsets(logs: [&Path; 2], n: usize) -> Result<[u64; 2]> {
    let lines = [last_line_starts(logs[0], n)?, last_line_starts(logs[1], n)?];
    let mut times = [Times::new(logs[0]), Times::new(logs[1])];
    // Where each log's part starts: its length while none of its lines is taken.
    let mut starts = [lines[0].0, lines[1].0];
    let mut taken = [0usize; 2];
    // The time of each log's newest line not taken yet.
    let mut next: [Option<DateTime<Utc>>; 2] = [None, None];
    for _ in 0..n {
        for i in 0..2 {
            if next[i].is_none() && taken[i] < lines[i].1.len() {
                next[i] = Some(times[i].at(starts[i]));
            }
        }
        let pick = match next {
            [None, None] => break,
            [Some(a), Some(b)] if a < b => 1,
            [Some(_), _] => 0,
            [None, Some(_)] => 1,
        };
        starts[pick] = lines[pick].1[taken[pick]];
        taken[pick] += 1;
        next[pick] = None;
    }
    Ok(starts)
}

/// A client's stream of one log from offset `offset`: raw, or with each line stamped
/// (`stamps`: the log's index). A last line without its newline is held until it comes, or
/// until [`Self::finish`].
pub struct LogWriter<'a> {
    out: &'a mut dyn Write,
    stamps: Option<Times>,
    offset: u64,
    partial: Vec<u8>,
}

impl<'a> LogWriter<'a> {
    pub fn new(out: &'a mut dyn Write, log: &Path, offset: u64, timestamps: bool) -> Self {
        LogWriter {
            out,
            stamps: timestamps.then(|| Times::new(log)),
            offset,
            partial: Vec::new(),
        }
    }

    fn line(&mut self, end: u64, line: &[u8]) -> std::io::Result<()> {
        let Some(times) = self.stamps.as_mut() else {
            return self.out.write_all(line);
        };
        let mut stamped = stamp(times.at(end)).into_bytes();
        stamped.push(b' ');
        stamped.extend_from_slice(line);
        self.out.write_all(&stamped)
    }

    /// Write out a last line still held (stamped with its last byte's time).
    pub fn finish(&mut self) -> std::io::Result<()> {
        if self.partial.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.partial);
        self.line(self.offset, &line)
    }
}

impl Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stamps.is_none() {
            self.out.write_all(buf)?;
            self.offset += buf.len() as u64;
            return Ok(buf.len());
        }
        let start = self.offset - self.partial.len() as u64;
        self.partial.extend_from_slice(buf);
        self.offset += buf.len() as u64;
        let mut done = 0;
        let held = std::mem::take(&mut self.partial);
        while let Some(nl) = held[done..].iter().position(|b| *b == b'\n') {
            let end = done + nl + 1;
            self.line(start + end as u64, &held[done..end])?;
            done = end;
        }
        self.partial = held[done..].to_vec();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("logtimes-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// The last `n` lines of one log alone (the other empty).
    fn tail_of(log: &Path, n: usize) -> u64 {
        tail_offsets([log, &log.with_extension("none")], n).unwrap()[0]
    }

    #[test]
    fn tail_offsets_of_one_log() {
        let dir = temp("tail");
        let log = dir.join("x.log");
        std::fs::write(&log, "a\nbb\nccc\n").unwrap();
        assert_eq!(tail_of(&log, 0), 9);
        assert_eq!(tail_of(&log, 1), 5);
        assert_eq!(tail_of(&log, 2), 2);
        assert_eq!(tail_of(&log, 3), 0);
        assert_eq!(tail_of(&log, 9), 0);
        std::fs::write(&log, "a\nbb\nccc").unwrap();
        assert_eq!(tail_of(&log, 1), 5);
        assert_eq!(tail_of(&log, 2), 2);
        std::fs::write(&log, "\n\n").unwrap();
        assert_eq!(tail_of(&log, 1), 1);
        assert_eq!(tail_of(&log, 2), 0);
        assert_eq!(tail_of(&dir.join("missing"), 2), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tail_counts_the_lines_of_both_logs_in_time_order() {
        let dir = temp("tail2");
        let (out, err) = (dir.join("out.log"), dir.join("err.log"));
        // Written as: o1 (t1), e1 (t2), o2 (t3), e2 (t4), e3 (t4, one entry), o3 (t5).
        std::fs::write(&out, "o1\no2\no3\n").unwrap();
        std::fs::write(&err, "e1\ne2\ne3\n").unwrap();
        std::fs::write(index_path(&out), "3 100\n6 300\n9 500\n").unwrap();
        std::fs::write(index_path(&err), "3 200\n9 400\n").unwrap();
        let tail = |n| tail_offsets([&out, &err], n).unwrap();
        assert_eq!(tail(0), [9, 9]);
        assert_eq!(tail(1), [6, 9]);
        // o3, then e3 and e2 (written together, at 400).
        assert_eq!(tail(2), [6, 6]);
        assert_eq!(tail(3), [6, 3]);
        assert_eq!(tail(4), [3, 3]);
        assert_eq!(tail(5), [3, 0]);
        assert_eq!(tail(6), [0, 0]);
        assert_eq!(tail(60), [0, 0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_take_the_time_of_the_entry_holding_their_newline() {
        let dir = temp("stamp");
        let log = dir.join("x.log");
        std::fs::write(&log, "one\ntwo\nthr").unwrap();
        let t1 = DateTime::from_timestamp_nanos(1_000_000_000_123_456_789);
        let t2 = DateTime::from_timestamp_nanos(1_000_000_005_000_000_000);
        std::fs::write(
            index_path(&log),
            format!("5 {}\n12 {}\n", nanos(t1), nanos(t2)),
        )
        .unwrap();
        let mut out = Vec::new();
        let mut w = LogWriter::new(&mut out, &log, 0, true);
        w.write_all(b"one\ntw").unwrap();
        w.write_all(b"o\nthr").unwrap();
        w.finish().unwrap();
        drop(w);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2001-09-09T01:46:40.123456789Z one\n\
             2001-09-09T01:46:45.000000000Z two\n\
             2001-09-09T01:46:45.000000000Z thr"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tracking_notes_growth_once_per_millisecond() {
        let dir = temp("track");
        let log = dir.join("x.log");
        std::fs::write(&log, "old\n").unwrap();
        let mut t = Tracked::open(&log).unwrap();
        let now = Utc::now();
        std::fs::write(&log, "old\nnew\n").unwrap();
        t.note(now);
        std::fs::write(&log, "old\nnew\nmore\n").unwrap();
        t.note(now + chrono::Duration::microseconds(100));
        assert!(t.pending);
        t.flush(now + chrono::Duration::milliseconds(2));
        let text = std::fs::read_to_string(index_path(&log)).unwrap();
        let ends: Vec<u64> = parse_entries(&text).map(|(e, _)| e).collect();
        assert_eq!(ends, [4, 8, 13]);
        // Reopened (a restart): nothing new, nothing added.
        drop(t);
        Tracked::open(&log).unwrap();
        assert_eq!(std::fs::read_to_string(index_path(&log)).unwrap(), text);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
