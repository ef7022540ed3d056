//! Per-layer progress of pull and push, shared by the threads that move layers at once.
//!
//! On a terminal, one line per layer (`3f2a9c1b04de: Downloading [=====>     ] 12.3 MB/45.6 MB`)
//! in a block redrawn in place, as docker draws it; otherwise plain lines, one when a layer
//! starts and one when it ends (a daemon's client never has a terminal).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;

/// How often the terminal block is redrawn at most.
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
    /// The final message, once the layer has ended.
    end: Option<String>,
}

/// Where progress goes: text for a person, or one JSON object per report to a function that
/// answers false to cancel.
enum Out<'a> {
    Text(&'a mut (dyn Write + Send)),
    Json(&'a (dyn Fn(&str) -> bool + Sync)),
}

struct State<'a> {
    out: Out<'a>,
    tty: bool,
    width: usize,
    bars: Vec<Bar>,
    /// Lines of the block on screen (the cursor is just below it).
    shown: usize,
    drawn: Option<Instant>,
}

/// A handle on one layer's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarId(usize);

/// The progress display of one pull or push.
pub struct Progress<'a> {
    state: Mutex<State<'a>>,
    /// Set when the JSON receiver answered false: the transfer stops.
    cancelled: AtomicBool,
}

impl State<'_> {
    // Progress is best effort: a client that went away must not fail the transfer, so write
    // errors are ignored here (the command's result still reaches the caller).
    fn write(&mut self, s: &str) {
        if let Out::Text(out) = &mut self.out {
            let _ = out.write_all(s.as_bytes());
            let _ = out.flush();
        }
    }

    fn render(&self, bar: &Bar) -> String {
        let head = format!("{}: ", bar.id);
        if let Some(end) = &bar.end {
            return format!("{head}{end}");
        }
        let sizes = match bar.total {
            Some(t) => format!("{}/{}", human_size(bar.done), human_size(t)),
            None => human_size(bar.done),
        };
        let room = self
            .width
            .saturating_sub(head.len() + bar.action.len() + sizes.len() + 5)
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
        format!("{head}{} {graph}{sizes}", bar.action)
    }

    /// Redraw the whole block on a terminal.
    fn draw(&mut self) {
        let mut text = String::new();
        if self.shown > 0 {
            text.push_str(&format!("\x1b[{}A", self.shown));
        }
        for bar in &self.bars {
            text.push_str("\r\x1b[K");
            text.push_str(&self.render(bar));
            text.push('\n');
        }
        self.shown = self.bars.len();
        self.drawn = Some(Instant::now());
        self.write(&text);
    }
}

