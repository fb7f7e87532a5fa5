//! The durable change log: the single source of truth between snapshots.
//!
//! One writer process appends records — a caller-assigned sequence number and an opaque payload
//! (JSON, to the caller) — and acknowledges them only after a group [`ChangeLog::commit`]
//! returns. Readers in other processes follow the log while it grows ([`LogReader`]).
//!
//! # Files
//!
//! The log is a directory (the caller passes `DIR/log`) of append-only segment files named
//! `seg-<first seq, 20 zero-padded decimal digits>.log`, so names sort in seq order. A segment is
//! closed once it has passed [`LOG_SEGMENT_BYTES_MAX`]: the next record starts a new segment (a
//! record never spans two). Whole segments are deleted by [`ChangeLog::retire_through`] once a
//! durable snapshot covers them; the newest segment is never deleted.
//!
//! # Bytes, exactly (all integers little-endian)
//!
//! ```text
//! segment  = header record*
//! header   = "PMTDLOG1" (8 bytes) · first_seq u64                          16 bytes
//! record   = len u32 · seq u64 · checksum (16 bytes) · payload (len bytes)  28 + len bytes
//! checksum = blake3(len as 4 LE bytes ‖ seq as 8 LE bytes ‖ payload)[..16]
//! ```
//!
//! `len` ≤ [`LOG_RECORD_BYTES_MAX`]. The header's `first_seq` equals the one in the file name
//! and the first record's seq; each record's seq is the previous one's plus 1, across segments
//! too. The first record of an empty log may carry any seq ≥ 1. Every byte is checked on every
//! read: length, seq continuity, checksum, header against name.
//!
//! # Crash safety
//!
//! - **Acknowledged means durable.** [`ChangeLog::commit`] writes the buffered records,
//!   `fdatasync`s the segment, and `fsync`s the directory if a segment was created since the
//!   last commit. Only then may the caller acknowledge.
//! - **A crash only damages the tail.** Records go to a segment in order and no byte is ever
//!   overwritten, so a crash at any moment leaves every committed record intact followed, at the
//!   end of the newest segment, by part of what the writer was still writing: a prefix of it,
//!   zeros where the file grew but the data did not reach the disk, or garbage.
//! - **Rolling keeps that true across files.** Before a new segment is created the old one is
//!   written out and `fdatasync`ed (and the directory `fsync`ed if the old one was itself new),
//!   so no byte reaches a newer segment while an older one may still be incomplete.
//! - **Recovery ([`ChangeLog::open`]) cuts the torn tail and nothing else.** At the first
//!   boundary in the newest segment where no valid record is, it looks at every later byte
//!   offset for a valid record (complete, a plausible seq, checksum holds). If there is none,
//!   the rest is a torn tail: truncated (`set_len` + `fsync`) and reported in [`Recovery`]. If
//!   there is one, damage sits in the middle of the log: [`LogError::Corrupt`], and nothing is
//!   dropped. So is any defect in an older segment, a wrong header, a gap in seq between
//!   segments, and a record whose checksum holds but whose seq is wrong (no torn write makes
//!   one). A torn tail can only hold unacknowledged records; a valid record is never truncated.
//!   The price of never guessing: if a disk persisted pages of an uncommitted write out of
//!   order (a later page without an earlier one), recovery refuses to open rather than drop the
//!   later, never-acknowledged records; an operator decides.
//! - **A failed write or fsync poisons the writer.** After one, what reached the disk is
//!   unknown (Linux may even drop the dirty pages), so every later call returns
//!   [`LogError::Poisoned`]; the process restarts and recovery decides from the file.
//! - **Readers consume only what recovery keeps.** A reader reads a record only once it is
//!   complete and its checksum holds, and treats a bad tail of the newest segment exactly as
//!   recovery would, except that it waits there instead of truncating (the writer may be
//!   mid-write, or down). Since recovery never truncates a valid record, a reader never has
//!   consumed bytes that a restarted writer rewrites: it simply reads the new records.
//!
//! # One writer
//!
//! [`ChangeLog::open`] takes an exclusive advisory lock on `DIR/LOCK` (`File::try_lock`, an
//! `flock` on Linux) and holds it while the `ChangeLog` lives: a second writer on the same
//! directory gets [`LogError::Locked`]. The kernel drops the lock when the process dies, so a
//! killed writer never leaves a stale one. Readers take no lock.

mod format;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::limits::{LOG_RECORD_BYTES_MAX, LOG_SEGMENT_BYTES_MAX};

pub use reader::LogReader;
pub use writer::{ChangeLog, Recovery};

/// One record as a reader hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// Settings the writer and its readers must agree on. [`Default`] is what production uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// A segment that has passed this size gets no more records; the next starts a new one.
    /// Readers use it to know when to look for the next segment, so give them the writer's.
    pub segment_bytes_max: u64,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            segment_bytes_max: LOG_SEGMENT_BYTES_MAX,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("change log I/O on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("change log {} is corrupt at byte {offset}: {why}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        why: String,
    },
    #[error("change log record seq {got} refused: the next seq must be {expected}")]
    Sequence { expected: u64, got: u64 },
    #[error("change log record of {bytes} bytes exceeds the {LOG_RECORD_BYTES_MAX}-byte limit")]
    RecordTooLarge { bytes: usize },
    #[error(
        "change log records from seq {wanted} are retired: the log now starts at seq \
         {first_available}"
    )]
    Retired { wanted: u64, first_available: u64 },
    #[error("change log writer is poisoned by an earlier failed write or fsync; reopen it")]
    Poisoned,
    #[error("another process holds the change log's writer lock")]
    Locked,
}

impl LogError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
        move |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn corrupt(path: &Path, offset: u64, why: impl Into<String>) -> LogError {
        LogError::Corrupt {
            path: path.to_path_buf(),
            offset,
            why: why.into(),
        }
    }
}

/// The segment files in `dir`, by first seq. Other file names are ignored.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let entry = entry.map_err(LogError::io(dir))?;
        if let Some(first_seq) = format::parse_segment_file_name(&entry.file_name()) {
            segments.push((first_seq, entry.path()));
        }
    }
    segments.sort_unstable_by_key(|&(first_seq, _)| first_seq);
    Ok(segments)
}

/// `fsync`s a directory, making the creation and removal of its entries durable.
fn sync_dir(dir: &Path) -> Result<(), LogError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LogError::io(dir))
}
