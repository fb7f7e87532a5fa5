//! Durable append throughput of the change log, in records per second: 1,000-byte records
//! appended in groups of 1, 64, 1,024 and 8,192, each group followed by one `commit` (write +
//! `fdatasync`), into a directory under the target directory (the real disk, not a tmpfs).
//! Baseline, in the same run: a commit per record (group of 1). After criterion's summary each
//! group size's throughput is printed as a ratio to it.
//!
//! One iteration is one group: its appends and its commit are timed; retiring the closed
//! segments afterwards (to bound disk use) is not.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode, Throughput};

use permitd::changelog::ChangeLog;

use common::Estimates;

const RECORD_BYTES: usize = 1000;
const GROUP_SIZES: [u64; 4] = [1, 64, 1024, 8192];
const BASELINE_ID: &str = "changelog/commit_every/1";

/// A JSON-looking payload of exactly `RECORD_BYTES` bytes.
fn payload() -> Vec<u8> {
    let head = br#"{"event":"permit.issued","number":"110111202600000001","pad":""#;
    let mut out = head.to_vec();
    out.resize(RECORD_BYTES - 2, b'x');
    out.extend_from_slice(b"\"}");
    assert_eq!(out.len(), RECORD_BYTES);
    out
}

fn changelog(c: &mut Criterion) {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a bench directory");
    let payload = payload();
    let mut group = c.benchmark_group("changelog");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    for records in GROUP_SIZES {
        let dir = root.path().join(format!("group-{records}"));
        let (mut log, _) = ChangeLog::open(&dir).expect("the log opens");
        let mut next_seq = 1;
        group.throughput(Throughput::Elements(records));
        group.bench_function(BenchmarkId::new("commit_every", records), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for _ in 0..records {
                        log.append(next_seq, &payload).expect("append");
                        next_seq += 1;
                    }
                    log.commit().expect("commit");
                    spent += start.elapsed();
                    log.retire_through(next_seq - 1).expect("retire");
                }
                spent
            })
        });
        drop(log);
        report_disk_use(&dir);
    }
    group.finish();
}

fn report_disk_use(dir: &Path) {
    let bytes: u64 = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    eprintln!(
        "changelog bench: {} holds {:.1} MB after the run",
        dir.display(),
        bytes as f64 / 1e6
    );
}

fn print_ratios(estimates: &Estimates) {
    let Some(baseline) = estimates.mean_ns(BASELINE_ID) else {
        estimates.missing("changelog", BASELINE_ID);
        return;
    };
    let per_second = |records: u64, ns: f64| records as f64 / (ns / 1e9);
    let baseline_rate = per_second(1, baseline);
    println!(
        "\nchangelog: durable appends of {RECORD_BYTES}-byte records, one commit (fsync) per \
         group; ratio to a commit per record ({} per commit, {} records/s):",
        common::duration(baseline),
        common::rate(baseline_rate)
    );
    for records in GROUP_SIZES {
        let id = format!("changelog/commit_every/{records}");
        if let Some(ns) = estimates.mean_ns(&id) {
            let rate = per_second(records, ns);
            println!(
                "  group of {records:>5}  {:>10} per commit  {:>10} records/s  {:8.1}× the \
                 baseline's throughput",
                common::duration(ns),
                common::rate(rate),
                rate / baseline_rate
            );
        }
    }
}

criterion_group!(benches, changelog);

fn main() {
    let estimates = Estimates::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios(&estimates);
}
