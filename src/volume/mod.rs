//! Volumes, `-v` and `--mount` mounts, as docker has them: `-v HOST:CONTAINER[:ro]` binds a host path,
//! `-v NAME:CONTAINER` a named volume and `-v CONTAINER` an anonymous one, kept under
//! `ROOT/volumes/NAME/_data` (docker's local driver layout) until `volume rm` (or `rm -v`
//! for anonymous ones). The mounts themselves are made by the engine's helper (bind mounts
//! resolved inside the container's root); this module reads the flags ([`spec`]), keeps the
//! volumes ([`store`]), ties them to containers ([`mounts`]) and fills a new one from the
//! image ([`copy`]).

pub mod copy;
pub mod mounts;
pub mod spec;
pub mod store;

pub use copy::populate;
pub use mounts::{in_use, mounts_for, undo, users};
pub use spec::{parse_all, parse_mount, MountPoint, Source, TmpfsOptions, VolumeSpec};
pub use store::{labels, Volume, VolumeStore, ANONYMOUS_LABEL};
