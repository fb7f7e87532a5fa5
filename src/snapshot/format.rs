//! The snapshot file's layout and its header page. No `unsafe`, no I/O: bytes in, values out.
//!
//! ```text
//! offset 0      header page (HEADER_BYTES): fields below, shard table, header checksum
//! page-aligned  shard 0: an rkyv archive of the shard's permits, 32-bit relative pointers
//! page-aligned  answers 0: shard 0's pre-rendered JSON answers (see `answers.rs`)
//! page-aligned  shard 1, answers 1 …
//! page-aligned  number index: open-addressing slots, permit number key → (shard, position)
//! page-aligned  token index: open-addressing slots, QR token → (shard, position, version)
//! page-aligned  changes index: one 16-byte slot per permit, sequence u64 · shard u32 ·
//!               position u32, sorted by (sequence, shard, position), for `GET /v1/changes`
//! page-aligned  event ids: the applied event ids' 128-bit hashes, u128 each, strictly increasing
//! ```
//!
//! Why shards: rkyv's relative pointers are 32-bit by default, so one archive reaches 2 GiB at
//! most. At 10 million permits the records need ~5 GB. Widening every pointer to 64 bits
//! (`pointer_width_64`) would grow each string and vector reference and so the whole file; sharding
//! keeps 32-bit pointers, each shard an independent archive below [`SNAPSHOT_SHARD_BYTES_MAX`], and
//! lets two cores build and validate shards in parallel. The indexes are plain little-endian
//! slot arrays outside rkyv, so a lookup is one probe sequence and one shard access. The changes
//! index and the event ids are sorted arrays of 16-byte little-endian slots, read by binary
//! search (see [`crate::snapshot::index`]); either may be empty (zero bytes, still page-aligned).
//!
//! Header fields (little-endian):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `PERMITDS` |
//! | 8 | 4 | format version |
//! | 12 | 4 | header bytes (4096) |
//! | 16 | 8 | sequence number covered |
//! | 24 | 8 | created at, Unix ms |
//! | 32 | 8 | permits |
//! | 40 | 8 | permit versions (current + superseded) |
//! | 48 | 8 | covered licences |
//! | 56 | 8 | file bytes |
//! | 64 | 16 | number index: offset, bytes |
//! | 80 | 16 | token index: offset, bytes |
//! | 96 | 4 | shard count |
//! | 100 | 4 | date the answers were rendered for, days since 1970-01-01 |
//! | 104 | 32 | blake3 of bytes `HEADER_BYTES..file bytes` (the body) |
//! | 136 | 40 × n | shard table: offset, bytes, permits, answers offset, answers bytes (n ≤ 96) |
//! | 3976 | 16 | changes index: offset, bytes (16 × changes) |
//! | 3992 | 16 | event ids: offset, bytes (16 × event ids) |
//! | 4008 | 8 | changes: slots in the changes index (equals permits) |
//! | 4016 | 8 | event ids: how many the event id section holds |
//! | 4024 | 8 | oldest attestation: the earliest `Seal::attested_at` of any record, Unix s, i64 (`i64::MIN` when a record's state is not attested, `i64::MAX` when there are none) |
//! | 4032 | 32 | zero (reserved) |
//! | 4064 | 32 | blake3 of header bytes `0..4064` |
//!
//! Version history: 2 added the pre-rendered answers; 3 added `Permit::sequence` to the record,
//! the changes index and the event ids; 4 added `Permit::seal` (the signed QR payload and the
//! attestation) and each superseded version's signed payload to the record, and the oldest
//! attestation to the header (so the writer knows when to renew without reading the records).

use crate::domain::Date;
use crate::limits::{SNAPSHOT_PERMITS_MAX, SNAPSHOT_SHARDS_MAX, SNAPSHOT_SHARD_BYTES_MAX};
use crate::snapshot::index;

pub const MAGIC: [u8; 8] = *b"PERMITDS";
/// Bumped on any change of layout or of the archived types.
pub const FORMAT_VERSION: u32 = 5;
pub const HEADER_BYTES: usize = 4096;
/// Every section starts on a page boundary, so a mapped section is page- and 16-byte aligned.
pub const PAGE_BYTES: u64 = 4096;
const SHARD_TABLE_OFFSET: usize = 136;
const SHARD_ENTRY_BYTES: usize = 40;
const HEADER_CHECKSUM_OFFSET: usize = HEADER_BYTES - 32;
/// Right after the largest shard table.
const CHANGES_SECTION_OFFSET: usize = 3976;
const EVENT_IDS_SECTION_OFFSET: usize = 3992;
const CHANGES_COUNT_OFFSET: usize = 4008;
const EVENT_IDS_COUNT_OFFSET: usize = 4016;
const OLDEST_ATTESTATION_OFFSET: usize = 4024;
const RESERVED_OFFSET: usize = 4032;
/// Bytes of one changes-index slot and of one event id.
const CHANGE_SLOT_BYTES: u64 = index::CHANGE_SLOT_BYTES as u64;
const EVENT_ID_BYTES: u64 = index::EVENT_ID_BYTES as u64;

