//! Images: list, inspect, history, create (pull, or import from the body), tag, remove,
//! commit.

use std::io::Write;

use serde_json::{json, Value};

use super::auth;
use super::containers::find;
use super::ctx::{Ctx, Reply};
use super::wire::{self, ApiError, ApiResult};
use crate::image::Image;
use crate::registry::{Progress, Reference};

/// The image a path names (404 with docker's words when none).
fn image(ctx: &Ctx<'_>, name: &str) -> ApiResult<Image> {
    ctx.rt.image(name).map_err(|e| match e.kind() {
        crate::error::ErrorKind::NotFound => ApiError::new(404, format!("No such image: {name}")),
        _ => e.into(),
    })
}

fn layer_size(ctx: &Ctx<'_>, id: &str) -> u64 {
    ctx.rt
        .graph()
        .layer_dir(id)
        .map(|d| crate::fsutil::tree_size(&d))
        .unwrap_or(0)
}

/// `GET /images/json`.
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let list: Vec<Value> = crate::summary::images(ctx.rt)?
        .into_iter()
        .map(|i| {
            let tags = if i.repo_tags.is_empty() {
                vec!["<none>:<none>".to_string()]
            } else {
                i.repo_tags
            };
            json!({
                "Id": format!("sha256:{}", i.id),
                "ParentId": if i.parent_id.is_empty() { String::new() } else { format!("sha256:{}", i.parent_id) },
                "RepoTags": tags,
                "RepoDigests": [],
                "Created": i.created,
                "Size": i.size,
                "VirtualSize": i.size,
                "SharedSize": -1,
                "Labels": {},
                "Containers": -1,
            })
        })
        .collect();
    Ok(Reply::Json(200, Value::Array(list)))
}

/// `GET /images/{name}/json`.
pub fn inspect(ctx: &mut Ctx<'_>, name: &str) -> ApiResult<Reply> {
    let img = image(ctx, name)?;
    let tags: Vec<String> = ctx
        .rt
        .tags()
        .tags_of(&img.id)?
        .into_iter()
        .map(|(r, t)| format!("{r}:{t}"))
        .collect();
    let cfg = img.config.clone().unwrap_or_default();
    let size = layer_size(ctx, &img.id);
    Ok(Reply::Json(
        200,
        json!({
            "Id": format!("sha256:{}", img.id),
            "RepoTags": tags,
            "RepoDigests": [],
            "Parent": img.parent.as_ref().map(|p| format!("sha256:{p}")).unwrap_or_default(),
            "Comment": img.comment,
            "Created": img.created.to_rfc3339(),
            "Container": img.container.clone().unwrap_or_default(),
            "DockerVersion": wire::VERSION,
            "Author": "",
            "Config": {
                "Env": cfg.env,
                "Cmd": cfg.cmd,
                "Entrypoint": cfg.entrypoint,
                "WorkingDir": cfg.working_dir.unwrap_or_default(),
                "User": cfg.user.unwrap_or_default(),
                "Labels": null,
            },
            "Architecture": "amd64",
            "Os": "linux",
            "Size": size,
            "VirtualSize": size,
            "RootFS": {"Type": "layers", "Layers": []},
        }),
    ))
}

/// `GET /images/{name}/history`.
pub fn history(ctx: &mut Ctx<'_>, name: &str) -> ApiResult<Reply> {
    let img = image(ctx, name)?;
    let mut out = Vec::new();
    for h in ctx.rt.graph().history(&img.id)? {
        let tags: Vec<String> = ctx
            .rt
            .tags()
            .tags_of(&h.id)?
            .into_iter()
            .map(|(r, t)| format!("{r}:{t}"))
            .collect();
        let created_by = h
            .container_config
            .as_ref()
            .map(|c| c.cmd.join(" "))
            .unwrap_or_default();
        out.push(json!({
            "Id": format!("sha256:{}", h.id),
            "Created": h.created.timestamp(),
            "CreatedBy": created_by,
            "Tags": tags,
            "Size": layer_size(ctx, &h.id),
            "Comment": h.comment,
        }));
    }
    Ok(Reply::Json(200, Value::Array(out)))
}

