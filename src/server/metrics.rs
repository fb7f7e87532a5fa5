//! `/metrics`: the resolver's counters in Prometheus text format (prometheus crate).
//!
//! Counting stays off the shared cache lines of the request path: each serving thread gets its
//! own [`ThreadCounters`] (registered once, when the thread starts serving) and bumps relaxed
//! atomics no other core writes; a scrape sums every thread's counters. The handler benchmark
//! measures a request with and without counting.
//!
//! Families (names follow Prometheus conventions: base units, `_total` for counters):
//! `permitd_http_requests_total{route,status}`, `permitd_http_request_duration_seconds`
//! (histogram), `permitd_http_rejected_total{reason}`, `permitd_open_connections`,
//! `permitd_snapshot_sequence`, `permitd_snapshot_age_seconds`, `permitd_snapshot_permits`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

/// Route labels, in [`crate::server::router::Route`] order, plus requests that matched none.
pub const ROUTE_LABELS: [&str; 15] = [
    "permit",
    "qr_scan",
    "industries",
    "industry",
    "healthz",
    "readyz",
    "metrics",
    "changes",
    "aggregates",
    "attestation",
    "qr_svg",
    "qr_png",
    "certificate",
    "keys",
    "none",
];
/// Status labels counted one by one; anything else is `other`.
const STATUS_LABELS: [&str; 8] = ["200", "400", "404", "405", "414", "500", "503", "other"];
/// Upper bounds of the latency histogram, in seconds (time spent answering in the process).
const LATENCY_BOUNDS_SECONDS: [f64; 12] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2,
];
/// Why a connection was closed without an answer.
pub const REJECTION_LABELS: [&str; 3] = ["header_timeout", "malformed_request", "io_error"];

fn status_index(status: u16) -> usize {
    match status {
        200 => 0,
        400 => 1,
        404 => 2,
        405 => 3,
        414 => 4,
        500 => 5,
        503 => 6,
        _ => 7,
    }
}

/// One serving thread's counters. Only that thread writes them.
pub struct ThreadCounters {
    requests: [[AtomicU64; STATUS_LABELS.len()]; ROUTE_LABELS.len()],
    latency_buckets: [AtomicU64; LATENCY_BOUNDS_SECONDS.len() + 1],
    latency_sum_ns: AtomicU64,
    rejected: [AtomicU64; REJECTION_LABELS.len()],
    open_connections: AtomicI64,
}

impl ThreadCounters {
    fn new() -> ThreadCounters {
        ThreadCounters {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_ns: AtomicU64::new(0),
            rejected: std::array::from_fn(|_| AtomicU64::new(0)),
            open_connections: AtomicI64::new(0),
        }
    }

