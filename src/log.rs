//! Logging of a runtime: to a callback the host registered, or to stderr. Never a global
//! logger: two runtimes in one process log independently, and a host's own logger is untouched.

use std::fmt;
use std::sync::Arc;

/// Severity, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
        })
    }
}

type Sink = dyn Fn(Level, &str) + Send + Sync;

/// Where a runtime's log lines go, and from which level on.
#[derive(Clone)]
pub struct Logger {
    sink: Option<Arc<Sink>>,
    max: Level,
}

impl Logger {
    /// Log to stderr, up to `max` (Info by default, Debug with `-D`).
    pub fn stderr(max: Level) -> Self {
        Logger { sink: None, max }
    }

    /// Log through `sink`, up to `max`.
    pub fn with_sink(max: Level, sink: impl Fn(Level, &str) + Send + Sync + 'static) -> Self {
        Logger {
            sink: Some(Arc::new(sink)),
            max,
        }
    }

    pub fn enabled(&self, level: Level) -> bool {
        level <= self.max
    }

    pub fn log(&self, level: Level, msg: &str) {
        if !self.enabled(level) {
            return;
        }
        match &self.sink {
            Some(s) => s(level, msg),
            None => eprintln!("docker-runtime: {level}: {msg}"),
        }
    }

    pub fn error(&self, msg: &str) {
        self.log(Level::Error, msg)
    }

    pub fn warn(&self, msg: &str) {
        self.log(Level::Warn, msg)
    }

    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg)
    }

    pub fn debug(&self, msg: &str) {
        self.log(Level::Debug, msg)
    }
}

impl Default for Logger {
    fn default() -> Self {
        Logger::stderr(Level::Info)
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("callback", &self.sink.is_some())
            .field("max", &self.max)
            .finish()
    }
}
