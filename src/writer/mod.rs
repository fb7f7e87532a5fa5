//! The writer path: the one process that accepts change-feed events, validates them, gives them
//! sequence numbers, makes them durable in the change log, and compacts the log into snapshots.
//!
//! ```text
//! POST /v1/feed ─▶ queue (bounded) ─▶ committer thread: Registry::apply → log append … fsync ─▶ ack
//!                                         │ every COMPACT_EVENTS or COMPACT_INTERVAL
//!                                         ▼
//!                       compaction thread: snapshot + changed permits → snapshot-<seq>.rkyv, CURRENT
//! ```
//!
//! - [`Store`] is the state: the current snapshot (mapped), a [`Registry`] holding what changed
//!   since, and the [`ChangeLog`]. It is used by the writer service ([`service`]) and by
//!   `permitd feed apply` alike, so a bulk import and a live feed take the same path.
//! - A log record is one accepted event and the permit state it left ([`LogEntry`]): readers
//!   (resolvers, recovery) put the state back without re-validating.
//! - Nothing is acknowledged before the record is fsynced ([`Store::commit`]).

pub mod compact;
pub mod expiry;
pub mod service;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::changelog::{ChangeLog, LogError, LogReader, LogRecord, Recovery};
use crate::domain::permit::Seal;
use crate::domain::Permit;
use crate::event::{Change, Event};
use crate::registry::{event_id_hash, Applied, PermitSource, Registry};
use crate::snapshot::{self, Snapshot, SnapshotFile};
use crate::trust::seal::Sealer;

/// The change log's directory inside a data directory.
pub const LOG_DIR: &str = "log";

/// One change-log record's payload: the accepted event and the permit as it left it, sealed
/// (signed QR payload and attestation, see [`crate::trust::seal`]). For a `permit_issued` event
/// the permit is the event's own (with the record's sequence), so it is not written twice:
/// `permit` is absent and `seal` carries its seal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogEntry {
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit: Option<Permit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<Seal>,
}

impl LogEntry {
    /// The permit as the event left it.
    ///
    /// # Errors
    /// When a record of another kind than `permit_issued` carries no permit.
    pub fn into_permit(self, sequence: u64) -> Result<Permit, StoreError> {
        match (self.permit, self.event.change) {
            (Some(permit), _) => Ok(permit),
            (None, Change::PermitIssued { mut permit }) => {
                permit.sequence = sequence;
                permit.seal = self.seal;
                Ok(permit)
            }
            (None, change) => Err(StoreError::Record {
                sequence,
                why: format!("a {} record carries no permit", change.kind()),
            }),
        }
    }

