//! What `ps`, `images` and `inspect` show, as data: one implementation for the commands'
//! tables and JSON and for the C API's JSON functions.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::container::ContainerRecord;
use crate::error::{Error, ErrorKind, Result};
use crate::ids;
use crate::image::Image;
use crate::runtime::Runtime;

/// A published port of a running container.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortSummary {
    #[serde(rename = "IP")]
    pub ip: String,
    pub private_port: u16,
    pub public_port: u16,
    #[serde(rename = "Type")]
    pub kind: &'static str,
}

/// One row of `ps`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    /// `repo:tag` naming the image, else its short id.
    pub image: String,
    /// The program and its arguments, joined by spaces.
    pub command: String,
    /// Unix seconds in JSON.
    #[serde(with = "chrono::serde::ts_seconds")]
    pub created: DateTime<Utc>,
    /// `Up 5 minutes` or `Exit 3`.
    pub status: String,
    /// `running`, `exited` or `created`.
    pub state: &'static str,
    pub exit_code: i32,
    pub ports: Vec<PortSummary>,
    /// The container's name, without docker's `/` (a list, as docker's `Names`).
    pub names: Vec<String>,
}

/// `repo:tag` naming `image_id`, else its short id.
pub fn image_name(rt: &Runtime, image_id: &str) -> String {
    match rt.tags().tags_of(image_id) {
        Ok(tags) if !tags.is_empty() => format!("{}:{}", tags[0].0, tags[0].1),
        _ => ids::short(image_id).to_string(),
    }
}

fn ports(rec: &ContainerRecord) -> Vec<PortSummary> {
    rec.network_settings
        .port_mapping
        .iter()
        .filter_map(|(private, public)| {
            let (ip, port) = public.rsplit_once(':').unwrap_or(("0.0.0.0", public));
            Some(PortSummary {
                ip: ip.to_string(),
                private_port: private.trim_end_matches("/tcp").parse().ok()?,
                public_port: port.parse().ok()?,
                kind: "tcp",
            })
        })
        .collect()
}

/// The containers, newest first; only running ones unless `all`.
pub fn containers(rt: &Runtime, all: bool, now: DateTime<Utc>) -> Vec<ContainerSummary> {
    rt.containers()
        .iter()
        .map(|c| c.inspect())
        .filter(|rec| all || rec.state.running)
        .map(|rec| {
            let mut command = rec.path.clone();
            for a in &rec.args {
                command.push(' ');
                command.push_str(a);
            }
            let state = if rec.state.paused {
                "paused"
            } else if rec.state.running {
                "running"
            } else if rec.state.started_at.is_some() {
                "exited"
            } else {
                "created"
            };
            ContainerSummary {
                image: image_name(rt, &rec.image),
                command,
                created: rec.created,
                status: rec.state.describe(now),
                state,
                exit_code: rec.state.exit_code,
                ports: ports(&rec),
                names: Some(rec.name.trim_start_matches('/'))
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .into_iter()
                    .collect(),
                id: rec.id,
            }
        })
        .collect()
}

/// One image as the C API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    /// `repo:tag` names, sorted.
    pub repo_tags: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    /// Bytes of the image's own layer on disk.
    pub size: u64,
    /// Empty when it has none.
    pub parent_id: String,
}

/// id -> its `repo:tag` names, sorted.
pub fn names_by_id(rt: &Runtime) -> Result<BTreeMap<String, Vec<String>>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (repo, tag, id) in rt.tags().list()? {
        m.entry(id).or_default().push(format!("{repo}:{tag}"));
    }
    Ok(m)
}

/// The images `images` shows by default (tagged ones, then untagged heads), each once,
/// newest first.
pub fn images(rt: &Runtime) -> Result<Vec<ImageSummary>> {
    let names = names_by_id(rt)?;
    let graph = rt.graph();
    let mut seen = HashSet::new();
    let mut list: Vec<Image> = Vec::new();
    for id in names.keys() {
        match graph.get(id) {
            Ok(img) => {
                seen.insert(img.id.clone());
                list.push(img);
            }
            Err(e) => rt.logger().warn(&format!("image {}: {e}", ids::short(id))),
        }
    }
    list.extend(graph.heads()?.into_iter().filter(|i| !seen.contains(&i.id)));
    list.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    Ok(list
        .into_iter()
        .map(|img| ImageSummary {
            repo_tags: names.get(&img.id).cloned().unwrap_or_default(),
            created: img.created.timestamp(),
            size: graph
                .layer_dir(&img.id)
                .map(|d| crate::fsutil::tree_size(&d))
                .unwrap_or(0),
            parent_id: img.parent.clone().unwrap_or_default(),
            id: img.id,
        })
        .collect())
}

/// What `inspect` shows for one name: a container's record or an image's json.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Inspected {
    Container(Box<ContainerRecord>),
    Image(Box<Image>),
}

/// A container first (as v0.1.0), then an image.
pub fn inspect(rt: &Runtime, name: &str) -> Result<Inspected> {
    match rt.container(name) {
        Ok(c) => Ok(Inspected::Container(Box::new(c.inspect()))),
        Err(e) if e.kind() == ErrorKind::NotFound => match rt.image(name) {
            Ok(img) => Ok(Inspected::Image(Box::new(img))),
            Err(ie) if ie.kind() == ErrorKind::NotFound => Err(Error::not_found(format!(
                "no such container or image: {name}"
            ))),
            Err(ie) => Err(ie),
        },
        Err(e) => Err(e),
    }
}

/// `v` as indented JSON, as `inspect` prints it.
pub fn pretty_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::invalid(format!("encoding JSON: {e}")))
}

/// `v` as compact JSON.
pub fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::invalid(format!("encoding JSON: {e}")))
}
