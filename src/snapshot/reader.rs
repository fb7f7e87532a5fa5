//! Opening, verifying and reading a snapshot. **The only module in permitd with `unsafe`**: the
//! memory map, and unchecked rkyv access to shards that [`SnapshotFile::verify`] validated.
//!
//! Two steps, two types:
//! - [`SnapshotFile::open`] maps the file and checks the header page: magic, version, header
//!   checksum, length, section bounds. O(1) in the permit count.
//! - [`SnapshotFile::verify`] checks the body checksum, validates every shard with rkyv's
//!   bytecheck, cross-checks both indexes and the changes index against the records and checks
//!   the event ids are strictly increasing, then returns a [`Snapshot`], the only type that reads
//!   records. The server calls it once before a snapshot serves.
//!
//! Readers are generic over the byte container ([`SnapshotBytes`]): an `Mmap` in production and
//! an `AlignedVec` in tests run the same code.

use std::fs::File;
use std::ops::Range;
use std::path::Path;

use memmap2::Mmap;
use rkyv::util::AlignedVec;
use rkyv::vec::ArchivedVec;

use crate::codes::PermitNumber;
use crate::domain::permit::ArchivedPermit;
use crate::qr::Token;
use crate::snapshot::answers::{Answer, Answers};
use crate::snapshot::format::{FormatError, Header, HEADER_BYTES};
use crate::snapshot::index::{ChangesIndex, EventIds, Location, NumberIndex, TokenIndex};

/// The archived root of one shard.
pub type ArchivedShard = ArchivedVec<ArchivedPermit>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for memmap2::Mmap {}
    impl Sealed for rkyv::util::AlignedVec {}
}

/// Byte containers a snapshot can live in: their bytes do not move or change while borrowed,
/// and start 16-byte aligned. Sealed, because the unchecked access below relies on both.
pub trait SnapshotBytes: sealed::Sealed + Send + Sync + 'static {
    fn bytes(&self) -> &[u8];
}

