//! `push`: each layer of the image's chain (base first) is uploaded unless the registry holds
//! it already, then the image config and a Docker schema 2 manifest under the tag.
//!
//! A layer whose registry form is known (it was pulled, or pushed before: the image json's
//! `registry` record) is looked up first with a HEAD and skipped when present; otherwise the
//! blob kept when it was pulled (`layer.blob`) is uploaded as it is. Failing that it is
//! packed (`pack_layer`, the same tar that commit and export make), hashed (the diff id),
//! gzip-compressed ([`super::gzip`]: fastest level, incompressible data stored), hashed again (the blob digest) and streamed to the registry in one PATCH
//! with no temporary file; the upload is finished with the digest only once the packer has
//! succeeded, and the record is saved for the next push. Layerless images (a pulled image's
//! configuration image, a commit without changes) add no layer.

use std::fs::File;
use std::io::BufReader;
use std::sync::atomic::AtomicBool;

use super::client::{Client, Credentials};
use super::convert;
use super::digest::{Digest, HashReader};
use super::gzip::GzipReader;
use super::manifest::{
    Descriptor, History, Manifest, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, OCI_LAYER_GZIP,
};
use super::name::Reference;
use super::progress::{Progress, ProgressReader};
use crate::error::{Error, ErrorKind, Result};
use crate::ids;
use crate::image::{Graph, Image, RegistryLayer};
use crate::tags::TagStore;

const PIPE_BUF: usize = 1 << 20;

/// A layer as the manifest and the config name it.
struct Pushed {
    descriptor: Descriptor,
    diff_id: Digest,
}

impl Pushed {
    /// A gzip layer blob `digest` of `size` bytes whose content has `diff_id`.
    fn layer(digest: Digest, size: u64, diff_id: Digest) -> Pushed {
        Pushed {
            descriptor: Descriptor {
                media_type: DOCKER_LAYER.to_string(),
                digest,
                size,
                platform: None,
            },
            diff_id,
        }
    }
}

/// The reusable registry form of an image's layer, if it has a valid, gzip-compressed one.
fn known_layer(img: &Image) -> Option<(Digest, Digest, u64)> {
    let reg = img.registry.as_ref()?;
    if reg.media_type != DOCKER_LAYER && reg.media_type != OCI_LAYER_GZIP {
        return None;
    }
    Some((
        Digest::parse(&reg.digest).ok()?,
        Digest::parse(&reg.diff_id).ok()?,
        reg.size,
    ))
}

/// Push the image `r` names in `tags` (`NAME[:TAG]`, the name naming the registry) from
/// `graph` to its registry, with `creds`. Returns the manifest's digest.
pub fn push(
    graph: &Graph,
    tags: &TagStore,
    creds: Option<Credentials>,
    trust: &super::trust::RegistryOptions,
    r: &Reference,
    progress: &Progress<'_>,
) -> Result<Digest> {
    if r.digest.is_some() {
        return Err(Error::invalid(format!(
            "push takes NAME[:TAG], not a digest: {}",
            r.name
        )));
    }
    let tag = r.tag_or_default();
    let id = tags.get(&r.name, tag)?.ok_or_else(|| {
        Error::not_found(format!(
            "no such image: {}:{tag} (tag an image with that name first: docker tag IMAGE {}:{tag})",
            r.name, r.name
        ))
    })?;
    let mut chain = graph.history(&id)?;
    chain.reverse();
    let client = Client::new(r.host(), &r.path, creds, trust)?;
    progress.line(&format!("The push refers to repository [{}]", r.name));

    let (history, to_push) = convert::history_of(graph, &chain)?;
    let layers = push_layers(graph, &client, &to_push, r, progress)?;
    let config = push_config(&client, &chain, &layers, history)?;
    let man = Manifest {
        schema_version: 2,
        media_type: DOCKER_MANIFEST.to_string(),
        config,
        layers: layers.into_iter().map(|l| l.descriptor).collect(),
    };
    let body = serde_json::to_vec_pretty(&man)
        .map_err(|e| Error::corrupt(format!("encoding the manifest: {e}")))?;
    let digest = Digest::of(&body);
    let reported = client
        .put_manifest(tag, DOCKER_MANIFEST, &body)
        .map_err(|e| e.context(format_args!("pushing the manifest of {}:{tag}", r.name)))?;
    if let Some(rep) = reported {
        if rep != digest.as_str() {
            return Err(Error::new(
                ErrorKind::Remote,
                format!(
                    "registry {} stored the manifest of {}:{tag} under digest {rep}, not {digest}",
                    r.host(),
                    r.name
                ),
            ));
        }
    }
    progress.line(&format!("{tag}: digest: {digest} size: {}", body.len()));
    Ok(digest)
}

