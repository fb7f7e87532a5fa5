//! The run report: what `--report out.json` writes, what `chart` reads back, and the text
//! summary printed at the end of a run.
//!
//! All latencies are in µs. Floating-point fields are rounded to a few decimals so that
//! writing and reading a report gives back exactly the same values. The percentile curve is
//! sampled evenly on the "nines" scale (`x = -log10(1 - p)`: 0 → 0 %, 1 → 90 %, 2 → 99 %,
//! 3 → 99.9 %…), [`CURVE_POINTS_PER_NINE`] points per nine, as deep as the sample count allows
//! (`log10(count)` nines, at most [`CURVE_NINES_MAX`]). The timeline has one point per second
//! of measurement; the last one may cover less than a second (`span_s`), and `rps` accounts
//! for that.
//!
//! A Redis run (`config.protocol = "redis"`) names its statuses by reply type (`bulk`, `nil`,
//! `error`, `other`; see [`crate::resp`]) instead of HTTP codes. `cpu` gives the CPU time the
//! server processes (`--server-pid`) and the load tester used over the measurement, per answer
//! and as cores busy (see [`crate::cpu`]). Both were added within schema 1: older reports read
//! as HTTP runs without CPU figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::http::ErrorKind;
use crate::limits::{CURVE_NINES_MAX, CURVE_POINTS_PER_NINE, REPORT_BYTES_MAX};
use crate::resp;
use crate::runner::{Mode, RunConfig, RunResult};
use crate::stats::{KindCounts, StatusCounts};
use crate::target::Protocol;

pub const REPORT_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub schema: u32,
    pub tool: String,
    pub label: String,
    pub started_at_unix_ms: u64,
    pub config: ReportConfig,
    pub totals: Totals,
    /// Open mode: from the intended send time; closed mode: from the write.
    pub latency_us: LatencySummary,
    /// From the write to the end of the answer.
    pub service_us: LatencySummary,
    /// Open mode only: how late requests were written after their intended time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lag_us: Option<LatencySummary>,
    pub kinds: BTreeMap<String, KindCounts>,
    /// By status code: answers the request expected, and answers it did not.
    pub statuses: BTreeMap<String, StatusCounts>,
    /// Requests without an answer, by error kind (kinds that did not occur are left out).
    pub errors: BTreeMap<String, u64>,
    pub timeline: Vec<TimelinePoint>,
    pub percentile_curve: Vec<CurvePoint>,
    /// CPU time over the measurement (absent where /proc could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuReport>,
}

/// CPU time used over the measurement window.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CpuReport {
    /// Clock ticks per second the readings were converted with.
    pub clk_tck: u64,
    /// From the first reading to the second.
    pub window_s: f64,
    /// The server processes read (`--server-pid`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_pids: Vec<u32>,
    /// The servers together; absent without `--server-pid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ProcessCpu>,
    /// permit-load itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ProcessCpu>,
    /// All cores of the machine together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<ProcessCpu>,
    /// Cores busy with anything but the servers and permit-load: `machine − server − client`
    /// (never below 0). Above a few hundredths, other work shared the machine with the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others_cores: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProcessCpu {
    /// utime + stime over the window.
    pub cpu_us: u64,
    /// `cpu_us` over the window's length: 1.0 is one core busy all the time.
    pub cores: f64,
    /// `cpu_us` over the answers of the measurement (`totals.responses`).
    pub us_per_request: f64,
}

