//! The image commands: `import`, `images`, `history`, `tag`, `rmi`, `inspect`, `save`, `load`.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use super::flags::Flags;
use super::streams::Streams;
use crate::error::{Error, ErrorKind, Result};
use crate::humanize;
use crate::ids;
use crate::image::Image;
use crate::reference::{split_tag, validate_repo, validate_tag, DEFAULT_TAG};
use crate::runtime::Runtime;
use crate::summary;
use crate::table::render_min;

fn parse(f: &Flags, args: &[String], io: &mut Streams) -> Result<Option<super::flags::Parsed>> {
    f.parse(args, &mut io.stdout)
}

/// `REPOSITORY [TAG]` or `REPOSITORY:TAG` from the command line, validated.
pub(crate) fn repo_and_tag(repo: &str, tag: Option<&str>) -> Result<(String, String)> {
    let (r, t) = match tag {
        Some(t) => (repo, t),
        None => {
            let (r, t) = split_tag(repo);
            (r, t.unwrap_or(DEFAULT_TAG))
        }
    };
    validate_repo(r)?;
    validate_tag(t)?;
    Ok((r.to_string(), t.to_string()))
}

/// `5 minutes ago`, as the CREATED columns show a time.
fn ago(t: chrono::DateTime<chrono::Utc>) -> String {
    format!("{} ago", humanize::duration(chrono::Utc::now() - t))
}

/// An image id as a table shows it.
fn show_id(id: &str, notrunc: bool) -> &str {
    if notrunc {
        id
    } else {
        ids::short(id)
    }
}

/// v0.1.0's `ImageName`: the first `repo:tag` naming the image, else its id.
fn image_name(names: &BTreeMap<String, Vec<String>>, id: &str, notrunc: bool) -> String {
    names
        .get(id)
        .and_then(|n| n.first().cloned())
        .unwrap_or_else(|| show_id(id, notrunc).to_string())
}

/// Open the source of `import`: stdin for `-`, else an http(s) URL.
fn open_source<'a>(src: &str, io: &'a Streams) -> Result<Box<dyn Read + 'a>> {
    if src == "-" {
        return Ok(Box::new(&io.stdin));
    }
    let lower = src.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(Error::invalid(format!(
            "import source {src:?} is neither - (stdin) nor an http(s) URL; for a file, use: docker import - < FILE"
        )));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .get(src)
        .call()
        .map_err(|e| Error::new(ErrorKind::Remote, format!("downloading {src}: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Error::new(
            ErrorKind::Remote,
            format!("downloading {src}: the server answered {status}"),
        ));
    }
    Ok(Box::new(resp.into_body().into_reader()))
}

/// `import URL|- [REPOSITORY [TAG]]`: a tarball (plain, gzip, bzip2 or xz) becomes a new
/// parentless image; prints its id, and tags it when a repository is named (moving the tag).
pub fn import(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "import",
        "URL|- [REPOSITORY [TAG]]",
        "Create a new filesystem image from the contents of a tarball (stdin with -, or an http(s) URL)",
    );
    let Some(p) = parse(&f, args, io)? else {
        return Ok(0);
    };
    let (src, repo, tag) = match p.args.as_slice() {
        [src] => (src, None, None),
        [src, repo] => (src, Some(repo), None),
        [src, repo, tag] => (src, Some(repo), Some(tag)),
        _ => return Err(f.usage_error("import takes a source and an optional name")),
    };
    // Check the name before reading anything: a bad name must not cost an import.
    let name = repo
        .map(|r| repo_and_tag(r, tag.map(String::as_str)))
        .transpose()?;
    let image = {
        let source = open_source(src, io)?;
        rt.import_image(source, format!("Imported from {src}"), name.as_ref())
            .map_err(|e| e.context(format_args!("importing {src}")))?
    };
    io.out(&format!("{}\n", image.id))?;
    Ok(0)
}

