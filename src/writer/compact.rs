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
use crate::domain::permit::ArchivedPermit;
use crate::domain::{Date, Permit};
use crate::limits::SNAPSHOT_SHARD_PERMITS_MAX;
use crate::snapshot::build::{publish_runs, BuildStats, Rendering};
use crate::snapshot::Snapshot;
use crate::trust::seal::{Sealer, ATTESTATION_RENEW_AGE};

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
    /// Change-log records (accepted events and seal notes) since the last snapshot.
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
    /// Renews attestations older than `renew_age` (and seals unsealed permits) while merging.
    pub sealer: Arc<Sealer>,
    /// [`ATTESTATION_RENEW_AGE`] by default;
    /// [`crate::trust::seal::ATTESTATION_RENEW_BATCH_AGE`] for a compaction
    /// started because renewal fell due.
    pub renew_age: time::Duration,
}

impl Compaction {
    /// Moves what the store changed since its snapshot out of it, for a process that compacts
    /// and stops (`permitd feed apply`): no copy of every changed permit.
    ///
    /// # Panics
    /// When the store holds records not yet committed: a snapshot must never cover a record
    /// the log could still lose.
    pub fn take_all(store: Store) -> Compaction {
        assert!(store.is_durable(), "compacting records not yet committed");
        let data_dir = store.data_dir().to_owned();
        let base = store.snapshot().cloned();
        let sequence = store.sequence();
        let sealer = store.sealer().clone();
        let (changed, event_ids) = store.into_changes();
        Compaction {
            data_dir,
            base,
            changed,
            event_ids,
            sequence,
            sealer,
            renew_age: ATTESTATION_RENEW_AGE,
        }
    }

    /// Copies what the store changed since its snapshot.
    ///
    /// # Panics
    /// As [`Compaction::take_all`].
    pub fn take(store: &Store) -> Compaction {
        assert!(store.is_durable(), "compacting records not yet committed");
        Compaction {
            data_dir: store.data_dir().to_owned(),
            base: store.snapshot().cloned(),
            changed: store.registry().changed().to_vec(),
            event_ids: store.registry().event_ids().collect(),
            sequence: store.sequence(),
            sealer: store.sealer().clone(),
            renew_age: ATTESTATION_RENEW_AGE,
        }
    }

    /// Builds and publishes the new snapshot, and opens it (verified) for the store to rebase on.
    /// Answers are rendered for `as_of`; attestations due at `now` are signed again.
    ///
    /// # Errors
    /// When building, writing or verifying fails; `CURRENT` then still names the old snapshot.
    pub fn run(
        self,
        catalog: &Catalog,
        as_of: Date,
        now: time::OffsetDateTime,
    ) -> Result<Compacted, StoreError> {
        let started = Instant::now();
        let Compaction {
            data_dir,
            base,
            changed,
            mut event_ids,
            sequence,
            sealer,
            renew_age,
        } = self;
        if let Some(base) = &base {
            event_ids.extend(base.event_ids());
        }
        let rendering = Rendering { catalog, as_of };
        let mut runs = Merge::new(base.as_deref(), changed);
        let mut renewed = 0usize;
        let built = publish_runs(&data_dir, sequence, &event_ids, &rendering, &mut || {
            let Some(mut run) = runs.next_run() else {
                return Ok(None);
            };
            renewed += sealer.renew_all_older_than(&mut run, now, renew_age);
            Ok(Some(run))
        })
        .map_err(|e| StoreError::Snapshot {
            path: data_dir.clone(),
            why: e.to_string(),
        })?;
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
            renewed,
        })
    }
}

pub struct Compacted {
    pub path: PathBuf,
    pub stats: BuildStats,
    pub snapshot: Snapshot,
    pub elapsed: Duration,
    /// Attestations signed again (or permits sealed for the first time).
    pub renewed: usize,
}

/// The base's permits with the changed ones in their place, in number order, handed out in
/// runs of one shard: the base is read (and deserialised) a run at a time, so a compaction of
/// 10M permits holds two runs in memory, not ten million permits.
struct Merge<'a> {
    base: Option<Box<dyn Iterator<Item = &'a ArchivedPermit> + 'a>>,
    next_base: Option<&'a ArchivedPermit>,
    changed: std::iter::Peekable<std::vec::IntoIter<Permit>>,
}

