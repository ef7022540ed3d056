//! Which certificates a registry's https is checked against, and which registries may be
//! spoken to without TLS: what `docker pull` users expect of a daemon.
//!
//! - Roots: the bundled Mozilla roots (`webpki-root-certs`), the system's trust store (the
//!   bundle `SSL_CERT_FILE` names, else `/etc/ssl/certs/ca-certificates.crt`, else each
//!   certificate in `SSL_CERT_DIR` or `/etc/ssl/certs`), and a registry's own folder
//!   `CERTS_DIR/HOST:PORT/` (default `/etc/docker/certs.d`, as docker): each `*.crt` in it is
//!   a root, and `client.cert` with `client.key` a client certificate.
//! - How a registry is spoken to: one with a certificate folder over https, checked against
//!   its roots there too; one listed with `--insecure-registry HOST[:PORT]` over https without
//!   the certificate check, or plain http when it does not speak TLS (docker's meaning of
//!   insecure); any other on this machine (127.0.0.0/8, `localhost`) over plain http, as
//!   docker treats those as insecure; every other one over checked https.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// docker's per-registry certificate folders.
pub const DEFAULT_CERTS_DIR: &str = "/etc/docker/certs.d";

/// How registries are trusted (a runtime's, for every pull, push and login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    /// The per-registry certificate folders (`DIR/HOST:PORT/ca.crt`).
    pub certs_dir: PathBuf,
    /// Registries (`HOST` or `HOST:PORT`) whose certificate is not checked, and that may be
    /// spoken to over plain http.
    pub insecure: Vec<String>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            certs_dir: PathBuf::from(DEFAULT_CERTS_DIR),
            insecure: Vec::new(),
        }
    }
}

/// The scheme a registry is spoken to with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
    /// https (certificate unchecked), else plain http when the registry does not speak TLS.
    HttpsOrHttp,
}

/// How one registry is spoken to.
pub struct Trust {
    /// The TLS settings: the roots and a client certificate.
    pub tls: TlsConfig,
    pub scheme: Scheme,
}

impl RegistryOptions {
    /// Whether `host` (as `HOST` or `HOST:PORT`) was listed as insecure.
    pub fn is_listed_insecure(&self, host: &str) -> bool {
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        self.insecure.iter().any(|i| i == host || i == name)
    }

    /// The trust for `host` (on this machine when `loopback`); a certificate folder that
    /// cannot be read is an error naming it.
    pub fn trust(&self, host: &str, loopback: bool) -> Result<Trust> {
        let mut roots = bundled_and_system_roots().as_ref().clone();
        let dir = self.certs_dir.join(host);
        let folder = dir.is_dir();
        let (own, client) = host_folder(&dir)?;
        roots.extend(own);
        let listed = self.is_listed_insecure(host);
        let scheme = match (listed, folder, loopback) {
            (true, _, _) => Scheme::HttpsOrHttp,
            (false, false, true) => Scheme::Http,
            _ => Scheme::Https,
        };
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .client_cert(client)
            .disable_verification(listed)
            .build();
        Ok(Trust { tls, scheme })
    }
}

/// The bundled roots and the system's, read once per process.
fn bundled_and_system_roots() -> &'static Arc<Vec<Certificate<'static>>> {
    static ROOTS: OnceLock<Arc<Vec<Certificate<'static>>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut all: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        all.extend(system_roots());
        Arc::new(all)
    })
}

/// The system's trust store; nothing when it has none (the bundled roots remain).
fn system_roots() -> Vec<Certificate<'static>> {
    let file = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
    if let Ok(pem) = std::fs::read(&file) {
        return certificates(&pem);
    }
    let dir = std::env::var_os("SSL_CERT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for e in entries.flatten() {
        if let Ok(pem) = std::fs::read(e.path()) {
            all.extend(certificates(&pem));
        }
    }
    all
}