impl SnapshotBytes for Mmap {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl SnapshotBytes for AlignedVec {
    fn bytes(&self) -> &[u8] {
        self.as_slice()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read snapshot {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("snapshot {path} refused: {source}")]
    Format { path: String, source: FormatError },
}

/// A snapshot whose header has been checked but whose body has not.
pub struct SnapshotFile<B: SnapshotBytes = Mmap> {
    bytes: B,
    header: Header,
}

impl SnapshotFile<Mmap> {
    /// Maps `path` read-only and checks its header.
    ///
    /// # Errors
    /// [`OpenError::Io`] when the file cannot be opened or mapped, [`OpenError::Format`] when
    /// the header is wrong or the file is truncated.
    pub fn open(path: &Path) -> Result<SnapshotFile<Mmap>, OpenError> {
        let io = |source| OpenError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: mapping a file is unsound if another process truncates or rewrites it while
        // mapped. Snapshot files are immutable by contract: written under a temporary name,
        // fsync'd, renamed into place, never opened for writing again, and only removed by
        // retention after no reader maps them. We map read-only (PROT_READ).
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        SnapshotFile::from_bytes(map).map_err(|source| OpenError::Format {
            path: path.display().to_string(),
            source,
        })
    }
}

impl<B: SnapshotBytes> SnapshotFile<B> {
    /// Checks the header of snapshot bytes already in memory.
    pub fn from_bytes(bytes: B) -> Result<SnapshotFile<B>, FormatError> {
        let header = Header::decode(bytes.bytes())?;
        if !(bytes.bytes().as_ptr() as usize).is_multiple_of(16) {
            return Err(FormatError::Alignment);
        }
        Ok(SnapshotFile { bytes, header })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Full verification: body checksum, rkyv validation of every shard, both indexes and the
    /// changes index cross-checked against the records, the event ids strictly increasing. Uses
    /// up to two threads.
    ///
    /// # Errors
    /// The first [`FormatError`] found.
    pub fn verify(self) -> Result<Snapshot<B>, FormatError> {
        let bytes = self.bytes.bytes();
        let body = &bytes[HEADER_BYTES..];
        let computed = blake3::hash(body);
        if computed.as_bytes() != &self.header.body_checksum {
            return Err(FormatError::BodyChecksum {
                expected: blake3::Hash::from(self.header.body_checksum)
                    .to_hex()
                    .to_string(),
                got: computed.to_hex().to_string(),
            });
        }
        let shard_ranges: Vec<Range<usize>> = self
            .header
            .shards
            .iter()
            .map(|s| s.section.range())
            .collect();
        let index_error = |index: &'static str| {
            move |e: crate::snapshot::index::ShapeError| FormatError::Index { index, why: e.0 }
        };
        NumberIndex::new(&bytes[self.header.number_index.range()])
            .map_err(index_error("number"))?;
        TokenIndex::new(&bytes[self.header.token_index.range()]).map_err(index_error("token"))?;
        ChangesIndex::new(&bytes[self.header.changes_index.range()])
            .map_err(index_error("changes"))?;
        let event_ids = EventIds::new(&bytes[self.header.event_ids.range()])
            .map_err(index_error("event_ids"))?;
        check_event_ids(event_ids)?;

        // rkyv validation, shard by shard, on two threads.
        let validate = |shard: usize| -> Result<(), FormatError> {
            let archived = rkyv::access::<ArchivedShard, rkyv::rancor::Error>(
                &bytes[shard_ranges[shard].clone()],
            )
            .map_err(|e| FormatError::Shard {
                shard,
                why: e.to_string(),
            })?;
            let expected = self.header.shards[shard].permits;
            if archived.len() as u64 != expected {
                return Err(FormatError::Shard {
                    shard,
                    why: format!(
                        "holds {} permits, the shard table says {expected}",
                        archived.len()
                    ),
                });
            }
            let answers_bytes = &bytes[self.header.shards[shard].answers.range()];
            let answers = Answers::new(answers_bytes, archived.len())
                .map_err(|why| FormatError::Shard { shard, why })?;
            if let Some(bad) = (0..archived.len()).find(|&i| answers.get(i).is_none()) {
                let why = format!("answer {bad} points outside its section");
                return Err(FormatError::Shard { shard, why });
            }
            Ok(())
        };
        run_on_two_threads(shard_ranges.len(), &validate)?;

        let snapshot = Snapshot {
            answer_ranges: self
                .header
                .shards
                .iter()
                .map(|s| s.answers.range())
                .collect(),
            number_index: self.header.number_index.range(),
            token_index: self.header.token_index.range(),
            changes_index: self.header.changes_index.range(),
            event_ids: self.header.event_ids.range(),
            shard_ranges,
            header: self.header,
            bytes: self.bytes,
        };
        snapshot.cross_check_indexes()?;
        snapshot.check_changes()?;
        Ok(snapshot)
    }
}

/// Event ids must be strictly increasing (sorted and distinct) for the binary search to hold.
fn check_event_ids(ids: EventIds<'_>) -> Result<(), FormatError> {
    let mut previous: Option<u128> = None;
    for (i, id) in ids.iter().enumerate() {
        if let Some(previous) = previous {
            if id <= previous {
                let how = if id == previous {
                    "repeats"
                } else {
                    "is below"
                };
                return Err(FormatError::Index {
                    index: "event_ids",
                    why: format!("id {i} ({id:#034x}) {how} id {} ({previous:#034x})", i - 1),
                });
            }
        }
        previous = Some(id);
    }
    Ok(())
}

/// Changes-index slots checked per task: large enough that a task's overhead is nothing.
const CHANGES_CHUNK: usize = 1 << 18;

/// Runs `task(i)` for every `i < count`, split over two threads; returns the first error.
fn run_on_two_threads(
    count: usize,
    task: &(dyn Fn(usize) -> Result<(), FormatError> + Sync),
) -> Result<(), FormatError> {
    std::thread::scope(|scope| {
        let odd = scope.spawn(|| (1..count).step_by(2).try_for_each(task));
        let even = (0..count).step_by(2).try_for_each(task);
        let odd = odd.join().expect("verification thread does not panic");
        even.and(odd)
    })
}

/// A verified snapshot: every read is a bounds-checked index probe and a pointer into the bytes.
pub struct Snapshot<B: SnapshotBytes = Mmap> {
    bytes: B,
    header: Header,
    shard_ranges: Vec<Range<usize>>,
    answer_ranges: Vec<Range<usize>>,
    number_index: Range<usize>,
    token_index: Range<usize>,
    changes_index: Range<usize>,
    event_ids: Range<usize>,
}

impl<B: SnapshotBytes> Snapshot<B> {
    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn len(&self) -> u64 {
        self.header.permits
    }

    pub fn is_empty(&self) -> bool {
        self.header.permits == 0
    }

    pub fn shard_count(&self) -> usize {
        self.shard_ranges.len()
    }

