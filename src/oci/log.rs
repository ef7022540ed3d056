//! Errors as runc reports them: on standard error, and appended to the `--log` file as one
//! line each, in logrus' formats: JSON (`{"level":"error","msg":"...","time":"..."}`, what
//! containerd's shim reads back to explain a failure) or text (`time="..." level=error
//! msg="..."`).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use chrono::{SecondsFormat, Utc};

use super::cli::{Globals, LogFormat};

/// Where this invocation reports.
#[derive(Debug, Clone)]
pub struct Log {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

impl Log {
    pub fn new(g: &Globals) -> Log {
        Log {
            file: g.log.clone(),
            format: g.log_format,
            debug: g.debug,
        }
    }

    /// One line in the log's format.
    fn line(&self, level: &str, msg: &str) -> String {
        let time = Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true);
        match self.format {
            LogFormat::Json => {
                let v = serde_json::json!({ "level": level, "msg": msg, "time": time });
                format!("{v}\n")
            }
            LogFormat::Text => {
                let quoted = serde_json::Value::from(msg).to_string();
                format!("time=\"{time}\" level={level} msg={quoted}\n")
            }
        }
    }

    /// Append a line to the log file, if there is one. A log that cannot be written is said on
    /// standard error (the error itself is said there anyway).
    fn append(&self, level: &str, msg: &str) {
        let Some(path) = &self.file else {
            return;
        };
        let written = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(path)
            .and_then(|mut f| f.write_all(self.line(level, msg).as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "docker-runtime-oci: cannot write the log {}: {e}",
                path.display()
            );
        }
    }

    pub fn error(&self, msg: &str) {
        eprintln!("docker-runtime-oci: {msg}");
        self.append("error", msg);
    }

    /// A warning (a poststart or poststop hook that failed): in the log file, or on standard
    /// error when there is none.
    pub fn warn(&self, msg: &str) {
        if self.file.is_some() {
            self.append("warning", msg);
        } else {
            eprintln!("docker-runtime-oci: warning: {msg}");
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.append("debug", msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globals(file: Option<PathBuf>, format: LogFormat) -> Globals {
        Globals {
            root: PathBuf::from("/nonexistent"),
            log: file,
            log_format: format,
            debug: true,
            systemd_cgroup: false,
        }
    }

    #[test]
    fn lines_are_appended_in_either_format() {
        let dir = std::env::temp_dir().join(format!("dr-oci-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.json");
        let log = Log::new(&globals(Some(path.clone()), LogFormat::Json));
        log.error("container \"x\" does not exist");
        log.debug("looked");
        log.warn("a poststop hook failed");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["level"], "error");
        assert_eq!(lines[0]["msg"], "container \"x\" does not exist");
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(lines[1]["level"], "debug");
        assert_eq!(
            (lines[2]["level"].as_str(), lines[2]["msg"].as_str()),
            (Some("warning"), Some("a poststop hook failed"))
        );

        let tpath = dir.join("log.txt");
        let tlog = Log::new(&globals(Some(tpath.clone()), LogFormat::Text));
        tlog.error("a \"quoted\" word");
        let t = std::fs::read_to_string(&tpath).unwrap();
        assert!(t.starts_with("time=\""), "{t}");
        assert!(
            t.ends_with(" level=error msg=\"a \\\"quoted\\\" word\"\n"),
            "{t}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