    /// Counts one answered request: route (index into [`ROUTE_LABELS`]), status, time taken.
    #[inline]
    pub fn request(&self, route: usize, status: u16, elapsed: Duration) {
        self.requests[route.min(ROUTE_LABELS.len() - 1)][status_index(status)]
            .fetch_add(1, Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BOUNDS_SECONDS.iter().position(|&b| seconds <= b);
        self.latency_buckets[bucket.unwrap_or(LATENCY_BOUNDS_SECONDS.len())].fetch_add(1, Relaxed);
        self.latency_sum_ns
            .fetch_add(elapsed.as_nanos() as u64, Relaxed);
    }

    /// Counts a connection closed for `reason` (index into [`REJECTION_LABELS`]).
    pub fn rejected(&self, reason: usize) {
        self.rejected[reason.min(REJECTION_LABELS.len() - 1)].fetch_add(1, Relaxed);
    }

    pub fn connection_opened(&self) {
        self.open_connections.fetch_add(1, Relaxed);
    }

    pub fn connection_closed(&self) {
        self.open_connections.fetch_sub(1, Relaxed);
    }
}

/// Every thread's counters. The lock is taken when a thread registers and when a scrape reads,
/// never while answering a request.
#[derive(Default)]
pub struct Metrics {
    threads: Mutex<Vec<Arc<ThreadCounters>>>,
}

/// Snapshot facts a scrape reports.
pub struct SnapshotGauges {
    pub sequence: u64,
    pub permits: u64,
    pub age_seconds: f64,
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.to_owned());
    family.set_help(help.to_owned());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

fn gauge(value: f64) -> Metric {
    let mut gauge = Gauge::default();
    gauge.set_value(value);
    Metric::from_gauge(gauge)
}

fn counter(value: u64, labels: Vec<LabelPair>) -> Metric {
    let mut counter = Counter::default();
    counter.set_value(value as f64);
    let mut metric = Metric::from_label(labels);
    metric.set_counter(counter);
    metric
}

impl Metrics {
    /// Counters for one more serving thread.
    pub fn register_thread(&self) -> Arc<ThreadCounters> {
        let counters = Arc::new(ThreadCounters::new());
        self.threads
            .lock()
            .expect("metrics lock is never poisoned")
            .push(counters.clone());
        counters
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self, snapshot: Option<SnapshotGauges>) -> String {
        let threads = self
            .threads
            .lock()
            .expect("metrics lock is never poisoned")
            .clone();
        let sum = |read: &dyn Fn(&ThreadCounters) -> u64| -> u64 {
            threads.iter().map(|t| read(t)).sum()
        };
        let mut requests = Vec::new();
        for (r, route) in ROUTE_LABELS.iter().enumerate() {
            for (s, status) in STATUS_LABELS.iter().enumerate() {
                let value = sum(&|t| t.requests[r][s].load(Relaxed));
                if value > 0 {
                    requests.push(counter(
                        value,
                        vec![label("route", route), label("status", status)],
                    ));
                }
            }
        }
        let mut histogram = Histogram::default();
        let mut cumulative = 0u64;
        let mut buckets = Vec::new();
        for (i, bound) in LATENCY_BOUNDS_SECONDS.iter().enumerate() {
            cumulative += sum(&|t| t.latency_buckets[i].load(Relaxed));
            let mut bucket = Bucket::default();
            bucket.set_upper_bound(*bound);
            bucket.set_cumulative_count(cumulative);
            buckets.push(bucket);
        }
        cumulative += sum(&|t| t.latency_buckets[LATENCY_BOUNDS_SECONDS.len()].load(Relaxed));
        histogram.set_bucket(buckets);
        histogram.set_sample_count(cumulative);
        histogram.set_sample_sum(sum(&|t| t.latency_sum_ns.load(Relaxed)) as f64 / 1e9);
        let mut latency = Metric::default();
        latency.set_histogram(histogram);
        let rejected = REJECTION_LABELS
            .iter()
            .enumerate()
            .map(|(i, reason)| {
                counter(
                    sum(&|t| t.rejected[i].load(Relaxed)),
                    vec![label("reason", reason)],
                )
            })
            .collect();
        let open: i64 = threads
            .iter()
            .map(|t| t.open_connections.load(Relaxed))
            .sum();
        let mut families = vec![
            family(
                "permitd_http_requests_total",
                "HTTP requests answered, by route and status.",
                MetricType::COUNTER,
                requests,
            ),
            family(
                "permitd_http_request_duration_seconds",
                "Time from request head to response, in the process.",
                MetricType::HISTOGRAM,
                vec![latency],
            ),
            family(
                "permitd_http_rejected_total",
                "Connections closed without an answer, by reason.",
                MetricType::COUNTER,
                rejected,
            ),
            family(
                "permitd_open_connections",
                "Client connections open now.",
                MetricType::GAUGE,
                vec![gauge(open.max(0) as f64)],
            ),
        ];
        if let Some(s) = snapshot {
            families.push(family(
                "permitd_snapshot_sequence",
                "Sequence number the served snapshot covers.",
                MetricType::GAUGE,
                vec![gauge(s.sequence as f64)],
            ));
            families.push(family(
                "permitd_snapshot_permits",
                "Permits in the served snapshot.",
                MetricType::GAUGE,
                vec![gauge(s.permits as f64)],
            ));
            families.push(family(
                "permitd_snapshot_age_seconds",
                "Seconds since the served snapshot was built.",
                MetricType::GAUGE,
                vec![gauge(s.age_seconds)],
            ));
        }
        // The encoder refuses a family without samples (no request counted yet): leave it out.
        families.retain(|f| !f.get_metric().is_empty());
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .expect("text encoding of families with samples does not fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_before_any_request_is_well_formed() {
        // Regression: an empty family made the encoder fail and the scrape panic.
        let metrics = Metrics::default();
        let text = metrics.render(None);
        assert!(text.contains("permitd_open_connections 0"), "{text}");
        assert!(!text.contains("permitd_http_requests_total{"));
        metrics.register_thread();
        assert!(metrics
            .render(None)
            .contains("permitd_http_request_duration_seconds_count 0"));
    }

    #[test]
    fn counts_from_every_thread_add_up_in_the_exposition() {
        // Two threads' counters are summed per label; the histogram is cumulative.
        let metrics = Metrics::default();
        let a = metrics.register_thread();
        let b = metrics.register_thread();
        a.request(1, 200, Duration::from_micros(3));
        b.request(1, 200, Duration::from_micros(30));
        b.request(0, 404, Duration::from_millis(2));
        a.rejected(0);
        a.connection_opened();
        let text = metrics.render(Some(SnapshotGauges {
            sequence: 7,
            permits: 3,
            age_seconds: 1.5,
        }));
        assert!(
            text.contains("permitd_http_requests_total{route=\"qr_scan\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("permitd_http_requests_total{route=\"permit\",status=\"404\"} 1"));
        assert!(
            text.contains("permitd_http_request_duration_seconds_bucket{le=\"0.000005\"} 1"),
            "{text}"
        );
        assert!(text.contains("permitd_http_request_duration_seconds_count 3"));
        assert!(text.contains("permitd_http_rejected_total{reason=\"header_timeout\"} 1"));
        assert!(text.contains("permitd_open_connections 1"));
        assert!(text.contains("permitd_snapshot_sequence 7"));
        assert!(text.contains("# TYPE permitd_http_request_duration_seconds histogram"));
    }
}
