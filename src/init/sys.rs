//! Small wrappers the helper's steps share: the error type and a `mount` naming its target.

use nix::mount::{mount, MsFlags};

pub type Res<T> = std::result::Result<T, String>;

pub fn errno_msg(what: impl std::fmt::Display, e: nix::errno::Errno) -> String {
    format!("{what}: {}", e.desc())
}

pub fn mnt(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Res<()> {
    mount(src, target, fstype, flags, data).map_err(|e| {
        errno_msg(
            format_args!("mounting {} on {target}", fstype.or(src).unwrap_or("")),
            e,
        )
    })
}