impl<'a> Merge<'a> {
    fn new(base: Option<&'a Snapshot>, mut changed: Vec<Permit>) -> Merge<'a> {
        changed.sort_unstable_by_key(|p| p.number.key());
        let mut base = base
            .map(|b| -> Box<dyn Iterator<Item = &'a ArchivedPermit> + 'a> { Box::new(b.iter()) });
        let next_base = base.as_mut().and_then(|b| b.next());
        Merge {
            base,
            next_base,
            changed: changed.into_iter().peekable(),
        }
    }

    fn next_permit(&mut self) -> Option<Permit> {
        let base_key = self.next_base.map(|p| p.number.key());
        let changed_key = self.changed.peek().map(|p| p.number.key());
        let take_changed = match (base_key, changed_key) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(b), Some(c)) => c <= b,
        };
        if take_changed {
            if base_key == changed_key {
                self.advance_base(); // replaced by its changed state
            }
            return self.changed.next();
        }
        let archived = self.next_base.expect("checked above");
        self.advance_base();
        Some(
            rkyv::deserialize::<Permit, rkyv::rancor::Error>(archived)
                .expect("a verified snapshot's records deserialise"),
        )
    }

    fn advance_base(&mut self) {
        self.next_base = self.base.as_mut().and_then(|b| b.next());
    }

    fn next_run(&mut self) -> Option<Vec<Permit>> {
        let mut run = Vec::with_capacity(SNAPSHOT_SHARD_PERMITS_MAX.min(1 << 16));
        while run.len() < SNAPSHOT_SHARD_PERMITS_MAX {
            match self.next_permit() {
                Some(permit) => run.push(permit),
                None => break,
            }
        }
        (!run.is_empty()).then_some(run)
    }
}

/// Removes snapshot files beyond `retention` and the log segments no kept snapshot needs.
pub(super) fn retire(store: &mut Store, retention: &Retention) -> Result<(), StoreError> {
    let data_dir = store.data_dir().to_owned();
    let current = store.snapshot().map(|s| s.header().sequence);
    retire_files(&data_dir, current, store.log_mut(), retention)
}

/// [`retire`] by parts: the data directory, the sequence of the snapshot in use (never
/// removed), and the log (its writer).
pub fn retire_files(
    data_dir: &Path,
    current: Option<u64>,
    log: &mut crate::changelog::ChangeLog,
    retention: &Retention,
) -> Result<(), StoreError> {
    let mut snapshots = snapshot_files(data_dir)?;
    snapshots.sort();
    // The empty snapshot a fresh directory starts with (sequence 0) only bridges the time until
    // the first compaction: once a newer one exists it is not kept, or the whole log would be.
    if snapshots.len() > 1 && snapshots[0].0 == 0 && current != Some(0) {
        let (_, path) = snapshots.remove(0);
        std::fs::remove_file(&path).map_err(|source| StoreError::Io { path, source })?;
    }
    let keep = retention.snapshots_kept.max(1);
    while snapshots.len() > keep {
        let (sequence, path) = snapshots.remove(0);
        if Some(sequence) == current {
            continue;
        }
        std::fs::remove_file(&path).map_err(|source| StoreError::Io { path, source })?;
    }
    if let Some(&(oldest_kept, _)) = snapshots.first() {
        log.retire_through(oldest_kept)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::keys::SigningKey;
    use crate::trust::seal::{renewal_due, ATTESTATION_RENEW_AGE};

    fn catalog() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| Catalog::embedded().unwrap())
    }

    /// A store in `dir` holding `count` generated permits, each sealed by the writer.
    fn store_with(dir: &Path, count: u64) -> Store {
        let sealer = Arc::new(Sealer::new(SigningKey::from_seed(&[5; 32])));
        let mut store = Store::open(dir, catalog(), sealer).unwrap();
        let mut feed = Vec::new();
        let options = crate::gen::GenOptions {
            permits: count,
            seed: 4,
            as_of: Date::from_ymd(2026, 6, 1).unwrap(),
        };
        crate::gen::generate(catalog(), &options, &mut feed, &mut |_| {}).unwrap();
        let report = super::super::import(&mut store, &feed[..], &mut |_| {}).unwrap();
        assert_eq!(report.rejected, 0);
        store
    }

    #[test]
    fn compaction_renews_only_attestations_past_their_renewal_age() {
        // Sealed at import; a compaction soon after signs nothing again, one 12 h later signs
        // every attestation again (the QR payloads stay: same versions), and the store learns
        // when the next renewal falls due.
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), 50);
        let sealed_at: std::collections::HashMap<u64, _> = store
            .registry()
            .changed()
            .iter()
            .map(|p| {
                let seal = p.seal.clone().expect("the writer seals every state");
                (p.number.key(), seal)
            })
            .collect();
        let now = time::OffsetDateTime::now_utc();
        let soon = Compaction::take(&store)
            .run(catalog(), Date::today_in_beijing(), now)
            .unwrap();
        assert_eq!(soon.renewed, 0);
        let earliest = sealed_at.values().map(|s| s.attested_at).min().unwrap();
        assert_eq!(
            renewal_due(soon.snapshot.header()),
            Some(earliest + ATTESTATION_RENEW_AGE.whole_seconds())
        );

        let later = now + ATTESTATION_RENEW_AGE + time::Duration::minutes(1);
        let renewed = Compaction::take(&store)
            .run(catalog(), Date::today_in_beijing(), later)
            .unwrap();
        assert_eq!(renewed.renewed, 50);
        assert_eq!(renewed.snapshot.len(), 50);
        for permit in renewed.snapshot.iter() {
            let before = &sealed_at[&permit.number.key()];
            let seal = permit.seal.as_ref().unwrap();
            assert_eq!(seal.attested_at.to_native(), later.unix_timestamp());
            assert_eq!(
                seal.qr.as_ref(),
                before.qr.as_ref(),
                "the printed code stays"
            );
        }
        assert_eq!(
            renewal_due(renewed.snapshot.header()),
            Some(later.unix_timestamp() + ATTESTATION_RENEW_AGE.whole_seconds())
        );
    }
}