impl ProcessCpu {
    fn new(cpu_us: u64, window_s: f64, responses: u64) -> ProcessCpu {
        ProcessCpu {
            cpu_us,
            cores: if window_s > 0.0 {
                round_to(cpu_us as f64 / 1e6 / window_s, 4)
            } else {
                0.0
            },
            us_per_request: if responses > 0 {
                round_to(cpu_us as f64 / responses as f64, 3)
            } else {
                0.0
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportConfig {
    pub url: String,
    /// `http` or `redis`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<u64>,
    pub connections: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_limit: Option<u64>,
    pub timeout_ms: u64,
    pub timer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_file: Option<String>,
    pub workload: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    /// Requests recorded (sent during the measurement).
    pub sent: u64,
    pub responses: u64,
    pub expected: u64,
    pub unexpected: u64,
    pub errors: u64,
    /// Every request sent, warmup included.
    pub sent_incl_warmup: u64,
    pub measured_s: f64,
    /// Answers (expected or not) per second of measurement.
    pub throughput_rps: f64,
    /// Open mode: requests written more than 1 ms after their intended time.
    pub late_sends: u64,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

impl LatencySummary {
    pub fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min: h.min(),
            mean: round_to(h.mean(), 3),
            stdev: round_to(h.stdev(), 3),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimelinePoint {
    /// Whole seconds since the start of measurement.
    pub second: u64,
    /// How much of this second the run covered (1 except maybe for the last).
    pub span_s: f64,
    pub responses: u64,
    pub errors: u64,
    pub rps: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    /// `-log10(1 - percentile / 100)`.
    pub nines: f64,
    pub percentile: f64,
    pub latency_us: u64,
}

fn default_protocol() -> String {
    Protocol::Http.name().to_owned()
}

/// What the report says about the run beyond the measurements.
#[derive(Debug, Clone)]
pub struct ReportMeta {
    pub label: String,
    pub data_file: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: larger than {REPORT_BYTES_MAX} bytes")]
    TooLarge { path: String },
    #[error("{path}: not a permit-load report: {cause}")]
    Json {
        path: String,
        cause: serde_json::Error,
    },
    #[error("{path}: report schema {found}, this permit-load reads {REPORT_SCHEMA}")]
    Schema { path: String, found: u32 },
}

/// `x` rounded to `decimals` places; such values survive a JSON round trip exactly.
pub fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    if x.is_finite() {
        (x * scale).round() / scale
    } else {
        0.0
    }
}

/// The percentile curve of `h` (see the module doc).
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<CurvePoint> {
    if h.is_empty() {
        return Vec::new();
    }
    let depth = (h.len() as f64).log10().min(f64::from(CURVE_NINES_MAX));
    let steps = (depth * f64::from(CURVE_POINTS_PER_NINE)).floor() as u32;
    (0..=steps)
        .map(|j| {
            let nines = f64::from(j) / f64::from(CURVE_POINTS_PER_NINE);
            let q = 1.0 - 10f64.powf(-nines);
            CurvePoint {
                nines: round_to(nines, 3),
                percentile: round_to(q * 100.0, 4),
                latency_us: h.value_at_quantile(q),
            }
        })
        .collect()
}

impl Report {
    pub fn build(
        result: &RunResult,
        cfg: &RunConfig,
        workload: serde_json::Value,
        meta: ReportMeta,
    ) -> Report {
        let r = &result.recorder;
        let measured_s = result.measured.as_secs_f64();
        let responses = r.expected() + r.unexpected();
        let open = matches!(cfg.mode, Mode::Open { .. });
        let kinds = result
            .kinds
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), r.kinds.get(i).copied().unwrap_or_default()))
            .collect();
        let protocol = cfg.target.protocol;
        let statuses = r
            .statuses()
            .map(|(code, c)| match protocol {
                Protocol::Http => (code.to_string(), c),
                Protocol::Redis => (resp::status_name(code).to_owned(), c),
            })
            .collect();
        let cpu = result.cpu.as_ref().map(|u| {
            let window_s = u.window.as_secs_f64();
            let machine = u
                .machine_us
                .map(|us| ProcessCpu::new(us, window_s, responses));
            let others_cores = u.machine_us.zip(u.client_us).map(|(m, c)| {
                let rest = m.saturating_sub(c).saturating_sub(u.server_us);
                if window_s > 0.0 {
                    round_to(rest as f64 / 1e6 / window_s, 4)
                } else {
                    0.0
                }
            });
            CpuReport {
                clk_tck: u.clk_tck,
                window_s: round_to(window_s, 6),
                server_pids: u.server_pids.clone(),
                server: (!u.server_pids.is_empty())
                    .then(|| ProcessCpu::new(u.server_us, window_s, responses)),
                client: u
                    .client_us
                    .map(|us| ProcessCpu::new(us, window_s, responses)),
                machine,
                others_cores,
            }
        });
        let errors = ErrorKind::ALL
            .iter()
            .filter(|e| r.errors[e.index()] > 0)
            .map(|e| (e.name().to_owned(), r.errors[e.index()]))
            .collect();
        let timeline = r
            .timeline
            .iter()
            .enumerate()
            .map(|(s, c)| {
                let span = (measured_s - s as f64).clamp(1e-3, 1.0);
                TimelinePoint {
                    second: s as u64,
                    span_s: round_to(span, 3),
                    responses: c.responses,
                    errors: c.errors,
                    rps: round_to(c.responses as f64 / round_to(span, 3), 3),
                }
            })
            .collect();
        Report {
            schema: REPORT_SCHEMA,
            tool: concat!("permit-load ", env!("CARGO_PKG_VERSION")).to_owned(),
            label: meta.label,
            started_at_unix_ms: result
                .started_at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            config: ReportConfig {
                url: cfg.target.url.clone(),
                protocol: protocol.name().to_owned(),
                mode: cfg.mode.name().to_owned(),
                rate_per_s: match cfg.mode {
                    Mode::Open { rate_per_s } => Some(rate_per_s),
                    Mode::Closed => None,
                },
                connections: cfg.connections,
                duration_s: round_to(cfg.duration.as_secs_f64(), 6),
                warmup_s: round_to(cfg.warmup.as_secs_f64(), 6),
                requests_limit: cfg.max_requests,
                timeout_ms: cfg.timeout.as_millis() as u64,
                timer: cfg.timer.name().to_owned(),
                data_file: meta.data_file,
                workload,
            },
            totals: Totals {
                sent: r.sent(),
                responses,
                expected: r.expected(),
                unexpected: r.unexpected(),
                errors: r.error_count(),
                sent_incl_warmup: result.sent_total,
                measured_s: round_to(measured_s, 6),
                throughput_rps: if measured_s > 0.0 {
                    round_to(responses as f64 / measured_s, 3)
                } else {
                    0.0
                },
                late_sends: r.late_sends,
            },
            latency_us: LatencySummary::of(&r.latency),
            service_us: LatencySummary::of(&r.service),
            send_lag_us: open.then(|| LatencySummary::of(&r.lag)),
            kinds,
            statuses,
            errors,
            timeline,
            percentile_curve: percentile_curve(&r.latency),
            cpu,
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        let io = |cause| ReportError::Io {
            path: path.display().to_string(),
            cause,
        };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| io(e.into()))?;
        text.push('\n');
        std::fs::write(path, text).map_err(io)
    }

    pub fn read(path: &Path) -> Result<Report, ReportError> {
        let name = || path.display().to_string();
        let file = std::fs::File::open(path).map_err(|cause| ReportError::Io {
            path: name(),
            cause,
        })?;
        let mut text = String::new();
        file.take(REPORT_BYTES_MAX + 1)
            .read_to_string(&mut text)
            .map_err(|cause| ReportError::Io {
                path: name(),
                cause,
            })?;
        if text.len() as u64 > REPORT_BYTES_MAX {
            return Err(ReportError::TooLarge { path: name() });
        }
        // Check the schema first, so an old or new report says so instead of a field error.
        #[derive(serde::Deserialize)]
        struct Probe {
            schema: u32,
        }
        let probe: Probe = serde_json::from_str(&text).map_err(|cause| ReportError::Json {
            path: name(),
            cause,
        })?;
        if probe.schema != REPORT_SCHEMA {
            return Err(ReportError::Schema {
                path: name(),
                found: probe.schema,
            });
        }
        serde_json::from_str(&text).map_err(|cause| ReportError::Json {
            path: name(),
            cause,
        })
    }

    /// The human summary printed after a run.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let t = &self.totals;
        let mut s = String::new();
        let mode = match c.rate_per_s {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop".to_owned(),
        };
        let _ = writeln!(
            s,
            "{}: {mode}, {} connections, {}s measured (+{}s warmup) against {}",
            self.label, c.connections, c.duration_s, c.warmup_s, c.url
        );
        let _ = writeln!(
            s,
            "requests   {} sent, {} answered as expected, {} unexpected status, {} errors",
            t.sent, t.expected, t.unexpected, t.errors
        );
        let _ = writeln!(
            s,
            "throughput {:.1} req/s over {:.3}s",
            t.throughput_rps, t.measured_s
        );
        let _ = writeln!(
            s,
            "{:<14}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>11}",
            "µs", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
        );
        let mut row = |name: &str, l: &LatencySummary| {
            let _ = writeln!(
                s,
                "{name:<14}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>11.1}",
                l.p50, l.p90, l.p99, l.p999, l.p9999, l.max, l.mean
            );
        };
        let latency_name = if c.rate_per_s.is_some() {
            "latency*"
        } else {
            "latency"
        };
        row(latency_name, &self.latency_us);
        if let Some(lag) = &self.send_lag_us {
            row("service", &self.service_us);
            row("send lag", lag);
        }
        if c.rate_per_s.is_some() {
            let _ = writeln!(
                s,
                "* from the intended send time (includes send lag); {} late sends (>1 ms)",
                t.late_sends
            );
        }
        let _ = writeln!(
            s,
            "{:<14}{:>10}{:>10}{:>12}{:>10}",
            "kind", "sent", "expected", "unexpected", "errors"
        );
        for (name, k) in &self.kinds {
            if k.sent > 0 {
                let _ = writeln!(
                    s,
                    "{name:<14}{:>10}{:>10}{:>12}{:>10}",
                    k.sent, k.expected, k.unexpected, k.errors
                );
            }
        }
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(code, n)| match n.unexpected {
                0 => format!("{code}: {}", n.expected),
                u => format!("{code}: {} expected + {u} UNEXPECTED", n.expected),
            })
            .collect();
        let _ = writeln!(
            s,
            "statuses   {}",
            if statuses.is_empty() {
                "none".into()
            } else {
                statuses.join(", ")
            }
        );
        if let Some(cpu) = &self.cpu {
            let mut parts = Vec::new();
            if let Some(server) = &cpu.server {
                let pids: Vec<String> = cpu.server_pids.iter().map(u32::to_string).collect();
                parts.push(format!(
                    "server {:.2} cores, {:.2} µs/answer (pid {})",
                    server.cores,
                    server.us_per_request,
                    pids.join("+")
                ));
            }
            if let Some(client) = &cpu.client {
                parts.push(format!(
                    "permit-load {:.2} cores, {:.2} µs/answer",
                    client.cores, client.us_per_request
                ));
            }
            if let Some(others) = cpu.others_cores {
                parts.push(format!("other work {others:.2} cores"));
            }
            if !parts.is_empty() {
                let _ = writeln!(
                    s,
                    "cpu        {} over {:.3}s",
                    parts.join("; "),
                    cpu.window_s
                );
            }
        }
        if !self.errors.is_empty() {
            let errors: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            let _ = writeln!(s, "errors     {}", errors.join(", "));
        }
        s
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::{Recorder, Sample};
    use crate::target::Target;
    use std::time::Duration;

    /// A report from a synthetic run: `n` answers with latencies 1..=n µs, some unexpected, a
    /// few errors, over 3 seconds.
    pub(crate) fn synthetic_report(label: &str, n: u64, open: bool) -> Report {
        let mut rec = Recorder::new(2);
        for i in 1..=n {
            let outcome = match i % 100 {
                0 => Err(ErrorKind::Timeout),
                7 => Ok(503),
                _ => Ok(if i % 2 == 0 { 200 } else { 404 }),
            };
            rec.record(&Sample {
                kind: (i % 2) as usize,
                expect: if i % 2 == 0 { 200 } else { 404 },
                outcome,
                latency: Duration::from_micros(i),
                service: Duration::from_micros(i / 2),
                lag: open.then(|| Duration::from_micros(i % 3)),
                second: (i * 3 / (n + 1)) as usize,
            });
        }
        let cfg = RunConfig {
            target: Target::parse("http://127.0.0.1:8080").unwrap(),
            connections: 4,
            mode: if open {
                Mode::Open { rate_per_s: 1000 }
            } else {
                Mode::Closed
            },
            duration: Duration::from_millis(2500),
            warmup: Duration::from_secs(1),
            max_requests: None,
            timeout: Duration::from_secs(5),
            timer: crate::runner::Timer::Sleep,
            progress: false,
            server_pids: vec![41, 42],
            clk_tck: 100,
        };
        let result = RunResult {
            recorder: rec,
            kinds: vec!["qr".into(), "unknown".into()],
            measured: Duration::from_micros(2_512_345),
            started_at: std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            sent_total: n + 10,
            cpu: Some(crate::cpu::CpuUsage {
                server_pids: vec![41, 42],
                server_us: 1_234_567,
                client_us: Some(765_432),
                machine_us: Some(2_249_999),
                clk_tck: 100,
                window: Duration::from_millis(2_500),
            }),
        };
        let workload = serde_json::json!({"name": "permit-mix", "zipf_exponent": 1.0, "seed": 7});
        Report::build(
            &result,
            &cfg,
            workload,
            ReportMeta {
                label: label.into(),
                data_file: Some("d.ndjson".into()),
            },
        )
    }

    #[test]
    fn json_round_trips() {
        // Proves a written report reads back equal, field for field, floats included.
        let dir = tempfile::tempdir().unwrap();
        for (i, open) in [false, true].into_iter().enumerate() {
            let report = synthetic_report("run-a", 12_345, open);
            let path = dir.path().join(format!("r{i}.json"));
            report.write(&path).unwrap();
            let back = Report::read(&path).unwrap();
            assert_eq!(back, report);
            assert_eq!(back.send_lag_us.is_some(), open);
        }
    }

    #[test]
    fn report_contents_follow_the_recorder() {
        // Proves totals, statuses, errors, timeline and curve are derived from what was recorded.
        let r = synthetic_report("x", 10_000, true);
        assert_eq!(r.totals.sent, 10_000);
        assert_eq!(r.totals.errors, 100);
        assert_eq!(r.totals.unexpected, 100);
        assert_eq!(r.totals.responses, 9_900);
        assert_eq!(r.totals.expected + r.totals.unexpected, r.totals.responses);
        assert_eq!(r.errors.get("timeout"), Some(&100));
        assert_eq!(
            r.statuses["503"],
            StatusCounts {
                expected: 0,
                unexpected: 100
            }
        );
        assert_eq!(r.kinds["qr"].sent + r.kinds["unknown"].sent, 10_000);
        assert_eq!(r.timeline.len(), 3);
        assert_eq!(
            r.timeline
                .iter()
                .map(|p| p.responses + p.errors)
                .sum::<u64>(),
            10_000
        );
        assert_eq!(r.timeline[2].span_s, 0.512);
        // 9 900 answers: the curve reaches log10(9900) = 3.996 nines, 20 points per nine.
        assert_eq!(r.percentile_curve.len(), 80);
        assert_eq!(r.percentile_curve.last().unwrap().nines, 3.95);
        assert_eq!(r.percentile_curve[20].percentile, 90.0);
        assert!(r
            .percentile_curve
            .windows(2)
            .all(|w| w[0].latency_us <= w[1].latency_us));
        assert!(r.summary().contains("503: 0 expected + 100 UNEXPECTED"));
        // CPU: 1.234567 s of server time over 9 900 answers; the machine was busy 0.25 s more
        // than server and client together over the 2.5 s window: a tenth of a core of other work.
        let cpu = r.cpu.as_ref().unwrap();
        assert_eq!(cpu.server_pids, [41, 42]);
        let server = cpu.server.as_ref().unwrap();
        assert_eq!(server.us_per_request, 124.704);
        assert_eq!(server.cores, 0.4938);
        assert_eq!(cpu.client.as_ref().unwrap().cpu_us, 765_432);
        assert_eq!(cpu.others_cores, Some(0.1));
        assert!(
            r.summary().contains("124.70 µs/answer (pid 41+42)"),
            "{}",
            r.summary()
        );
    }

    #[test]
    fn refuses_other_schemas_and_non_reports() {
        // Proves reading names the problem for a future schema and for arbitrary JSON.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("future.json");
        std::fs::write(&p, r#"{"schema": 99}"#).unwrap();
        assert!(matches!(
            Report::read(&p),
            Err(ReportError::Schema { found: 99, .. })
        ));
        std::fs::write(&p, r#"{"hello": 1}"#).unwrap();
        assert!(matches!(Report::read(&p), Err(ReportError::Json { .. })));
    }
}
