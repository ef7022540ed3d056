//! The runtime and its root (v0.1.0 `runtime.go`): `containers/` and `graph/` (0700),
//! `repositories` (0600), `.dockercfg`, and the network allocations under `network/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::auth::AuthConfig;
use crate::container::ContainerRecord;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::ids;
use crate::image::{Graph, Image};
use crate::log::Logger;
use crate::network::{Ipam, DEFAULT_PORT_RANGE};
use crate::tags::TagStore;

/// v0.1.0's bridge name.
pub const DEFAULT_BRIDGE: &str = "lxcbr0";
/// v0.1.0's nat chain.
pub const DEFAULT_CHAIN: &str = "DOCKER";
/// The subnet used for the bridge when none is configured (lxc's default for `lxcbr0`).
pub const DEFAULT_SUBNET: &str = "10.0.3.1/24";

/// Folders a modern Docker engine keeps in its root; finding one means the root is not ours.
const FOREIGN_MARKERS: &[&str] = &[
    "overlay2",
    "image",
    "containerd",
    "buildkit",
    "swarm",
    "volumes",
    "plugins",
    "aufs",
    "btrfs",
    "devicemapper",
    "zfs",
    "vfs",
    "fuse-overlayfs",
    "network/files",
];

/// How a runtime is set up. `Default` gives v0.1.0's names.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    pub bridge_name: String,
    /// `GATEWAY/PREFIX` for the bridge; `None`: the bridge's own, or [`DEFAULT_SUBNET`].
    pub bridge_subnet: Option<String>,
    pub iptables_chain: String,
    /// The `docker-init` helper; `None`: found next to the library or program.
    pub init_path: Option<PathBuf>,
    pub port_range: (u16, u16),
    pub logger: Logger,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            bridge_name: DEFAULT_BRIDGE.to_string(),
            bridge_subnet: None,
            iptables_chain: DEFAULT_CHAIN.to_string(),
            init_path: None,
            port_range: DEFAULT_PORT_RANGE,
            logger: Logger::default(),
        }
    }
}

/// A runtime on one root. Thread-safe: commands may run on it from many threads at once.
#[derive(Debug)]
pub struct Runtime {
    root: PathBuf,
    opts: RuntimeOptions,
    tags: TagStore,
    graph: Graph,
    auth: Mutex<AuthConfig>,
    containers: Mutex<BTreeMap<String, ContainerRecord>>,
    ipam: OnceLock<Ipam>,
}

fn check_name(what: &str, value: &str, max: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid {what} {value:?}: use 1 to {max} letters, digits, '-', '_' or '.'"
        )))
    }
}