impl<'a> Progress<'a> {
    /// `tty`: draw bars (the output is a terminal `width` columns wide).
    pub fn new(out: &'a mut (dyn Write + Send), tty: bool, width: usize) -> Progress<'a> {
        Progress::with(Out::Text(out), tty, width)
    }

    /// Progress as the Engine API reports a pull: one JSON object per report to `f`,
    /// `{"status":"Downloading","id":"3f2a9c1b04de","progressDetail":{"current":N,"total":M}}`
    /// or `{"status":"..."}`; `f` answering false cancels the transfer (and gets no more).
    pub fn json(f: &'a (dyn Fn(&str) -> bool + Sync)) -> Progress<'a> {
        Progress::with(Out::Json(f), false, 80)
    }

    fn with(out: Out<'a>, tty: bool, width: usize) -> Progress<'a> {
        Progress {
            state: Mutex::new(State {
                out,
                tty,
                width: width.max(40),
                bars: Vec::new(),
                shown: 0,
                drawn: None,
            }),
            cancelled: AtomicBool::new(false),
        }
    }

    /// Whether the JSON receiver asked to cancel.
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Report `v` to a JSON receiver (true when there is one: the text forms are skipped).
    fn report(&self, st: &State<'_>, v: serde_json::Value) -> bool {
        let Out::Json(f) = &st.out else {
            return false;
        };
        if !self.cancelled() && !f(&v.to_string()) {
            self.cancelled.store(true, Ordering::SeqCst);
        }
        true
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<'a>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A line of its own, below the layers (which are not redrawn after it).
    pub fn line(&self, s: &str) {
        let mut st = self.state();
        if self.report(&st, serde_json::json!({ "status": s })) {
            return;
        }
        if st.tty && !st.bars.is_empty() {
            st.draw();
        }
        st.bars.clear();
        st.shown = 0;
        st.write(&format!("{s}\n"));
    }

    /// A layer starts: `id: action (size)`.
    pub fn start(&self, id: &str, action: &str, total: Option<u64>) -> BarId {
        let mut st = self.state();
        st.bars.push(Bar {
            id: id.to_string(),
            action: action.to_string(),
            total,
            done: 0,
            end: None,
        });
        let detail = serde_json::json!({"status": action, "id": id,
            "progressDetail": {"current": 0, "total": total}});
        if self.report(&st, detail) {
            return BarId(st.bars.len() - 1);
        }
        if st.tty {
            st.draw();
        } else {
            let size = total
                .map(|t| format!(" ({})", human_size(t)))
                .unwrap_or_default();
            st.write(&format!("{id}: {action}{size}\n"));
        }
        BarId(st.bars.len() - 1)
    }

    /// A layer that needs no work: `id: message`.
    pub fn note(&self, id: &str, message: &str) {
        let bar = self.start_quiet(id);
        self.done(bar, message);
    }

    fn start_quiet(&self, id: &str) -> BarId {
        let mut st = self.state();
        st.bars.push(Bar {
            id: id.to_string(),
            action: String::new(),
            total: None,
            done: 0,
            end: None,
        });
        BarId(st.bars.len() - 1)
    }

    /// `n` more bytes of a layer.
    pub fn advance(&self, bar: BarId, n: u64) {
        let mut st = self.state();
        let Some(b) = st.bars.get_mut(bar.0) else {
            return;
        };
        b.done += n;
        let due = st.drawn.is_none_or(|t| t.elapsed() >= REDRAW);
        if matches!(st.out, Out::Json(_)) {
            if due {
                let b = &st.bars[bar.0];
                let v = serde_json::json!({"status": b.action, "id": b.id,
                    "progressDetail": {"current": b.done, "total": b.total}});
                self.report(&st, v);
                st.drawn = Some(Instant::now());
            }
            return;
        }
        if st.tty && st.drawn.is_none_or(|t| t.elapsed() >= REDRAW) {
            st.draw();
        }
    }

    /// A layer ends: `id: message`.
    pub fn done(&self, bar: BarId, message: &str) {
        let mut st = self.state();
        let Some(b) = st.bars.get_mut(bar.0) else {
            return;
        };
        b.end = Some(message.to_string());
        let line = format!("{}: {message}\n", b.id);
        let v = serde_json::json!({"status": message, "id": b.id});
        if self.report(&st, v) {
            return;
        }
        if st.tty {
            st.draw();
        } else {
            st.write(&line);
        }
    }
}

/// A reader that reports the bytes read through it to a [`Progress`] bar, and stops with an
/// error once `cancel` is set (another layer failed: the transfer is abandoned).
pub struct ProgressReader<'p, 'a, R> {
    inner: R,
    progress: &'p Progress<'a>,
    bar: BarId,
    cancel: &'p AtomicBool,
}

impl<'p, 'a, R: Read> ProgressReader<'p, 'a, R> {
    pub fn new(inner: R, progress: &'p Progress<'a>, bar: BarId, cancel: &'p AtomicBool) -> Self {
        ProgressReader {
            inner,
            progress,
            bar,
            cancel,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for ProgressReader<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other(Error::new(
                crate::error::ErrorKind::Remote,
                "cancelled: another layer failed",
            )));
        }
        if self.progress.cancelled() {
            return Err(io::Error::other(Error::new(
                crate::error::ErrorKind::Remote,
                "cancelled by the progress receiver",
            )));
        }
        let n = self.inner.read(buf)?;
        self.progress.advance(self.bar, n as u64);
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
            let p = Progress::new(&mut out, false, 80);
            let a = p.start("abc", "Downloading", Some(2000));
            p.note("def", "Already exists");
            p.advance(a, 1000);
            p.done(a, "Pull complete");
            p.line("Status: done");
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "abc: Downloading (2.0 kB)\ndef: Already exists\nabc: Pull complete\nStatus: done\n"
        );
        let mut out = Vec::new();
        {
            let p = Progress::new(&mut out, true, 80);
            let a = p.start("abc", "Downloading", Some(2000));
            let b = p.start("def", "Downloading", Some(10));
            p.done(b, "Pull complete");
            p.advance(a, 1000);
            p.done(a, "Pull complete");
            p.line("Status: done");
        }
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("abc: Downloading [>"), "{s:?}");
        // The block of two lines is redrawn from its top.
        assert!(s.contains("\x1b[2A\r\x1b[Kabc: "), "{s:?}");
        assert!(
            s.ends_with("\r\x1b[Kabc: Pull complete\n\r\x1b[Kdef: Pull complete\nStatus: done\n"),
            "{s:?}"
        );
    }
}
