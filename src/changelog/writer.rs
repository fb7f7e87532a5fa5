//! The writer: recovery on open, buffered appends, group commit, segment rolls, retirement.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::format::{
    check_header, classify_tail, decode, encode_record, record_bytes, segment_header, segment_path,
    Defect, Frame, HeaderCheck, Tail, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use super::{list_segments, sync_dir, LogError, LogOptions};
use crate::limits::LOG_RECORD_BYTES_MAX;

/// Appended bytes are handed to the kernel once this many are buffered, so a large group costs
/// bounded memory (commit writes the rest). Records are written whole.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// What [`ChangeLog::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// The seq of the last record kept; `None` when the log holds no record.
    pub last_seq: Option<u64>,
    /// Records in the log, every one verified.
    pub records: u64,
    /// Segment files in the log.
    pub segments: usize,
    /// Bytes of torn tail cut from the newest segment (its whole length if even its header was
    /// torn; the header is then rewritten).
    pub truncated_bytes: u64,
}

/// The one writer of a change log directory.
///
/// Appends are buffered; [`commit`](ChangeLog::commit) makes them durable. Records appended but
/// not committed when the value is dropped may or may not be in the log afterwards (some may
/// have been handed to the kernel already): only a successful commit promises anything.
#[derive(Debug)]
pub struct ChangeLog {
    dir: PathBuf,
    options: LogOptions,
    /// Every segment, oldest first; the last is the active one.
    segments: Vec<(u64, PathBuf)>,
    active: Option<ActiveSegment>,
    /// Framed records (and a new segment's header) not yet written to `active`.
    pending: Vec<u8>,
    next_seq: Option<u64>,
    last_seq: Option<u64>,
    /// Bytes were written to the active segment since its last `fdatasync`.
    file_unsynced: bool,
    /// A segment was created since the directory's last `fsync`.
    dir_unsynced: bool,
    poisoned: bool,
    /// The exclusive lock on `DIR/LOCK`, held while this writer lives.
    _lock: File,
}

#[derive(Debug)]
struct ActiveSegment {
    file: File,
    path: PathBuf,
    /// Size including `pending`.
    bytes: u64,
    records: u64,
}

impl ChangeLog {
    /// Opens (creating it if missing) the log in `dir` with production settings, verifying every
    /// record and cutting a torn tail. See [`open_with`](ChangeLog::open_with).
    pub fn open(dir: &Path) -> Result<(ChangeLog, Recovery), LogError> {
        ChangeLog::open_with(dir, LogOptions::default())
    }

    /// [`open`](ChangeLog::open) with explicit settings (tests use small segments).
    ///
    /// # Errors
    /// [`LogError::Corrupt`] for damage anywhere but the tail of the newest segment (which is
    /// truncated instead), [`LogError::Io`] when a file cannot be read, truncated or synced.
    pub fn open_with(dir: &Path, options: LogOptions) -> Result<(ChangeLog, Recovery), LogError> {
        fs::create_dir_all(dir).map_err(LogError::io(dir))?;
        let lock_path = dir.join("LOCK");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(LogError::io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(LogError::Locked),
            Err(fs::TryLockError::Error(e)) => return Err(LogError::io(&lock_path)(e)),
        }
        let segments = list_segments(dir)?;
        let mut recovery = Recovery {
            last_seq: None,
            records: 0,
            segments: segments.len(),
            truncated_bytes: 0,
        };
        let mut next_seq: Option<u64> = None;
        let mut active = None;
        let mut bytes = Vec::new();
        for (index, (first_seq, path)) in segments.iter().enumerate() {
            let newest = index + 1 == segments.len();
            if let Some(expected) = next_seq {
                if *first_seq != expected {
                    return Err(LogError::corrupt(
                        path,
                        0,
                        format!(
                            "the segment starts at seq {first_seq}, but the one before it ends \
                             at seq {}",
                            expected.saturating_sub(1)
                        ),
                    ));
                }
            }
            bytes.clear();
            File::open(path)
                .and_then(|mut file| file.read_to_end(&mut bytes))
                .map_err(LogError::io(path))?;
            let scanned = scan_segment(path, &bytes, *first_seq, newest)?;
            recovery.records += scanned.records;
            if scanned.records > 0 {
                recovery.last_seq = Some(scanned.next_seq - 1);
            }
            next_seq = Some(scanned.next_seq);
            if newest {
                let (segment, truncated) = repair_newest(path, *first_seq, &bytes, &scanned)?;
                recovery.truncated_bytes = truncated;
                active = Some(segment);
            }
        }
        if !segments.is_empty() {
            sync_dir(dir)?;
        }
        let log = ChangeLog {
            dir: dir.to_path_buf(),
            options,
            segments,
            active,
            pending: Vec::new(),
            next_seq,
            last_seq: recovery.last_seq,
            file_unsynced: false,
            dir_unsynced: false,
            poisoned: false,
            _lock: lock,
        };
        Ok((log, recovery))
    }

