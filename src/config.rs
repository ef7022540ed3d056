//! v0.1.0's container `Config`: what the user asked for with `docker run`. A container's
//! `config.json` records it, and an image's `json` keeps the one of the container it was
//! committed from (`container_config`), so it lives below both. The engine never reads it: the
//! docker face turns it into an OCI runtime spec in one place (`container::spec`).

use serde::{Deserialize, Serialize};

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// What the user asked for (`docker run` flags).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub user: String,
    pub memory: i64,
    pub memory_swap: i64,
    /// `-c`: the CPU shares (relative weight; 0: the default, 1024). Absent from the JSON
    /// when 0, so records written before it stay byte for byte the same.
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_shares: i64,
    pub detach: bool,
    /// Private TCP ports to publish (`-p`), as the user wrote them (`80` or `8080:80`).
    pub ports: Vec<String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// The image name the user typed.
    pub image: String,
    /// The program's working directory (empty: `/`).
    pub working_dir: String,
    /// No network but loopback (`--network none`).
    pub network_disabled: bool,
    /// Capabilities added to and dropped from docker's default set (`--cap-add`,
    /// `--cap-drop`: `NET_ADMIN` or `CAP_NET_ADMIN`, or `ALL`). Absent from the JSON when
    /// empty, so records written before them stay byte for byte the same.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// `--security-opt`: `seccomp=unconfined`, `seccomp=PROFILE` (the profile's JSON is kept
    /// here, as docker keeps it, so the file may go away), `no-new-privileges`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
}