/// The certificates of a PEM text (other items and unreadable blocks are passed over: a system
/// bundle holds what it holds).
fn certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// A registry's own folder: its roots (`*.crt`) and its client certificate (`client.cert` and
/// `client.key`, both or neither). A missing folder is none of them.
fn host_folder(dir: &Path) -> Result<(Vec<Certificate<'static>>, Option<ClientCert>)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => return Err(Error::io_path("reading the certificate folder", dir, e)),
    };
    let mut roots = Vec::new();
    for e in entries {
        let path = e
            .map_err(|e| Error::io_path("reading the certificate folder", dir, e))?
            .path();
        if path.extension().is_some_and(|x| x == "crt") {
            let found = certificates(&read(&path)?);
            if found.is_empty() {
                return Err(Error::corrupt(format!(
                    "{}: no PEM certificate in it",
                    path.display()
                )));
            }
            roots.extend(found);
        }
    }
    let (cert, key) = (dir.join("client.cert"), dir.join("client.key"));
    let client = match (cert.exists(), key.exists()) {
        (false, false) => None,
        (true, true) => Some(client_cert(&cert, &key)?),
        _ => {
            return Err(Error::invalid(format!(
                "{}: client.cert and client.key go together (one is missing)",
                dir.display()
            )))
        }
    };
    Ok((roots, client))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io_path("reading", path, e))
}

fn client_cert(cert: &Path, key: &Path) -> Result<ClientCert> {
    let chain = certificates(&read(cert)?);
    if chain.is_empty() {
        return Err(Error::corrupt(format!(
            "{}: no PEM certificate in it",
            cert.display()
        )));
    }
    let key_pem = read(key)?;
    let key = PrivateKey::from_pem(&key_pem)
        .map_err(|e| Error::corrupt(format!("{}: not a PEM private key ({e})", key.display())))?;
    Ok(ClientCert::new_with_certs(&chain, key))
}

/// Whether `e` is a certificate that failed the check (rather than a server that does not
/// speak TLS, or no server at all).
pub fn is_certificate_error(e: &ureq::Error) -> bool {
    let rustls_error = match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    matches!(
        rustls_error,
        Some(rustls::Error::InvalidCertificate(_)) | Some(rustls::Error::NoCertificatesPresented)
    )
}

/// Whether `e` happened while the TLS session was set up (so plain http may be what the
/// server speaks), as opposed to a refused or unreachable connection.
pub fn is_tls_error(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => true,
        ureq::Error::Io(io) => {
            io.get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
                || matches!(
                    io.kind(),
                    std::io::ErrorKind::UnexpectedEof
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::InvalidData
                )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_registries_by_host_or_host_and_port() {
        let o = RegistryOptions {
            insecure: vec!["reg.local:5000".into(), "other".into()],
            ..Default::default()
        };
        assert!(o.is_listed_insecure("reg.local:5000"));
        assert!(!o.is_listed_insecure("reg.local:5001"));
        assert!(o.is_listed_insecure("other:443") && o.is_listed_insecure("other"));
        assert!(!o.is_listed_insecure("docker.io"));
    }

    #[test]
    fn the_bundled_roots_are_there_and_a_bad_folder_is_named() {
        assert!(bundled_and_system_roots().len() >= webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        let dir = std::env::temp_dir().join(format!("dr-trust-{}", std::process::id()));
        let host = dir.join("reg:5000");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("ca.crt"), "not a certificate").unwrap();
        let o = RegistryOptions {
            certs_dir: dir.clone(),
            insecure: Vec::new(),
        };
        let e = o.trust("reg:5000", false).err().unwrap();
        assert!(e.to_string().contains("ca.crt: no PEM certificate"), "{e}");
        std::fs::remove_file(host.join("ca.crt")).unwrap();
        std::fs::write(host.join("client.cert"), "x").unwrap();
        let e = o.trust("reg:5000", false).err().unwrap();
        assert!(e.to_string().contains("go together"), "{e}");
        assert!(o.trust("elsewhere:1", false).is_ok(), "no folder: no error");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
