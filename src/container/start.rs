//! Creating and starting a container: the overlay mount, the cgroup, the streams, and the
//! conversation with `docker-init` (see `spawn::protocol`).

use std::fs::{self, File};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::event::Event;
use super::monitor::Reap;
use super::record::{Config, ContainerRecord, NetworkSettings, State};
use super::{pidfd_open, process_start_time, set_window_size, stream, Container, Inner, Live};
use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::ids;
use crate::network::{parse_port_spec, NetworkManager};
use crate::runtime::Runtime;
use crate::spawn::protocol::{self, InitConfig, Message, INIT_SOCKET_FD, PROTOCOL_VERSION};

/// The environment every container starts with (v0.1.0), before `Config.Env`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Paths hidden from the container (modern docker's list).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/acpi",
    "/proc/asound",
    "/proc/latency_stats",
    "/proc/interrupts",
    "/sys/firmware",
];

/// Paths the container sees read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// How long the helper may take for one step before the start is abandoned.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// What a start needs beyond the record.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The client's terminal size, given to a container with a terminal.
    pub tty_size: Option<(u16, u16)>,
}

/// Which of `names` the image's layers (topmost first) hold as a symbolic link at the top
/// level, and which they lack entirely.
fn top_level_kinds(layers: &[PathBuf], name: &str) -> Option<fs::FileType> {
    layers
        .iter()
        .find_map(|l| fs::symlink_metadata(l.join(name)).ok())
        .map(|m| m.file_type())
}

/// The container's own layer between the image and its read-write layer: mount points the
/// image lacks (`/proc`, `/sys`, `/dev`) and the files bound in (`/etc/resolv.conf`,
/// `/etc/hostname`, `/etc/hosts`), so that none of them shows in `docker diff`. Returns
/// whether `/etc` is there for the binds.
fn make_init_layer(dir: &Path, layers: &[PathBuf]) -> Result<bool> {
    let init = dir.join("init");
    let mk = |p: &Path| {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(p)
            .map_err(|e| Error::io_path("creating", p, e))
    };
    mk(&init)?;
    for name in ["proc", "sys", "dev"] {
        match top_level_kinds(layers, name) {
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
            None => mk(&init.join(name))?,
        }
    }
    let etc_ok = match top_level_kinds(layers, "etc") {
        Some(t) => t.is_dir(),
        None => true,
    };
    if etc_ok {
        mk(&init.join("etc"))?;
        for f in ["resolv.conf", "hostname", "hosts"] {
            let p = init.join("etc").join(f);
            if !p.exists() {
                File::create(&p).map_err(|e| Error::io_path("creating", &p, e))?;
            }
        }
    }
    Ok(etc_ok)
}

/// Mount the container's file system at `ID/rootfs`: the image's layers under the init layer,
/// with `ID/rw` as the read-write layer (its root 0755: overlayfs gives the merged root the
/// upper directory's attributes). Returns whether `/etc` is there for the binds.
pub(crate) fn mount_rootfs(rt: &Runtime, c: &Container, image: &str) -> Result<bool> {
    let layers = rt.image_layers(image)?;
    let etc_ok = make_init_layer(&c.dir, &layers)?;
    let mut lowers = vec![c.dir.join("init")];
    lowers.extend(layers);
    let (rw, work, rootfs) = (c.rw_dir(), c.dir.join("work"), c.rootfs());
    for (p, mode) in [(&rw, 0o755), (&work, 0o700), (&rootfs, 0o755)] {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(p)
            .map_err(|e| Error::io_path("creating", p, e))?;
    }
    crate::mount::mount_overlay(&lowers, &rw, &work, &rootfs)?;
    Ok(etc_ok)
}