    /// The seq the next [`append`](ChangeLog::append) must carry; `None` while the log has no
    /// segment, when any seq ≥ 1 may start it.
    pub fn next_seq(&self) -> Option<u64> {
        self.next_seq
    }

    /// The seq of the last record appended (committed or not) or recovered.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Buffers one record. Nothing is durable until [`commit`](ChangeLog::commit) returns `Ok`.
    ///
    /// Starts a new segment first if the active one has passed the size limit.
    ///
    /// # Errors
    /// [`LogError::Sequence`] unless `seq` is [`next_seq`](ChangeLog::next_seq) (or ≥ 1 on an
    /// empty log; `u64::MAX` is never accepted), [`LogError::RecordTooLarge`] past
    /// [`LOG_RECORD_BYTES_MAX`]: both leave the log as it was. [`LogError::Io`] when handing
    /// bytes to the kernel or rolling fails, which poisons the log; [`LogError::Poisoned`]
    /// after that.
    pub fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        if payload.len() > LOG_RECORD_BYTES_MAX {
            return Err(LogError::RecordTooLarge {
                bytes: payload.len(),
            });
        }
        let expected = self.next_seq.unwrap_or(seq.max(1));
        let following = seq.checked_add(1);
        let Some(following) = following.filter(|_| seq == expected) else {
            return Err(LogError::Sequence { expected, got: seq });
        };
        let roll = match &self.active {
            None => true,
            Some(active) => active.bytes > self.options.segment_bytes_max && active.records > 0,
        };
        if roll {
            let rolled = self.roll(seq);
            self.poison_on(rolled)?;
        }
        let Some(active) = self.active.as_mut() else {
            // `roll` either set an active segment or failed above.
            return Err(LogError::Poisoned);
        };
        encode_record(&mut self.pending, seq, payload);
        active.bytes += record_bytes(payload.len());
        active.records += 1;
        self.next_seq = Some(following);
        self.last_seq = Some(seq);
        if self.pending.len() >= WRITE_BUFFER_BYTES {
            let written = self.write_pending();
            self.poison_on(written)?;
        }
        Ok(())
    }

    /// Group commit: writes every buffered record, `fdatasync`s the segment, and `fsync`s the
    /// directory if a segment was created since the last commit. Acknowledge records only after
    /// this returns `Ok`. A commit with nothing appended does nothing.
    ///
    /// # Errors
    /// [`LogError::Io`] when a write or sync fails: the log is poisoned, since what reached the
    /// disk is then unknown; restart and let recovery decide. [`LogError::Poisoned`] after that.
    pub fn commit(&mut self) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        let synced = self.write_and_sync();
        self.poison_on(synced)
    }

    /// Deletes every segment all of whose records are ≤ `seq` (a durable snapshot covers them),
    /// never the active one; returns how many it deleted. The deletions are made durable.
    ///
    /// # Errors
    /// [`LogError::Io`] if a segment cannot be deleted (those deleted before it stay deleted) or
    /// the directory not synced; [`LogError::Poisoned`] on a poisoned log.
    pub fn retire_through(&mut self, seq: u64) -> Result<usize, LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        let mut removed = 0;
        // Segment 0 ends just before segment 1 starts.
        while self.segments.len() > 1 && self.segments[1].0 <= seq.saturating_add(1) {
            let path = &self.segments[0].1;
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(LogError::Io {
                        path: path.clone(),
                        source,
                    })
                }
            }
            self.segments.remove(0);
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    fn poison_on<T>(&mut self, result: Result<T, LogError>) -> Result<T, LogError> {
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn write_pending(&mut self) -> Result<(), LogError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        active
            .file
            .write_all(&self.pending)
            .map_err(LogError::io(&active.path))?;
        self.pending.clear();
        self.file_unsynced = true;
        Ok(())
    }

    fn write_and_sync(&mut self) -> Result<(), LogError> {
        self.write_pending()?;
        if self.file_unsynced {
            if let Some(active) = &self.active {
                active
                    .file
                    .sync_data()
                    .map_err(LogError::io(&active.path))?;
            }
            self.file_unsynced = false;
        }
        if self.dir_unsynced {
            sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        Ok(())
    }

    /// Closes the active segment (written out and synced, so nothing can reach the new segment
    /// while the old one might still be incomplete) and creates the one starting at `first_seq`.
    fn roll(&mut self, first_seq: u64) -> Result<(), LogError> {
        self.write_and_sync()?;
        let path = segment_path(&self.dir, first_seq);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(LogError::io(&path))?;
        self.pending.extend_from_slice(&segment_header(first_seq));
        self.segments.push((first_seq, path.clone()));
        self.active = Some(ActiveSegment {
            file,
            path,
            bytes: SEGMENT_HEADER_BYTES as u64,
            records: 0,
        });
        self.dir_unsynced = true;
        Ok(())
    }

    /// Swaps the active segment's handle for a read-only one, so the next write fails.
    #[cfg(test)]
    pub(super) fn break_active_file_for_test(&mut self) {
        if let Some(active) = self.active.as_mut() {
            if let Ok(read_only) = File::open(&active.path) {
                active.file = read_only;
            }
        }
    }
}