    /// Reads a record's payload.
    ///
    /// # Errors
    /// When the payload is not a log entry (the checksum held, so this is a bug or a foreign
    /// file), naming the sequence.
    pub fn decode(record: &LogRecord) -> Result<LogEntry, StoreError> {
        serde_json::from_slice(&record.payload).map_err(|e| StoreError::Record {
            sequence: record.seq,
            why: e.to_string(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("change log: {0}")]
    Log(#[from] LogError),
    #[error("snapshot {path}: {why}")]
    Snapshot { path: PathBuf, why: String },
    #[error("change log record {sequence} is not a log entry: {why}")]
    Record { sequence: u64, why: String },
    #[error(
        "the change log starts after sequence {first} but the snapshot covers only {snapshot}: \
         records in between are missing"
    )]
    Gap { snapshot: u64, first: u64 },
    #[error("{0}")]
    Replay(String),
    #[error("I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What happened to one submitted line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted { sequence: u64 },
    Replay,
    Rejected(String),
}

/// The outcome of one batch, as acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchReport {
    pub accepted: u64,
    pub replays: u64,
    pub rejected: u64,
    /// Sequence numbers given to this batch's accepted events (none accepted: both `None`).
    pub first_sequence: Option<u64>,
    pub last_sequence: Option<u64>,
    /// Each rejected line (1-based within the batch) with its event id when one was read.
    pub rejections: Vec<RejectionReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectionReport {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub reason: String,
}

impl BatchReport {
    pub fn record(&mut self, line: u64, id: Option<&str>, outcome: &Outcome) {
        match outcome {
            Outcome::Accepted { sequence } => {
                self.accepted += 1;
                self.first_sequence.get_or_insert(*sequence);
                self.last_sequence = Some(*sequence);
            }
            Outcome::Replay => self.replays += 1,
            Outcome::Rejected(reason) => {
                self.rejected += 1;
                if self.rejections.len() < crate::feed::REJECTIONS_KEPT_MAX {
                    self.rejections.push(RejectionReport {
                        line,
                        id: id.map(str::to_owned),
                        reason: reason.clone(),
                    });
                }
            }
        }
    }
}

/// The writer's state. Single-threaded: the committer owns it.
pub struct Store {
    data_dir: PathBuf,
    catalog: &'static Catalog,
    snapshot: Option<Arc<Snapshot>>,
    registry: Registry<'static>,
    log: ChangeLog,
    recovery: Recovery,
    /// Accepted since the last [`Store::commit`], waiting to be sealed and appended.
    pending: Vec<Pending>,
    /// Seals every accepted permit state (the writer is the one process holding the key).
    sealer: Arc<Sealer>,
}

/// An accepted event waiting for [`Store::commit`]: its record so far (the event) and the permit
/// as it left it, to be sealed.
struct Pending {
    sequence: u64,
    issued: bool,
    record: Vec<u8>,
    permit: Permit,
}

/// The snapshot `CURRENT` names in `data_dir`, verified; `None` when there is none yet.
///
/// # Errors
/// When `CURRENT` exists but its snapshot does not open or verify.
pub fn open_current(data_dir: &Path) -> Result<Option<Snapshot>, StoreError> {
    let path = match snapshot::current_path(data_dir) {
        Ok(path) => path,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::Io {
                path: data_dir.join(snapshot::build::CURRENT_FILE),
                source: e,
            })
        }
    };
    let fail = |why: String| StoreError::Snapshot {
        path: path.clone(),
        why,
    };
    let file = SnapshotFile::open(&path).map_err(|e| fail(e.to_string()))?;
    file.verify().map(Some).map_err(|e| fail(e.to_string()))
}

