//! An image of the graph in the form registries and image archives share: the image config
//! blob (the top image's defaults, one diff id per layer, the chain's history) and each
//! layer's tar as commit and export pack it. `push` sends these to a registry, `save` writes
//! them into an archive.

use std::fs::File;
use std::io::{self, BufReader};
use std::thread;

use super::digest::Digest;
use super::manifest::{self, History, ImageConfigBlob, RootFs};
use crate::error::{Error, ErrorKind, Result};
use crate::image::{pack_layer, Graph, Image, ImageConfig};

const PIPE_BUF: usize = 1 << 20;

/// True for the layerless image a pull or a load puts on top of an image's layers to carry
/// its config: it stands for the config itself, not for a step of the image's history.
fn carries_config_only(img: &Image) -> bool {
    img.config.is_some() && img.container.is_none() && img.comment.is_empty()
}

/// The config's history of `chain` (base first), and the images of it that have a layer.
pub fn history_of<'c>(graph: &Graph, chain: &'c [Image]) -> Result<(Vec<History>, Vec<&'c Image>)> {
    let mut history = Vec::new();
    let mut layers = Vec::new();
    for img in chain {
        let empty = graph.layer_is_empty(&img.id)?;
        if empty && carries_config_only(img) {
            continue;
        }
        history.push(History {
            created: Some(img.created),
            created_by: None,
            comment: Some(img.comment.clone()).filter(|c| !c.is_empty()),
            empty_layer: empty,
        });
        if !empty {
            layers.push(img);
        }
    }
    Ok((history, layers))
}

/// The image config blob of `chain` (base first), whose layers have `diff_ids`: created when
/// its top image was, with the nearest defaults (`Env`, `Cmd`...) along the chain.
pub fn config_blob(
    chain: &[Image],
    diff_ids: Vec<Digest>,
    history: Vec<History>,
) -> Result<ImageConfigBlob> {
    let top = chain
        .last()
        .ok_or_else(|| Error::corrupt("an image without history"))?;
    Ok(ImageConfigBlob {
        created: Some(top.created),
        architecture: manifest::host_arch().to_string(),
        os: "linux".to_string(),
        // An empty config says nothing: left out, as the image it came from had none.
        config: (chain.iter().rev().find_map(|i| i.config.clone()))
            .filter(|c| *c != ImageConfig::default()),
        rootfs: RootFs {
            kind: "layers".to_string(),
            diff_ids,
        },
        history,
    })
}

/// Pack image `id`'s layer (`pack_layer`: the tar commit and export make) and hand the plain
/// tar stream to `use_tar`. The packer runs on its own thread behind a pipe; whatever
/// `use_tar` read, the pipe is read to its end afterwards so the packer never blocks. An error
/// of `use_tar` wins; else the packer's (a stream cut short by it is not a layer).
pub fn with_packed_layer<T>(
    graph: &Graph,
    id: &str,
    use_tar: impl FnOnce(&mut BufReader<File>) -> Result<T>,
) -> Result<T> {
    let (rd, wr) = nix::unistd::pipe().map_err(|e| Error::errno("creating a pipe", e))?;
    let layer_dir = graph.layer_dir(id)?;
    let packer = thread::spawn(move || pack_layer(&layer_dir, File::from(wr)));
    let mut tar = BufReader::with_capacity(PIPE_BUF, File::from(rd));
    let used = use_tar(&mut tar);
    let _ = io::copy(&mut tar, &mut io::sink());
    drop(tar);
    let packed = packer
        .join()
        .unwrap_or_else(|_| Err(Error::new(ErrorKind::Io, "the layer packer panicked")));
    match (used, packed) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}
