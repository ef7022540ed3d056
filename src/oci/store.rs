//! The state of the containers under `--root`: a folder per container (`ROOT/ID/`) holding
//! `state.json`, written atomically, so a crash of any invocation leaves either the old record
//! or the new one. Not fsynced: it describes processes and cgroups, which do not outlive the
//! machine (runc and crun keep theirs on `/run`, a tmpfs, as our default `--root` is), and a
//! crashed invocation's writes are in the page cache for the next one. What the record cannot know (whether the process still runs) is read from
//! the kernel each time: the process is the one recorded only while its start time matches.

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};

use crate::cgroup::{Cgroup, CgroupPath};
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil::{self, FileLock};
pub use crate::proc::alive;

/// The runtime-spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";

/// A container's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The container's first process; 0 while it is being created.
    pub pid: i32,
    /// That process's start time (clock ticks since boot), so a reused pid is not taken for it.
    pub pid_start: u64,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The spec's hooks as of `create` (what `start` and `delete` run of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
    /// The spec's `linux.cgroupsPath` (none: the cgroup is `docker-runtime/oci-ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroups_path: Option<String>,
}

impl Record {
    /// Where the container's cgroup is.
    pub fn cgroup_path(&self) -> CgroupPath {
        self.cgroups_path
            .as_deref()
            .and_then(|p| CgroupPath::from_oci(p).ok())
            .unwrap_or_else(|| CgroupPath::named(&cgroup_name(&self.id)))
    }

    /// The container's cgroup, when it has one.
    pub fn cgroup(&self) -> Option<Cgroup> {
        Cgroup::find(&self.cgroup_path())
    }
}

/// Where a container is in its life, as the runtime spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The name the engine gives container `id`'s cgroup (apart from `docker run`'s).
pub fn cgroup_name(id: &str) -> String {
    format!("oci-{id}")
}

/// The state folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A container id as runc accepts them: letters, digits, `_+-.`, not `.` or `..`, at most 1024
/// bytes (it names a folder).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid container id {id:?}: use letters, digits and _+-. only"
        )))
    }
}

fn does_not_exist(id: &str) -> Error {
    Error::not_found(format!("container \"{id}\" does not exist"))
}

impl Store {
    /// The state folder `root`, made (0700) when missing.
    pub fn open(root: &Path) -> Result<Store> {
        fsutil::ensure_dir(root, 0o700)?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Make the folder of a new container `id`; refused when the id is taken.
    pub fn reserve(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::exists(format!(
                "container with id \"{id}\" already exists"
            ))),
            Err(e) => Err(Error::io_path("creating", &dir, e)),
        }
    }

    /// Serializes changes of container `id` between invocations.
    pub fn lock(&self, id: &str) -> Result<FileLock> {
        validate_id(id)?;
        let dir = self.dir(id);
        if !dir.is_dir() {
            return Err(does_not_exist(id));
        }
        FileLock::acquire(&dir.join(".lock"))
    }

    pub fn load(&self, id: &str) -> Result<Record> {
        validate_id(id)?;
        match fsutil::read_json_opt(&self.dir(id).join("state.json")) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(does_not_exist(id)),
            Err(e) if e.kind() == ErrorKind::Corrupt => Err(e.context(format_args!(
                "the state of container \"{id}\" (delete it with --force)"
            ))),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, rec: &Record) -> Result<()> {
        fsutil::write_json_unsynced(&self.dir(&rec.id).join("state.json"), rec, 0o600)
    }

    /// Remove container `id`'s folder.
    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io_path("removing", &dir, e))
    }

    /// Every container with a record, by id.
    pub fn list(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let entries =
            std::fs::read_dir(&self.root).map_err(|e| Error::io_path("reading", &self.root, e))?;
        for e in entries.flatten() {
            let Some(id) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if validate_id(&id).is_err() {
                continue;
            }
            // A folder without a record is a create in progress or one that died early.
            if let Ok(r) = self.load(&id) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Where `start` opens the gate a created container waits at.
    pub fn exec_fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join("exec.fifo")
    }

    /// The container's status, read from the kernel: stopped once its process is gone (or a
    /// zombie), paused while its cgroup is frozen, created while the gate is still closed.
    pub fn status(&self, rec: &Record) -> Status {
        if rec.pid <= 0 {
            return Status::Creating;
        }
        if !alive(rec.pid, rec.pid_start) {
            return Status::Stopped;
        }
        if rec.cgroup().is_some_and(|c| c.is_frozen()) {
            Status::Paused
        } else if self.exec_fifo(&rec.id).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The state as `runc state` prints it.
    pub fn state_json(&self, rec: &Record) -> serde_json::Value {
        state_as(rec, self.status(rec))
    }
}

/// The state of `rec` with `status` (what a hook reads: the status at its point of the
/// lifecycle).
pub fn state_as(rec: &Record, status: Status) -> serde_json::Value {
    let pid = if status == Status::Stopped {
        0
    } else {
        rec.pid
    };
    serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": rec.id,
            "pid": pid,
            "status": status.name(),
            "bundle": rec.bundle,
            "rootfs": rec.rootfs,
            "created": rec.created.to_rfc3339_opts(SecondsFormat::Nanos, true),
            "owner": "",
        "annotations": rec.annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store(tag: &str) -> (PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!("dr-oci-store-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).unwrap();
        (dir, s)
    }

    fn record(id: &str, pid: i32, pid_start: u64) -> Record {
        Record {
            id: id.into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            pid,
            pid_start,
            created: Utc::now(),
            annotations: BTreeMap::new(),
            hooks: None,
            cgroups_path: None,
        }
    }

    #[test]
    fn records_and_statuses() {
        let (dir, s) = temp_store("rec");
        s.reserve("c1").unwrap();
        assert!(s
            .reserve("c1")
            .unwrap_err()
            .to_string()
            .contains("already exists"));
        assert!(s.reserve("../x").is_err() && s.reserve("..").is_err());
        assert_eq!(s.status(&record("c1", 0, 0)), Status::Creating);
        let me = std::process::id() as i32;
        let start = crate::proc::process_start_time(me).unwrap();
        let r = record("c1", me, start);
        s.save(&r).unwrap();
        assert_eq!(s.load("c1").unwrap(), r);
        assert_eq!(s.status(&r), Status::Running);
        std::fs::write(s.exec_fifo("c1"), b"").unwrap();
        assert_eq!(s.status(&r), Status::Created);
        // Another process with that pid is not this container's.
        assert_eq!(s.status(&record("c1", me, start + 1)), Status::Stopped);
        let st = s.state_json(&record("c1", me, start + 1));
        assert_eq!(
            (st["status"].as_str(), st["pid"].as_i64()),
            (Some("stopped"), Some(0))
        );
        assert_eq!(s.list().unwrap(), vec![r]);
        assert!(s
            .load("nope")
            .unwrap_err()
            .to_string()
            .contains("container \"nope\" does not exist"));
        std::fs::write(s.dir("c1").join("state.json"), b"{half").unwrap();
        let e = s.load("c1").unwrap_err();
        assert!(e.to_string().contains("delete it with --force"), "{e}");
        s.remove("c1").unwrap();
        assert!(s.list().unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
