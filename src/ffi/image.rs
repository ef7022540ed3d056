//! Images through typed functions: import a tar from a descriptor, pull with JSON progress,
//! tag, remove, save to and load from a descriptor, and the images as a JSON list.

use std::ffi::{c_char, c_int, c_void, CString};
use std::fs::File;

use super::container::{give_string, list_arg};
use super::guard::{dup_fd, guard, handle, opt_str_arg, out_arg, str_arg, write_str_out, Userdata};
use super::result::{docker_result, FfiError, FfiResult};
use super::runtime::docker_runtime;
use crate::reference::{validate_repo, validate_tag, DEFAULT_TAG};
use crate::registry::{Progress, Reference};

/// The images as a JSON array, newest first: the tagged ones and the untagged heads (as
/// `docker images` lists them), each `{"Id","RepoTags":["repo:tag"],"Created" (unix s),
/// "Size" (bytes of its layer),"ParentId"}`, in `*json` (free with `docker_string_free`).
/// Reads the image folders; safe from any thread. Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_IO`, `DOCKER_ERR_CORRUPT`.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_images_json(
    rt: *const docker_runtime,
    json: *mut *mut c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle.
        let r = unsafe { handle(rt, "rt") }?;
        out_arg(json, "json")?;
        let list = crate::summary::images(&r.rt)?;
        give_string(crate::summary::json(&list)?, json)
    })
}

/// `repo` and `tag` checked, `tag` defaulting to `latest`.
fn name_of(repo: &str, tag: Option<&str>) -> FfiResult<(String, String)> {
    let tag = tag.unwrap_or(DEFAULT_TAG);
    validate_repo(repo)?;
    validate_tag(tag)?;
    Ok((repo.to_string(), tag.to_string()))
}

/// Check an id buffer before any work: 65 bytes hold any id.
fn id_buf_arg(buf: *mut c_char, len: usize) -> FfiResult<()> {
    out_arg(buf, "id_buf")?;
    if len < 65 {
        return Err(FfiError::new(
            docker_result::DOCKER_ERR_BUFFER_TOO_SMALL,
            format!("id_buf holds {len} bytes; 65 are needed"),
        ));
    }
    Ok(())
}

/// Read a tar archive (plain, gzip, bzip2 or xz) from `fd` to its end and register it as a
/// new parentless image; its id (64 hex digits and a NUL) goes to `id_buf` (`len` >= 65).
/// With `repo` (and `tag`, NULL: `latest`) the image is tagged, the tag moved if it named
/// another image. `fd` is borrowed (the library reads a duplicate). Blocks until the end of
/// the archive: cancel it from another thread by closing the writing end (the import fails
/// with `DOCKER_ERR_CORRUPT` when the archive was cut short, and nothing is registered).
/// Announced as `import` (and `tag`) events. Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_INVALID_UTF8`, `DOCKER_ERR_INVALID_ARGUMENT` (bad repo or tag, checked
/// first), `DOCKER_ERR_BUFFER_TOO_SMALL` (checked first), `DOCKER_ERR_IO` (a closed fd),
/// `DOCKER_ERR_CORRUPT` (not an archive), `DOCKER_ERR_EXHAUSTED` (over the layer limits).
#[no_mangle]
pub unsafe extern "C" fn docker_image_import(
    rt: *const docker_runtime,
    fd: c_int,
    repo: *const c_char,
    tag: *const c_char,
    id_buf: *mut c_char,
    len: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; repo and tag NULL or strings.
        let (r, repo, tag) = unsafe {
            (
                handle(rt, "rt")?,
                opt_str_arg(repo, "repo")?,
                opt_str_arg(tag, "tag")?,
            )
        };
        id_buf_arg(id_buf, len)?;
        let name = repo.map(|repo| name_of(repo, tag)).transpose()?;
        let source = File::from(dup_fd(fd, "fd")?);
        let comment = "Imported from a file descriptor".to_string();
        let img = r.rt.import_image(source, comment, name.as_ref())?;
        // SAFETY: id_buf is writable for len >= 65 bytes (checked).
        unsafe { write_str_out(&img.id, id_buf, len, "id_buf") }
    })
}

