//! The commands of `docker-runtime-oci`, each a thin step over the store and the engine.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oci_spec::runtime::Spec;

use super::cli::{self, Invocation};
use super::create::{self, Started};
use super::hooks;
use super::log::Log;
use super::store::{alive, Record, Status, Store, OCI_VERSION};
use crate::engine::plan::HookKind;
use crate::error::{Error, Result};

/// Run one command line (without the program name); returns the exit status (0, or 1 after
/// an error, reported on standard error and in the `--log` file).
pub fn main(args: &[String]) -> i32 {
    let inv = match cli::parse(args) {
        Ok(inv) => inv,
        Err(e) => {
            // The log options may be what was wrong: said on standard error only.
            eprintln!("docker-runtime-oci: {e}");
            return 1;
        }
    };
    let log = Log::new(&inv.globals);
    log.debug(&format!("command line: {args:?}"));
    match run(&inv, &log) {
        Ok(status) => status,
        Err(e) => {
            log.error(&e.to_string());
            1
        }
    }
}

fn out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .map_err(|e| Error::io("writing to standard output", e))
}

/// Run the command; its exit status (`run`'s is the container's).
fn run(inv: &Invocation, log: &Log) -> Result<i32> {
    match inv.command.as_deref() {
        Some("run") => run_container(inv, log),
        Some("exec") => create::exec(inv),
        _ => dispatch(inv, log).map(|()| 0),
    }
}

/// `run`: create, start, wait (unless `--detach`) and delete; the container's exit status.
fn run_container(inv: &Invocation, log: &Log) -> Result<i32> {
    create::become_subreaper()?;
    let rec = create::create(inv, log)?;
    let store = Store::open(&inv.globals.root)?;
    if let Err(e) = start(&store, &rec.id, log) {
        // A container whose startContainer hook failed is gone already.
        if store.dir(&rec.id).exists() {
            let _ = remove(&store, &rec.id, true, log);
        }
        return Err(e);
    }
    if inv.flag("detach") {
        return Ok(0);
    }
    let status = create::wait_exit(rec.pid);
    remove(&store, &rec.id, true, log)?;
    Ok(status)
}

/// `start`: the program runs, then the poststart hooks; when a startContainer hook fails,
/// the container is destroyed (and its poststop hooks run) before the error is returned.
fn start(store: &Store, id: &str, log: &Log) -> Result<()> {
    match create::start(store, id)? {
        Started::Running(rec) => {
            hooks::run_warning(log, &rec, HookKind::Poststart, Status::Running);
            Ok(())
        }
        Started::HookFailed(rec, e) => {
            // It exits by itself once it reported the failure.
            let _ = wait_gone(&rec);
            if let Err(undo) = remove(store, id, true, log) {
                log.warn(&format!("destroying container \"{id}\": {undo}"));
            }
            Err(e)
        }
    }
}

fn dispatch(inv: &Invocation, log: &Log) -> Result<()> {
    let Some(command) = inv.command.as_deref() else {
        return if inv.version {
            out(&format!(
                "docker-runtime-oci version {}\ncommit: {}\nspec: {OCI_VERSION}\n",
                env!("CARGO_PKG_VERSION"),
                option_env!("DOCKER_RUNTIME_COMMIT").unwrap_or("unknown"),
            ))
        } else {
            out(cli::USAGE)
        };
    };
    match command {
        "spec" => spec(inv),
        "features" => out(&format!("{:#}\n", crate::engine::plan::features())),
        "state" => {
            let store = Store::open(&inv.globals.root)?;
            let rec = store.load(&inv.args[0])?;
            out(&format!("{:#}\n", store.state_json(&rec)))
        }
        "list" => list(inv),
        "kill" => kill(inv),
        "delete" => {
            let store = Store::open(&inv.globals.root)?;
            remove(&store, &inv.args[0], inv.flag("force"), log)
        }
        "create" => create::create(inv, log).map(drop),
        "pause" => pause(inv, true),
        "resume" => pause(inv, false),
        "ps" => ps(inv),
        "start" => start(&Store::open(&inv.globals.root)?, &inv.args[0], log),
        "update" => super::update::update(inv),
        other => Err(Error::unsupported(format!(
            "{other} is not implemented by this build of docker-runtime-oci yet"
        ))),
    }
}

