//! `load`: the images of an archive into the graph and their names into the tag store. Read:
//! docker's format (`manifest.json`: ours, docker 25's, docker 20.10's `ID/layer.tar` +
//! `ID.json`, skopeo's `docker-archive:`) and the OCI image layout (`index.json`: skopeo's
//! `oci-archive:`, `ctr image export`); layers plain or compressed.
//!
//! The archive is staged whole first ([`super::staging`], which refuses entries and links
//! escaping it and blobs whose content is not their digest). Images get the ids a pull gives
//! the same layers (the OCI chain ids, then the configuration image on top), so a loaded
//! image and a pulled one share their layers. Each layer goes through the decompressor, a
//! diff-id hash and the graph's safe unpacker within its limits, into `:tmp:`; only once every
//! image of the archive has been unpacked and checked are they put in place, then named. A
//! failure at any point leaves no image and no name behind.

use std::collections::HashSet;
use std::io::Read;

use chrono::{DateTime, Utc};

use super::format::{index_name, local_name, ManifestEntry, OciIndex, INDEX_JSON, MANIFEST_JSON};
use super::staging::{self, Blob, Staged};
use crate::error::{Error, Result};
use crate::image::graph::TMP_DIR;
use crate::image::{archive, Compression, Graph, Image, Prepared, RegistryLayer};
use crate::registry::digest::{io_error, HashReader};
use crate::registry::manifest::{
    self, Descriptor, Document, ImageConfigBlob, Manifest, MAX_CONFIG, MAX_MANIFEST, OCI_LAYER,
    OCI_LAYER_GZIP,
};
use crate::registry::pull::{config_image_id, layer_id};
use crate::registry::Digest;
use crate::tags::TagStore;

/// An image the archive held: its id here and the names it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub id: String,
    pub names: Vec<(String, String)>,
}

/// One image of the archive, found and not yet checked.
struct Planned<'s> {
    what: String,
    config: Vec<u8>,
    layers: Vec<&'s Blob>,
    names: Vec<(String, String)>,
}

/// Load the archive `input` into `graph` and `tags`; the archive may hold at most
/// `max_bytes` of files.
pub fn load(
    graph: &Graph,
    tags: &TagStore,
    input: impl Read,
    max_bytes: u64,
) -> Result<Vec<Loaded>> {
    let staged = staging::stage(input, &graph.path().join(TMP_DIR), max_bytes)?;
    let plan = if staged.has(MANIFEST_JSON) {
        docker_plan(&staged)?
    } else if staged.has(INDEX_JSON) {
        oci_plan(&staged)?
    } else {
        return Err(Error::corrupt(
            "the archive has neither manifest.json (docker save) nor index.json (an OCI image layout): it is not an image archive",
        ));
    };
    if plan.is_empty() {
        return Err(Error::corrupt("the image archive holds no image"));
    }
    let mut work = Work {
        graph,
        staged: &staged,
        prepared: Vec::new(),
        seen: HashSet::new(),
    };
    let mut loaded = Vec::new();
    for p in plan {
        let what = p.what.clone();
        let id = work.prepare_image(p.config, &p.layers, &what)?;
        loaded.push(Loaded { id, names: p.names });
    }
    let committed = work.commit()?;
    if let Err(e) = name_images(tags, &loaded) {
        undo(graph, &committed);
        return Err(e);
    }
    Ok(loaded)
}

/// The images `manifest.json` lists.
fn docker_plan(staged: &Staged) -> Result<Vec<Planned<'_>>> {
    let doc = staged.small(staged.blob(MANIFEST_JSON, "the archive")?, MAX_MANIFEST)?;
    let entries: Vec<ManifestEntry> = serde_json::from_slice(&doc)
        .map_err(|e| Error::corrupt(format!("manifest.json is malformed: {e}")))?;
    let mut plan = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        let what = format!("image {} of manifest.json", n + 1);
        let config = staged.blob(&e.config, &what)?;
        let layers = (e.layers.iter())
            .map(|l| staged.blob(l, &what))
            .collect::<Result<Vec<_>>>()?;
        let names = (e.repo_tags.iter())
            .map(|t| local_name(t))
            .collect::<Result<Vec<_>>>()?;
        plan.push(Planned {
            what,
            config: staged.small(config, MAX_CONFIG)?,
            layers,
            names,
        });
    }
    Ok(plan)
}