    /// The archived permits of shard `shard`.
    pub fn shard(&self, shard: usize) -> Option<&ArchivedShard> {
        let range = self.shard_ranges.get(shard)?.clone();
        // SAFETY: `Snapshot` is only constructed by `SnapshotFile::verify`, which validated the
        // bytes of every shard range with `rkyv::access` (bytecheck) and found them well formed.
        // `B: SnapshotBytes` guarantees those bytes neither move nor change while `self` lives,
        // and the returned reference borrows `self`.
        Some(unsafe { rkyv::access_unchecked::<ArchivedShard>(&self.bytes.bytes()[range]) })
    }

    /// The record at `location`.
    #[inline]
    pub fn record(&self, location: Location) -> Option<&ArchivedPermit> {
        self.shard(location.shard as usize)?
            .get(location.position as usize)
    }

    /// The pre-rendered JSON answer of the record at `location` (its current version).
    #[inline]
    pub fn answer(&self, location: Location) -> Option<Answer<'_>> {
        let shard = location.shard as usize;
        let range = self.answer_ranges.get(shard)?.clone();
        let count = self.header.shards[shard].permits as usize;
        Answers::new(&self.bytes.bytes()[range], count)
            .ok()?
            .get(location.position as usize)
    }

    fn numbers(&self) -> NumberIndex<'_> {
        NumberIndex::new(&self.bytes.bytes()[self.number_index.clone()])
            .expect("shape checked in verify")
    }

