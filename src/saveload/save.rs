//! `save`: images of the graph as docker 25 writes them, docker's archive format with the OCI
//! image layout inside, which docker 20.10 (`manifest.json`), skopeo (`docker-archive:` and
//! `oci-archive:`) and containerd (`ctr image import`) all read:
//!
//! - `blobs/sha256/HEX`: each layer as an uncompressed tar (packed as `push` packs it; its
//!   digest is its diff id), each image config, each OCI image manifest; a layer shared by
//!   several images is stored once;
//! - `index.json`: one manifest descriptor per name, annotated with the name for containerd
//!   (`io.containerd.image.name`) and docker (`org.opencontainers.image.ref.name`: the tag);
//! - `manifest.json`: per image its config, names (`RepoTags`) and layer paths;
//! - `oci-layout` and docker's legacy `repositories`.
//!
//! The output depends only on the images: entries in a fixed order with fixed owners, modes
//! and times, so the same images always give the same bytes. Layers are packed into an
//! anonymous temporary file first (a tar header needs the size, a blob's name its digest).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};

use super::format::{
    full_name, IndexEntry, ManifestEntry, OciIndex, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME,
    INDEX_JSON, MANIFEST_JSON, OCI_CONFIG, OCI_LAYOUT, OCI_LAYOUT_CONTENT, REPOSITORIES,
};
use super::staging;
use crate::error::{Error, Result};
use crate::image::graph::TMP_DIR;
use crate::image::Graph;
use crate::registry::convert;
use crate::registry::digest::HashReader;
use crate::registry::manifest::{Descriptor, Manifest, OCI_INDEX, OCI_LAYER, OCI_MANIFEST};
use crate::registry::Digest;

const BUF_SIZE: usize = 1 << 20;

/// An image to save and the names (`repo`, `tag`) it is saved under (none: by id only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveItem {
    pub id: String,
    pub names: Vec<(String, String)>,
}

/// Where a blob's content is: packed in the scratch file, or in memory.
enum Source {
    Scratch { offset: u64, size: u64 },
    Bytes(Vec<u8>),
}

