//! `POST /containers/create`'s body: the Engine API's `Config` and `HostConfig` turned into a
//! [`CreateRequest`] (`AutoRemove` too, kept in the record), what the runtime has no field for
//! kept in the container's folder (`engine-api.json`: the console size, the `HostConfig` as
//! asked), and every field the runtime cannot honour refused by name unless it is left at its
//! zero value.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire::{ApiError, ApiResult};
use crate::container::CreateRequest;

/// The file in a container's folder with what the Engine API asked beyond the record.
const EXTRAS_FILE: &str = "engine-api.json";

/// `Config` fields read (the rest must be zero).
const CONFIG_FIELDS: &[&str] = &[
    "Hostname",
    "User",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Env",
    "Cmd",
    "Image",
    "WorkingDir",
    "Entrypoint",
    "ExposedPorts",
    "Volumes",
    "HostConfig",
];

/// `HostConfig` fields read (the rest must be zero).
const HOST_FIELDS: &[&str] = &[
    "PortBindings",
    "Binds",
    "Mounts",
    "CpuShares",
    "Memory",
    "NetworkMode",
    "AutoRemove",
    "CapAdd",
    "CapDrop",
    "SecurityOpt",
    "RestartPolicy",
    "ConsoleSize",
    "LogConfig",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Config {
    hostname: String,
    user: String,
    tty: bool,
    open_stdin: bool,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    env: Option<Vec<String>>,
    cmd: Option<Cmd>,
    image: String,
    working_dir: String,
    entrypoint: Option<Cmd>,
    /// Anonymous volumes (`{"/path": {}}`), as `-v /path`.
    volumes: Option<BTreeMap<String, Value>>,
    host_config: HostConfig,
}

/// `Cmd` and `Entrypoint` are a list, or a string (run by the shell, as docker's old API).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Cmd {
    List(Vec<String>),
    Shell(String),
}

