//! What a caller asks of a new container before the image's defaults are merged in: the one
//! place where `run`'s flags and the C API's `docker_container_config` become a [`Config`].

use std::io::Read;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::image::ImageConfig;

/// The smallest memory limit a container may have (v0.1.0's check), in bytes.
pub const MIN_MEMORY: i64 = 6 << 20;

/// The largest seccomp profile `seccomp=FILE` reads.
const MAX_PROFILE: u64 = 1 << 20;

/// A new container as asked for. Empty or `None` fields take the image's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateRequest {
    /// `name[:tag]` or an image id (prefix).
    pub image: String,
    /// The command; empty: the image's `Cmd`. The image's `Entrypoint` always comes first.
    pub cmd: Vec<String>,
    /// `KEY=VALUE`, after the image's `Env`.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// `None`: derived from the id.
    pub hostname: Option<String>,
    /// Bytes; 0: no limit.
    pub memory: i64,
    /// `-c`: CPU shares, 2 to 262144; 0: the default.
    pub cpu_shares: i64,
    pub tty: bool,
    pub open_stdin: bool,
    /// Recorded as `run -d` records it.
    pub detach: bool,
    /// As `-p`: `80`, `8080:80`, `127.0.0.1:8080:80`.
    pub ports: Vec<String>,
    /// `None`, `bridge` or `default`: the bridge; `none`: loopback only.
    pub network_mode: Option<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// As `--security-opt`; a `seccomp=FILE` is read by [`CreateRequest::prepare`].
    pub security_opt: Vec<String>,
    /// As `-v`: `HOST:CONTAINER[:ro|:rw]`, `NAME:CONTAINER[:MODE]`, `CONTAINER`.
    pub volumes: Vec<String>,
    /// As `--mount`: `type=bind|volume|tmpfs,source=..,target=..,...` (see
    /// [`crate::volume::parse_mount`]).
    pub mounts: Vec<String>,
    /// As `--name` (docker's rules, see [`super::names`]); `None`: a generated name.
    pub name: Option<String>,
    /// As `run --rm` (docker's `HostConfig.AutoRemove`): recorded, so that the container is
    /// removed when it ends, also by a restarted runtime (see [`super::autoremove`]).
    pub auto_remove: bool,
}

/// A request checked as far as it can be without the image, its profile files read: what
/// [`crate::Runtime::create`] takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared(CreateRequest);

impl CreateRequest {
    /// Check everything that does not need the image (environment, memory, network mode,
    /// capabilities, security options) and read `seccomp=FILE` profiles, so that nothing is
    /// made for a request that cannot run.
    pub fn prepare(mut self) -> Result<Prepared> {
        if self.image.is_empty() {
            return Err(Error::invalid("no image given"));
        }
        for e in &self.env {
            if e.is_empty() || e.starts_with('=') {
                return Err(Error::invalid(format!(
                    "invalid environment variable {e:?}: want KEY=VALUE"
                )));
            }
        }
        if self.memory != 0 && self.memory < MIN_MEMORY {
            return Err(Error::invalid(format!(
                "memory limit {} bytes is below the minimum of 6 MiB",
                self.memory
            )));
        }
        if let Some(name) = &self.name {
            super::names::validate(name)?;
        }
        if self.cpu_shares != 0 && !(2..=262_144).contains(&self.cpu_shares) {
            return Err(Error::invalid(format!(
                "invalid CPU shares {}: want 2 to 262144 (1024 is the default weight)",
                self.cpu_shares
            )));
        }
        network_disabled(self.network_mode.as_deref())?;
        self.security_opt = security_opts(&self.security_opt)?;
        crate::volume::parse_all(&self.volumes, &self.mounts)?;
        super::spec::validate(&self.to_config(&ImageConfig::default())?)?;
        Ok(Prepared(self))
    }

    /// The container's `Config`: the image's entrypoint before the command, its command when
    /// none is given, its environment before ours, its user and directory unless given.
    fn to_config(&self, defaults: &ImageConfig) -> Result<Config> {
        let mut cmd = defaults.entrypoint.clone().unwrap_or_default();
        if self.cmd.is_empty() {
            cmd.extend(defaults.cmd.clone().unwrap_or_default());
        } else {
            cmd.extend(self.cmd.iter().cloned());
        }
        let mut env = defaults.env.clone().unwrap_or_default();
        env.extend(self.env.iter().cloned());
        let or_default = |given: &Option<String>, default: &Option<String>| {
            given.clone().or(default.clone()).unwrap_or_default()
        };
        Ok(Config {
            hostname: self.hostname.clone().unwrap_or_default(),
            user: or_default(&self.user, &defaults.user),
            memory: self.memory,
            memory_swap: 0,
            cpu_shares: self.cpu_shares,
            detach: self.detach,
            ports: self.ports.clone(),
            tty: self.tty,
            open_stdin: self.open_stdin,
            env,
            cmd,
            image: self.image.clone(),
            working_dir: or_default(&self.working_dir, &defaults.working_dir),
            network_disabled: network_disabled(self.network_mode.as_deref())?,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
        })
    }
}

