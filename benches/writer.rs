//! The writer path: how many events per second become durable, what the HTTP admin listener
//! adds, how long a resolver following the change log takes to show an acknowledged change, and
//! how long a compaction takes. Targets from the issue (reported here, never asserted):
//! ≥ 100k durable events/s with group commit, and an acknowledgement → visibility delay with a
//! p99 of at most 5 ms on one host.
//!
//! Every data directory is a fresh temporary directory on a real disk: under the system's
//! temporary directory unless that is a tmpfs/ramfs (then under `target/bench-writer`), or under
//! `PERMITD_BENCH_DIR` when set. The bench prints which directory and file system it used; an
//! fsync on tmpfs costs nothing, and the numbers would mean nothing.
//!
//! # 1. Durable events/s (criterion group `writer`)
//! Events are generated (`common::ndjson`: 200,000 permits, seed 11) and parsed to `Event`s
//! before anything is timed; each iteration clones its batch before its clock starts and gets
//! events no store has seen (a store that has taken every event of the pool is replaced by a
//! fresh one in a new directory, untimed). Flat sampling, 10 samples.
//! - `durable_group_commit`: 8,192 `permit_issued` events `Store::submit`ted into a
//!   [`Store`] (validation, registry apply, log record encoded and appended), then one
//!   `Store::commit` (write + one `fdatasync`): group commit. Throughput in events/s.
//! - `in_memory_apply`: the same events `Registry::apply`d to an in-memory registry (no log, no
//!   fsync): the floor.
//! - `durable_commit_per_event`: 64 events, each submitted and committed on its own (one fsync
//!   per event): what durability costs without group commit. Its mean per event is about one
//!   commit (a write and an `fdatasync` of the log segment) on this disk.
//! - `changes_group_commit`: a realistic change feed, `gen::changes::generate_changes` over a
//!   100,000-permit data set (98,304 lines: renewals, certificate changes, state changes,
//!   reissues, ~2 % invalid and ~1 % replays, all counted as submitted lines), into a store that
//!   builds on the compacted 100,000-permit snapshot (as the writer does between compactions,
//!   each unchanged permit read from the mapped snapshot), 8,192 lines per commit. Each store
//!   starts from the same snapshot (hard-linked into a new directory) and takes the feed from
//!   its first line.
//!
//! - `seal_group`: what the sealing stage does after the acknowledgement, for a group of
//!   8,192 new permits made durable (untimed): `Store::seal_unsealed` (each state sealed on
//!   every core — QR payload and attestation, two Ed25519 signatures — then its seal note
//!   appended and fsynced). `changes_seal_group`: the same for a group of the change mix (one
//!   signature a changed permit, two for a reissue).
//!
//! After criterion's summary it prints each one's events/s and the ratios
//! `durable_group_commit / in_memory_apply` and `durable_group_commit / durable_commit_per_event`
//! (of events/s), and where `durable_group_commit`'s time goes: the submits (validation, apply,
//! log record encoding, appends) against the one commit, with the log bytes per event.
//!
//! # 2. End to end over HTTP (a plain timed run)
//! `writer::service::run` on 127.0.0.1:0 with a fresh store; two client threads (`ureq`, one
//! keep-alive connection each) `POST /v1/feed` 200,000 `permit_issued` events in batches of
//! 10,000 (bodies built before the clock starts). Prints events/s over the whole run (first
//! request sent → last acknowledgement read), over the first 100,000 (a burst the sealing
//! stage holds whole), when every acknowledged state's seal was in the log (the sustained rate,
//! signing included) with the largest sealing backlog seen, and the per-batch acknowledgement
//! latency
//! (request sent → `200` read) p50/p99/max, and for reference how long parsing one batch's
//! lines takes on one idle thread. The compaction trigger is off for this run (and the next),
//! so no compaction competes with the committer.
//!
//! # 3. Acknowledgement → visibility delay
//! The writer service on a data directory D, and in this process a resolver on D's `CURRENT`
//! snapshot with `server::follow` tailing D's change log (the tailer polls every 1 ms when it
//! has nothing to read: `limits::LOG_TAIL_POLL_INTERVAL`). 1,000 permits are issued in one
//! batch and awaited; then 1,000 times: one `licence_details_changed` event (a new certificate
//! number for a valid licence, permits taken in turn) is POSTed; t0 is when its `200` has been
//! read; then `Resolver::respond(GET /v1/permits/{number})` is called in a loop (yielding the
//! CPU between calls) until the answer carries the new certificate number, t1. Prints
//! t1 − t0 p50/p90/p99/max in µs, how many were already visible on the first look, and the
//! single-event acknowledgement latency.
//!
//! # 4. Compaction
//! `writer::import` of N permits (`common::ndjson(N)` in memory; above 2,000,000 permits the
//! feed is generated into a pipe instead, so the import rate is then bounded by the generator)
//! into a fresh store, then `Compaction::take(&store)` and `.run(catalog, today)`. Prints
//! permits, seconds, permits/s and the snapshot file's bytes (and the import's own durable
//! events/s, a commit every 8,192 events). N = 100,000, or `PERMITD_BENCH_PERMITS`.
//!
//! # Running
//! ```text
//! cargo bench --bench writer                                   # everything, defaults
//! cargo bench --bench writer -- --warm-up-time 1 --measurement-time 3
//! PERMITD_BENCH_SKIP_HTTP=1 cargo bench --bench writer          # no listener: parts 2 and 3 skipped
//! PERMITD_BENCH_ONLY=compaction PERMITD_BENCH_PERMITS=1000000 cargo bench --bench writer
//! PERMITD_BENCH_ONLY=compaction PERMITD_BENCH_PERMITS=10000000 cargo bench --bench writer
//! ```
//! `PERMITD_BENCH_ONLY` takes a comma-separated list of `criterion`, `http`, `visibility`,
//! `compaction` (default: all four). `PERMITD_BENCH_PERMITS` only sets the compaction's N; the
//! other parts use the fixed sizes above. 1,000,000 permits peak at about 3.2 GB resident (the
//! 0.8 GB feed in memory, the store's registry, the compaction's copy) and write 1.5 GB of
//! change log plus a 1.6 GB snapshot; 10,000,000 (piped) need roughly ten times that, minus the
//! feed: about 25 GB of memory and 32 GB of disk.
//! Under criterion's `--test` (or `cargo test --benches`) parts 2–4 run small: 20,000 events
//! over HTTP, 50 visibility probes, 10,000 permits compacted.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, Criterion, SamplingMode, Throughput};
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::{Method, Response, StatusCode};

