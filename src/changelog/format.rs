//! The change log's bytes: segment names and headers, record framing, and the one rule that tells
//! a torn tail from corruption. No I/O here; [`writer`](super::writer) and
//! [`reader`](super::reader) share it so that a reader refuses exactly what recovery refuses.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::limits::LOG_RECORD_BYTES_MAX;

/// The first 8 bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"PMTDLOG1";
/// Magic and the segment's first seq (u64 LE).
pub const SEGMENT_HEADER_BYTES: usize = 16;
/// Payload length (u32 LE), seq (u64 LE) and the truncated blake3 checksum, before the payload.
pub const RECORD_HEADER_BYTES: usize = 4 + 8 + CHECKSUM_BYTES;
/// Bytes of blake3 output kept per record.
pub const CHECKSUM_BYTES: usize = 16;

const SEGMENT_NAME_PREFIX: &str = "seg-";
const SEGMENT_NAME_SUFFIX: &str = ".log";
const SEGMENT_NAME_DIGITS: usize = 20;

/// `seg-<first_seq, 20 zero-padded digits>.log`: names sort in seq order.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{SEGMENT_NAME_PREFIX}{first_seq:020}{SEGMENT_NAME_SUFFIX}")
}

pub fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(segment_file_name(first_seq))
}

/// The first seq a segment file name carries; `None` for any other file name.
pub fn parse_segment_file_name(name: &OsStr) -> Option<u64> {
    let digits = name
        .to_str()?
        .strip_prefix(SEGMENT_NAME_PREFIX)?
        .strip_suffix(SEGMENT_NAME_SUFFIX)?;
    if digits.len() != SEGMENT_NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0; SEGMENT_HEADER_BYTES];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..].copy_from_slice(&first_seq.to_le_bytes());
    header
}

/// What the first bytes of a segment file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCheck {
    /// Magic present; the segment's first seq.
    Valid { first_seq: u64 },
    /// Fewer than 16 bytes.
    Short,
    /// 16 bytes or more, not starting with the magic.
    BadMagic,
}

pub fn check_header(bytes: &[u8]) -> HeaderCheck {
    let Some(header) = bytes.get(..SEGMENT_HEADER_BYTES) else {
        return HeaderCheck::Short;
    };
    if header[..8] != SEGMENT_MAGIC {
        return HeaderCheck::BadMagic;
    }
    HeaderCheck::Valid {
        first_seq: read_u64(&header[8..]),
    }
}

/// blake3 of `len_le ‖ seq_le ‖ payload`, truncated to 16 bytes.
pub fn checksum(len: u32, seq: u64, payload: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&len.to_le_bytes());
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    let mut out = [0; CHECKSUM_BYTES];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..CHECKSUM_BYTES]);
    out
}

/// Appends one framed record to `out`. The caller has checked `payload` against
/// [`LOG_RECORD_BYTES_MAX`] (which fits a u32).
pub fn encode_record(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    debug_assert!(payload.len() <= LOG_RECORD_BYTES_MAX);
    let len = payload.len() as u32;
    out.reserve(RECORD_HEADER_BYTES + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&checksum(len, seq, payload));
    out.extend_from_slice(payload);
}

/// Bytes one record of `payload_len` bytes takes in a segment.
pub fn record_bytes(payload_len: usize) -> u64 {
    (RECORD_HEADER_BYTES + payload_len) as u64
}

/// Why bytes at a record boundary are not the record expected there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// The data ends before the record does.
    Truncated { needed: usize, have: usize },
    /// The length field is beyond [`LOG_RECORD_BYTES_MAX`].
    TooLarge { len: u32 },
    /// The checksum does not match the bytes.
    Checksum { seq: u64 },
    /// A record with a valid checksum but the wrong seq: never a torn write.
    Sequence { expected: u64, got: u64 },
    /// A segment file without the magic.
    BadMagic,
}

impl Defect {
    /// Whether a write cut short by a crash could have left these bytes. A record whose checksum
    /// holds cannot be half-written, so a wrong seq on it is corruption (or a foreign writer).
    pub fn may_be_torn(self) -> bool {
        !matches!(self, Defect::Sequence { .. })
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Defect::Truncated { needed, have } => {
                write!(f, "incomplete record: {have} of {needed} bytes present")
            }
            Defect::TooLarge { len } => write!(
                f,
                "record length {len} exceeds the {LOG_RECORD_BYTES_MAX}-byte limit"
            ),
            Defect::Checksum { seq } => write!(f, "checksum mismatch (record claims seq {seq})"),
            Defect::Sequence { expected, got } => {
                write!(f, "record seq {got} where seq {expected} was expected")
            }
            Defect::BadMagic => write!(f, "segment header lacks the PMTDLOG1 magic"),
        }
    }
}

