//! A containerd of a test's own (Debian's containerd on its own root, state folder and
//! socket, stopped with every shim and mount it made when dropped, also when the test fails),
//! and a docker-archive of busybox for `ctr image import`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::TempDir;

pub const IMAGE: &str = "docker.io/library/drtest-busybox:latest";
pub const NS: &str = "drtest";

/// A containerd of the test's own.
pub struct Containerd {
    child: Child,
    pub dir: TempDir,
    pub sock: PathBuf,
}

impl Containerd {
    pub fn start(tag: &str) -> Containerd {
        let dir = TempDir::new(&format!("ctrd-{tag}"));
        let sock = dir.join("containerd.sock");
        let config = format!(
            "version = 2\nroot = \"{}\"\nstate = \"{}\"\n[grpc]\n  address = \"{}\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_tcp_service = true\n",
            dir.join("root").display(),
            dir.join("state").display(),
            sock.display()
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("containerd.log")).unwrap())
            .spawn()
            .expect("containerd (scripts/setup.sh installs it)");
        let me = Containerd { child, dir, sock };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !me.ctr(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "containerd did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        me
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("-a")
            .arg(&self.sock)
            .args(["-n", NS])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Import a busybox image (a docker-archive made here from the host's busybox-static).
    pub fn import_busybox(&self) {
        let tar = self.dir.join("image.tar");
        std::fs::write(&tar, docker_archive(&self.dir.join("layer"))).unwrap();
        self.ok(&["image", "import", tar.to_str().unwrap()]);
    }

    /// The task's status as `ctr task ls` shows it.
    pub fn task_status(&self, id: &str) -> String {
        self.ok(&["task", "ls"])
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let tasks = self.ctr(&["task", "ls", "-q"]);
        for id in String::from_utf8_lossy(&tasks.stdout).split_whitespace() {
            self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !self.ctr(&["task", "delete", id]).status.success() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let containers = self.ctr(&["container", "ls", "-q"]);
        for id in String::from_utf8_lossy(&containers.stdout).split_whitespace() {
            self.ctr(&["container", "delete", id]);
        }
        // SAFETY: kill takes a pid and a signal.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        // Shims of this containerd still running (a failed test), and its mounts.
        let mine = self.sock.display().to_string();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(&mine) {
                if let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() {
                    // SAFETY: kill takes a pid and a signal.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let base = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&base))
            .collect();
        under.reverse();
        for m in under {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        // containerd names the cgroups `/NS/ID` (linux.cgroupsPath): the parent goes with the
        // last test using it (a busy one stays for that test).
        remove_ns_cgroups();
    }
}

/// The `/NS` cgroup folders the runtime made for containerd's cgroupsPath, in every
/// hierarchy (those still holding a container stay).
fn remove_ns_cgroups() {
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(h.path().join(NS));
    }
}

/// A docker-archive (`docker save`'s format, which `ctr image import` reads) of a busybox
/// tree laid out at `layer`.
pub fn docker_archive(layer: &Path) -> Vec<u8> {
    super::make_busybox_tree(layer);
    let mut layer_tar = tar::Builder::new(Vec::new());
    layer_tar.follow_symlinks(false);
    layer_tar.append_dir_all(".", layer).unwrap();
    let layer_tar = layer_tar.into_inner().unwrap();
    let diff_id = format!("sha256:{:x}", Sha256::digest(&layer_tar));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]}
    })
    .to_string();
    let config_name = format!("{:x}.json", Sha256::digest(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": config_name, "RepoTags": [IMAGE], "Layers": ["layer/layer.tar"]
    }])
    .to_string();
    let mut out = tar::Builder::new(Vec::new());
    for (name, data) in [
        (config_name.as_str(), config.as_bytes()),
        ("layer/layer.tar", &layer_tar[..]),
        ("manifest.json", manifest.as_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.append_data(&mut h, name, data).unwrap();
    }
    out.into_inner().unwrap()
}
