//! Every bound permit-load enforces, in one place. Units last in names.
//!
//! A limit that is not here is a bug: connections, rates, durations, buffer sizes, timeouts.

use std::time::Duration;

/// Most connections one run opens (each has its own task, buffers and histograms).
pub const CONNECTIONS_MAX: usize = 4096;
/// Highest open-loop total rate, in requests per second.
pub const RATE_MAX_PER_S: u64 = 5_000_000;
/// Longest measured part of a run.
pub const DURATION_MAX: Duration = Duration::from_secs(3600);
/// Longest warmup before the measured part.
pub const WARMUP_MAX: Duration = Duration::from_secs(600);
/// Most requests one run may be capped to with `--requests`.
pub const REQUESTS_MAX: u64 = 10_000_000_000;

/// Longest response head (status line + headers) accepted, in bytes.
pub const RESPONSE_HEAD_BYTES_MAX: usize = 16 * 1024;
/// Largest whole response (head + body) accepted, in bytes.
pub const RESPONSE_BYTES_MAX: usize = 1024 * 1024;
/// Largest request written (head + body, e.g. a future bulk-verification POST), in bytes.
pub const REQUEST_BYTES_MAX: usize = 256 * 1024;

/// Time a TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time one request may take from its write to the end of its response.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// Longest `--timeout` accepted.
pub const REQUEST_TIMEOUT_MAX: Duration = Duration::from_secs(60);
/// Pause after a failed connect in the closed loop, so a dead server is not hammered in a spin.
pub const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// Longest NDJSON line read from a data file, in bytes.
pub const DATA_LINE_BYTES_MAX: usize = 64 * 1024;
/// Most permit numbers taken from a data file.
pub const DATA_PERMITS_MAX: usize = 50_000_000;
/// Well-formed numbers absent from the data set that a run prepares for the `unknown` share.
pub const UNKNOWN_POOL_SIZE: usize = 4096;
/// Largest accepted Zipf exponent (larger ones put practically every request on rank 1).
pub const ZIPF_EXPONENT_MAX: f64 = 10.0;

/// Significant decimal digits kept by the latency histograms.
pub const LATENCY_SIGFIGS: u8 = 3;
/// Highest latency recorded, in µs; longer ones are clamped to it (and show as the max).
pub const LATENCY_MAX_US: u64 =
    (DURATION_MAX.as_secs() + WARMUP_MAX.as_secs() + REQUEST_TIMEOUT_MAX.as_secs()) * 1_000_000;
/// An open-loop request written this much after its intended time counts as a late send.
pub const LATE_SEND_THRESHOLD: Duration = Duration::from_millis(1);
/// With `--timer spin`, the last stretch before an intended send time spent yielding instead of
/// sleeping: a little more than tokio's 1 ms timer granularity.
pub const SPIN_WINDOW: Duration = Duration::from_micros(1500);
/// How often the progress bar is redrawn.
pub const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// Points on the nines axis of the latency percentile curve, per nine.
pub const CURVE_POINTS_PER_NINE: u32 = 20;
/// Deepest point of the percentile curve, in nines (5 = 99.999 %).
pub const CURVE_NINES_MAX: u32 = 5;
/// Most reports drawn on one comparison chart.
pub const REPORTS_PER_CHART_MAX: usize = 12;
/// Largest report file read back, in bytes.
pub const REPORT_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Longest `--label`, in bytes.
pub const LABEL_BYTES_MAX: usize = 80;

const _: () = assert!(RESPONSE_HEAD_BYTES_MAX < RESPONSE_BYTES_MAX);
const _: () = assert!(UNKNOWN_POOL_SIZE > 0);
