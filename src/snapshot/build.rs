//! Writing a snapshot: permits in, one immutable file out, published by atomic rename.
//!
//! Files are named by the sequence number they cover (`snapshot-00000000000000000042.rkyv`);
//! `CURRENT` names the one readers open. Both are written under a temporary name, fsync'd and
//! renamed, and the directory is fsync'd, so a crash leaves either the old or the new snapshot
//! visible, never a partial one.
//!
//! Event ids: [`publish_with`], [`to_bytes_with`] and [`write`] take the applied event ids'
//! 128-bit hashes in any order, duplicates allowed; the builder records them sorted and distinct
//! (borrowing the caller's slice when it already is, sorting a copy otherwise: ~1 s for 10M).
//! [`publish`] and [`to_bytes`] record none.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rkyv::util::AlignedVec;

use crate::answer::{answer_valid_through, PermitView};
use crate::catalog::Catalog;
use crate::domain::{Date, Permit};
use crate::limits::{
    SNAPSHOT_PERMITS_MAX, SNAPSHOT_SHARDS_MAX, SNAPSHOT_SHARD_BYTES_MAX, SNAPSHOT_SHARD_PERMITS_MAX,
};
use crate::qr::Token;
use crate::snapshot::answers::AnswersWriter;
use crate::snapshot::format::{page_align, Header, Section, ShardEntry, HEADER_BYTES};
use crate::snapshot::index::{
    build_number_index, build_token_index, write_changes_index, write_event_ids, Location,
};

pub const CURRENT_FILE: &str = "CURRENT";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot write snapshot: {0}")]
    Io(#[from] io::Error),
    #[error("{got} permits exceed the snapshot limit of {SNAPSHOT_PERMITS_MAX}")]
    TooManyPermits { got: usize },
    #[error("the permits need more than {SNAPSHOT_SHARDS_MAX} shards")]
    TooManyShards,
    #[error("permit {number} alone serializes to more than {SNAPSHOT_SHARD_BYTES_MAX} bytes")]
    PermitTooLarge { number: String },
    #[error("rkyv serialization failed: {0}")]
    Serialize(String),
    #[error("permits are not in strictly increasing number order at {number}")]
    Order { number: String },
    #[error("the embedded catalogue does not load: {0}")]
    Catalog(String),
}

/// What the pre-rendered answers are rendered with: the catalogue (licence names, departments)
/// and the date they are rendered for.
#[derive(Clone, Copy)]
pub struct Rendering<'a> {
    pub catalog: &'a Catalog,
    pub as_of: Date,
}

