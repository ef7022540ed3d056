//! The documents of an image archive: docker's `manifest.json` and `repositories`, and the OCI
//! image layout's `oci-layout` and `index.json` with the annotations that name an image.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::reference::{split_domain, split_tag, validate_repo, validate_tag, DEFAULT_TAG};
use crate::registry::manifest::Platform;
use crate::registry::Digest;

pub const MANIFEST_JSON: &str = "manifest.json";
pub const INDEX_JSON: &str = "index.json";
pub const OCI_LAYOUT: &str = "oci-layout";
pub const REPOSITORIES: &str = "repositories";
/// The content of `oci-layout`.
pub const OCI_LAYOUT_CONTENT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The full name of an image (`docker.io/library/busybox:latest`), as containerd reads it.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI reference name: docker writes the tag, skopeo the whole `NAME:TAG`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
const DOCKER_HUB: &str = "docker.io";

/// One image of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestEntry {
    pub config: String,
    #[serde(default, deserialize_with = "null_is_empty")]
    pub repo_tags: Vec<String>,
    pub layers: Vec<String>,
}

fn null_is_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// `index.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub manifests: Vec<IndexEntry>,
}

/// A descriptor of `index.json`, with its annotations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// The name other tools give `repo:tag`: `busybox` is `docker.io/library/busybox`.
pub fn full_name(repo: &str, tag: &str) -> String {
    match split_domain(repo) {
        (Some(_), _) => format!("{repo}:{tag}"),
        (None, path) if path.contains('/') => format!("{DOCKER_HUB}/{path}:{tag}"),
        (None, path) => format!("{DOCKER_HUB}/library/{path}:{tag}"),
    }
}

/// The repository and tag a name from an archive (`busybox:1`, `docker.io/library/busybox`,
/// `localhost:5000/x:y`) gives here, validated; `latest` when it has no tag.
pub fn local_name(name: &str) -> Result<(String, String)> {
    let (repo, tag) = split_tag(name);
    let repo = repo
        .strip_prefix("docker.io/library/")
        .or_else(|| repo.strip_prefix("index.docker.io/library/"))
        .or_else(|| repo.strip_prefix("docker.io/"))
        .or_else(|| repo.strip_prefix("index.docker.io/"))
        .unwrap_or(repo);
    let tag = tag.unwrap_or(DEFAULT_TAG);
    let bad = |e: Error| Error::corrupt(format!("the archive names the image {name:?}: {e}"));
    validate_repo(repo).map_err(bad)?;
    validate_tag(tag).map_err(bad)?;
    Ok((repo.to_string(), tag.to_string()))
}

/// The name an `index.json` entry gives its image: containerd's full name, else an OCI
/// reference name that is a whole name (not only a tag, as docker writes it).
pub fn index_name(e: &IndexEntry) -> Result<Option<(String, String)>> {
    if let Some(n) = e.annotations.get(ANNOTATION_IMAGE_NAME) {
        return local_name(n).map(Some);
    }
    match e.annotations.get(ANNOTATION_REF_NAME) {
        Some(n) if n.contains(':') || n.contains('/') => local_name(n).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(full_name("busybox", "1"), "docker.io/library/busybox:1");
        assert_eq!(full_name("me/app", "latest"), "docker.io/me/app:latest");
        assert_eq!(full_name("localhost:5000/x", "y"), "localhost:5000/x:y");
        let l = |n: &str| local_name(n).unwrap();
        assert_eq!(
            l("docker.io/library/busybox:latest"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(l("docker.io/me/app"), ("me/app".into(), "latest".into()));
        assert_eq!(
            l("localhost:5000/x:y"),
            ("localhost:5000/x".into(), "y".into())
        );
        assert!(local_name("Bad Name:x").is_err());
        let mut e = IndexEntry {
            media_type: String::new(),
            digest: Digest::of(b""),
            size: 0,
            annotations: BTreeMap::new(),
            platform: None,
        };
        e.annotations
            .insert(ANNOTATION_REF_NAME.into(), "latest".into());
        assert_eq!(index_name(&e).unwrap(), None);
        e.annotations
            .insert(ANNOTATION_REF_NAME.into(), "busybox:1".into());
        assert_eq!(
            index_name(&e).unwrap(),
            Some(("busybox".into(), "1".into()))
        );
    }
}
