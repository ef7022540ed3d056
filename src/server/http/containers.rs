//! Containers: create, list, inspect, start, stop, restart, kill, resize, changes, export,
//! remove.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::create::{self, Extras};
use super::ctx::{Ctx, Reply};
use super::wire::{self, ApiError, ApiResult};
use crate::container::{Container, ContainerRecord, StartOptions};
use crate::runtime::Runtime;

/// The container a path names (404 when none).
pub fn find(rt: &Runtime, id: &str) -> ApiResult<Arc<Container>> {
    rt.container(id).map_err(|e| match e.kind() {
        crate::error::ErrorKind::NotFound => ApiError::new(404, format!("No such container: {id}")),
        _ => e.into(),
    })
}

/// `POST /containers/create`.
pub fn create(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let name = ctx.req.query("name").map(str::to_string);
    let body: Value = ctx.json()?;
    let (req, extras) = create::parse(body, name.as_deref())?;
    let prepared = req.prepare()?;
    let c = ctx.rt.create(&prepared).map_err(|e| match e.kind() {
        crate::error::ErrorKind::NotFound => {
            ApiError::new(404, format!("No such image: {}", prepared.image()))
        }
        _ => e.into(),
    })?;
    if let Err(e) = extras.save(c.dir()) {
        let _ = ctx.rt.remove_container(&c);
        return Err(e.into());
    }
    Ok(Reply::Json(201, json!({"Id": c.id, "Warnings": []})))
}

/// Start `c` (its terminal sized as created) and, when it was created with `AutoRemove`,
/// remove it once it exits.
pub fn start_container(rt: &Arc<Runtime>, c: &Arc<Container>) -> ApiResult<()> {
    let extras = Extras::load(c.dir());
    let [rows, cols] = extras.console_size;
    let opts = StartOptions {
        tty_size: (rows > 0 && cols > 0).then_some((rows, cols)),
    };
    rt.start_container(c, &opts)?;
    if c.record().auto_remove || extras.auto_remove {
        rt.remove_when_exited(c)?;
    }
    Ok(())
}

/// `POST /containers/{id}/start`: 304 when it runs already.
pub fn start(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    if c.is_running() {
        return Ok(Reply::Empty(304));
    }
    start_container(ctx.rt, &c)?;
    Ok(Reply::Empty(204))
}

fn stop_timeout(ctx: &Ctx<'_>) -> ApiResult<Duration> {
    let t = ctx.req.int("t", 10)?;
    u64::try_from(t)
        .map(Duration::from_secs)
        .map_err(|_| ApiError::bad(format!("t={t}: the stop timeout cannot be negative")))
}

/// `POST /containers/{id}/stop`: 304 when it is not running.
pub fn stop(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let timeout = stop_timeout(ctx)?;
    let c = find(ctx.rt, id)?;
    if !c.is_running() {
        return Ok(Reply::Empty(304));
    }
    c.stop(timeout)?;
    Ok(Reply::Empty(204))
}

/// `POST /containers/{id}/restart`.
pub fn restart(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let timeout = stop_timeout(ctx)?;
    let c = find(ctx.rt, id)?;
    c.stop(timeout)?;
    start_container(ctx.rt, &c)?;
    Ok(Reply::Empty(204))
}

/// `POST /containers/{id}/kill` (`signal`, SIGKILL by default): 409 when it is not running.
pub fn kill(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let sig = crate::proc::parse_signal(
        ctx.req
            .query("signal")
            .filter(|s| !s.is_empty())
            .unwrap_or("KILL"),
    )?;
    let c = find(ctx.rt, id)?;
    if !c.is_running() {
        return Err(ApiError::new(409, format!("Container {id} is not running")));
    }
    if sig == libc::SIGKILL {
        c.kill()?;
    } else {
        c.signal(sig)?;
    }
    Ok(Reply::Empty(204))
}

/// `POST /containers/{id}/pause` and `/unpause` (`pause`: freeze, else thaw): 409 when it
/// is not running, already paused or not paused.
pub fn pause(ctx: &mut Ctx<'_>, id: &str, pause: bool) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    if !c.is_running() {
        return Err(ApiError::new(409, format!("Container {id} is not running")));
    }
    let r = if pause { c.pause() } else { c.unpause() };
    r.map_err(|e| match e.kind() {
        crate::error::ErrorKind::InvalidArgument => ApiError::new(409, e.message().to_string()),
        _ => e.into(),
    })?;
    Ok(Reply::Empty(204))
}

/// `POST /containers/{id}/resize?h=&w=`.
pub fn resize(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let size = |name: &str| -> ApiResult<u16> {
        let v = ctx.req.int(name, 0)?;
        u16::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| ApiError::bad(format!("{name}={v}: want a size from 1 to 65535")))
    };
    let (rows, cols) = (size("h")?, size("w")?);
    let c = find(ctx.rt, id)?;
    if !c.is_running() {
        return Err(ApiError::new(409, format!("Container {id} is not running")));
    }
    c.resize(rows, cols)?;
    Ok(Reply::Json(200, Value::Null))
}

