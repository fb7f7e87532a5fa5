//! `permit-load`: flag parsing and wiring; all the work is in the `permit_load` library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};

use permit_load::chart;
use permit_load::cpu::CLK_TCK_DEFAULT;
use permit_load::dataset::DataSet;
use permit_load::limits::LABEL_BYTES_MAX;
use permit_load::report::{Report, ReportMeta};
use permit_load::runner::{self, Mode, RunConfig, Timer};
use permit_load::target::{Protocol, Target};
use permit_load::toy_server::ToyServer;
use permit_load::units::parse_duration;
use permit_load::workload::{Accept, Mix, MixOptions, PermitMix, WorkloadSource};

/// Load tester for permitd's QR-code resolver, for servers on this machine only.
///
/// Without a subcommand it runs a load test (same flags as `run`).
#[derive(Debug, Parser)]
#[command(
    name = "permit-load",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

// Parsed once per process: the size of the run flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a load test (also the default without a subcommand).
    Run(RunArgs),
    /// Draw saved JSON reports on one SVG chart, to compare runs.
    Chart(ChartArgs),
    /// Serve a tiny test server (200 known / 400 malformed / 404 unknown) to try permit-load
    /// itself; this is not permitd.
    ToyServer(ToyServerArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// Each connection sends its next request as soon as the previous answer arrives.
    Closed,
    /// A fixed total rate (--rate) spread over the connections; latency counted from the
    /// intended send time.
    Open,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Server to test: http://HOST:PORT, or redis://HOST:PORT with --protocol redis, on the
    /// loopback range (127.0.0.0/8, [::1], localhost). Default: http://127.0.0.1:8080, or
    /// redis://127.0.0.1:6379 with --protocol redis.
    #[arg(long)]
    url: Option<String>,
    /// What the server speaks: HTTP/1.1, or Redis RESP (each request becomes `GET q/{number}`,
    /// the keys `permitd export answers` writes; a known permit expects a bulk string,
    /// malformed and unknown ones nil).
    #[arg(long, value_enum, default_value_t = Protocol::Http)]
    protocol: Protocol,
    /// NDJSON event file as `permitd gen` writes it; permit numbers come from its
    /// permit_issued lines.
    #[arg(long, value_name = "FILE", required = true)]
    data: Option<PathBuf>,
    /// Keep-alive connections.
    #[arg(short, long, default_value_t = 16)]
    connections: usize,
    /// Closed loop or open loop at a fixed rate.
    #[arg(long, value_enum, default_value_t = ModeArg::Closed)]
    mode: ModeArg,
    /// Total requests per second in open mode.
    #[arg(long, value_name = "R", required_if_eq("mode", "open"))]
    rate: Option<u64>,
    /// Length of the measured part of the run (e.g. 10s, 500ms, 2m).
    #[arg(short, long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Load before the measurement that is sent but not recorded.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,
    /// Stop after this many requests in all (warmup included) if the time is not up first.
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
    /// Relative weights of the request kinds.
    #[arg(long, default_value = "qr=80,lookup=15,malformed=3,unknown=2")]
    mix: Mix,
    /// Zipf exponent of permit popularity (0 = uniform).
    #[arg(long, default_value_t = 1.0)]
    zipf_exponent: f64,
    /// Seed of every random choice (permit popularity order, kinds, numbers).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Accept header of qr requests.
    #[arg(long, value_enum, default_value_t = Accept::Json)]
    accept: Accept,
    /// Longest a request may take before it counts as a timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// How open-loop connections wait for an intended send time.
    #[arg(long, value_enum, default_value_t = Timer::Sleep)]
    timer: Timer,
    /// Tokio worker threads (default: one per core; leave cores to the server under test).
    #[arg(long)]
    threads: Option<usize>,
    /// Name of this run in reports and charts (default: from mode, connections and rate).
    #[arg(long)]
    label: Option<String>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Draw the SVG chart here.
    #[arg(long, value_name = "FILE")]
    chart: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
    /// Exit with status 2 when any answer had an unexpected status or any request failed.
    #[arg(long)]
    strict: bool,
    /// A process of the server under test whose CPU time (utime + stime from /proc/PID/stat)
    /// over the measurement the report gives per answer; repeat or separate with commas to add
    /// several up (an nginx master and its workers).
    #[arg(long = "server-pid", value_name = "PID", value_delimiter = ',')]
    server_pids: Vec<u32>,
    /// Clock ticks per second of /proc/PID/stat: what `getconf CLK_TCK` prints.
    #[arg(long, value_name = "HZ", default_value_t = CLK_TCK_DEFAULT)]
    clk_tck: u64,
}

