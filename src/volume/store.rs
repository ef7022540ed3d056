//! The volumes of a runtime root, docker's local driver layout: `ROOT/volumes/NAME/_data` is
//! the volume's content (what containers see), `ROOT/volumes/NAME/volume.json` its creation
//! time and labels. A volume appears whole (made under a temporary name, then renamed into
//! place) and goes whole (renamed away, then removed).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::spec::check_name;
use crate::error::{Error, ErrorKind, Result};
use crate::{fsutil, ids};

/// The label docker puts on a volume made for `-v /path` (removed by `rm -v`).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// The volume's content folder in its own.
const DATA: &str = "_data";
const META: &str = "volume.json";

/// A volume as `volume inspect` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: DateTime<Utc>,
    pub driver: &'static str,
    pub labels: BTreeMap<String, String>,
    /// The `_data` folder.
    pub mountpoint: PathBuf,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub scope: &'static str,
}

impl Volume {
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// `KEY=VALUE` labels (a bare `KEY`: an empty value, as docker's `--label`).
pub fn labels(given: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for l in given {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        if k.is_empty() {
            return Err(Error::invalid(format!(
                "invalid label {l:?}: a label needs a key (KEY=VALUE)"
            )));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// What `volume.json` holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Meta {
    created_at: DateTime<Utc>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `ROOT/volumes`.
#[derive(Debug)]
pub struct VolumeStore {
    dir: PathBuf,
    /// Held across "is it used?" and the change that depends on the answer (a container
    /// taking a volume, `volume rm`).
    lock: Mutex<()>,
}

impl VolumeStore {
    pub fn new(dir: PathBuf) -> VolumeStore {
        VolumeStore {
            dir,
            lock: Mutex::new(()),
        }
    }

    /// Serialize the users of volumes with their removal.
    pub fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn load(&self, name: &str) -> Result<Volume> {
        let dir = self.dir.join(name);
        let meta: Option<Meta> = fsutil::read_json_opt(&dir.join(META))?;
        let Some(meta) = meta else {
            return Err(Error::not_found(format!("no such volume: {name}")));
        };
        Ok(Volume {
            created_at: meta.created_at,
            driver: "local",
            labels: meta.labels,
            mountpoint: dir.join(DATA),
            name: name.to_string(),
            options: BTreeMap::new(),
            scope: "local",
        })
    }

    /// The volume `name`.
    pub fn get(&self, name: &str) -> Result<Volume> {
        check_name(name)?;
        self.load(name)
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io_path("reading", &self.dir, e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io_path("reading", &self.dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if check_name(&name).is_ok() {
                if let Ok(v) = self.load(&name) {
                    out.push(v);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The volume `name` (`None`: a new anonymous one), made when missing; and whether it
    /// was made now.
    pub fn create(&self, name: Option<&str>) -> Result<(Volume, bool)> {
        self.create_labelled(name, BTreeMap::new())
    }

    /// [`Self::create`] with `labels` on a volume made now (an existing one keeps its own).
    pub fn create_labelled(
        &self,
        name: Option<&str>,
        mut labels: BTreeMap<String, String>,
    ) -> Result<(Volume, bool)> {
        if labels.keys().any(String::is_empty) {
            return Err(Error::invalid("a volume label needs a key (KEY=VALUE)"));
        }
        let name = match name {
            Some(n) => {
                check_name(n)?;
                n.to_string()
            }
            None => {
                labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
                ids::generate()?
            }
        };
        match self.load(&name) {
            Ok(v) => return Ok((v, false)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        fsutil::ensure_dir(&self.dir, 0o700)?;
        let tmp = self.dir.join(format!(".new-{}", ids::generate()?));
        let made = (|| {
            let mk = |p: &Path, mode| {
                fs::DirBuilder::new()
                    .mode(mode)
                    .create(p)
                    .map_err(|e| Error::io_path("creating", p, e))
            };
            mk(&tmp, 0o755)?;
            mk(&tmp.join(DATA), 0o755)?;
            let meta = Meta {
                created_at: Utc::now(),
                labels,
            };
            fsutil::write_json_atomic(&tmp.join(META), &meta, 0o600)?;
            fs::rename(&tmp, self.dir.join(&name))
                .map_err(|e| Error::io_path("creating the volume", &self.dir.join(&name), e))
        })();
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&tmp);
            // Made meanwhile by another caller: theirs.
            return match self.load(&name) {
                Ok(v) => Ok((v, false)),
                Err(_) => Err(e),
            };
        }
        fsutil::sync_dir(&self.dir)?;
        Ok((self.load(&name)?, true))
    }

    /// Remove the volume `name` and its content (the caller checked that no container uses
    /// it).
    pub fn remove(&self, name: &str) -> Result<()> {
        self.get(name)?;
        let gone = self.dir.join(format!(".rm-{}", ids::generate()?));
        fs::rename(self.dir.join(name), &gone)
            .map_err(|e| Error::io_path("removing the volume", &self.dir.join(name), e))?;
        fsutil::sync_dir(&self.dir)?;
        fs::remove_dir_all(&gone).map_err(|e| Error::io_path("removing", &gone, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_made_listed_and_removed() {
        let root = std::env::temp_dir().join(format!("volstore-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let s = VolumeStore::new(root.join("volumes"));
        assert!(s.list().unwrap().is_empty());
        let (v, made) = s.create(Some("data")).unwrap();
        assert!(made && !v.is_anonymous());
        assert_eq!(v.mountpoint, root.join("volumes/data/_data"));
        assert!(v.mountpoint.is_dir());
        let (again, made) = s.create(Some("data")).unwrap();
        assert!(!made);
        assert_eq!(again, v);
        let (anon, _) = s.create(None).unwrap();
        assert!(anon.is_anonymous() && ids::validate("volume", &anon.name).is_ok());
        let names: Vec<String> = s.list().unwrap().into_iter().map(|v| v.name).collect();
        let mut want = vec!["data".to_string(), anon.name.clone()];
        want.sort();
        assert_eq!(names, want);
        s.remove("data").unwrap();
        let e = s.get("data").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(s.remove("data").is_err());
        assert!(s.create(Some("a/b")).is_err());
        assert!(s.get("..").is_err());
        let left: Vec<_> = fs::read_dir(root.join("volumes")).unwrap().collect();
        assert_eq!(left.len(), 1, "only the anonymous volume is left");
        fs::remove_dir_all(&root).unwrap();
    }
}
