//! The runtime and its root (v0.1.0 `runtime.go`): `containers/` and `graph/` (0700),
//! `repositories` (0600), `.dockercfg`, and the network allocations under `network/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use crate::auth::AuthConfig;
use crate::cgroup::{Cgroup, CgroupPath};
use crate::container::autoremove;
use crate::container::janitor::Janitor;
use crate::container::monitor::{Monitor, Reap};
use crate::container::names::Names;
use crate::container::{
    Attach, Config, Container, ContainerRecord, Deps, Event, OutputStream, Prepared, StartOptions,
};
use crate::engine::{Host, Kernel, Warm};
use crate::error::{Error, Result};
use crate::events::{self, EventBus};
use crate::fsutil;
use crate::ids;
use crate::image::{Graph, Image, LayerLimits};
use crate::log::Logger;
use crate::network::{Ipam, NetworkManager, NetworkOptions, NetworkSettings};
use crate::tags::TagStore;
use crate::volume::{self, Volume, VolumeStore};

/// Folders a modern Docker engine keeps in its root; finding one means the root is not ours.
const FOREIGN_MARKERS: &[&str] = &[
    "overlay2",
    "image",
    "containerd",
    "buildkit",
    "swarm",
    // Ours is `volumes/NAME/_data` too; the engine's has its volume database beside.
    "volumes/metadata.db",
    "plugins",
    "aufs",
    "btrfs",
    "devicemapper",
    "zfs",
    "vfs",
    "fuse-overlayfs",
    "network/files",
];

/// One step of an image removal, as `rmi` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRemoval {
    /// `repo:tag` was removed.
    Untagged(String),
    /// The image with this id was deleted.
    Deleted(String),
}

impl std::fmt::Display for ImageRemoval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageRemoval::Untagged(t) => write!(f, "Untagged: {t}"),
            ImageRemoval::Deleted(id) => write!(f, "Deleted: {id}"),
        }
    }
}

/// How a runtime is set up. `Default` gives v0.1.0's names.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// The bridge, subnet, chain, port range and `ip_forward` of the containers' network.
    pub network: NetworkOptions,
    /// The `docker-init` helper; `None`: found next to the library or program.
    pub init_path: Option<PathBuf>,
    pub logger: Logger,
    /// What one image layer may unpack to (import, pull, commit); see [`LayerLimits`].
    pub layer_limits: LayerLimits,
    /// How registries are trusted (certificate folders, insecure registries).
    pub registry: crate::registry::RegistryOptions,
    /// Keep one `docker-init` helper started ahead, in cgroup v1 folders made ahead, for the
    /// next container start (see `engine::warm`): a start saves the helper's exec and the
    /// mkdirs (~1 ms of CPU) for one idle process and four empty cgroup folders per runtime.
    /// For long-lived runtimes (the daemon turns it on); off by default.
    pub warm_start: bool,
}

/// The warm helper's kernel when `opts` asks for one and the helper is found (a start then
/// reports a missing helper).
fn warm_kernel(opts: &RuntimeOptions) -> Result<Option<Warm>> {
    if !opts.warm_start {
        return Ok(None);
    }
    let Ok(helper) = crate::spawn::find_helper(opts.init_path.as_deref()) else {
        return Ok(None);
    };
    let logger = opts.logger.clone();
    let on_error = move |e: &Error| logger.warn(&format!("no warm docker-init: {e}"));
    Warm::new(&helper, Box::new(on_error)).map(Some)
}

/// A runtime on one root. Thread-safe: commands may run on it from many threads at once.
#[derive(Debug)]
pub struct Runtime {
    root: PathBuf,
    opts: RuntimeOptions,
    tags: TagStore,
    graph: Graph,
    auth: Mutex<AuthConfig>,
    containers: RwLock<BTreeMap<String, Arc<Container>>>,
    /// The containers' names (see [`crate::container::names`]).
    names: Names,
    ipam: OnceLock<Ipam>,
    monitor: OnceLock<Monitor>,
    network: OnceLock<Arc<NetworkManager>>,
    network_init: Mutex<()>,
    events: Arc<EventBus>,
    volumes: VolumeStore,
    /// Deletes removed containers' folders in the background.
    janitor: Janitor,
    /// The warm helper's kernel, with [`RuntimeOptions::warm_start`].
    warm: Option<Warm>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Monitor")
    }
}