/// What the archive will hold, gathered before anything is written.
#[derive(Default)]
struct Plan {
    blobs: Vec<(Digest, Source)>,
    stored: HashSet<Digest>,
    index: Vec<IndexEntry>,
    manifest: Vec<ManifestEntry>,
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

impl Plan {
    fn add(&mut self, digest: &Digest, source: Source) {
        if self.stored.insert(digest.clone()) {
            self.blobs.push((digest.clone(), source));
        }
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn json(what: &str, v: &impl serde::Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::corrupt(format!("encoding {what}: {e}")))
}

/// Write the archive of `items` (images of `graph`) to `out`.
pub fn save(graph: &Graph, items: &[SaveItem], out: impl Write) -> Result<()> {
    let scratch = staging::anonymous_file(&graph.path().join(TMP_DIR))?;
    let mut packed: HashMap<String, (Digest, u64, u64)> = HashMap::new();
    let mut end = 0u64;
    let mut plan = Plan::default();
    for item in items {
        let mut chain = graph.history(&item.id)?;
        chain.reverse();
        let (history, layer_images) = convert::history_of(graph, &chain)?;
        let mut layers = Vec::new();
        for img in layer_images {
            let (digest, offset, size) = match packed.get(&img.id) {
                Some(p) => p.clone(),
                None => {
                    let (digest, size) = pack_into(graph, &img.id, &scratch)
                        .map_err(|e| e.context(format_args!("packing layer {}", img.id)))?;
                    let p = (digest, end, size);
                    end += size;
                    packed.insert(img.id.clone(), p.clone());
                    p
                }
            };
            plan.add(&digest, Source::Scratch { offset, size });
            layers.push(Descriptor {
                media_type: OCI_LAYER.to_string(),
                digest,
                size,
                platform: None,
            });
        }
        let diff_ids = layers.iter().map(|l| l.digest.clone()).collect();
        let config = json(
            "the image config",
            &convert::config_blob(&chain, diff_ids, history)?,
        )?;
        add_image(&mut plan, item, config, layers)?;
    }
    write_archive(&plan, &scratch, out)
}

/// Add one image's config, manifest and names to `plan`.
fn add_image(
    plan: &mut Plan,
    item: &SaveItem,
    config: Vec<u8>,
    layers: Vec<Descriptor>,
) -> Result<()> {
    let config_desc = Descriptor {
        media_type: OCI_CONFIG.to_string(),
        digest: Digest::of(&config),
        size: config.len() as u64,
        platform: None,
    };
    plan.add(&config_desc.digest, Source::Bytes(config));
    let man = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.to_string(),
        config: config_desc.clone(),
        layers,
    };
    let man_bytes = json("the image manifest", &man)?;
    let man_digest = Digest::of(&man_bytes);
    let entry = |annotations| IndexEntry {
        media_type: OCI_MANIFEST.to_string(),
        digest: man_digest.clone(),
        size: man_bytes.len() as u64,
        annotations,
        platform: None,
    };
    if item.names.is_empty() {
        plan.index.push(entry(BTreeMap::new()));
    }
    for (repo, tag) in &item.names {
        plan.index.push(entry(BTreeMap::from([
            (ANNOTATION_IMAGE_NAME.to_string(), full_name(repo, tag)),
            (ANNOTATION_REF_NAME.to_string(), tag.clone()),
        ])));
        let top = man.layers.last().map_or(&config_desc.digest, |l| &l.digest);
        plan.repositories
            .entry(repo.clone())
            .or_default()
            .insert(tag.clone(), top.hex().to_string());
    }
    plan.manifest.push(ManifestEntry {
        config: blob_path(&config_desc.digest),
        repo_tags: item.names.iter().map(|(r, t)| format!("{r}:{t}")).collect(),
        layers: man.layers.iter().map(|l| blob_path(&l.digest)).collect(),
    });
    plan.add(&man_digest, Source::Bytes(man_bytes));
    Ok(())
}

/// Pack image `id`'s layer at the end of `scratch`; returns its digest and size.
fn pack_into(graph: &Graph, id: &str, scratch: &File) -> Result<(Digest, u64)> {
    convert::with_packed_layer(graph, id, |tar| {
        let mut hashed = HashReader::new(tar);
        let mut w = BufWriter::with_capacity(BUF_SIZE, scratch);
        io::copy(&mut hashed, &mut w).map_err(|e| Error::io("packing the layer", e))?;
        w.flush()
            .map_err(|e| Error::io("writing the scratch file", e))?;
        let (_, digest, size) = hashed.into_parts();
        Ok((digest, size))
    })
}

/// A tar header of fixed owner and time.
fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn write_archive(plan: &Plan, scratch: &File, out: impl Write) -> Result<()> {
    let bad = |e: io::Error| Error::io("writing the image archive", e);
    let mut tar = tar::Builder::new(BufWriter::with_capacity(BUF_SIZE, out));
    for dir in ["blobs/", "blobs/sha256/"] {
        tar.append_data(&mut header(tar::EntryType::Directory, 0), dir, io::empty())
            .map_err(bad)?;
    }
    for (digest, source) in &plan.blobs {
        let path = blob_path(digest);
        match source {
            Source::Scratch { offset, size } => {
                let r = staging::FileSlice::new(scratch, *offset, *size);
                let mut h = header(tar::EntryType::Regular, *size);
                tar.append_data(&mut h, &path, r).map_err(bad)?;
            }
            Source::Bytes(b) => {
                let mut h = header(tar::EntryType::Regular, b.len() as u64);
                tar.append_data(&mut h, &path, &b[..]).map_err(bad)?;
            }
        }
    }
    let index = OciIndex {
        schema_version: 2,
        media_type: OCI_INDEX.to_string(),
        manifests: plan.index.clone(),
    };
    let docs = [
        (INDEX_JSON, json("index.json", &index)?),
        (MANIFEST_JSON, json("manifest.json", &plan.manifest)?),
        (OCI_LAYOUT, OCI_LAYOUT_CONTENT.as_bytes().to_vec()),
        (REPOSITORIES, json("repositories", &plan.repositories)?),
    ];
    for (name, data) in docs {
        let mut h = header(tar::EntryType::Regular, data.len() as u64);
        tar.append_data(&mut h, name, &data[..]).map_err(bad)?;
    }
    let mut w = tar.into_inner().map_err(bad)?;
    w.flush().map_err(bad)
}
