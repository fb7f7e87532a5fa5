//! `permitd writer`: the admin listener (`POST /v1/feed`, bearer token, loopback by default) in
//! front of one committer thread that owns the [`Store`].
//!
//! - Requests are parsed on the listener's runtime; the committer only applies and appends.
//! - The queue between them holds [`WRITER_QUEUE_BATCHES_MAX`] batches; a batch that finds it
//!   full gets `503` with `Retry-After` and changes nothing.
//! - Group commit: the committer takes every batch waiting (up to [`GROUP_EVENTS_MAX`] events),
//!   applies them, appends their records, fsyncs once, then answers each batch with its own
//!   sequence range. An answer is never sent before its records are durable.
//! - The durable states then go to the sealing stage ([`super::sealing`]), which signs them on
//!   its own thread; the committer appends the seals it gets back as seal notes with the next
//!   group. When [`crate::limits::UNSEALED_PERMITS_MAX`] states wait, it takes no batch until
//!   seals come back (the queue fills: 503).
//! - Between batches it runs the expiry scheduler (at start and when the Beijing date changes)
//!   and starts a compaction when the trigger says so; the build runs on its own thread and the
//!   committer rebases on the result when it is published.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{oneshot, Semaphore};

use crate::answer::json::error_body;
use crate::domain::Date;
use crate::event::Event;
use crate::limits::{
    FEED_BATCH_BYTES_MAX, FEED_BATCH_EVENTS_MAX, FEED_LINE_BYTES_MAX, HEADER_READ_TIMEOUT,
    REQUEST_HEAD_BYTES_MAX, WRITER_CONNECTIONS_MAX, WRITER_QUEUE_BATCHES_MAX,
};

use super::compact::{Compacted, Compaction, Retention, Trigger};
use super::sealing::SealingStage;
use super::{expiry, BatchReport, Outcome, Store, StoreError};

/// Most events one group commit gathers from waiting batches before it fsyncs.
pub const GROUP_EVENTS_MAX: usize = 65_536;
/// How long the committer waits for a batch before it looks at the clock (expiry, compaction).
const IDLE_TICK: Duration = Duration::from_millis(200);
/// How long it waits instead while seals are being signed, so they reach the log promptly.
const SEAL_TICK: Duration = Duration::from_millis(1);
/// How long after a failed compaction attestation renewal tries again.
const COMPACTION_RETRY: Duration = Duration::from_secs(60);

type Body = Full<Bytes>;

#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub listen: SocketAddr,
    /// The bearer token `POST /v1/feed` must carry.
    pub token: String,
    pub trigger: Trigger,
    pub retention: Retention,
}

/// One non-blank line of a batch: its 1-based line number, and an event or why it is not one.
pub type Line = (u64, Result<Event, String>);

enum Job {
    Batch {
        lines: Vec<Line>,
        reply: oneshot::Sender<Result<BatchReport, String>>,
    },
    Compact {
        reply: oneshot::Sender<Result<u64, String>>,
    },
}

/// What the committer publishes for `GET /v1/status`.
#[derive(Default)]
pub struct Status {
    pub sequence: AtomicU64,
    pub snapshot_sequence: AtomicU64,
    pub compactions: AtomicU64,
    pub last_compaction_ms: AtomicU64,
    /// Acknowledged states waiting for their attestation.
    pub unsealed: AtomicU64,
    /// Seal notes written since the writer started.
    pub seals: AtomicU64,
}

impl Status {
    /// After a commit: the sequence, and the states whose seal is not in the log yet.
    fn publish(&self, store: &Store, sealing: &SealingStage) {
        self.sequence.store(store.sequence(), Ordering::Relaxed);
        let unsealed = sealing.unsealed() + store.awaiting_seal();
        self.unsealed.store(unsealed as u64, Ordering::Relaxed);
    }
}