impl Runtime {
    /// Create (or open) the runtime rooted at `root`.
    pub fn new(root: &Path, opts: RuntimeOptions) -> Result<Runtime> {
        opts.network.validate()?;
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
            check_root_owner(&root, &m)?;
            if let Some(marker) = FOREIGN_MARKERS.iter().find(|m| root.join(m).exists()) {
                return Err(Error::in_use(format!(
                    "runtime root {} holds a Docker engine's data ({marker}/ found); refusing to use it: choose another root",
                    root.display()
                )));
            }
        }
        fsutil::ensure_dir(&root, 0o700)?;
        fsutil::ensure_dir(&root.join("containers"), 0o700)?;
        let graph = Graph::open(&root.join("graph"), opts.logger.clone(), opts.layer_limits)?;
        let tags = TagStore::open(&root.join("repositories"))?;
        let auth = AuthConfig::load(&root)?;
        let mut opts = opts;
        opts.network = opts.network.adopt(&root.join("network"), &opts.logger);
        let warm = warm_kernel(&opts)?;
        Ok(Runtime {
            warm,
            volumes: VolumeStore::new(root.join("volumes")),
            janitor: Janitor::new(opts.logger.clone()),
            root,
            opts,
            tags,
            graph,
            auth: Mutex::new(auth),
            containers: RwLock::new(BTreeMap::new()),
            names: Names::default(),
            ipam: OnceLock::new(),
            monitor: OnceLock::new(),
            network: OnceLock::new(),
            network_init: Mutex::new(()),
            events: Arc::new(EventBus::default()),
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

    /// The image a name names, as v0.1.0 resolved it, with modern docker's id prefixes: a full
    /// id or a unique id prefix first (an ambiguous prefix is an error that says so), then
    /// `REPOSITORY[:TAG]` through the tag store (`latest` by default). `NotFound` with
    /// `no such image: NAME` when nothing matches; `Corrupt` when the image cannot be read.
    /// An id may be written `sha256:ID`, as docker shows it (`load` prints it so).
    pub fn image(&self, name: &str) -> Result<Image> {
        let by_id = name.strip_prefix("sha256:").unwrap_or(name);
        if let Some(id) = self.graph.resolve_prefix(by_id)? {
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

    /// The folder of container `id` (validated).
    pub fn container_dir(&self, id: &str) -> Result<PathBuf> {
        ids::validate("container", id)?;
        Ok(self.root.join("containers").join(id))
    }

    /// Load every folder of `containers/` and reconcile each with what is really there (see
    /// [`Container::reconcile`]); containers still running are watched again. A folder that
    /// cannot be loaded is logged and skipped. An `auto_remove` container (`run --rm`) that no
    /// live runtime claims (see [`crate::container::autoremove`]) is removed as docker's
    /// daemon does at its start: at once when it is not running (its anonymous volumes too),
    /// when it ends otherwise; its folder whose record cannot be loaded is removed too.
    /// Returns how many containers are registered.
    pub fn restore(self: &Arc<Self>) -> Result<usize> {
        let dir = self.root.join("containers");
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io_path("reading", &dir, e))?;
        let mounts = crate::mount::mount_points()?;
        // Spare cgroup folders of a runtime that died (a live one's stay).
        Cgroup::remove_stale_spares();
        let cgroups = Cgroup::named();
        let (mut alive, mut ended) = (Vec::new(), Vec::new());
        let mut networked = false;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io_path("reading", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(c) = self.restore_folder(&entry.path(), &name) else {
                continue;
            };
            networked |= c.has_network();
            match c.reconcile(&mounts, &cgroups, self.logger()) {
                Ok(Some(pidfd)) => alive.push((c, pidfd)),
                Ok(None) if c.claimed() => ended.push(c),
                Ok(None) => {}
                Err(e) => self
                    .logger()
                    .warn(&format!("container {name}: reconciling its state: {e}")),
            }
        }
        // The network: the chain rebuilt with the mappings of the running containers, the
        // pools holding exactly what they hold. Only set up when a container has or had a
        // network, or the pools hold something (a release a process exit cut short).
        if networked
            || self.network.get().is_some()
            || crate::network::ipam::holds_anything(&self.root.join("network"))
        {
            let net = self.network()?;
            for (c, _) in &alive {
                c.adopt_network(net);
            }
            let running: Vec<(String, NetworkSettings)> = self
                .read_containers()
                .values()
                .filter_map(|c| c.running_network().map(|s| (c.id.clone(), s)))
                .collect();
            net.restore(&running)?;
        }
        for (c, pidfd) in alive {
            let reap = Reap::File(c.dir().join("exit-status"));
            self.monitor()?.watch_exit(c.clone(), pidfd, reap);
            if c.claimed() {
                self.remove_when_exited(&c)?;
            }
        }
        for c in ended {
            self.logger().info(&format!(
                "removing container {} (AutoRemove): it ended while no runtime watched it",
                ids::short(&c.id)
            ));
            self.auto_remove(&c);
        }
        Ok(self.read_containers().len())
    }

    /// The container of the folder `path` (named `name`) in `containers/`, loaded and
    /// registered; `None` for what is not one (logged): a removal a crash interrupted is
    /// finished, a folder already registered is left alone.
    fn restore_folder(&self, path: &Path, name: &str) -> Option<Arc<Container>> {
        if let Some(id) = name.strip_prefix(".removing-") {
            // A removal that a crash interrupted: finish it.
            if ids::is_id(id) {
                let _ = crate::mount::unmount(&path.join("rootfs"));
                self.janitor.delete(path.to_path_buf());
            }
            return None;
        }
        if !ids::is_id(name) {
            self.logger()
                .warn(&format!("skipping {}: not a container id", path.display()));
            return None;
        }
        if self.read_containers().contains_key(name) {
            return None;
        }
        // The marker is looked at only for a record that says `auto_remove`, or cannot be
        // loaded: a restore of many containers makes no extra lookup for the others.
        let rec = match ContainerRecord::load(path) {
            Ok(rec) => rec,
            Err(e) => {
                match self.claim_marked(path, name) {
                    Some(_claim) => self.discard(path, name, &e),
                    None => self
                        .logger()
                        .warn(&format!("skipping container {name}: {e}")),
                }
                return None;
            }
        };
        let claim = rec
            .auto_remove
            .then(|| self.claim_marked(path, name))
            .flatten();
        let c = match claim {
            Some(claim) => Container::new(rec, path.to_path_buf()).with_claim(claim),
            None => Container::new(rec, path.to_path_buf()),
        };
        self.claim_name(&c);
        Some(self.register(c))
    }

    /// The claim on the `autoremove` marker of the container folder `path`: None when it has
    /// none, or a live runtime holds it (a failure to take it is logged).
    fn claim_marked(&self, path: &Path, name: &str) -> Option<std::fs::File> {
        if !autoremove::marked(path) {
            return None;
        }
        autoremove::claim(path).unwrap_or_else(|e| {
            self.logger().warn(&format!("container {name}: {e}"));
            None
        })
    }

    /// Remove the folder `path` of the `auto_remove` container `name` whose record cannot be
    /// loaded (`why`): a save that is not fsynced may leave an empty record after a power
    /// loss, and the container's run is over. Removed as an interrupted removal is.
    fn discard(&self, path: &Path, name: &str, why: &Error) {
        self.logger().warn(&format!(
            "removing container {name} (AutoRemove): its record cannot be loaded: {why}"
        ));
        if let Err(e) = crate::mount::unmount(&path.join("rootfs")) {
            self.logger().warn(&format!("container {name}: {e}"));
            return;
        }
        let trash = path.with_file_name(format!(".removing-{name}"));
        match std::fs::rename(path, &trash) {
            Ok(()) => self.janitor.delete(trash),
            Err(e) => self
                .logger()
                .warn(&format!("removing {}: {e}", path.display())),
        }
        if let Some(cg) = Cgroup::find(&CgroupPath::named(name)) {
            let _ = cg.thaw();
            cg.remove();
        }
    }

    /// Remove `c` with its anonymous volumes (as `run --rm`) once its current run has ended,
    /// on a thread of its own (a container created with `AutoRemove` and started through the
    /// Engine API, or one found running by a restore); the runtime lives until then. Nothing
    /// is done if it was removed meanwhile (`rm -f`).
    pub fn remove_when_exited(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let (rt, c) = (self.clone(), c.clone());
        std::thread::Builder::new()
            .name("docker-autoremove".into())
            .spawn(move || {
                c.wait();
                rt.auto_remove(&c);
            })
            .map(drop)
            .map_err(|e| Error::io("starting the AutoRemove thread", e))
    }

    /// Remove the ended container `c` with its anonymous volumes, unless it is gone already;
    /// a failure is logged.
    fn auto_remove(&self, c: &Arc<Container>) {
        if c.is_removed() {
            return;
        }
        if let Err(e) = self.remove_container_with(c, true) {
            self.logger().warn(&format!(
                "removing container {} (AutoRemove): {e}",
                ids::short(&c.id)
            ));
        }
    }

    fn read_containers(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Container>>> {
        self.containers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_containers(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Container>>> {
        self.containers.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The bus the runtime announces its containers' and images' events on.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    fn emit_container(&self, action: &'static str, c: &Container) {
        let rec = c.record();
        let name = rec.name.trim_start_matches('/');
        let attrs = [("image", rec.config.image.as_str()), ("name", name)];
        let e = events::Event::now("container", action, &c.id, &attrs);
        self.events.emit(e);
    }

    /// Create a container as `req` asks: its image resolved, the image's defaults merged in
    /// (see [`crate::container::CreateRequest`]); announced as `create`.
    pub fn create(&self, req: &Prepared) -> Result<Arc<Container>> {
        let image = self.image(req.image())?;
        let config = req.config(&image.config.clone().unwrap_or_default())?;
        let specs = req.volumes()?;
        let how = (req.name(), req.auto_remove());
        if specs.is_empty() {
            return self.create_in(&image.id, config, how);
        }
        self.create_with_volumes(&image.id, config, &specs, how)
    }

    /// Create a container from the resolved image `image_id` with a new id, and register it;
    /// announced as `create`.
    pub fn create_container(&self, image_id: &str, config: Config) -> Result<Arc<Container>> {
        self.create_named(image_id, config, None)
    }

    /// [`Self::create_container`] named `name` (a generated name when `None`): the name is
    /// reserved first (`InUse`, docker's `Conflict`, when another container has it) and freed
    /// again when the creation fails.
    pub fn create_named(
        &self,
        image_id: &str,
        config: Config,
        name: Option<&str>,
    ) -> Result<Arc<Container>> {
        self.create_in(image_id, config, (name, false))
    }

    /// [`Self::create_named`] with `(name, auto_remove)` (see
    /// [`crate::container::CreateRequest::auto_remove`]).
    fn create_in(
        &self,
        image_id: &str,
        config: Config,
        (name, auto_remove): (Option<&str>, bool),
    ) -> Result<Arc<Container>> {
        // The image must exist (its layers are read again at each start).
        self.image_layers(image_id)?;
        let id = ids::generate()?;
        let dir = self.container_dir(&id)?;
        let name = self.names.reserve(name, &id)?;
        let helper = self
            .init_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let made =
            crate::container::start::create(dir, image_id, config, &helper, &name, auto_remove);
        let c = match made {
            Ok(c) => c,
            Err(e) => {
                self.names.release(&name, &id);
                return Err(e);
            }
        };
        let c = self.register(c);
        self.emit_container("create", &c);
        Ok(c)
    }

    /// Register the name of a loaded container; one without a name (a v0.1.0 record) or
    /// whose name another container holds is given a generated one, saved in its record.
    fn claim_name(&self, c: &Container) {
        let recorded = c.record().name;
        if !recorded.is_empty() && self.names.reserve(Some(&recorded), &c.id).is_ok() {
            return;
        }
        let named = self.names.reserve(None, &c.id).and_then(|name| {
            let shown = crate::container::names::recorded(&name);
            c.update(|rec| rec.name = shown)
        });
        if let Err(e) = named {
            self.logger()
                .warn(&format!("container {}: naming it: {e}", ids::short(&c.id)));
        }
    }

    /// Rename container `c` to `new` (docker's rules; `InUse` when taken); announced as
    /// `rename`.
    pub fn rename_container(&self, c: &Container, new: &str) -> Result<()> {
        let old = c.record().name;
        let new = self.names.rename(&old, new, &c.id)?;
        if let Err(e) = c.update(|rec| rec.name = crate::container::names::recorded(&new)) {
            let _ = self.names.rename(&new, &old, &c.id);
            return Err(e);
        }
        self.emit_container("rename", c);
        Ok(())
    }

    /// Start a registered container (see [`crate::container::start()`]), with what this
    /// runtime holds: the image's layers, the helper, the network (unless the container has
    /// none), the monitor.
    pub fn start_container(&self, c: &Arc<Container>, opts: &StartOptions) -> Result<Arc<Event>> {
        let rec = c.record();
        let network = if rec.config.network_disabled {
            None
        } else {
            Some(self.network()?.clone())
        };
        let deps = Deps {
            kernel: self.kernel(),
            layers: self.image_layers(&rec.image)?,
            helper: self.init_path()?,
            network,
            monitor: self.monitor()?,
            logger: self.logger(),
            seccomp_cache: Some(self.root.join("seccomp")),
        };
        let done = crate::container::start(c, &deps, opts)?;
        self.emit_container("start", c);
        Ok(done)
    }

    /// Start `c` with its output streamed into `attach`'s sinks from the moment before the
    /// start (nothing is lost) on a thread of the returned stream, and `attach.stdin` fed to
    /// it. A stdin for a container created without an open stdin is an error, checked first.
    pub fn start_attached(
        &self,
        c: &Arc<Container>,
        opts: &StartOptions,
        attach: Attach,
    ) -> Result<OutputStream> {
        let rec = c.record();
        if attach.stdin.is_some() && !(rec.config.open_stdin || rec.config.tty) {
            return Err(Error::invalid(format!(
                "container {} was created without an open stdin: nothing can be fed to it",
                ids::short(&c.id)
            )));
        }
        let offsets = crate::container::output::offsets(c);
        let done = self.start_container(c, opts)?;
        OutputStream::start(c, offsets, attach, done)
    }

    /// Run a program in the running container `c` (see [`crate::container::exec::exec`]),
    /// with the helper and the seccomp cache of this runtime; returns its exit status.
    pub fn exec_container(
        &self,
        c: &Arc<Container>,
        cfg: &crate::container::ExecConfig,
        io: crate::container::ExecIo,
    ) -> Result<i32> {
        let deps = crate::container::ExecDeps {
            kernel: &Host,
            helper: self.init_path()?,
            seccomp_cache: Some(self.root.join("seccomp")),
        };
        crate::container::exec::exec(c, &deps, cfg, io)
    }

    /// Run `f` on the whole file system of container `c` (see [`Container::with_rootfs`]).
    pub fn with_rootfs<T>(&self, c: &Container, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let layers = self.image_layers(&c.record().image)?;
        c.with_rootfs(&Host, &layers, f)
    }

    /// Add a container to the registry.
    fn register(&self, c: Container) -> Arc<Container> {
        let c = Arc::new(c);
        self.write_containers().insert(c.id.clone(), c.clone());
        c
    }

    /// The container named by `name`, as docker resolves it: an exact id, then an exact name
    /// (`web` or `/web`), then a unique id prefix.
    pub fn container(&self, name: &str) -> Result<Arc<Container>> {
        let by_name = self.names.lookup(name);
        let map = self.read_containers();
        if let Some(c) = map.get(name) {
            return Ok(c.clone());
        }
        if let Some(c) = by_name.and_then(|id| map.get(&id)) {
            return Ok(c.clone());
        }
        let id = ids::resolve_prefix("container", name, map.keys())?
            .ok_or_else(|| Error::not_found(format!("no such container: {name}")))?;
        Ok(map[&id].clone())
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Vec<Arc<Container>> {
        let mut v: Vec<(chrono::DateTime<chrono::Utc>, Arc<Container>)> = self
            .read_containers()
            .values()
            .map(|c| (c.record().created, c.clone()))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        v.into_iter().map(|(_, c)| c).collect()
    }

    /// Remove a stopped container (see [`Runtime::remove_container`]) and, with `volumes`, its
    /// anonymous volumes (as `rm -v`; named ones stay).
    pub fn remove_container_with(&self, c: &Arc<Container>, volumes: bool) -> Result<()> {
        let mounts = c.record().mounts;
        self.remove_container(c)?;
        if volumes {
            self.remove_anonymous_volumes(&mounts)?;
        }
        Ok(())
    }

    /// Remove a stopped container: its folder (deleted in the background, see
    /// [`Janitor`]) and its registration.
    /// Announced as `destroy`.
    pub fn remove_container(&self, c: &Arc<Container>) -> Result<()> {
        self.janitor.delete(c.destroy()?);
        self.write_containers().remove(&c.id);
        self.names.release(&c.record().name, &c.id);
        self.emit_container("destroy", c);
        Ok(())
    }

    /// How many containers are registered.
    pub fn container_count(&self) -> usize {
        self.read_containers().len()
    }

    /// The id of a registered container created from `image_id`, if any (`rmi` refuses to
    /// remove such an image).
    pub fn container_using_image(&self, image_id: &str) -> Option<String> {
        self.read_containers()
            .values()
            .find(|c| c.record().image == image_id)
            .map(|c| c.id.clone())
    }

    fn emit_image(&self, action: &'static str, id: &str, name: Option<&str>) {
        let attrs: Vec<(&str, &str)> = name.map(|n| ("name", n)).into_iter().collect();
        self.events
            .emit(events::Event::now("image", action, id, &attrs));
    }

    /// Register the tar stream `source` as a new parentless image with `comment`, tagged
    /// `name` (the tag moved if it named another image); announced as `import` (and `tag`).
    pub fn import_image(
        &self,
        source: impl std::io::Read,
        comment: String,
        name: Option<&(String, String)>,
    ) -> Result<Image> {
        let mut image = Image::new(None)?;
        image.comment = comment;
        let image = self.graph.register(image, source)?;
        self.emit_image("import", &image.id, None);
        if let Some((repo, tag)) = name {
            self.tags.set(repo, tag, &image.id, true)?;
            self.emit_image("tag", &image.id, Some(&format!("{repo}:{tag}")));
        }
        Ok(image)
    }

    /// A new image of container `c`'s changes over its image, with `comment`, tagged `name`
    /// (the tag moved if it named another image); `pause`: frozen while its layer is packed
    /// (docker's default), so it cannot change the layer under the packer. Announced as
    /// `commit` (and `tag`).
    pub fn commit_container(
        &self,
        c: &Container,
        comment: String,
        name: Option<&(String, String)>,
        pause: bool,
    ) -> Result<Image> {
        let rec = c.record();
        let parent = self.graph.get(&rec.image)?;
        let mut image = Image::new(Some(&rec.image))?;
        image.comment = comment;
        image.container = Some(rec.id.clone());
        image.container_config = Some(rec.config.clone());
        image.config = parent.config;
        let rw = c.rw_dir();
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(&rw)
            .map_err(|e| Error::io_path("creating", &rw, e))?;
        let pack = || self.graph.register_dir(image, &rw);
        let image = if pause {
            c.while_frozen(pack)?
        } else {
            pack()?
        };
        self.emit_image("commit", &image.id, None);
        if let Some((repo, tag)) = name {
            self.tags.set(repo, tag, &image.id, true)?;
            self.emit_image("tag", &image.id, Some(&format!("{repo}:{tag}")));
        }
        Ok(image)
    }

    /// Tag the image `name` names as `repo:tag` (`force`: move the tag if it names another
    /// image); announced as `tag`.
    pub fn tag_image(&self, name: &str, repo: &str, tag: &str, force: bool) -> Result<()> {
        let img = self.image(name)?;
        self.tags.set(repo, tag, &img.id, force)?;
        self.emit_image("tag", &img.id, Some(&format!("{repo}:{tag}")));
        Ok(())
    }

    /// Pull `r` from its registry (see [`crate::registry::pull()`]), reporting to `progress`;
    /// announced as `pull`.
    pub fn pull_image(
        &self,
        r: &crate::registry::Reference,
        progress: &crate::registry::Progress<'_>,
    ) -> Result<crate::registry::Pulled> {
        let creds = crate::registry::credentials(&self.auth(), r.domain.as_deref());
        let trust = &self.opts.registry;
        let pulled = crate::registry::pull(&self.graph, &self.tags, creds, trust, r, progress)?;
        let shown = match &r.digest {
            Some(d) => format!("{}@{d}", r.name),
            None => format!("{}:{}", r.name, r.tag_or_default()),
        };
        self.emit_image("pull", &pulled.id, Some(&shown));
        Ok(pulled)
    }

    /// The images `save` writes for `names`: a repository without a tag stands for all its
    /// tags (as docker saves it), `REPO:TAG` for that name, an id for the image alone. An
    /// image named several times is saved once, under every name. `NotFound` names the first
    /// name that names nothing.
    pub fn images_to_save(&self, names: &[String]) -> Result<Vec<crate::saveload::SaveItem>> {
        let mut items: Vec<crate::saveload::SaveItem> = Vec::new();
        let mut add = |id: String, name: Option<(String, String)>| {
            let k = match items.iter().position(|i| i.id == id) {
                Some(k) => k,
                None => {
                    items.push(crate::saveload::SaveItem {
                        id,
                        names: Vec::new(),
                    });
                    items.len() - 1
                }
            };
            if let Some(n) = name.filter(|n| !items[k].names.contains(n)) {
                items[k].names.push(n);
            }
        };
        let all = self.tags.list()?;
        for name in names {
            let (repo, tag) = crate::reference::split_tag(name);
            let whole_repo: Vec<_> = all.iter().filter(|(r, _, _)| r == repo).collect();
            if tag.is_none() && !whole_repo.is_empty() {
                for (r, t, id) in whole_repo {
                    add(id.clone(), Some((r.clone(), t.clone())));
                }
                continue;
            }
            let img = self.image(name)?;
            let by_id = name.strip_prefix("sha256:").unwrap_or(name);
            let shown = match self.graph.resolve_prefix(by_id)? {
                Some(_) => None,
                None => Some(crate::reference::parse_repo_tag(name)?),
            };
            add(img.id, shown);
        }
        Ok(items)
    }

    /// Write the archive of `items` to `out` (see [`crate::saveload::save()`]); announced
    /// as `save` per image.
    pub fn save_images(
        &self,
        items: &[crate::saveload::SaveItem],
        out: impl std::io::Write,
    ) -> Result<()> {
        crate::saveload::save(&self.graph, items, out)?;
        for item in items {
            self.emit_image("save", &item.id, None);
        }
        Ok(())
    }

    /// Load the image archive `input` (see [`crate::saveload::load()`]), within the layer
    /// limits; announced as `load` per image (and `tag` per name).
    pub fn load_images(&self, input: impl std::io::Read) -> Result<Vec<crate::saveload::Loaded>> {
        let max = self.opts.layer_limits.max_bytes;
        let loaded = crate::saveload::load(&self.graph, &self.tags, input, max)?;
        for l in &loaded {
            self.emit_image("load", &l.id, None);
            for (repo, tag) in &l.names {
                self.emit_image("tag", &l.id, Some(&format!("{repo}:{tag}")));
            }
        }
        Ok(loaded)
    }

    /// Why image `id` may not be removed, if anything uses it.
    fn image_in_use(&self, id: &str) -> Result<Option<String>> {
        if let Some(c) = self.container_using_image(id) {
            return Ok(Some(format!(
                "image {} is used by container {}",
                ids::short(id),
                ids::short(&c)
            )));
        }
        let children = self.graph.children(id)?;
        if let Some(child) = children.first() {
            return Ok(Some(format!(
                "image {} has {} dependent child image(s), e.g. {}",
                ids::short(id),
                children.len(),
                ids::short(&child.id)
            )));
        }
        Ok(None)
    }

    /// The image `name` names for a removal: an image left incomplete by a crash may be
    /// removed; other damage is for a person to look at.
    fn image_to_remove(&self, name: &str) -> Result<Image> {
        match self.image(name) {
            Err(e) if e.kind() == crate::error::ErrorKind::Corrupt => {
                let id = match self.graph.resolve_prefix(name)? {
                    Some(id) => Some(id),
                    None => self.tags.lookup(name)?,
                };
                match id {
                    Some(id) if self.graph.is_incomplete(&id) => Ok(Image {
                        id,
                        ..Image::new(None)?
                    }),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// Remove one name (`rmi`): untag only when it is one tag of an image that has others;
    /// otherwise remove the image and all its tags, unless a container or a child image uses
    /// it (`InUse`). Announced as `untag` and `delete` events; returns what was done.
    pub fn remove_image(&self, name: &str) -> Result<Vec<ImageRemoval>> {
        let img = self.image_to_remove(name)?;
        let tags = self.tags.tags_of(&img.id)?;
        let by_prefix = self.graph.resolve_prefix(name)?.is_some();
        if !by_prefix && tags.len() > 1 {
            let (repo, tag) = crate::reference::parse_repo_tag(name)?;
            self.tags.remove(&repo, &tag)?;
            let shown = format!("{repo}:{tag}");
            self.emit_image("untag", &img.id, Some(&shown));
            return Ok(vec![ImageRemoval::Untagged(shown)]);
        }
        if let Some(why) = self.image_in_use(&img.id)? {
            return Err(Error::in_use(format!("unable to remove {name}: {why}")));
        }
        let mut done = Vec::new();
        for (repo, tag) in self.tags.remove_image(&img.id)? {
            let shown = format!("{repo}:{tag}");
            self.emit_image("untag", &img.id, Some(&shown));
            done.push(ImageRemoval::Untagged(shown));
        }
        self.graph.delete(&img.id)?;
        self.graph.garbage_collect()?;
        self.emit_image("delete", &img.id, None);
        done.push(ImageRemoval::Deleted(img.id));
        Ok(done)
    }

    /// How many images the graph holds.
    pub fn image_count(&self) -> Result<usize> {
        Ok(self.graph.ids()?.len())
    }

    /// The monitor thread (started on first use).
    pub(crate) fn monitor(&self) -> Result<&Monitor> {
        if let Some(m) = self.monitor.get() {
            return Ok(m);
        }
        let m = Monitor::start(self.logger().clone(), self.events.clone())?;
        Ok(self.monitor.get_or_init(|| m))
    }

    /// The `docker-init` helper: the configured path, else `docker-init` next to this library
    /// or program, or in its `docker-runtime/` folder (as `scripts/install.sh` lays it out).
    pub fn init_path(&self) -> Result<PathBuf> {
        crate::spawn::find_helper(self.opts.init_path.as_deref())
    }

    /// What containers are started through: the warm helper's kernel, or the host's.
    fn kernel(&self) -> &dyn Kernel {
        match &self.warm {
            Some(w) => w,
            None => &Host,
        }
    }

    /// The layer folders of image `id` and its parents, topmost first: the overlayfs
    /// `lowerdir=` list ([`Graph::layers`]).
    pub fn image_layers(&self, id: &str) -> Result<Vec<PathBuf>> {
        self.graph.layers(id)
    }

    /// Resolve an image name to its id ([`Self::image`] says how).
    pub fn resolve_image(&self, name: &str) -> Result<String> {
        self.image(name).map(|img| img.id)
    }

    /// The runtime's persistent address and port pools, on the bridge's subnet: the network
    /// manager's when it is set up; otherwise opened on the subnet the bridge has or would be
    /// given (see [`NetworkOptions::planned_ipam`]), without touching the host.
    pub fn ipam(&self) -> Result<&Ipam> {
        if let Some(n) = self.network.get() {
            return Ok(n.ipam());
        }
        if let Some(i) = self.ipam.get() {
            return Ok(i);
        }
        let ipam = self.opts.network.planned_ipam(&self.root.join("network"))?;
        Ok(self.ipam.get_or_init(|| ipam))
    }

    /// The network manager (set up on first use: the bridge, the pools, the iptables chains).
    /// Containers with a network call it; `--network none` ones never do.
    pub fn network(&self) -> Result<&Arc<NetworkManager>> {
        if let Some(n) = self.network.get() {
            return Ok(n);
        }
        let _init = self.network_init.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = self.network.get() {
            return Ok(n);
        }
        let dir = self.root.join("network");
        let mgr = Arc::new(NetworkManager::new(
            &dir,
            &self.opts.network,
            self.logger(),
        )?);
        self.opts.network.remember(&dir)?;
        Ok(self.network.get_or_init(|| mgr))
    }
}

/// A root must be owned by the user the runtime runs as (root) and writable by nobody else:
/// whoever can write to it could swap its folders for links and lead the runtime's mounts
/// and writes anywhere. A missing root is created 0700.
fn check_root_owner(root: &Path, m: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    if m.uid() != me {
        return Err(Error::new(
            crate::error::ErrorKind::PermissionDenied,
            format!(
                "runtime root {} is owned by uid {}, not by uid {me} that runs the runtime: refusing to use it",
                root.display(),
                m.uid()
            ),
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(Error::new(
            crate::error::ErrorKind::PermissionDenied,
            format!(
                "runtime root {} is writable by group or others (mode {:o}): refusing to use it; make it 0700",
                root.display(),
                m.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

/// Volumes (see [`crate::volume`]): `ROOT/volumes`, and the containers that use them.
impl Runtime {
    /// A container with `-v` mounts: its volumes found or made, held against `volume rm`
    /// until the container records them; the volumes made for it go again if it is not made.
    fn create_with_volumes(
        &self,
        image_id: &str,
        config: Config,
        specs: &[volume::VolumeSpec],
        how: (Option<&str>, bool),
    ) -> Result<Arc<Container>> {
        let _held = self.volumes.lock();
        let (mounts, made) = volume::mounts_for(&self.volumes, specs)?;
        let c = match self.create_in(image_id, config, how) {
            Ok(c) => c,
            Err(e) => {
                volume::undo(&self.volumes, &made);
                return Err(e);
            }
        };
        if let Err(e) = c.update(|r| r.mounts = mounts) {
            let _ = self.remove_container(&c);
            volume::undo(&self.volumes, &made);
            return Err(e);
        }
        Ok(c)
    }

    /// `volume create [--label K=V] [NAME]`: the volume (made unless it exists, with
    /// `labels`; no name: an anonymous one).
    pub fn create_volume(
        &self,
        name: Option<&str>,
        labels: std::collections::BTreeMap<String, String>,
    ) -> Result<Volume> {
        let _held = self.volumes.lock();
        self.volumes.create_labelled(name, labels).map(|(v, _)| v)
    }

    /// `volume ls`: every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        self.volumes.list()
    }

    /// `volume inspect NAME`.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        self.volumes.get(name)
    }

    /// The containers (ids) whose mounts use the volume `name`.
    fn volume_users(&self, name: &str) -> Vec<String> {
        let records: Vec<(String, Vec<volume::MountPoint>)> = self
            .read_containers()
            .values()
            .map(|c| (c.id.clone(), c.record().mounts))
            .collect();
        volume::users(
            name,
            records.iter().map(|(id, m)| (id.as_str(), m.as_slice())),
        )
    }

    /// `volume rm NAME`: refused while a container (running or not) uses it.
    pub fn remove_volume(&self, name: &str) -> Result<()> {
        let _held = self.volumes.lock();
        self.volumes.get(name)?;
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(volume::in_use(name, &users));
        }
        self.volumes.remove(name)
    }

    /// `volume prune`: remove every volume no container (running or not) uses, named and
    /// anonymous alike (as docker 20.10); returns each removed volume's name and the bytes
    /// its content held. The volumes are taken under the store's lock, so a container being
    /// made cannot take one that is going. A failure stops the prune: the volumes removed
    /// before it stay removed (each goes whole), the failing one and the rest stay.
    pub fn prune_volumes(&self) -> Result<Vec<(String, u64)>> {
        let _held = self.volumes.lock();
        let mut removed = Vec::new();
        for v in self.volumes.list()? {
            if !self.volume_users(&v.name).is_empty() {
                continue;
            }
            let size = crate::fsutil::tree_size(&v.mountpoint);
            self.volumes.remove(&v.name)?;
            removed.push((v.name, size));
        }
        Ok(removed)
    }

    /// The anonymous volumes among `mounts` that no container uses any more.
    fn remove_anonymous_volumes(&self, mounts: &[volume::MountPoint]) -> Result<()> {
        let _held = self.volumes.lock();
        for m in mounts.iter().filter(|m| m.is_volume()) {
            let anonymous = self.volumes.get(&m.name).is_ok_and(|v| v.is_anonymous());
            if anonymous && self.volume_users(&m.name).is_empty() {
                self.volumes.remove(&m.name)?;
            }
        }
        Ok(())
    }
}