const _: () =
    assert!(SHARD_TABLE_OFFSET + SNAPSHOT_SHARDS_MAX * SHARD_ENTRY_BYTES <= CHANGES_SECTION_OFFSET);
const _: () = assert!(CHANGES_SECTION_OFFSET + 16 == EVENT_IDS_SECTION_OFFSET);
const _: () = assert!(EVENT_IDS_SECTION_OFFSET + 16 == CHANGES_COUNT_OFFSET);
const _: () = assert!(CHANGES_COUNT_OFFSET + 8 == EVENT_IDS_COUNT_OFFSET);
const _: () = assert!(EVENT_IDS_COUNT_OFFSET + 8 == OLDEST_ATTESTATION_OFFSET);
const _: () = assert!(OLDEST_ATTESTATION_OFFSET + 8 == RESERVED_OFFSET);
const _: () = assert!(RESERVED_OFFSET <= HEADER_CHECKSUM_OFFSET);

/// A byte range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Section {
    pub offset: u64,
    pub bytes: u64,
}

impl Section {
    pub fn end(self) -> u64 {
        self.offset.saturating_add(self.bytes)
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.offset as usize..self.end() as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardEntry {
    /// The rkyv archive of the shard's permits.
    pub section: Section,
    pub permits: u64,
    /// The shard's pre-rendered answers (see [`crate::snapshot::answers`]), right after it.
    pub answers: Section,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub sequence: u64,
    pub created_unix_ms: i64,
    pub permits: u64,
    pub versions: u64,
    pub licences: u64,
    pub file_bytes: u64,
    pub number_index: Section,
    pub token_index: Section,
    /// The changes index: one slot per permit, sorted by (sequence, shard, position).
    pub changes_index: Section,
    /// The applied event ids' hashes, strictly increasing.
    pub event_ids: Section,
    /// Slots in the changes index; always equal to `permits`.
    pub changes: u64,
    /// How many event ids the snapshot records.
    pub event_id_count: u64,
    /// The earliest time any record's attestation was signed (Unix seconds): when the writer
    /// must renew next, known without reading the records. `i64::MIN` when a record is
    /// unsealed, `i64::MAX` when there are no records. `verify` checks it against them.
    pub oldest_attestation: i64,
    pub shards: Vec<ShardEntry>,
    /// The date the pre-rendered answers were rendered for (they hold from it through each
    /// answer's valid-through date).
    pub answers_as_of: Date,
    pub body_checksum: [u8; 32],
}

/// Why a snapshot file was refused. Every variant says what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("file is {got} bytes, shorter than the {HEADER_BYTES}-byte header: not a snapshot or truncated")]
    TooShort { got: u64 },
    #[error("magic bytes are {got:?}, expected {MAGIC:?}: not a permitd snapshot")]
    Magic { got: [u8; 8] },
    #[error("format version {got} is not supported by this build (expected {expected})")]
    Version { expected: u32, got: u32 },
    #[error("header checksum does not match: the header is corrupt")]
    HeaderChecksum,
    #[error("file is {got} bytes but its header says {expected}: truncated or extended")]
    Length { expected: u64, got: u64 },
    #[error("header field {field} is out of bounds: {why}")]
    Field { field: &'static str, why: String },
    #[error(
        "body checksum does not match (expected {expected}, computed {got}): the file is corrupt"
    )]
    BodyChecksum { expected: String, got: String },
    #[error("shard {shard} failed rkyv validation: {why}")]
    Shard { shard: usize, why: String },
    #[error("index {index} is inconsistent with the records: {why}")]
    Index { index: &'static str, why: String },
    #[error("mapping is not {PAGE_BYTES}-byte aligned")]
    Alignment,
}

fn field(field: &'static str, why: impl Into<String>) -> FormatError {
    FormatError::Field {
        field,
        why: why.into(),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Header {
    /// Encodes the header page, checksum included.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        assert!(
            self.shards.len() <= SNAPSHOT_SHARDS_MAX,
            "builder respects the shard limit"
        );
        let mut page = [0u8; HEADER_BYTES];
        page[0..8].copy_from_slice(&MAGIC);
        page[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        page[12..16].copy_from_slice(&(HEADER_BYTES as u32).to_le_bytes());
        page[16..24].copy_from_slice(&self.sequence.to_le_bytes());
        page[24..32].copy_from_slice(&self.created_unix_ms.to_le_bytes());
        page[32..40].copy_from_slice(&self.permits.to_le_bytes());
        page[40..48].copy_from_slice(&self.versions.to_le_bytes());
        page[48..56].copy_from_slice(&self.licences.to_le_bytes());
        page[56..64].copy_from_slice(&self.file_bytes.to_le_bytes());
        page[64..72].copy_from_slice(&self.number_index.offset.to_le_bytes());
        page[72..80].copy_from_slice(&self.number_index.bytes.to_le_bytes());
        page[80..88].copy_from_slice(&self.token_index.offset.to_le_bytes());
        page[88..96].copy_from_slice(&self.token_index.bytes.to_le_bytes());
        page[96..100].copy_from_slice(&(self.shards.len() as u32).to_le_bytes());
        page[100..104].copy_from_slice(&self.answers_as_of.days_since_epoch().to_le_bytes());
        page[104..136].copy_from_slice(&self.body_checksum);
        let at = CHANGES_SECTION_OFFSET;
        page[at..at + 8].copy_from_slice(&self.changes_index.offset.to_le_bytes());
        page[at + 8..at + 16].copy_from_slice(&self.changes_index.bytes.to_le_bytes());
        let at = EVENT_IDS_SECTION_OFFSET;
        page[at..at + 8].copy_from_slice(&self.event_ids.offset.to_le_bytes());
        page[at + 8..at + 16].copy_from_slice(&self.event_ids.bytes.to_le_bytes());
        let at = CHANGES_COUNT_OFFSET;
        page[at..at + 8].copy_from_slice(&self.changes.to_le_bytes());
        let at = EVENT_IDS_COUNT_OFFSET;
        page[at..at + 8].copy_from_slice(&self.event_id_count.to_le_bytes());
        let at = OLDEST_ATTESTATION_OFFSET;
        page[at..at + 8].copy_from_slice(&self.oldest_attestation.to_le_bytes());
        for (i, shard) in self.shards.iter().enumerate() {
            let at = SHARD_TABLE_OFFSET + i * SHARD_ENTRY_BYTES;
            page[at..at + 8].copy_from_slice(&shard.section.offset.to_le_bytes());
            page[at + 8..at + 16].copy_from_slice(&shard.section.bytes.to_le_bytes());
            page[at + 16..at + 24].copy_from_slice(&shard.permits.to_le_bytes());
            page[at + 24..at + 32].copy_from_slice(&shard.answers.offset.to_le_bytes());
            page[at + 32..at + 40].copy_from_slice(&shard.answers.bytes.to_le_bytes());
        }
        let checksum = blake3::hash(&page[..HEADER_CHECKSUM_OFFSET]);
        page[HEADER_CHECKSUM_OFFSET..].copy_from_slice(checksum.as_bytes());
        page
    }

    /// Decodes and structurally checks the header of a file of `file_bytes` bytes whose first
    /// bytes are `bytes`. Reads the header page only: O(1) in the permit count.
    ///
    /// # Errors
    /// A [`FormatError`] naming the first field found wrong.
    pub fn decode(bytes: &[u8]) -> Result<Header, FormatError> {
        let file_bytes = bytes.len() as u64;
        if bytes.len() < HEADER_BYTES {
            return Err(FormatError::TooShort { got: file_bytes });
        }
        let page = &bytes[..HEADER_BYTES];
        let magic: [u8; 8] = page[0..8].try_into().expect("8 bytes");
        if magic != MAGIC {
            return Err(FormatError::Magic { got: magic });
        }
        let version = u32_at(page, 8);
        if version != FORMAT_VERSION {
            return Err(FormatError::Version {
                expected: FORMAT_VERSION,
                got: version,
            });
        }
        if blake3::hash(&page[..HEADER_CHECKSUM_OFFSET]).as_bytes()[..]
            != page[HEADER_CHECKSUM_OFFSET..]
        {
            return Err(FormatError::HeaderChecksum);
        }
        if u32_at(page, 12) as usize != HEADER_BYTES {
            return Err(field(
                "header_bytes",
                format!("{} != {HEADER_BYTES}", u32_at(page, 12)),
            ));
        }
        let expected_bytes = u64_at(page, 56);
        if expected_bytes != file_bytes {
            return Err(FormatError::Length {
                expected: expected_bytes,
                got: file_bytes,
            });
        }
        if page[RESERVED_OFFSET..HEADER_CHECKSUM_OFFSET]
            .iter()
            .any(|&b| b != 0)
        {
            return Err(field(
                "reserved",
                format!("bytes {RESERVED_OFFSET}..{HEADER_CHECKSUM_OFFSET} are not zero"),
            ));
        }
        let shard_count = u32_at(page, 96) as usize;
        if shard_count > SNAPSHOT_SHARDS_MAX {
            return Err(field(
                "shard_count",
                format!("{shard_count} > {SNAPSHOT_SHARDS_MAX}"),
            ));
        }
        let shards: Vec<ShardEntry> = (0..shard_count)
            .map(|i| {
                let at = SHARD_TABLE_OFFSET + i * SHARD_ENTRY_BYTES;
                ShardEntry {
                    section: Section {
                        offset: u64_at(page, at),
                        bytes: u64_at(page, at + 8),
                    },
                    permits: u64_at(page, at + 16),
                    answers: Section {
                        offset: u64_at(page, at + 24),
                        bytes: u64_at(page, at + 32),
                    },
                }
            })
            .collect();
        let header = Header {
            sequence: u64_at(page, 16),
            created_unix_ms: u64_at(page, 24) as i64,
            permits: u64_at(page, 32),
            versions: u64_at(page, 40),
            licences: u64_at(page, 48),
            file_bytes: expected_bytes,
            number_index: Section {
                offset: u64_at(page, 64),
                bytes: u64_at(page, 72),
            },
            token_index: Section {
                offset: u64_at(page, 80),
                bytes: u64_at(page, 88),
            },
            changes_index: Section {
                offset: u64_at(page, CHANGES_SECTION_OFFSET),
                bytes: u64_at(page, CHANGES_SECTION_OFFSET + 8),
            },
            event_ids: Section {
                offset: u64_at(page, EVENT_IDS_SECTION_OFFSET),
                bytes: u64_at(page, EVENT_IDS_SECTION_OFFSET + 8),
            },
            changes: u64_at(page, CHANGES_COUNT_OFFSET),
            event_id_count: u64_at(page, EVENT_IDS_COUNT_OFFSET),
            oldest_attestation: u64_at(page, OLDEST_ATTESTATION_OFFSET) as i64,
            shards,
            answers_as_of: Date::from_days_since_epoch(u32_at(page, 100) as i32),
            body_checksum: page[104..136].try_into().expect("32 bytes"),
        };
        header.check_layout()?;
        Ok(header)
    }

    /// Sections are page-aligned, in file order, without overlap, inside the file; counts agree.
    fn check_layout(&self) -> Result<(), FormatError> {
        if self.permits > SNAPSHOT_PERMITS_MAX {
            return Err(field(
                "permits",
                format!("{} > {SNAPSHOT_PERMITS_MAX}", self.permits),
            ));
        }
        if self.versions < self.permits {
            return Err(field("versions", "fewer versions than permits"));
        }
        let mut cursor = HEADER_BYTES as u64;
        let mut shard_permits: u64 = 0;
        let named = self
            .shards
            .iter()
            .flat_map(|s| [("shard", s.section), ("shard_answers", s.answers)])
            .chain([
                ("number_index", self.number_index),
                ("token_index", self.token_index),
                ("changes_index", self.changes_index),
                ("event_ids", self.event_ids),
            ]);
        for (name, section) in named {
            if !section.offset.is_multiple_of(PAGE_BYTES) || section.offset < cursor {
                return Err(field(name, format!("offset {} misplaced", section.offset)));
            }
            if section.end() > self.file_bytes || section.end() < section.offset {
                return Err(field(
                    name,
                    format!("ends past the file at {}", section.end()),
                ));
            }
            cursor = section.end();
        }
        for shard in &self.shards {
            if shard.section.bytes as usize > SNAPSHOT_SHARD_BYTES_MAX || shard.section.bytes == 0 {
                return Err(field("shard", format!("{} bytes", shard.section.bytes)));
            }
            shard_permits = shard_permits.saturating_add(shard.permits);
        }
        if shard_permits != self.permits {
            return Err(field(
                "shards",
                format!("hold {shard_permits} permits, header says {}", self.permits),
            ));
        }
        if self.changes != self.permits {
            return Err(field(
                "changes",
                format!("{} slots for {} permits", self.changes, self.permits),
            ));
        }
        if Some(self.changes_index.bytes) != self.changes.checked_mul(CHANGE_SLOT_BYTES) {
            return Err(field(
                "changes_index",
                format!(
                    "{} bytes, expected {CHANGE_SLOT_BYTES} × {} slots",
                    self.changes_index.bytes, self.changes
                ),
            ));
        }
        if Some(self.event_ids.bytes) != self.event_id_count.checked_mul(EVENT_ID_BYTES) {
            return Err(field(
                "event_ids",
                format!(
                    "{} bytes, expected {EVENT_ID_BYTES} × {} ids",
                    self.event_ids.bytes, self.event_id_count
                ),
            ));
        }
        Ok(())
    }
}

/// Rounds up to the next page boundary.
pub fn page_align(offset: u64) -> u64 {
    offset.div_ceil(PAGE_BYTES) * PAGE_BYTES
}
