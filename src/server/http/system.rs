//! `/_ping`, `/version`, `/info`.

use serde_json::{json, Value};

use super::ctx::{Ctx, Reply};
use super::wire::VERSION;
use super::wire::{self, ApiError, ApiResult, API_VERSION};

/// `GET /_ping` and `HEAD /_ping`: `OK` with the version headers (the CLI reads
/// `Api-Version`, `Ostype`, `Docker-Experimental` and `Builder-Version` from it).
pub fn ping(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let extra = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Builder-Version", "1"),
        ("Cache-Control", "no-cache, no-store, must-revalidate"),
        ("Pragma", "no-cache"),
    ];
    let sent = if ctx.req.method == "HEAD" {
        use std::io::Write;
        let mut s = ctx.sock;
        s.write_all(&wire::head(200, &extra, Some(2)))
    } else {
        wire::send(ctx.sock, 200, &extra, b"OK")
    };
    sent.map_err(|e| ApiError::new(500, format!("answering the ping: {e}")))?;
    Ok(Reply::Sent)
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `GET /version`.
pub fn version(_ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let details = json!({
        "ApiVersion": API_VERSION,
        "MinAPIVersion": "1.12",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel(),
        "GitCommit": "",
        "GoVersion": "",
        "BuildTime": "",
        "Experimental": "false",
    });
    let mut v = json!({
        "Platform": {"Name": "docker-runtime"},
        "Components": [{"Name": "Engine", "Version": VERSION, "Details": details}],
        "Version": VERSION,
    });
    if let (Value::Object(top), Value::Object(d)) = (&mut v, details) {
        top.extend(d);
        // A string in the details, a boolean here.
        top.insert("Experimental".into(), Value::Bool(false));
    }
    Ok(Reply::Json(200, v))
}

/// Total memory in bytes, from `/proc/meminfo`.
fn mem_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `GET /info`: what the runtime knows, with the fields the CLI prints present.
pub fn info(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let rt = ctx.rt;
    let all = rt.containers();
    let running = all.iter().filter(|c| c.is_running()).count();
    let paused = all.iter().filter(|c| c.is_paused()).count();
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut v = json!({
            "ID": "",
            "Containers": all.len(),
            "ContainersRunning": running - paused.min(running),
            "ContainersPaused": paused,
            "ContainersStopped": all.len() - running,
            "Images": rt.image_count()?,
            "Driver": "overlay",
            "DriverStatus": [],
            "Plugins": {"Volume": [], "Network": ["bridge", "none"], "Authorization": null, "Log": []},
            "MemoryLimit": true,
            "SwapLimit": false,
            "CpuCfsPeriod": false,
            "CpuCfsQuota": false,
            "IPv4Forwarding": true,
            "Debug": false,
            "NFd": 0,
            "NGoroutines": 0,
            "SystemTime": chrono::Utc::now().to_rfc3339(),
            "LoggingDriver": "",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": "2",
            "NEventsListener": rt.events().subscriber_count(),
    });
    let more = json!({
            "KernelVersion": kernel(),
            "OperatingSystem": "docker-runtime",
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "NCPU": ncpu,
            "MemTotal": mem_total(),
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": [], "Mirrors": []},
            "DockerRootDir": rt.root().display().to_string(),
            "Name": host,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": VERSION,
            "Runtimes": {},
            "DefaultRuntime": "",
            "Swarm": {"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": "docker-init",
            "ContainerdCommit": {"ID": "", "Expected": ""},
            "RuncCommit": {"ID": "", "Expected": ""},
            "InitCommit": {"ID": "", "Expected": ""},
            "SecurityOptions": ["name=seccomp,profile=default"],
            "Warnings": [],
    });
    if let (Value::Object(v), Value::Object(more)) = (&mut v, more) {
        v.extend(more);
    }
    Ok(Reply::Json(200, v))
}