/// `images [-q] [-a] [-notrunc] [NAME]`: REPOSITORY TAG ID CREATED PARENT; tagged images, then
/// untagged heads (every untagged image with `-a`).
pub fn images(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new("images", "[OPTIONS] [NAME]", "List images");
    let quiet = f.bool(&["q", "quiet"], "only show numeric IDs");
    let all = f.bool(
        &["a", "all"],
        "show all images (by default intermediate images are hidden)",
    );
    let notrunc = f.bool(&["notrunc", "no-trunc"], "don't truncate output");
    let Some(p) = parse(&f, args, io)? else {
        return Ok(0);
    };
    let filter = match p.args.as_slice() {
        [] => None,
        [name] => Some(split_tag(name)),
        _ => return Err(f.usage_error("images takes at most one NAME")),
    };
    let (quiet, all, notrunc) = (p.bool(quiet), p.bool(all), p.bool(notrunc));
    let graph = rt.graph();
    let names = summary::names_by_id(rt)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut listed: Vec<String> = Vec::new();
    let mut shown: HashSet<String> = HashSet::new();
    let row = |img: &Image, repo: &str, tag: &str| -> Vec<String> {
        vec![
            repo.to_string(),
            tag.to_string(),
            show_id(&img.id, notrunc).to_string(),
            ago(img.created),
            img.parent
                .as_deref()
                .map(|p| image_name(&names, p, notrunc))
                .unwrap_or_default(),
        ]
    };
    for (repo, tag, id) in rt.tags().list()? {
        if let Some((frepo, ftag)) = filter {
            if repo != frepo || ftag.is_some_and(|t| t != tag) {
                continue;
            }
        }
        let img = match graph.get(&id) {
            Ok(img) => img,
            Err(e) => {
                rt.logger().warn(&format!("tag {repo}:{tag}: {e}"));
                continue;
            }
        };
        shown.insert(id.clone());
        listed.push(id.clone());
        rows.push(row(&img, &repo, &tag));
    }
    if filter.is_none() {
        let mut rest = if all { graph.all()? } else { graph.heads()? };
        rest.retain(|i| !shown.contains(&i.id));
        rest.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        for img in rest {
            listed.push(img.id.clone());
            rows.push(row(&img, "<none>", "<none>"));
        }
    }
    if quiet {
        let mut seen = HashSet::new();
        let mut s = String::new();
        for id in listed {
            if seen.insert(id.clone()) {
                s.push_str(show_id(&id, notrunc));
                s.push('\n');
            }
        }
        io.out(&s)?;
        return Ok(0);
    }
    let mut table = vec![["REPOSITORY", "TAG", "ID", "CREATED", "PARENT"]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()];
    table.extend(rows);
    io.out(&render_min(&table, 20))?;
    Ok(0)
}

/// `history [-notrunc] IMAGE`: the image and its parents, newest first.
pub fn history(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new("history", "[OPTIONS] IMAGE", "Show the history of an image");
    let notrunc = f.bool(&["notrunc", "no-trunc"], "don't truncate output");
    let Some(p) = parse(&f, args, io)? else {
        return Ok(0);
    };
    let [name] = p.args.as_slice() else {
        return Err(f.usage_error("history takes exactly one IMAGE"));
    };
    let notrunc = p.bool(notrunc);
    let img = rt.image(name)?;
    let names = summary::names_by_id(rt)?;
    let mut table = vec![vec![
        "ID".to_string(),
        "CREATED".to_string(),
        "CREATED BY".to_string(),
    ]];
    for i in rt.graph().history(&img.id)? {
        table.push(vec![
            image_name(&names, &i.id, notrunc),
            ago(i.created),
            i.container_config
                .as_ref()
                .map(|c| c.cmd.join(" "))
                .unwrap_or_default(),
        ]);
    }
    io.out(&render_min(&table, 20))?;
    Ok(0)
}

/// `tag [-f] IMAGE REPOSITORY [TAG]` (or `REPOSITORY:TAG`).
pub fn tag(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "tag",
        "[OPTIONS] IMAGE REPOSITORY [TAG]",
        "Tag an image into a repository",
    );
    let force = f.bool(&["f", "force"], "move the tag if it names another image");
    let Some(p) = parse(&f, args, io)? else {
        return Ok(0);
    };
    let (name, repo, tag) = match p.args.as_slice() {
        [name, repo] => (name, repo, None),
        [name, repo, tag] => (name, repo, Some(tag.as_str())),
        _ => return Err(f.usage_error("tag takes an IMAGE, a REPOSITORY and an optional TAG")),
    };
    let (repo, tag) = repo_and_tag(repo, tag)?;
    rt.tag_image(name, &repo, &tag, p.bool(force))?;
    Ok(0)
}

/// Remove one name, printing each step.
fn remove_one(rt: &Runtime, io: &mut Streams, name: &str) -> Result<()> {
    for step in rt.remove_image(name)? {
        io.out(&format!("{step}\n"))?;
    }
    Ok(())
}