/// Receives a pull's progress: one JSON object per call (borrowed for the call), as the
/// Engine API reports a pull: `{"status":"Downloading","id":"3f2a9c1b04de",
/// "progressDetail":{"current":N,"total":M}}`, `{"status":"Pull complete","id":"..."}` and
/// `{"status":"..."}` lines. Runs on the calling thread or on the pull's download threads,
/// one call at a time, all before `docker_image_pull` returns. Return 0 to go on; nonzero
/// cancels the pull (no more calls).
pub type docker_progress_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, json: *const c_char) -> c_int>;

/// Pull `ref` (`NAME[:TAG|@DIGEST]`, Docker Hub when NAME has no host) with the runtime's
/// saved credentials; the image's id (64 hex digits and a NUL) goes to `id_buf` (`len` >=
/// 65). A tag is set as `docker pull` sets it. `cb` (NULL: no progress) gets the progress.
/// Blocks until the pull is done (minutes for a large image); cancel it through the callback
/// (return nonzero: `DOCKER_ERR_CANCELLED`, nothing half-registered). Announced as a `pull`
/// event. Errors: `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_INVALID_UTF8`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (a bad reference), `DOCKER_ERR_BUFFER_TOO_SMALL` (checked
/// first), `DOCKER_ERR_REMOTE` (the registry failed or refused), `DOCKER_ERR_NOT_FOUND`,
/// `DOCKER_ERR_CORRUPT` (a blob that does not match its digest), `DOCKER_ERR_CANCELLED`,
/// `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_image_pull(
    rt: *const docker_runtime,
    r#ref: *const c_char,
    cb: docker_progress_callback,
    userdata: *mut c_void,
    id_buf: *mut c_char,
    len: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; ref NULL or a string.
        let (r, name) = unsafe { (handle(rt, "rt")?, str_arg(r#ref, "ref")?) };
        id_buf_arg(id_buf, len)?;
        let reference = Reference::parse(name)?;
        let ud = Userdata(userdata);
        let report = move |json: &str| -> bool {
            let Some(cb) = cb else {
                return true;
            };
            let text = CString::new(json).unwrap_or_default();
            // SAFETY: the host registered cb with this userdata; text lives for the call.
            unsafe { cb(ud.ptr(), text.as_ptr()) == 0 }
        };
        let progress = Progress::json(&report);
        let pulled = match r.rt.pull_image(&reference, &progress) {
            Err(_) if progress.cancelled() => {
                return Err(FfiError::new(
                    docker_result::DOCKER_ERR_CANCELLED,
                    format!("pulling {name}: the progress callback cancelled it"),
                ))
            }
            other => other?,
        };
        // SAFETY: id_buf is writable for len >= 65 bytes (checked).
        unsafe { write_str_out(&pulled.id, id_buf, len, "id_buf") }
    })
}

/// Tag the image `image` names (`name[:tag]` or an id prefix) as `repo:tag` (`tag` NULL:
/// `latest`); `force`: move the tag when it names another image. Announced as a `tag`
/// event. Does not block. Errors: `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_INVALID_UTF8`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (bad repo or tag), `DOCKER_ERR_NOT_FOUND` (no such image),
/// `DOCKER_ERR_ALREADY_EXISTS` (the tag names another image, without force).
#[no_mangle]
pub unsafe extern "C" fn docker_image_tag(
    rt: *const docker_runtime,
    image: *const c_char,
    repo: *const c_char,
    tag: *const c_char,
    force: c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; the strings NULL or NUL-terminated.
        let (r, image, repo, tag) = unsafe {
            (
                handle(rt, "rt")?,
                str_arg(image, "image")?,
                str_arg(repo, "repo")?,
                opt_str_arg(tag, "tag")?,
            )
        };
        let (repo, tag) = name_of(repo, tag)?;
        Ok(r.rt.tag_image(image, &repo, &tag, force != 0)?)
    })
}

