//! End-to-end in Redis mode: permit-load against a tiny RESP server in this test, on
//! 127.0.0.1:0. The server answers `GET` from a map (bulk string or nil), can inject error
//! replies and close connections, and writes some replies in pieces so the client's partial
//! parsing is exercised. Runs are bounded by request count or the open-loop schedule; the
//! assertions are about counts only, never timings.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use permit_load::number::PermitNo;
use permit_load::report::{Report, ReportMeta};
use permit_load::runner::{run, Mode, RunConfig, Timer};
use permit_load::target::{Protocol, Target};
use permit_load::workload::{Accept, MixOptions, PermitMix, WorkloadSource};

#[derive(Clone, Copy, Default)]
struct Faults {
    /// Every n-th command (counted over the server) gets `-ERR injected`.
    error_every: Option<u64>,
    /// Every n-th command gets no reply: the connection is closed instead.
    close_every: Option<u64>,
}

struct MiniRedis {
    addr: SocketAddr,
    commands: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MiniRedis {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MiniRedis {
    async fn start(store: HashMap<Vec<u8>, Vec<u8>>, faults: Faults) -> MiniRedis {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let store = Arc::new(store);
        let commands = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&commands);
        let task = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(serve(
                    stream,
                    Arc::clone(&store),
                    Arc::clone(&counter),
                    faults,
                ));
            }
        });
        MiniRedis {
            addr,
            commands,
            task,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }
}

/// One command (an array of bulk strings) at the start of `buf`: (arguments, bytes used).
fn parse_command(buf: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = buf.get(at..)?.windows(2).position(|w| w == b"\r\n")? + at;
        Some((&buf[at..end], end + 2))
    }
    let (head, mut at) = line(buf, 0)?;
    assert_eq!(head[0], b'*', "commands are arrays");
    let count: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let (len_line, after) = line(buf, at)?;
        assert_eq!(len_line[0], b'$', "arguments are bulk strings");
        let len: usize = std::str::from_utf8(&len_line[1..])
            .unwrap()
            .parse()
            .unwrap();
        let arg = buf.get(after..after + len)?;
        assert_eq!(buf.get(after + len..after + len + 2)?, b"\r\n");
        args.push(arg.to_vec());
        at = after + len + 2;
    }
    Some((args, at))
}

async fn serve(
    mut stream: TcpStream,
    store: Arc<HashMap<Vec<u8>, Vec<u8>>>,
    commands: Arc<AtomicU64>,
    faults: Faults,
) {
    stream.set_nodelay(true).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some((args, used)) = parse_command(&buf) {
            buf.drain(..used);
            let n = commands.fetch_add(1, Relaxed) + 1;
            if faults.close_every.is_some_and(|k| n.is_multiple_of(k)) {
                return;
            }
            let mut reply = Vec::new();
            if faults.error_every.is_some_and(|k| n.is_multiple_of(k)) {
                reply.extend_from_slice(b"-ERR injected\r\n");
            } else if args.len() == 2 && args[0].eq_ignore_ascii_case(b"GET") {
                match store.get(&args[1]) {
                    Some(value) => {
                        reply.extend_from_slice(format!("${}\r\n", value.len()).as_bytes());
                        reply.extend_from_slice(value);
                        reply.extend_from_slice(b"\r\n");
                    }
                    None => reply.extend_from_slice(b"$-1\r\n"),
                }
            } else {
                reply.extend_from_slice(b"-ERR unknown command\r\n");
            }
            // Every third reply goes out in three pieces, split inside the length line and
            // inside the body, so the client sees partial replies.
            if n.is_multiple_of(3) && reply.len() > 4 {
                let cuts = [0, 2, reply.len() / 2 + 1, reply.len()];
                for w in cuts.windows(2) {
                    if stream.write_all(&reply[w[0]..w[1]]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_micros(50)).await;
                }
            } else if stream.write_all(&reply).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
}

fn numbers(count: u32) -> Vec<PermitNo> {
    let base = PermitNo::from_body(b"110111ZH0300001").unwrap();
    (1..=count).map(|s| base.with_sequence(s * 7)).collect()
}

/// The answers the export would write: `q/{number}` → a JSON-ish body, some of them large and
/// holding CRLF (bulk strings are length-delimited, so that must not matter).
fn store_of(numbers: &[PermitNo]) -> HashMap<Vec<u8>, Vec<u8>> {
    numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut body = format!("{{\"number\":\"{n}\",\"note\":\"a\\r\\nb\"}}\r\n").into_bytes();
            body.resize(body.len() + (i % 5) * 40_000, b' ');
            (format!("q/{n}").into_bytes(), body)
        })
        .collect()
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

