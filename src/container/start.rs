//! Creating and starting a container, as the docker face does it: each step a named function
//! with its undo, the container's start itself handed to the engine as an OCI spec.
//!
//! 1. [`mount_rootfs`]: the image's layers under the init layer, with the read-write layer on
//!    top (undo: unmount);
//! 2. [`allocate_network`]: an address and the published ports, recorded before anything uses
//!    them (undo: release them);
//! 3. [`write_etc_files`]: `/etc/hostname` and `/etc/hosts` (made anew at every start);
//! 4. the user looked up in the image, the spec built ([`super::spec::build`]);
//! 5. [`open_streams`]: the logs, stdin;
//! 6. [`crate::engine::launch`]: cgroup, helper, network joined, record journaled (the engine
//!    undoes its own steps);
//! 7. [`go_live`]: the live state, and the monitor watching the exit.
//!
//! Everything comes in as arguments ([`Deps`]): the layers, the helper's path, the network,
//! the monitor, the kernel; nothing here reaches back into the runtime.

use std::fs::{self, File};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use oci_spec::runtime::Spec;

use super::event::Event;
use super::lifecycle::{Container, Inner, Live};
use super::monitor::{Monitor, Reap};
use super::record::{Config, ContainerRecord, NetworkSettings, State};
use super::spec::{self, Inputs};
use super::{stream, user};
use crate::engine::{self, Hooks, Kernel, Launch, Launched, Streams};
use crate::error::{Error, Result};
use crate::ids;
use crate::log::Logger;
use crate::network::{parse_port_spec, NetworkManager};
use crate::proc::{pidfd_open, process_start_time};

/// What a start needs beyond the record.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The client's terminal size, given to a container with a terminal.
    pub tty_size: Option<(u16, u16)>,
}

/// What a start takes from its owner.
pub struct Deps<'a> {
    pub kernel: &'a dyn Kernel,
    /// The image's layer folders, topmost first.
    pub layers: Vec<PathBuf>,
    /// The `docker-init` helper.
    pub helper: PathBuf,
    /// The network manager; `None` for a container without a network.
    pub network: Option<Arc<NetworkManager>>,
    /// The exit watcher.
    pub monitor: &'a Monitor,
    /// Where compiled seccomp programs are kept across processes.
    pub seccomp_cache: Option<PathBuf>,
    pub logger: &'a Logger,
}

/// The type of `name` at the top level of the image's layers (topmost first).
fn top_level_kind(layers: &[PathBuf], name: &str) -> Option<fs::FileType> {
    layers
        .iter()
        .find_map(|l| fs::symlink_metadata(l.join(name)).ok())
        .map(|m| m.file_type())
}

fn mkdirs(p: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(p)
        .map_err(|e| Error::io_path("creating", p, e))
}

/// The container's own layer between the image and its read-write layer: mount points the
/// image lacks (`/proc`, `/sys`, `/dev`) and the files bound in (`/etc/resolv.conf`,
/// `/etc/hostname`, `/etc/hosts`), so that none of them shows in `docker diff`. Returns
/// whether `/etc` is there for the binds.
fn make_init_layer(dir: &Path, layers: &[PathBuf]) -> Result<bool> {
    let init = dir.join("init");
    mkdirs(&init, 0o755)?;
    for name in ["proc", "sys", "dev"] {
        match top_level_kind(layers, name) {
            Some(t) if t.is_symlink() => {
                return Err(Error::invalid(format!(
                    "the image's /{name} is a symbolic link; refusing to run it (it could lead mounts out of the container)"
                )))
            }
            Some(t) if !t.is_dir() => {
                return Err(Error::invalid(format!(
                    "the image's /{name} is not a directory"
                )))
            }
            Some(_) => {}
            None => mkdirs(&init.join(name), 0o755)?,
        }
    }
    let etc_ok = top_level_kind(layers, "etc").is_none_or(|t| t.is_dir());
    if etc_ok {
        mkdirs(&init.join("etc"), 0o755)?;
        for f in ["resolv.conf", "hostname", "hosts"] {
            let p = init.join("etc").join(f);
            if !p.exists() {
                File::create(&p).map_err(|e| Error::io_path("creating", &p, e))?;
            }
        }
    }
    Ok(etc_ok)
}