/// `rmi IMAGE...`: each name in turn; the ones that fail are reported together at the end.
pub fn rmi(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new("rmi", "IMAGE [IMAGE...]", "Remove one or more images");
    let Some(p) = parse(&f, args, io)? else {
        return Ok(0);
    };
    if p.args.is_empty() {
        return Err(f.usage_error("rmi needs at least one IMAGE"));
    }
    let mut first: Option<Error> = None;
    let mut messages = Vec::new();
    for name in &p.args {
        if let Err(e) = remove_one(rt, io, name) {
            messages.push(e.message().to_string());
            first.get_or_insert(e);
        }
    }
    match first {
        None => Ok(0),
        Some(e) if messages.len() == 1 => Err(e),
        Some(e) => Err(Error::new(e.kind(), messages.join("\n"))),
    }
}

/// `inspect NAME...`: a container's record or an image's json, indented (one NAME: the
/// object, as v0.1.0; several: an array of them).
pub fn inspect(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "inspect",
        "NAME [NAME...]",
        "Return low-level information on a container or an image",
    );
    let Some(p) = parse(&f, args, io)? else {
        return Ok(0);
    };
    let text = match p.args.as_slice() {
        [] => return Err(f.usage_error("inspect needs a NAME")),
        [name] => summary::pretty_json(&summary::inspect(rt, name)?)?,
        names => summary::pretty_json(
            &names
                .iter()
                .map(|n| summary::inspect(rt, n))
                .collect::<Result<Vec<_>>>()?,
        )?,
    };
    io.out(&format!("{text}\n"))?;
    Ok(0)
}

/// Write `file` through a temporary file beside it, renamed into place only once whole.
fn write_file(file: &str, write: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    let path = Path::new(file);
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("-o {file:?} names no file")))?;
    let tmp = path.with_file_name(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::File::create(&tmp)
        .map_err(|e| Error::io_path("creating", &tmp, e))
        .and_then(|mut f| {
            write(&mut f)?;
            f.sync_all().map_err(|e| Error::io_path("writing", &tmp, e))
        })
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|e| Error::io_path("renaming into", path, e))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `save [-o FILE] IMAGE...`: the images as a tar archive (docker's format with the OCI
/// image layout inside) on stdout or in FILE; never onto a terminal.
pub fn save(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "save",
        "[OPTIONS] IMAGE [IMAGE...]",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
    );
    let output = f.value(
        &["o", "output"],
        "FILE",
        "write to a file, instead of STDOUT",
    );
    let Some(p) = parse(&f, args, io)? else {
        return Ok(0);
    };
    if p.args.is_empty() {
        return Err(f.usage_error("save needs at least one IMAGE"));
    }
    // Names are checked before anything is written.
    let items = rt.images_to_save(&p.args)?;
    match p.value(output) {
        Some(file) => write_file(file, |out| rt.save_images(&items, out))?,
        None => {
            if nix::unistd::isatty(io.stdout.as_fd()).unwrap_or(false) {
                return Err(Error::invalid(
                    "cowardly refusing to save to a terminal: use the -o flag or redirect",
                ));
            }
            rt.save_images(&items, &mut io.stdout)?;
        }
    }
    Ok(0)
}

/// `load [-i FILE] [-q]`: the images of a tar archive (ours, docker's, an OCI layout) from
/// stdin or FILE; prints `Loaded image: NAME:TAG` per name (`Loaded image ID: sha256:ID`
/// for an image without one).
pub fn load(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "load",
        "[OPTIONS]",
        "Load images from a tar archive (STDIN by default)",
    );
    let input = f.value(
        &["i", "input"],
        "FILE",
        "read from a tar archive file, instead of STDIN",
    );
    let quiet = f.bool(&["q", "quiet"], "print nothing on success");
    let Some(p) = parse(&f, args, io)? else {
        return Ok(0);
    };
    if let Some(a) = p.args.first() {
        return Err(f.usage_error(&format!("load takes no argument ({a:?})")));
    }
    let loaded = match p.value(input) {
        Some(file) => {
            let src = std::fs::File::open(file)
                .map_err(|e| Error::io_path("opening", Path::new(file), e))?;
            rt.load_images(src)
        }
        None if io.stdin_is_tty() => {
            return Err(Error::invalid(
                "requested load from stdin, but stdin is a terminal: use -i FILE or redirect",
            ))
        }
        None => rt.load_images(&io.stdin),
    }
    .map_err(|e| e.context("loading the image archive"))?;
    if p.bool(quiet) {
        return Ok(0);
    }
    let mut text = String::new();
    for l in loaded {
        if l.names.is_empty() {
            text.push_str(&format!("Loaded image ID: sha256:{}\n", l.id));
        }
        for (repo, tag) in l.names {
            text.push_str(&format!("Loaded image: {repo}:{tag}\n"));
        }
    }
    io.out(&text)?;
    Ok(0)
}