/// What scanning one segment found.
struct Scanned {
    records: u64,
    /// The seq the record after this segment's last must carry.
    next_seq: u64,
    /// Bytes from the start of the file through the last valid record.
    valid_bytes: u64,
    repair: Repair,
}

/// What recovery must do to the newest segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repair {
    Nothing,
    /// Cut the file after `valid_bytes`.
    CutTail,
    /// Even the header is torn: rewrite it, no records.
    RewriteHeader,
}

/// Verifies one segment file's bytes. Only in the newest segment may a torn tail end them.
fn scan_segment(
    path: &Path,
    bytes: &[u8],
    first_seq: u64,
    newest: bool,
) -> Result<Scanned, LogError> {
    if first_seq == 0 {
        return Err(LogError::corrupt(path, 0, "no record carries seq 0"));
    }
    let bad_header = match check_header(bytes) {
        HeaderCheck::Valid {
            first_seq: in_header,
        } if in_header == first_seq => None,
        HeaderCheck::Valid {
            first_seq: in_header,
        } => {
            return Err(LogError::corrupt(
                path,
                8,
                format!("the header says first seq {in_header}, the file name {first_seq}"),
            ))
        }
        HeaderCheck::Short => Some(Defect::Truncated {
            needed: SEGMENT_HEADER_BYTES,
            have: bytes.len(),
        }),
        HeaderCheck::BadMagic => Some(Defect::BadMagic),
    };
    if let Some(defect) = bad_header {
        end_of_segment(path, bytes, 0, first_seq, defect, newest)?;
        return Ok(Scanned {
            records: 0,
            next_seq: first_seq,
            valid_bytes: 0,
            repair: Repair::RewriteHeader,
        });
    }
    let mut offset = SEGMENT_HEADER_BYTES;
    let mut seq = first_seq;
    let mut records = 0;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let defect = match decode(rest, seq) {
            Frame::Record { payload, .. } => {
                offset += RECORD_HEADER_BYTES + payload.len();
                records += 1;
                seq = seq.checked_add(1).ok_or_else(|| {
                    LogError::corrupt(path, offset as u64, "a record carries seq u64::MAX")
                })?;
                continue;
            }
            Frame::Incomplete { needed } => Defect::Truncated {
                needed,
                have: rest.len(),
            },
            Frame::Bad(defect) => defect,
        };
        end_of_segment(path, rest, offset as u64, seq, defect, newest)?;
        return Ok(Scanned {
            records,
            next_seq: seq,
            valid_bytes: offset as u64,
            repair: Repair::CutTail,
        });
    }
    Ok(Scanned {
        records,
        next_seq: seq,
        valid_bytes: offset as u64,
        repair: Repair::Nothing,
    })
}

/// `Ok` if `rest` (from byte `offset` of the segment to its end, starting with `defect`) is a
/// torn tail recovery may cut; the corruption error otherwise.
fn end_of_segment(
    path: &Path,
    rest: &[u8],
    offset: u64,
    expected_seq: u64,
    defect: Defect,
    newest: bool,
) -> Result<(), LogError> {
    if !newest {
        return Err(LogError::corrupt(
            path,
            offset,
            format!("{defect}, in a segment that a newer one follows"),
        ));
    }
    match classify_tail(rest, expected_seq, defect) {
        Tail::Torn => Ok(()),
        Tail::Corrupt { why } => Err(LogError::corrupt(path, offset, why)),
    }
}

/// Opens the newest segment for appending after cutting its torn tail, and syncs it so that
/// what recovery kept is durable before anything builds on it. Returns it and the bytes cut.
fn repair_newest(
    path: &Path,
    first_seq: u64,
    bytes: &[u8],
    scanned: &Scanned,
) -> Result<(ActiveSegment, u64), LogError> {
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(LogError::io(path))?;
    let (size, truncated) = match scanned.repair {
        Repair::Nothing => (scanned.valid_bytes, 0),
        Repair::CutTail => {
            file.set_len(scanned.valid_bytes)
                .map_err(LogError::io(path))?;
            (
                scanned.valid_bytes,
                bytes.len() as u64 - scanned.valid_bytes,
            )
        }
        Repair::RewriteHeader => {
            file.set_len(0)
                .and_then(|()| file.write_all(&segment_header(first_seq)))
                .map_err(LogError::io(path))?;
            (SEGMENT_HEADER_BYTES as u64, bytes.len() as u64)
        }
    };
    file.sync_all().map_err(LogError::io(path))?;
    let segment = ActiveSegment {
        file,
        path: path.to_path_buf(),
        bytes: size,
        records: scanned.records,
    };
    Ok((segment, truncated))
}