/// Runs the writer until `shutdown` turns true: the committer thread plus the admin listener.
/// Returns when both have stopped; queued batches are answered before the committer stops.
///
/// # Errors
/// When the listener cannot bind or the committer hits a log failure.
pub fn run(
    store: Store,
    options: WriterOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
    on_listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let status = Arc::new(Status::default());
    status.sequence.store(store.sequence(), Ordering::Relaxed);
    status
        .unsealed
        .store(store.awaiting_seal() as u64, Ordering::Relaxed);
    status.snapshot_sequence.store(
        store.snapshot().map_or(0, |s| s.header().sequence),
        Ordering::Relaxed,
    );
    let (jobs, received) = std::sync::mpsc::sync_channel::<Job>(WRITER_QUEUE_BATCHES_MAX);
    let committer = {
        let status = status.clone();
        let options = options.clone();
        std::thread::Builder::new()
            .name("permitd-committer".into())
            .spawn(move || commit_loop(store, received, &status, &options))?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let served = runtime.block_on(listen(options, jobs, status, shutdown, on_listening));
    // Dropping the runtime drops the last job sender: the committer drains and stops.
    drop(runtime);
    let committed = committer
        .join()
        .map_err(|_| anyhow::anyhow!("the committer thread panicked"))?;
    served?;
    committed.map_err(Into::into)
}

async fn listen(
    options: WriterOptions,
    jobs: SyncSender<Job>,
    status: Arc<Status>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    on_listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    on_listening(listener.local_addr()?);
    let slots = Arc::new(Semaphore::new(WRITER_CONNECTIONS_MAX));
    let token: Arc<str> = options.token.into();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(REQUEST_HEAD_BYTES_MAX);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            _ = shutdown.wait_for(|&stop| stop) => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    eprintln!("permitd writer: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait_for(|&stop| stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let (jobs, status, token) = (jobs.clone(), status.clone(), token.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let (jobs, status, token) = (jobs.clone(), status.clone(), token.clone());
            async move { Ok::<_, Infallible>(handle(request, &jobs, &status, &token).await) }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    Ok(())
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(status, error_body(code, message))
}

/// Compares in time independent of where the strings differ.
fn token_matches(header: Option<&[u8]>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
        return false;
    };
    let (a, b) = (blake3::hash(given), blake3::hash(token.as_bytes()));
    a == b // blake3::Hash's equality is constant-time
}

async fn handle(
    request: Request<Incoming>,
    jobs: &SyncSender<Job>,
    status: &Status,
    token: &str,
) -> Response<Body> {
    let path = request.uri().path().to_owned();
    match (request.method(), path.as_str()) {
        (&Method::GET, "/healthz") => json(StatusCode::OK, b"{\"status\":\"ok\"}".to_vec()),
        (&Method::GET, "/v1/status") => {
            let body = serde_json::json!({
                "sequence": status.sequence.load(Ordering::Relaxed),
                "snapshot_sequence": status.snapshot_sequence.load(Ordering::Relaxed),
                "compactions": status.compactions.load(Ordering::Relaxed),
                "last_compaction_ms": status.last_compaction_ms.load(Ordering::Relaxed),
                "unsealed": status.unsealed.load(Ordering::Relaxed),
                "seals": status.seals.load(Ordering::Relaxed),
            });
            json(StatusCode::OK, body.to_string().into_bytes())
        }
        (&Method::POST, "/v1/feed" | "/v1/compact") => {
            let authorization = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
            if !token_matches(authorization, token) {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "this endpoint needs the header Authorization: Bearer <feed token>",
                );
            }
            if path == "/v1/compact" {
                compact(jobs).await
            } else {
                feed(request, jobs).await
            }
        }
        (_, "/v1/feed" | "/v1/compact") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST",
        ),
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    }
}

async fn compact(jobs: &SyncSender<Job>) -> Response<Body> {
    let (reply, answer) = oneshot::channel();
    if let Some(busy) = enqueue(jobs, Job::Compact { reply }) {
        return busy;
    }
    match answer.await {
        Ok(Ok(sequence)) => json(
            StatusCode::OK,
            serde_json::json!({ "snapshot_sequence": sequence })
                .to_string()
                .into_bytes(),
        ),
        Ok(Err(why)) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &why),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the writer is stopping",
        ),
    }
}

/// `None` when queued; else the response to send.
fn enqueue(jobs: &SyncSender<Job>, job: Job) -> Option<Response<Body>> {
    match jobs.try_send(job) {
        Ok(()) => None,
        Err(TrySendError::Full(_)) => {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_full",
                "the writer's queue is full; nothing in this batch was applied, send it again",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, hyper::header::HeaderValue::from_static("1"));
            Some(response)
        }
        Err(TrySendError::Disconnected(_)) => Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the writer is stopping; nothing in this batch was applied",
        )),
    }
}

