//! Snapshot build throughput, in permits per second, of its two stages measured separately:
//! folding the NDJSON change feed into a `Registry` (`feed::fold`: parse on one thread, validate
//! and apply in order on the caller's), and serialising the sorted permits into snapshot bytes
//! (`snapshot::build::to_bytes`: rkyv shards, indexes, checksums, in memory). Baseline, in the
//! same run: a conventional serializer over the same `Vec<Permit>`, `serde_json::to_vec`
//! (MessagePack's `rmp_serde::to_vec_named` is printed beside it as a binary reference).
//!
//! `PERMITD_BENCH_PERMITS` sets the data set size (default 100,000). The feed is held in memory,
//! so the fold reads no file; each iteration's output is freed outside the timed region.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion, SamplingMode, Throughput};

use permitd::catalog::Catalog;
use permitd::domain::Permit;
use permitd::registry::Registry;
use permitd::snapshot;

use common::Estimates;

const DEFAULT_PERMITS: u64 = 100_000;

/// Times `run` once per iteration, dropping what it returns after the clock stops.
fn timed<T>(iters: u64, mut run: impl FnMut() -> T) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        let out = black_box(run());
        spent += start.elapsed();
        drop(out);
    }
    spent
}

fn once<T>(run: impl FnOnce() -> T) -> Duration {
    let start = Instant::now();
    drop(black_box(run()));
    start.elapsed()
}

/// One slow benchmark: about a dozen runs, measured once each, sized from one run (`once`).
fn bench<T>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    once: Duration,
    run: impl Fn() -> T,
) {
    group.measurement_time(common::time_for(12, once));
    group.bench_function(id, |b| b.iter_custom(|iters| timed(iters, &run)));
}

fn build(c: &mut Criterion) {
    let count = common::permits_wanted(DEFAULT_PERMITS);
    let catalog = Catalog::embedded().unwrap();
    eprintln!("build bench: generating the feed for {count} permits");
    let feed = common::ndjson(count);
    let fold = || {
        let mut registry = Registry::with_capacity(&catalog, count as usize);
        let report = permitd::feed::fold(&mut registry, feed.as_slice(), &mut |_| {}).unwrap();
        assert_eq!(report.rejected, 0);
        registry
    };
    let fold_once = once(fold);
    let registry = fold();
    let sequence = registry.sequence();
    assert_eq!(registry.len() as u64, count);
    let permits: Vec<Permit> = registry.into_sorted();
    let to_bytes = || snapshot::build::to_bytes(&permits, sequence).unwrap();
    let json = || serde_json::to_vec(&permits).unwrap();
    let msgpack = || rmp_serde::to_vec_named(&permits).unwrap();
    let sizes = [to_bytes().len(), json().len(), msgpack().len()];
    eprintln!(
        "build bench: snapshot {:.1} MB, JSON {:.1} MB, MessagePack {:.1} MB, feed {:.1} MB",
        sizes[0] as f64 / 1e6,
        sizes[1] as f64 / 1e6,
        sizes[2] as f64 / 1e6,
        feed.len() as f64 / 1e6
    );

    let mut group = c.benchmark_group("build");
    group
        .throughput(Throughput::Elements(count))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500));
    bench(&mut group, "fold_ndjson", fold_once, fold);
    bench(&mut group, "snapshot_to_bytes", once(to_bytes), to_bytes);
    bench(&mut group, "serde_json_to_vec", once(json), json);
    bench(&mut group, "msgpack_to_vec_named", once(msgpack), msgpack);
    group.finish();
}

fn print_ratios(estimates: &Estimates) {
    let count = common::permits_wanted(DEFAULT_PERMITS);
    let Some(json) = estimates.mean_ns("build/serde_json_to_vec") else {
        estimates.missing("build", "build/serde_json_to_vec");
        return;
    };
    let per_second = |ns: f64| count as f64 / (ns / 1e9);
    println!(
        "\nbuild at {count} permits: throughput and its ratio to serde_json::to_vec \
         ({}, {} permits/s):",
        common::duration(json),
        common::rate(per_second(json))
    );
    for id in ["snapshot_to_bytes", "msgpack_to_vec_named", "fold_ndjson"] {
        if let Some(ns) = estimates.mean_ns(&format!("build/{id}")) {
            println!(
                "  {id:22} {:>10}  {:>10} permits/s  {:5.2}× serde_json's throughput",
                common::duration(ns),
                common::rate(per_second(ns)),
                json / ns
            );
        }
    }
}

criterion_group!(benches, build);

fn main() {
    let estimates = Estimates::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios(&estimates);
}