fn config(server: &MiniRedis, mode: Mode, duration: Duration, max: Option<u64>) -> RunConfig {
    RunConfig {
        target: Target::parse(&server.url()).unwrap(),
        connections: 4,
        mode,
        duration,
        warmup: Duration::ZERO,
        max_requests: max,
        timeout: Duration::from_secs(30),
        timer: Timer::Sleep,
        progress: false,
        server_pids: vec![std::process::id()],
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
            label: "redis-e2e".into(),
            data_file: None,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_gets_bulk_for_known_and_nil_for_the_rest() {
    // Proves a request-bounded closed-loop Redis run sends exactly N GETs, counts a bulk string
    // as expected for qr/lookup and nil as expected for malformed/unknown, with no errors, and
    // names the statuses by reply type in the report.
    let data = numbers(200);
    let server = MiniRedis::start(store_of(&data), Faults::default()).await;
    let src = source(data);
    let cfg = config(&server, Mode::Closed, Duration::from_secs(600), Some(2000));
    assert_eq!(cfg.target.protocol, Protocol::Redis);
    let result = run(&cfg, Arc::clone(&src)).await.unwrap();
    let r = report(&result, &cfg, &src);
    assert_eq!(r.totals.sent, 2000);
    assert_eq!(r.totals.expected, 2000, "{}", r.summary());
    assert_eq!((r.totals.unexpected, r.totals.errors), (0, 0));
    assert_eq!(server.commands.load(Relaxed), 2000);
    assert_eq!(r.config.protocol, "redis");
    assert!(r.config.url.starts_with("redis://127.0.0.1:"));
    let names: Vec<&str> = r.statuses.keys().map(String::as_str).collect();
    assert_eq!(names, ["bulk", "nil"]);
    assert_eq!(
        r.statuses["bulk"].expected,
        r.kinds["qr"].sent + r.kinds["lookup"].sent
    );
    assert_eq!(
        r.statuses["nil"].expected,
        r.kinds["malformed"].sent + r.kinds["unknown"].sent
    );
    for (kind, k) in &r.kinds {
        assert!(k.sent > 0, "kind {kind} never sent");
    }
    let cpu = r.cpu.as_ref().expect("cpu measured");
    assert_eq!(cpu.server_pids, [std::process::id()]);
    assert!(cpu.server.is_some() && cpu.client.is_some());
    assert!(r.summary().contains("bulk: "), "{}", r.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sends_exactly_the_schedule() {
    // Proves the open loop drives Redis like HTTP: 300 GETs at 1000/s for 300 ms, all expected.
    let data = numbers(100);
    let server = MiniRedis::start(store_of(&data), Faults::default()).await;
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
    assert_eq!(server.commands.load(Relaxed), 300);
    assert_eq!(r.send_lag_us.as_ref().map(|l| l.count), Some(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_keys_and_error_replies_are_unexpected_answers() {
    // Proves a known permit whose key is missing counts as an unexpected nil, an error reply
    // as an unexpected "error" status on a connection that stays usable (no request errors).
    let data = numbers(200);
    let half: Vec<PermitNo> = data.iter().copied().step_by(2).collect();
    let faults = Faults {
        error_every: Some(50),
        ..Faults::default()
    };
    let server = MiniRedis::start(store_of(&half), faults).await;
    let src = source(data);
    let cfg = config(&server, Mode::Closed, Duration::from_secs(600), Some(1500));
    let result = run(&cfg, Arc::clone(&src)).await.unwrap();
    let r = report(&result, &cfg, &src);
    assert_eq!(r.totals.sent, 1500);
    assert_eq!(r.totals.errors, 0, "{}", r.summary());
    assert_eq!(r.statuses["error"].unexpected, 30, "{}", r.summary());
    assert!(r.statuses["nil"].unexpected > 0, "{}", r.summary());
    assert_eq!(
        r.totals.unexpected,
        r.statuses["error"].unexpected + r.statuses["nil"].unexpected
    );
    assert_eq!(r.totals.expected + r.totals.unexpected, 1500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_connections_are_errors_and_the_client_reconnects() {
    // Proves a connection the server closes mid-command counts as a "closed" error and the
    // next request goes out on a new connection.
    let data = numbers(50);
    let faults = Faults {
        close_every: Some(100),
        ..Faults::default()
    };
    let server = MiniRedis::start(store_of(&data), faults).await;
    let src = source(data);
    let cfg = config(&server, Mode::Closed, Duration::from_secs(600), Some(1000));
    let result = run(&cfg, Arc::clone(&src)).await.unwrap();
    let r = report(&result, &cfg, &src);
    assert_eq!(r.totals.sent, 1000);
    assert_eq!(r.errors.get("closed"), Some(&10), "{}", r.summary());
    assert_eq!(r.totals.expected, 990);
}