async fn feed(request: Request<Incoming>, jobs: &SyncSender<Job>) -> Response<Body> {
    let body = match Limited::new(request.into_body(), FEED_BATCH_BYTES_MAX)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                &format!("a batch is at most {FEED_BATCH_BYTES_MAX} bytes"),
            )
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", &e.to_string()),
    };
    let lines = match parse_batch(&body) {
        Ok(lines) => lines,
        Err(response) => return response,
    };
    let (reply, answer) = oneshot::channel();
    if let Some(busy) = enqueue(jobs, Job::Batch { lines, reply }) {
        return busy;
    }
    match answer.await {
        Ok(Ok(report)) => json(
            StatusCode::OK,
            serde_json::to_vec(&report).expect("reports serialise"),
        ),
        Ok(Err(why)) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &why),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the writer stopped before answering; send the batch again (replays are harmless)",
        ),
    }
}

/// Splits an NDJSON body into events (blank lines skipped, the others keep their numbers).
#[allow(clippy::result_large_err)]
fn parse_batch(body: &[u8]) -> Result<Vec<Line>, Response<Body>> {
    let mut lines = Vec::new();
    let mut events = 0usize;
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        events += 1;
        if events > FEED_BATCH_EVENTS_MAX {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                &format!("a batch holds at most {FEED_BATCH_EVENTS_MAX} events"),
            ));
        }
        let line = if raw.len() > FEED_LINE_BYTES_MAX {
            Err(format!(
                "line {} is longer than {FEED_LINE_BYTES_MAX} bytes",
                i + 1
            ))
        } else {
            serde_json::from_slice::<Event>(raw).map_err(|e| format!("not a valid event: {e}"))
        };
        lines.push((i as u64 + 1, line));
    }
    Ok(lines)
}