impl Store {
    /// Opens the data directory: the current snapshot, then every log record after it (a torn
    /// tail is cut first, see [`ChangeLog::open`]). Creates the directory and an empty snapshot
    /// when there is none, so resolvers always have one to map.
    ///
    /// # Errors
    /// When the snapshot or the log cannot be read, or they do not fit together.
    pub fn open(
        data_dir: &Path,
        catalog: &'static Catalog,
        sealer: Arc<Sealer>,
    ) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_owned(),
            source,
        })?;
        let (log, recovery) = ChangeLog::open(&data_dir.join(LOG_DIR))?;
        let snapshot = match open_current(data_dir)? {
            Some(snapshot) => snapshot,
            None => {
                // A fresh directory: an empty snapshot at sequence 0 for resolvers to map.
                snapshot::publish(data_dir, &[], 0).map_err(|e| StoreError::Snapshot {
                    path: data_dir.to_owned(),
                    why: e.to_string(),
                })?;
                open_current(data_dir)?.expect("just published")
            }
        };
        let snapshot = Arc::new(snapshot);
        let base: Arc<dyn PermitSource> = snapshot.clone();
        let registry = Registry::on(catalog, base);
        let mut store = Store {
            data_dir: data_dir.to_owned(),
            catalog,
            snapshot: Some(snapshot),
            registry,
            log,
            recovery,
            pending: Vec::new(),
            sealer,
        };
        store.replay()?;
        Ok(store)
    }

    /// Puts back every log record after the snapshot.
    fn replay(&mut self) -> Result<(), StoreError> {
        let covered = self.registry.sequence();
        if let Some(last) = self.log.last_seq() {
            if last <= covered {
                return Ok(());
            }
        } else {
            return Ok(());
        }
        let mut reader = match LogReader::open(&self.data_dir.join(LOG_DIR), covered) {
            Ok(reader) => reader,
            Err(LogError::Retired {
                first_available, ..
            }) => {
                return Err(StoreError::Gap {
                    snapshot: covered,
                    first: first_available,
                })
            }
            Err(e) => return Err(e.into()),
        };
        let mut records = Vec::new();
        loop {
            records.clear();
            if reader.read_available(4096, &mut records)? == 0 {
                break;
            }
            for record in &records {
                let entry = LogEntry::decode(record)?;
                let id = event_id_hash(&entry.event.id);
                let permit = entry.into_permit(record.seq)?;
                self.registry
                    .restore(record.seq, id, permit)
                    .map_err(StoreError::Replay)?;
            }
        }
        Ok(())
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn catalog(&self) -> &'static Catalog {
        self.catalog
    }

    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The last accepted sequence number (durable once [`Store::commit`] returned).
    pub fn sequence(&self) -> u64 {
        self.registry.sequence()
    }

    /// The snapshot the registry builds on.
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.snapshot.as_ref()
    }

    pub fn registry(&self) -> &Registry<'static> {
        &self.registry
    }

    /// Accepted events since the snapshot.
    pub fn events_since_snapshot(&self) -> u64 {
        let covered = self.snapshot.as_ref().map_or(0, |s| s.header().sequence);
        self.sequence() - covered
    }

    /// Validates and applies `event`; an accepted one waits to be sealed and appended to the
    /// log by [`Store::commit`], which must return before it is acknowledged.
    ///
    /// # Errors
    /// None today (a rejected event is an [`Outcome`]); kept for the log's errors.
    pub fn submit(&mut self, event: Event) -> Result<Outcome, StoreError> {
        let number = event.change.number();
        let issued = matches!(event.change, Change::PermitIssued { .. });
        // The record is `{"event":…,"permit":…}` (see `LogEntry`). The event is encoded before
        // `apply` consumes it (no copy of it is kept); the bytes are dropped if it is refused.
        let mut record = Vec::with_capacity(2048);
        record.extend_from_slice(b"{\"event\":");
        serde_json::to_writer(&mut record, &event).expect("events serialise");
        match self.registry.apply(event) {
            Ok(Applied::Replay) => Ok(Outcome::Replay),
            Err(rejection) => Ok(Outcome::Rejected(rejection.to_string())),
            Ok(Applied::Accepted { sequence }) => {
                let permit = self
                    .registry
                    .get(&number)
                    .expect("just applied")
                    .into_owned();
                self.pending.push(Pending {
                    sequence,
                    issued,
                    record,
                    permit,
                });
                Ok(Outcome::Accepted { sequence })
            }
        }
    }

    /// Seals every submitted event's permit state (on every core: signing is the costly part of
    /// an event), appends the records in sequence order and makes them durable with one fsync
    /// (group commit).
    ///
    /// # Errors
    /// The log's; it then refuses further appends and the process must restart (recovery
    /// decides what was durable).
    pub fn commit(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.pending);
        let mut permits: Vec<&mut Permit> = pending.iter_mut().map(|p| &mut p.permit).collect();
        self.sealer
            .seal_all(&mut permits, time::OffsetDateTime::now_utc());
        drop(permits);
        // A version issued and superseded within this group: its code was signed here, after
        // the later states were taken, so they learn it from here.
        let mut signed_here = std::collections::HashMap::new();
        for p in &mut pending {
            let key = p.permit.number.key();
            if let Some(qr) = p.permit.seal.as_ref().and_then(|s| s.qr) {
                signed_here.insert((key, p.permit.version), qr);
            }
            for old in &mut p.permit.superseded_versions {
                if old.qr.is_none() {
                    old.qr = signed_here.get(&(key, old.version)).copied();
                }
            }
            // The registry's state is the last event's: it keeps that event's seal.
            if let Some(current) = self.registry.changed_mut(&p.permit.number) {
                if current.sequence == p.sequence {
                    current.seal.clone_from(&p.permit.seal);
                    current
                        .superseded_versions
                        .clone_from(&p.permit.superseded_versions);
                }
            }
            if p.issued {
                p.record.extend_from_slice(b",\"seal\":");
                serde_json::to_writer(&mut p.record, &p.permit.seal).expect("seals serialise");
            } else {
                p.record.extend_from_slice(b",\"permit\":");
                serde_json::to_writer(&mut p.record, &p.permit).expect("permits serialise");
            }
            p.record.push(b'}');
            self.log.append(p.sequence, &p.record)?;
        }
        self.log.commit()?;
        Ok(())
    }

    /// After a compaction published `snapshot` (covering its header's sequence): build on it,
    /// forget what it covers, and retire log segments and old snapshots per `retention`.
    ///
    /// # Errors
    /// When retiring old files fails.
    pub fn rebase(
        &mut self,
        snapshot: Snapshot,
        retention: &compact::Retention,
    ) -> Result<(), StoreError> {
        let snapshot = Arc::new(snapshot);
        let base: Arc<dyn PermitSource> = snapshot.clone();
        self.registry.rebase(base);
        self.snapshot = Some(snapshot);
        compact::retire(self, retention)
    }

    /// The permits changed since the snapshot and the event ids applied since, moved out; the
    /// log (and its lock) is released.
    pub fn into_changes(self) -> (Vec<Permit>, Vec<u128>) {
        self.registry.into_changes()
    }

    /// The signer every accepted state is sealed with.
    pub fn sealer(&self) -> &Arc<Sealer> {
        &self.sealer
    }

    /// Whether an attestation in the snapshot is due for renewal at `now` (Unix seconds).
    pub fn renewal_due(&self, now: i64) -> bool {
        self.snapshot
            .as_ref()
            .and_then(|s| crate::trust::seal::renewal_due(s.header()))
            .is_some_and(|at| at <= now)
    }

    pub(crate) fn log_mut(&mut self) -> &mut ChangeLog {
        &mut self.log
    }
}

