//! The resolver following a data directory: two threads beside the serving ones.
//!
//! - The **tailer** reads the change log ([`LogReader`]) from the installed snapshot's sequence
//!   on, and puts each record's permit into the [`Overlay`](super::overlay::Overlay) with its
//!   answer rendered; a seal note puts its seal on the entry of the state it attests (when
//!   that is still the entry: [`SealNote::apply_to`]). Idle, it looks again every
//!   [`LOG_TAIL_POLL_INTERVAL`].
//! - The **watcher** looks at `CURRENT` every [`SNAPSHOT_POLL_INTERVAL`]; when it names a new
//!   snapshot, it opens and verifies it here (off the request path), installs it with one
//!   atomic swap, then prunes the overlay entries the new snapshot covers.
//!
//! Requests never wait on either: a request holds the snapshot it loaded until it answers, and
//! the overlay is read under shard read locks that writes hold for one `Arc` swap.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use memmap2::Mmap;

use crate::changelog::{LogError, LogReader};
use crate::limits::LOG_TAIL_POLL_INTERVAL;
use crate::qr::Token;
use crate::server::overlay::OverlayEntry;
use crate::server::resolver::Resolver;
use crate::snapshot::{self, SnapshotFile};
use crate::writer::{Record, SealNote, LOG_DIR};

/// How often the watcher reads `CURRENT`.
pub const SNAPSHOT_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Records the tailer reads per pass.
const TAIL_BATCH_RECORDS: usize = 4096;

/// A snapshot file as a resolver knows it: its path and the inode found there when it was
/// opened (a renewal-only compaction puts a new file under the same name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    path: PathBuf,
    id: Option<(u64, u64)>,
}

impl FileIdentity {
    /// The file at `path` now: take it *before* opening the file, so that a replacement in
    /// between is seen as new (and verified once more) rather than missed.
    pub fn of(path: &Path) -> FileIdentity {
        FileIdentity {
            path: path.to_owned(),
            id: file_id(path),
        }
    }
}

/// Starts the tailer and the watcher for `data_dir`. They stop when `stop` turns true.
/// `installed` is the snapshot file the resolver was started on, if any (not verified twice).
pub fn start(
    resolver: Arc<Resolver<Mmap>>,
    data_dir: &Path,
    installed: Option<FileIdentity>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    let watcher = {
        let (resolver, dir, stop) = (resolver.clone(), data_dir.to_owned(), stop.clone());
        std::thread::Builder::new()
            .name("permitd-watch".into())
            .spawn(move || watch(&resolver, &dir, installed, &stop))?
    };
    let tailer = {
        let (dir, stop) = (data_dir.to_owned(), stop);
        std::thread::Builder::new()
            .name("permitd-tail".into())
            .spawn(move || tail(&resolver, &dir, &stop))?
    };
    Ok(vec![watcher, tailer])
}

fn watch(
    resolver: &Resolver<Mmap>,
    data_dir: &Path,
    mut installed: Option<FileIdentity>,
    stop: &AtomicBool,
) {
    // Verifying a new snapshot and recounting the aggregates read the whole file: background
    // work, so the serving threads on the same cores come first.
    crate::background::lower_this_thread("the snapshot watcher");
    // A file is known by its path and inode: a compaction that only renews attestations
    // publishes the same sequence under the same name, a new file renamed over the old one.
    let mut failed: Option<FileIdentity> = None;
    let keys_path = crate::trust::seal::public_keys_path(data_dir);
    let mut keys_modified = None;
    while !stop.load(Ordering::Relaxed) {
        // The public key set grows when the writer starts with a new key (rotation).
        let modified = std::fs::metadata(&keys_path)
            .and_then(|m| m.modified())
            .ok();
        if modified.is_some() && modified != keys_modified {
            keys_modified = modified;
            if let Err(e) = resolver.load_public_keys(data_dir) {
                eprintln!("permitd: keeping the served key set: {e}");
            }
        }
        if let Ok(path) = snapshot::current_path(data_dir) {
            let seen = Some(FileIdentity::of(&path));
            if installed != seen && failed != seen {
                match SnapshotFile::open(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|f| f.verify().map_err(|e| e.to_string()))
                {
                    Ok(snapshot) => {
                        let sequence = snapshot.header().sequence;
                        let newer = resolver
                            .snapshot()
                            .is_none_or(|old| old.header().sequence <= sequence);
                        if newer {
                            resolver.install(snapshot);
                            resolver.overlay().prune(sequence);
                        }
                        installed = seen;
                    }
                    Err(why) => {
                        // Keep serving the old one; a corrupt file is never installed.
                        eprintln!("permitd: not installing {}: {why}", path.display());
                        failed = seen;
                    }
                }
            }
        }
        // A new day: a licence's end date may have passed, so the counts are made again.
        resolver.refresh_aggregates();
        std::thread::sleep(SNAPSHOT_POLL_INTERVAL);
    }
}