/// Mount the container's file system at `ID/rootfs`: the image's `layers` under the init
/// layer, with `ID/rw` as the read-write layer (its root 0755: overlayfs gives the merged root
/// the upper directory's attributes). Returns whether `/etc` is there for the binds.
pub fn mount_rootfs(kernel: &dyn Kernel, c: &Container, layers: &[PathBuf]) -> Result<bool> {
    let etc_ok = make_init_layer(&c.dir, layers)?;
    let mut lowers = vec![c.dir.join("init")];
    lowers.extend(layers.iter().cloned());
    let (rw, work, rootfs) = (c.rw_dir(), c.dir.join("work"), c.rootfs());
    for (p, mode) in [(&rw, 0o755), (&work, 0o700), (&rootfs, 0o755)] {
        mkdirs(p, mode)?;
    }
    kernel.mount_overlay(&lowers, &rw, &work, &rootfs)?;
    Ok(etc_ok)
}

/// A new container from a resolved image: its folder `dir` (whose creation is the lock
/// against races) and its record, named `name` (reserved by the caller), written durably;
/// `auto_remove` (`run --rm`): with its claimed marker (see [`super::autoremove`]) made
/// first. The caller registers it.
pub fn create(
    dir: PathBuf,
    image_id: &str,
    config: Config,
    helper: &str,
    name: &str,
    auto_remove: bool,
) -> Result<Container> {
    ids::validate("image", image_id)?;
    if config.cmd.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    ids::validate("container", &id)?;
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io_path("creating", &dir, e))?;
    let claim = match auto_remove
        .then(|| super::autoremove::mark(&dir))
        .transpose()
    {
        Ok(claim) => claim,
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let rec = ContainerRecord {
        id,
        name: super::names::recorded(name),
        created: Utc::now(),
        path: config.cmd[0].clone(),
        args: config.cmd[1..].to_vec(),
        config,
        state: State::default(),
        image: image_id.to_string(),
        network_settings: NetworkSettings::default(),
        sys_init_path: helper.to_string(),
        mounts: Vec::new(),
        auto_remove,
    };
    match rec.save_created(&dir) {
        Ok(()) => Ok(match claim {
            Some(claim) => Container::new(rec, dir).with_claim(claim),
            None => Container::new(rec, dir),
        }),
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

impl Container {
    /// Run `f` on the container's whole file system: the live mount while it runs, else a
    /// mount of the image's `layers` (topmost first) made for the call (a start waits
    /// meanwhile).
    pub fn with_rootfs<T>(
        &self,
        kernel: &dyn crate::engine::Kernel,
        layers: &[PathBuf],
        f: impl FnOnce(&Path) -> Result<T>,
    ) -> Result<T> {
        let inner = self.lock();
        if inner.rec.state.running {
            drop(inner);
            return f(&self.rootfs());
        }
        mount_rootfs(kernel, self, layers)?;
        let out = f(&self.rootfs());
        let unmounted = kernel.unmount(&self.rootfs());
        drop(inner);
        let out = out?;
        unmounted?;
        Ok(out)
    }
}

/// Start a registered container. Returns the event signalled when this run has ended (and been
/// cleaned up), which a caller streaming the run's output waits on.
pub fn start(c: &Arc<Container>, deps: &Deps<'_>, opts: &StartOptions) -> Result<Arc<Event>> {
    let mut inner = c.wait_released(c.lock());
    if inner.removed {
        return Err(Error::not_found(format!("no such container: {}", c.id)));
    }
    if inner.rec.state.running || inner.busy {
        return Err(Error::in_use(format!(
            "container {} is already running",
            ids::short(&c.id)
        )));
    }
    inner.busy = true;
    let mut undo = Undo::default();
    let result = start_steps(c, &mut inner, deps, opts, &mut undo);
    if result.is_err() {
        undo.run(c, &mut inner, deps);
    }
    inner.busy = false;
    result
}

/// What to undo when a start fails halfway.
#[derive(Default)]
struct Undo {
    mounted: bool,
    network: Option<Arc<NetworkManager>>,
}

impl Undo {
    /// Unmount, give the network back, and record the container as stopped.
    fn run(self, c: &Container, inner: &mut Inner, deps: &Deps<'_>) {
        let logger = deps.logger;
        if self.mounted {
            let _ = deps.kernel.unmount(&c.rootfs());
        }
        if let Some(net) = self.network {
            if let Err(r) = net.release(&c.id, &inner.rec.network_settings) {
                logger.warn(&r.to_string());
            }
            inner.rec.network_settings = NetworkSettings::default();
            if let Err(save) = c.save_run(inner) {
                logger.error(&format!("container {}: {save}", c.id));
            }
        }
        if inner.rec.state.running {
            inner.rec.state.set_stopped(-1);
            if let Err(save) = c.save_run(inner) {
                logger.error(&format!("container {}: {save}", c.id));
            }
        }
    }
}

fn start_steps(
    c: &Arc<Container>,
    inner: &mut Inner,
    deps: &Deps<'_>,
    opts: &StartOptions,
    undo: &mut Undo,
) -> Result<Arc<Event>> {
    let etc_ok = mount_rootfs(deps.kernel, c, &deps.layers)?;
    undo.mounted = true;
    undo.network = allocate_network(c, inner, deps.network.as_ref())?;
    let hostname = hostname(&inner.rec);
    let binds = write_etc_files(c, &hostname, &inner.rec.network_settings, etc_ok)?;
    let rootfs = c.rootfs();
    for m in (inner.rec.mounts.iter()).filter(|m| m.is_volume() && !m.no_copy) {
        crate::volume::populate(&rootfs, &m.destination, Path::new(&m.source))?;
    }
    let user = user::lookup(&rootfs, &inner.rec.config.user)?;
    let spec = spec::build(
        &inner.rec,
        &Inputs {
            rootfs: &rootfs,
            hostname: &hostname,
            binds: &binds,
            mounts: &inner.rec.mounts,
            user: &user,
        },
    )?;
    let (streams, stdin_writer) = open_streams(c, &inner.rec.config)?;
    let launched = launch(c, inner, deps, &spec, streams, opts)?;
    let exited = go_live(c, inner, deps, launched, stdin_writer)?;
    undo.mounted = false;
    undo.network = None;
    Ok(exited)
}

/// Allocate the container's address and ports and record them before anything uses them;
/// returns the manager that holds them.
fn allocate_network(
    c: &Container,
    inner: &mut Inner,
    network: Option<&Arc<NetworkManager>>,
) -> Result<Option<Arc<NetworkManager>>> {
    let Some(net) = network else {
        return Ok(None);
    };
    let specs = inner
        .rec
        .config
        .ports
        .iter()
        .map(|p| parse_port_spec(p))
        .collect::<Result<Vec<_>>>()?;
    inner.rec.network_settings = net.allocate(&specs)?;
    if let Err(e) = c.save_run(inner) {
        let _ = net.release(&c.id, &inner.rec.network_settings);
        inner.rec.network_settings = NetworkSettings::default();
        return Err(e);
    }
    Ok(Some(net.clone()))
}

/// The container's hostname: the one asked for, else its short id.
pub(super) fn hostname(rec: &ContainerRecord) -> String {
    if rec.config.hostname.is_empty() {
        ids::short(&rec.id).to_string()
    } else {
        rec.config.hostname.clone()
    }
}

/// Write a file that is regenerated at every start (not state: no fsync).
fn write_plain(path: &Path, data: &[u8]) -> Result<()> {
    fs::write(path, data).map_err(|e| Error::io_path("writing", path, e))
}

/// `/etc/hostname` and `/etc/hosts` for this start, and the host's `/etc/resolv.conf`: the
/// binds, (host path, container path). None when the image has no `/etc` folder.
fn write_etc_files(
    c: &Container,
    hostname: &str,
    net: &NetworkSettings,
    etc_ok: bool,
) -> Result<Vec<(PathBuf, &'static str)>> {
    if !etc_ok {
        return Ok(Vec::new());
    }
    let hostfile = c.dir.join("hostname");
    write_plain(&hostfile, format!("{hostname}\n").as_bytes())?;
    let hosts = c.dir.join("hosts");
    let mut text =
        String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if !net.ip_address.is_empty() {
        text.push_str(&format!("{}\t{hostname}\n", net.ip_address));
    }
    write_plain(&hosts, text.as_bytes())?;
    let mut binds = vec![(hostfile, "/etc/hostname"), (hosts, "/etc/hosts")];
    if Path::new("/etc/resolv.conf").exists() {
        binds.push((PathBuf::from("/etc/resolv.conf"), "/etc/resolv.conf"));
    }
    Ok(binds)
}

fn devnull() -> Result<File> {
    File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| Error::io("opening /dev/null", e))
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::errno("pipe", e))
}