    fn tokens(&self) -> TokenIndex<'_> {
        TokenIndex::new(&self.bytes.bytes()[self.token_index.clone()])
            .expect("shape checked in verify")
    }

    /// Where the record of `number` is. Verification proved the index agrees with the records.
    #[inline]
    pub fn locate(&self, number: &PermitNumber) -> Option<Location> {
        self.numbers().get(number.key())
    }

    /// Where the record of the permit number with this key ([`PermitNumber::key`]) is.
    #[inline]
    pub fn locate_key(&self, key: u64) -> Option<Location> {
        self.numbers().get(key)
    }

    /// Where the record a QR token names is, and which version it names.
    #[inline]
    pub fn locate_token(&self, token: &Token) -> Option<(Location, u32)> {
        self.tokens().get(token)
    }

    /// The current version of `number`.
    #[inline]
    pub fn get(&self, number: &PermitNumber) -> Option<&ArchivedPermit> {
        self.record(self.locate(number)?)
    }

    /// The permit and the version a QR token names.
    #[inline]
    pub fn get_by_token(&self, token: &Token) -> Option<(&ArchivedPermit, u32)> {
        let (location, version) = self.locate_token(token)?;
        Some((self.record(location)?, version))
    }

    fn changes(&self) -> ChangesIndex<'_> {
        ChangesIndex::new(&self.bytes.bytes()[self.changes_index.clone()])
            .expect("shape checked in verify")
    }

    fn event_id_table(&self) -> EventIds<'_> {
        EventIds::new(&self.bytes.bytes()[self.event_ids.clone()]).expect("shape checked in verify")
    }

    /// Every permit whose sequence is greater than `after`, as (sequence, location), in
    /// (sequence, shard, position) order: a binary search, then a walk along the slots.
    /// Verification proved each permit is listed exactly once, with its record's sequence.
    /// Legacy permits (sequence 0) are never returned; [`Self::all_changes`] includes them.
    pub fn changes_after(&self, after: u64) -> impl Iterator<Item = (u64, Location)> + '_ {
        let changes = self.changes();
        changes.iter_from(changes.first_after(after))
    }

    /// Every permit as (sequence, location), in (sequence, shard, position) order, legacy
    /// permits (sequence 0) first.
    pub fn all_changes(&self) -> impl Iterator<Item = (u64, Location)> + '_ {
        self.changes().iter_from(0)
    }

    /// Slots in the changes index: one per permit.
    pub fn changes_len(&self) -> usize {
        self.changes().len()
    }

    /// Whether the event id hash `id` was applied before this snapshot: a binary search over the
    /// mapped bytes, no allocation.
    pub fn has_event_id(&self, id: u128) -> bool {
        self.event_id_table().contains(id)
    }

    pub fn event_ids_len(&self) -> usize {
        self.event_id_table().len()
    }

    /// The applied event id hashes, increasing.
    pub fn event_ids(&self) -> impl Iterator<Item = u128> + '_ {
        self.event_id_table().iter()
    }

    /// Every permit, in permit-number order.
    pub fn iter(&self) -> impl Iterator<Item = &ArchivedPermit> + '_ {
        (0..self.shard_count()).flat_map(move |s| self.shard(s).into_iter().flat_map(|p| p.iter()))
    }

    /// The changes index lists every permit exactly once, in (sequence, shard, position) order,
    /// with the sequence its record holds. O(permits), on two threads.
    ///
    /// Each slot's location is in range and its record's sequence equals the slot's; the slots
    /// strictly increase. Two slots naming one location would carry that record's one sequence,
    /// so they would be equal, which strict order forbids: the locations are distinct. The header
    /// check proved there are exactly `permits` slots, so every permit is listed once.
    fn check_changes(&self) -> Result<(), FormatError> {
        let changes = self.changes();
        let fail = |why: String| FormatError::Index {
            index: "changes",
            why,
        };
        if changes.len() as u64 != self.header.permits {
            return Err(fail(format!(
                "{} slots for {} permits",
                changes.len(),
                self.header.permits
            )));
        }
        let check_chunk = |chunk: usize| -> Result<(), FormatError> {
            let start = chunk * CHANGES_CHUNK;
            let end = (start + CHANGES_CHUNK).min(changes.len());
            let mut previous = start.checked_sub(1).map(|i| changes.get(i));
            for i in start..end {
                let (sequence, location) = changes.get(i);
                let Some(record) = self.record(location) else {
                    return Err(fail(format!(
                        "slot {i} names shard {} position {}, outside the records",
                        location.shard, location.position
                    )));
                };
                let recorded = record.sequence.to_native();
                if recorded != sequence {
                    return Err(fail(format!(
                        "slot {i} says sequence {sequence} but the record at shard {} position {} \
                         has {recorded}",
                        location.shard, location.position
                    )));
                }
                if let Some(previous) = previous {
                    if previous == (sequence, location) {
                        return Err(fail(format!(
                            "slot {i} lists shard {} position {} again",
                            location.shard, location.position
                        )));
                    }
                    if previous > (sequence, location) {
                        return Err(fail(format!(
                            "slot {i} (sequence {sequence}) is out of (sequence, shard, position) \
                             order after slot {} (sequence {})",
                            i - 1,
                            previous.0
                        )));
                    }
                }
                previous = Some((sequence, location));
            }
            Ok(())
        };
        run_on_two_threads(changes.len().div_ceil(CHANGES_CHUNK), &check_chunk)
    }

    /// Each record is found through both indexes, and the indexes hold nothing else.
    fn cross_check_indexes(&self) -> Result<(), FormatError> {
        let fail = |index: &'static str, why: String| FormatError::Index { index, why };
        let numbers = self.numbers();
        let tokens = self.tokens();
        let oldest_attestation = std::sync::atomic::AtomicI64::new(i64::MAX);
        let check_shard = |shard: usize| -> Result<(), FormatError> {
            let permits = self.shard(shard).expect("shard in range");
            for (position, permit) in permits.iter().enumerate() {
                let attested = permit
                    .attested()
                    .map_or(i64::MIN, |s| s.attested_at.to_native());
                oldest_attestation.fetch_min(attested, std::sync::atomic::Ordering::Relaxed);
                let here = Location {
                    shard: shard as u32,
                    position: position as u32,
                };
                let text = permit.number.as_str();
                let number = PermitNumber::parse(text)
                    .map_err(|e| fail("number", format!("record {here:?}: {e}")))?;
                if numbers.get(number.key()) != Some(here) {
                    return Err(fail("number", format!("{number} is not found at {here:?}")));
                }
                let current = permit.version.to_native();
                let versions = permit
                    .superseded_versions
                    .iter()
                    .map(|v| v.version.to_native())
                    .chain([current]);
                for version in versions {
                    let token = Token::for_version(&number, version);
                    if tokens.get(&token) != Some((here, version)) {
                        return Err(fail("token", format!("{number} v{version} not found")));
                    }
                }
            }
            Ok(())
        };
        run_on_two_threads(self.shard_count(), &check_shard)?;
        let oldest = oldest_attestation.into_inner();
        if oldest != self.header.oldest_attestation {
            return Err(FormatError::Field {
                field: "oldest_attestation",
                why: format!(
                    "the header says {} but the records' oldest is {oldest}",
                    self.header.oldest_attestation
                ),
            });
        }
        let indexed = numbers.entries().count() as u64;
        if indexed != self.header.permits {
            return Err(fail(
                "number",
                format!("{indexed} entries for {} permits", self.header.permits),
            ));
        }
        let tokens_indexed = tokens.occupied() as u64;
        if tokens_indexed != self.header.versions {
            return Err(fail(
                "token",
                format!(
                    "{tokens_indexed} entries for {} versions",
                    self.header.versions
                ),
            ));
        }
        Ok(())
    }
}