/// `GET /containers/{id}/changes`: Kind 0 modified, 1 added, 2 deleted.
pub fn changes(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    let rw = c.rw_dir();
    if !rw.exists() {
        return Ok(Reply::Json(200, Value::Null));
    }
    let layers = ctx.rt.image_layers(&c.record().image)?;
    let list: Vec<Value> = crate::image::changes(&layers, &rw)?
        .into_iter()
        .map(|ch| {
            let kind = match ch.kind {
                crate::image::ChangeKind::Modified => 0,
                crate::image::ChangeKind::Added => 1,
                crate::image::ChangeKind::Deleted => 2,
            };
            json!({"Path": ch.path, "Kind": kind})
        })
        .collect();
    Ok(Reply::Json(200, Value::Array(list)))
}

/// `GET /containers/{id}/export`: the file system as a tar stream.
pub fn export(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    use std::io::Write;
    let c = find(ctx.rt, id)?;
    let mut sock = ctx.sock;
    let mut head_sent = false;
    let r = ctx.rt.with_rootfs(&c, |root| {
        sock.write_all(&wire::head(
            200,
            &[("Content-Type", "application/x-tar")],
            None,
        ))
        .map_err(|e| crate::error::Error::io("writing to the client", e))?;
        head_sent = true;
        crate::image::pack_dir(root, &mut sock)
    });
    match r {
        Err(e) if !head_sent => Err(e.into()),
        // Once the head is out, a failure can only cut the stream short.
        _ => Ok(Reply::Sent),
    }
}

/// `DELETE /containers/{id}` (`force`: kill it first; `v`: its anonymous volumes too).
pub fn remove(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    if c.is_running() {
        if !ctx.req.flag("force") {
            return Err(ApiError::new(
                409,
                format!("You cannot remove a running container {}. Stop the container before attempting removal or force remove", c.id),
            ));
        }
        c.kill()?;
    }
    // `v`: its anonymous volumes too (named ones stay), as `rm -v`.
    ctx.rt.remove_container_with(&c, ctx.req.flag("v"))?;
    Ok(Reply::Empty(204))
}

/// `running`, `paused`, `exited` or `created`.
fn status_word(rec: &ContainerRecord) -> &'static str {
    if rec.state.paused {
        "paused"
    } else if rec.state.running {
        "running"
    } else if rec.state.started_at.is_some() {
        "exited"
    } else {
        "created"
    }
}

fn ports_json(rec: &ContainerRecord) -> Value {
    let mut ports = serde_json::Map::new();
    for (private, public) in &rec.network_settings.port_mapping {
        let (ip, port) = public.rsplit_once(':').unwrap_or(("0.0.0.0", public));
        ports.insert(
            format!("{}/tcp", private.trim_end_matches("/tcp")),
            json!([{"HostIp": ip, "HostPort": port}]),
        );
    }
    Value::Object(ports)
}

/// The published ports as a list shows them.
fn port_list(rec: &ContainerRecord) -> Vec<Value> {
    let mut out = Vec::new();
    for (private, public) in &rec.network_settings.port_mapping {
        let (ip, port) = public.rsplit_once(':').unwrap_or(("0.0.0.0", public));
        let (Ok(private), Ok(public)) = (
            private.trim_end_matches("/tcp").parse::<u16>(),
            port.parse::<u16>(),
        ) else {
            continue;
        };
        out.push(json!({"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": "tcp"}));
    }
    out
}

/// `filters` of a list: `{"status": [...], "id": [...]}` (the others are refused).
fn list_filters(ctx: &Ctx<'_>) -> ApiResult<Vec<(String, Vec<String>)>> {
    let Some(raw) = ctx.req.query("filters").filter(|f| !f.is_empty()) else {
        return Ok(Vec::new());
    };
    let map: std::collections::BTreeMap<String, Value> = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad(format!("filters {raw:?} are not a JSON object: {e}")))?;
    let mut out = Vec::new();
    for (k, v) in map {
        if !matches!(k.as_str(), "status" | "id") {
            return Err(ApiError::bad(format!(
                "filter {k:?} is not supported by this runtime: only status and id"
            )));
        }
        // Both `{"status": ["x"]}` and the older `{"status": {"x": true}}`.
        let values: Vec<String> = match v {
            Value::Array(a) => a
                .iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect(),
            Value::Object(o) => o.keys().cloned().collect(),
            _ => {
                return Err(ApiError::bad(format!(
                    "filter {k:?}: want a list of strings"
                )))
            }
        };
        out.push((k, values));
    }
    Ok(out)
}