/// Upload the layers of `to_push` the registry lacks, several at a time; returns how the
/// manifest names them, in order.
fn push_layers(
    graph: &Graph,
    client: &Client,
    to_push: &[&Image],
    r: &Reference,
    progress: &Progress<'_>,
) -> Result<Vec<Pushed>> {
    let mut layers: Vec<Pushed> = Vec::new();
    let cancel = AtomicBool::new(false);
    super::parallel::ordered_parallel(
        to_push.len(),
        super::parallel::CONCURRENT_LAYERS,
        &cancel,
        |i| {
            let img = to_push[i];
            push_layer(graph, client, img, progress, &cancel).map_err(|e| {
                e.context(format_args!(
                    "pushing layer {} of {}",
                    ids::short(&img.id),
                    r.name
                ))
            })
        },
        |_, pushed| {
            layers.push(pushed);
            Ok(())
        },
    )?;
    Ok(layers)
}

/// Upload the image config of `chain` (unless the registry has it); returns how the manifest
/// names it.
fn push_config(
    client: &Client,
    chain: &[Image],
    layers: &[Pushed],
    history: Vec<History>,
) -> Result<Descriptor> {
    let diff_ids = layers.iter().map(|l| l.diff_id.clone()).collect();
    let config = convert::config_blob(chain, diff_ids, history)?;
    let config_bytes = serde_json::to_vec(&config)
        .map_err(|e| Error::corrupt(format!("encoding the image config: {e}")))?;
    let config_digest = Digest::of(&config_bytes);
    if client.blob_size(&config_digest)? != Some(config_bytes.len() as u64) {
        client
            .upload_bytes(&config_digest, &config_bytes)
            .map_err(|e| e.context("pushing the image config"))?;
    }
    Ok(Descriptor {
        media_type: DOCKER_CONFIG.to_string(),
        digest: config_digest,
        size: config_bytes.len() as u64,
        platform: None,
    })
}

/// Upload the file `path` as the blob `digest` (the registry checks the digest).
fn upload_file(
    client: &Client,
    path: &std::path::Path,
    digest: &Digest,
    size: u64,
    short: &str,
    progress: &Progress<'_>,
    cancel: &AtomicBool,
) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io_path("opening", path, e))?;
    let location = client.start_upload()?;
    let bar = progress.start(short, "Pushing", Some(size));
    let mut body = ProgressReader::new(
        BufReader::with_capacity(PIPE_BUF, file),
        progress,
        bar,
        cancel,
    );
    let finished = client
        .patch_upload(&location, &mut body)
        .and_then(|next| client.finish_upload(&next, digest));
    if let Err(e) = finished {
        client.cancel_upload(&location);
        return Err(e);
    }
    progress.done(bar, "Pushed");
    Ok(())
}

/// Upload one image's layer unless the registry has it; returns how the manifest names it.
fn push_layer(
    graph: &Graph,
    client: &Client,
    img: &Image,
    progress: &Progress<'_>,
    cancel: &AtomicBool,
) -> Result<Pushed> {
    let short = ids::short(&img.id).to_string();
    if let Some((digest, diff_id, size)) = known_layer(img) {
        if client.blob_size(&digest)? == Some(size) {
            progress.note(&short, "Layer already exists");
            return Ok(Pushed::layer(digest, size, diff_id));
        }
        // The blob kept at pull time goes up as it is: nothing to pack or compress.
        if let Some((path, _)) = graph.blob(&img.id)?.filter(|(_, len)| *len == size) {
            match upload_file(client, &path, &digest, size, &short, progress, cancel) {
                Ok(()) => return Ok(Pushed::layer(digest, size, diff_id)),
                Err(e) => progress.note(
                    &short,
                    &format!("the stored blob did not upload ({e}); packing the layer again"),
                ),
            }
        }
    }
    let location = client.start_upload()?;
    let bar = progress.start(&short, "Pushing", None);
    let sent = convert::with_packed_layer(graph, &img.id, |tar| {
        let gz = GzipReader::new(HashReader::new(tar));
        let mut blob = ProgressReader::new(HashReader::new(gz), progress, bar, cancel);
        let next = client.patch_upload(&location, &mut blob)?;
        let (gz, digest, size) = blob.into_inner().into_parts();
        let (_, diff_id, _) = gz.into_inner().into_parts();
        Ok((next, digest, size, diff_id))
    });
    let (next, digest, size, diff_id) = match sent {
        Ok(v) => v,
        Err(e) => {
            client.cancel_upload(&location);
            return Err(e);
        }
    };
    client.finish_upload(&next, &digest)?;
    progress.done(bar, "Pushed");
    let record = RegistryLayer {
        digest: digest.to_string(),
        diff_id: diff_id.to_string(),
        size,
        media_type: DOCKER_LAYER.to_string(),
    };
    if img.registry.as_ref() != Some(&record) {
        graph.set_registry_layer(&img.id, record)?;
    }
    Ok(Pushed::layer(digest, size, diff_id))
}