use permitd::catalog::{Catalog, LicenceTypeId};
use permitd::codes::PermitNumber;
use permitd::domain::{Date, LicenceState};
use permitd::event::{Change, Event, Timestamp, SCHEMA_VERSION};
use permitd::gen::changes::{generate_changes, ChangeOptions, ChangeStats};
use permitd::registry::Registry;
use permitd::server::follow;
use permitd::server::resolver::Clock;
use permitd::server::Resolver;
use permitd::snapshot;
use permitd::trust::keys::SigningKey;
use permitd::trust::seal::Sealer;
use permitd::writer::compact::{Compaction, Retention, Trigger};
use permitd::writer::service::{self, WriterOptions};
use permitd::writer::{self, Outcome, Store, LOG_DIR};

use common::Estimates;

/// Events per group commit (as `writer::IMPORT_COMMIT_EVENTS`).
const GROUP_EVENTS: usize = 8192;
/// Events per iteration when every event is committed on its own.
const PER_EVENT_EVENTS: usize = 64;
/// Permits (one `permit_issued` each) generated once for every part.
const ISSUE_POOL_PERMITS: u64 = 200_000;
/// The data set the realistic change mix runs over, and its length (12 groups).
const MIX_PERMITS: u64 = 100_000;
const MIX_CHANGES: u64 = 12 * GROUP_EVENTS as u64;
const MIX_SEED: u64 = 23;
const MIX_START: &str = "2026-06-15T09:00:00+08:00";
const HTTP_EVENTS: usize = 200_000;
const HTTP_BATCH_EVENTS: usize = 10_000;
const HTTP_CLIENTS: usize = 2;
/// A burst the sealing stage holds whole (`limits::UNSEALED_PERMITS_MAX`): acknowledged at the
/// log's rate.
const HTTP_BURST_EVENTS: usize = 100_000;
const _: () = assert!(HTTP_BURST_EVENTS < permitd::limits::UNSEALED_PERMITS_MAX);
const VISIBILITY_PERMITS: usize = 1_000;
const VISIBILITY_PROBES: usize = 1_000;
/// A probe that is not visible after this long is counted as timed out.
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(5);
const COMPACTION_PERMITS_DEFAULT: u64 = 100_000;
/// Above this many permits the compaction's feed is piped from a generator thread.
const IN_MEMORY_FEED_PERMITS_MAX: u64 = 2_000_000;
const TOKEN: &str = "bench-writer-token";
/// Any approving department: the registry only checks that one is named.
const DEPARTMENT: &str = "区市场监督管理局";

// ---------------------------------------------------------------------------------------------
// Shared set-up.

/// Every store here seals like the writer does (a fixed key: the benches sign for real).
fn bench_sealer() -> Arc<Sealer> {
    Arc::new(Sealer::new(SigningKey::from_seed(&[1; 32])))
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<&'static Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Box::leak(Box::new(Catalog::embedded().expect("embedded catalogue"))))
}

/// The issue pool: `permit_issued` lines of a generated feed, as text and parsed.
struct Issued {
    text: Vec<u8>,
    /// Byte range of each `permit_issued` line in `text` (no newline).
    lines: Vec<(usize, usize)>,
    events: Vec<Event>,
}

fn issued() -> &'static Issued {
    static ISSUED: OnceLock<Issued> = OnceLock::new();
    ISSUED.get_or_init(|| {
        eprintln!("writer bench: generating {ISSUE_POOL_PERMITS} permits (the issue pool)");
        let text = common::ndjson(ISSUE_POOL_PERMITS);
        let mut lines = Vec::with_capacity(ISSUE_POOL_PERMITS as usize);
        let mut events = Vec::with_capacity(ISSUE_POOL_PERMITS as usize);
        let mut start = 0;
        for line in text.split(|&b| b == b'\n') {
            let end = start + line.len();
            if !line.is_empty() {
                let event: Event = serde_json::from_slice(line).expect("generated lines parse");
                if matches!(event.change, Change::PermitIssued { .. }) {
                    lines.push((start, end));
                    events.push(event);
                }
            }
            start = end + 1;
        }
        Issued {
            text,
            lines,
            events,
        }
    })
}

impl Issued {
    /// `lines` joined into one NDJSON body.
    fn body(&self, lines: &[(usize, usize)]) -> Vec<u8> {
        let mut body = Vec::with_capacity(lines.iter().map(|(s, e)| e - s + 1).sum());
        for &(start, end) in lines {
            body.extend_from_slice(&self.text[start..end]);
            body.push(b'\n');
        }
        body
    }
}