/// The images `index.json` lists (an index in it stands for this platform's manifest).
fn oci_plan(staged: &Staged) -> Result<Vec<Planned<'_>>> {
    let doc = staged.small(staged.blob(INDEX_JSON, "the archive")?, MAX_MANIFEST)?;
    let index: OciIndex = serde_json::from_slice(&doc)
        .map_err(|e| Error::corrupt(format!("index.json is malformed: {e}")))?;
    if index.schema_version != 2 {
        return Err(Error::corrupt(format!(
            "index.json has schemaVersion {}, expected 2",
            index.schema_version
        )));
    }
    let mut plan: Vec<Planned<'_>> = Vec::new();
    let mut by_manifest: Vec<Digest> = Vec::new();
    for e in &index.manifests {
        let what = format!("the manifest {} of index.json", e.digest);
        let name = index_name(e)?;
        let man = oci_manifest(staged, &e.digest, e.size, &what)?;
        // One image named several times appears once per name.
        if let Some(k) = by_manifest.iter().position(|d| *d == e.digest) {
            plan[k].names.extend(name);
            continue;
        }
        let config = staged.blob_by_digest(&man.config.digest, man.config.size, &what)?;
        let layers = (man.layers.iter())
            .map(|l| staged.blob_by_digest(&l.digest, l.size, &what))
            .collect::<Result<Vec<_>>>()?;
        by_manifest.push(e.digest.clone());
        plan.push(Planned {
            what,
            config: staged.small(config, MAX_CONFIG)?,
            layers,
            names: name.into_iter().collect(),
        });
    }
    Ok(plan)
}

/// The image manifest blob `digest`, or this platform's manifest of the index it is.
fn oci_manifest(staged: &Staged, digest: &Digest, size: u64, what: &str) -> Result<Manifest> {
    let body = staged.small(staged.blob_by_digest(digest, size, what)?, MAX_MANIFEST)?;
    match manifest::parse(what, "", &body)? {
        Document::Manifest(m) => Ok(m),
        Document::Index(idx) => {
            let d = manifest::choose_platform(what, &idx)?;
            let inner = format!("the manifest {} of {what}", d.digest);
            let body = staged.small(
                staged.blob_by_digest(&d.digest, d.size, &inner)?,
                MAX_MANIFEST,
            )?;
            match manifest::parse(&inner, "", &body)? {
                Document::Manifest(m) => Ok(m),
                Document::Index(_) => Err(Error::corrupt(format!(
                    "{inner} is an index inside an index"
                ))),
            }
        }
    }
}

/// The registrations of one load, not yet in place.
struct Work<'g, 's> {
    graph: &'g Graph,
    staged: &'s Staged,
    prepared: Vec<Prepared<'g>>,
    /// Images of the archive already prepared or found in the graph.
    seen: HashSet<String>,
}

impl<'g> Work<'g, '_> {
    /// Check one image's config against its layers and unpack the layers the graph lacks;
    /// returns the id of its configuration image.
    fn prepare_image(
        &mut self,
        config_bytes: Vec<u8>,
        layers: &[&Blob],
        what: &str,
    ) -> Result<String> {
        let man = Manifest {
            schema_version: 2,
            media_type: String::new(),
            config: Descriptor {
                media_type: String::new(),
                digest: Digest::of(&config_bytes),
                size: config_bytes.len() as u64,
                platform: None,
            },
            layers: (layers.iter())
                .map(|b| Descriptor {
                    media_type: String::new(),
                    digest: b.digest.clone(),
                    size: b.size,
                    platform: None,
                })
                .collect(),
        };
        if layers.len() > manifest::MAX_LAYERS {
            return Err(Error::unsupported(format!(
                "{what} has {} layers; at most {} are supported",
                layers.len(),
                manifest::MAX_LAYERS
            )));
        }
        let config = manifest::parse_config(&format!("the config of {what}"), &config_bytes, &man)?;
        let created = config.created.unwrap_or_else(Utc::now);
        let steps = layer_history(&config, created);
        let mut parent: Option<String> = None;
        for ((blob, diff_id), step) in layers.iter().zip(&config.rootfs.diff_ids).zip(steps) {
            let id = layer_id(parent.as_deref(), diff_id);
            if self.seen.insert(id.clone()) {
                if self.graph.exists(&id) {
                    check_existing(self.graph, &id, &parent, diff_id, blob)?;
                } else {
                    let image = layer_image(&id, &parent, step);
                    let p = prepare_layer(self.graph, self.staged, blob, diff_id, image)
                        .map_err(|e| e.context(format_args!("{what}: layer {}", blob.path)))?;
                    self.prepared.push(p);
                }
            }
            parent = Some(id);
        }
        let top = config_image_id(parent.as_deref(), &man.config.digest);
        if self.seen.insert(top.clone()) && !self.graph.exists(&top) {
            let image = config_image(&top, parent, &config, created);
            let p = self
                .graph
                .prepare_stream(image, std::io::empty(), |_| Ok(()))?;
            self.prepared.push(p);
        }
        Ok(top)
    }

    /// Put every prepared image in place, parents first; on a failure, take out again those
    /// already put in place. Returns their ids.
    fn commit(self) -> Result<Vec<String>> {
        let mut committed = Vec::new();
        for p in self.prepared {
            match p.commit() {
                Ok(img) => committed.push(img.id),
                Err(e) => {
                    undo(self.graph, &committed);
                    return Err(e);
                }
            }
        }
        Ok(committed)
    }
}

