//! Volumes: list, create, inspect, remove, prune (what `docker volume` and docker-py's
//! `client.volumes` ask), over the runtime's volume functions (see [`crate::volume`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::ctx::{Ctx, Reply};
use super::wire::{ApiError, ApiResult};

/// Refuse any `filters` but an empty set (none is read here).
fn no_filters(ctx: &Ctx<'_>, what: &str) -> ApiResult<()> {
    let Some(raw) = ctx.req.query("filters").filter(|f| !f.is_empty()) else {
        return Ok(());
    };
    let map: BTreeMap<String, Value> = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad(format!("filters {raw:?} are not a JSON object: {e}")))?;
    match map.keys().next() {
        None => Ok(()),
        Some(k) => Err(ApiError::bad(format!(
            "filter {k:?} of {what} is not supported by this runtime"
        ))),
    }
}

/// `GET /volumes`: every volume, by name.
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    no_filters(ctx, "a volume list")?;
    let volumes = ctx.rt.volumes()?;
    Ok(Reply::Json(
        200,
        json!({"Volumes": volumes, "Warnings": Value::Null}),
    ))
}

/// `POST /volumes/create`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// `POST /volumes/create` (`Name` empty: a generated one; only the `local` driver, without
/// options; an existing volume is given back).
pub fn create(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let body: Option<CreateBody> = ctx.json()?;
    let body = body.unwrap_or_default();
    if !matches!(body.driver.as_str(), "" | "local") {
        return Err(ApiError::bad(format!(
            "volume driver {:?} is not supported by this runtime: only local",
            body.driver
        )));
    }
    if body.driver_opts.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(ApiError::bad(
            "DriverOpts are not supported by this runtime: the local driver takes none here",
        ));
    }
    let name = (!body.name.is_empty()).then_some(body.name.as_str());
    let v = ctx
        .rt
        .create_volume(name, body.labels.unwrap_or_default())?;
    Ok(Reply::Json(201, serde_json::to_value(v).map_err(json_err)?))
}

fn json_err(e: serde_json::Error) -> ApiError {
    ApiError::new(500, format!("writing a volume as JSON: {e}"))
}

/// `GET /volumes/{name}`.
pub fn inspect(ctx: &mut Ctx<'_>, name: &str) -> ApiResult<Reply> {
    let v = ctx.rt.volume(name)?;
    Ok(Reply::Json(200, serde_json::to_value(v).map_err(json_err)?))
}

/// `DELETE /volumes/{name}` (`force`: a missing one is no error; one in use is still
/// refused, 409).
pub fn remove(ctx: &mut Ctx<'_>, name: &str) -> ApiResult<Reply> {
    match ctx.rt.remove_volume(name) {
        Err(e) if ctx.req.flag("force") && e.kind() == crate::error::ErrorKind::NotFound => {}
        other => other?,
    }
    Ok(Reply::Empty(204))
}

/// `POST /volumes/prune`: every volume no container uses, named and anonymous (docker
/// 20.10).
pub fn prune(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    no_filters(ctx, "a volume prune")?;
    let removed = ctx.rt.prune_volumes()?;
    let names: Vec<&str> = removed.iter().map(|(n, _)| n.as_str()).collect();
    let space: u64 = removed.iter().map(|(_, s)| s).sum();
    Ok(Reply::Json(
        200,
        json!({"VolumesDeleted": names, "SpaceReclaimed": space}),
    ))
}
