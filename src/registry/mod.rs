//! The registry client (Docker Registry HTTP API v2 / OCI distribution spec): `pull`, `push`
//! and `login`'s check, replacing v0.1.0's long-gone v1 registry API.
//!
//! What other parts call:
//! - [`Reference::parse`] (`[host[:port]/]repo[:tag][@sha256:HEX]`) and [`server_key`];
//! - [`pull()`] (manifest, config, layers verified while streaming into the graph, tagged),
//!   [`push()`] (layers the registry lacks, config, manifest) and [`login()`];
//! - [`Progress`], the per-layer progress display both write to.
//!
//! Credentials go only to the registry's own scheme, host and port, and the basic ones also to
//! its token realm ([`scope`]); uploads and redirects elsewhere (blob storage) get none.
//!
//! This layer sits below the runtime: pull and push take the image [`Graph`](crate::image::Graph)
//! and the [`TagStore`](crate::tags::TagStore) they work on and the [`Credentials`] to present,
//! nothing more. The caller finds those with [`credentials`] in the saved
//! `ROOT/.dockercfg` ([`crate::auth`]): the header-less block for the default registry
//! (Docker Hub), `[HOST:PORT]` blocks for others.

pub mod client;
pub mod convert;
pub mod digest;
pub mod gzip;
pub mod manifest;
pub mod name;
pub mod parallel;
pub mod progress;
pub mod pull;
pub mod push;
pub mod scope;
pub mod trust;

pub use client::{Client, Credentials};
pub use digest::Digest;
pub use name::{server_key, Reference, DEFAULT_REGISTRY};
pub use progress::Progress;
pub use pull::{pull, Pulled};
pub use push::push;
pub use trust::RegistryOptions;

use crate::auth::AuthConfig;
use crate::error::Result;

/// The credentials `auth` (the saved `ROOT/.dockercfg`) holds for the registry `domain`
/// (`None`: the default one).
pub fn credentials(auth: &AuthConfig, domain: Option<&str>) -> Option<Credentials> {
    auth.get(domain).map(|c| Credentials {
        username: c.username.clone(),
        password: c.password.clone(),
    })
}

/// Check `creds` against the registry `host` (`None`: the default registry): `GET /v2/`,
/// meeting its basic or bearer challenge. A refusal is a `PermissionDenied` error that says
/// the username or password is wrong.
pub fn login(host: Option<&str>, creds: Credentials, trust: &RegistryOptions) -> Result<()> {
    let host = host.unwrap_or(DEFAULT_REGISTRY);
    Client::new(host, "", Some(creds), trust)?.login()
}
