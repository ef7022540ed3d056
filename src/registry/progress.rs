//! Per-layer progress of pull and push: on a terminal, one line per layer redrawn in place
//! (`3f2a9c1b04de: Downloading [=====>     ] 12.3 MB/45.6 MB`); otherwise plain lines, one
//! when a layer starts and one when it ends (a daemon's client never has a terminal).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// How often a terminal line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);

/// `12.3 MB`, as docker prints sizes (powers of 1000).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

struct Bar {
    id: String,
    action: String,
    total: Option<u64>,
    done: u64,
    drawn: Option<Instant>,
}

/// The progress display of one pull or push.
pub struct Progress<'a> {
    out: &'a mut dyn Write,
    tty: bool,
    width: usize,
    bar: Option<Bar>,
}

impl<'a> Progress<'a> {
    /// `tty`: draw bars (the output is a terminal `width` columns wide).
    pub fn new(out: &'a mut dyn Write, tty: bool, width: usize) -> Progress<'a> {
        Progress {
            out,
            tty,
            width: width.max(40),
            bar: None,
        }
    }

    // Progress is best effort: a client that went away must not fail the transfer, so write
    // errors are ignored here (the command's result still reaches the caller).
    fn write(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
    }

    /// A line of its own.
    pub fn line(&mut self, s: &str) {
        self.write(&format!("{s}\n"));
    }

    /// A layer starts: `id: action (size)`.
    pub fn start(&mut self, id: &str, action: &str, total: Option<u64>) {
        self.bar = Some(Bar {
            id: id.to_string(),
            action: action.to_string(),
            total,
            done: 0,
            drawn: None,
        });
        if self.tty {
            self.draw();
        } else {
            let size = total.map(|t| format!(" ({})", human_size(t))).unwrap_or_default();
            self.line(&format!("{id}: {action}{size}"));
        }
    }

    /// `n` more bytes of the current layer.
    pub fn advance(&mut self, n: u64) {
        let Some(bar) = &mut self.bar else { return };
        bar.done += n;
        if self.tty && bar.drawn.is_none_or(|t| t.elapsed() >= REDRAW) {
            self.draw();
        }
    }

    fn draw(&mut self) {
        let Some(bar) = &mut self.bar else { return };
        bar.drawn = Some(Instant::now());
        let sizes = match bar.total {
            Some(t) => format!("{}/{}", human_size(bar.done), human_size(t)),
            None => human_size(bar.done),
        };
        let head = format!("{}: {} ", bar.id, bar.action);
        let room = self
            .width
            .saturating_sub(head.len() + sizes.len() + 4)
            .min(50);
        let graph = match bar.total {
            Some(t) if t > 0 && room >= 10 => {
                let filled = ((bar.done.min(t) as f64 / t as f64) * room as f64) as usize;
                let mut g = "=".repeat(filled);
                if filled < room {
                    g.push('>');
                    g.push_str(&" ".repeat(room - filled - 1));
                }
                format!("[{g}] ")
            }
            _ => String::new(),
        };
        let text = format!("\r\x1b[K{head}{graph}{sizes}");
        self.write(&text);
    }

    /// The current layer ends: `id: message`.
    pub fn done(&mut self, message: &str) {
        let Some(bar) = self.bar.take() else { return };
        if self.tty {
            self.write(&format!("\r\x1b[K{}: {message}\n", bar.id));
        } else {
            self.line(&format!("{}: {message}", bar.id));
        }
    }

    /// The current layer failed: end its terminal line so the error starts on a new one.
    pub fn abandon(&mut self) {
        if self.bar.take().is_some() && self.tty {
            self.write("\n");
        }
    }
}

/// A reader that reports the bytes read through it to a [`Progress`].
pub struct ProgressReader<'p, 'a, R> {
    inner: R,
    progress: &'p mut Progress<'a>,
}

impl<'p, 'a, R: Read> ProgressReader<'p, 'a, R> {
    pub fn new(inner: R, progress: &'p mut Progress<'a>) -> Self {
        ProgressReader { inner, progress }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for ProgressReader<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1500), "1.5 kB");
        assert_eq!(human_size(12_345_678), "12.3 MB");
    }

    #[test]
    fn plain_and_terminal_output() {
        let mut out = Vec::new();
        {
            let mut p = Progress::new(&mut out, false, 80);
            p.start("abc", "Downloading", Some(2000));
            p.advance(1000);
            p.done("Pull complete");
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "abc: Downloading (2.0 kB)\nabc: Pull complete\n"
        );
        let mut out = Vec::new();
        {
            let mut p = Progress::new(&mut out, true, 80);
            p.start("abc", "Downloading", Some(2000));
            p.advance(1000);
            p.done("Pull complete");
        }
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("abc: Downloading [>"), "{s:?}");
        assert!(s.ends_with("\r\x1b[Kabc: Pull complete\n"), "{s:?}");
    }
}
