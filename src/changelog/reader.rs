//! Following the log from another process while the writer appends to it.
//!
//! A reader hands out a record only once it is complete and its checksum holds. At the end of
//! the newest segment it applies recovery's rule (see [`classify_tail`]): a bad tail with no
//! valid record after it is the writer mid-write, or a torn tail a restarting writer will cut,
//! so the reader waits there; a valid record after it is corruption. Since it only ever consumed
//! records recovery keeps, a writer that restarts and rewrites the tail is simply followed.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::format::{
    check_header, classify_tail, decode, record_bytes, segment_path, Defect, Frame, HeaderCheck,
    Tail, SEGMENT_HEADER_BYTES,
};
use super::{list_segments, LogError, LogOptions, LogRecord};

/// Bytes read at a time from a segment (more if one record needs more).
const READ_CHUNK_BYTES: usize = 1 << 20;
/// Every this many polls that found nothing, the reader looks for the next segment even if the
/// current one has not reached the roll size (in case the writer uses smaller segments), and
/// checks that the current one was not retired from under it.
const IDLE_POLLS_PER_PROBE: u64 = 64;

/// Follows the log from after a given seq, in another process than the writer.
#[derive(Debug)]
pub struct LogReader {
    dir: PathBuf,
    options: LogOptions,
    /// Records up to this seq are verified but not handed out.
    after_seq: u64,
    /// The seq the next record must carry (while no segment is open: the one wanted).
    next_seq: u64,
    /// `None` until the log has a segment.
    segment: Option<Segment>,
    buf: Vec<u8>,
    /// The current segment's size and mtime when its end was last found incomplete or torn:
    /// until either changes there is nothing new to look at.
    stalled: Option<Stamp>,
    idle_polls: u64,
    /// The path of the segment starting at the given seq, kept so polling allocates nothing.
    probe: Option<(u64, PathBuf)>,
}

