//! Volumes through typed functions (a thin skin over [`crate::volume`] and the runtime's
//! volume functions): create, inspect, list, remove and prune, each answering in docker's
//! JSON (the Engine API's `Volume` objects).

use std::ffi::{c_char, c_int};

use super::container::{give_string, list_arg};
use super::guard::{guard, handle, opt_str_arg, out_arg, str_arg};
use super::result::docker_result;
use super::runtime::docker_runtime;
use crate::error::ErrorKind;
use crate::summary;

/// Create the volume `name` (NULL: an anonymous one with a generated name) with `labels`
/// (a NULL-terminated array of `KEY=VALUE`, NULL: none), or find it when it exists (it keeps
/// its own labels), as `docker volume create`; `*json` receives the volume as `docker volume
/// inspect` shows one (`{"CreatedAt","Driver":"local","Labels","Mountpoint","Name",
/// "Options","Scope":"local"}`; free it with `docker_string_free`). Blocks while the folder
/// is made (milliseconds); safe from any thread. Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_INVALID_UTF8`, `DOCKER_ERR_INVALID_ARGUMENT` (a name outside docker's
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, a label without a key), `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_volume_create(
    rt: *const docker_runtime,
    name: *const c_char,
    labels: *const *const c_char,
    json: *mut *mut c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; name NULL or a string; labels NULL or a
        // NULL-terminated array of strings.
        let (r, name, labels) = unsafe {
            (
                handle(rt, "rt")?,
                opt_str_arg(name, "name")?,
                list_arg(labels, "labels")?,
            )
        };
        out_arg(json, "json")?;
        let labels = crate::volume::labels(&labels)?;
        let v = r.rt.create_volume(name, labels)?;
        give_string(summary::pretty_json(&v)?, json)
    })
}

/// The volume `name` as `docker volume inspect` shows one, in `*json` (free it with
/// `docker_string_free`). Does not block. Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_INVALID_UTF8`, `DOCKER_ERR_INVALID_ARGUMENT` (not a volume name),
/// `DOCKER_ERR_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn docker_volume_inspect_json(
    rt: *const docker_runtime,
    name: *const c_char,
    json: *mut *mut c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; name NULL or a string.
        let (r, name) = unsafe { (handle(rt, "rt")?, str_arg(name, "name")?) };
        out_arg(json, "json")?;
        give_string(summary::pretty_json(&r.rt.volume(name)?)?, json)
    })
}

/// Every volume, by name, as a JSON array of what `docker_volume_inspect_json` gives, in
/// `*json` (free it with `docker_string_free`). Does not block. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_volumes_json(
    rt: *const docker_runtime,
    json: *mut *mut c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle.
        let r = unsafe { handle(rt, "rt") }?;
        out_arg(json, "json")?;
        give_string(summary::json(&r.rt.volumes()?)?, json)
    })
}

/// Remove the volume `name` and its content, as `docker volume rm`; refused while a
/// container (running or not) uses it. `force`: a volume that is not there is no error (as
/// docker's `force`; a volume in use is still refused). Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_INVALID_UTF8`, `DOCKER_ERR_INVALID_ARGUMENT` (not a volume name),
/// `DOCKER_ERR_NOT_FOUND` (without force), `DOCKER_ERR_IN_USE` (naming the containers),
/// `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_volume_remove(
    rt: *const docker_runtime,
    name: *const c_char,
    force: c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; name NULL or a string.
        let (r, name) = unsafe { (handle(rt, "rt")?, str_arg(name, "name")?) };
        match r.rt.remove_volume(name) {
            Err(e) if force != 0 && e.kind() == ErrorKind::NotFound => Ok(()),
            other => Ok(other?),
        }
    })
}

/// Remove every volume no container uses (named and anonymous, as docker 20.10's `volume
/// prune`); `*json` receives the Engine API's answer, `{"VolumesDeleted":["name",...],
/// "SpaceReclaimed":BYTES}` (free it with `docker_string_free`). Blocks while the volumes'
/// contents are removed. A failure stops the prune: the volumes removed before it stay
/// removed, each whole. Errors: `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_volumes_prune(
    rt: *const docker_runtime,
    json: *mut *mut c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle.
        let r = unsafe { handle(rt, "rt") }?;
        out_arg(json, "json")?;
        let removed = r.rt.prune_volumes()?;
        let answer = prune_answer(&removed);
        give_string(answer.to_string(), json)
    })
}

/// The Engine API's prune answer for the volumes `removed` (name, bytes).
fn prune_answer(removed: &[(String, u64)]) -> serde_json::Value {
    let names: Vec<&str> = removed.iter().map(|(n, _)| n.as_str()).collect();
    let space: u64 = removed.iter().map(|(_, s)| s).sum();
    serde_json::json!({"VolumesDeleted": names, "SpaceReclaimed": space})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prune_answer_is_the_engine_api_s() {
        let a = prune_answer(&[("a".into(), 3), ("b".into(), 4)]);
        assert_eq!(
            a.to_string(),
            r#"{"SpaceReclaimed":7,"VolumesDeleted":["a","b"]}"#
        );
        let none = prune_answer(&[]);
        assert_eq!(none["VolumesDeleted"], serde_json::json!([]));
    }
}
