//! The tag store (v0.1.0 `tags.go`): `ROOT/repositories`, JSON
//! `{"Repositories": {"name": {"tag": "image-id"}}}`, mode 0600. Read when present, else
//! written. Every change takes the lock, reloads, edits and saves atomically, so two runtimes
//! on one root never lose each other's tags. A corrupt file is an error naming it, never
//! overwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock};
use crate::ids;
use crate::reference::{self, validate_repo, validate_tag};

/// tag -> image id
pub type Repository = BTreeMap<String, String>;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Repositories {
    #[serde(rename = "Repositories", default)]
    repositories: BTreeMap<String, Repository>,
}

#[derive(Debug)]
pub struct TagStore {
    path: PathBuf,
    lock: PathBuf,
}

impl TagStore {
    /// Open the store at `path`: validate it when present, write an empty one when absent.
    pub fn open(path: &Path) -> Result<TagStore> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let store = TagStore {
            path: path.to_path_buf(),
            lock: dir.join(".repositories.lock"),
        };
        let _l = FileLock::acquire(&store.lock)?;
        if fsutil::read_json_opt::<serde_json::Value>(path)?.is_some() {
            store.load()?;
        } else {
            fsutil::write_json_atomic(path, &Repositories::default(), 0o600)?;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<Repositories> {
        let repos: Repositories = fsutil::read_json(&self.path)?;
        for (name, tags) in &repos.repositories {
            for (tag, id) in tags {
                if validate_repo(name).is_err() || validate_tag(tag).is_err() || !ids::is_id(id) {
                    return Err(Error::corrupt(format!(
                        "{} is not valid: entry {name}:{tag} -> {id:?} is malformed",
                        self.path.display()
                    )));
                }
            }
        }
        Ok(repos)
    }

    /// Lock, reload, apply `f`, save.
    fn update<T>(&self, f: impl FnOnce(&mut Repositories) -> Result<T>) -> Result<T> {
        let _l = FileLock::acquire(&self.lock)?;
        let mut repos = self.load()?;
        let out = f(&mut repos)?;
        fsutil::write_json_atomic(&self.path, &repos, 0o600)?;
        Ok(out)
    }

    /// Point `repo:tag` at `image_id`. An existing tag naming another image is moved only with
    /// `force`.
    pub fn set(&self, repo: &str, tag: &str, image_id: &str, force: bool) -> Result<()> {
        validate_repo(repo)?;
        validate_tag(tag)?;
        ids::validate("image", image_id)?;
        self.update(|r| {
            let tags = r.repositories.entry(repo.to_string()).or_default();
            match tags.get(tag) {
                Some(old) if old != image_id && !force => Err(Error::exists(format!(
                    "tag {tag} of {repo} already points at {}: use -f to move it",
                    ids::short(old)
                ))),
                _ => {
                    tags.insert(tag.to_string(), image_id.to_string());
                    Ok(())
                }
            }
        })
    }

    /// The image id that `repo:tag` names.
    pub fn get(&self, repo: &str, tag: &str) -> Result<Option<String>> {
        Ok(self
            .load()?
            .repositories
            .get(repo)
            .and_then(|t| t.get(tag))
            .cloned())
    }

    /// Resolve `NAME[:TAG]` (tag `latest` by default). `Ok(None)` when it is not a valid name or
    /// names nothing.
    pub fn lookup(&self, name: &str) -> Result<Option<String>> {
        let (repo, tag) = reference::split_tag(name);
        if validate_repo(repo).is_err() {
            return Ok(None);
        }
        self.get(repo, tag.unwrap_or(reference::DEFAULT_TAG))
    }

    /// Remove `repo:tag`; true when it existed. A repository left without tags goes too.
    pub fn remove(&self, repo: &str, tag: &str) -> Result<bool> {
        self.update(|r| {
            let Some(tags) = r.repositories.get_mut(repo) else {
                return Ok(false);
            };
            let existed = tags.remove(tag).is_some();
            if tags.is_empty() {
                r.repositories.remove(repo);
            }
            Ok(existed)
        })
    }

    /// Remove every tag naming `image_id`; returns the `(repo, tag)` pairs removed.
    pub fn remove_image(&self, image_id: &str) -> Result<Vec<(String, String)>> {
        self.update(|r| {
            let mut removed = Vec::new();
            for (repo, tags) in r.repositories.iter_mut() {
                tags.retain(|tag, id| {
                    let hit = id == image_id;
                    if hit {
                        removed.push((repo.clone(), tag.clone()));
                    }
                    !hit
                });
            }
            r.repositories.retain(|_, tags| !tags.is_empty());
            Ok(removed)
        })
    }

    /// Every `(repo, tag, image id)`, sorted by repository then tag.
    pub fn list(&self) -> Result<Vec<(String, String, String)>> {
        Ok(self
            .load()?
            .repositories
            .into_iter()
            .flat_map(|(repo, tags)| {
                tags.into_iter()
                    .map(move |(tag, id)| (repo.clone(), tag, id))
            })
            .collect())
    }

    /// The `(repo, tag)` pairs naming `image_id`.
    pub fn tags_of(&self, image_id: &str) -> Result<Vec<(String, String)>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|(_, _, id)| id == image_id)
            .map(|(r, t, _)| (r, t))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn store(tag: &str) -> (PathBuf, TagStore) {
        let d = std::env::temp_dir().join(format!("tags-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let s = TagStore::open(&d.join("repositories")).unwrap();
        (d, s)
    }

    #[test]
    fn set_lookup_move_remove() {
        let (d, s) = store("basic");
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        s.set("busybox", "latest", &a, false).unwrap();
        assert_eq!(s.lookup("busybox").unwrap(), Some(a.clone()));
        assert_eq!(s.lookup("busybox:latest").unwrap(), Some(a.clone()));
        assert_eq!(s.lookup("busybox:other").unwrap(), None);
        let e = s.set("busybox", "latest", &b, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        s.set("busybox", "latest", &b, true).unwrap();
        s.set("busybox", "v1", &b, false).unwrap();
        // A second store on the same file sees the changes.
        let s2 = TagStore::open(&d.join("repositories")).unwrap();
        assert_eq!(s2.tags_of(&b).unwrap().len(), 2);
        assert_eq!(s2.remove_image(&b).unwrap().len(), 2);
        assert!(s.list().unwrap().is_empty());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(d.join("repositories"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn invalid_input_is_refused() {
        let (d, s) = store("invalid");
        let a = "a".repeat(64);
        assert!(s.set("Bad Name", "latest", &a, false).is_err());
        assert!(s.set("ok", "bad tag", &a, false).is_err());
        assert!(s.set("ok", "latest", "../../x", false).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_file_is_an_error_and_untouched() {
        let d = std::env::temp_dir().join(format!("tags-corrupt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("repositories");
        std::fs::write(&p, b"{\"Repositories\": 3").unwrap();
        let e = TagStore::open(&p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt);
        assert!(e.message().contains("repositories"));
        std::fs::write(
            &p,
            b"{\"Repositories\": {\"x\": {\"latest\": \"../../etc\"}}}",
        )
        .unwrap();
        assert_eq!(TagStore::open(&p).unwrap_err().kind(), ErrorKind::Corrupt);
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"{\"Repositories\": {\"x\": {\"latest\": \"../../etc\"}}}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
