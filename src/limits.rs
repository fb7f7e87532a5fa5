//! Every bound permitd enforces, in one place. Units last in names.
//!
//! A limit that is not here is a bug: queues, bodies, connections, batch sizes, files.

use std::time::Duration;

/// Longest text field accepted in an event (operator name, premises, reasons…), in bytes.
pub const TEXT_FIELD_BYTES_MAX: usize = 512;
/// Most single licences one permit may cover. The catalogue's largest industry lists 6.
pub const LICENCES_PER_PERMIT_MAX: usize = 16;
/// Most earlier versions a permit remembers (each answers "superseded by N" when scanned).
pub const SUPERSEDED_VERSIONS_MAX: usize = 64;
/// Longest NDJSON line read from a feed file, in bytes.
pub const FEED_LINE_BYTES_MAX: usize = 64 * 1024;

/// Most permits one snapshot holds.
pub const SNAPSHOT_PERMITS_MAX: u64 = 50_000_000;
/// Largest serialized shard, in bytes: well under rkyv's 2 GiB reach of 32-bit relative pointers.
pub const SNAPSHOT_SHARD_BYTES_MAX: usize = 1 << 30;
/// Permits per shard when building; a shard is closed early if it would pass the byte limit.
pub const SNAPSHOT_SHARD_PERMITS_MAX: usize = 1 << 19;
/// Most shards in one snapshot; the shard table (40 bytes a shard) lives in the header page.
pub const SNAPSHOT_SHARDS_MAX: usize = 96;

/// Most TCP connections the resolver serves at once; more wait in the accept backlog.
pub const CONNECTIONS_MAX: usize = 10_000;
/// Most serving threads (one per core) the resolver starts.
pub const SERVING_THREADS_MAX: usize = 64;
/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line + headers) the resolver reads, in bytes.
pub const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;
/// QR images and certificate faces a resolver keeps rendered (1–12 KB each, so ≤ ~12 MB).
pub const IMAGE_CACHE_ENTRIES_MAX: usize = 1024;
/// Longest request path the router looks at, in bytes.
pub const REQUEST_PATH_BYTES_MAX: usize = 512;
/// Time in-flight requests get to finish after SIGTERM/SIGINT before the process exits.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Largest change-log record payload (one accepted event and the permit it left), in bytes.
pub const LOG_RECORD_BYTES_MAX: usize = 1 << 20;
/// A change-log segment is closed and a new one started once it passes this size, in bytes.
pub const LOG_SEGMENT_BYTES_MAX: u64 = 64 << 20;
/// Largest batch body `POST /v1/feed` accepts, in bytes.
pub const FEED_BATCH_BYTES_MAX: usize = 16 << 20;
/// Most events in one feed batch.
pub const FEED_BATCH_EVENTS_MAX: usize = 50_000;
/// Batches waiting for the writer's committer; one more gets 503 with Retry-After.
pub const WRITER_QUEUE_BATCHES_MAX: usize = 64;
/// Acknowledged permit states the writer holds waiting for their attestation (the sealing
/// stage's backlog, each permit once however often it changed). At this many the committer
/// takes no new batch until the signer catches up, so the queue fills and senders get 503: a
/// burst is acknowledged at the log's rate, a sustained feed at the signer's. ~2 KB a permit; one
/// group (`GROUP_EVENTS_MAX`) may overshoot it, so ~400 MB at most.
pub const UNSEALED_PERMITS_MAX: usize = 131_072;
/// Permits a signing thread signs in one go (~5 ms) before it hands the seals back, so the
/// first seals of a large backlog are not held back by the last.
pub const SEAL_BATCH_PERMITS: usize = 256;
/// Most connections the writer's admin listener serves at once.
pub const WRITER_CONNECTIONS_MAX: usize = 256;
/// How often a resolver looks for new change-log records when it found none last time.
pub const LOG_TAIL_POLL_INTERVAL: Duration = Duration::from_millis(1);
/// Most permits one `GET /v1/changes` page lists.
pub const CHANGES_PAGE_PERMITS_MAX: usize = 10_000;

const _: () = assert!(SNAPSHOT_SHARD_BYTES_MAX < (1 << 31));
const _: () = assert!(SNAPSHOT_SHARDS_MAX * SNAPSHOT_SHARD_PERMITS_MAX >= 50_000_000);