/// The streams: a terminal is made inside the container; otherwise stdout and stderr go
/// straight to the logs and stdin is a pipe (with -i, whose writing end is returned) or
/// /dev/null.
fn open_streams(c: &Container, config: &Config) -> Result<(Streams, Option<File>)> {
    if config.tty {
        let streams = Streams {
            stdin: devnull()?.into(),
            stdout: devnull()?.into(),
            stderr: devnull()?.into(),
            preserved: 0,
        };
        return Ok((streams, None));
    }
    let (stdin, writer): (OwnedFd, Option<File>) = if config.open_stdin {
        let (r, w) = pipe()?;
        (r, Some(File::from(w)))
    } else {
        (devnull()?.into(), None)
    };
    let streams = Streams {
        stdin,
        stdout: stream::open_log(&c.stdout_log())?.into(),
        stderr: stream::open_log(&c.stderr_log())?.into(),
        preserved: 0,
    };
    Ok((streams, writer))
}

/// Hand the spec to the engine; the network joins the process and the record is journaled
/// as running while the helper sets up the file system.
fn launch(
    c: &Container,
    inner: &mut Inner,
    deps: &Deps<'_>,
    spec: &Spec,
    streams: Streams,
    opts: &StartOptions,
) -> Result<Launched> {
    let exit_file = c.exit_file();
    let _ = fs::remove_file(&exit_file);
    let settings = inner.rec.network_settings.clone();
    let network = deps.network.clone();
    let mut attach = |pid: i32| match &network {
        Some(net) => net.attach(&c.id, pid, &settings),
        None => Ok(()),
    };
    let mut running = |pid: i32, helper_pid: i32| {
        // Journal: the record says running, with the processes to find again, before the
        // program is let go.
        let st = &mut inner.rec.state;
        st.running = true;
        st.pid = pid;
        st.exit_code = 0;
        st.started_at = Some(Utc::now());
        st.monitor_pid = helper_pid;
        st.monitor_start_time = process_start_time(helper_pid).unwrap_or(0);
        inner.rec.save_run(&c.dir)
    };
    engine::launch(
        deps.kernel,
        Launch {
            spec,
            bundle: &c.dir,
            helper: &deps.helper,
            name: &c.id,
            streams,
            exit_file: &exit_file,
            tty_size: opts.tty_size,
            seccomp_cache: deps.seccomp_cache.as_deref(),
            gate: None,
            join: None,
            new_session_keyring: true,
            hook_state: None,
        },
        Hooks {
            attach: &mut attach,
            running: &mut running,
            // Its specs have no hooks.
            created: &mut |_| Ok(()),
        },
    )
}

