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
//!   (resolvers, recovery) put the state back without re-validating. Or it is a [`SealNote`]:
//!   the seal the writer signed for a state after acknowledging it ([`sealing`]).
//! - Nothing is acknowledged before the record is fsynced ([`Store::commit`]). Signing is not
//!   on that path: an acknowledged state is durable and visible at once, and attested a few
//!   milliseconds later (seconds under a burst); a seal lost in a crash is signed again, since
//!   recovery finds the states whose attestation is missing.

pub mod compact;
pub mod expiry;
pub mod sealing;
pub mod service;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::changelog::{ChangeLog, LogError, LogReader, LogRecord, Recovery};
use crate::codes::PermitNumber;
use crate::domain::permit::Seal;
use crate::domain::Permit;
use crate::event::{Change, Event};
use crate::registry::{event_id_hash, Applied, PermitSource, Registry};
use crate::snapshot::{self, Snapshot, SnapshotFile};
use crate::trust::seal::Sealer;

/// The change log's directory inside a data directory.
pub const LOG_DIR: &str = "log";

/// One change-log record's payload: the accepted event and the permit as it left it. For a
/// `permit_issued` event the permit is the event's own (with the record's sequence), so it is
/// not written twice: `permit` is absent. (`seal` is read from records written before seals
/// moved to their own records, [`SealNote`]: it sealed that record's state.)
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
                permit.seal = self.seal.map(|seal| Seal { sequence, ..seal });
                Ok(permit)
            }
            (None, change) => Err(StoreError::Record {
                sequence,
                why: format!("a {} record carries no permit", change.kind()),
            }),
        }
    }
}

/// The seal the writer signed for one permit state (`seal.sequence`), written after the
/// record of that state was acknowledged. It applies only while that state is still the
/// permit's current one ([`SealNote::apply_to`]); readers that find a later state drop it (that
/// state's own seal follows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealNote {
    pub number: PermitNumber,
    pub seal: Seal,
}

impl SealNote {
    /// Puts the seal on `permit` when the note is of its current state; says whether it did.
    /// The writer, recovery, resolvers and `permitd qr` all decide with this.
    pub fn apply_to(&self, permit: &mut Permit) -> bool {
        let applies = seal_applies(permit, self.number, &self.seal);
        if applies {
            permit.seal = Some(self.seal.clone());
        }
        applies
    }
}

/// The rule a seal note is applied by: a seal of permit `number` applies to `permit` only while
/// `permit` is that permit in the state the seal names.
fn seal_applies(permit: &Permit, number: PermitNumber, seal: &Seal) -> bool {
    permit.number == number && permit.sequence == seal.sequence
}

/// A change-log record's payload, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Event(Box<LogEntry>),
    Sealed(Box<SealNote>),
}

/// The JSON a [`SealNote`] record starts with (an event record starts `{"event":`).
const SEALED_PREFIX: &[u8] = b"{\"sealed\":";

#[derive(serde::Serialize, serde::Deserialize)]
struct SealedRecord {
    sealed: SealNote,
}

impl Record {
    /// Reads a record's payload.
    ///
    /// # Errors
    /// When the payload is neither (the checksum held, so this is a bug or a foreign file),
    /// naming the sequence.
    pub fn decode(record: &LogRecord) -> Result<Record, StoreError> {
        let fail = |e: serde_json::Error| StoreError::Record {
            sequence: record.seq,
            why: e.to_string(),
        };
        if record.payload.starts_with(SEALED_PREFIX) {
            let sealed: SealedRecord = serde_json::from_slice(&record.payload).map_err(fail)?;
            return Ok(Record::Sealed(Box::new(sealed.sealed)));
        }
        let mut entry: LogEntry = serde_json::from_slice(&record.payload).map_err(fail)?;
        if let Some(permit) = entry.permit.as_mut() {
            // Written before seals had their own records (no `sequence`, a real attestation):
            // the seal was of this state. Every seal made since names its sequence, or has no
            // attestation.
            let legacy = |s: &&mut Seal| s.sequence == 0 && !s.attestation.is_empty();
            if let Some(seal) = permit.seal.as_mut().filter(legacy) {
                seal.sequence = permit.sequence;
            }
        }
        Ok(Record::Event(Box::new(entry)))
    }
}

