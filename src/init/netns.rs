//! A warm helper's network namespace, made ahead: creating one costs about a third of a
//! millisecond of kernel work (its loopback device and sysctl tables), which a helper started
//! ahead pays while it waits instead of on the container's start.
//!
//! The helper moves itself into a new network namespace once it has greeted and keeps the
//! host's open. The container's process inherits it when its start asks for exactly what the
//! fork would have made: a new namespace, owned by the host's user namespace (none of its own:
//! a namespace belongs to the user namespace that made it), none joined by path. Any other
//! start puts the helper back in the host's first.

use std::fs::File;
use std::os::fd::OwnedFd;

use nix::sched::{setns, unshare, CloneFlags};

use super::sys::{errno_msg, Res};
use crate::spawn::protocol::InitConfig;

/// The namespace made ahead, and the host's to go back to.
pub struct NetAhead {
    host: OwnedFd,
}

impl NetAhead {
    /// Move this process into a new network namespace. None when it cannot (the start then
    /// makes one as a cold start does).
    pub fn make() -> Option<NetAhead> {
        let host = File::open("/proc/self/ns/net").ok()?;
        unshare(CloneFlags::CLONE_NEWNET).ok()?;
        Some(NetAhead { host: host.into() })
    }

    /// Give the container the namespace made ahead when it is the one its start would make
    /// (true: the process must not make another), else go back to the host's (false).
    pub fn hand_over(self, cfg: &InitConfig) -> Res<bool> {
        if fits(cfg) {
            return Ok(true);
        }
        setns(self.host, CloneFlags::CLONE_NEWNET)
            .map_err(|e| errno_msg("going back to the host's network namespace", e))?;
        Ok(false)
    }
}

/// Whether the start of `cfg` makes a new network namespace in the host's user namespace.
fn fits(cfg: &InitConfig) -> bool {
    cfg.new_netns
        && cfg.join == 0
        && cfg.uid_map.is_empty()
        && !cfg
            .join_namespaces
            .iter()
            .any(|(k, _)| k == "net" || k == "user")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_new_namespace_of_the_hosts_user_namespace_is_taken() {
        let plain = InitConfig {
            new_netns: true,
            ..InitConfig::default()
        };
        assert!(fits(&plain));
        let cases: [fn(&mut InitConfig); 5] = [
            |c| c.new_netns = false,
            |c| c.join = 42,
            |c| c.uid_map = vec![(0, 100_000, 65536)],
            |c| c.join_namespaces = vec![("net".into(), "/proc/1/ns/net".into())],
            |c| c.join_namespaces = vec![("user".into(), "/proc/1/ns/user".into())],
        ];
        for change in cases {
            let mut cfg = InitConfig {
                new_netns: true,
                ..InitConfig::default()
            };
            change(&mut cfg);
            assert!(!fits(&cfg), "{cfg:?}");
        }
        // Another namespace joined by path does not matter.
        let mut ipc = plain.clone();
        ipc.join_namespaces = vec![("ipc".into(), "/proc/1/ns/ipc".into())];
        assert!(fits(&ipc));
    }
}