/// Where the data directories go: see the module doc.
fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let (root, why) = match std::env::var_os("PERMITD_BENCH_DIR") {
            Some(dir) => (PathBuf::from(dir), "PERMITD_BENCH_DIR"),
            None => {
                let tmp = std::env::temp_dir();
                match fs_type(&tmp).as_deref() {
                    Some("tmpfs" | "ramfs") => (
                        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-writer"),
                        "the temporary directory is in memory",
                    ),
                    _ => (tmp, "the temporary directory"),
                }
            }
        };
        std::fs::create_dir_all(&root).expect("the scratch directory");
        eprintln!(
            "writer bench: data directories under {} ({why}; file system {})",
            root.display(),
            fs_type(&root).unwrap_or_else(|| "unknown".into())
        );
        root
    })
}

/// The file system type `path` is on, from `/proc/self/mounts` (Linux); `None` elsewhere.
fn fs_type(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            let point = point.replace("\\040", " ");
            path.starts_with(&point)
                .then(|| (point.len(), kind.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
}

fn fresh_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("permitd-bench-{label}-"))
        .tempdir_in(scratch_root())
        .expect("a scratch directory")
}

/// A store in its own directory and how far into its event pool it got. The store is dropped
/// before its directory is removed (field order).
struct DurableRun {
    store: Store,
    _dir: tempfile::TempDir,
    next: usize,
}

impl DurableRun {
    fn empty(label: &str) -> DurableRun {
        let dir = fresh_dir(label);
        let store = Store::open(dir.path(), catalog(), bench_sealer()).expect("a fresh store");
        DurableRun {
            store,
            _dir: dir,
            next: 0,
        }
    }
}

/// `run`, replaced by `fresh()` first when fewer than `n` of its `pool` events are left.
fn run_with_room<R>(
    run: &mut Option<R>,
    next: impl Fn(&R) -> usize,
    n: usize,
    pool: usize,
    fresh: impl FnOnce() -> R,
) -> &mut R {
    if run.as_ref().is_none_or(|r| next(r) + n > pool) {
        *run = None; // the old directory goes before the new one is made
        *run = Some(fresh());
    }
    run.as_mut().expect("just set")
}

// ---------------------------------------------------------------------------------------------
// 1. Criterion: durable events/s.

/// The realistic change mix: a compacted 100k-permit snapshot to start each store from, and the
/// change feed generated over those permits.
struct Mix {
    base: tempfile::TempDir,
    snapshot_name: String,
    events: Vec<Event>,
    stats: ChangeStats,
}

fn mix() -> Mix {
    eprintln!("writer bench: generating {MIX_PERMITS} permits and {MIX_CHANGES} changes for them");
    let feed = common::ndjson(MIX_PERMITS);
    let mut registry = Registry::with_capacity(catalog(), MIX_PERMITS as usize);
    let folded = permitd::feed::fold(&mut registry, &feed[..], &mut |_| {}).expect("fold");
    assert_eq!(folded.rejected, 0, "generated events are all accepted");
    let mut changes = Vec::new();
    let options = ChangeOptions {
        changes: MIX_CHANGES,
        seed: MIX_SEED,
        start: Timestamp::parse(MIX_START).expect("an RFC 3339 instant"),
    };
    let stats =
        generate_changes(catalog(), &mut registry, &options, &mut changes).expect("changes");
    drop(registry);
    let events: Vec<Event> = changes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("generated change lines parse"))
        .collect();

    eprintln!("writer bench: importing and compacting them into the mix's base snapshot");
    let base = fresh_dir("mix-base");
    let mut store = Store::open(base.path(), catalog(), bench_sealer()).expect("a fresh store");
    writer::import(&mut store, &feed[..], &mut |_| {}).expect("import");
    drop(feed);
    Compaction::take(&store)
        .run(
            catalog(),
            Date::today_in_beijing(),
            time::OffsetDateTime::now_utc(),
        )
        .expect("compaction");
    drop(store);
    let current = snapshot::current_path(base.path()).expect("CURRENT");
    let snapshot_name = current
        .file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    Mix {
        base,
        snapshot_name,
        events,
        stats,
    }
}

impl Mix {
    /// A store on the base snapshot (hard-linked, or copied across file systems), empty log.
    fn fresh(&self) -> DurableRun {
        let dir = fresh_dir("mix");
        let from = self.base.path().join(&self.snapshot_name);
        let to = dir.path().join(&self.snapshot_name);
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).expect("copying the base snapshot");
        }
        std::fs::copy(
            self.base.path().join(snapshot::build::CURRENT_FILE),
            dir.path().join(snapshot::build::CURRENT_FILE),
        )
        .expect("copying CURRENT");
        let store = Store::open(dir.path(), catalog(), bench_sealer())
            .expect("a store on the base snapshot");
        DurableRun {
            store,
            _dir: dir,
            next: 0,
        }
    }
}

#[derive(Default, Debug)]
struct Outcomes {
    accepted: u64,
    replays: u64,
    rejected: u64,
}

impl Outcomes {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Accepted { .. } => self.accepted += 1,
            Outcome::Replay => self.replays += 1,
            Outcome::Rejected(_) => self.rejected += 1,
        }
    }
}

/// Where `durable_group_commit`'s time went, over every batch it ran (warm-up included).
#[derive(Default, Clone, Copy)]
struct Split {
    submit: Duration,
    commit: Duration,
    batches: u32,
    /// Change-log bytes per event in the last store.
    log_bytes_per_event: f64,
}

static SPLIT: std::sync::Mutex<Option<Split>> = std::sync::Mutex::new(None);

