//! The graph (v0.1.0 `graph.go`, `image.go`): one folder per image under `ROOT/graph/`,
//! `ID/json` (the metadata) and `ID/layer/` (the unpacked file-system diff, ready to be an
//! overlayfs lower directory).
//!
//! - Registering unpacks into `graph/:tmp:/ID`, makes it durable, then renames it into place:
//!   an image is either wholly there or absent, and a failed or interrupted import leaves
//!   nothing (leftovers in `:tmp:` from a crash are removed when a graph is opened).
//! - Deleting renames the folder into `graph/:garbage:` (atomic), from where `undelete` brings
//!   it back and `garbage_collect` removes it.
//! - Durability without a stall: an unpacked layer is not fsynced file by file, nor synced
//!   before the image is usable (a `syncfs` of a few hundred megabytes would double the time of
//!   an import). Instead the image folder carries `.pending-sync` holding the boot id of the
//!   boot that wrote it. Within that boot the page cache serves the layer whole. A later graph
//!   opening, once the kernel has had time to write the data back (30 s), confirms it with one
//!   `syncfs` and removes the marker. If the machine stops first, the next boot finds a marker
//!   from another boot, and the image is reported as incomplete (`rmi` removes it) instead of
//!   being served with empty or truncated files, the failure containerd and docker have when
//!   they skip the sync. Where no boot id can be read, the layer is synced before the rename.
//! - Every id read from disk or from a user is validated (64 lowercase hex) before a path is
//!   built from it; an image whose `json` names another id, or a parent that is not an id, is
//!   reported as corrupt.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use nix::fcntl::{self, OFlag};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

use super::archive;
use super::fsat;
use super::layer::{self, LayerLimits};
use super::pack;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil::{self, FileLock};
use crate::ids;
use crate::log::Logger;

/// Where registrations are unpacked before they are renamed into place.
pub const TMP_DIR: &str = ":tmp:";
/// Where deleted images wait for `undelete` or garbage collection.
pub const GARBAGE_DIR: &str = ":garbage:";
/// The metadata file of an image folder.
pub const JSON_FILE: &str = "json";
/// The layer directory of an image folder.
pub const LAYER_DIR: &str = "layer";
/// A pulled layer's compressed blob as the registry served it (kept so a push can send it as
/// is, without packing and compressing again).
pub const BLOB_FILE: &str = "layer.blob";
const LOCK_FILE: &str = ".graph.lock";
/// The marker of an image whose layer may not be on disk yet (see the module comment).
pub const PENDING_SYNC: &str = ".pending-sync";
/// Age after which a pending image is confirmed by a graph opening: the kernel writes dirty
/// data back within 30 s by default, so the `syncfs` then costs little.
const SETTLE_AGE: Duration = Duration::from_secs(30);

/// This boot's id; empty when it cannot be read. Read once per process (every image lookup
/// asks, and a boot's id does not change under a running process).
fn boot_id() -> String {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT_ID
        .get_or_init(|| {
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        })
        .clone()
}

/// The run-time defaults an image may carry (from a registry image's config; imported and
/// committed images have none). `run` uses them when the user gives no command, user,
/// working directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// How a registry knows an image's layer (pulled and pushed images): the digest and size of
/// its compressed blob and the digest of the uncompressed tar (the diff id). Layers never
/// change, so push reuses this when the registry already holds the blob, and pull records it.
/// The values are `sha256:HEX` strings, validated by the registry code that reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryLayer {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
}

/// An image's metadata, `graph/ID/json`, with v0.1.0's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_is_none"
    )]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    pub created: DateTime<Utc>,
    /// The container this image was committed from.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_is_none"
    )]
    pub container: Option<String>,
    /// That container's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<Config>,
    /// Run-time defaults (registry images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ImageConfig>,
    /// The layer's registry form, when it has been pulled or pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryLayer>,
}

/// v0.1.0 wrote `"parent": ""` for "none": read an empty string (or null) as absent.
fn empty_is_none<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(v.filter(|s| !s.is_empty()))
}

impl Image {
    /// New metadata with a fresh random id, created now, on top of `parent`.
    pub fn new(parent: Option<&str>) -> Result<Image> {
        if let Some(p) = parent {
            ids::validate("image", p)?;
        }
        Ok(Image {
            id: ids::generate()?,
            parent: parent.map(str::to_string),
            comment: String::new(),
            created: Utc::now(),
            container: None,
            container_config: None,
            config: None,
            registry: None,
        })
    }