fn embedded_catalog() -> Result<Catalog, BuildError> {
    Catalog::embedded().map_err(|e| BuildError::Catalog(e.to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildStats {
    pub permits: u64,
    pub versions: u64,
    pub licences: u64,
    pub shards: usize,
    pub file_bytes: u64,
    /// Distinct event ids recorded.
    pub event_ids: u64,
}

/// The file name of the snapshot covering `sequence`.
pub fn snapshot_file_name(sequence: u64) -> String {
    format!("snapshot-{sequence:020}.rkyv")
}

/// Writes `permits` (sorted by number, distinct) as the snapshot covering `sequence` into
/// `data_dir`, then points `CURRENT` at it, with answers rendered for today by the embedded
/// catalogue and no event ids. Returns the new file's path.
///
/// # Errors
/// [`BuildError`] on I/O failure or when the permits exceed a limit; nothing is published then.
pub fn publish(
    data_dir: &Path,
    permits: &[Permit],
    sequence: u64,
) -> Result<(PathBuf, BuildStats), BuildError> {
    let catalog = embedded_catalog()?;
    let rendering = Rendering {
        catalog: &catalog,
        as_of: Date::today_in_beijing(),
    };
    publish_with(data_dir, permits, sequence, &[], &rendering)
}

/// [`publish`] with explicit rendering and the applied event ids (any order, duplicates
/// allowed).
pub fn publish_with(
    data_dir: &Path,
    permits: &[Permit],
    sequence: u64,
    event_ids: &[u128],
    rendering: &Rendering<'_>,
) -> Result<(PathBuf, BuildStats), BuildError> {
    publish_by(data_dir, sequence, |file| {
        write(file, permits, sequence, event_ids, rendering)
    })
}

/// [`publish_with`] for permits that arrive in runs instead of one slice: `next_run` hands out
/// the next run of permits in increasing number order (at most [`SNAPSHOT_SHARD_PERMITS_MAX`]
/// each, one shard apiece), `None` at the end. Compaction streams the old snapshot through this,
/// so memory holds two runs at a time, not every permit.
pub fn publish_runs(
    data_dir: &Path,
    sequence: u64,
    event_ids: &[u128],
    rendering: &Rendering<'_>,
    next_run: &mut dyn FnMut() -> Result<Option<Vec<Permit>>, BuildError>,
) -> Result<(PathBuf, BuildStats), BuildError> {
    publish_by(data_dir, sequence, |file| {
        let mut source = || Ok(next_run()?.map(Cow::Owned));
        write_runs(
            file,
            &mut source,
            sequence,
            event_ids,
            rendering,
            SNAPSHOT_SHARD_PERMITS_MAX,
        )
    })
}

/// Writes the snapshot file with `write_file` under a temporary name, fsyncs, renames, then
/// points `CURRENT` at it the same way and fsyncs the directory.
fn publish_by(
    data_dir: &Path,
    sequence: u64,
    write_file: impl FnOnce(&mut PacedFile) -> Result<BuildStats, BuildError>,
) -> Result<(PathBuf, BuildStats), BuildError> {
    fs::create_dir_all(data_dir)?;
    let name = snapshot_file_name(sequence);
    let path = data_dir.join(&name);
    let temporary = data_dir.join(format!(".{name}.tmp"));
    let stats = {
        let mut file = PacedFile {
            file: File::create(&temporary)?,
            unsynced: 0,
        };
        let stats = match write_file(&mut file) {
            Ok(stats) => stats,
            Err(e) => {
                drop(file);
                let _ = fs::remove_file(&temporary);
                return Err(e);
            }
        };
        file.file.sync_all()?;
        stats
    };
    fs::rename(&temporary, &path)?;
    let current_temporary = data_dir.join(".CURRENT.tmp");
    {
        let mut file = File::create(&current_temporary)?;
        writeln!(file, "{name}")?;
        file.sync_all()?;
    }
    fs::rename(&current_temporary, data_dir.join(CURRENT_FILE))?;
    File::open(data_dir)?.sync_all()?;
    Ok((path, stats))
}

/// Written bytes flushed to disk every [`PACED_SYNC_BYTES`] while a snapshot is written, so the
/// final fsync does not flush gigabytes at once (on this machine one large flush stalled other
/// processes' I/O for long stretches).
const PACED_SYNC_BYTES: u64 = 64 << 20;

/// A file that `fdatasync`s itself every [`PACED_SYNC_BYTES`] written.
pub struct PacedFile {
    file: File,
    unsynced: u64,
}

impl Write for PacedFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.file.write(bytes)?;
        self.unsynced += written as u64;
        if self.unsynced >= PACED_SYNC_BYTES {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for PacedFile {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        self.file.seek(position)
    }
}

/// The snapshot file `CURRENT` names in `data_dir`.
pub fn current_path(data_dir: &Path) -> io::Result<PathBuf> {
    let text = fs::read_to_string(data_dir.join(CURRENT_FILE))?;
    let name = text.trim();
    let well_formed = name.starts_with("snapshot-")
        && name.ends_with(".rkyv")
        && !name.contains('/')
        && !name.contains("..");
    if !well_formed {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("CURRENT names {name:?}, not a snapshot file name"),
        ));
    }
    Ok(data_dir.join(name))
}

/// Serializes `permits` into memory, with no event ids: the same bytes [`publish`] writes, for
/// tests and benches.
pub fn to_bytes(permits: &[Permit], sequence: u64) -> Result<AlignedVec, BuildError> {
    let catalog = embedded_catalog()?;
    let rendering = Rendering {
        catalog: &catalog,
        as_of: Date::today_in_beijing(),
    };
    to_bytes_with(permits, sequence, &[], &rendering)
}

/// [`to_bytes`] with the applied event ids (any order, duplicates allowed) and explicit rendering
/// (tests render for a fixed date).
pub fn to_bytes_with(
    permits: &[Permit],
    sequence: u64,
    event_ids: &[u128],
    rendering: &Rendering<'_>,
) -> Result<AlignedVec, BuildError> {
    let mut cursor = io::Cursor::new(Vec::new());
    write(&mut cursor, permits, sequence, event_ids, rendering)?;
    let mut aligned = AlignedVec::with_capacity(cursor.get_ref().len());
    aligned.extend_from_slice(cursor.get_ref());
    Ok(aligned)
}

/// Writes a snapshot to `out` (positioned at 0). `permits` are sorted by number and distinct;
/// `event_ids` are the applied event ids' hashes in any order, duplicates allowed (recorded
/// sorted and distinct).
pub fn write<W: Write + Seek>(
    out: &mut W,
    permits: &[Permit],
    sequence: u64,
    event_ids: &[u128],
    rendering: &Rendering<'_>,
) -> Result<BuildStats, BuildError> {
    write_sharded(
        out,
        permits,
        sequence,
        event_ids,
        rendering,
        SNAPSHOT_SHARD_PERMITS_MAX,
    )
}

/// `ids` sorted and distinct: borrowed when they already are, else a sorted, deduplicated copy.
fn sorted_distinct(ids: &[u128]) -> Cow<'_, [u128]> {
    if ids.windows(2).all(|w| w[0] < w[1]) {
        return Cow::Borrowed(ids);
    }
    let mut copy = ids.to_vec();
    copy.sort_unstable();
    copy.dedup();
    Cow::Owned(copy)
}