/// `REPO[:TAG]` from the `repo` and `tag` query parameters (None: no repo given).
fn repo_tag(ctx: &Ctx<'_>, repo_key: &str) -> ApiResult<Option<(String, String)>> {
    let Some(repo) = ctx.req.query(repo_key).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let tag = ctx.req.query("tag").filter(|t| !t.is_empty());
    let name = match tag {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    };
    Ok(Some(crate::reference::parse_repo_tag(&name)?))
}

/// Write one progress message as its own line of the stream.
fn message(sock: &crate::server::addr::Stream, v: &Value) -> bool {
    let mut s = sock;
    s.write_all(format!("{v}\r\n").as_bytes()).is_ok()
}

/// `POST /images/create`: `fromImage` (+`tag`) pulls with JSON progress; `fromSrc=-`
/// imports the body as a layer (`repo`, `tag` name it). Errors after the head are sent as an
/// `{"errorDetail": ..., "error": ...}` message, as docker does.
pub fn create(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let from_image = ctx.req.query("fromImage").unwrap_or("").to_string();
    let from_src = ctx.req.query("fromSrc").unwrap_or("").to_string();
    let sock = ctx.sock;
    let head = wire::head(200, &[("Content-Type", "application/json")], None);
    match (from_image.is_empty(), from_src.as_str()) {
        (false, "") => {
            let tagged =
                from_image.contains('@') || crate::reference::split_tag(&from_image).1.is_some();
            let name = match ctx.req.query("tag").filter(|t| !t.is_empty()) {
                _ if tagged => from_image.clone(),
                Some(t) if t.starts_with("sha256:") => format!("{from_image}@{t}"),
                Some(t) => format!("{from_image}:{t}"),
                None => format!("{from_image}:latest"),
            };
            let r = Reference::parse(&name)?;
            auth::check_sent(ctx, r.domain.as_deref())?;
            let rt = ctx.rt;
            transfer(ctx, |progress| {
                let p = rt.pull_image(&r, progress)?;
                message(sock, &json!({"status": format!("Digest: {}", p.digest)}));
                Ok(format!("Status: Downloaded newer image for {name}"))
            })
        }
        (true, "-") => {
            let name = repo_tag(ctx, "repo")?;
            let comment = ctx.req.query("message").unwrap_or("").to_string();
            let body = wire::Body::new(&ctx.req, &mut ctx.input)?;
            let img = ctx.rt.import_image(body, comment, name.as_ref())?;
            let mut s = sock;
            s.write_all(&head)
                .map_err(|e| ApiError::new(500, format!("writing to the client: {e}")))?;
            message(sock, &json!({"status": format!("sha256:{}", img.id)}));
            Ok(Reply::Sent)
        }
        (true, "") => Err(ApiError::bad("give fromImage (pull) or fromSrc=- (import)")),
        (true, src) => Err(ApiError::bad(format!(
            "fromSrc={src:?} is not supported: only - (the request body)"
        ))),
        (false, _) => Err(ApiError::bad("give fromImage or fromSrc, not both")),
    }
}

/// Run a registry transfer with its progress streamed as JSON messages after a 200 head;
/// `f`'s result is the last message (its error as docker sends one).
fn transfer(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&Progress<'_>) -> crate::error::Result<String>,
) -> ApiResult<Reply> {
    let sock = ctx.sock;
    let mut s = sock;
    s.write_all(&wire::head(
        200,
        &[("Content-Type", "application/json")],
        None,
    ))
    .map_err(|e| ApiError::new(500, format!("writing to the client: {e}")))?;
    let send = |line: &str| {
        let mut s = sock;
        s.write_all(format!("{line}\r\n").as_bytes()).is_ok()
    };
    let progress = Progress::json(&send);
    match f(&progress) {
        Ok(last) => message(sock, &json!({ "status": last })),
        Err(e) => {
            let m = e.message().to_string();
            message(sock, &json!({"errorDetail": {"message": m}, "error": m}))
        }
    };
    Ok(Reply::Sent)
}

/// `POST /images/{name}/push?tag=`: to the registry the name names, with progress.
pub fn push(ctx: &mut Ctx<'_>, name: &str) -> ApiResult<Reply> {
    let full = match ctx.req.query("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{name}:{t}"),
        None => name.to_string(),
    };
    image(ctx, &full)?;
    let r = Reference::parse(&full)?;
    auth::check_sent(ctx, r.domain.as_deref())?;
    let rt = ctx.rt;
    transfer(ctx, |progress| {
        let creds = crate::registry::credentials(&rt.auth(), r.domain.as_deref());
        let trust = &rt.options().registry;
        let digest = crate::registry::push(rt.graph(), rt.tags(), creds, trust, &r, progress)?;
        Ok(format!("{}: digest: {digest}", r.tag_or_default()))
    })
}