/// Events a bulk import applies between two commits.
pub const IMPORT_COMMIT_EVENTS: u64 = 8192;

/// Imports a feed (`permitd feed apply`): every event validated and appended like a batch sent
/// to the writer, committed every [`IMPORT_COMMIT_EVENTS`] and at the end. Line numbers in the
/// report are the file's.
///
/// # Errors
/// I/O errors reading the feed, or a log failure (what was committed before it stays).
pub fn import(
    store: &mut Store,
    reader: impl std::io::Read + Send,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<BatchReport, StoreError> {
    let mut report = BatchReport::default();
    let mut since_commit = 0u64;
    let mut failure = None;
    let read = crate::feed::for_each_event(reader, on_bytes, &mut |line, parsed| {
        let (id, outcome) = match parsed {
            Err(reason) => (None, Outcome::Rejected(reason)),
            Ok(event) => {
                let id = event.id.clone();
                match store.submit(event) {
                    Ok(outcome) => (Some(id), outcome),
                    Err(e) => {
                        let message = e.to_string();
                        failure = Some(e);
                        return Err(std::io::Error::other(message));
                    }
                }
            }
        };
        report.record(line, id.as_deref(), &outcome);
        since_commit += 1;
        if since_commit >= IMPORT_COMMIT_EVENTS {
            since_commit = 0;
            if let Err(e) = store.commit() {
                let message = e.to_string();
                failure = Some(e);
                return Err(std::io::Error::other(message));
            }
        }
        Ok(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    read.map_err(|source| StoreError::Io {
        path: PathBuf::from("<feed>"),
        source,
    })?;
    store.commit()?;
    Ok(report)
}