/// As `docker rmi NAME`: untag `repo:tag` when it is one of several tags of its image;
/// otherwise delete the image and all its tags. Announced as `untag` and `delete` events.
/// Errors: `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_INVALID_UTF8`, `DOCKER_ERR_NOT_FOUND`,
/// `DOCKER_ERR_IN_USE` (a container or a child image uses it), `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_image_remove(
    rt: *const docker_runtime,
    name: *const c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; name NULL or a string.
        let (r, name) = unsafe { (handle(rt, "rt")?, str_arg(name, "name")?) };
        r.rt.remove_image(name)?;
        Ok(())
    })
}

/// Write the images `names` names (a NULL-terminated array of `NAME[:TAG]`, a repository
/// alone standing for all its tags, or id prefixes) to `fd` as one tar archive, as `docker
/// save` writes it (docker's format with the OCI image layout inside, which docker, skopeo
/// and containerd read). `fd` is borrowed (the library writes a duplicate; a pipe, a file or
/// a socket). Every name is resolved before anything is written. Blocks until the archive is
/// written (seconds per hundred megabytes); a reader that closes its end early makes it fail
/// with `DOCKER_ERR_IO` (a host that does not ignore SIGPIPE gets the signal first).
/// Announced as `save` events. Errors: `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_INVALID_UTF8`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (no names, a negative fd), `DOCKER_ERR_NOT_FOUND` (a name
/// that names no image), `DOCKER_ERR_IO` (a closed fd, a failed write), `DOCKER_ERR_CORRUPT`
/// (an image that cannot be read).
#[no_mangle]
pub unsafe extern "C" fn docker_image_save(
    rt: *const docker_runtime,
    names: *const *const c_char,
    fd: c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; names NULL or a NULL-terminated string array.
        let (r, names) = unsafe { (handle(rt, "rt")?, list_arg(names, "names")?) };
        if names.is_empty() {
            return Err(FfiError::new(
                docker_result::DOCKER_ERR_INVALID_ARGUMENT,
                "names holds no image name",
            ));
        }
        let items = r.rt.images_to_save(&names)?;
        let out = File::from(dup_fd(fd, "fd")?);
        Ok(r.rt.save_images(&items, out)?)
    })
}

/// Read an image archive from `fd` to its end (ours, docker's of any version, skopeo's
/// `docker-archive:` or `oci-archive:`, `ctr image export`'s; plain or compressed) and load
/// its images, named as the archive names them (tags moved as `docker load` moves them).
/// `*json` receives a JSON array with one `{"Id":"...","RepoTags":["repo:tag"]}` per image
/// (free it with `docker_string_free`). `fd` is borrowed (the library reads a duplicate).
/// All or nothing: on any error no image and no tag of the archive is left. Blocks until
/// the archive is read and unpacked; cancel it by closing the writing end (the load then
/// fails with `DOCKER_ERR_CORRUPT`). Announced as `load` events. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_INVALID_ARGUMENT` (a negative fd),
/// `DOCKER_ERR_IO` (a closed fd), `DOCKER_ERR_CORRUPT` (not an image archive,
/// an entry or a link leading out of it, a digest that does not match, a document too big),
/// `DOCKER_ERR_EXHAUSTED` (over the layer limits), `DOCKER_ERR_UNSUPPORTED` (another
/// platform's image, a layer format that cannot be unpacked).
#[no_mangle]
pub unsafe extern "C" fn docker_image_load(
    rt: *const docker_runtime,
    fd: c_int,
    json: *mut *mut c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle.
        let r = unsafe { handle(rt, "rt") }?;
        out_arg(json, "json")?;
        let source = File::from(dup_fd(fd, "fd")?);
        let loaded = r.rt.load_images(source)?;
        let list: Vec<serde_json::Value> = (loaded.iter())
            .map(|l| {
                let tags: Vec<String> = (l.names.iter()).map(|(r, t)| format!("{r}:{t}")).collect();
                serde_json::json!({"Id": l.id, "RepoTags": tags})
            })
            .collect();
        give_string(serde_json::Value::Array(list).to_string(), json)
    })
}
