//! The cgroups of a container: its folder in every hierarchy the runtime uses, with the
//! resources of its spec (`linux.resources`) written, for accounting (`docker stats`),
//! limits, `pause` and the list of its processes.
//!
//! Where: `docker-runtime/ID` under each hierarchy's root, or the spec's `linux.cgroupsPath`
//! read as runc's cgroupfs driver reads it ([`CgroupPath`]). The hierarchies: cgroup v2's
//! (`/sys/fs/cgroup` on a pure v2 host, holding every controller; `/sys/fs/cgroup/unified` in
//! the hybrid layout, with no controller but still `cgroup.freeze`), and in the hybrid or v1
//! layout the v1 controllers memory, pids, cpu and cpuacct (cpuset's when CPUs or memory
//! nodes are set, blkio's when a block I/O weight is; the freezer when there is no v2
//! hierarchy) at `/sys/fs/cgroup/NAME`. Huge page limits go to the hugetlb controller: v1's
//! when mounted, else v2's (in the hybrid layout too, where this kernel leaves it to
//! `unified`). The layout is found once per process.
//!
//! Getting a process in costs nothing on the start's path: the helper creates the container's
//! first process right inside the v2 folder (`clone3` with `CLONE_INTO_CGROUP`, see `init`),
//! and the helper itself is born in the v1 folders, forked by a thread that moved itself
//! there first ([`Cgroup::enter_v1`]: a thread moving itself takes no global lock). Moving a
//! process by pid would wait for an RCU grace period (~10 ms here) while holding every
//! cgroup change of the host.
//!
//! A long-lived runtime may also make the v1 folders ahead, for a helper started ahead in
//! them, and rename them to the container's name when a start claims them (`spare`).
//!
//! Devices need no cgroup: every place a container can create a node is mounted nodev (see
//! `init::setup_dev`).

mod group;
mod layout;
mod resources;
mod spare;
mod stats;

pub use group::{no_freezer, Cgroup};
pub use layout::CgroupPath;
pub use resources::Resources;
pub use spare::spare_name;
pub use stats::Usage;
