//! The snapshot: one immutable file holding every permit and the state of each single licence it
//! covers, memory-mapped and read in place (zero-copy rkyv).
//!
//! - [`format`](mod@format): the file layout and header page; why the records are sharded.
//! - [`index`]: the number and token indexes (open-addressing slot tables), the changes index
//!   and the applied event ids (sorted arrays).
//! - [`answers`]: each shard's pre-rendered JSON answers.
//! - [`build`]: writing a snapshot and publishing it with `CURRENT`.
//! - [`reader`]: opening (O(1), header only), verifying (checksum + rkyv validation + index
//!   cross-checks) and reading. The only module with `unsafe`.
//!
//! The request path reads a [`Snapshot`]; it never writes one. Only `permitd snapshot build` (and
//! later the writer) creates snapshot files.

pub mod answers;
pub mod build;
pub mod format;
pub mod index;
pub mod reader;

pub use build::{current_path, publish, BuildError, BuildStats};
pub use format::{FormatError, Header};
pub use index::Location;
pub use reader::{OpenError, Snapshot, SnapshotBytes, SnapshotFile};

#[cfg(test)]
mod tests;
