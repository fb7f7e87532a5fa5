//! Running a load test: opening the connections, driving the closed or open loop on each, the
//! warmup, the progress bar, and merging the per-connection recorders.
//!
//! Timeline of a run: all `--connections` are opened first (a run whose server refuses them
//! stops here with an error, before any measurement). Then `t0` is taken; the warmup covers
//! `[t0, t0 + warmup)` and the measurement `[t0 + warmup, t0 + warmup + duration)`.
//!
//! * Closed loop: every connection sends its next request as soon as the previous answer is
//!   in, until the end of the run (or until `--requests` have been issued over all
//!   connections). A request is recorded when it was written during the measurement; its
//!   latency is from the write to the end of the answer.
//! * Open loop: the fixed-rate schedule of [`crate::schedule`]; a request is recorded when its
//!   *intended* time is in the measurement, and its latency runs from that intended time.
//!
//! Requests that fail are counted by [`ErrorKind`] and have no latency. After a failure the
//! connection is reopened for the next request; in the closed loop a failed connect is followed
//! by a [`RECONNECT_BACKOFF`] pause. Each request is bounded by `--timeout`, so a run ends at
//! most one timeout after its end time.
//!
//! The protocol follows the target: HTTP/1.1 through [`crate::http`], or Redis `GET`s through
//! [`crate::resp`] (the request's expected status is then translated by
//! [`resp::expected_status`]); everything else (loops, recording, reports) is shared.
//!
//! CPU: when the measurement starts and again when the last answer is in, the runner reads
//! `utime + stime` of the `server_pids` and of itself ([`crate::cpu`]), so the report can give
//! server CPU per request and show whether the load tester's own core was the limit.
//!
//! With `--timer sleep` (default) tokio's timer wakes a connection for its next intended time
//! with about 1 ms granularity, which shows as send lag and adds to open-loop latency; `--timer
//! spin` sleeps until [`SPIN_WINDOW`] before the intended time and yields in a loop for the
//! rest, for precision at the price of CPU that a server on the same machine then lacks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cpu::{CpuError, CpuStart, CpuUsage, PIDS_MAX};
use crate::http::{self, connect_tcp, ErrorKind, Request};
use crate::limits::{
    CONNECTIONS_MAX, DURATION_MAX, PROGRESS_TICK, RECONNECT_BACKOFF, REQUESTS_MAX,
    REQUEST_TIMEOUT_MAX, SPIN_WINDOW, WARMUP_MAX,
};
use crate::resp;
use crate::schedule::{OpenSchedule, ScheduleError};
use crate::stats::{Recorder, Sample};
use crate::target::{Protocol, Target};
use crate::workload::{Workload, WorkloadSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each connection sends the next request when the previous answer arrives.
    Closed,
    /// A fixed total rate, spread over the connections.
    Open { rate_per_s: u64 },
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Closed => "closed",
            Mode::Open { .. } => "open",
        }
    }
}

/// How an open-loop connection waits for its next intended send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Timer {
    /// tokio's timer: cheap, about 1 ms granularity.
    #[default]
    Sleep,
    /// Sleep, then yield in a loop for the last stretch: precise, burns CPU.
    Spin,
}

impl Timer {
    pub fn name(self) -> &'static str {
        match self {
            Timer::Sleep => "sleep",
            Timer::Spin => "spin",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub target: Target,
    pub connections: usize,
    pub mode: Mode,
    /// The measured part of the run.
    pub duration: Duration,
    pub warmup: Duration,
    /// Stop after this many requests in all (warmup included), if the time is not up first.
    pub max_requests: Option<u64>,
    pub timeout: Duration,
    pub timer: Timer,
    /// Draw a progress bar on stderr (only where stderr is a terminal).
    pub progress: bool,
    /// Processes whose CPU time over the measurement the report gives (the server under test:
    /// for nginx, master and workers).
    pub server_pids: Vec<u32>,
    /// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`).
    pub clk_tck: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("connections must be 1..={CONNECTIONS_MAX}")]
    Connections,
    #[error("duration must be above zero and at most {}s", DURATION_MAX.as_secs())]
    Duration,
    #[error("warmup must be at most {}s", WARMUP_MAX.as_secs())]
    Warmup,
    #[error("requests must be 1..={REQUESTS_MAX}")]
    Requests,
    #[error("timeout must be above zero and at most {}s", REQUEST_TIMEOUT_MAX.as_secs())]
    Timeout,
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("at most {PIDS_MAX} server pids")]
    Pids,
    #[error("clock ticks per second must be 1..=1000000")]
    ClkTck,
}