/// What the monitor needs to watch a run: the helper's pidfd, the run's end event, a reader
/// of the terminal and its log.
type Watches = (OwnedFd, Arc<Event>, Option<(File, File)>);

fn watches(c: &Container, launched: &Launched) -> Result<Watches> {
    let shim_fd =
        pidfd_open(launched.helper_pid).map_err(|e| Error::io("pidfd_open of the helper", e))?;
    let exited = Arc::new(Event::new()?);
    let pty = match &launched.pty {
        Some(master) => Some((
            master
                .try_clone()
                .map_err(|e| Error::io("duplicating the terminal", e))?,
            stream::open_log(&c.stdout_log())?,
        )),
        None => None,
    };
    Ok((shim_fd, exited, pty))
}

/// The container runs: keep what the run holds and let the monitor watch for its end. When
/// that cannot be set up, the run is ended (its helper killed, which kills the container,
/// and its cgroup removed) and the caller undoes the rest.
fn go_live(
    c: &Arc<Container>,
    inner: &mut Inner,
    deps: &Deps<'_>,
    mut launched: Launched,
    stdin_writer: Option<File>,
) -> Result<Arc<Event>> {
    let (shim_fd, exited, pty_watch) = match watches(c, &launched) {
        Ok(w) => w,
        Err(e) => {
            if let Some(mut helper) = launched.helper.take() {
                let _ = helper.kill();
                let _ = helper.wait();
            }
            if let Some(cg) = &launched.cgroup {
                deps.kernel.remove_cgroup(cg);
            }
            return Err(e);
        }
    };
    if let Some((reader, log)) = pty_watch {
        deps.monitor.watch_pty(&c.id, reader, log);
    }
    let pty = launched.pty.map(Arc::new);
    inner.live = Some(Live {
        pidfd: pidfd_open(launched.pid).ok(),
        stdin: match &pty {
            Some(p) => Some(p.clone()),
            None => stdin_writer.map(Arc::new),
        },
        pty,
        exited: exited.clone(),
        cgroup: launched.cgroup,
        commits: 0,
        network: deps.network.clone(),
    });
    // The helper is our child: the monitor reaps it through its pidfd (its `Child` is
    // dropped unreaped).
    deps.monitor.watch_exit(c.clone(), shim_fd, Reap::Child);
    Ok(exited)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernel::fake::FakeKernel;

    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A container of `/bin/true` made under `tmp` (its image layer: `tmp/layer`).
    fn new_container(tmp: &TempDir, network_disabled: bool, auto_remove: bool) -> Container {
        fs::create_dir_all(tmp.0.join("layer/etc")).unwrap();
        fs::create_dir_all(tmp.0.join("containers")).unwrap();
        let dir = tmp.0.join("containers").join(ids::generate().unwrap());
        let config = Config {
            cmd: vec!["true".into()],
            network_disabled,
            ..Config::default()
        };
        create(dir, &"ab".repeat(32), config, "", "t", auto_remove).unwrap()
    }

    /// What a start needs, with `kernel`, the helper `helper` and the layer of
    /// [`new_container`].
    fn deps<'a>(
        tmp: &TempDir,
        kernel: &'a FakeKernel,
        helper: &str,
        monitor: &'a Monitor,
        logger: &'a Logger,
    ) -> Deps<'a> {
        Deps {
            kernel,
            layers: vec![tmp.0.join("layer")],
            helper: PathBuf::from(helper),
            network: None,
            monitor,
            logger,
            seccomp_cache: None,
        }
    }

    #[test]
    fn a_start_that_fails_is_undone_and_leaves_the_container_startable() {
        let tmp = TempDir(std::env::temp_dir().join(format!("dr-start-{}", std::process::id())));
        let c = Arc::new(new_container(&tmp, false, false));
        let mut kernel = FakeKernel::new(|_| {});
        kernel.fail_spawn = true;
        let logger = Logger::default();
        let monitor = Monitor::start(logger.clone(), Default::default()).unwrap();
        let deps = deps(&tmp, &kernel, "/nonexistent", &monitor, &logger);
        for _ in 0..2 {
            let e = start(&c, &deps, &StartOptions::default()).unwrap_err();
            assert!(e.message().contains("does not exist"), "{e}");
        }
        let (cgroup, spawn) = (format!("cgroup {}", c.id), format!("spawn {}", c.id));
        let once = [
            "mount 2 layers",
            &cgroup,
            &spawn,
            "remove cgroup",
            "unmount",
        ];
        assert_eq!(kernel.calls(), [once, once].concat());
        assert!(!c.is_running());
        let rec = ContainerRecord::load(c.dir()).unwrap();
        assert!(!rec.state.running);
        assert_eq!(
            fs::read_to_string(c.dir().join("hosts")).unwrap(),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        );
    }

    /// A helper that goes through a start (its process `pid`) and then waits.
    fn starting_helper(pid: i32) -> FakeKernel {
        use crate::spawn::protocol::{self, Message, PROTOCOL_VERSION};
        use std::os::fd::AsFd;
        FakeKernel::new(move |sock| {
            let send = |m: Message| protocol::send(sock.as_fd(), &m, None).unwrap();
            let recv = || protocol::recv(sock.as_fd()).unwrap().map(|(m, _)| m);
            send(Message::Hello {
                version: PROTOCOL_VERSION,
            });
            assert!(matches!(recv(), Some(Message::Start(_))));
            send(Message::Ready { pid });
            assert_eq!(recv(), Some(Message::Go));
            assert_eq!(recv(), Some(Message::Run));
            send(Message::Exec);
        })
    }

    /// The fsyncs of this thread while a container (`auto_remove` or not) is created, started
    /// (the record journaled as running) and its exit recorded, as the monitor does it.
    fn syncs_of_a_run(tmp: &TempDir, auto_remove: bool) -> [u32; 3] {
        let before = crate::fsutil::syncs();
        let c = Arc::new(new_container(tmp, true, auto_remove));
        let created = crate::fsutil::syncs() - before;
        assert_eq!(c.claimed(), auto_remove);
        assert_eq!(c.dir().join("autoremove").exists(), auto_remove);
        let kernel = starting_helper(4242);
        let logger = Logger::default();
        let monitor = Monitor::start(logger.clone(), Default::default()).unwrap();
        let deps = deps(tmp, &kernel, "/docker-init", &monitor, &logger);
        let before = crate::fsutil::syncs();
        start(&c, &deps, &StartOptions::default()).unwrap();
        let started = crate::fsutil::syncs() - before;
        let rec = ContainerRecord::load(c.dir()).unwrap();
        assert!(rec.state.running && rec.state.pid == 4242);
        assert_eq!(rec.auto_remove, auto_remove);
        let before = crate::fsutil::syncs();
        c.exited(3, &logger);
        let exited = crate::fsutil::syncs() - before;
        let rec = ContainerRecord::load(c.dir()).unwrap();
        assert_eq!((rec.state.running, rec.state.exit_code), (false, 3));
        [created, started, exited]
    }

    #[test]
    fn only_the_folder_of_a_new_auto_remove_container_is_fsynced() {
        let tmp = TempDir(std::env::temp_dir().join(format!("dr-syncs-{}", std::process::id())));
        // Each durable save: the record's temp file and its folder.
        assert_eq!(syncs_of_a_run(&tmp, false), [2, 2, 2]);
        // auto_remove: the folder only, at the creation.
        assert_eq!(syncs_of_a_run(&tmp, true), [1, 0, 0]);
    }
}