    /// The id, validated (and the parent's and container's too).
    pub fn validate(&self) -> Result<()> {
        ids::validate("image", &self.id)?;
        if let Some(p) = &self.parent {
            ids::validate("image", p).map_err(|e| e.context("parent"))?;
        }
        if let Some(c) = &self.container {
            ids::validate("container", c)?;
        }
        Ok(())
    }
}

/// The image store under `ROOT/graph`.
#[derive(Debug)]
pub struct Graph {
    dir: PathBuf,
    logger: Logger,
    limits: LayerLimits,
}

impl Graph {
    /// Open (creating when needed) the graph at `dir`, with `:tmp:` and `:garbage:`; remove
    /// what interrupted registrations left in `:tmp:`. Every layer unpacked into it is held
    /// within `limits`.
    pub fn open(dir: &Path, logger: Logger, limits: LayerLimits) -> Result<Graph> {
        fsutil::ensure_dir(dir, 0o700)?;
        fsutil::ensure_dir(&dir.join(TMP_DIR), 0o700)?;
        fsutil::ensure_dir(&dir.join(GARBAGE_DIR), 0o700)?;
        let g = Graph {
            dir: dir.to_path_buf(),
            logger,
            limits,
        };
        g.clean_tmp()?;
        if let Err(e) = g.settle() {
            g.logger
                .warn(&format!("confirming recently imported images: {e}"));
        }
        Ok(g)
    }

    /// True when image `id` was written during a boot that has ended before its layer was
    /// confirmed on disk: its files may be empty or cut short.
    pub fn is_incomplete(&self, id: &str) -> bool {
        if !self.exists(id) {
            return false;
        }
        match std::fs::read_to_string(self.dir.join(id).join(PENDING_SYNC)) {
            Ok(boot) => boot.trim().is_empty() || boot.trim() != boot_id(),
            Err(_) => false,
        }
    }