/// `GET /containers/json` (`all`, `limit`, `filters` on status and id).
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let filters = list_filters(ctx)?;
    let limit = ctx.req.int("limit", -1)?;
    let all = ctx.req.flag("all") || limit > 0 || !filters.is_empty();
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for c in ctx.rt.containers() {
        let rec = c.inspect();
        let status = status_word(&rec);
        if !all && !rec.state.running {
            continue;
        }
        let keep = filters.iter().all(|(k, vals)| match k.as_str() {
            "status" => vals.iter().any(|v| v == status),
            _ => vals.iter().any(|v| rec.id.starts_with(v.as_str())),
        });
        if !keep {
            continue;
        }
        let ports = port_list(&rec);
        let command = std::iter::once(rec.path.clone())
            .chain(rec.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(json!({
            "Id": rec.id,
            "Names": [rec.name],
            "Image": crate::summary::image_name(ctx.rt, &rec.image),
            "ImageID": format!("sha256:{}", rec.image),
            "Command": command,
            "Created": rec.created.timestamp(),
            "Ports": ports,
            "Labels": {},
            "State": status,
            "Status": docker_status(&rec, now),
            "HostConfig": {"NetworkMode": if rec.config.network_disabled { "none" } else { "default" }},
            "NetworkSettings": {"Networks": {}},
            "Mounts": [],
        }));
        if limit > 0 && out.len() as i64 >= limit {
            break;
        }
    }
    Ok(Reply::Json(200, Value::Array(out)))
}

/// `Up 5 minutes` or `Exited (3) 2 minutes ago` (docker's words), `Created`.
fn docker_status(rec: &ContainerRecord, now: chrono::DateTime<chrono::Utc>) -> String {
    match status_word(rec) {
        "created" => "Created".to_string(),
        "exited" => format!("Exited ({})", rec.state.exit_code),
        _ => rec.state.describe(now),
    }
}

/// `GET /containers/{id}/json`: the shape the CLI and docker-py read.
pub fn inspect(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    let rec = c.inspect();
    let extras = Extras::load(c.dir());
    let ts = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("0001-01-01T00:00:00Z".to_string(), |t| t.to_rfc3339())
    };
    let cfg = &rec.config;
    let status = status_word(&rec);
    let mut host_config = match extras.host_config {
        Value::Object(o) => Value::Object(o),
        _ => json!({}),
    };
    host_config["NetworkMode"] = json!(if cfg.network_disabled {
        "none"
    } else {
        "default"
    });
    host_config["Memory"] = json!(cfg.memory);
    host_config["AutoRemove"] = json!(rec.auto_remove || extras.auto_remove);
    // The logs are files of the runtime's own, read as json-file ones are (docker-py reads
    // this to know it may fetch them).
    host_config["LogConfig"] = json!({"Type": "json-file", "Config": {}});
    host_config["RestartPolicy"] = json!({"Name": "no", "MaximumRetryCount": 0});
    let net = &rec.network_settings;
    Ok(Reply::Json(
        200,
        json!({
            "Id": rec.id,
            "Created": rec.created.to_rfc3339(),
            "Path": rec.path,
            "Args": rec.args,
            "State": {
                "Status": status,
                "Running": rec.state.running,
                "Paused": rec.state.paused,
                "Restarting": false,
                "OOMKilled": false,
                "Dead": false,
                "Pid": rec.state.pid,
                "ExitCode": rec.state.exit_code,
                "Error": "",
                "StartedAt": ts(rec.state.started_at),
                "FinishedAt": ts(None),
            },
            "Image": format!("sha256:{}", rec.image),
            "Name": rec.name,
            "RestartCount": 0,
            "Driver": "overlay",
            "Platform": "linux",
            "HostConfig": host_config,
            "Config": {
                "Hostname": cfg.hostname,
                "User": cfg.user,
                "Tty": cfg.tty,
                "OpenStdin": cfg.open_stdin,
                "StdinOnce": false,
                "AttachStdin": false,
                "AttachStdout": !cfg.detach,
                "AttachStderr": !cfg.detach,
                "Env": cfg.env,
                "Cmd": rec.args.iter().cloned().fold(vec![rec.path.clone()], |mut v, a| { v.push(a); v }),
                "Image": cfg.image,
                "WorkingDir": cfg.working_dir,
                "Entrypoint": null,
                "Labels": {},
            },
            "NetworkSettings": {
                "IPAddress": net.ip_address,
                "IPPrefixLen": net.ip_prefix_len,
                "Gateway": net.gateway,
                "Ports": ports_json(&rec),
                "Networks": {},
            },
            "Mounts": [],
        }),
    ))
}

/// `GET /containers/{id}/top`: the processes in its cgroup, as `ps -ef`'s columns (`ps_args`
/// are not taken: the columns are fixed).
pub fn top(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    if ctx
        .req
        .query("ps_args")
        .is_some_and(|a| !a.is_empty() && a != "-ef")
    {
        return Err(ApiError::bad(
            "ps_args are not supported: the columns are ps -ef's",
        ));
    }
    if !c.is_running() {
        return Err(ApiError::new(
            409,
            format!("Container {} is not running", c.id),
        ));
    }
    let cg = c.cgroup().ok_or_else(|| {
        ApiError::new(
            500,
            format!("container {} has no cgroup on this host", c.id),
        )
    })?;
    let mut rows = crate::ps::table(&cg.pids());
    let titles = rows.remove(0);
    Ok(Reply::Json(
        200,
        json!({"Titles": titles, "Processes": rows}),
    ))
}
