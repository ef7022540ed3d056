//! Registry credentials in `ROOT/.dockercfg`, v0.1.0's format:
//!
//! ```text
//! auth = base64(user:password)
//! email = user@example.com
//! ```
//!
//! That first, header-less block is the default server's. Credentials for other servers follow
//! in blocks headed `[SERVER]` (an extension; v0.1.0 had one server). The file is mode 0600 and
//! written atomically; a missing file means no credentials; a malformed one is an error that
//! names the file and the line.

use std::path::Path;

use base64::Engine;

use crate::error::{Error, Result};
use crate::fsutil;

/// The name of the credentials file in the runtime root.
pub const CONFIG_FILE: &str = ".dockercfg";

/// One server's credentials. `server` is `None` for the default server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credential {
    pub server: Option<String>,
    pub username: String,
    pub password: String,
    pub email: String,
}

/// Every credential of a `.dockercfg`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthConfig {
    pub credentials: Vec<Credential>,
}

fn decode_auth(path: &Path, line: usize, b64: &str) -> Result<(String, String)> {
    let bad = |why: &str| {
        Error::corrupt(format!(
            "{} line {line}: the auth value {why}",
            path.display()
        ))
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad("is not base64"))?;
    let text = String::from_utf8(raw).map_err(|_| bad("is not UTF-8"))?;
    let (user, pass) = text
        .split_once(':')
        .ok_or_else(|| bad("is not user:password"))?;
    Ok((user.to_string(), pass.to_string()))
}

impl AuthConfig {
    /// Parse the text of a `.dockercfg`; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<AuthConfig> {
        let mut creds: Vec<Credential> = Vec::new();
        let mut current = Credential::default();
        let mut has_auth = false;
        let mut started = false;
        let finish = |c: &mut Credential, has: bool, out: &mut Vec<Credential>, line: usize| {
            if !has {
                return Err(Error::corrupt(format!(
                    "{} line {line}: a block without an auth line",
                    path.display()
                )));
            }
            out.push(std::mem::take(c));
            Ok(())
        };
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(server) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                if started {
                    finish(&mut current, has_auth, &mut creds, n)?;
                }
                current.server = Some(server.trim().to_string());
                has_auth = false;
                started = true;
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                Error::corrupt(format!(
                    "{} line {n}: expected `key = value`",
                    path.display()
                ))
            })?;
            started = true;
            match key.trim() {
                "auth" => {
                    let (u, p) = decode_auth(path, n, value.trim())?;
                    current.username = u;
                    current.password = p;
                    has_auth = true;
                }
                "email" => current.email = value.trim().to_string(),
                other => {
                    return Err(Error::corrupt(format!(
                        "{} line {n}: unknown key {other:?}",
                        path.display()
                    )))
                }
            }
        }
        if started {
            finish(&mut current, has_auth, &mut creds, text.lines().count())?;
        }
        Ok(AuthConfig { credentials: creds })
    }

    /// Load `ROOT/.dockercfg`; an absent file is an empty config.
    pub fn load(root: &Path) -> Result<AuthConfig> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::corrupt(format!("{} is not UTF-8 text", path.display())))?;
                AuthConfig::parse(&path, &text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthConfig::default()),
            Err(e) => Err(Error::io_path("reading", &path, e)),
        }
    }

    /// The text of this config in the file's format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut sorted: Vec<&Credential> = self.credentials.iter().collect();
        sorted.sort_by_key(|c| c.server.is_some());
        for c in sorted {
            if let Some(s) = &c.server {
                out.push_str(&format!("[{s}]\n"));
            }
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.username, c.password));
            out.push_str(&format!("auth = {auth}\nemail = {}\n", c.email));
        }
        out
    }

    /// Write this config to `ROOT/.dockercfg` atomically with mode 0600.
    pub fn save(&self, root: &Path) -> Result<()> {
        fsutil::write_atomic(&root.join(CONFIG_FILE), self.render().as_bytes(), 0o600)
    }

    /// The credential for `server` (`None`: the default server).
    pub fn get(&self, server: Option<&str>) -> Option<&Credential> {
        self.credentials
            .iter()
            .find(|c| c.server.as_deref() == server)
    }

    /// Add or replace the credential for its server.
    pub fn set(&mut self, cred: Credential) {
        self.credentials.retain(|c| c.server != cred.server);
        self.credentials.push(cred);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn v010_format_round_trips() {
        let p = Path::new("/r/.dockercfg");
        // base64("joe:s3cret") as v0.1.0 wrote it
        let text = "auth = am9lOnMzY3JldA==\nemail = joe@example.com\n";
        let c = AuthConfig::parse(p, text).unwrap();
        let d = c.get(None).unwrap();
        assert_eq!(
            (d.username.as_str(), d.password.as_str()),
            ("joe", "s3cret")
        );
        assert_eq!(d.email, "joe@example.com");
        assert_eq!(c.render(), text);
        let mut c2 = c.clone();
        c2.set(Credential {
            server: Some("127.0.0.1:5000".into()),
            username: "a".into(),
            password: "b:c".into(),
            email: String::new(),
        });
        let again = AuthConfig::parse(p, &c2.render()).unwrap();
        assert_eq!(again, c2);
        assert_eq!(again.get(Some("127.0.0.1:5000")).unwrap().password, "b:c");
    }

    #[test]
    fn malformed_files_name_the_line() {
        let p = Path::new("/r/.dockercfg");
        for (text, want) in [
            ("garbage\n", "line 1"),
            ("auth = !!!\n", "not base64"),
            ("email = x\n", "without an auth"),
            ("auth = am9lOnMzY3JldA==\ncolour = red\n", "unknown key"),
            ("auth = bm9jb2xvbg==\n", "not user:password"),
        ] {
            let e = AuthConfig::parse(p, text).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Corrupt);
            assert!(e.message().contains(want), "{text:?}: {}", e.message());
            assert!(e.message().contains("/r/.dockercfg"));
        }
        assert_eq!(AuthConfig::parse(p, "").unwrap(), AuthConfig::default());
    }
}