    /// Confirm pending images of this boot that are old enough: one `syncfs`, then their
    /// markers go. Runs when a graph is opened and before each registration; a long-running
    /// process (the daemon) may call it now and then so that its images are confirmed too.
    pub fn settle(&self) -> Result<()> {
        let boot = boot_id();
        if boot.is_empty() {
            return Ok(());
        }
        let now = SystemTime::now();
        let mut ready = Vec::new();
        for id in self.ids()? {
            let marker = self.dir.join(&id).join(PENDING_SYNC);
            let Ok(content) = std::fs::read_to_string(&marker) else {
                continue;
            };
            let old_enough = std::fs::symlink_metadata(&marker)
                .and_then(|m| m.modified())
                .map(|t| now.duration_since(t).unwrap_or_default() >= SETTLE_AGE)
                .unwrap_or(false);
            if content.trim() == boot && old_enough {
                ready.push(id);
            }
        }
        if ready.is_empty() {
            return Ok(());
        }
        let fd = open_dir(&self.dir)?;
        nix::unistd::syncfs(fd.as_fd())
            .map_err(|e| Error::errno(format_args!("syncing {}", self.dir.display()), e))?;
        for id in ready {
            let dir = self.dir.join(&id);
            std::fs::remove_file(dir.join(PENDING_SYNC))
                .map_err(|e| Error::io_path("removing", &dir.join(PENDING_SYNC), e))?;
            fsutil::sync_dir(&dir)?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The folder of image `id` (validated; it may not exist).
    pub fn image_dir(&self, id: &str) -> Result<PathBuf> {
        ids::validate("image", id)?;
        Ok(self.dir.join(id))
    }

    /// The layer directory of image `id` (validated; it may not exist).
    pub fn layer_dir(&self, id: &str) -> Result<PathBuf> {
        Ok(self.image_dir(id)?.join(LAYER_DIR))
    }

    /// Where a registration of image `id` may stage its layer's blob (`:tmp:/ID.blob`, removed
    /// by the next runtime start if a crash leaves it), to move in with [`Graph::adopt_blob`].
    pub fn blob_staging(&self, id: &str) -> Result<PathBuf> {
        ids::validate("image", id)?;
        Ok(self.dir.join(TMP_DIR).join(format!("{id}.blob")))
    }

    /// Move a staged blob into the folder of image `id`, which is in place.
    pub fn adopt_blob(&self, id: &str, staged: &Path) -> Result<()> {
        let dst = self.image_dir(id)?.join(BLOB_FILE);
        std::fs::rename(staged, &dst).map_err(|e| Error::io_path("keeping the blob as", &dst, e))
    }

    /// The stored blob of image `id`'s layer and its size, if one was kept.
    pub fn blob(&self, id: &str) -> Result<Option<(PathBuf, u64)>> {
        let p = self.image_dir(id)?.join(BLOB_FILE);
        match std::fs::metadata(&p) {
            Ok(m) => Ok(Some((p, m.len()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io_path("reading", &p, e)),
        }
    }

    /// True when `id` is a valid id and its folder is in the graph.
    pub fn exists(&self, id: &str) -> bool {
        ids::is_id(id)
            && std::fs::symlink_metadata(self.dir.join(id))
                .map(|m| m.is_dir())
                .unwrap_or(false)
    }

    /// The metadata of image `id`. `NotFound` (`no such image: ID`) when absent; `Corrupt`
    /// when its json is malformed or names another id.
    pub fn get(&self, id: &str) -> Result<Image> {
        let dir = self.image_dir(id)?;
        if !self.exists(id) {
            return Err(Error::not_found(format!("no such image: {id}")));
        }
        let path = dir.join(JSON_FILE);
        let img: Image = fsutil::read_json(&path)?;
        img.validate()
            .map_err(|e| Error::corrupt(format!("{}: {e}", path.display())))?;
        if img.id != id {
            return Err(Error::corrupt(format!(
                "{}: id {} does not match its folder {id}",
                path.display(),
                img.id
            )));
        }
        if self.is_incomplete(id) {
            return Err(Error::corrupt(format!(
                "image {id} is incomplete: the machine stopped before its layer reached the disk; remove it (rmi) and import or pull it again"
            )));
        }
        Ok(img)
    }

    /// The ids of every image (real folders named by a valid id), sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| Error::io_path("reading", &self.dir, e))?;
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io_path("reading", &self.dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if ids::is_id(&name) && is_dir {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every image that can be read; an unreadable one is logged and skipped.
    pub fn all(&self) -> Result<Vec<Image>> {
        let mut out = Vec::new();
        for id in self.ids()? {
            match self.get(&id) {
                Ok(img) => out.push(img),
                Err(e) => self.logger.warn(&format!("skipping image {id}: {e}")),
            }
        }
        Ok(out)
    }

    /// Images that no other image names as its parent.
    pub fn heads(&self) -> Result<Vec<Image>> {
        let all = self.all()?;
        let parents: HashSet<&str> = all.iter().filter_map(|i| i.parent.as_deref()).collect();
        Ok(all
            .iter()
            .filter(|i| !parents.contains(i.id.as_str()))
            .cloned()
            .collect())
    }

    /// Images whose parent is `id`.
    pub fn children(&self, id: &str) -> Result<Vec<Image>> {
        ids::validate("image", id)?;
        Ok(self
            .all()?
            .into_iter()
            .filter(|i| i.parent.as_deref() == Some(id))
            .collect())
    }

    /// Resolve a full id or a unique id prefix. `Ok(None)` when nothing matches; an ambiguous
    /// prefix is an error that says so.
    pub fn resolve_prefix(&self, name: &str) -> Result<Option<String>> {
        if !ids::is_prefix(name) {
            return Ok(None);
        }
        ids::resolve_prefix("image", name, &self.ids()?)
    }

    /// The image and its ancestors, the image first.
    pub fn history(&self, id: &str) -> Result<Vec<Image>> {
        let mut out: Vec<Image> = Vec::new();
        let mut next = Some(id.to_string());
        while let Some(id) = next {
            if out.iter().any(|i| i.id == id) {
                return Err(Error::corrupt(format!(
                    "the parent chain of image {id} loops"
                )));
            }
            let img = self.get(&id).map_err(|e| {
                if e.kind() == ErrorKind::NotFound && !out.is_empty() {
                    Error::corrupt(format!(
                        "image {} names a parent that is missing: {id}",
                        out.last().map(|i| i.id.as_str()).unwrap_or_default()
                    ))
                } else {
                    e
                }
            })?;
            next = img.parent.clone();
            out.push(img);
        }
        Ok(out)
    }

    /// The `layer/` directories of image `id` and its ancestors, topmost first: the
    /// `lowerdir=` list of an overlayfs mount.
    pub fn layers(&self, id: &str) -> Result<Vec<PathBuf>> {
        self.history(id)?
            .iter()
            .map(|i| self.layer_dir(&i.id))
            .collect()
    }

    /// Register `image` with the layer read from `archive` (a tar stream, plain or gzip,
    /// bzip2, xz compressed). The id must be new and the parent, if any, present. On any
    /// error nothing is left in the graph.
    pub fn register<R: Read>(&self, image: Image, archive: R) -> Result<Image> {
        self.register_with(image, |layer_dir| {
            let (_, tar) = archive::decompress(archive)
                .map_err(|e| Error::io("reading the layer archive", e))?;
            let stats = layer::unpack_layer(tar, layer_dir, &self.limits)?;
            if stats.xattrs_skipped > 0 {
                self.logger.warn(&format!(
                    "{} extended attributes of the layer are not supported by this file system and were skipped",
                    stats.xattrs_skipped
                ));
            }
            Ok(())
        })
    }

    /// Unpack `image`'s layer from `tar`, a plain (already decompressed) tar stream, into
    /// `:tmp:`, as a registry pull needs: once the layer is unpacked, `finish` gets the stream
    /// back (to read it to its end and check its digests). The parent need not be in the graph
    /// yet (layers are unpacked concurrently); [`Prepared::commit`] puts the image in place once
    /// it is. An error, or dropping the result uncommitted, leaves nothing in the graph.
    pub fn prepare_stream<R: Read>(
        &self,
        image: Image,
        mut tar: R,
        finish: impl FnOnce(&mut R) -> Result<()>,
    ) -> Result<Prepared<'_>> {
        self.prepare_with(image, |layer_dir| {
            let stats = layer::unpack_layer(&mut tar, layer_dir, &self.limits)?;
            if stats.xattrs_skipped > 0 {
                self.logger.warn(&format!(
                    "{} extended attributes of the layer are not supported by this file system and were skipped",
                    stats.xattrs_skipped
                ));
            }
            finish(&mut tar)
        })
    }

    /// Record the registry form of image `id`'s layer in its json (written atomically), after
    /// a push computed it.
    pub fn set_registry_layer(&self, id: &str, layer: RegistryLayer) -> Result<()> {
        let _l = FileLock::acquire(&self.dir.join(LOCK_FILE))?;
        let mut img = self.get(id)?;
        img.registry = Some(layer);
        fsutil::write_json_atomic(&self.dir.join(id).join(JSON_FILE), &img, 0o600)
    }

    /// True when image `id`'s layer directory is empty (an image that only carries metadata,
    /// such as a pulled image's configuration).
    pub fn layer_is_empty(&self, id: &str) -> Result<bool> {
        let dir = self.layer_dir(id)?;
        let mut entries =
            std::fs::read_dir(&dir).map_err(|e| Error::io_path("reading", &dir, e))?;
        Ok(entries.next().is_none())
    }

    /// Register `image` with the layer made from the directory `upper` (an overlayfs upper
    /// directory: whiteouts and opaque directories become their tar form and back), as
    /// `commit` needs. The directory is packed and unpacked through a pipe, so the new layer
    /// is exactly what a push and pull of it would give.
    pub fn register_dir(&self, image: Image, upper: &Path) -> Result<Image> {
        let (rd, wr) = nix::unistd::pipe().map_err(|e| Error::errno("creating a pipe", e))?;
        let rd = File::from(rd);
        let upper = upper.to_path_buf();
        let packer = thread::spawn(move || pack::pack_layer(&upper, File::from(wr)));
        let result = self.register(image, &rd);
        // Read to the end whatever happened, so the packer never blocks on a full pipe nor
        // writes to a closed one (SIGPIPE in a host process that did not ignore it).
        let _ = std::io::copy(&mut &rd, &mut std::io::sink());
        let packed = packer
            .join()
            .unwrap_or_else(|_| Err(Error::new(ErrorKind::Io, "the layer packer panicked")));
        match (result, packed) {
            (Ok(img), Ok(())) => Ok(img),
            (Ok(img), Err(e)) => {
                // The archive was cut short but still parsed: do not keep a partial layer.
                self.delete(&img.id)?;
                self.garbage_collect()?;
                Err(e)
            }
            (Err(e), Ok(())) => Err(e),
            // The packer's error is the cause (the unpacker saw a broken stream).
            (Err(_), Err(e)) => Err(e),
        }
    }

    fn register_with(&self, image: Image, fill: impl FnOnce(&Path) -> Result<()>) -> Result<Image> {
        if let Some(p) = &image.parent {
            if !self.exists(p) {
                return Err(Error::not_found(format!("no such image: {p} (the parent)")));
            }
        }
        self.prepare_with(image, fill)?.commit()
    }

    /// The first half of a registration: unpack into `:tmp:/ID` (the parent need not exist
    /// yet). [`Prepared::commit`] puts it in place; dropping it removes it.
    fn prepare_with(
        &self,
        image: Image,
        fill: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Prepared<'_>> {
        image.validate()?;
        if self.exists(&image.id) {
            return Err(Error::exists(format!("image {} already exists", image.id)));
        }
        if let Err(e) = self.settle() {
            self.logger
                .warn(&format!("confirming recently imported images: {e}"));
        }
        let tmp_root = self.dir.join(TMP_DIR);
        let tmp = tmp_root.join(&image.id);
        // Held while we work: a graph opened meanwhile (another process) leaves it alone.
        let guard = TmpGuard::lock(&tmp_root, &image.id)?;
        std::fs::create_dir(&tmp).map_err(|e| Error::io_path("creating", &tmp, e))?;
        let prepared = Prepared {
            graph: self,
            image,
            guard: Some(guard),
            committed: false,
        };
        let layer_dir = tmp.join(LAYER_DIR);
        std::fs::create_dir(&layer_dir).map_err(|e| Error::io_path("creating", &layer_dir, e))?;
        fill(&layer_dir)?;
        // No sync here: the marker says which boot wrote the layer (module comment). The
        // json's atomic write syncs the folder, marker included, before the rename.
        let boot = boot_id();
        if boot.is_empty() {
            let fd = open_dir(&layer_dir)?;
            nix::unistd::syncfs(fd.as_fd())
                .map_err(|e| Error::errno(format_args!("syncing {}", layer_dir.display()), e))?;
        } else {
            let marker = tmp.join(PENDING_SYNC);
            std::fs::write(&marker, format!("{boot}\n"))
                .map_err(|e| Error::io_path("writing", &marker, e))?;
        }
        fsutil::write_json_atomic(&tmp.join(JSON_FILE), &prepared.image, 0o600)?;
        Ok(prepared)
    }

    /// Take image `id` out of the graph by renaming it into `:garbage:` (see
    /// [`Self::undelete`], [`Self::garbage_collect`]). The caller checks that nothing uses it.
    pub fn delete(&self, id: &str) -> Result<()> {
        let src = self.image_dir(id)?;
        let _l = FileLock::acquire(&self.dir.join(LOCK_FILE))?;
        if !self.exists(id) {
            return Err(Error::not_found(format!("no such image: {id}")));
        }
        let dst = self.dir.join(GARBAGE_DIR).join(id);
        if dst.exists() {
            remove_in(&self.dir.join(GARBAGE_DIR), id);
        }
        std::fs::rename(&src, &dst).map_err(|e| Error::io_path("deleting image", &src, e))?;
        fsutil::sync_dir(&self.dir)
    }

    /// Bring back an image that [`Self::delete`] took out and that was not collected yet.
    pub fn undelete(&self, id: &str) -> Result<()> {
        ids::validate("image", id)?;
        let _l = FileLock::acquire(&self.dir.join(LOCK_FILE))?;
        let src = self.dir.join(GARBAGE_DIR).join(id);
        if !src.is_dir() {
            return Err(Error::not_found(format!(
                "no deleted image {id} to restore"
            )));
        }
        if self.exists(id) {
            return Err(Error::exists(format!("image {id} already exists")));
        }
        let dst = self.dir.join(id);
        std::fs::rename(&src, &dst).map_err(|e| Error::io_path("restoring image", &dst, e))?;
        fsutil::sync_dir(&self.dir)
    }

    /// Remove every deleted image for good.
    pub fn garbage_collect(&self) -> Result<()> {
        let g = self.dir.join(GARBAGE_DIR);
        let fd = open_dir(&g)?;
        for name in list_names(&g)? {
            fsat::remove_all_at(fd.as_fd(), name.as_bytes())
                .map_err(|e| Error::io(format_args!("removing {}", g.join(&name).display()), e))?;
        }
        Ok(())
    }

    /// Remove what registrations that are no longer running left in `:tmp:`.
    fn clean_tmp(&self) -> Result<()> {
        let tmp = self.dir.join(TMP_DIR);
        // `ID`, `ID.lock` and `ID.blob` (a pull's staged blob) belong to one registration.
        let mut names: Vec<String> = list_names(&tmp)?
            .into_iter()
            .map(|n| {
                n.strip_suffix(".lock")
                    .or_else(|| n.strip_suffix(".blob"))
                    .map(str::to_string)
                    .unwrap_or(n)
            })
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            // A registration in progress holds the lock of its folder.
            if let Ok(Some(_guard)) = TmpGuard::try_lock(&tmp, &name) {
                if tmp.join(&name).exists() {
                    self.logger.info(&format!(
                        "removing an interrupted registration: {}",
                        tmp.join(&name).display()
                    ));
                }
                remove_in(&tmp, &name);
                remove_in(&tmp, &format!("{name}.blob"));
            }
        }
        Ok(())
    }
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    fcntl::open(
        p,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno(format_args!("opening {}", p.display()), e))
}

fn list_names(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io_path("reading", dir, e))? {
        let e = e.map_err(|e| Error::io_path("reading", dir, e))?;
        out.push(e.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

/// Remove `dir/name` whatever it holds; a failure leaves it for the next clean-up.
fn remove_in(dir: &Path, name: &str) {
    if let Ok(fd) = open_dir(dir) {
        let _ = fsat::remove_all_at(fd.as_fd(), name.as_bytes());
    }
}

/// A registration unpacked in `graph/:tmp:/ID` but not yet in the graph (see
/// [`Graph::prepare_stream`]): [`Prepared::commit`] renames it into place once its parent is
/// there; dropping it uncommitted removes it.
pub struct Prepared<'g> {
    graph: &'g Graph,
    image: Image,
    guard: Option<TmpGuard>,
    committed: bool,
}

impl std::fmt::Debug for Prepared<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("image", &self.image.id)
            .finish()
    }
}

impl Prepared<'_> {
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// Put the image in place. Its parent, if any, must be in the graph by now.
    pub fn commit(mut self) -> Result<Image> {
        let g = self.graph;
        // Hold the graph lock for the checks and the rename only.
        let _l = FileLock::acquire(&g.dir.join(LOCK_FILE))?;
        if let Some(p) = &self.image.parent {
            if !g.exists(p) {
                return Err(Error::not_found(format!(
                    "no such image: {p} (the parent is missing or was removed meanwhile)"
                )));
            }
        }
        // renameat2(RENAME_NOREPLACE) would be ideal; under the lock, a check suffices.
        if g.exists(&self.image.id) {
            return Err(Error::exists(format!(
                "image {} already exists",
                self.image.id
            )));
        }
        let tmp = g.dir.join(TMP_DIR).join(&self.image.id);
        let dest = g.dir.join(&self.image.id);
        std::fs::rename(&tmp, &dest).map_err(|e| Error::io_path("renaming into", &dest, e))?;
        self.committed = true;
        fsutil::sync_dir(&g.dir)?;
        Ok(self.image.clone())
    }
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        if !self.committed {
            remove_in(&self.graph.dir.join(TMP_DIR), &self.image.id);
        }
        // The lock goes last, once the folder is gone.
        self.guard.take();
    }
}

/// The lock file `:tmp:/ID.lock`, flocked while a registration works in `:tmp:/ID`, and
/// removed when the registration ends.
struct TmpGuard {
    _file: File,
    path: PathBuf,
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl TmpGuard {
    fn lock(tmp: &Path, name: &str) -> Result<TmpGuard> {
        match Self::try_lock(tmp, name)? {
            Some(g) => Ok(g),
            None => Err(Error::in_use(format!(
                "another registration of {name} is in progress"
            ))),
        }
    }

    /// `Ok(None)` when someone else holds it.
    fn try_lock(tmp: &Path, name: &str) -> Result<Option<TmpGuard>> {
        let p = tmp.join(format!("{name}.lock"));
        let c = CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::invalid("lock path has a NUL byte"))?;
        let fd = fcntl::open(
            c.as_c_str(),
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| Error::errno(format_args!("opening {}", p.display()), e))?;
        let file = File::from(fd);
        // SAFETY: flock on a descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            Ok(Some(TmpGuard {
                _file: file,
                path: p,
            }))
        } else {
            Ok(None)
        }
    }
}