/// Create a container from a resolved image: a new id, its folder (whose creation is the lock
/// against races), its init layer and its record. Registers it with the runtime.
pub fn create(rt: &Runtime, image_id: &str, config: Config) -> Result<Arc<Container>> {
    ids::validate("image", image_id)?;
    if config.cmd.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    // The image must exist (its layers are read again at each start).
    rt.image_layers(image_id)?;
    let id = ids::generate()?;
    let dir = rt.container_dir(&id)?;
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io_path("creating", &dir, e))?;
    let made = (|| {
        let rec = ContainerRecord {
            id: id.clone(),
            created: Utc::now(),
            path: config.cmd[0].clone(),
            args: config.cmd[1..].to_vec(),
            config,
            state: State::default(),
            image: image_id.to_string(),
            network_settings: NetworkSettings::default(),
            sys_init_path: rt
                .init_path()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        };
        rec.save(&dir)?;
        Ok(rec)
    })();
    match made {
        Ok(rec) => Ok(rt.register(Container::new(rec, dir))),
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// The environment of the program: `HOME=/`, `PATH`, `HOSTNAME` (and `TERM` with a terminal),
/// then `Config.Env`, a later entry replacing an earlier one with the same name.
fn environment(rec: &ContainerRecord, hostname: &str) -> Vec<String> {
    let mut env: Vec<String> = vec![
        "HOME=/".into(),
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if rec.config.tty {
        env.push("TERM=xterm".into());
    }
    for e in &rec.config.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    env
}

/// Write a file that is regenerated at every start (not state: no fsync).
fn write_plain(path: &Path, data: &[u8]) -> Result<()> {
    fs::write(path, data).map_err(|e| Error::io_path("writing", path, e))
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

/// Start a registered container.
/// Start a registered container. Returns the event signalled when this run has ended (and been
/// cleaned up), which a caller streaming the run's output waits on.
pub fn start(rt: &Runtime, c: &Arc<Container>, opts: &StartOptions) -> Result<Arc<Event>> {
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
    let result = start_locked(rt, c, &mut inner, opts);
    inner.busy = false;
    result
}

/// What to undo when a start fails halfway.
#[derive(Default)]
struct Undo {
    mounted: Option<PathBuf>,
    cgroup: Option<Cgroup>,
}

impl Undo {
    fn run(self) {
        if let Some(cg) = &self.cgroup {
            cg.remove();
        }
        if let Some(m) = &self.mounted {
            let _ = crate::mount::unmount(m);
        }
    }
}

fn start_locked(
    rt: &Runtime,
    c: &Arc<Container>,
    inner: &mut Inner,
    opts: &StartOptions,
) -> Result<Arc<Event>> {
    let mut undo = Undo::default();
    match start_steps(rt, c, inner, opts, &mut undo) {
        Ok(done) => Ok(done),
        Err(e) => {
            undo.run();
            if let (Some(net), false) = (
                undo_network(rt, inner),
                inner.rec.network_settings.ip_address.is_empty(),
            ) {
                if let Err(r) = net.release(&c.id, &inner.rec.network_settings) {
                    rt.logger().warn(&r.to_string());
                }
                inner.rec.network_settings = NetworkSettings::default();
                if let Err(save) = c.save(inner) {
                    rt.logger().error(&format!("container {}: {save}", c.id));
                }
            }
            if inner.rec.state.running {
                inner.rec.state.set_stopped(-1);
                if let Err(save) = c.save(inner) {
                    rt.logger().error(&format!("container {}: {save}", c.id));
                }
            }
            Err(e)
        }
    }
}

/// The network manager that allocated for this start, if any.
fn undo_network<'a>(rt: &'a Runtime, inner: &Inner) -> Option<&'a Arc<NetworkManager>> {
    if inner.rec.config.network_disabled {
        None
    } else {
        rt.network().ok()
    }
}

fn start_steps(
    rt: &Runtime,
    c: &Arc<Container>,
    inner: &mut Inner,
    opts: &StartOptions,
    undo: &mut Undo,
) -> Result<Arc<Event>> {
    let rec = inner.rec.clone();
    let etc_ok = mount_rootfs(rt, c, &rec.image)?;
    let rootfs = c.rootfs();
    undo.mounted = Some(rootfs.clone());

    if rec.config.memory > 0 {
        undo.cgroup = Some(Cgroup::create(
            &c.id,
            rec.config.memory,
            rec.config.memory_swap,
        )?);
    }

    // The network is allocated and recorded before anything uses it.
    let network = if rec.config.network_disabled {
        None
    } else {
        let specs = rec
            .config
            .ports
            .iter()
            .map(|p| parse_port_spec(p))
            .collect::<Result<Vec<_>>>()?;
        let net = rt.network()?.clone();
        inner.rec.network_settings = net.allocate(&specs)?;
        c.save(inner)?;
        Some(net)
    };
    let settings = inner.rec.network_settings.clone();

    let hostname = if rec.config.hostname.is_empty() {
        ids::short(&c.id).to_string()
    } else {
        rec.config.hostname.clone()
    };
    let mut binds = Vec::new();
    if etc_ok {
        let hostfile = c.dir.join("hostname");
        // Made anew at every start: no need for them to survive a crash.
        write_plain(&hostfile, format!("{hostname}\n").as_bytes())?;
        let hosts = c.dir.join("hosts");
        let mut text =
            String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        if !rec.network_settings.ip_address.is_empty() {
            text.push_str(&format!(
                "{}\t{hostname}\n",
                rec.network_settings.ip_address
            ));
        }
        write_plain(&hosts, text.as_bytes())?;
        binds.push((hostfile.display().to_string(), "/etc/hostname".to_string()));
        binds.push((hosts.display().to_string(), "/etc/hosts".to_string()));
        if Path::new("/etc/resolv.conf").exists() {
            binds.push((
                "/etc/resolv.conf".to_string(),
                "/etc/resolv.conf".to_string(),
            ));
        }
    }
    let exit_file = c.exit_file();
    let _ = fs::remove_file(&exit_file);

    let mut args = vec![rec.path.clone()];
    args.extend(rec.args.iter().cloned());
    let cfg = InitConfig {
        version: PROTOCOL_VERSION,
        rootfs: rootfs.display().to_string(),
        hostname: hostname.clone(),
        args,
        env: environment(&rec, &hostname),
        user: rec.config.user.clone(),
        workdir: rec.config.working_dir.clone(),
        tty: rec.config.tty,
        new_netns: true,
        binds,
        exit_file: exit_file.display().to_string(),
        masked_paths: MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
        readonly_paths: READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
    };

    // The streams: a terminal is made inside the container; otherwise stdout and stderr go
    // straight to the logs and stdin is a pipe (with -i) or /dev/null.
    let mut stdin_writer: Option<File> = None;
    let (child_in, child_out, child_err): (Stdio, Stdio, Stdio) = if rec.config.tty {
        (devnull()?.into(), devnull()?.into(), devnull()?.into())
    } else {
        let stdin: Stdio = if rec.config.open_stdin {
            let (r, w) = pipe()?;
            stdin_writer = Some(File::from(w));
            r.into()
        } else {
            devnull()?.into()
        };
        (
            stdin,
            stream::open_log(&c.stdout_log())?.into(),
            stream::open_log(&c.stderr_log())?.into(),
        )
    };

    let init = rt.init_path()?;
    let (sock, child_sock) =
        UnixStream::pair().map_err(|e| Error::io("creating the helper socket", e))?;
    sock.set_read_timeout(Some(STEP_TIMEOUT))
        .map_err(|e| Error::io("setting a socket timeout", e))?;
    let child_raw = child_sock.as_raw_fd();
    let mut cmd = Command::new(&init);
    // The id only names the helper in `ps` (docker-init reads nothing from its arguments).
    cmd.arg0("docker-init")
        .arg(&c.id)
        .env_clear()
        .stdin(child_in)
        .stdout(child_out)
        .stderr(child_err);
    // SAFETY: the closure runs in the forked child before exec and only calls dup2/fcntl,
    // which are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if child_raw == INIT_SOCKET_FD {
                if libc::fcntl(child_raw, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(child_raw, INIT_SOCKET_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("starting {}", init.display()), e))?;
    drop(child_sock);
    let shim_pid = child.id() as i32;

    let attach_net = |pid: i32| match &network {
        Some(net) => net.attach(&c.id, pid, &settings),
        None => Ok(()),
    };
    let talk = converse(c, inner, &sock, &cfg, shim_pid, undo, opts, attach_net);
    let pty = match talk {
        Ok(pty) => pty,
        Err(e) => {
            // The helper exits on its own once it reported an error or lost us; make sure.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let shim_fd = pidfd_open(shim_pid).map_err(|e| Error::io("pidfd_open of the helper", e))?;
    let exited = Arc::new(Event::new()?);
    let pty = pty.map(Arc::new);
    if let Some(master) = &pty {
        let reader = master
            .try_clone()
            .map_err(|e| Error::io("duplicating the terminal", e))?;
        rt.monitor()?
            .watch_pty(&c.id, reader, stream::open_log(&c.stdout_log())?);
    }
    inner.live = Some(Live {
        pidfd: pidfd_open(inner.rec.state.pid).ok(),
        stdin: match &pty {
            Some(p) => Some(p.clone()),
            None => stdin_writer.map(Arc::new),
        },
        pty,
        exited: exited.clone(),
        cgroup: undo.cgroup.take(),
        network,
    });
    undo.mounted = None;
    rt.monitor()?.watch_exit(c.clone(), shim_fd, Reap::Child);
    Ok(exited)
}

fn expect(
    msg: Option<(Message, Option<OwnedFd>)>,
    what: &str,
) -> Result<(Message, Option<OwnedFd>)> {
    match msg {
        Some((Message::Error { message }, _)) => Err(Error::invalid(message)),
        Some(m) => Ok(m),
        None => Err(Error::new(
            crate::error::ErrorKind::Io,
            format!("docker-init exited before {what}"),
        )),
    }
}

fn recv(sock: &UnixStream, what: &str) -> Result<(Message, Option<OwnedFd>)> {
    let m = protocol::recv(sock.as_fd())
        .map_err(|e| Error::io(format!("talking to docker-init ({what})"), e))?;
    expect(m, what)
}

/// The steps of the protocol; returns the terminal master when one was made. `attach_net`
/// sets up the network of the container's process.
#[allow(clippy::too_many_arguments)]
fn converse(
    c: &Arc<Container>,
    inner: &mut Inner,
    sock: &UnixStream,
    cfg: &InitConfig,
    shim_pid: i32,
    undo: &Undo,
    opts: &StartOptions,
    attach_net: impl FnOnce(i32) -> Result<()>,
) -> Result<Option<File>> {
    let send = |m: &Message| {
        protocol::send(sock.as_fd(), m, None).map_err(|e| Error::io("talking to docker-init", e))
    };
    match recv(sock, "greeting")? {
        (Message::Hello { version }, _) if version == PROTOCOL_VERSION => {}
        (Message::Hello { version }, _) => {
            return Err(Error::unsupported(format!(
                "docker-init speaks protocol {version}, this library {PROTOCOL_VERSION}: use the docker-init of the same build"
            )))
        }
        (m, _) => return Err(Error::invalid(format!("unexpected message from docker-init: {m:?}"))),
    }
    send(&Message::Start(Box::new(cfg.clone())))?;
    let pid = match recv(sock, "creating the namespaces")? {
        (Message::Ready { pid }, _) => pid,
        (m, _) => {
            return Err(Error::invalid(format!(
                "unexpected message from docker-init: {m:?}"
            )))
        }
    };
    // The helper sets up the container's file system while the cgroup (a v1 cgroup.procs write
    // waits for an RCU grace period, ~10 ms) and the network are done here; the program only
    // runs after `Run`.
    send(&Message::Go)?;
    let joined = (|| {
        if let Some(cg) = &undo.cgroup {
            cg.add(pid)?;
        }
        attach_net(pid)?;
        // Journal: the record says running, with the processes to find again, before the
        // program is let go.
        let st = &mut inner.rec.state;
        st.running = true;
        st.pid = pid;
        st.exit_code = 0;
        st.started_at = Some(Utc::now());
        st.monitor_pid = shim_pid;
        st.monitor_start_time = process_start_time(shim_pid).unwrap_or(0);
        c.save(inner)
    })();
    if let Err(e) = joined {
        // The helper may have failed first (a missing user): its message is the cause.
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| Error::io("setting a socket timeout", e))?;
        return match protocol::recv(sock.as_fd()) {
            Ok(Some((Message::Error { message }, _))) => Err(Error::invalid(message)),
            _ => Err(e),
        };
    }
    // A helper that failed meanwhile is gone: its error is read below.
    let _ = send(&Message::Run);
    let mut pty = None;
    loop {
        match recv(sock, "starting the program")? {
            (Message::Pty, Some(fd)) => {
                let f = File::from(fd);
                if let Some((rows, cols)) = opts.tty_size {
                    set_window_size(&f, rows, cols)?;
                }
                pty = Some(f);
            }
            (Message::Exec, _) => return Ok(pty),
            (m, _) => {
                return Err(Error::invalid(format!(
                    "unexpected message from docker-init: {m:?}"
                )))
            }
        }
    }
}
