//! `pull`: manifest, config, then each layer streamed from the registry through a digest
//! check, the decompressor and a diff-id check into the graph's safe unpacker.
//!
//! Image ids never come from the wire unchecked: layer `n` becomes the image whose id is the
//! OCI chain id of the layers up to it (`diff_id` for the first, then
//! `sha256("sha256:PARENT DIFF_ID")`), so a layer pulled once is found again by any image that
//! shares the same layers below it, and is skipped. Such an image is only reused when its
//! json records that very diff id (it was itself verified by a pull or a push). The top of
//! the chain is a layerless image that carries the configuration (`Env`, `Cmd`,
//! `Entrypoint`, `WorkingDir`, `User`), with id `sha256("PARENT CONFIG_DIGEST")`; the tag
//! points at it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};

use super::client::{Client, Credentials};
use super::digest::{io_error, sha256_hex, Digest, HashReader, VerifyReader};
use super::manifest::{
    self, Descriptor, Document, ImageConfigBlob, Manifest, ACCEPT, DOCKER_LAYER, MAX_CONFIG,
    MAX_MANIFEST, OCI_LAYER_GZIP,
};
use super::name::Reference;
use super::progress::{Progress, ProgressReader};
use crate::error::{Error, ErrorKind, Result};
use crate::image::{archive, Graph, Image, Prepared, RegistryLayer};
use crate::tags::TagStore;

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The image the reference now names (the configuration image at the top).
    pub id: String,
    /// The digest of the manifest (or of the index) the reference named.
    pub digest: Digest,
    /// How many layers were downloaded (0: everything was there).
    pub downloaded: usize,
}

/// The image id of a layer on top of `parent` (the OCI chain id).
pub fn layer_id(parent: Option<&str>, diff_id: &Digest) -> String {
    match parent {
        None => diff_id.hex().to_string(),
        Some(p) => sha256_hex(format!("sha256:{p} {diff_id}").as_bytes()),
    }
}

/// The id of the configuration image on top of `parent`.
pub fn config_image_id(parent: Option<&str>, config: &Digest) -> String {
    sha256_hex(format!("{} {config}", parent.unwrap_or_default()).as_bytes())
}

/// Fetch the manifest `r` names, following an index to this platform's manifest. Returns the
/// digest of what `r` names and the image manifest.
fn fetch_manifest(client: &Client, r: &Reference) -> Result<(Digest, Manifest)> {
    let reference = r.manifest_ref();
    let what = format!("the manifest of {}:{reference}", r.name);
    let (ct, body) = client.get_manifest(&reference, ACCEPT, MAX_MANIFEST)?;
    let digest = Digest::of(&body);
    if let Some(want) = &r.digest {
        if &digest != want {
            return Err(Error::corrupt(format!(
                "{what} does not match its digest: the registry sent content with digest {digest}"
            )));
        }
    }
    match manifest::parse(&what, &ct, &body)? {
        Document::Manifest(m) => Ok((digest, m)),
        Document::Index(idx) => {
            let d = manifest::choose_platform(&what, &idx)?;
            let what = format!("the manifest {} of {}", d.digest, r.name);
            if d.size > MAX_MANIFEST {
                return Err(Error::corrupt(format!(
                    "{what} is {} bytes, more than the {MAX_MANIFEST} accepted",
                    d.size
                )));
            }
            let (ct, body) = client.get_manifest(d.digest.as_str(), ACCEPT, MAX_MANIFEST)?;
            if Digest::of(&body) != d.digest || body.len() as u64 != d.size {
                return Err(Error::corrupt(format!(
                    "{what} does not match the digest and size its index gives"
                )));
            }
            match manifest::parse(&what, &ct, &body)? {
                Document::Manifest(m) => Ok((digest, m)),
                Document::Index(_) => Err(Error::corrupt(format!(
                    "{what} is an index inside an index"
                ))),
            }
        }
    }
}

/// Download a small blob (the config) whole, verified.
fn fetch_small_blob(client: &Client, d: &Descriptor, max: u64, what: &str) -> Result<Vec<u8>> {
    if d.size > max {
        return Err(Error::corrupt(format!(
            "{what} is {} bytes, more than the {max} accepted",
            d.size
        )));
    }
    let resp = client.get_blob(&d.digest)?;
    let mut r = VerifyReader::new(
        resp.into_body().into_reader(),
        d.digest.clone(),
        d.size,
        what.to_string(),
    );
    let mut out = Vec::new();
    io::Read::read_to_end(&mut r, &mut out).map_err(|e| {
        let e = io_error(e);
        match r.outcome().borrow().clone() {
            Some(Err(ours)) => ours,
            _ => e.context(format_args!("reading {what}")),
        }
    })?;
    r.verify()?;
    Ok(out)
}

/// One layer of the image being pulled.
struct Step<'m> {
    layer: &'m Descriptor,
    diff_id: &'m Digest,
    id: String,
    parent: Option<String>,
}

