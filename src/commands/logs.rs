//! `logs [-f] [--tail N] [-t] CONTAINER`: what the container wrote, each stream to its own
//! (stdout to stdout, stderr to stderr), from the raw logs (see [`crate::container::stream`])
//! and their time index (see [`crate::container::logtimes`]). `--tail N` is docker's: the
//! last N lines of the two streams together, in the order they were written.

use std::os::fd::AsFd;
use std::path::Path;

use super::flags::Flags;
use super::streams::Streams;
use crate::container::logtimes::{tail_offsets, LogWriter};
use crate::container::{stream, Container, Event};
use crate::error::{Error, Result};
use crate::ids;
use crate::runtime::Runtime;

/// `--tail`: `all` (or a negative number, as docker) or a count of lines.
fn parse_tail(v: Option<&str>) -> Result<Option<usize>> {
    match v {
        None | Some("all") => Ok(None),
        Some(s) if s.starts_with('-') && s[1..].parse::<u64>().is_ok() => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            Error::invalid(format!(
                "invalid --tail {s:?}: want a number of lines or all"
            ))
        }),
    }
}

/// A log of `c` opened at `start`, no reader for a log the container never wrote.
fn open_at(c: &Container, log: &Path, start: u64) -> Result<Option<std::fs::File>> {
    match stream::open_reader(log, Some(start))? {
        None if !c.dir().exists() => Err(Error::not_found(format!(
            "container {} was removed",
            ids::short(&c.id)
        ))),
        reader => Ok(reader),
    }
}

pub fn logs(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "logs",
        "[OPTIONS] CONTAINER",
        "Fetch the logs of a container",
    );
    let follow = f.bool(
        &["f", "follow"],
        "Follow log output until the container stops",
    );
    let tail = f.value(
        &["n", "tail"],
        "N",
        "Number of lines to show from the end of the logs, stdout and stderr together (default all)",
    );
    let timestamps = f.bool(
        &["t", "timestamps"],
        "Show timestamps (RFC 3339, nanoseconds)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if p.args.len() != 1 {
        return Err(f.usage_error("1 argument expected: the container"));
    }
    let tail = parse_tail(p.value(tail))?;
    let c = rt.container(&p.args[0])?;
    // Taken before the logs are read: output up to the exit is all in the files then.
    let done = match p.bool(follow).then(|| c.exit_event()).flatten() {
        Some(done) => done,
        None => {
            let now = Event::new()?;
            now.signal();
            std::sync::Arc::new(now)
        }
    };
    let (out_log, err_log) = (c.stdout_log(), c.stderr_log());
    let starts = match tail {
        Some(n) => tail_offsets([&out_log, &err_log], n)?,
        None => [0, 0],
    };
    let readers = [
        open_at(&c, &out_log, starts[0])?,
        open_at(&c, &err_log, starts[1])?,
    ];
    let outputs = [
        io.stdout
            .try_clone()
            .map_err(|e| Error::io("duplicating stdout", e))?,
        io.stderr
            .try_clone()
            .map_err(|e| Error::io("duplicating stderr", e))?,
    ];
    let stamp = p.bool(timestamps);
    let mut writers = [
        LogWriter::new(&mut io.stdout, &out_log, starts[0], stamp),
        LogWriter::new(&mut io.stderr, &err_log, starts[1], stamp),
    ];
    let mut files = Vec::new();
    let mut clients: Vec<&mut dyn std::io::Write> = Vec::new();
    for (r, w) in readers.into_iter().zip(writers.iter_mut()) {
        if let Some(r) = r {
            files.push(r);
            clients.push(w);
        }
    }
    let fds = [outputs[0].as_fd(), outputs[1].as_fd()];
    stream::follow_while_there(&mut files, &mut clients, &done, None, &fds)?;
    drop(clients);
    for w in &mut writers {
        w.finish()
            .map_err(|e| Error::io("writing to the client", e))?;
    }
    if c.is_removed() {
        return Err(Error::not_found(format!(
            "container {} was removed while its logs were followed",
            ids::short(&c.id)
        )));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_values() {
        assert_eq!(parse_tail(None).unwrap(), None);
        assert_eq!(parse_tail(Some("all")).unwrap(), None);
        assert_eq!(parse_tail(Some("-1")).unwrap(), None);
        assert_eq!(parse_tail(Some("3")).unwrap(), Some(3));
        assert_eq!(parse_tail(Some("0")).unwrap(), Some(0));
        for bad in ["x", "", "1.5", "-x"] {
            assert!(parse_tail(Some(bad)).is_err(), "{bad}");
        }
    }
}