/// `POST /images/{name}/tag?repo=&tag=` (an existing tag is moved, as docker does).
pub fn tag(ctx: &mut Ctx<'_>, name: &str) -> ApiResult<Reply> {
    let Some((repo, tag)) = repo_tag(ctx, "repo")? else {
        return Err(ApiError::bad("repo is required"));
    };
    image(ctx, name)?;
    ctx.rt.tag_image(name, &repo, &tag, true)?;
    Ok(Reply::Empty(201))
}

/// `DELETE /images/{name}` (`force` and `noprune` are not needed: containers keep theirs).
pub fn remove(ctx: &mut Ctx<'_>, name: &str) -> ApiResult<Reply> {
    image(ctx, name)?;
    let done: Vec<Value> = ctx
        .rt
        .remove_image(name)?
        .into_iter()
        .map(|r| match r {
            crate::runtime::ImageRemoval::Untagged(t) => json!({"Untagged": t}),
            crate::runtime::ImageRemoval::Deleted(id) => json!({"Deleted": format!("sha256:{id}")}),
        })
        .collect();
    Ok(Reply::Json(200, Value::Array(done)))
}

/// `POST /commit?container=&repo=&tag=&comment=&pause=`.
pub fn commit(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let id = ctx.req.query("container").unwrap_or("").to_string();
    if id.is_empty() {
        return Err(ApiError::bad("container is required"));
    }
    let name = repo_tag(ctx, "repo")?;
    let comment = ctx.req.query("comment").unwrap_or("").to_string();
    let pause = ctx.req.query("pause").is_none() || ctx.req.flag("pause");
    let c = find(ctx.rt, &id)?;
    let img = ctx.rt.commit_container(&c, comment, name.as_ref(), pause)?;
    Ok(Reply::Json(
        201,
        json!({"Id": format!("sha256:{}", img.id)}),
    ))
}

/// `GET /images/get?names=A&names=B` and `GET /images/{name}/get`: the docker archive.
pub fn save(ctx: &mut Ctx<'_>, name: Option<&str>) -> ApiResult<Reply> {
    let names: Vec<String> = match name {
        Some(n) => vec![n.to_string()],
        None => ctx
            .req
            .query
            .iter()
            .filter(|(k, v)| k == "names" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect(),
    };
    if names.is_empty() {
        return Err(ApiError::bad("names is required: the images to save"));
    }
    let items = ctx.rt.images_to_save(&names).map_err(|e| match e.kind() {
        crate::error::ErrorKind::NotFound => ApiError::new(404, e.message().to_string()),
        _ => e.into(),
    })?;
    let mut s = ctx.sock;
    s.write_all(&wire::head(
        200,
        &[("Content-Type", "application/x-tar")],
        None,
    ))
    .map_err(|e| ApiError::new(500, format!("writing to the client: {e}")))?;
    // Once the head is out, a failure can only cut the stream short (the client sees a
    // truncated archive, which `load` refuses).
    let _ = ctx.rt.save_images(&items, s);
    Ok(Reply::Sent)
}

/// `POST /images/load`: the body is a docker archive; one `{"stream": "Loaded image: ..."}`
/// message per name (or id).
pub fn load(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let body = wire::Body::new(&ctx.req, &mut ctx.input)?;
    let loaded = ctx.rt.load_images(body)?;
    let mut lines = Vec::new();
    for l in loaded {
        if l.names.is_empty() {
            lines.push(format!("Loaded image ID: sha256:{}\n", l.id));
        }
        for (repo, tag) in l.names {
            lines.push(format!("Loaded image: {repo}:{tag}\n"));
        }
    }
    let mut body = String::new();
    for l in lines {
        body.push_str(&json!({ "stream": l }).to_string());
        body.push_str("\r\n");
    }
    wire::send(
        ctx.sock,
        200,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .map_err(|e| ApiError::new(500, format!("writing to the client: {e}")))?;
    Ok(Reply::Sent)
}