/// Pull `r` into `graph` and tag it in `tags` (a pull by digest tags nothing), asking the
/// registry with `creds`. Missing layers are downloaded and unpacked
/// [`super::parallel::CONCURRENT_LAYERS`] at a time, and put in the graph in order as each is ready.
pub fn pull(
    graph: &Graph,
    tags: &TagStore,
    creds: Option<Credentials>,
    trust: &super::trust::RegistryOptions,
    r: &Reference,
    progress: &Progress<'_>,
) -> Result<Pulled> {
    let client = Client::new(r.host(), &r.path, creds, trust)?;
    let (digest, man) = fetch_manifest(&client, r)?;
    let shown = match &r.digest {
        Some(d) => format!("{}@{d}", r.name),
        None => format!("{}:{}", r.name, r.tag_or_default()),
    };
    progress.line(&format!("Pulling {shown}"));
    let what = format!("the image config {} of {}", man.config.digest, r.name);
    let config_bytes = fetch_small_blob(&client, &man.config, MAX_CONFIG, &what)?;
    let config = manifest::parse_config(&what, &config_bytes, &man)?;
    let created = config.created.unwrap_or_else(Utc::now);

    let steps = chain_steps(&man, &config);
    let missing = missing_steps(graph, &steps, r, progress)?;
    download_layers(graph, &client, &steps, &missing, created, r, progress)?;
    let downloaded = missing.len();

    let parent = steps.last().map(|st| st.id.clone());
    let top = config_image_id(parent.as_deref(), &man.config.digest);
    add_config_image(graph, &top, parent, &config, created)?;
    if r.digest.is_none() {
        tags.set(&r.name, r.tag_or_default(), &top, true)?;
    }
    progress.line(&format!("Digest: {digest}"));
    progress.line(&format!(
        "Status: {} for {shown}",
        if downloaded > 0 {
            "Downloaded newer image"
        } else {
            "Image is up to date"
        }
    ));
    Ok(Pulled {
        id: top,
        digest,
        downloaded,
    })
}

/// The image ids of the manifest's layers, each on top of the one before (base first).
fn chain_steps<'m>(man: &'m Manifest, config: &'m ImageConfigBlob) -> Vec<Step<'m>> {
    let mut steps = Vec::new();
    let mut parent: Option<String> = None;
    for (layer, diff_id) in man.layers.iter().zip(&config.rootfs.diff_ids) {
        let id = layer_id(parent.as_deref(), diff_id);
        steps.push(Step {
            layer,
            diff_id,
            id: id.clone(),
            parent: parent.replace(id),
        });
    }
    steps
}