/// One record boundary decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete record with a matching checksum and the expected seq. It takes
    /// [`record_bytes`]`(payload.len())` bytes.
    Record { seq: u64, payload: &'a [u8] },
    /// `bytes` end before the record does; `needed` bytes from the boundary would hold it (28
    /// while the record header itself is incomplete).
    Incomplete { needed: usize },
    /// Not a valid record.
    Bad(Defect),
}

/// Decodes the record at the start of `bytes`, which must carry `expected_seq`.
pub fn decode(bytes: &[u8], expected_seq: u64) -> Frame<'_> {
    let Some(header) = bytes.get(..RECORD_HEADER_BYTES) else {
        return Frame::Incomplete {
            needed: RECORD_HEADER_BYTES,
        };
    };
    let len = read_u32(&header[..4]);
    if len as usize > LOG_RECORD_BYTES_MAX {
        return Frame::Bad(Defect::TooLarge { len });
    }
    let total = RECORD_HEADER_BYTES + len as usize;
    let Some(payload) = bytes.get(RECORD_HEADER_BYTES..total) else {
        return Frame::Incomplete { needed: total };
    };
    let seq = read_u64(&header[4..12]);
    if header[12..] != checksum(len, seq, payload) {
        return Frame::Bad(Defect::Checksum { seq });
    }
    if seq != expected_seq {
        return Frame::Bad(Defect::Sequence {
            expected: expected_seq,
            got: seq,
        });
    }
    Frame::Record { seq, payload }
}

/// What the bytes from the first bad record boundary to the end of the newest segment are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// What a crash mid-write leaves: no valid record anywhere after the bad boundary. Recovery
    /// truncates it; a reader waits at it.
    Torn,
    /// A valid record follows the bad one (or the bad one could not have been torn): bytes were
    /// damaged in the middle of the log.
    Corrupt { why: String },
}

/// Classifies `bytes`, which start at a record boundary where a record carrying `expected_seq`
/// was due and `defect` was found instead, and run to the end of the data.
///
/// A crash mid-write only damages what comes last: the suffix of the writer's unfinished
/// writes. So the tail is torn only if nothing after the bad boundary is a valid record. The
/// search looks at every byte offset (a damaged length field hides where the next record
/// starts) for a complete record whose seq could follow and whose checksum holds.
pub fn classify_tail(bytes: &[u8], expected_seq: u64, defect: Defect) -> Tail {
    if !defect.may_be_torn() {
        return Tail::Corrupt {
            why: defect.to_string(),
        };
    }
    match find_valid_record(bytes, 1, expected_seq) {
        None => Tail::Torn,
        Some((offset, seq)) => Tail::Corrupt {
            why: format!(
                "{defect}, yet a valid record (seq {seq}) follows {offset} bytes further on"
            ),
        },
    }
}

/// The first offset at or after `from` holding a complete record with a matching checksum and a
/// seq from `expected_seq` up to the most records that could fit in `bytes` after it.
fn find_valid_record(bytes: &[u8], from: usize, expected_seq: u64) -> Option<(usize, u64)> {
    let last_plausible_seq =
        expected_seq.saturating_add((bytes.len() / RECORD_HEADER_BYTES) as u64);
    let last_start = bytes.len().checked_sub(RECORD_HEADER_BYTES)?;
    (from..=last_start).find_map(|at| {
        let rest = &bytes[at..];
        let len = read_u32(&rest[..4]);
        if len as usize > LOG_RECORD_BYTES_MAX || RECORD_HEADER_BYTES + len as usize > rest.len() {
            return None;
        }
        let seq = read_u64(&rest[4..12]);
        if seq < expected_seq || seq > last_plausible_seq {
            return None;
        }
        let payload = &rest[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len as usize];
        (rest[12..RECORD_HEADER_BYTES] == checksum(len, seq, payload)).then_some((at, seq))
    })
}

fn read_u32(bytes: &[u8]) -> u32 {
    let mut le = [0; 4];
    le.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(le)
}

fn read_u64(bytes: &[u8]) -> u64 {
    let mut le = [0; 8];
    le.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(le)
}