impl RunConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=CONNECTIONS_MAX).contains(&self.connections) {
            return Err(ConfigError::Connections);
        }
        if self.duration.is_zero() || self.duration > DURATION_MAX {
            return Err(ConfigError::Duration);
        }
        if self.warmup > WARMUP_MAX {
            return Err(ConfigError::Warmup);
        }
        if self
            .max_requests
            .is_some_and(|n| !(1..=REQUESTS_MAX).contains(&n))
        {
            return Err(ConfigError::Requests);
        }
        if self.timeout.is_zero() || self.timeout > REQUEST_TIMEOUT_MAX {
            return Err(ConfigError::Timeout);
        }
        if let Mode::Open { rate_per_s } = self.mode {
            OpenSchedule::new(rate_per_s, self.connections)?;
        }
        if self.server_pids.len() > PIDS_MAX {
            return Err(ConfigError::Pids);
        }
        if !(1..=1_000_000).contains(&self.clk_tck) {
            return Err(ConfigError::ClkTck);
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot connect to {addr} ({opened} of {wanted} connections opened): {cause}")]
    Connect {
        addr: std::net::SocketAddr,
        opened: usize,
        wanted: usize,
        cause: std::io::Error,
    },
    #[error("a connection task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("server CPU time: {0}")]
    Cpu(#[from] CpuError),
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub recorder: Recorder,
    pub kinds: Vec<String>,
    /// From the start of measurement until every connection was done (end time plus the
    /// answers still in flight then).
    pub measured: Duration,
    pub started_at: SystemTime,
    /// Requests sent in all, warmup included.
    pub sent_total: u64,
    /// CPU time of the servers and of the load tester over the measurement.
    pub cpu: Option<CpuUsage>,
}

enum Plan {
    Closed {
        budget: Option<(AtomicU64, u64)>,
    },
    Open {
        schedule: OpenSchedule,
        total: u64,
        first_measured: u64,
    },
}

#[derive(Default)]
struct Live {
    sent: AtomicU64,
    responses: AtomicU64,
    unexpected: AtomicU64,
    errors: AtomicU64,
}

struct Shared {
    t0: Instant,
    window_start: Instant,
    end: Instant,
    plan: Plan,
    target: Target,
    timeout: Duration,
    timer: Timer,
    kinds: usize,
    live: Live,
}

/// Runs the load test `cfg` with requests from `source`.
pub async fn run(cfg: &RunConfig, source: Arc<dyn WorkloadSource>) -> Result<RunResult, RunError> {
    cfg.validate()?;
    // A pid that cannot be read fails the run now, not after the measurement.
    CpuStart::take(&cfg.server_pids)?;
    let connections = open_connections(cfg).await?;

    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let window_start = t0 + cfg.warmup;
    let end = window_start + cfg.duration;
    let plan = match cfg.mode {
        Mode::Closed => Plan::Closed {
            budget: cfg.max_requests.map(|n| (AtomicU64::new(0), n)),
        },
        Mode::Open { rate_per_s } => {
            let schedule =
                OpenSchedule::new(rate_per_s, cfg.connections).map_err(ConfigError::from)?;
            let scheduled = schedule.first_at_or_after(cfg.warmup + cfg.duration);
            Plan::Open {
                schedule,
                total: cfg.max_requests.map_or(scheduled, |n| n.min(scheduled)),
                first_measured: schedule.first_at_or_after(cfg.warmup),
            }
        }
    };
    let shared = Arc::new(Shared {
        t0,
        window_start,
        end,
        plan,
        target: cfg.target.clone(),
        timeout: cfg.timeout,
        timer: cfg.timer,
        kinds: source.kinds().len(),
        live: Live::default(),
    });

    let pids = cfg.server_pids.clone();
    let cpu_start = tokio::spawn(async move {
        tokio::time::sleep_until(window_start.into()).await;
        CpuStart::take(&pids)
    });

    let bar = progress_bar(cfg);
    let ticker = tokio::spawn(tick_progress(
        Arc::clone(&shared),
        bar.clone(),
        cfg.max_requests,
    ));

    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(c, conn)| {
            let workload = source.workload(c);
            tokio::spawn(connection_task(Arc::clone(&shared), c, conn, workload))
        })
        .collect();
    let mut recorder = Recorder::new(shared.kinds);
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(r) => recorder.merge(&r),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    let measured = Instant::now().saturating_duration_since(window_start);
    // A run capped by --requests may end inside the warmup: then there is no window to read.
    let cpu = if Instant::now() >= window_start {
        Some(cpu_start.await??.finish(&cfg.server_pids, cfg.clk_tck)?)
    } else {
        cpu_start.abort();
        None
    };
    ticker.abort();
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(RunError::Task(e));
    }
    Ok(RunResult {
        recorder,
        kinds: source.kinds().iter().map(|k| k.to_string()).collect(),
        measured,
        started_at,
        sent_total: shared.live.sent.load(Relaxed),
        cpu,
    })
}