impl Runtime {
    /// Create (or open) the runtime rooted at `root`.
    pub fn new(root: &Path, opts: RuntimeOptions) -> Result<Runtime> {
        // Interface names are at most 15 bytes; iptables chain names at most 28.
        check_name("bridge name", &opts.bridge_name, 15)?;
        check_name("iptables chain name", &opts.iptables_chain, 28)?;
        if let Some(s) = &opts.bridge_subnet {
            crate::network::alloc::parse_subnet(s)?;
        }
        crate::network::PortAllocator::new(opts.port_range.0, opts.port_range.1)?;
        if root.as_os_str().is_empty() {
            return Err(Error::invalid("the runtime root path is empty"));
        }
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io("finding the current directory", e))?
                .join(root)
        };
        if let Ok(m) = std::fs::metadata(&root) {
            if !m.is_dir() {
                return Err(Error::invalid(format!(
                    "runtime root {} is not a directory",
                    root.display()
                )));
            }
            if let Some(marker) = FOREIGN_MARKERS.iter().find(|m| root.join(m).exists()) {
                return Err(Error::in_use(format!(
                    "runtime root {} holds a Docker engine's data ({marker}/ found); refusing to use it: choose another root",
                    root.display()
                )));
            }
        }
        fsutil::ensure_dir(&root, 0o700)?;
        fsutil::ensure_dir(&root.join("containers"), 0o700)?;
        let graph = Graph::open(&root.join("graph"), opts.logger.clone())?;
        let tags = TagStore::open(&root.join("repositories"))?;
        let auth = AuthConfig::load(&root)?;
        Ok(Runtime {
            root,
            opts,
            tags,
            graph,
            auth: Mutex::new(auth),
            containers: Mutex::new(BTreeMap::new()),
            ipam: OnceLock::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn options(&self) -> &RuntimeOptions {
        &self.opts
    }

    pub fn logger(&self) -> &Logger {
        &self.opts.logger
    }

    pub fn tags(&self) -> &TagStore {
        &self.tags
    }

    /// The image graph under `ROOT/graph`.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Resolve an image name as v0.1.0 did, with modern docker's id prefixes: a full id or a
    /// unique id prefix first (an ambiguous prefix is an error that says so), then
    /// `REPOSITORY[:TAG]` through the tag store (`latest` by default). `NotFound` with
    /// `no such image: NAME` when nothing matches.
    pub fn resolve_image(&self, name: &str) -> Result<Image> {
        if let Some(id) = self.graph.resolve_prefix(name)? {
            return self.graph.get(&id);
        }
        match self.tags.lookup(name)? {
            Some(id) => self.graph.get(&id).map_err(|e| {
                if e.kind() == crate::error::ErrorKind::NotFound {
                    Error::not_found(format!(
                        "no such image: {name} (its tag names the missing image {id})"
                    ))
                } else {
                    e
                }
            }),
            None => Err(Error::not_found(format!("no such image: {name}"))),
        }
    }

    pub fn auth(&self) -> MutexGuard<'_, AuthConfig> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn containers(&self) -> MutexGuard<'_, BTreeMap<String, ContainerRecord>> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The folder of container `id` (validated).
    pub fn container_dir(&self, id: &str) -> Result<PathBuf> {
        ids::validate("container", id)?;
        Ok(self.root.join("containers").join(id))
    }

    /// Load every folder of `containers/`; each that cannot be loaded is logged and skipped.
    /// Returns how many containers are registered after the call.
    pub fn restore(&self) -> Result<usize> {
        let dir = self.root.join("containers");
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io_path("reading", &dir, e))?;
        let mut loaded = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io_path("reading", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !ids::is_id(&name) {
                self.logger().warn(&format!(
                    "skipping {}: not a container id",
                    entry.path().display()
                ));
                continue;
            }
            match ContainerRecord::load(&entry.path()) {
                Ok(rec) => loaded.push(rec),
                Err(e) => self
                    .logger()
                    .warn(&format!("skipping container {name}: {e}")),
            }
        }
        let mut map = self.containers();
        for rec in loaded {
            map.entry(rec.id.clone()).or_insert(rec);
        }
        Ok(map.len())
    }

    /// How many containers are registered.
    pub fn container_count(&self) -> usize {
        self.containers().len()
    }

    /// The id of a registered container created from `image_id`, if any (`rmi` refuses to
    /// remove such an image).
    pub fn container_using_image(&self, image_id: &str) -> Option<String> {
        self.containers()
            .values()
            .find(|c| c.image == image_id)
            .map(|c| c.id.clone())
    }

    /// How many images the graph holds.
    pub fn image_count(&self) -> Result<usize> {
        Ok(self.graph.ids()?.len())
    }

    /// The runtime's persistent address and port pools (opened on first use).
    pub fn ipam(&self) -> Result<&Ipam> {
        if let Some(i) = self.ipam.get() {
            return Ok(i);
        }
        let subnet = self
            .opts
            .bridge_subnet
            .clone()
            .unwrap_or_else(|| DEFAULT_SUBNET.to_string());
        let ipam = Ipam::open(&self.root.join("network"), &subnet, self.opts.port_range)?;
        Ok(self.ipam.get_or_init(|| ipam))
    }
}
