//! The container record, `containers/ID/config.json` (v0.1.0 `container.go`, `state.go`),
//! with v0.1.0's JSON field names.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsutil::{self, Durability};
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

fn saving_false(v: &bool) -> bool {
    !*v && SAVING.with(|s| s.get())
}

/// `auto_remove` as docker shows it, `"HostConfig": {"AutoRemove": true}`.
mod host_config {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Default, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", default)]
    struct HostConfig {
        auto_remove: bool,
    }

    pub fn serialize<S: Serializer>(auto_remove: &bool, s: S) -> Result<S::Ok, S::Error> {
        HostConfig {
            auto_remove: *auto_remove,
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        HostConfig::deserialize(d).map(|h| h.auto_remove)
    }
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
    /// `run --rm` (docker's `HostConfig.AutoRemove`): the container is removed when its run
    /// ends, or by the next restore that finds it ended. Absent from the file when false
    /// (v0.1.0's format); `inspect` always shows it.
    #[serde(
        rename = "HostConfig",
        default,
        with = "host_config",
        skip_serializing_if = "saving_false"
    )]
    pub auto_remove: bool,
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

    /// Write `dir/config.json` atomically (mode 0600) and durably.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.write(dir, Durability::Synced)
    }

    /// Write the record of a container being created: durably; for an `auto_remove` one
    /// only its folder is fsynced (the record, and the `autoremove` marker made before it, are
    /// there after a power loss; a record left empty is the marked folder a restore discards,
    /// see [`super::autoremove`]).
    pub fn save_created(&self, dir: &Path) -> Result<()> {
        match self.auto_remove {
            true => self.write(dir, Durability::Listed),
            false => self.save(dir),
        }
    }

    /// How a save of a run's state (its start, its exit) is written: unsynced for an
    /// `auto_remove` container, whose record after its creation only describes a run that
    /// ends with the container's removal (a crash too: the next restore removes it, see
    /// [`super::autoremove`]); durably for every other.
    pub fn run_durability(&self) -> Durability {
        if self.auto_remove {
            Durability::Unsynced
        } else {
            Durability::Synced
        }
    }

    /// Save a run's state (see [`Self::run_durability`]).
    pub fn save_run(&self, dir: &Path) -> Result<()> {
        self.write(dir, self.run_durability())
    }

    fn write(&self, dir: &Path, durability: Durability) -> Result<()> {
        let path = dir.join(CONFIG_FILE);
        SAVING.with(|s| s.set(true));
        let r = fsutil::write_json(&path, self, 0o600, durability);
        SAVING.with(|s| s.set(false));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_remove_is_in_the_file_when_set_and_always_in_inspect() {
        let id = "ab".repeat(32);
        let top = std::env::temp_dir().join(format!("dr-record-{}", std::process::id()));
        let dir = top.join(&id);
        let _ = std::fs::remove_dir_all(&top);
        std::fs::create_dir_all(&dir).unwrap();
        let old = serde_json::json!({
            "Id": id, "Created": "2013-03-23T00:00:00Z", "Path": "/bin/sh", "Args": [],
            "Image": "cd".repeat(32),
        });
        std::fs::write(dir.join(CONFIG_FILE), old.to_string()).unwrap();
        // A record from before has none; saved, it keeps v0.1.0's format.
        let rec = ContainerRecord::load(&dir).unwrap();
        assert!(!rec.auto_remove);
        rec.save(&dir).unwrap();
        let file: serde_json::Value = fsutil::read_json(&dir.join(CONFIG_FILE)).unwrap();
        assert!(file.get("HostConfig").is_none(), "{file}");
        // `inspect` shows it as docker does.
        let shown = serde_json::to_value(&rec).unwrap();
        assert_eq!(
            shown["HostConfig"],
            serde_json::json!({"AutoRemove": false})
        );
        let rec = ContainerRecord {
            auto_remove: true,
            ..rec
        };
        rec.save_run(&dir).unwrap();
        let file: serde_json::Value = fsutil::read_json(&dir.join(CONFIG_FILE)).unwrap();
        assert_eq!(file["HostConfig"], serde_json::json!({"AutoRemove": true}));
        assert!(ContainerRecord::load(&dir).unwrap().auto_remove);
        std::fs::remove_dir_all(&top).unwrap();
    }
}