impl Prepared {
    /// The image the request names.
    pub fn image(&self) -> &str {
        &self.0.image
    }

    /// The `-v` and `--mount` mounts asked for, checked (see [`crate::volume::parse_all`]).
    pub fn volumes(&self) -> Result<Vec<crate::volume::VolumeSpec>> {
        crate::volume::parse_all(&self.0.volumes, &self.0.mounts)
    }

    /// The name asked for, if any.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Whether the container is removed when it ends (`run --rm`).
    pub fn auto_remove(&self) -> bool {
        self.0.auto_remove
    }

    /// The `Config` with the image's `defaults` merged in.
    pub fn config(&self, defaults: &ImageConfig) -> Result<Config> {
        self.0.to_config(defaults)
    }
}

/// The network mode: whether the container has no network but loopback.
fn network_disabled(mode: Option<&str>) -> Result<bool> {
    match mode {
        None | Some("bridge") | Some("default") => Ok(false),
        Some("none") => Ok(true),
        Some(other) => Err(Error::invalid(format!(
            "invalid network mode {other:?}: use bridge or none"
        ))),
    }
}

/// Security options as the record keeps them: a profile file is read now and kept as its
/// JSON (as docker keeps it), so that the file may change or go away.
fn security_opts(opts: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for opt in opts {
        match opt.split_once(['=', ':']) {
            Some(("seccomp", path)) if path != "unconfined" => {
                let mut text = String::new();
                std::fs::File::open(path)
                    .and_then(|f| f.take(MAX_PROFILE + 1).read_to_string(&mut text))
                    .map_err(|e| Error::io(format!("reading the seccomp profile {path}"), e))?;
                if text.len() as u64 > MAX_PROFILE {
                    return Err(Error::invalid(format!(
                        "the seccomp profile {path} is larger than {MAX_PROFILE} bytes"
                    )));
                }
                out.push(format!("seccomp={}", text.trim()));
            }
            _ => out.push(opt.clone()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> CreateRequest {
        CreateRequest {
            image: "busybox".into(),
            ..Default::default()
        }
    }

    #[test]
    fn image_defaults_fill_what_is_not_given() {
        let defaults = ImageConfig {
            env: Some(vec!["PATH=/bin".into()]),
            cmd: Some(vec!["sh".into()]),
            entrypoint: Some(vec!["/init".into()]),
            working_dir: Some("/srv".into()),
            user: Some("nobody".into()),
        };
        let p = req().prepare().unwrap();
        let c = p.config(&defaults).unwrap();
        assert_eq!(c.cmd, ["/init", "sh"]);
        assert_eq!(
            (c.user.as_str(), c.working_dir.as_str()),
            ("nobody", "/srv")
        );
        let mut r = req();
        r.cmd = vec!["echo".into()];
        r.env = vec!["A=1".into()];
        r.user = Some("root".into());
        let c = r.prepare().unwrap().config(&defaults).unwrap();
        assert_eq!(c.cmd, ["/init", "echo"]);
        assert_eq!(c.env, ["PATH=/bin", "A=1"]);
        assert_eq!(c.user, "root");
    }

    #[test]
    fn bad_requests_are_refused_before_anything_is_made() {
        let mut bad = Vec::new();
        let mut r = req();
        r.env = vec!["=x".into()];
        bad.push(r);
        let mut r = req();
        r.memory = 1024;
        bad.push(r);
        let mut r = req();
        r.network_mode = Some("host".into());
        bad.push(r);
        let mut r = req();
        r.cap_add = vec!["NOT_A_CAP".into()];
        bad.push(r);
        let mut r = req();
        r.security_opt = vec!["seccomp=/nonexistent/profile.json".into()];
        bad.push(r);
        for v in ["/nonexistent/x:/x", "a:b:c:d", "/tmp:/", "x/y:/z"] {
            let mut r = req();
            r.volumes = vec![v.into()];
            bad.push(r);
        }
        for m in [
            "type=bind,src=/tmp,dst=/x,foo=1",
            "type=tmpfs",
            "type=nfs,dst=/x",
        ] {
            let mut r = req();
            r.mounts = vec![m.into()];
            bad.push(r);
        }
        let mut r = req();
        r.name = Some("_web".into());
        bad.push(r);
        bad.push(CreateRequest::default());
        for r in bad {
            assert!(r.clone().prepare().is_err(), "{r:?}");
        }
    }
}