#[derive(Debug, Args)]
struct ChartArgs {
    /// SVG file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Reports written by `--report`; each one's label names its line.
    #[arg(required = true, value_name = "REPORT")]
    reports: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ToyServerArgs {
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The data set whose permits it knows.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run(cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Chart(args)) => draw_chart(args),
        Some(Command::ToyServer(args)) => toy_server(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("permit-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let url = args
        .url
        .as_deref()
        .unwrap_or_else(|| args.protocol.default_url());
    let target = Target::parse(url)?;
    if target.protocol != args.protocol {
        bail!(
            "--url {url} is a {} URL but --protocol is {}; give a {}HOST:PORT URL",
            target.protocol.name(),
            args.protocol.name(),
            args.protocol.scheme()
        );
    }
    if args.protocol == Protocol::Redis && args.accept != Accept::Json {
        bail!("--protocol redis serves the JSON answers only; --accept html needs HTTP");
    }
    let mode = match (args.mode, args.rate) {
        (ModeArg::Closed, None) => Mode::Closed,
        (ModeArg::Closed, Some(_)) => bail!("--rate applies to --mode open only"),
        (ModeArg::Open, Some(rate_per_s)) => Mode::Open { rate_per_s },
        (ModeArg::Open, None) => bail!("--mode open needs --rate"),
    };
    let label = args.label.clone().unwrap_or_else(|| match mode {
        Mode::Closed => format!("closed-c{}", args.connections),
        Mode::Open { rate_per_s } => format!("open-c{}-r{rate_per_s}", args.connections),
    });
    if label.len() > LABEL_BYTES_MAX {
        bail!("--label is longer than {LABEL_BYTES_MAX} bytes");
    }
    let cfg = RunConfig {
        target,
        connections: args.connections,
        mode,
        duration: args.duration,
        warmup: args.warmup,
        max_requests: args.requests,
        timeout: args.timeout,
        timer: args.timer,
        progress: !args.quiet,
        server_pids: args.server_pids.clone(),
        clk_tck: args.clk_tck,
    };
    cfg.validate()?;
    let data_path = args.data.context("--data is required")?;
    let data = DataSet::load(&data_path)?;
    let s = &data.stats;
    eprintln!(
        "loaded {} permits from {} ({} lines; skipped {} other events, {} duplicates, {} invalid numbers)",
        data.numbers.len(),
        data_path.display(),
        s.lines,
        s.other_kinds,
        s.duplicates,
        s.invalid_numbers
    );
    let options = MixOptions {
        mix: args.mix,
        zipf_exponent: args.zipf_exponent,
        accept: args.accept,
        seed: args.seed,
    };
    let source: Arc<dyn WorkloadSource> = Arc::new(PermitMix::new(data.numbers, options)?);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let result = runtime(threads)?.block_on(runner::run(&cfg, Arc::clone(&source)))?;
    let meta = ReportMeta {
        label,
        data_file: Some(data_path.display().to_string()),
    };
    let report = Report::build(&result, &cfg, source.describe(), meta);
    print!("{}", report.summary());
    if let Some(path) = &args.report {
        report.write(path)?;
        eprintln!("wrote report {}", path.display());
    }
    if let Some(path) = &args.chart {
        chart::draw(std::slice::from_ref(&report), path)?;
        eprintln!("wrote chart {}", path.display());
    }
    let clean = report.totals.unexpected == 0 && report.totals.errors == 0;
    Ok(if args.strict && !clean {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn draw_chart(args: ChartArgs) -> anyhow::Result<ExitCode> {
    let reports = args
        .reports
        .iter()
        .map(|p| Report::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    chart::draw(&reports, &args.out)?;
    eprintln!(
        "wrote chart {} ({} reports)",
        args.out.display(),
        reports.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn toy_server(args: ToyServerArgs) -> anyhow::Result<ExitCode> {
    let data = DataSet::load(&args.data)?;
    let known = data.numbers.len();
    runtime(args.threads)?.block_on(async move {
        let mut server = ToyServer::start(args.listen, data.numbers).await?;
        eprintln!(
            "toy server on http://{} knows {known} permits (Ctrl-C to stop)",
            server.addr()
        );
        server.wait().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use permit_load::limits::REQUEST_TIMEOUT_DEFAULT;

    #[test]
    fn cli_definition_is_consistent() {
        // Proves clap accepts the flag definitions (no clashing names or bad defaults).
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_default_run_and_subcommands() {
        // Proves a run needs no subcommand, open mode needs --rate, and chart takes reports.
        let cli = Cli::try_parse_from([
            "permit-load",
            "--data",
            "d.ndjson",
            "-c",
            "4",
            "--duration",
            "2s",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.connections, 4);
        assert_eq!(cli.run.duration, Duration::from_secs(2));
        assert_eq!(cli.run.timeout, REQUEST_TIMEOUT_DEFAULT);
        assert!(Cli::try_parse_from(["permit-load", "--data", "d", "--mode", "open"]).is_err());
        assert!(
            Cli::try_parse_from(["permit-load", "--mode", "closed"]).is_err(),
            "--data required"
        );
        let cli =
            Cli::try_parse_from(["permit-load", "chart", "--out", "c.svg", "a.json", "b.json"])
                .unwrap();
        match cli.command {
            Some(Command::Chart(c)) => assert_eq!(c.reports.len(), 2),
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "permit-load",
            "run",
            "--data",
            "d",
            "--mode",
            "open",
            "--rate",
            "100",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Run(RunArgs {
                rate: Some(100),
                ..
            }))
        ));
    }

    #[test]
    fn parses_redis_and_cpu_flags() {
        // Proves --protocol redis, repeated or comma-separated --server-pid and --clk-tck parse,
        // and that the URL defaults by protocol.
        let cli = Cli::try_parse_from([
            "permit-load",
            "--data",
            "d",
            "--protocol",
            "redis",
            "--server-pid",
            "10,11",
            "--server-pid",
            "12",
            "--clk-tck",
            "250",
        ])
        .unwrap();
        assert_eq!(cli.run.protocol, Protocol::Redis);
        assert_eq!(cli.run.url, None);
        assert_eq!(cli.run.server_pids, [10, 11, 12]);
        assert_eq!(cli.run.clk_tck, 250);
        let cli = Cli::try_parse_from(["permit-load", "--data", "d"]).unwrap();
        assert_eq!(cli.run.protocol, Protocol::Http);
        assert!(cli.run.server_pids.is_empty());
        assert_eq!(cli.run.clk_tck, CLK_TCK_DEFAULT);
    }

    #[test]
    fn refuses_a_url_of_the_other_protocol() {
        // Proves a redis:// URL without --protocol redis (and the reverse) is refused up front,
        // before the data file is read.
        for argv in [
            &[
                "permit-load",
                "--data",
                "/nonexistent",
                "--url",
                "redis://127.0.0.1:6379",
            ][..],
            &[
                "permit-load",
                "--data",
                "/nonexistent",
                "--protocol",
                "redis",
                "--url",
                "http://127.0.0.1:8080",
            ],
            &[
                "permit-load",
                "--data",
                "/nonexistent",
                "--protocol",
                "redis",
                "--accept",
                "html",
            ],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap();
            let err = run(cli.run).unwrap_err().to_string();
            assert!(err.contains("--protocol"), "{err}");
        }
    }
}
