//! Compaction: the previous snapshot plus what changed since → a new snapshot file, published
//! by rename and `CURRENT` (see [`snapshot::build::publish_with`]); then the old files go.
//!
//! The committer takes a [`Compaction`] (a copy of the changed permits and event ids at one
//! sequence number, cheap next to the build) and goes on accepting events while another thread
//! builds. Once the new snapshot is durable, [`super::Store::rebase`] builds on it and drops
//! what it covers. A crash at any point leaves either the old `CURRENT` with a complete log, or
//! the new one: the log is retired only after the new snapshot is durable.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::domain::{Date, Permit};
use crate::snapshot::build::{publish_with, BuildStats, Rendering};
use crate::snapshot::Snapshot;

use super::{open_current, Store, StoreError};

/// What to keep once a new snapshot is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Snapshot files kept, the newest included (at least 1). Log segments are kept back to the
    /// oldest of them, so a resolver still on it can catch up.
    pub snapshots_kept: usize,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { snapshots_kept: 2 }
    }
}

/// When the writer compacts on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// Accepted events since the last snapshot.
    pub events: u64,
    /// Time since the last snapshot, provided at least one event arrived.
    pub interval: Duration,
}

impl Default for Trigger {
    fn default() -> Trigger {
        Trigger {
            events: 200_000,
            interval: Duration::from_secs(600),
        }
    }
}

/// A compaction's input, taken from the store at one sequence number.
pub struct Compaction {
    pub data_dir: PathBuf,
    pub base: Option<Arc<Snapshot>>,
    pub changed: Vec<Permit>,
    pub event_ids: Vec<u128>,
    pub sequence: u64,
}

impl Compaction {
    /// Copies what the store changed since its snapshot.
    pub fn take(store: &Store) -> Compaction {
        Compaction {
            data_dir: store.data_dir().to_owned(),
            base: store.snapshot().cloned(),
            changed: store.registry().changed().to_vec(),
            event_ids: store.registry().event_ids().collect(),
            sequence: store.sequence(),
        }
    }

    /// Builds and publishes the new snapshot, and opens it (verified) for the store to rebase on.
    ///
    /// # Errors
    /// When building, writing or verifying fails; `CURRENT` then still names the old snapshot.
    pub fn run(self, catalog: &Catalog, as_of: Date) -> Result<Compacted, StoreError> {
        let started = Instant::now();
        let Compaction {
            data_dir,
            base,
            changed,
            mut event_ids,
            sequence,
        } = self;
        let mut permits = merge(base.as_deref(), changed);
        if let Some(base) = &base {
            event_ids.extend(base.event_ids());
        }
        let rendering = Rendering { catalog, as_of };
        let built =
            publish_with(&data_dir, &permits, sequence, &event_ids, &rendering).map_err(|e| {
                StoreError::Snapshot {
                    path: data_dir.clone(),
                    why: e.to_string(),
                }
            })?;
        permits.clear();
        let (path, stats) = built;
        let snapshot = open_current(&data_dir)?.ok_or_else(|| StoreError::Snapshot {
            path: path.clone(),
            why: "CURRENT vanished after publishing".into(),
        })?;
        Ok(Compacted {
            path,
            stats,
            snapshot,
            elapsed: started.elapsed(),
        })
    }
}

pub struct Compacted {
    pub path: PathBuf,
    pub stats: BuildStats,
    pub snapshot: Snapshot,
    pub elapsed: Duration,
}

/// The base's permits with the changed ones in their place, sorted by number.
fn merge(base: Option<&Snapshot>, changed: Vec<Permit>) -> Vec<Permit> {
    let changed_keys: std::collections::HashSet<u64> =
        changed.iter().map(|p| p.number.key()).collect();
    let mut permits = Vec::with_capacity(base.map_or(0, |b| b.len() as usize) + changed.len());
    if let Some(base) = base {
        for archived in base.iter() {
            let key = archived.number.key();
            if changed_keys.contains(&key) {
                continue;
            }
            let permit = rkyv::deserialize::<Permit, rkyv::rancor::Error>(archived)
                .expect("a verified snapshot's records deserialise");
            permits.push(permit);
        }
    }
    permits.extend(changed);
    permits.sort_unstable_by_key(|p| p.number.key());
    permits
}

/// Removes snapshot files beyond `retention` and the log segments no kept snapshot needs.
pub(super) fn retire(store: &mut Store, retention: &Retention) -> Result<(), StoreError> {
    let data_dir = store.data_dir().to_owned();
    let mut snapshots = snapshot_files(&data_dir)?;
    snapshots.sort();
    let keep = retention.snapshots_kept.max(1);
    let current = store.snapshot().map(|s| s.header().sequence);
    while snapshots.len() > keep {
        let (sequence, path) = snapshots.remove(0);
        if Some(sequence) == current {
            continue;
        }
        std::fs::remove_file(&path).map_err(|source| StoreError::Io { path, source })?;
    }
    if let Some(&(oldest_kept, _)) = snapshots.first() {
        store.log_mut().retire_through(oldest_kept)?;
    }
    Ok(())
}

/// `(sequence, path)` of every `snapshot-<seq>.rkyv` in `data_dir`.
fn snapshot_files(data_dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let io = |source| StoreError::Io {
        path: data_dir.to_owned(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(data_dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(digits) = name
            .strip_prefix("snapshot-")
            .and_then(|rest| rest.strip_suffix(".rkyv"))
        else {
            continue;
        };
        if let Ok(sequence) = digits.parse::<u64>() {
            found.push((sequence, entry.path()));
        }
    }
    Ok(found)
}