fn writer_benches(c: &mut Criterion) {
    let pool = &issued().events;
    let mix = mix();

    let mut group = c.benchmark_group("writer");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);

    group.throughput(Throughput::Elements(GROUP_EVENTS as u64));
    let mut outcomes = Outcomes::default();
    let mut split = Split::default();
    let mut run: Option<DurableRun> = None;
    group.bench_function("durable_group_commit", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let r = run_with_room(
                    &mut run,
                    |r: &DurableRun| r.next,
                    GROUP_EVENTS,
                    pool.len(),
                    || DurableRun::empty("group"),
                );
                let batch = pool[r.next..r.next + GROUP_EVENTS].to_vec();
                r.next += GROUP_EVENTS;
                let started = Instant::now();
                for event in batch {
                    outcomes.count(&r.store.submit(event).expect("submit"));
                }
                let submitted = Instant::now();
                r.store.commit().expect("commit");
                let committed = Instant::now();
                split.submit += submitted - started;
                split.commit += committed - submitted;
                split.batches += 1;
                timed += committed - started;
            }
            timed
        })
    });
    if let Some(r) = &run {
        split.log_bytes_per_event = dir_bytes(&r._dir.path().join(LOG_DIR)) as f64 / r.next as f64;
    }
    drop(run);
    assert_eq!(
        outcomes.replays + outcomes.rejected,
        0,
        "every issue event is new to its store: {outcomes:?}"
    );
    *SPLIT.lock().expect("not poisoned") = Some(split);

    let mut memory: Option<(Registry<'static>, usize)> = None;
    group.bench_function("in_memory_apply", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let (registry, next) = run_with_room(
                    &mut memory,
                    |m| m.1,
                    GROUP_EVENTS,
                    pool.len(),
                    || (Registry::new(catalog()), 0),
                );
                let batch = pool[*next..*next + GROUP_EVENTS].to_vec();
                *next += GROUP_EVENTS;
                let started = Instant::now();
                for event in batch {
                    let applied = registry.apply(event);
                    assert!(applied.is_ok(), "every issue event is accepted");
                }
                timed += started.elapsed();
            }
            timed
        })
    });
    drop(memory);

    group.throughput(Throughput::Elements(PER_EVENT_EVENTS as u64));
    let mut outcomes = Outcomes::default();
    let mut run: Option<DurableRun> = None;
    group.bench_function("durable_commit_per_event", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let r = run_with_room(
                    &mut run,
                    |r: &DurableRun| r.next,
                    PER_EVENT_EVENTS,
                    pool.len(),
                    || DurableRun::empty("per-event"),
                );
                let batch = pool[r.next..r.next + PER_EVENT_EVENTS].to_vec();
                r.next += PER_EVENT_EVENTS;
                let started = Instant::now();
                for event in batch {
                    outcomes.count(&r.store.submit(event).expect("submit"));
                    r.store.commit().expect("commit");
                }
                timed += started.elapsed();
            }
            timed
        })
    });
    drop(run);
    assert_eq!(outcomes.replays + outcomes.rejected, 0, "{outcomes:?}");

    group.throughput(Throughput::Elements(GROUP_EVENTS as u64));
    // Outcomes of the first store's pass over the whole feed (each pass is the same).
    let mut first_pass = Outcomes::default();
    let mut passes = 0u64;
    let mut run: Option<DurableRun> = None;
    group.bench_function("changes_group_commit", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let r = run_with_room(
                    &mut run,
                    |r: &DurableRun| r.next,
                    GROUP_EVENTS,
                    mix.events.len(),
                    || {
                        passes += 1;
                        mix.fresh()
                    },
                );
                let batch = mix.events[r.next..r.next + GROUP_EVENTS].to_vec();
                r.next += GROUP_EVENTS;
                let started = Instant::now();
                for event in batch {
                    let outcome = r.store.submit(event).expect("submit");
                    if passes == 1 {
                        first_pass.count(&outcome);
                    }
                }
                r.store.commit().expect("commit");
                timed += started.elapsed();
            }
            timed
        })
    });
    drop(run);

    // The sealing stage's work, off the acknowledgement path.
    let sealed = bench_sealing(&mut group, "seal_group", pool, &|| {
        DurableRun::empty("seal")
    });
    assert!(
        sealed.iter().all(|&n| n == GROUP_EVENTS),
        "one new permit an event"
    );
    bench_sealing(&mut group, "changes_seal_group", &mix.events, &|| {
        mix.fresh()
    });
    group.finish();

    let s = &mix.stats;
    println!(
        "\nwriter/changes_group_commit feed: {} lines over {MIX_PERMITS} permits ({} valid: {} \
         licence details, {} licence state, {} reissued, {} voided, {} recovered; {} invalid, \
         {} replays); the store answered {} accepted, {} rejected, {} replays on its first \
         {} lines",
        s.events,
        s.valid(),
        s.licence_details_changed,
        s.licence_state_changed,
        s.permit_reissued,
        s.permit_voided,
        s.permit_recovered,
        s.invalid,
        s.replays,
        first_pass.accepted,
        first_pass.rejected,
        first_pass.replays,
        first_pass.accepted + first_pass.rejected + first_pass.replays,
    );
}

/// Criterion's `name`: a group of `events` made durable in a store (untimed), then its states
/// sealed on every core and the seal notes committed (`Store::seal_unsealed`, timed). Returns
/// how many permits each group sealed.
fn bench_sealing(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    events: &[Event],
    fresh: &dyn Fn() -> DurableRun,
) -> Vec<usize> {
    let mut sealed = Vec::new();
    let mut run: Option<DurableRun> = None;
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let r = run_with_room(
                    &mut run,
                    |r: &DurableRun| r.next,
                    GROUP_EVENTS,
                    events.len(),
                    fresh,
                );
                for event in events[r.next..r.next + GROUP_EVENTS].iter().cloned() {
                    r.store.submit(event).expect("submit");
                }
                r.next += GROUP_EVENTS;
                r.store.commit().expect("commit");
                let started = Instant::now();
                sealed.push(r.store.seal_unsealed().expect("seal"));
                timed += started.elapsed();
            }
            timed
        })
    });
    sealed
}