/// [`write`] with shards of at most `shard_permits_max` permits (tests use small shards).
pub(crate) fn write_sharded<W: Write + Seek>(
    out: &mut W,
    permits: &[Permit],
    sequence: u64,
    event_ids: &[u128],
    rendering: &Rendering<'_>,
    shard_permits_max: usize,
) -> Result<BuildStats, BuildError> {
    if permits.len() as u64 > SNAPSHOT_PERMITS_MAX {
        return Err(BuildError::TooManyPermits { got: permits.len() });
    }
    let mut chunks = chunk_ranges(permits.len(), shard_permits_max).into_iter();
    let mut source = || Ok(chunks.next().map(|range| Cow::Borrowed(&permits[range])));
    write_runs(
        out,
        &mut source,
        sequence,
        event_ids,
        rendering,
        shard_permits_max,
    )
}

/// A source of runs of permits in increasing number order; `None` at the end.
type Runs<'s, 'p> = dyn FnMut() -> Result<Option<Cow<'p, [Permit]>>, BuildError> + 's;

/// The writer behind [`write_sharded`] and [`publish_runs`]: runs come from `next_run`, each
/// becomes one shard (or several, if one passes the shard byte limit).
fn write_runs<'p, W: Write + Seek>(
    out: &mut W,
    next_run: &mut Runs<'_, 'p>,
    sequence: u64,
    event_ids: &[u128],
    rendering: &Rendering<'_>,
    shard_permits_max: usize,
) -> Result<BuildStats, BuildError> {
    let mut body = BodyWriter {
        out: BufWriter::with_capacity(1 << 20, out),
        hasher: blake3::Hasher::new(),
        offset: HEADER_BYTES as u64,
    };
    body.out.write_all(&[0u8; HEADER_BYTES])?;

    let mut shards: Vec<ShardEntry> = Vec::new();
    let mut number_entries = Vec::new();
    let mut token_entries = Vec::new();
    let mut change_entries = Vec::new();
    let mut licences: u64 = 0;
    let mut oldest_attestation = i64::MAX;
    let mut last_key: Option<u64> = None;
    let mut first = true;
    // Serialize two runs at a time, one per core, and write them in order. A run too large for
    // one shard is split in halves until each part fits.
    loop {
        let mut one = next_run()?;
        if first && one.is_none() {
            one = Some(Cow::Borrowed(&[])); // an empty snapshot still has a shard
        }
        first = false;
        let Some(one) = one else { break };
        let two = next_run()?;
        for run in std::iter::once(&one).chain(two.as_ref()) {
            if run.len() > shard_permits_max {
                return Err(BuildError::Serialize(format!(
                    "a run of {} permits is longer than a shard ({shard_permits_max})",
                    run.len()
                )));
            }
            for permit in run.iter() {
                let key = permit.number.key();
                if last_key.is_some_and(|last| last >= key) {
                    return Err(BuildError::Order {
                        number: permit.number.to_string(),
                    });
                }
                last_key = Some(key);
            }
            if (number_entries.len() + run.len()) as u64 > SNAPSHOT_PERMITS_MAX {
                return Err(BuildError::TooManyPermits {
                    got: number_entries.len() + run.len(),
                });
            }
        }
        let (one_out, two_out) = std::thread::scope(|scope| {
            let shard = |run: &[Permit]| serialize_fitting(run, 0..run.len(), rendering, sequence);
            let handle = two.as_deref().map(|run| scope.spawn(move || shard(run)));
            let one_out = shard(&one);
            (
                one_out,
                handle.map(|h| h.join().expect("serializer thread does not panic")),
            )
        });
        let runs = std::iter::once((&one, one_out)).chain(two.as_ref().zip(two_out));
        for (run, parts) in runs {
            for (range, archive, answers) in parts? {
                if shards.len() == SNAPSHOT_SHARDS_MAX {
                    return Err(BuildError::TooManyShards);
                }
                let section = body.append_page_aligned(&[&archive])?;
                let answers = body.append_page_aligned(&answers.parts())?;
                shards.push(ShardEntry {
                    section,
                    permits: range.len() as u64,
                    answers,
                });
                let shard = (shards.len() - 1) as u32;
                for (position, permit) in run[range].iter().enumerate() {
                    let location = Location {
                        shard,
                        position: position as u32,
                    };
                    number_entries.push((permit.number.key(), location));
                    change_entries.push((permit.sequence, location));
                    licences += permit.licences.len() as u64;
                    let attested = permit.attested().map_or(i64::MIN, |s| s.attested_at);
                    oldest_attestation = oldest_attestation.min(attested);
                    let versions = permit.superseded_versions.iter().map(|v| v.version);
                    for version in versions.chain([permit.version]) {
                        token_entries.push((
                            Token::for_version(&permit.number, version),
                            version,
                            location,
                        ));
                    }
                }
            }
        }
    }

    let number_index = body.append_page_aligned(&[&build_number_index(&number_entries)])?;
    let token_index = body.append_page_aligned(&[&build_token_index(&token_entries)])?;
    let versions = token_entries.len() as u64;
    drop(token_entries);

    // Two cheap arrays after the indexes: the changes (sorted in place) and the event ids.
    let changes = change_entries.len() as u64;
    let start = body.start_section()?;
    write_changes_index(&mut change_entries, &mut |part| body.write_part(part))?;
    let changes_index = body.section_since(start);
    drop(change_entries);
    let event_ids = sorted_distinct(event_ids);
    let start = body.start_section()?;
    write_event_ids(&event_ids, &mut |part| body.write_part(part))?;
    let event_ids_section = body.section_since(start);

    let header = Header {
        sequence,
        created_unix_ms: crate::event::Timestamp::now().unix_ms,
        permits: number_entries.len() as u64,
        versions,
        licences,
        file_bytes: body.offset,
        number_index,
        token_index,
        changes_index,
        event_ids: event_ids_section,
        changes,
        event_id_count: event_ids.len() as u64,
        oldest_attestation,
        body_checksum: *body.hasher.finalize().as_bytes(),
        shards,
        answers_as_of: rendering.as_of,
    };
    let out = body.out.into_inner().map_err(|e| e.into_error())?;
    out.seek(SeekFrom::Start(0))?;
    out.write_all(&header.encode())?;
    out.seek(SeekFrom::End(0))?;
    out.flush()?;
    Ok(BuildStats {
        permits: header.permits,
        versions: header.versions,
        licences,
        shards: header.shards.len(),
        file_bytes: header.file_bytes,
        event_ids: header.event_id_count,
    })
}