/// `spec`: a default `config.json` in the bundle folder (never over an existing one).
fn spec(inv: &Invocation) -> Result<()> {
    if inv.flag("rootless") {
        return Err(Error::unsupported(
            "rootless containers are not supported (spec --rootless)",
        ));
    }
    let bundle = PathBuf::from(inv.value("bundle").unwrap_or("."));
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::exists(format!(
            "{} exists; remove it first",
            path.display()
        )));
    }
    let mut s = Spec::default();
    s.set_hostname(Some("docker-runtime".into()));
    let text = serde_json::to_vec_pretty(&s)
        .map_err(|e| Error::invalid(format!("writing the default spec: {e}")))?;
    crate::fsutil::write_atomic(&path, &text, 0o644)
}

/// `list`: a table (`ID PID STATUS BUNDLE CREATED OWNER`), the ids alone (`-q`), or the
/// states as a JSON array (`--format json`).
fn list(inv: &Invocation) -> Result<()> {
    let store = Store::open(&inv.globals.root)?;
    let records = store.list()?;
    if inv.flag("quiet") {
        return out(&records
            .iter()
            .map(|r| format!("{}\n", r.id))
            .collect::<String>());
    }
    match inv.value("format").unwrap_or("table") {
        "json" => {
            let states: Vec<_> = records.iter().map(|r| store.state_json(r)).collect();
            out(&format!("{}\n", serde_json::Value::from(states)))
        }
        "table" => {
            let mut text = format!(
                "{:<12} {:<8} {:<10} {:<40} {:<30} OWNER\n",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for r in &records {
                let st = store.state_json(r);
                text.push_str(&format!(
                    "{:<12} {:<8} {:<10} {:<40} {:<30} root\n",
                    r.id,
                    st["pid"],
                    st["status"].as_str().unwrap_or_default(),
                    r.bundle.display(),
                    st["created"].as_str().unwrap_or_default()
                ));
            }
            out(&text)
        }
        other => Err(Error::invalid(format!(
            "invalid --format {other:?}: want table or json"
        ))),
    }
}

/// `pause` (`freeze`) or `resume`: the container's cgroup frozen or thawed.
fn pause(inv: &Invocation, freeze: bool) -> Result<()> {
    let store = Store::open(&inv.globals.root)?;
    let id = &inv.args[0];
    let _lock = store.lock(id)?;
    let rec = store.load(id)?;
    let status = store.status(&rec);
    let cg = rec
        .cgroup()
        .ok_or_else(|| Error::unsupported(format!("container \"{id}\" has no cgroup to freeze")))?;
    match (freeze, status) {
        (true, Status::Running | Status::Created) => cg.freeze(id),
        (false, Status::Paused) => cg.thaw(),
        (true, Status::Paused) => Err(Error::in_use(format!(
            "container \"{id}\" is already paused"
        ))),
        (false, Status::Running | Status::Created) => {
            Err(Error::in_use(format!("container \"{id}\" is not paused")))
        }
        _ => Err(Error::in_use(format!("container \"{id}\" not running"))),
    }
}

/// `ps --format json`: the pids of the container's processes, as a JSON array.
fn ps(inv: &Invocation) -> Result<()> {
    let store = Store::open(&inv.globals.root)?;
    let id = &inv.args[0];
    let rec = store.load(id)?;
    if store.status(&rec) == Status::Stopped {
        return Err(Error::in_use(format!("container \"{id}\" not running")));
    }
    let pids = rec.cgroup().map(|c| c.pids()).unwrap_or_default();
    match inv.value("format").unwrap_or("table") {
        "json" => out(&format!("{}\n", serde_json::Value::from(pids))),
        // runc prints `ps -ef`'s rows of the container's processes: the same columns.
        "table" => out(&crate::table::render(&crate::ps::table(&pids))),
        other => Err(Error::invalid(format!(
            "ps --format {other:?}: want table or json"
        ))),
    }
}

/// A pidfd for the container's first process, if it is still the recorded one.
fn open_process(rec: &Record) -> Option<OwnedFd> {
    let fd = crate::proc::pidfd_open(rec.pid).ok()?;
    // Checked after the descriptor pins the process: the pid was not reused in between.
    alive(rec.pid, rec.pid_start).then_some(fd)
}

fn send(pidfd: &OwnedFd, sig: i32) -> Result<()> {
    crate::proc::pidfd_send_signal(pidfd.as_fd(), sig)
        .map_err(|e| Error::io("signalling the container", e))
}

/// Signal the container's first process; with `all`, every process of its pid namespace.
fn signal(rec: &Record, sig: i32, all: bool) -> Result<()> {
    let pidfd = open_process(rec)
        .ok_or_else(|| Error::in_use(format!("container \"{}\" not running", rec.id)))?;
    if all {
        // Killing the namespace's init takes every process of the namespace with it; any
        // other signal goes to each process in it.
        let ns = std::fs::read_link(format!("/proc/{}/ns/pid", rec.pid))
            .map_err(|e| Error::io("reading the container's pid namespace", e))?;
        if sig != libc::SIGKILL {
            for pid in crate::proc::pids_in_pid_namespace(&ns) {
                if pid != rec.pid {
                    // SAFETY: kill takes a pid and a signal; a process gone meanwhile is ESRCH.
                    unsafe { libc::kill(pid, sig) };
                }
            }
        }
    }
    send(&pidfd, sig)
}

fn kill(inv: &Invocation) -> Result<()> {
    let store = Store::open(&inv.globals.root)?;
    let id = &inv.args[0];
    let _lock = store.lock(id)?;
    let rec = store.load(id)?;
    let sig = crate::proc::parse_signal(inv.args.get(1).map_or("SIGTERM", String::as_str))?;
    match store.status(&rec) {
        Status::Created | Status::Running | Status::Paused => signal(&rec, sig, inv.flag("all")),
        _ => Err(Error::in_use(format!("container \"{id}\" not running"))),
    }
}

/// Wait (at most 10 s) until the container's first process is gone.
fn wait_gone(rec: &Record) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(rec.pid, rec.pid_start) {
        if Instant::now() > deadline {
            return Err(Error::in_use(format!(
                "container \"{}\" did not stop after SIGKILL",
                rec.id
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// `delete`: a stopped or created container goes (with its cgroup); a running one only with
/// `force` (killed first). A record that cannot be read goes with `force`. Then the poststop
/// hooks run.
fn remove(store: &Store, id: &str, force: bool, log: &Log) -> Result<()> {
    let _lock = store.lock(id)?;
    let rec = match store.load(id) {
        Ok(r) => r,
        Err(_) if force => return store.remove(id),
        Err(e) => return Err(e),
    };
    match store.status(&rec) {
        Status::Stopped | Status::Creating => {}
        Status::Created => {
            signal(&rec, libc::SIGKILL, true)?;
            wait_gone(&rec)?;
        }
        Status::Running | Status::Paused if force => {
            signal(&rec, libc::SIGKILL, true)?;
            wait_gone(&rec)?;
        }
        Status::Running | Status::Paused => {
            return Err(Error::in_use(format!(
                "cannot delete container \"{id}\" that is not stopped: {}",
                store.status(&rec).name()
            )))
        }
    }
    if let Some(cg) = rec.cgroup() {
        // A paused container's processes are killed above; the cgroup goes once thawed.
        let _ = cg.thaw();
        cg.remove();
    }
    store.remove(id)?;
    hooks::run_warning(log, &rec, HookKind::Poststop, Status::Stopped);
    Ok(())
}