fn print_ratios(estimates: &Estimates) {
    let Some(group) = estimates.mean_ns("writer/durable_group_commit") else {
        estimates.missing("writer", "writer/durable_group_commit");
        return;
    };
    let per_second = |events: usize, ns: f64| events as f64 / (ns / 1e9);
    let rows = [
        ("durable_group_commit", GROUP_EVENTS),
        ("in_memory_apply", GROUP_EVENTS),
        ("durable_commit_per_event", PER_EVENT_EVENTS),
        ("changes_group_commit", GROUP_EVENTS),
        ("seal_group", GROUP_EVENTS),
        ("changes_seal_group", GROUP_EVENTS),
    ];
    println!(
        "\nwriter: events/s (criterion means of this run; target ≥ 100k durable events/s; the \
         seal_ rows are the sealing stage's rate, signed after the acknowledgement)"
    );
    let mut rates = std::collections::HashMap::new();
    for (id, events) in rows {
        let Some(ns) = estimates.mean_ns(&format!("writer/{id}")) else {
            continue;
        };
        let rate = per_second(events, ns);
        rates.insert(id, rate);
        println!(
            "  {id:26} {events:>5} events in {:>10}  {:>9} events/s  ({} per event)",
            common::duration(ns),
            common::rate(rate),
            common::duration(ns / events as f64)
        );
    }
    let durable = per_second(GROUP_EVENTS, group);
    if let Some(memory) = rates.get("in_memory_apply") {
        println!(
            "  durable_group_commit / in_memory_apply: {:.3} (durability costs {:.2}× the \
             in-memory apply)",
            durable / memory,
            memory / durable
        );
    }
    if let Some(split) = *SPLIT.lock().expect("not poisoned") {
        let batches = split.batches.max(1);
        println!(
            "  durable_group_commit per batch of {GROUP_EVENTS} (mean over {} batches): submit \
             (validate, apply, encode, append) {}, commit (write out + fdatasync of ~{:.1} MB) \
             {}; {:.0} log bytes per event",
            split.batches,
            ms(split.submit / batches),
            split.log_bytes_per_event * GROUP_EVENTS as f64 / 1e6,
            ms(split.commit / batches),
            split.log_bytes_per_event,
        );
    }
    if let Some(single) = rates.get("durable_commit_per_event") {
        println!(
            "  durable_group_commit / durable_commit_per_event: {:.1}× (one commit, write + \
             fdatasync, ≈ {} on this disk)",
            durable / single,
            common::duration(1e9 / single)
        );
    }
}

criterion_group!(benches, writer_benches);

// ---------------------------------------------------------------------------------------------
// The writer service, for parts 2 and 3.

struct Writer {
    addr: SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

fn start_writer(store: Store) -> Writer {
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let (listening, addr) = std::sync::mpsc::channel();
    let options = WriterOptions {
        listen: "127.0.0.1:0".parse().expect("an address"),
        token: TOKEN.into(),
        // Off: nothing but the batches runs on the committer.
        trigger: Trigger {
            events: u64::MAX,
            interval: Duration::from_secs(365 * 86_400),
        },
        retention: Retention::default(),
    };
    let thread = std::thread::Builder::new()
        .name("bench-writer".into())
        .spawn(move || {
            service::run(store, options, shutdown_rx, move |addr| {
                let _ = listening.send(addr);
            })
        })
        .expect("spawning the writer");
    let Ok(addr) = addr.recv_timeout(Duration::from_secs(30)) else {
        let result = thread.join();
        panic!("the writer did not start listening: {result:?}");
    };
    Writer {
        addr,
        shutdown,
        thread,
    }
}

impl Writer {
    fn url(&self) -> String {
        format!("http://{}/v1/feed", self.addr)
    }

