//! End-to-end: permit-load against the toy server on 127.0.0.1:0, in closed and open loop.
//! Runs are bounded by request count or by the open-loop schedule; the assertions are about
//! counts only, never timings.

use std::sync::Arc;
use std::time::Duration;

use permit_load::number::PermitNo;
use permit_load::report::{Report, ReportMeta};
use permit_load::runner::{run, Mode, RunConfig, RunError, Timer};
use permit_load::target::Target;
use permit_load::toy_server::ToyServer;
use permit_load::workload::{Accept, MixOptions, PermitMix, WorkloadSource};

fn numbers(count: u32) -> Vec<PermitNo> {
    let base = PermitNo::from_body(b"110111ZH0300001").unwrap();
    (1..=count).map(|s| base.with_sequence(s * 7)).collect()
}

fn source(numbers: Vec<PermitNo>) -> Arc<dyn WorkloadSource> {
    let options = MixOptions {
        mix: "qr=80,lookup=15,malformed=3,unknown=2".parse().unwrap(),
        zipf_exponent: 1.0,
        accept: Accept::Json,
        seed: 11,
    };
    Arc::new(PermitMix::new(numbers, options).unwrap())
}

fn config(
    server: &ToyServer,
    mode: Mode,
    duration: Duration,
    max_requests: Option<u64>,
) -> RunConfig {
    RunConfig {
        target: Target::parse(&format!("http://{}", server.addr())).unwrap(),
        connections: 4,
        mode,
        duration,
        warmup: Duration::ZERO,
        max_requests,
        timeout: Duration::from_secs(30),
        timer: Timer::Sleep,
        progress: false,
        server_pids: Vec::new(),
        clk_tck: 100,
    }
}

fn report(
    result: &permit_load::runner::RunResult,
    cfg: &RunConfig,
    src: &Arc<dyn WorkloadSource>,
) -> Report {
    Report::build(
        result,
        cfg,
        src.describe(),
        ReportMeta {
            label: "e2e".into(),
            data_file: None,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_counts_every_request_as_expected() {
    // Proves a request-bounded closed-loop run sends exactly N requests and every answer
    // (200 known, 400 malformed, 404 unknown) is counted as expected, with no errors.
    let data = numbers(200);
    let server = ToyServer::start("127.0.0.1:0".parse().unwrap(), data.clone())
        .await
        .unwrap();
    let src = source(data);
    let cfg = config(&server, Mode::Closed, Duration::from_secs(600), Some(2000));
    let result = run(&cfg, Arc::clone(&src)).await.unwrap();
    let r = report(&result, &cfg, &src);
    assert_eq!(r.totals.sent, 2000);
    assert_eq!(r.totals.sent_incl_warmup, 2000);
    assert_eq!(r.totals.expected, 2000, "{}", r.summary());
    assert_eq!(
        (r.totals.unexpected, r.totals.errors),
        (0, 0),
        "{}",
        r.summary()
    );
    assert_eq!(server.requests(), 2000);
    assert_eq!(r.latency_us.count, 2000);
    assert_eq!(r.kinds.values().map(|k| k.sent).sum::<u64>(), 2000);
    for (kind, k) in &r.kinds {
        assert!(k.sent > 0, "kind {kind} never sent");
        assert_eq!(k.expected, k.sent, "kind {kind}");
    }
    let codes: Vec<&str> = r.statuses.keys().map(String::as_str).collect();
    assert_eq!(codes, ["200", "400", "404"]);
    assert!(r.statuses.values().all(|s| s.unexpected == 0));
    assert_eq!(r.timeline.iter().map(|p| p.responses).sum::<u64>(), 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sends_exactly_the_schedule() {
    // Proves an open-loop run sends exactly rate × duration requests (300 at 1000/s for
    // 300 ms), all answered as expected, and records send lag for each.
    let data = numbers(100);
    let server = ToyServer::start("127.0.0.1:0".parse().unwrap(), data.clone())
        .await
        .unwrap();
    let src = source(data);
    let cfg = config(
        &server,
        Mode::Open { rate_per_s: 1000 },
        Duration::from_millis(300),
        None,
    );
    let result = run(&cfg, Arc::clone(&src)).await.unwrap();
    let r = report(&result, &cfg, &src);
    assert_eq!(r.totals.sent, 300);
    assert_eq!(r.totals.expected, 300, "{}", r.summary());
    assert_eq!(
        (r.totals.unexpected, r.totals.errors),
        (0, 0),
        "{}",
        r.summary()
    );
    assert_eq!(server.requests(), 300);
    assert_eq!(r.send_lag_us.as_ref().map(|l| l.count), Some(300));
    assert_eq!(r.service_us.count, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_warmup_is_sent_but_not_recorded() {
    // Proves open-loop warmup requests are sent but left out of the measurement: 100 ms warmup
    // plus 200 ms at 1000/s sends 300 and records the last 200.
    let data = numbers(50);
    let server = ToyServer::start("127.0.0.1:0".parse().unwrap(), data.clone())
        .await
        .unwrap();
    let src = source(data);
    let mut cfg = config(
        &server,
        Mode::Open { rate_per_s: 1000 },
        Duration::from_millis(200),
        None,
    );
    cfg.warmup = Duration::from_millis(100);
    let result = run(&cfg, Arc::clone(&src)).await.unwrap();
    assert_eq!(result.sent_total, 300);
    assert_eq!(result.recorder.sent(), 200);
    assert_eq!(result.recorder.expected(), 200);
    assert_eq!(server.requests(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_the_request_did_not_expect_are_counted_apart() {
    // Proves 404s for permits the server does not know (but the data set has) count as
    // unexpected, by status code, while expected 404s for unknown numbers stay expected.
    let data = numbers(200);
    let server_knows: Vec<PermitNo> = data.iter().copied().step_by(2).collect();
    let server = ToyServer::start("127.0.0.1:0".parse().unwrap(), server_knows)
        .await
        .unwrap();
    let src = source(data);
    let cfg = config(&server, Mode::Closed, Duration::from_secs(600), Some(1500));
    let result = run(&cfg, Arc::clone(&src)).await.unwrap();
    let r = report(&result, &cfg, &src);
    assert_eq!(r.totals.sent, 1500);
    assert_eq!(r.totals.errors, 0);
    assert!(r.totals.unexpected > 0, "{}", r.summary());
    assert_eq!(r.totals.expected + r.totals.unexpected, 1500);
    let s404 = r.statuses["404"];
    assert_eq!(
        s404.unexpected, r.totals.unexpected,
        "only 404s can be unexpected here"
    );
    assert_eq!(s404.expected, r.kinds["unknown"].sent);
    assert_eq!(r.kinds["malformed"].unexpected, 0);
    assert_eq!(
        r.kinds["qr"].unexpected + r.kinds["lookup"].unexpected,
        r.totals.unexpected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_stop_the_run_before_measuring() {
    // Proves a run against a port nobody listens on fails with a connect error up front.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = RunConfig {
        target: Target::parse(&format!("http://{addr}")).unwrap(),
        connections: 2,
        mode: Mode::Closed,
        duration: Duration::from_secs(1),
        warmup: Duration::ZERO,
        max_requests: Some(10),
        timeout: Duration::from_secs(5),
        timer: Timer::Sleep,
        progress: false,
        server_pids: Vec::new(),
        clk_tck: 100,
    };
    let err = run(&cfg, source(numbers(10))).await.unwrap_err();
    assert!(matches!(err, RunError::Connect { .. }), "{err}");
}