/// Encodes a seal note's record payload into `record` (cleared first).
fn encode_seal_note(record: &mut Vec<u8>, number: PermitNumber, seal: &Seal) {
    #[derive(serde::Serialize)]
    struct Borrowed<'a> {
        number: PermitNumber,
        seal: &'a Seal,
    }
    record.clear();
    record.extend_from_slice(SEALED_PREFIX);
    serde_json::to_writer(&mut *record, &Borrowed { number, seal }).expect("seals serialise");
    record.push(b'}');
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
    /// Reused to encode each record before it is appended.
    buffer: Vec<u8>,
    /// The permits changed by events appended since the last [`Store::commit`], and how many
    /// seal notes were.
    uncommitted: Vec<PermitNumber>,
    uncommitted_notes: usize,
    /// Permits whose durable state is still to be attested, oldest first (a permit may be
    /// named more than once): taken by the sealing stage ([`Store::take_unsealed`]) or sealed
    /// in place ([`Store::seal_unsealed`]).
    unsealed: Vec<PermitNumber>,
    /// The last sequence made durable by [`Store::commit`].
    durable_through: u64,
    /// Seals every accepted permit state (the writer is the one process holding the key).
    sealer: Arc<Sealer>,
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
            buffer: Vec::with_capacity(4096),
            uncommitted: Vec::new(),
            uncommitted_notes: 0,
            unsealed: Vec::new(),
            durable_through: 0,
            sealer,
        };
        store.replay()?;
        store.durable_through = store.registry.sequence();
        // States acknowledged before a crash whose seal did not reach the log: signed again.
        store.unsealed = store
            .registry
            .changed()
            .iter()
            .filter(|p| p.attested().is_none())
            .map(|p| p.number)
            .collect();
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
                match Record::decode(record)? {
                    Record::Event(entry) => {
                        let id = event_id_hash(&entry.event.id);
                        let permit = entry.into_permit(record.seq)?;
                        self.registry
                            .restore(record.seq, id, permit)
                            .map_err(StoreError::Replay)?;
                    }
                    Record::Sealed(note) => {
                        self.registry
                            .restore_sequence(record.seq)
                            .map_err(StoreError::Replay)?;
                        if let Some(permit) = self.registry.changed_mut(&note.number) {
                            note.apply_to(permit);
                        }
                    }
                }
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

    /// The last sequence number given (to an event or a seal note; durable once
    /// [`Store::commit`] returned).
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

    /// Records (events and seal notes) since the snapshot.
    pub fn events_since_snapshot(&self) -> u64 {
        let covered = self.snapshot.as_ref().map_or(0, |s| s.header().sequence);
        self.sequence() - covered
    }

    /// Validates and applies `event`; an accepted one waits to be appended to the log by
    /// [`Store::commit`], which must return before it is acknowledged.
    ///
    /// # Errors
    /// None today (a rejected event is an [`Outcome`]); kept for the log's errors.
    pub fn submit(&mut self, event: Event) -> Result<Outcome, StoreError> {
        let number = event.change.number();
        let issued = matches!(event.change, Change::PermitIssued { .. });
        let new_version = match &event.change {
            Change::PermitReissued { .. } => true,
            Change::LicenceStateChanged { grant, .. } => grant.is_some(),
            _ => false,
        };
        if new_version {
            // The version this event may supersede gets its signed code first, so the
            // superseded entry carries it. (Signatures are deterministic: the sealing stage or a
            // compaction signing the same version makes the same code; so a code given here to
            // an event then refused changes nothing anyone can see.)
            if let Some(current) = self.registry.changed_mut(&number) {
                self.sealer.give_code(current);
            }
        }
        // The record is `{"event":…,"permit":…}` (see `LogEntry`). The event is encoded before
        // `apply` consumes it (no copy of it is kept); the bytes are dropped if it is refused.
        self.buffer.clear();
        self.buffer.extend_from_slice(b"{\"event\":");
        serde_json::to_writer(&mut self.buffer, &event).expect("events serialise");
        match self.registry.apply(event) {
            Ok(Applied::Replay) => Ok(Outcome::Replay),
            Err(rejection) => Ok(Outcome::Rejected(rejection.to_string())),
            Ok(Applied::Accepted { sequence }) => {
                if !issued {
                    let permit = self.registry.get(&number).expect("just applied");
                    self.buffer.extend_from_slice(b",\"permit\":");
                    serde_json::to_writer(&mut self.buffer, &*permit).expect("permits serialise");
                }
                self.buffer.push(b'}');
                self.log.append(sequence, &self.buffer)?;
                self.uncommitted.push(number);
                Ok(Outcome::Accepted { sequence })
            }
        }
    }

    /// Makes every record appended since the last commit durable with one fsync (group
    /// commit); the events' states then wait to be sealed ([`Store::take_unsealed`]).
    ///
    /// # Errors
    /// The log's; it then refuses further appends and the process must restart (recovery
    /// decides what was durable).
    pub fn commit(&mut self) -> Result<(), StoreError> {
        if self.uncommitted.is_empty() && self.uncommitted_notes == 0 {
            return Ok(());
        }
        self.log.commit()?;
        self.durable_through = self.registry.sequence();
        self.unsealed.append(&mut self.uncommitted);
        self.uncommitted_notes = 0;
        Ok(())
    }

    /// Whether every record appended is committed.
    pub fn is_durable(&self) -> bool {
        self.durable_through == self.registry.sequence()
    }

    /// Acknowledged permits whose seal is not durable here: not yet taken by
    /// [`Store::take_unsealed`], or sealed with the note not yet committed.
    pub fn awaiting_seal(&self) -> usize {
        self.unsealed.len() + self.uncommitted.len() + self.uncommitted_notes
    }

    /// The durable, unattested current state of each permit changed since the last call, once
    /// each, oldest first: copies for the sealing stage. (Copied here, after the
    /// acknowledgement, rather than at each event.)
    pub fn take_unsealed(&mut self) -> Vec<Permit> {
        let numbers = std::mem::take(&mut self.unsealed);
        let mut seen = std::collections::HashSet::with_capacity(numbers.len());
        let mut states = Vec::with_capacity(numbers.len());
        for number in numbers {
            if !seen.insert(number.key()) {
                continue;
            }
            let Some(current) = self.registry.changed_mut(&number) else {
                continue; // a compaction the store rebased on attested it
            };
            if current.attested().is_some() {
                continue;
            }
            if current.sequence > self.durable_through {
                // Not durable yet: named again when its record is committed.
                continue;
            }
            states.push(current.clone());
        }
        states
    }

    /// Puts on each permit's current state the seal signed for it, and appends a [`SealNote`]
    /// record for each (durable with the next [`Store::commit`]). A seal of a state that is no
    /// longer current (a later event came, or a compaction the store rebased on already sealed
    /// it) is dropped. Returns how many were kept.
    ///
    /// # Errors
    /// The log's, as [`Store::submit`].
    pub fn attach_seals(
        &mut self,
        sealed: impl IntoIterator<Item = Permit>,
    ) -> Result<usize, StoreError> {
        let mut kept = 0;
        for permit in sealed {
            let Some(seal) = permit.seal else { continue };
            let Some(current) = self.registry.changed_mut(&permit.number) else {
                continue;
            };
            // SealNote::apply_to, moving the seal instead of cloning it.
            if !seal_applies(current, permit.number, &seal) {
                continue;
            }
            encode_seal_note(&mut self.buffer, permit.number, &seal);
            current.seal = Some(seal);
            let sequence = self.registry.take_sequence();
            self.log.append(sequence, &self.buffer)?;
            self.uncommitted_notes += 1;
            kept += 1;
        }
        Ok(kept)
    }

    /// Seals every state waiting for it here, on every core, and commits the seal notes
    /// (`permitd feed apply`, tests, and the writer as it stops). Returns how many were kept.
    ///
    /// # Errors
    /// The log's, as [`Store::commit`].
    pub fn seal_unsealed(&mut self) -> Result<usize, StoreError> {
        let mut permits = self.take_unsealed(); // each permit once
        self.sealer
            .seal_all(&mut permits, time::OffsetDateTime::now_utc());
        let kept = self.attach_seals(permits)?;
        self.commit()?;
        Ok(kept)
    }

    /// Hands what was made durable to `stage` and appends the seals it has finished; while
    /// the stage is full, waits for it (the caller takes no new events meanwhile). The seal
    /// notes become durable with the next [`Store::commit`].
    ///
    /// # Errors
    /// The log's.
    pub fn exchange_seals(
        &mut self,
        stage: &mut sealing::SealingStage,
    ) -> Result<usize, StoreError> {
        stage.add(self.take_unsealed());
        let mut kept = self.attach_seals(stage.collect())?;
        while stage.is_full() {
            kept += self.attach_seals(stage.collect_waiting(sealing::FULL_WAIT))?;
            self.commit()?;
        }
        Ok(kept)
    }

    /// Stops `stage` once it has signed what it holds, seals in place what it never got and
    /// what was made durable since, and commits every seal note.
    ///
    /// # Errors
    /// The log's.
    pub fn finish_sealing(&mut self, stage: sealing::SealingStage) -> Result<(), StoreError> {
        let (sealed, mut rest) = stage.finish();
        self.attach_seals(sealed)?;
        self.sealer
            .seal_all(&mut rest, time::OffsetDateTime::now_utc());
        self.attach_seals(rest)?;
        self.commit()?;
        self.seal_unsealed().map(drop)
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
/// to the writer, committed every [`IMPORT_COMMIT_EVENTS`] and at the end. Each committed group
/// goes to a sealing stage, as in the writer, so signing overlaps the import; everything is
/// sealed and committed before it returns. Line numbers in the
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
    let mut stage = sealing::SealingStage::start(store.sealer().clone());
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
            if let Err(e) = store
                .commit()
                .and_then(|()| store.exchange_seals(&mut stage))
            {
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
    store.finish_sealing(stage)?;
    Ok(report)
}
