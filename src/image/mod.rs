//! Images (v0.1.0 `graph.go`, `image.go`, `changes.go`, `archive.go`): the layer graph, layer
//! tarballs unpacked for overlayfs and packed back, and the changes of a container's
//! read-write layer.
//!
//! What other parts call:
//! - [`Graph`] (`Runtime::graph()`): `get`, `layers` (overlayfs `lowerdir=` order),
//!   `register` (from a tarball), `register_dir` (commit an upper directory), `delete`,
//!   `undelete`, `garbage_collect`, `heads`, `children`, `history`, `resolve_prefix`, and for
//!   the registry `prepare_stream` (a verified plain tar stream, unpacked before its parent is
//!   in place, then committed), `set_registry_layer`,
//!   `layer_is_empty`;
//! - [`pack_layer`] (upper directory -> layer tarball with `.wh.` whiteouts) and
//!   [`pack_dir`] (a whole tree for `export`, staying on one mount);
//! - [`unpack_layer`] (a plain tar stream into a directory, never writing outside it) and
//!   [`decompress`] (gzip, bzip2, xz detected by content);
//! - [`changes()`] (`A`/`C`/`D` lines for `diff`).

pub mod archive;
pub mod changes;
pub mod fsat;
pub mod graph;
pub mod layer;
pub mod pack;
pub mod sparse;

pub use archive::{decompress, Compression};
pub use changes::{changes, Change, ChangeKind};
pub use graph::{Graph, Image, ImageConfig, Prepared, RegistryLayer};
pub use layer::{unpack_layer, LayerLimits, UnpackStats};
pub use pack::{pack_dir, pack_layer};