/// A keep-alive client of the run's protocol.
enum AnyClient {
    Http(http::Client),
    Redis(resp::Client),
}

impl AnyClient {
    fn new(target: &Target, timeout: Duration, stream: tokio::net::TcpStream) -> AnyClient {
        match target.protocol {
            Protocol::Http => AnyClient::Http(http::Client::new(
                target.addr,
                target.host_header.clone(),
                timeout,
                Some(http::Connection::from_stream(stream)),
            )),
            Protocol::Redis => AnyClient::Redis(resp::Client::new(
                target.addr,
                timeout,
                Some(resp::Connection::from_stream(stream)),
            )),
        }
    }

    /// Turns the workload's expectation into this protocol's.
    fn adapt(&self, req: &mut Request) {
        if let AnyClient::Redis(_) = self {
            req.expect = resp::expected_status(req.expect);
        }
    }

    async fn send(&mut self, req: &Request) -> Result<u16, ErrorKind> {
        match self {
            AnyClient::Http(c) => c.send(req).await.map(|head| head.status),
            AnyClient::Redis(c) => c.send(req).await,
        }
    }
}

async fn open_connections(cfg: &RunConfig) -> Result<Vec<tokio::net::TcpStream>, RunError> {
    let addr = cfg.target.addr;
    let mut set = tokio::task::JoinSet::new();
    for c in 0..cfg.connections {
        set.spawn(async move { (c, connect_tcp(addr).await) });
    }
    let mut opened: Vec<Option<tokio::net::TcpStream>> =
        (0..cfg.connections).map(|_| None).collect();
    let mut count = 0;
    while let Some(joined) = set.join_next().await {
        let (c, result) = joined?;
        match result {
            Ok(conn) => {
                opened[c] = Some(conn);
                count += 1;
            }
            Err(cause) => {
                set.abort_all();
                return Err(RunError::Connect {
                    addr,
                    opened: count,
                    wanted: cfg.connections,
                    cause,
                });
            }
        }
    }
    Ok(opened.into_iter().flatten().collect())
}