/// Appends to the body, hashing every byte and padding each section to a page boundary.
struct BodyWriter<W: Write> {
    out: BufWriter<W>,
    hasher: blake3::Hasher,
    offset: u64,
}

impl<W: Write> BodyWriter<W> {
    /// Appends `parts` back to back as one section.
    fn append_page_aligned(&mut self, parts: &[&[u8]]) -> io::Result<Section> {
        let start = self.start_section()?;
        for part in parts {
            self.write_part(part)?;
        }
        Ok(self.section_since(start))
    }

    /// Pads to the next page boundary, where a section starts; returns that offset.
    fn start_section(&mut self) -> io::Result<u64> {
        let aligned = page_align(self.offset);
        let padding = vec![0u8; (aligned - self.offset) as usize];
        self.write_part(&padding)?;
        Ok(aligned)
    }

    fn write_part(&mut self, part: &[u8]) -> io::Result<()> {
        self.out.write_all(part)?;
        self.hasher.update(part);
        self.offset += part.len() as u64;
        Ok(())
    }

    /// The section from `start` (returned by [`Self::start_section`]) to here.
    fn section_since(&self, start: u64) -> Section {
        Section {
            offset: start,
            bytes: self.offset - start,
        }
    }
}

/// Consecutive ranges of at most `shard_permits_max` permits covering `0..count` (one empty
/// range when there are none, so an empty snapshot still has a shard).
fn chunk_ranges(count: usize, shard_permits_max: usize) -> Vec<Range<usize>> {
    assert!(shard_permits_max > 0);
    if count == 0 {
        return std::iter::once(0..0).collect();
    }
    (0..count)
        .step_by(shard_permits_max)
        .map(|start| start..(start + shard_permits_max).min(count))
        .collect()
}

