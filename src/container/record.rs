//! The container record, `containers/ID/config.json` (v0.1.0 `container.go`, `state.go`),
//! with v0.1.0's JSON field names.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::ids;
pub use crate::network::NetworkSettings;
pub use crate::volume::MountPoint;

/// The file holding a container's record in its folder.
pub const CONFIG_FILE: &str = "config.json";

thread_local! {
    /// Set while this thread writes a record to its file, which never holds the paused state
    /// (the kernel's, shown by `inspect`): the file keeps v0.1.0's format.
    static SAVING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn saving(_: &bool) -> bool {
    SAVING.with(|s| s.get())
}

fn saving_none(mounts: &[MountPoint]) -> bool {
    mounts.is_empty() && SAVING.with(|s| s.get())
}

/// Whether the container runs, and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct State {
    pub running: bool,
    /// Whether the container is frozen (`pause`, or a `commit` under way). Never read from
    /// a file (a loaded record says false): [`crate::container::Container::inspect`] asks
    /// the kernel.
    #[serde(skip_deserializing, skip_serializing_if = "saving")]
    pub paused: bool,
    /// Host pid of the container's first process.
    pub pid: i32,
    pub exit_code: i32,
    pub started_at: Option<DateTime<Utc>>,
    /// The helper process that waits for the container (host pid) and its start time (clock
    /// ticks since boot), so that a restarted runtime finds it again and never mistakes a
    /// recycled pid for it.
    #[serde(skip_serializing_if = "is_zero")]
    pub monitor_pid: i32,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub monitor_start_time: u64,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

impl State {
    /// Record that the container has stopped with `exit_code`.
    pub fn set_stopped(&mut self, exit_code: i32) {
        self.running = false;
        self.paused = false;
        self.pid = 0;
        self.exit_code = exit_code;
        self.monitor_pid = 0;
        self.monitor_start_time = 0;
    }

    /// `Up 5 minutes`, `Up 5 minutes (Paused)` or `Exit 3`, as `ps` shows it.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        if self.running {
            let since = self.started_at.unwrap_or(now);
            let up = format!("Up {}", crate::humanize::duration(now - since));
            if self.paused {
                format!("{up} (Paused)")
            } else {
                up
            }
        } else {
            format!("Exit {}", self.exit_code)
        }
    }
}

/// `containers/ID/config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerRecord {
    pub id: String,
    /// `/NAME` (docker's `Name`). Not in v0.1.0's records: one loaded without it is given a
    /// generated name when the runtime registers it (and the record is saved with it).
    #[serde(default)]
    pub name: String,
    pub created: DateTime<Utc>,
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub config: Config,
    #[serde(default)]
    pub state: State,
    /// The resolved image id.
    pub image: String,
    #[serde(default)]
    pub network_settings: NetworkSettings,
    #[serde(default)]
    pub sys_init_path: String,
    /// The `-v` mounts (docker's `Mounts`, `[]` in `inspect` without any); absent from the
    /// file of a record without any, which so keeps v0.1.0's format.
    #[serde(default, skip_serializing_if = "saving_none")]
    pub mounts: Vec<MountPoint>,
}

impl ContainerRecord {
    /// Load `dir/config.json`, checking that its id is valid and equals the folder's name and
    /// that its image id is valid.
    pub fn load(dir: &Path) -> Result<ContainerRecord> {
        let path = dir.join(CONFIG_FILE);
        let rec: ContainerRecord = fsutil::read_json(&path)?;
        let folder = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if rec.id.is_empty() {
            return Err(Error::corrupt(format!(
                "{}: empty container id",
                path.display()
            )));
        }
        ids::validate("container", &rec.id)
            .map_err(|e| Error::corrupt(format!("{}: {e}", path.display())))?;
        if rec.id != folder {
            return Err(Error::corrupt(format!(
                "{}: id {} does not match its folder {folder}",
                path.display(),
                rec.id
            )));
        }
        ids::validate("image", &rec.image)
            .map_err(|e| Error::corrupt(format!("{}: {e}", path.display())))?;
        Ok(rec)
    }

    /// Write `dir/config.json` atomically (mode 0600).
    pub fn save(&self, dir: &Path) -> Result<()> {
        SAVING.with(|s| s.set(true));
        let r = fsutil::write_json_atomic(&dir.join(CONFIG_FILE), self, 0o600);
        SAVING.with(|s| s.set(false));
        r
    }
}