async fn connection_task(
    shared: Arc<Shared>,
    c: usize,
    conn: tokio::net::TcpStream,
    mut workload: Box<dyn Workload>,
) -> Recorder {
    let s = &*shared;
    let mut rec = Recorder::new(s.kinds);
    let mut client = AnyClient::new(&s.target, s.timeout, conn);
    let mut req = Request::default();
    match &s.plan {
        Plan::Closed { budget } => loop {
            if Instant::now() >= s.end {
                break;
            }
            if let Some((issued, limit)) = budget {
                if issued.fetch_add(1, Relaxed) >= *limit {
                    break;
                }
            }
            workload.next_request(&mut req);
            client.adapt(&mut req);
            let sent = Instant::now();
            let outcome = client.send(&req).await;
            let done = Instant::now();
            s.note(&req, outcome);
            if sent >= s.window_start {
                rec.record(&Sample {
                    kind: req.kind,
                    expect: req.expect,
                    outcome,
                    latency: done - sent,
                    service: done - sent,
                    lag: None,
                    second: s.second_of(done),
                });
            }
            if outcome == Err(ErrorKind::Connect) {
                let pause = RECONNECT_BACKOFF.min(s.end.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
        },
        Plan::Open {
            schedule,
            total,
            first_measured,
        } => {
            for k in 0..schedule.requests_of(c, *total) {
                let i = schedule.global_index(c, k);
                let due = s.t0 + schedule.offset_of(i);
                wait_until(due, s.timer).await;
                workload.next_request(&mut req);
                client.adapt(&mut req);
                let sent = Instant::now();
                let outcome = client.send(&req).await;
                let done = Instant::now();
                s.note(&req, outcome);
                if i >= *first_measured {
                    rec.record(&Sample {
                        kind: req.kind,
                        expect: req.expect,
                        outcome,
                        latency: done.saturating_duration_since(due),
                        service: done - sent,
                        lag: Some(sent.saturating_duration_since(due)),
                        second: s.second_of(done),
                    });
                }
            }
        }
    }
    rec
}

impl Shared {
    fn note(&self, req: &Request, outcome: Result<u16, ErrorKind>) {
        self.live.sent.fetch_add(1, Relaxed);
        match outcome {
            Ok(status) => {
                self.live.responses.fetch_add(1, Relaxed);
                if status != req.expect {
                    self.live.unexpected.fetch_add(1, Relaxed);
                }
            }
            Err(_) => {
                self.live.errors.fetch_add(1, Relaxed);
            }
        }
    }

    fn second_of(&self, at: Instant) -> usize {
        at.saturating_duration_since(self.window_start).as_secs() as usize
    }
}

async fn wait_until(due: Instant, timer: Timer) {
    match timer {
        Timer::Sleep => {
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        Timer::Spin => {
            if let Some(coarse) = due.checked_sub(SPIN_WINDOW) {
                if coarse > Instant::now() {
                    tokio::time::sleep_until(coarse.into()).await;
                }
            }
            while Instant::now() < due {
                tokio::task::yield_now().await;
            }
        }
    }
}

fn progress_bar(cfg: &RunConfig) -> ProgressBar {
    if !cfg.progress {
        return ProgressBar::hidden();
    }
    let len = match cfg.max_requests {
        Some(n) => n,
        None => (cfg.warmup + cfg.duration).as_millis() as u64,
    };
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} {prefix:>9} [{elapsed_precise}] [{wide_bar}] {msg}",
    )
    .expect("constant template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

async fn tick_progress(shared: Arc<Shared>, bar: ProgressBar, max_requests: Option<u64>) {
    let mut interval = tokio::time::interval(PROGRESS_TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last = (Instant::now(), 0u64);
    loop {
        interval.tick().await;
        let now = Instant::now();
        let live = &shared.live;
        let responses = live.responses.load(Relaxed);
        let rate = (responses - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-3);
        last = (now, responses);
        bar.set_prefix(if now < shared.window_start {
            "warmup"
        } else if now < shared.end {
            "measuring"
        } else {
            "draining"
        });
        bar.set_position(match max_requests {
            Some(_) => live.sent.load(Relaxed),
            None => now.saturating_duration_since(shared.t0).as_millis() as u64,
        });
        bar.set_message(format!(
            "{rate:>9.0} req/s  {} unexpected  {} errors",
            live.unexpected.load(Relaxed),
            live.errors.load(Relaxed)
        ));
    }
}
