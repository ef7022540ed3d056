//! Manifests and image configurations: Docker schema 2 and OCI image manifests, manifest lists
//! and OCI indexes (one platform is chosen), and the image config blob whose `config` gives
//! `run` its defaults and whose `rootfs.diff_ids` name each layer's uncompressed content.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use crate::error::{Error, Result};
use crate::image::ImageConfig;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What pull asks for, in order of preference.
pub const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Largest manifest read (larger ones are refused without being read whole).
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Largest image config blob read.
pub const MAX_CONFIG: u64 = 8 << 20;
/// Most layers an image may have (overlayfs stacks at most a few hundred lower layers).
pub const MAX_LAYERS: usize = 256;

/// A reference to a blob or a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest (Docker schema 2 or OCI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// A manifest list or OCI index.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub manifests: Vec<Descriptor>,
}

/// A parsed manifest document.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Manifest(Manifest),
    Index(Index),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

/// Parse a manifest document; `content_type` is the response's. `what` names it in errors.
pub fn parse(what: &str, content_type: &str, body: &[u8]) -> Result<Document> {
    let bad = |e: serde_json::Error| Error::corrupt(format!("{what} is malformed: {e}"));
    let probe: Probe = serde_json::from_slice(body).map_err(bad)?;
    let ct = content_type.split(';').next().unwrap_or_default().trim();
    let mt = probe.media_type.as_deref().unwrap_or(ct);
    if probe.schema_version == Some(1) || mt == DOCKER_SCHEMA1 || mt == DOCKER_SCHEMA1_SIGNED {
        return Err(Error::unsupported(format!(
            "{what} is a Docker schema 1 manifest, which is deprecated and not supported; push the image again with a current client"
        )));
    }
    if probe.schema_version != Some(2) {
        return Err(Error::corrupt(format!(
            "{what} has schemaVersion {:?}, expected 2",
            probe.schema_version
        )));
    }
    if mt == DOCKER_LIST || mt == OCI_INDEX || (probe.manifests.is_some() && mt.is_empty()) {
        let idx: Index = serde_json::from_slice(body).map_err(bad)?;
        return Ok(Document::Index(idx));
    }
    if mt == DOCKER_MANIFEST || mt == OCI_MANIFEST || mt.is_empty() {
        let m: Manifest = serde_json::from_slice(body).map_err(bad)?;
        if m.layers.len() > MAX_LAYERS {
            return Err(Error::unsupported(format!(
                "{what} has {} layers; at most {MAX_LAYERS} are supported",
                m.layers.len()
            )));
        }
        for l in &m.layers {
            check_layer_type(&l.media_type)
                .map_err(|e| e.context(format_args!("{what}: layer {}", l.digest)))?;
        }
        return Ok(Document::Manifest(m));
    }
    Err(Error::unsupported(format!(
        "{what} has media type {mt:?}, which is not an image manifest"
    )))
}

/// Refuse layer media types that cannot be unpacked here.
fn check_layer_type(mt: &str) -> Result<()> {
    match mt {
        DOCKER_LAYER
        | OCI_LAYER
        | OCI_LAYER_GZIP
        | "application/vnd.docker.image.rootfs.diff.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => Ok(()),
        other => Err(Error::unsupported(format!(
            "media type {other:?} is not supported (gzip-compressed or plain tar layers are)"
        ))),
    }
}

/// The Go name of this machine's architecture, as image platforms spell it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Choose the manifest of an index for this machine: linux on the host's architecture, else
/// linux/amd64.
pub fn choose_platform<'a>(what: &str, idx: &'a Index) -> Result<&'a Descriptor> {
    let is = |d: &Descriptor, arch: &str| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == arch)
    };
    idx.manifests
        .iter()
        .find(|d| is(d, host_arch()))
        .or_else(|| idx.manifests.iter().find(|d| is(d, "amd64")))
        .ok_or_else(|| {
            let have: Vec<String> = idx
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect();
            Error::not_found(format!(
                "{what} has no image for linux/{} (it has: {})",
                host_arch(),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            ))
        })
}

/// The container defaults of an image config blob (its `config` part) as the graph keeps
/// them; empty strings (as some builders write) mean "not set".
pub fn defaults_of(c: &ImageConfig) -> ImageConfig {
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    ImageConfig {
        working_dir: nonempty(&c.working_dir),
        user: nonempty(&c.user),
        ..c.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// An image config blob (Docker's and OCI's share these fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageConfigBlob {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ImageConfig>,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

/// Parse an image config blob and check it against its manifest: one diff id per layer.
pub fn parse_config(what: &str, body: &[u8], manifest: &Manifest) -> Result<ImageConfigBlob> {
    let c: ImageConfigBlob = serde_json::from_slice(body)
        .map_err(|e| Error::corrupt(format!("{what} is malformed: {e}")))?;
    if c.rootfs.kind != "layers" {
        return Err(Error::corrupt(format!(
            "{what}: rootfs type {:?} is not \"layers\"",
            c.rootfs.kind
        )));
    }
    if c.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::corrupt(format!(
            "{what} names {} layers but the manifest has {}",
            c.rootfs.diff_ids.len(),
            manifest.layers.len()
        )));
    }
    if !c.os.is_empty() && c.os != "linux" {
        return Err(Error::unsupported(format!(
            "{what} is an image for {}, not linux",
            c.os
        )));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Digest {
        Digest::of(s.as_bytes())
    }

    #[test]
    fn documents() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","digest":"{}","size":3}},"layers":[{{"mediaType":"{DOCKER_LAYER}","digest":"{}","size":5}}]}}"#,
            d("c"),
            d("l")
        );
        let Document::Manifest(man) = parse("m", "", m.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(man.layers[0].digest, d("l"));
        // An OCI manifest without mediaType, recognised by its content type.
        let oci = m.replace(&format!(r#""mediaType":"{DOCKER_MANIFEST}","#), "");
        assert!(matches!(
            parse("m", OCI_MANIFEST, oci.as_bytes()).unwrap(),
            Document::Manifest(_)
        ));
        let zstd = m.replace(DOCKER_LAYER, "application/vnd.oci.image.layer.v1.tar+zstd");
        let e = parse("m", "", zstd.as_bytes()).unwrap_err();
        assert!(e.message().contains("zstd"), "{e}");
        let e = parse("m", "", br#"{"schemaVersion":1,"fsLayers":[]}"#).unwrap_err();
        assert!(e.message().contains("schema 1"), "{e}");
        let e = parse("m", "", b"{not json").unwrap_err();
        assert!(e.message().contains("m is malformed"), "{e}");
        let e = parse(
            "m",
            "",
            m.replace(&d("l").to_string(), "sha256:../../etc")
                .as_bytes(),
        )
        .unwrap_err();
        assert!(e.message().contains("invalid digest"), "{e}");

        let idx = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
            {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"mips64le","os":"linux"}}}},
            {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"architecture":"{}","os":"linux"}}}}]}}"#,
            d("a"),
            d("b"),
            host_arch()
        );
        let Document::Index(i) = parse("i", "", idx.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(choose_platform("i", &i).unwrap().digest, d("b"));
        let none = Index {
            manifests: vec![i.manifests[0].clone()],
        };
        let e = choose_platform("i", &none).unwrap_err();
        assert!(e.message().contains("linux/mips64le"), "{e}");
    }
}