#[cfg(test)]
mod group_tests {
    use super::*;
    use crate::event::{Change, Event, Timestamp, SCHEMA_VERSION};
    use crate::trust::keys::SigningKey;

    fn catalog() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| Catalog::embedded().unwrap())
    }

    fn sealer() -> Arc<Sealer> {
        Arc::new(Sealer::new(SigningKey::from_seed(&[6; 32])))
    }

    /// A store in `dir`, and the events of `permits` generated permits, one a line.
    fn store_and_feed(dir: &Path, permits: u64) -> (Store, Vec<u8>) {
        let store = Store::open(dir, catalog(), sealer()).unwrap();
        let mut feed = Vec::new();
        let options = crate::gen::GenOptions {
            permits,
            seed: 9,
            as_of: Date::from_ymd(2026, 6, 1).unwrap(),
        };
        crate::gen::generate(catalog(), &options, &mut feed, &mut |_| {}).unwrap();
        (store, feed)
    }

    fn submit_all(store: &mut Store, feed: &[u8]) {
        for line in feed.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            store.submit(serde_json::from_slice(line).unwrap()).unwrap();
        }
    }

    #[test]
    fn seals_follow_the_acknowledgement_and_a_printed_code_survives_its_reissue() {
        // Events are durable and current before they are sealed; a seal lands only on the state
        // it was signed for; version 1's code, once signed, stays on its superseded entry; and
        // the log replays to the same.
        let dir = tempfile::tempdir().unwrap();
        let (mut store, feed) = store_and_feed(dir.path(), 1);
        let first_line = feed.split(|&b| b == b'\n').next().unwrap();
        let issued: Event = serde_json::from_slice(first_line).unwrap();
        let Change::PermitIssued { permit } = &issued.change else {
            panic!("the first generated event issues a permit")
        };
        let mut next = permit.clone();
        next.version = 2;
        next.operator_name.push_str("（更名）");
        let reissued = Event {
            schema: SCHEMA_VERSION,
            id: "reissue-1".into(),
            at: Timestamp::now(),
            department: "北京市房山区政务服务局".into(),
            change: Change::PermitReissued { permit: next },
        };
        let number = permit.number;
        store.submit(issued).unwrap();
        store.commit().unwrap();
        // Durable and current, not yet attested.
        let unsealed = store.registry().get(&number).unwrap().into_owned();
        assert_eq!((unsealed.sequence, unsealed.seal.as_ref()), (1, None));
        let mut early = store.take_unsealed();
        assert_eq!(early.len(), 1);
        // Signed for sequence 1 while a reissue (sequence 2) is accepted: that seal is dropped.
        store
            .sealer()
            .seal_all(&mut early, time::OffsetDateTime::now_utc());
        let mut next_event = reissued.clone();
        store.submit(reissued).unwrap();
        store.commit().unwrap();
        assert_eq!(
            store.attach_seals(early.clone()).unwrap(),
            0,
            "a seal of a state no longer current"
        );
        assert_eq!(store.seal_unsealed().unwrap(), 1);
        let current = store.registry().get(&number).unwrap().into_owned();
        assert_eq!(current.version, 2);
        assert_eq!(current.attested().map(|s| s.sequence), Some(2));
        // Version 1 got its code before the reissue superseded it (a compaction or the stage
        // signing it gives the same bytes), so a code of it shown meanwhile scans superseded.
        let v1 = early[0].seal.as_ref().and_then(|s| s.qr);
        assert!(v1.is_some());
        assert_eq!(current.superseded_versions[0].qr, v1);
        assert_eq!(
            store.sequence(),
            3,
            "events and seal notes share the sequence"
        );

        // A version sealed, then reissued: its code moves to the superseded entry.
        let mut third = match &mut next_event.change {
            Change::PermitReissued { permit } => permit.clone(),
            _ => unreachable!(),
        };
        third.version = 3;
        third.operator_name.push_str("（二次更名）");
        next_event.id = "reissue-2".into();
        next_event.change = Change::PermitReissued { permit: third };
        let v2 = current.seal.as_ref().and_then(|s| s.qr).unwrap();
        assert_eq!(crate::trust::seal::payload_version(&v2), Some(2));
        store.submit(next_event).unwrap();
        store.commit().unwrap();
        assert_eq!(store.seal_unsealed().unwrap(), 1);
        let current = store.registry().get(&number).unwrap().into_owned();
        assert_eq!(current.version, 3);
        assert_eq!(current.superseded_versions[1].qr, Some(v2));
        let v3 = current.seal.as_ref().and_then(|s| s.qr).unwrap();
        assert_eq!(crate::trust::seal::payload_version(&v3), Some(3));

        // The log says the same: replayed, the store holds the same state and seals, and has
        // nothing left to seal.
        drop(store);
        let mut reopened = Store::open(dir.path(), catalog(), sealer()).unwrap();
        let replayed = reopened.registry().get(&number).unwrap().into_owned();
        assert_eq!(replayed, current);
        assert!(reopened.take_unsealed().is_empty());
    }

    #[test]
    #[should_panic(expected = "compacting records not yet committed")]
    fn a_compaction_never_covers_a_record_not_yet_committed() {
        // A seal note appended and not committed: a snapshot covering it could outlive it.
        let dir = tempfile::tempdir().unwrap();
        let (mut store, feed) = store_and_feed(dir.path(), 2);
        submit_all(&mut store, &feed);
        store.commit().unwrap();
        let mut states = store.take_unsealed();
        store
            .sealer()
            .seal_all(&mut states, time::OffsetDateTime::now_utc());
        assert_eq!(store.attach_seals(states).unwrap(), 2);
        assert!(!store.is_durable());
        let _ = Compaction::take(&store);
    }

    #[test]
    fn a_state_whose_seal_was_lost_is_sealed_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, feed) = store_and_feed(dir.path(), 5);
        submit_all(&mut store, &feed);
        store.commit().unwrap();
        let acknowledged = store.sequence();
        // The writer dies before any seal note is written.
        drop(store);
        let mut reopened = Store::open(dir.path(), catalog(), sealer()).unwrap();
        assert_eq!(reopened.sequence(), acknowledged);
        let waiting = reopened.take_unsealed();
        assert_eq!(waiting.len(), reopened.registry().changed().len());
        assert!(waiting.iter().all(|p| p.attested().is_none()));
        // Dies again before sealing: the next start finds the same, and seals it in place.
        drop(reopened);
        let mut again = Store::open(dir.path(), catalog(), sealer()).unwrap();
        assert_eq!(again.seal_unsealed().unwrap(), waiting.len());
        assert!(again
            .registry()
            .changed()
            .iter()
            .all(|p| p.attested().is_some()));
        drop(again);
        let mut last = Store::open(dir.path(), catalog(), sealer()).unwrap();
        assert!(
            last.take_unsealed().is_empty(),
            "the seal notes were replayed"
        );
    }
}