/// A run of permits archived as one shard (`ArchivedVec<ArchivedPermit>`) without copying them
/// into a `Vec` first: at 10M permits a copy would cost gigabytes.
struct ShardSlice<'a>(&'a [Permit]);

impl rkyv::Archive for ShardSlice<'_> {
    type Archived = rkyv::vec::ArchivedVec<crate::domain::permit::ArchivedPermit>;
    type Resolver = rkyv::vec::VecResolver;

    fn resolve(&self, resolver: Self::Resolver, out: rkyv::Place<Self::Archived>) {
        rkyv::vec::ArchivedVec::resolve_from_slice(self.0, resolver, out);
    }
}

impl<S> rkyv::Serialize<S> for ShardSlice<'_>
where
    S: rkyv::rancor::Fallible + rkyv::ser::Allocator + rkyv::ser::Writer + ?Sized,
    Permit: rkyv::Serialize<S>,
{
    fn serialize(&self, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        rkyv::vec::ArchivedVec::serialize_from_slice(self.0, serializer)
    }
}

/// A shard: its permits' range, its rkyv archive, and its pre-rendered answers.
type Shard = (Range<usize>, AlignedVec, AnswersWriter);

/// Serializes `permits[range]` as one shard with its answers, or as several shards if it passes
/// the shard byte limit.
fn serialize_fitting(
    permits: &[Permit],
    range: Range<usize>,
    rendering: &Rendering<'_>,
    sequence: u64,
) -> Result<Vec<Shard>, BuildError> {
    // ~500 bytes a permit: reserving up front saves re-copying a growing buffer.
    let estimate = (range.len() * 512).min(SNAPSHOT_SHARD_BYTES_MAX);
    let archive = rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(
        &ShardSlice(&permits[range.clone()]),
        AlignedVec::with_capacity(estimate),
    )
    .map_err(|e| BuildError::Serialize(e.to_string()))?;
    if archive.len() > SNAPSHOT_SHARD_BYTES_MAX {
        if range.len() == 1 {
            return Err(BuildError::PermitTooLarge {
                number: permits[range.start].number.to_string(),
            });
        }
        drop(archive);
        let middle = range.start + range.len() / 2;
        let mut parts = serialize_fitting(permits, range.start..middle, rendering, sequence)?;
        parts.extend(serialize_fitting(
            permits,
            middle..range.end,
            rendering,
            sequence,
        )?);
        return Ok(parts);
    }
    // Render from the archive just written: the answers read exactly what the resolver reads.
    let archived =
        rkyv::access::<crate::snapshot::reader::ArchivedShard, rkyv::rancor::Error>(&archive)
            .map_err(|e| BuildError::Serialize(e.to_string()))?;
    let mut answers = AnswersWriter::with_capacity(range.len(), range.len() * 1536);
    for permit in archived.iter() {
        let view = PermitView::new(permit, None, rendering.catalog, rendering.as_of, sequence);
        answers.push(
            &view.to_json(),
            answer_valid_through(permit, rendering.as_of),
        );
    }
    Ok(vec![(range, archive, answers)])
}