/// The committer: applies batches in arrival order, one fsync per group.
fn commit_loop(
    mut store: Store,
    jobs: Receiver<Job>,
    status: &Status,
    options: &WriterOptions,
) -> Result<(), StoreError> {
    let mut today = None::<Date>;
    let mut last_snapshot_at = Instant::now();
    let mut last_failure = None::<Instant>;
    let mut building: Option<std::thread::JoinHandle<Result<Compacted, StoreError>>> = None;
    let mut compact_waiting: Vec<oneshot::Sender<Result<u64, String>>> = Vec::new();
    let mut sealing = SealingStage::start(store.sealer().clone());
    loop {
        // Seals back from the stage go in with this round's commit.
        let sealed = sealing.collect();
        let kept = store.attach_seals(sealed)? as u64;
        status.seals.fetch_add(kept, Ordering::Relaxed);

        // Housekeeping between groups: expiry once a day, compaction results and triggers.
        let now = Date::today_in_beijing();
        if today != Some(now) {
            today = Some(now);
            lapse_due(&mut store, now)?;
            status.publish(&store, &sealing);
        }
        if building.as_ref().is_some_and(|b| b.is_finished()) {
            let handle = building.take().expect("checked");
            let result = handle
                .join()
                .unwrap_or_else(|_| Err(StoreError::Replay("compaction panicked".into())));
            match result {
                Ok(compacted) => {
                    let sequence = compacted.snapshot.header().sequence;
                    status
                        .last_compaction_ms
                        .store(compacted.elapsed.as_millis() as u64, Ordering::Relaxed);
                    eprintln!(
                        "permitd writer: compacted through sequence {sequence} into {} ({} permits, {} attestations renewed) in {:.1?}",
                        compacted.path.display(),
                        compacted.stats.permits,
                        compacted.renewed,
                        compacted.elapsed
                    );
                    store.rebase(compacted.snapshot, &options.retention)?;
                    // What it sealed need not be signed again.
                    sealing.forget_through(sequence);
                    status.snapshot_sequence.store(sequence, Ordering::Relaxed);
                    status.compactions.fetch_add(1, Ordering::Relaxed);
                    for reply in compact_waiting.drain(..) {
                        let _ = reply.send(Ok(sequence));
                    }
                }
                Err(e) => {
                    eprintln!("permitd writer: compaction failed: {e}");
                    last_failure = Some(Instant::now());
                    for reply in compact_waiting.drain(..) {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
            last_snapshot_at = Instant::now();
        }
        // Renewal is retried no sooner than COMPACTION_RETRY after a failed compaction.
        let renewal = store.renewal_due(time::OffsetDateTime::now_utc().unix_timestamp())
            && last_failure.is_none_or(|at| at.elapsed() >= COMPACTION_RETRY);
        let due = renewal
            || store.events_since_snapshot() >= options.trigger.events
            || (store.events_since_snapshot() > 0
                && last_snapshot_at.elapsed() >= options.trigger.interval);
        if building.is_none()
            && !compact_waiting.is_empty()
            && store.events_since_snapshot() == 0
            && !renewal
        {
            // Nothing since the snapshot: it is the compaction asked for.
            let sequence = store.snapshot().map_or(0, |s| s.header().sequence);
            for reply in compact_waiting.drain(..) {
                let _ = reply.send(Ok(sequence));
            }
        }
        if building.is_none() && (due || !compact_waiting.is_empty()) {
            building = Some(start_compaction(&mut store, now, renewal)?);
        }

        // New durable states (the last group's, today's lapses) go out to be signed.
        sealing.add(store.take_unsealed());
        if sealing.is_full() {
            // Back-pressure: no batch until the signer catches up (the queue fills: 503).
            let sealed = sealing.collect_waiting(IDLE_TICK);
            let kept = store.attach_seals(sealed)? as u64;
            status.seals.fetch_add(kept, Ordering::Relaxed);
            store.commit()?;
            status.publish(&store, &sealing);
            continue;
        }
        let tick = if sealing.is_busy() {
            SEAL_TICK
        } else {
            IDLE_TICK
        };
        let first = match jobs.recv_timeout(tick) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                // Idle: the seal notes attached above become durable on their own.
                store.commit()?;
                status.publish(&store, &sealing);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut group = vec![first];
        let mut events = 0;
        while events < GROUP_EVENTS_MAX {
            match jobs.try_recv() {
                Ok(job) => {
                    if let Job::Batch { lines, .. } = &job {
                        events += lines.len();
                    }
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(group.len());
        for job in group {
            match job {
                Job::Compact { reply } => compact_waiting.push(reply),
                Job::Batch { lines, reply } => {
                    let mut report = BatchReport::default();
                    for (number, line) in lines {
                        let (id, outcome) = match line {
                            Err(reason) => (None, Outcome::Rejected(reason)),
                            Ok(event) => {
                                let id = event.id.clone();
                                (Some(id), store.submit(event)?)
                            }
                        };
                        report.record(number, id.as_deref(), &outcome);
                    }
                    answers.push((reply, report));
                }
            }
        }
        if let Err(e) = store.commit() {
            for (reply, _) in answers {
                let _ = reply.send(Err(format!("the change log failed: {e}")));
            }
            return Err(e);
        }
        status.publish(&store, &sealing);
        for (reply, report) in answers {
            let _ = reply.send(Ok(report));
        }
        if building.is_none() && !compact_waiting.is_empty() && store.events_since_snapshot() > 0 {
            building = Some(start_compaction(
                &mut store,
                Date::today_in_beijing(),
                false,
            )?);
        }
    }
    // Stopping: what was acknowledged is sealed before the writer goes (a restart would sign
    // it anyway), and a compaction in flight finishes (its file is complete or not published).
    store.finish_sealing(sealing)?;
    if let Some(handle) = building {
        let _ = handle.join();
    }
    Ok(())
}

/// Starts a compaction of everything the store holds, once it is durable (a seal note may be
/// appended and not yet committed: a snapshot must never cover a record the log could lose).
fn start_compaction(
    store: &mut Store,
    today: Date,
    renewal: bool,
) -> Result<std::thread::JoinHandle<Result<Compacted, StoreError>>, StoreError> {
    store.commit()?;
    let mut compaction = Compaction::take(store);
    if renewal {
        // Renew a batch (everything past 6 h), so the next renewal is hours away.
        compaction.renew_age = crate::trust::seal::ATTESTATION_RENEW_BATCH_AGE;
    }
    let catalog = store.catalog();
    std::thread::Builder::new()
        .name("permitd-compact".into())
        .spawn(move || {
            // Background work: the committer and any resolver on this machine come first.
            // (Threads the build starts inherit it.)
            crate::background::lower_this_thread("compaction");
            compaction.run(catalog, today, time::OffsetDateTime::now_utc())
        })
        .map_err(|source| StoreError::Io {
            path: "<compaction thread>".into(),
            source,
        })
}

/// Submits and commits the `lapsed` events due today.
fn lapse_due(store: &mut Store, today: Date) -> Result<(), StoreError> {
    let due = expiry::due(store, today);
    if due.is_empty() {
        return Ok(());
    }
    let mut lapsed = 0;
    for event in due {
        if matches!(store.submit(event)?, Outcome::Accepted { .. }) {
            lapsed += 1;
        }
    }
    store.commit()?;
    if lapsed > 0 {
        eprintln!("permitd writer: {lapsed} licences lapsed by date (失效), events written");
    }
    Ok(())
}