    fn stop(self) {
        let _ = self.shutdown.send(true);
        self.thread
            .join()
            .expect("the writer does not panic")
            .expect("the writer stops cleanly");
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// POSTs one NDJSON batch; the acknowledgement (a `BatchReport`).
fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> serde_json::Value {
    let mut response = agent
        .post(url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/x-ndjson")
        .send(body)
        .expect("POST /v1/feed");
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .expect("the acknowledgement");
    assert_eq!(status, 200, "POST /v1/feed: {text}");
    serde_json::from_str(&text).expect("the acknowledgement is JSON")
}

fn accepted(ack: &serde_json::Value) -> u64 {
    ack["accepted"].as_u64().expect("an accepted count")
}

/// The value at quantile `q` of sorted `values` (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

// ---------------------------------------------------------------------------------------------
// 2. End to end over HTTP.

fn http_end_to_end(events: usize) {
    let pool = issued();
    let events = events.min(pool.lines.len());
    let batches: Vec<(Vec<u8>, u64)> = pool.lines[..events]
        .chunks(HTTP_BATCH_EVENTS)
        .map(|lines| (pool.body(lines), lines.len() as u64))
        .collect();
    let dir = fresh_dir("http");
    let store = Store::open(dir.path(), catalog(), bench_sealer()).expect("a fresh store");
    let writer = start_writer(store);
    let url = writer.url();
    let status_url = format!("http://{}/v1/status", writer.addr);
    let next = AtomicUsize::new(0);
    let acked = AtomicBool::new(false);
    let started = Instant::now();
    let mut elapsed = Duration::ZERO;
    let mut sealed_after = Duration::ZERO;
    let mut most_unsealed = 0u64;
    let acks: Vec<(Duration, Duration, u64)> = std::thread::scope(|scope| {
        // The sealing backlog, every 20 ms, until everything acknowledged is sealed.
        let watcher = scope.spawn(|| {
            let agent = agent();
            let mut most = 0u64;
            loop {
                let mut response = agent.get(&status_url).call().expect("GET /v1/status");
                let status: serde_json::Value =
                    serde_json::from_str(&response.body_mut().read_to_string().expect("text"))
                        .expect("JSON");
                let unsealed = status["unsealed"].as_u64().expect("an unsealed count");
                most = most.max(unsealed);
                if unsealed == 0 && acked.load(Ordering::Acquire) {
                    return (started.elapsed(), most);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let clients: Vec<_> = (0..HTTP_CLIENTS)
            .map(|_| {
                scope.spawn(|| {
                    let agent = agent();
                    let mut mine = Vec::new();
                    while let Some((body, lines)) =
                        batches.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        let sent = Instant::now();
                        let ack = post(&agent, &url, body);
                        mine.push((sent.elapsed(), started.elapsed(), *lines));
                        assert_eq!(accepted(&ack), *lines, "every event accepted: {ack}");
                    }
                    mine
                })
            })
            .collect();
        let latencies = clients
            .into_iter()
            .flat_map(|c| c.join().expect("a client does not panic"))
            .collect();
        elapsed = started.elapsed();
        acked.store(true, Ordering::Release);
        (sealed_after, most_unsealed) = watcher.join().expect("the watcher does not panic");
        latencies
    });
    writer.stop();
    let mut latencies: Vec<Duration> = acks.iter().map(|a| a.0).collect();
    latencies.sort_unstable();
    // The burst: acknowledgements until HTTP_BURST_EVENTS, fewer than the sealing stage holds,
    // so the signer never holds the committer back.
    let mut by_time: Vec<(Duration, u64)> = acks.iter().map(|a| (a.1, a.2)).collect();
    by_time.sort_unstable();
    let mut burst = (0u64, Duration::ZERO);
    for (at, lines) in by_time {
        if burst.0 >= HTTP_BURST_EVENTS as u64 {
            break;
        }
        burst = (burst.0 + lines, at);
    }
    // For reference: the JSON parse the listener does per batch, here on one idle thread.
    let parse_started = Instant::now();
    for line in batches[0]
        .0
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        std::hint::black_box(serde_json::from_slice::<Event>(line).expect("parses"));
    }
    let parse_one = parse_started.elapsed();
    let mean_body = batches.iter().map(|(b, _)| b.len()).sum::<usize>() / batches.len().max(1);
    println!(
        "\nwriter over HTTP: {events} permit_issued events, {} batches of {HTTP_BATCH_EVENTS} \
         (~{:.1} MB each) from {HTTP_CLIENTS} client threads in {:.2} s: {} events/s \
         (target ≥ 100k/s)",
        batches.len(),
        mean_body as f64 / 1e6,
        elapsed.as_secs_f64(),
        common::rate(events as f64 / elapsed.as_secs_f64()),
    );
    println!(
        "  the first {} events (a burst within the sealing stage's bound) acknowledged in {:.2} \
         s: {} events/s",
        burst.0,
        burst.1.as_secs_f64(),
        common::rate(burst.0 as f64 / burst.1.as_secs_f64()),
    );
    println!(
        "  sealed (every acknowledged state's seal note committed) {:.2} s after the first \
         request: {} states/s sustained, signing included; largest backlog seen {most_unsealed} \
         permits (bound {})",
        sealed_after.as_secs_f64(),
        common::rate(events as f64 / sealed_after.as_secs_f64()),
        permitd::limits::UNSEALED_PERMITS_MAX,
    );
    println!(
        "  ack latency per batch (sent → 200 read): p50 {}, p99 {}, max {} ({} batches: p99 is \
         the slowest or next to it)",
        ms(quantile(&latencies, 0.50)),
        ms(quantile(&latencies, 0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
        latencies.len(),
    );
    println!(
        "  for reference: parsing one batch's {} lines to events on one idle thread takes {}",
        batches[0].1,
        ms(parse_one)
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Acknowledgement → visibility.

/// The status and body of an in-process answer (the body is complete: polled once).
fn body_of(response: Response<Full<Bytes>>) -> (StatusCode, Vec<u8>) {
    let status = response.status();
    let mut body = response.into_body();
    let mut context = Context::from_waker(Waker::noop());
    let mut bytes = Vec::new();
    while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut context) {
        let Ok(frame) = frame;
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    (status, bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn visibility(permits: usize, probes: usize) {
    let dir = fresh_dir("visibility");
    let store = Store::open(dir.path(), catalog(), bench_sealer()).expect("a fresh store");
    let installed = follow::FileIdentity::of(
        &snapshot::current_path(dir.path()).expect("Store::open publishes CURRENT"),
    );
    let snapshot = writer::open_current(dir.path())
        .expect("the snapshot verifies")
        .expect("Store::open publishes one");
    let resolver = Arc::new(Resolver::new(
        Catalog::embedded().expect("embedded catalogue"),
        Clock::System,
    ));
    resolver.install(snapshot);
    let stop = Arc::new(AtomicBool::new(false));
    let followers = follow::start(resolver.clone(), dir.path(), Some(installed), stop.clone())
        .expect("starting the follower");
    let writer = start_writer(store);
    let url = writer.url();
    let agent = agent();

    // The permits, issued in one batch, then awaited.
    let pool = issued();
    let permits = permits.min(pool.lines.len());
    let ack = post(&agent, &url, &pool.body(&pool.lines[..permits]));
    assert_eq!(accepted(&ack), permits as u64, "every permit issued: {ack}");
    let last = ack["last_sequence"].as_u64().expect("a last sequence");
    let waited = Instant::now();
    while resolver.sequence() < last {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the resolver did not follow to sequence {last}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let issued_visible = waited.elapsed();

    // A valid licence of each active permit, not past its end date: its certificate changes.
    let today = Date::today_in_beijing();
    let targets: Vec<(PermitNumber, LicenceTypeId)> = pool.events[..permits]
        .iter()
        .filter_map(|event| match &event.change {
            Change::PermitIssued { permit } if permit.status.is_active() => permit
                .licences
                .iter()
                .find(|l| {
                    matches!(
                        l.state,
                        LicenceState::Valid | LicenceState::PendingCommitment
                    ) && l.valid_until.is_none_or(|until| until > today)
                })
                .map(|l| (permit.number, l.licence_type)),
            _ => None,
        })
        .collect();
    assert!(!targets.is_empty(), "some permit has a licence to change");
    for (number, _) in &targets {
        let path = format!("/v1/permits/{}", number.as_str());
        let (status, _) = body_of(resolver.respond(&Method::GET, &path, Some(b"application/json")));
        assert_eq!(status, StatusCode::OK, "{path} is visible once followed");
    }

    let mut delays = Vec::with_capacity(probes);
    let mut acks = Vec::with_capacity(probes);
    let (mut first_look, mut timeouts, mut looks) = (0usize, 0usize, 0u64);
    for i in 0..probes {
        let (number, licence_type) = targets[i % targets.len()];
        let certificate = format!("BENCHVIS{i:06}");
        let event = Event {
            schema: SCHEMA_VERSION,
            id: format!("bench-visibility-{i}"),
            at: Timestamp::now(),
            department: DEPARTMENT.into(),
            change: Change::LicenceDetailsChanged {
                number,
                licence_type,
                certificate_number: Some(certificate.clone()),
                valid_from: None,
                valid_until: None,
                on: today,
            },
        };
        let mut body = serde_json::to_vec(&event).expect("events serialise");
        body.push(b'\n');
        let path = format!("/v1/permits/{}", number.as_str());
        let sent = Instant::now();
        let ack = post(&agent, &url, &body);
        let t0 = Instant::now();
        acks.push(t0 - sent);
        assert_eq!(accepted(&ack), 1, "the change is accepted: {ack}");
        let mut tries = 0u64;
        loop {
            tries += 1;
            let response = resolver.respond(&Method::GET, &path, Some(b"application/json"));
            if contains(&body_of(response).1, certificate.as_bytes()) {
                break;
            }
            if t0.elapsed() > VISIBILITY_TIMEOUT {
                timeouts += 1;
                break;
            }
            std::thread::yield_now();
        }
        delays.push(t0.elapsed());
        looks += tries;
        if tries == 1 {
            first_look += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for follower in followers {
        follower.join().expect("the follower does not panic");
    }
    writer.stop();

    delays.sort_unstable();
    acks.sort_unstable();
    println!(
        "\nack → visibility: {probes} licence_details_changed events, one per POST, over \
         {} permits ({permits} issued in one batch, followed {} after its ack)",
        targets.len(),
        ms(issued_visible)
    );
    println!(
        "  delay (200 read → the in-process resolver answers the change): p50 {}, p90 {}, \
         p99 {}, max {} (target p99 ≤ 5 ms; the tailer polls the log every 1 ms when idle)",
        us(quantile(&delays, 0.50)),
        us(quantile(&delays, 0.90)),
        us(quantile(&delays, 0.99)),
        us(*delays.last().unwrap_or(&Duration::ZERO)),
    );
    println!(
        "  visible on the first look: {first_look} of {probes}; looks per probe {:.1}; \
         timed out (> {} s): {timeouts}",
        looks as f64 / probes.max(1) as f64,
        VISIBILITY_TIMEOUT.as_secs()
    );
    println!(
        "  single-event ack latency (sent → 200 read, one fsync each): p50 {}, p99 {}, max {}",
        us(quantile(&acks, 0.50)),
        us(quantile(&acks, 0.99)),
        us(*acks.last().unwrap_or(&Duration::ZERO)),
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Compaction.

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn compaction(permits: u64) {
    let dir = fresh_dir("compaction");
    let mut store = Store::open(dir.path(), catalog(), bench_sealer()).expect("a fresh store");
    let (report, import_time, piped) = if permits <= IN_MEMORY_FEED_PERMITS_MAX {
        eprintln!("writer bench: generating {permits} permits for the compaction");
        let feed = common::ndjson(permits);
        let started = Instant::now();
        let report = writer::import(&mut store, &feed[..], &mut |_| {}).expect("import");
        (report, started.elapsed(), false)
    } else {
        eprintln!("writer bench: generating {permits} permits into the import (piped)");
        let (reader, mut pipe) = std::io::pipe().expect("a pipe");
        let generator = std::thread::spawn(move || {
            let mut buffered = std::io::BufWriter::with_capacity(1 << 20, &mut pipe);
            permitd::gen::generate(
                catalog(),
                &permitd::gen::GenOptions {
                    permits,
                    seed: common::SEED,
                    as_of: common::as_of(),
                },
                &mut buffered,
                &mut |_| {},
            )
            .expect("generation into the pipe");
        });
        let started = Instant::now();
        let report = writer::import(&mut store, reader, &mut |_| {}).expect("import");
        generator.join().expect("the generator does not panic");
        (report, started.elapsed(), true)
    };
    assert_eq!(report.rejected, 0, "generated events are all accepted");
    let log_bytes = dir_bytes(&dir.path().join(LOG_DIR));

    let started = Instant::now();
    let compaction = Compaction::take(&store);
    let taken = started.elapsed();
    let compacted = compaction
        .run(
            catalog(),
            Date::today_in_beijing(),
            time::OffsetDateTime::now_utc(),
        )
        .expect("compaction");
    let seconds = compacted.elapsed.as_secs_f64();
    println!(
        "\ncompaction: {} permits ({} events imported in {:.2} s{}: {} durable events/s, \
         a commit every 8,192; change log {:.1} MB)",
        compacted.stats.permits,
        report.accepted,
        import_time.as_secs_f64(),
        if piped { ", generated alongside" } else { "" },
        common::rate(report.accepted as f64 / import_time.as_secs_f64()),
        log_bytes as f64 / 1e6,
    );
    println!(
        "  Compaction::take {}, run {seconds:.2} s: {} permits/s; snapshot file {} bytes \
         ({:.1} MB, {} shards, {} event ids)",
        ms(taken),
        common::rate(compacted.stats.permits as f64 / seconds),
        compacted.stats.file_bytes,
        compacted.stats.file_bytes as f64 / 1e6,
        compacted.stats.shards,
        compacted.stats.event_ids,
    );

    // The steady state: a base of every permit, a tenth of them changed since (renewed
    // certificates), compacted again: the old snapshot is streamed a shard at a time.
    store
        .rebase(compacted.snapshot, &Retention::default())
        .expect("rebase on the first snapshot");
    let base = store.snapshot().expect("a snapshot").clone();
    let wanted = (base.len() / 10).max(1) as usize;
    let step = (base.len() as usize / wanted).max(1);
    let today = Date::today_in_beijing();
    let started = Instant::now();
    let mut changed = 0u64;
    for (i, permit) in base.iter().enumerate().step_by(step) {
        let usable = permit.licences.iter().find(|l| {
            LicenceState::from(&l.state) == LicenceState::Valid
                && l.certificate_number.is_some()
                && l.valid_until.as_ref().is_none_or(|u| u.to_date() >= today)
        });
        let Some(licence) = usable else { continue };
        let event = Event {
            schema: SCHEMA_VERSION,
            id: format!("bench-renumber-{i}"),
            at: Timestamp::now(),
            department: "北京市房山区市场监督管理局".into(),
            change: Change::LicenceDetailsChanged {
                number: permit.number.to_native(),
                licence_type: LicenceTypeId(licence.licence_type.0.to_native()),
                certificate_number: Some(format!("RN{i:012}")),
                valid_from: None,
                valid_until: None,
                on: today,
            },
        };
        if matches!(store.submit(event), Ok(Outcome::Accepted { .. })) {
            changed += 1;
            if changed.is_multiple_of(8192) {
                store.commit().expect("commit");
            }
        }
    }
    store.commit().expect("commit");
    let applied = started.elapsed();
    let again = Compaction::take(&store)
        .run(catalog(), today, time::OffsetDateTime::now_utc())
        .expect("the second compaction");
    println!(
        "  steady state: {} permits in the base, {changed} changed since ({} applied in {:.2} s); \
         compaction run {:.2} s: {} permits/s",
        base.len(),
        changed,
        applied.as_secs_f64(),
        again.elapsed.as_secs_f64(),
        common::rate(again.stats.permits as f64 / again.elapsed.as_secs_f64()),
    );
    drop(again);
    drop(base);
    drop(store);
}

// ---------------------------------------------------------------------------------------------

/// The parts `PERMITD_BENCH_ONLY` asks for (all when unset).
struct Parts {
    criterion: bool,
    http: bool,
    visibility: bool,
    compaction: bool,
}

impl Parts {
    fn from_env() -> Parts {
        let Ok(only) = std::env::var("PERMITD_BENCH_ONLY") else {
            return Parts {
                criterion: true,
                http: true,
                visibility: true,
                compaction: true,
            };
        };
        let mut parts = Parts {
            criterion: false,
            http: false,
            visibility: false,
            compaction: false,
        };
        for part in only.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "criterion" => parts.criterion = true,
                "http" => parts.http = true,
                "visibility" => parts.visibility = true,
                "compaction" => parts.compaction = true,
                other => panic!(
                    "PERMITD_BENCH_ONLY: {other:?} is not one of criterion, http, visibility, \
                     compaction"
                ),
            }
        }
        parts
    }
}

fn main() {
    let estimates = Estimates::start();
    let parts = Parts::from_env();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and `--test` asks for a
    // smoke run: the plain parts run small then.
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    scratch_root();
    if parts.criterion {
        benches();
        Criterion::default().configure_from_args().final_summary();
        print_ratios(&estimates);
    }
    let skip_http = common::env_flag("PERMITD_BENCH_SKIP_HTTP");
    if skip_http && (parts.http || parts.visibility) {
        println!("\nwriter bench: PERMITD_BENCH_SKIP_HTTP set: no HTTP or visibility run");
    }
    if parts.http && !skip_http {
        http_end_to_end(if smoke {
            2 * HTTP_BATCH_EVENTS
        } else {
            HTTP_EVENTS
        });
    }
    if parts.visibility && !skip_http {
        visibility(
            VISIBILITY_PERMITS,
            if smoke { 50 } else { VISIBILITY_PROBES },
        );
    }
    if parts.compaction {
        let default = if smoke {
            10_000
        } else {
            COMPACTION_PERMITS_DEFAULT
        };
        compaction(common::permits_wanted(default));
    }
}
