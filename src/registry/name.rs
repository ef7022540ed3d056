//! Image references as pull and push take them: `[host[:port]/]repo[:tag][@sha256:HEX]`.
//!
//! A name without a registry host is Docker Hub's (`registry-1.docker.io`), where a one-part
//! name lives under `library/`. The local name (the repository in the tag store) is the name
//! as typed, without tag or digest.

use super::digest::Digest;
use crate::error::{Error, Result};
use crate::reference::{self, split_domain, split_tag, validate_repo, validate_tag};

/// The API host of the default registry (Docker Hub).
pub const DEFAULT_REGISTRY: &str = "registry-1.docker.io";

/// Host names that mean the default registry.
const DEFAULT_ALIASES: &[&str] = &["docker.io", "index.docker.io", DEFAULT_REGISTRY];

/// A parsed, validated reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` of the registry; `None` for the default registry.
    pub domain: Option<String>,
    /// The repository path at the registry (`library/busybox`, `team/app`).
    pub path: String,
    /// The repository name in the local tag store (`busybox`, `127.0.0.1:5000/app`).
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parse and validate a reference; a bad name, tag or digest is an error naming it.
    pub fn parse(s: &str) -> Result<Reference> {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d)?)),
            None => (s, None),
        };
        let (repo, tag) = split_tag(rest);
        validate_repo(repo)?;
        if let Some(t) = tag {
            validate_tag(t)?;
        }
        let (domain, path) = split_domain(repo);
        let domain = domain.map(str::to_ascii_lowercase);
        let default = domain
            .as_deref()
            .is_none_or(|d| DEFAULT_ALIASES.contains(&d));
        let path = if default && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        Ok(Reference {
            domain: if default { None } else { domain },
            path,
            name: repo.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The registry's `host[:port]`.
    pub fn host(&self) -> &str {
        self.domain.as_deref().unwrap_or(DEFAULT_REGISTRY)
    }

    /// What the manifest URL names: the digest when there is one, else the tag (`latest` by
    /// default).
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => reference::DEFAULT_TAG.to_string(),
        }
    }

    /// The tag, `latest` by default.
    pub fn tag_or_default(&self) -> &str {
        self.tag.as_deref().unwrap_or(reference::DEFAULT_TAG)
    }
}

/// Normalise a server name as `login` takes it (`https://host:port/v2/`, `host:port`) to the
/// key its credentials are saved under: `None` for the default registry, else `host[:port]`.
pub fn server_key(server: &str) -> Result<Option<String>> {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if DEFAULT_ALIASES.contains(&host.as_str()) {
        return Ok(None);
    }
    // A host is what a reference may start with: check it as one.
    let probe = format!("{host}/x");
    if validate_repo(&probe).is_err() || split_domain(&probe).0.is_none() {
        return Err(Error::invalid(format!(
            "invalid registry server {server:?}: expected HOST[:PORT]"
        )));
    }
    Ok(Some(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(
            (r.domain.as_deref(), r.path.as_str(), r.name.as_str()),
            (None, "library/busybox", "busybox")
        );
        assert_eq!(r.host(), DEFAULT_REGISTRY);
        assert_eq!(r.manifest_ref(), "latest");

        let r = Reference::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(r.domain.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(r.path, "team/app");
        assert_eq!(r.name, "127.0.0.1:5000/team/app");
        assert_eq!(r.manifest_ref(), "v1");

        let d = Digest::of(b"x");
        let r = Reference::parse(&format!("localhost:5000/app@{d}")).unwrap();
        assert_eq!(r.digest.as_ref(), Some(&d));
        assert_eq!(r.manifest_ref(), d.as_str());
        assert_eq!(r.tag, None);

        let r = Reference::parse("docker.io/alpine:3").unwrap();
        assert_eq!((r.domain, r.path.as_str()), (None, "library/alpine"));
        let r = Reference::parse("docker.io/team/app").unwrap();
        assert_eq!(r.path, "team/app");
    }

    #[test]
    fn bad_names() {
        for bad in [
            "",
            "Busybox",
            "a/../b",
            "x:bad/tag",
            "x:-t",
            "x@sha256:abc",
            "x@md5:00",
            "host:99999999/x",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn servers() {
        assert_eq!(server_key("docker.io").unwrap(), None);
        assert_eq!(server_key("https://index.docker.io/v1/").unwrap(), None);
        assert_eq!(
            server_key("http://127.0.0.1:5000/v2/").unwrap().as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            server_key("Localhost:5000").unwrap().as_deref(),
            Some("localhost:5000")
        );
        assert!(server_key("not a host").is_err());
        assert!(server_key("").is_err());
    }
}