/// An image of the graph with a layer's id must be that layer (as a pull checks it).
fn check_existing(
    graph: &Graph,
    id: &str,
    parent: &Option<String>,
    diff_id: &Digest,
    blob: &Blob,
) -> Result<()> {
    let existing = graph.get(id)?;
    let same = existing
        .registry
        .as_ref()
        .is_some_and(|reg| reg.diff_id == diff_id.as_str())
        && existing.parent == *parent;
    if same {
        return Ok(());
    }
    Err(Error::corrupt(format!(
        "layer {} of the archive: the local image {id} has its id but not its content (diff id {diff_id})",
        blob.path
    )))
}

/// The creation time and comment of each layer: from the config's history entries that
/// made a layer when there is one per layer (so that saving a loaded image gives its config
/// back), else the image's creation time.
fn layer_history(config: &ImageConfigBlob, created: DateTime<Utc>) -> Vec<(DateTime<Utc>, String)> {
    let made: Vec<_> = config.history.iter().filter(|h| !h.empty_layer).collect();
    let n = config.rootfs.diff_ids.len();
    if made.len() != n {
        return vec![(created, String::new()); n];
    }
    (made.iter())
        .map(|h| {
            (
                h.created.unwrap_or(created),
                h.comment.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn layer_image(
    id: &str,
    parent: &Option<String>,
    (created, comment): (DateTime<Utc>, String),
) -> Image {
    Image {
        id: id.to_string(),
        parent: parent.clone(),
        comment,
        created,
        container: None,
        container_config: None,
        config: None,
        registry: None,
    }
}

fn config_image(
    id: &str,
    parent: Option<String>,
    config: &ImageConfigBlob,
    created: DateTime<Utc>,
) -> Image {
    Image {
        config: Some(
            (config.config.as_ref())
                .map(manifest::defaults_of)
                .unwrap_or_default(),
        ),
        ..layer_image(id, &parent, (created, String::new()))
    }
}

/// The media type of a layer blob compressed with `c`.
fn layer_media_type(c: Compression) -> String {
    match c {
        Compression::None => OCI_LAYER.to_string(),
        Compression::Gzip => OCI_LAYER_GZIP.to_string(),
        Compression::Bzip2 => format!("{OCI_LAYER}+bzip2"),
        Compression::Xz => format!("{OCI_LAYER}+xz"),
    }
}

/// Unpack one layer blob into `:tmp:` as `image`, checking that its content is `diff_id`.
fn prepare_layer<'g>(
    graph: &'g Graph,
    staged: &Staged,
    blob: &Blob,
    diff_id: &Digest,
    mut image: Image,
) -> Result<Prepared<'g>> {
    let (kind, plain) = archive::decompress(staged.reader(blob))
        .map_err(|e| Error::io(format!("reading layer {}", blob.path), e))?;
    image.registry = Some(RegistryLayer {
        digest: blob.digest.to_string(),
        diff_id: diff_id.to_string(),
        size: blob.size,
        media_type: layer_media_type(kind),
    });
    graph.prepare_stream(image, HashReader::new(plain), |r| {
        r.drain().map_err(io_error)?;
        let got = r.digest();
        if &got != diff_id {
            return Err(Error::corrupt(format!(
                "layer {} unpacks to content with diff id {got}, but the image config says {diff_id}",
                blob.path
            )));
        }
        Ok(())
    })
}

/// Take out the images `ids` put in place (newest first).
fn undo(graph: &Graph, ids: &[String]) {
    for id in ids.iter().rev() {
        let _ = graph.delete(id);
    }
    let _ = graph.garbage_collect();
}

/// Point each loaded name at its image (moving it, as docker does); on a failure, put back
/// the names already moved.
fn name_images(tags: &TagStore, loaded: &[Loaded]) -> Result<()> {
    let mut done: Vec<(String, String, Option<String>)> = Vec::new();
    for l in loaded {
        for (repo, tag) in &l.names {
            let step = tags
                .get(repo, tag)
                .and_then(|old| tags.set(repo, tag, &l.id, true).map(|()| old));
            match step {
                Ok(old) => done.push((repo.clone(), tag.clone(), old)),
                Err(e) => {
                    for (repo, tag, old) in done.iter().rev() {
                        let _ = match old {
                            Some(id) => tags.set(repo, tag, id, true),
                            None => tags.remove(repo, tag).map(|_| ()),
                        };
                    }
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}