/// The indexes of the steps the graph lacks. A step whose id the graph has is checked to be
/// that very layer, and shown as already there.
fn missing_steps(
    graph: &Graph,
    steps: &[Step<'_>],
    r: &Reference,
    progress: &Progress<'_>,
) -> Result<Vec<usize>> {
    let mut missing = Vec::new();
    for (n, st) in steps.iter().enumerate() {
        if !graph.exists(&st.id) {
            missing.push(n);
            continue;
        }
        let existing = graph.get(&st.id)?;
        let same = existing
            .registry
            .as_ref()
            .is_some_and(|reg| reg.diff_id == st.diff_id.as_str())
            && existing.parent == st.parent;
        if !same {
            return Err(Error::corrupt(format!(
                "layer {} of {}: the local image {} has its id but not its content (diff id {})",
                st.layer.digest, r.name, st.id, st.diff_id
            )));
        }
        progress.note(st.layer.digest.short(), "Already exists");
    }
    Ok(missing)
}

/// Download and unpack the steps `missing` names, several at a time, committing each to the
/// graph in order (with the blob kept for a later push).
fn download_layers(
    graph: &Graph,
    client: &Client,
    steps: &[Step<'_>],
    missing: &[usize],
    created: DateTime<Utc>,
    r: &Reference,
    progress: &Progress<'_>,
) -> Result<()> {
    let cancel = AtomicBool::new(false);
    let total = steps.len();
    super::parallel::ordered_parallel(
        missing.len(),
        super::parallel::CONCURRENT_LAYERS,
        &cancel,
        |k| {
            let n = missing[k];
            let st = &steps[n];
            let image = layer_image(st, created);
            prepare_layer(graph, client, st, image, progress, &cancel).map_err(|e| {
                e.context(format_args!(
                    "pulling layer {}/{total} ({}) of {}",
                    n + 1,
                    st.layer.digest,
                    r.name
                ))
            })
        },
        |_, (prepared, blob): (Prepared<'_>, Option<PathBuf>)| {
            let id = prepared.image().id.clone();
            let committed = prepared.commit();
            if let Some(staged) = blob {
                // The copy is a convenience for a later push: losing it costs nothing else.
                if committed.is_err() || graph.adopt_blob(&id, &staged).is_err() {
                    let _ = std::fs::remove_file(&staged);
                }
            }
            committed.map(|_| ())
        },
    )
}

/// The image json of a step's layer.
fn layer_image(st: &Step<'_>, created: DateTime<Utc>) -> Image {
    Image {
        id: st.id.clone(),
        parent: st.parent.clone(),
        comment: String::new(),
        created,
        container: None,
        container_config: None,
        config: None,
        registry: Some(RegistryLayer {
            digest: st.layer.digest.to_string(),
            diff_id: st.diff_id.to_string(),
            size: st.layer.size,
            media_type: st.layer.media_type.clone(),
        }),
    }
}

/// Add the layerless image `top` that carries the configuration, on top of `parent`, unless
/// the graph has it.
fn add_config_image(
    graph: &Graph,
    top: &str,
    parent: Option<String>,
    config: &ImageConfigBlob,
    created: DateTime<Utc>,
) -> Result<()> {
    if graph.exists(top) {
        return Ok(());
    }
    let image = Image {
        id: top.to_string(),
        parent,
        comment: String::new(),
        created,
        container: None,
        container_config: None,
        config: Some(
            config
                .config
                .as_ref()
                .map(manifest::defaults_of)
                .unwrap_or_default(),
        ),
        registry: None,
    };
    match graph
        .prepare_stream(image, io::empty(), |_| Ok(()))
        .and_then(|p| p.commit())
    {
        Ok(_) => Ok(()),
        // Another pull of the same image got there first.
        Err(e) if e.kind() == ErrorKind::AlreadyExists && graph.exists(top) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Copies what is read through it into a file: a gzip layer as the registry served it, kept
/// next to the unpacked layer so that a push can send it as is. Best effort: a failed write
/// stops the copy (the file is then removed by the caller, whose size check fails).
struct BlobCopy<R> {
    inner: R,
    file: Option<File>,
}

impl<R: Read> Read for BlobCopy<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(f) = &mut self.file {
            if f.write_all(&buf[..n]).is_err() {
                self.file = None;
            }
        }
        Ok(n)
    }
}

/// Keep the staged blob only when it is the whole, verified body.
fn keep_blob(staged: Option<PathBuf>, size: u64) -> Option<PathBuf> {
    let staged = staged?;
    if std::fs::metadata(&staged).is_ok_and(|m| m.len() == size) {
        Some(staged)
    } else {
        discard_blob(Some(staged));
        None
    }
}

fn discard_blob(staged: Option<PathBuf>) {
    if let Some(p) = staged {
        let _ = std::fs::remove_file(p);
    }
}

fn create_blob(path: &Path) -> Option<File> {
    File::options().write(true).create_new(true).open(path).ok()
}

/// Stream one layer into the graph's `:tmp:` as `image`: body -> progress -> (a copy of the
/// gzip blob) -> digest and size check -> decompressor -> diff-id hash -> unpacker. Returned
/// only when both digests match; otherwise nothing of it stays. With it, the staged copy of
/// the blob when one was kept.
fn prepare_layer<'g>(
    graph: &'g Graph,
    client: &Client,
    st: &Step<'_>,
    image: Image,
    progress: &Progress<'_>,
    cancel: &AtomicBool,
) -> Result<(Prepared<'g>, Option<PathBuf>)> {
    let layer = st.layer;
    let resp = client.get_blob(&layer.digest)?;
    let bar = progress.start(layer.digest.short(), "Downloading", Some(layer.size));
    let body = ProgressReader::new(resp.into_body().into_reader(), progress, bar, cancel);
    let gzip = layer.media_type == DOCKER_LAYER || layer.media_type == OCI_LAYER_GZIP;
    let staged = if gzip {
        Some(graph.blob_staging(&image.id)?)
    } else {
        None
    };
    let body = BlobCopy {
        inner: body,
        file: staged.as_deref().and_then(create_blob),
    };
    let verify = VerifyReader::new(
        body,
        layer.digest.clone(),
        layer.size,
        format!("layer {}", layer.digest),
    );
    let outcome = verify.outcome();
    let (_, plain) = archive::decompress(verify).map_err(|e| {
        let e = io_error(e);
        outcome.borrow().clone().and_then(|o| o.err()).unwrap_or(e)
    })?;
    let result = graph.prepare_stream(image, HashReader::new(plain), |r| {
        r.drain().map_err(io_error)?;
        match outcome.borrow().clone() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => {
                return Err(Error::corrupt(format!(
                    "layer {} was not read to its end",
                    layer.digest
                )))
            }
        }
        let got = r.digest();
        if &got != st.diff_id {
            return Err(Error::corrupt(format!(
                "layer {} unpacks to content with diff id {got}, but the image config says {}",
                layer.digest, st.diff_id
            )));
        }
        Ok(())
    });
    // The digest check's own error is the cause of whatever the unpacker saw.
    let checked = outcome.borrow().clone();
    let prepared = match (result, checked) {
        (Ok(p), _) => p,
        (Err(_), Some(Err(e))) | (Err(e), _) => {
            discard_blob(staged);
            return Err(e);
        }
    };
    progress.done(bar, "Pull complete");
    Ok((prepared, keep_blob(staged, layer.size)))
}