#[derive(Debug)]
struct Segment {
    file: File,
    path: PathBuf,
    first_seq: u64,
    /// Offset of the next record; 0 until the header is verified.
    pos: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(metadata: &Metadata) -> Stamp {
        Stamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// What one step of reading did.
enum Step {
    /// Read or skipped records, verified a header or moved to the next segment: step again.
    Progress,
    /// Nothing more is available now.
    Wait,
}

impl LogReader {
    /// Positions a reader after record `after_seq` (0 to read from the log's start), with
    /// production settings. See [`open_with`](LogReader::open_with).
    pub fn open(dir: &Path, after_seq: u64) -> Result<LogReader, LogError> {
        LogReader::open_with(dir, after_seq, LogOptions::default())
    }

    /// [`open`](LogReader::open) with the writer's settings. A log (or directory) that does not
    /// exist yet is empty: the reader waits for its first segment.
    ///
    /// # Errors
    /// [`LogError::Retired`] if the log now starts after `after_seq + 1` (those records are in a
    /// snapshot only); [`LogError::Io`] if the directory cannot be listed or a segment opened.
    pub fn open_with(
        dir: &Path,
        after_seq: u64,
        options: LogOptions,
    ) -> Result<LogReader, LogError> {
        let mut reader = LogReader {
            dir: dir.to_path_buf(),
            options,
            after_seq,
            next_seq: after_seq.saturating_add(1),
            segment: None,
            buf: Vec::new(),
            stalled: None,
            idle_polls: 0,
            probe: None,
        };
        reader.locate()?;
        Ok(reader)
    }

    /// Every record up to this seq has been handed out or skipped.
    pub fn consumed_through(&self) -> u64 {
        self.after_seq.max(self.next_seq.saturating_sub(1))
    }

    /// Appends to `out` every complete, valid record available now, up to `max_records`, and
    /// returns how many. Follows segment rolls. Stops quietly at an incomplete or torn end of
    /// the newest segment; the next call continues from there. On an error, `out` keeps the
    /// records read before it.
    ///
    /// When nothing is new this allocates nothing and costs one `fstat` of the current segment,
    /// plus a `stat` of the next segment's name once the current one has passed the roll size,
    /// and two `stat`s every 64th call that found nothing (a writer with smaller segments, a
    /// segment retired from under the reader). Before the log has any segment: a `stat` of the
    /// segment wanted, and a directory listing every 64th call.
    ///
    /// # Errors
    /// [`LogError::Corrupt`] for damage recovery would also refuse (a bad record followed by a
    /// valid one, a bad end of a segment a newer one follows, a wrong header),
    /// [`LogError::Retired`] if the segment the reader needs next was deleted before it got
    /// there, [`LogError::Io`].
    pub fn read_available(
        &mut self,
        max_records: usize,
        out: &mut Vec<LogRecord>,
    ) -> Result<usize, LogError> {
        let before = out.len();
        while out.len() - before < max_records {
            let room = max_records - (out.len() - before);
            match self.step(room, out)? {
                Step::Progress => {}
                Step::Wait => break,
            }
        }
        let read = out.len() - before;
        if read == 0 {
            self.idle_polls = self.idle_polls.wrapping_add(1);
        } else {
            self.idle_polls = 0;
        }
        Ok(read)
    }

    fn step(&mut self, room: usize, out: &mut Vec<LogRecord>) -> Result<Step, LogError> {
        let Some(segment) = self.segment.as_mut() else {
            return self.discover();
        };
        let metadata = segment
            .file
            .metadata()
            .map_err(LogError::io(&segment.path))?;
        let stamp = Stamp::of(&metadata);
        if self.stalled == Some(stamp) {
            return Ok(Step::Wait);
        }
        self.stalled = None;
        if segment.pos == 0 {
            return self.verify_header(stamp);
        }
        if stamp.len == segment.pos {
            return self.at_end();
        }
        if stamp.len < segment.pos {
            return Err(LogError::corrupt(
                &segment.path,
                stamp.len,
                format!(
                    "the segment shrank to {} bytes, below records already read (through byte \
                     {})",
                    stamp.len, segment.pos
                ),
            ));
        }
        self.read_records(room, out, stamp.len)
    }

    /// No segment yet: look for the one holding the record wanted (every poll, by name), or for
    /// any (every 64th idle poll, by listing the directory: the log may start elsewhere).
    fn discover(&mut self) -> Result<Step, LogError> {
        let wanted = self.after_seq.saturating_add(1);
        if !self.segment_exists(wanted)? && !self.probe_due() {
            return Ok(Step::Wait);
        }
        Ok(if self.locate()? {
            Step::Progress
        } else {
            Step::Wait
        })
    }

    /// Opens the segment holding record `after_seq + 1`; `false` if the log has no segment.
    fn locate(&mut self) -> Result<bool, LogError> {
        let wanted = self.after_seq.saturating_add(1);
        // A segment listed may be retired before it is opened: list again.
        for _ in 0..3 {
            let segments = match list_segments(&self.dir) {
                Ok(segments) => segments,
                Err(LogError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    return Ok(false)
                }
                Err(error) => return Err(error),
            };
            let Some(&(first_available, _)) = segments.first() else {
                return Ok(false);
            };
            if wanted < first_available {
                return Err(LogError::Retired {
                    wanted,
                    first_available,
                });
            }
            let Some((first_seq, path)) = segments.iter().rev().find(|(first, _)| *first <= wanted)
            else {
                return Ok(false);
            };
            match File::open(path) {
                Ok(file) => {
                    self.open_segment(file, path.clone(), *first_seq);
                    return Ok(true);
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(LogError::Io {
                        path: path.clone(),
                        source,
                    })
                }
            }
        }
        Ok(false)
    }

    fn open_segment(&mut self, file: File, path: PathBuf, first_seq: u64) {
        self.segment = Some(Segment {
            file,
            path,
            first_seq,
            pos: 0,
        });
        self.next_seq = first_seq;
        self.stalled = None;
    }

    /// Checks the current segment's header. A missing or torn header is the writer between
    /// creating the segment and writing it (or down), unless a newer segment exists: the writer
    /// starts one only after this one holds records, so then it is corruption. As at a
    /// record's end, the header is read again after a newer segment is seen.
    fn verify_header(&mut self, mut stamp: Stamp) -> Result<Step, LogError> {
        for look in 0..2 {
            let Some(segment) = self.segment.as_mut() else {
                return Ok(Step::Wait);
            };
            if look > 0 {
                let metadata = segment
                    .file
                    .metadata()
                    .map_err(LogError::io(&segment.path))?;
                stamp = Stamp::of(&metadata);
            }
            self.buf.clear();
            let header_bytes = stamp.len.min(SEGMENT_HEADER_BYTES as u64);
            read_at(&mut segment.file, 0, header_bytes, &mut self.buf)
                .map_err(LogError::io(&segment.path))?;
            let defect = match check_header(&self.buf) {
                HeaderCheck::Valid { first_seq } if first_seq == segment.first_seq => {
                    segment.pos = SEGMENT_HEADER_BYTES as u64;
                    return Ok(Step::Progress);
                }
                HeaderCheck::Valid { first_seq } => {
                    return Err(LogError::corrupt(
                        &segment.path,
                        8,
                        format!(
                            "the header says first seq {first_seq}, the file name {}",
                            segment.first_seq
                        ),
                    ))
                }
                HeaderCheck::Short => Defect::Truncated {
                    needed: SEGMENT_HEADER_BYTES,
                    have: self.buf.len(),
                },
                HeaderCheck::BadMagic => {
                    // The rest of the file too, to look for records after it.
                    let rest = stamp.len - header_bytes;
                    read_at(&mut segment.file, header_bytes, rest, &mut self.buf)
                        .map_err(LogError::io(&segment.path))?;
                    Defect::BadMagic
                }
            };
            let path = segment.path.clone();
            // Torn (zeros where the header did not reach the disk, say) unless records follow.
            if let Tail::Corrupt { why } = classify_tail(&self.buf, segment.first_seq, defect) {
                return Err(LogError::corrupt(&path, 0, why));
            }
            if !self.newer_segment_exists()? {
                self.stalled = Some(stamp);
                return Ok(Step::Wait);
            }
            if look > 0 {
                return Err(LogError::corrupt(
                    &path,
                    0,
                    format!("{defect}, yet a newer segment follows"),
                ));
            }
        }
        Ok(Step::Wait)
    }

    /// Reads records from `pos` up to `len`, stopping after `room` handed out or at the first
    /// boundary without a valid record.
    fn read_records(
        &mut self,
        room: usize,
        out: &mut Vec<LogRecord>,
        mut len: u64,
    ) -> Result<Step, LogError> {
        let Some(segment) = self.segment.as_mut() else {
            return Ok(Step::Wait);
        };
        self.buf.clear();
        // File offset of `buf[0]`.
        let mut buf_start = segment.pos;
        let mut progressed = false;
        let mut handed_out = 0;
        loop {
            let at = (segment.pos - buf_start) as usize;
            let available = self.buf.len() - at;
            let needed = match decode(&self.buf[at..], self.next_seq) {
                Frame::Record { seq, payload } => {
                    if seq > self.after_seq {
                        out.push(LogRecord {
                            seq,
                            payload: payload.to_vec(),
                        });
                        handed_out += 1;
                    }
                    segment.pos += record_bytes(payload.len());
                    self.next_seq = seq.checked_add(1).ok_or_else(|| {
                        LogError::corrupt(
                            &segment.path,
                            segment.pos,
                            "a record carries seq u64::MAX",
                        )
                    })?;
                    progressed = true;
                    if handed_out == room {
                        return Ok(Step::Progress);
                    }
                    continue;
                }
                Frame::Incomplete { needed } => needed,
                Frame::Bad(_) => break,
            };
            let in_file = len - segment.pos;
            if available as u64 >= in_file {
                break;
            }
            // More of the file is there: read it, keeping the unparsed bytes.
            self.buf.drain(..at);
            buf_start = segment.pos;
            let target = (needed.max(READ_CHUNK_BYTES) as u64).min(in_file);
            let wanted = target - self.buf.len() as u64;
            let offset = buf_start + self.buf.len() as u64;
            let read = read_at(&mut segment.file, offset, wanted, &mut self.buf)
                .map_err(LogError::io(&segment.path))?;
            if read < wanted {
                // Cut short by a concurrent truncation: this is the end for now.
                len = offset + read;
            }
        }
        if progressed {
            // Look at the end afresh next step.
            return Ok(Step::Progress);
        }
        self.examine_end()
    }

    /// The newest bytes of the segment, from `pos`, are no valid record. Reads them afresh (a
    /// write in progress may have been half visible) and waits at a torn tail or reports
    /// corruption, as recovery would decide.
    fn examine_end(&mut self) -> Result<Step, LogError> {
        for look in 0..2 {
            let Some(segment) = self.segment.as_mut() else {
                return Ok(Step::Wait);
            };
            let metadata = segment
                .file
                .metadata()
                .map_err(LogError::io(&segment.path))?;
            let stamp = Stamp::of(&metadata);
            if stamp.len <= segment.pos {
                // Shrank or nothing there: `step` decides.
                return Ok(Step::Progress);
            }
            self.buf.clear();
            read_at(
                &mut segment.file,
                segment.pos,
                stamp.len - segment.pos,
                &mut self.buf,
            )
            .map_err(LogError::io(&segment.path))?;
            let defect = match decode(&self.buf, self.next_seq) {
                Frame::Record { .. } => return Ok(Step::Progress),
                Frame::Incomplete { needed } => Defect::Truncated {
                    needed,
                    have: self.buf.len(),
                },
                Frame::Bad(defect) => defect,
            };
            let pos = segment.pos;
            if let Tail::Corrupt { why } = classify_tail(&self.buf, self.next_seq, defect) {
                return Err(LogError::corrupt(&segment.path, pos, why));
            }
            if !self.newer_segment_exists()? {
                self.stalled = Some(stamp);
                return Ok(Step::Wait);
            }
            if look == 1 {
                let path = self.current_path();
                return Err(LogError::corrupt(
                    &path,
                    pos,
                    format!("{defect}, at the end of a segment that a newer one follows"),
                ));
            }
            // A newer segment exists, so the writer finished this one: look once more.
        }
        Ok(Step::Wait)
    }

    /// At the end of the current segment: move to the next one if the writer has started it.
    fn at_end(&mut self) -> Result<Step, LogError> {
        let Some(segment) = self.segment.as_ref() else {
            return Ok(Step::Wait);
        };
        let len = segment.pos;
        let due = self.probe_due();
        if len <= self.options.segment_bytes_max && !due {
            return Ok(Step::Wait);
        }
        if !self.segment_exists(self.next_seq)? {
            if due && !self.current_exists()? {
                // Retired from under the reader; the writer never retires its active segment,
                // so a newer one exists. Unless it appeared just now, the next one is gone too.
                if !self.segment_exists(self.next_seq)? {
                    return Err(self.retired());
                }
            } else {
                return Ok(Step::Wait);
            }
        }
        // The writer wrote and synced this segment before creating the next: finish it first.
        let Some(segment) = self.segment.as_ref() else {
            return Ok(Step::Wait);
        };
        let len_now = segment
            .file
            .metadata()
            .map_err(LogError::io(&segment.path))?
            .len();
        if len_now != len {
            return Ok(Step::Progress);
        }
        let path = self.probe_path(self.next_seq).to_path_buf();
        match File::open(&path) {
            Ok(file) => {
                let first_seq = self.next_seq;
                self.open_segment(file, path, first_seq);
                Ok(Step::Progress)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Step::Wait),
            Err(source) => Err(LogError::Io { path, source }),
        }
    }

    fn retired(&self) -> LogError {
        let first_available = list_segments(&self.dir)
            .ok()
            .and_then(|segments| segments.first().map(|&(first, _)| first))
            .unwrap_or(self.next_seq);
        LogError::Retired {
            wanted: self.next_seq,
            first_available,
        }
    }

    fn probe_due(&self) -> bool {
        (self.idle_polls + 1).is_multiple_of(IDLE_POLLS_PER_PROBE)
    }

    fn probe_path(&mut self, first_seq: u64) -> &Path {
        let stale = !matches!(&self.probe, Some((seq, _)) if *seq == first_seq);
        if stale {
            self.probe = Some((first_seq, segment_path(&self.dir, first_seq)));
        }
        match &self.probe {
            Some((_, path)) => path,
            None => &self.dir,
        }
    }

    fn segment_exists(&mut self, first_seq: u64) -> Result<bool, LogError> {
        let path = self.probe_path(first_seq);
        exists(path)
    }

    /// Whether the directory holds a segment newer than the current one. Lists the directory:
    /// only called when the current segment's end changed and is not a valid record.
    fn newer_segment_exists(&self) -> Result<bool, LogError> {
        let Some(segment) = &self.segment else {
            return Ok(false);
        };
        let segments = list_segments(&self.dir)?;
        Ok(segments
            .last()
            .is_some_and(|&(first_seq, _)| first_seq > segment.first_seq))
    }

    fn current_exists(&self) -> Result<bool, LogError> {
        match &self.segment {
            Some(segment) => exists(&segment.path),
            None => Ok(false),
        }
    }

    fn current_path(&self) -> PathBuf {
        match &self.segment {
            Some(segment) => segment.path.clone(),
            None => self.dir.clone(),
        }
    }
}

fn exists(path: &Path) -> Result<bool, LogError> {
    match fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(LogError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Appends up to `bytes` bytes of `file` from `offset` to `buf`; fewer if the file is shorter.
fn read_at(file: &mut File, offset: u64, bytes: u64, buf: &mut Vec<u8>) -> io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    buf.reserve(bytes as usize);
    let read = Read::take(&mut *file, bytes).read_to_end(buf)?;
    Ok(read as u64)
}
