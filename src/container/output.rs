//! A run's output streamed on a thread of its own into the caller's sinks (descriptors or a
//! callback), from log offsets taken before the start so that nothing is lost, and the
//! caller's stdin fed to the container: what an embedding program attaches with.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::event::{poll_in, Event};
use super::lifecycle::Container;
use super::stream;
use crate::error::{Error, Result};

/// Where one of the container's streams goes. A write error ends the whole stream (a
/// callback asking to stop is one).
pub type Sink = Box<dyn Write + Send>;

/// What to attach to a run.
#[derive(Default)]
pub struct Attach {
    /// Read until its end, then the container's stdin is closed.
    pub stdin: Option<File>,
    pub stdout: Option<Sink>,
    pub stderr: Option<Sink>,
}

/// One run's output on its way to the caller. Dropping it ends the stream and waits for the
/// thread: no sink is written to after the drop returns.
pub struct OutputStream {
    cancel: Arc<Event>,
    finished: Arc<Event>,
    outcome: Arc<Mutex<Option<Result<()>>>>,
    thread: Option<JoinHandle<()>>,
}

impl OutputStream {
    /// Follow the logs of `c` from `offsets` (stdout, stderr) into `attach`'s sinks until
    /// `done` (the run's end) is signalled and everything before it is delivered, a sink
    /// fails, or the stream is ended; feed `attach.stdin` to the container meanwhile.
    pub fn start(
        c: &Arc<Container>,
        offsets: (u64, u64),
        attach: Attach,
        done: Arc<Event>,
    ) -> Result<OutputStream> {
        let mut readers = Vec::new();
        let mut sinks = Vec::new();
        let logs = [
            (c.stdout_log(), offsets.0, attach.stdout),
            (c.stderr_log(), offsets.1, attach.stderr),
        ];
        for (path, offset, sink) in logs {
            if let Some(sink) = sink {
                readers.extend(stream::open_follow(&path, Some(offset))?);
                sinks.push(sink);
            }
        }
        let cancel = Arc::new(Event::new()?);
        let finished = Arc::new(Event::new()?);
        if let Some(stdin) = attach.stdin {
            let (c2, d2, k2) = (c.clone(), done.clone(), cancel.clone());
            // Not joined: it holds no sink, and ends once the container's stdin or ours does.
            std::thread::Builder::new()
                .name("docker-stdin".into())
                .spawn(move || stream::feed_stdin(&c2, stdin, &[&d2, &k2], true))
                .map_err(|e| Error::io("starting the stdin thread", e))?;
        }
        let outcome = Arc::new(Mutex::new(None));
        let (k2, f2, o2) = (cancel.clone(), finished.clone(), outcome.clone());
        let thread = std::thread::Builder::new()
            .name("docker-output".into())
            .spawn(move || {
                let mut clients: Vec<&mut dyn Write> = sinks
                    .iter_mut()
                    .map(|s| &mut **s as &mut dyn Write)
                    .collect();
                let r = stream::follow(&mut readers, &mut clients, &done, Some(&k2));
                *o2.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                f2.signal();
            })
            .map_err(|e| Error::io("starting the output thread", e))?;
        Ok(OutputStream {
            cancel,
            finished,
            outcome,
            thread: Some(thread),
        })
    }

    /// The event signalled once the stream has delivered everything (or stopped).
    pub fn finished(&self) -> Arc<Event> {
        self.finished.clone()
    }

    /// Wait up to `timeout` (None: forever) for the stream to finish; true when it has.
    pub fn wait_finished(finished: &Event, timeout: Option<Duration>) -> Result<bool> {
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        Ok(poll_in(&[std::os::fd::AsFd::as_fd(finished)], ms)?[0])
    }

    /// End the stream (at once, when it has not finished) and return how it went: an error
    /// when a sink failed.
    pub fn end(mut self) -> Result<()> {
        self.stop();
        self.outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or(Ok(()))
    }

    fn stop(&mut self) {
        self.cancel.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for OutputStream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The log offsets to stream a run of `c` from: taken before its start.
pub fn offsets(c: &Container) -> (u64, u64) {
    (
        stream::log_len(&c.stdout_log()),
        stream::log_len(&c.stderr_log()),
    )
}