impl Cmd {
    fn into_vec(self) -> Vec<String> {
        match self {
            Cmd::List(v) => v,
            Cmd::Shell(s) if s.is_empty() => Vec::new(),
            Cmd::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s],
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfig {
    port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    /// `-v` strings: `HOST:PATH[:ro]`, `NAME:PATH[:ro]`.
    binds: Option<Vec<String>>,
    /// What `--mount` sends (see [`mount_spec`]).
    mounts: Option<Vec<Value>>,
    cpu_shares: i64,
    memory: i64,
    network_mode: String,
    auto_remove: bool,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    security_opt: Option<Vec<String>>,
    restart_policy: RestartPolicy,
    console_size: Option<[u16; 2]>,
    log_config: LogConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PortBinding {
    host_ip: String,
    host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicy {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LogConfig {
    #[serde(rename = "Type")]
    kind: String,
}

/// What the Engine API asked that the container record has no field for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Extras {
    /// `AutoRemove` of a container created before the record held it (read, never written).
    #[serde(default, skip_serializing)]
    pub auto_remove: bool,
    /// `[rows, columns]` of the terminal to start with (0: none).
    pub console_size: [u16; 2],
    /// The `HostConfig` as sent, shown by inspect.
    pub host_config: Value,
}

impl Extras {
    /// What was kept for the container in `dir` (a container made otherwise has none).
    pub fn load(dir: &Path) -> Extras {
        crate::fsutil::read_json_opt(&dir.join(EXTRAS_FILE))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub fn save(&self, dir: &Path) -> crate::error::Result<()> {
        crate::fsutil::write_json_atomic(&dir.join(EXTRAS_FILE), self, 0o600)
    }
}

/// Whether `v` is its type's zero value (null, false, 0, "", and lists and objects of zeros).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_zero),
        Value::Object(o) => o.values().all(is_zero),
    }
}

/// Refuse a field outside `known` that is set to something.
fn refuse_unknown(obj: &Value, known: &[&str], what: &str) -> ApiResult<()> {
    let Value::Object(o) = obj else {
        return Err(ApiError::bad(format!("{what} must be a JSON object")));
    };
    for (k, v) in o {
        // The CLI sends -1 for "the kernel's default" here.
        let default = k == "MemorySwappiness" && v.as_i64() == Some(-1);
        if !known.contains(&k.as_str()) && !is_zero(v) && !default {
            return Err(ApiError::bad(format!(
                "{what}.{k} is not supported by this runtime (it was given as {v}); leave it unset"
            )));
        }
    }
    Ok(())
}

/// One of `HostConfig.Mounts` as a `--mount` value (`type=..,target=..`, see
/// [`crate::volume::parse_mount`], which checks it): `Type`, `Source`, `Target`, `ReadOnly`,
/// `VolumeOptions.NoCopy`, `TmpfsOptions.SizeBytes` and `.Mode` are read; `BindOptions`
/// other than the default propagation, volume labels and drivers are refused by name.
fn mount_spec(m: &Value) -> ApiResult<String> {
    const FIELDS: &[&str] = &[
        "Type",
        "Source",
        "Target",
        "ReadOnly",
        "Consistency",
        "VolumeOptions",
        "TmpfsOptions",
        "BindOptions",
    ];
    refuse_unknown(m, FIELDS, "HostConfig.Mounts[]")?;
    let part = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    let (volume, tmpfs, bind) = (
        part("VolumeOptions"),
        part("TmpfsOptions"),
        part("BindOptions"),
    );
    for (v, known, what) in [
        (&volume, &["NoCopy"][..], "VolumeOptions"),
        (&tmpfs, &["SizeBytes", "Mode"][..], "TmpfsOptions"),
        (&bind, &["Propagation"][..], "BindOptions"),
    ] {
        if !v.is_null() {
            refuse_unknown(v, known, &format!("HostConfig.Mounts[].{what}"))?;
        }
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let propagation = text(&bind, "Propagation");
    if !matches!(propagation.as_str(), "" | "rprivate") {
        return Err(ApiError::bad(format!(
            "HostConfig.Mounts[].BindOptions.Propagation {propagation:?} is not supported by this runtime: binds are rprivate"
        )));
    }
    let (source, target) = (text(m, "Source"), text(m, "Target"));
    if source.contains(',') || target.contains(',') {
        return Err(ApiError::bad(format!(
            "HostConfig.Mounts[]: a path with a comma is not supported ({source:?}, {target:?})"
        )));
    }
    let mut spec = format!("type={},target={target}", text(m, "Type"));
    if !source.is_empty() {
        spec.push_str(&format!(",source={source}"));
    }
    if m.get("ReadOnly").and_then(Value::as_bool) == Some(true) {
        spec.push_str(",readonly");
    }
    if volume.get("NoCopy").and_then(Value::as_bool) == Some(true) {
        spec.push_str(",volume-nocopy");
    }
    let number = |k: &str| tmpfs.get(k).and_then(Value::as_u64).filter(|n| *n > 0);
    if let Some(size) = number("SizeBytes") {
        spec.push_str(&format!(",tmpfs-size={size}"));
    }
    if let Some(mode) = number("Mode") {
        spec.push_str(&format!(",tmpfs-mode={mode:o}"));
    }
    crate::volume::parse_mount(&spec)
        .map_err(|e| ApiError::bad(format!("HostConfig.Mounts[]: {}", e.message())))?;
    Ok(spec)
}

/// `-p`-style port strings from `PortBindings`: `80`, `8080:80`.
fn ports(bindings: BTreeMap<String, Option<Vec<PortBinding>>>) -> ApiResult<Vec<String>> {
    let mut out = Vec::new();
    for (port, binds) in bindings {
        let private = match port.split_once('/') {
            None => port.as_str(),
            Some((p, "tcp")) => p,
            Some((_, proto)) => {
                return Err(ApiError::bad(format!(
                    "port {port}: only tcp ports can be published, not {proto}"
                )))
            }
        };
        let binds = binds.unwrap_or_default();
        if binds.is_empty() {
            out.push(private.to_string());
        }
        for b in binds {
            if !matches!(b.host_ip.as_str(), "" | "0.0.0.0") {
                // Publishing on every address instead would expose what was meant to stay
                // on one.
                return Err(ApiError::bad(format!(
                    "port {port}: publishing on the host address {} is not supported by this runtime (ports are published on every address); leave HostIp empty",
                    b.host_ip
                )));
            }
            out.push(match b.host_port.as_str() {
                "" => private.to_string(),
                hp => format!("{hp}:{private}"),
            });
        }
    }
    Ok(out)
}

/// The request and the extras a create body asks for (`name`: the `name=` query).
pub fn parse(body: Value, name: Option<&str>) -> ApiResult<(CreateRequest, Extras)> {
    if body.is_null() {
        return Err(ApiError::bad(
            "the create request has no body: send a JSON Config",
        ));
    }
    refuse_unknown(&body, CONFIG_FIELDS, "Config")?;
    let host_value = body.get("HostConfig").cloned().unwrap_or(Value::Null);
    if !host_value.is_null() {
        refuse_unknown(&host_value, HOST_FIELDS, "HostConfig")?;
    }
    let cfg: Config = serde_json::from_value(body)
        .map_err(|e| ApiError::bad(format!("the create request is not a valid Config: {e}")))?;
    if cfg
        .entrypoint
        .map(Cmd::into_vec)
        .is_some_and(|e| !e.is_empty())
    {
        return Err(ApiError::bad(
            "Config.Entrypoint: overriding the image's entrypoint is not supported by this runtime",
        ));
    }
    let h = cfg.host_config;
    if !matches!(h.restart_policy.name.as_str(), "" | "no") {
        return Err(ApiError::bad(format!(
            "HostConfig.RestartPolicy {:?} is not supported by this runtime: only \"no\"",
            h.restart_policy.name
        )));
    }
    if !matches!(h.log_config.kind.as_str(), "" | "json-file") {
        return Err(ApiError::bad(format!(
            "HostConfig.LogConfig.Type {:?} is not supported: the runtime keeps its own log files",
            h.log_config.kind
        )));
    }
    let network_mode = match h.network_mode.as_str() {
        "" => None,
        m => Some(m.to_string()),
    };
    let none_if_empty = |s: String| (!s.is_empty()).then_some(s);
    let mut volumes = h.binds.unwrap_or_default();
    volumes.extend(cfg.volumes.unwrap_or_default().into_keys());
    let mounts = (h.mounts.unwrap_or_default().iter())
        .map(mount_spec)
        .collect::<ApiResult<Vec<_>>>()?;
    let req = CreateRequest {
        image: cfg.image,
        cmd: cfg.cmd.map(Cmd::into_vec).unwrap_or_default(),
        env: cfg.env.unwrap_or_default(),
        user: none_if_empty(cfg.user),
        working_dir: none_if_empty(cfg.working_dir),
        hostname: none_if_empty(cfg.hostname),
        memory: h.memory,
        tty: cfg.tty,
        open_stdin: cfg.open_stdin,
        detach: !(cfg.attach_stdin || cfg.attach_stdout || cfg.attach_stderr),
        ports: ports(h.port_bindings.unwrap_or_default())?,
        network_mode,
        cap_add: h.cap_add.unwrap_or_default(),
        cap_drop: h.cap_drop.unwrap_or_default(),
        security_opt: h.security_opt.unwrap_or_default(),
        volumes,
        mounts,
        cpu_shares: h.cpu_shares,
        name: name.filter(|n| !n.is_empty()).map(str::to_string),
        auto_remove: h.auto_remove,
    };
    let extras = Extras {
        auto_remove: false,
        console_size: h.console_size.unwrap_or_default(),
        host_config: host_value,
    };
    Ok((req, extras))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cli_s_create_body_becomes_a_request() {
        // What docker 20.10's `run --rm -p 8080:80 -e A=1 -it busybox sh` sends,
        // zero fields included.
        let body = json!({
            "Hostname": "", "Domainname": "", "User": "", "AttachStdin": true,
            "AttachStdout": true, "AttachStderr": true, "ExposedPorts": {"80/tcp": {}},
            "Tty": true, "OpenStdin": true, "StdinOnce": true, "Env": ["A=1"],
            "Cmd": ["sh"], "Image": "busybox", "Volumes": {}, "WorkingDir": "",
            "Entrypoint": null, "OnBuild": null, "Labels": {},
            "HostConfig": {
                "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
                "NetworkMode": "default",
                "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": true,
                "CapAdd": null, "CapDrop": null, "Dns": [], "ConsoleSize": [0, 0],
                "Privileged": false, "ShmSize": 0
            },
            "NetworkingConfig": {"EndpointsConfig": {}}
        });
        let (req, extras) = parse(body, Some("web")).unwrap();
        assert_eq!(req.image, "busybox");
        assert_eq!(req.name.as_deref(), Some("web"));
        assert!(req.volumes.is_empty());
        assert_eq!(req.cmd, ["sh"]);
        assert_eq!(req.env, ["A=1"]);
        assert_eq!(req.ports, ["8080:80"]);
        assert!(req.tty && req.open_stdin);
        assert_eq!(req.network_mode.as_deref(), Some("default"));
        assert!(req.auto_remove);
        assert_eq!(extras.console_size, [0, 0]);
        assert_eq!(
            parse(json!({"Image": "b", "Cmd": "echo hi"}), None)
                .unwrap()
                .0
                .cmd,
            ["/bin/sh", "-c", "echo hi"]
        );
        // Binds and anonymous volumes are `-v`'s; CpuShares `-c`.
        let body = json!({"Image": "b", "Volumes": {"/data": {}},
                          "HostConfig": {"Binds": ["/srv:/mnt:ro"], "CpuShares": 512}});
        let (req, _) = parse(body, None).unwrap();
        assert_eq!(req.volumes, ["/srv:/mnt:ro", "/data"]);
        assert_eq!(req.cpu_shares, 512);
    }

    #[test]
    fn mounts_become_mount_values() {
        // What docker 20.10's `run --mount type=bind,src=/srv,dst=/mnt,ro --mount
        // src=vol,dst=/v,volume-nocopy --mount type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770`
        // sends.
        let body = json!({"Image": "b", "HostConfig": {"Mounts": [
            {"Type": "bind", "Source": "/srv", "Target": "/mnt", "ReadOnly": true},
            {"Type": "volume", "Source": "vol", "Target": "/v",
             "VolumeOptions": {"NoCopy": true, "Labels": {}, "DriverConfig": {"Name": ""}}},
            {"Type": "tmpfs", "Target": "/t",
             "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 1016}}]}});
        let (req, _) = parse(body, None).unwrap();
        assert_eq!(
            req.mounts,
            [
                "type=bind,target=/mnt,source=/srv,readonly",
                "type=volume,target=/v,source=vol,volume-nocopy",
                "type=tmpfs,target=/t,tmpfs-size=1048576,tmpfs-mode=1770",
            ]
        );
        for (mount, word) in [
            (
                json!({"Type": "bind", "Source": "/s", "Target": "/t",
                    "BindOptions": {"Propagation": "shared"}}),
                "Propagation",
            ),
            (
                json!({"Type": "volume", "Target": "/t",
                    "VolumeOptions": {"Labels": {"a": "b"}}}),
                "VolumeOptions.Labels",
            ),
            (
                json!({"Type": "bind", "Source": "/a,b", "Target": "/t"}),
                "comma",
            ),
            (
                json!({"Type": "bind", "Target": "/t", "Frob": 1}),
                "Mounts[].Frob",
            ),
        ] {
            let body = json!({"Image": "b", "HostConfig": {"Mounts": [mount]}});
            let e = parse(body, None).unwrap_err();
            assert!(format!("{e:?}").contains(word), "{word}: {e:?}");
        }
    }

    #[test]
    fn what_the_runtime_cannot_do_is_refused_by_name() {
        for (body, word) in [
            (
                json!({"Image": "b", "HostConfig": {"Privileged": true}}),
                "HostConfig.Privileged",
            ),
            (
                json!({"Image": "b", "HostConfig": {"Mounts": [{"Type": "bind"}]}}),
                "HostConfig.Mounts",
            ),
            (json!({"Image": "b", "Labels": {"a": "b"}}), "Config.Labels"),
            (json!({"Image": "b", "Entrypoint": ["x"]}), "Entrypoint"),
            (
                json!({"Image": "b", "HostConfig": {"RestartPolicy": {"Name": "always"}}}),
                "RestartPolicy",
            ),
            (
                json!({"Image": "b", "HostConfig": {"PortBindings": {"53/udp": null}}}),
                "udp",
            ),
            (
                json!({"Image": "b", "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1"}]}}}),
                "127.0.0.1",
            ),
            (json!({"Image": 5}), "Config"),
            (json!({"Image": "b", "Env": "A=1"}), "Config"),
            (json!([1]), "Config"),
            (Value::Null, "no body"),
        ] {
            let e = parse(body.clone(), None).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains(word), "{body}: {}", e.message);
        }
    }
}