/// The device and inode of the file at `path`, if it exists.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The overlay's permit with `note`'s seal on it, when the note is of that entry's state. (No
/// entry: the installed snapshot covers the state, and every permit in a snapshot is sealed.)
fn sealed(
    resolver: &Resolver<Mmap>,
    note: &SealNote,
    covered: u64,
) -> Option<crate::domain::Permit> {
    let entry = resolver.overlay().get(note.number.key(), covered)?;
    if entry.sequence != note.seal.sequence {
        return None;
    }
    let mut permit =
        rkyv::deserialize::<crate::domain::Permit, rkyv::rancor::Error>(entry.permit()).ok()?;
    note.apply_to(&mut permit).then_some(permit)
}

fn tail(resolver: &Resolver<Mmap>, data_dir: &Path, stop: &AtomicBool) {
    let log_dir = data_dir.join(LOG_DIR);
    let mut reader: Option<LogReader> = None;
    let mut position = 0u64;
    let mut records = Vec::with_capacity(TAIL_BATCH_RECORDS);
    while !stop.load(Ordering::Relaxed) {
        let covered = resolver.snapshot().map_or(0, |s| s.header().sequence);
        if reader.is_none() {
            // From the snapshot on (or where we were, if further).
            let after = position.max(covered);
            match LogReader::open(&log_dir, after) {
                Ok(r) => {
                    reader = Some(r);
                    position = after;
                }
                Err(LogError::Retired { .. }) => {
                    // The writer compacted past us: the watcher installs the new snapshot soon.
                    std::thread::sleep(SNAPSHOT_POLL_INTERVAL);
                    continue;
                }
                Err(_) => {
                    // No log yet (no writer has run) or a transient error: look again.
                    std::thread::sleep(SNAPSHOT_POLL_INTERVAL);
                    continue;
                }
            }
        }
        records.clear();
        let read = reader
            .as_mut()
            .expect("opened above")
            .read_available(TAIL_BATCH_RECORDS, &mut records);
        match read {
            Ok(0) => std::thread::sleep(LOG_TAIL_POLL_INTERVAL),
            Ok(_) => {
                let today = resolver.today();
                for record in &records {
                    position = record.seq;
                    if record.seq <= covered {
                        continue;
                    }
                    let permit = match Record::decode(record) {
                        Ok(Record::Event(entry)) => entry.into_permit(record.seq),
                        Ok(Record::Sealed(note)) => match sealed(resolver, &note, covered) {
                            Some(permit) => Ok(permit),
                            None => continue,
                        },
                        Err(e) => Err(e),
                    };
                    match permit {
                        Ok(permit) => {
                            let permit = &permit;
                            let token = Token::for_version(&permit.number, permit.version);
                            let rendered = OverlayEntry::new(permit, resolver.catalog(), today);
                            resolver
                                .overlay()
                                .insert(permit.number.key(), token, rendered);
                        }
                        Err(e) => eprintln!("permitd: skipping change log record: {e}"),
                    }
                }
                resolver.set_followed(position);
            }
            Err(e) => {
                eprintln!("permitd: reading the change log: {e}; reopening");
                reader = None;
                std::thread::sleep(SNAPSHOT_POLL_INTERVAL);
            }
        }
    }
}
