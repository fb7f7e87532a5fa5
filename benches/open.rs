//! Making a snapshot readable: `SnapshotFile::open` (map + header checks, O(1) in the permit
//! count) and, timed separately, full verification (`SnapshotFile::open(..).verify()`: body
//! checksum + rkyv validation of every shard + both indexes cross-checked), at 100k and 1M
//! permits (and 10M with `PERMITD_BENCH_OPEN_10M=1`). Baseline, in the same run: loading the same
//! permits from a conventional serde format, MessagePack via `rmp-serde` (read the file into
//! memory, then `rmp_serde::from_slice::<Vec<Permit>>`). Prints the open time per size, to show
//! it is flat, and the ratios.
//!
//! Why MessagePack and not bincode 1.3 or postcard: neither reads `Vec<Permit>` back. Their
//! streams are positional, and `Permit` skips default fields when serialising
//! (`skip_serializing_if`), so everything after a skipped field is misread (bincode 1.3: "tag
//! for enum is not valid"; postcard: "Found an Option discriminant that wasn't 0 or 1"); and
//! `PermitStatus` is an internally tagged enum, which needs `deserialize_any`, which neither
//! supports. MessagePack is a compact binary format that is self-describing, so the same serde
//! derives round-trip unchanged (`to_vec_named` keeps field names, as the JSON the service speaks
//! does; the setup asserts the round trip); `rmp-serde` is maintained and widely used.
//!
//! Every file is written just before it is read, so all of them are in the page cache: the
//! numbers compare CPU work, not the disk. The open time includes the unmap on drop.

mod common;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode};

use permitd::domain::Permit;
use permitd::snapshot::SnapshotFile;

use common::Estimates;

/// Samples of each slow benchmark (verify, deserialise).
const SLOW_SAMPLES: usize = 10;

struct Size {
    permits: u64,
    snapshot: common::Published,
    msgpack: PathBuf,
    msgpack_bytes: u64,
    /// One verify and one load, timed while checking the files: sizes the measurement time.
    verify_once: Duration,
    load_once: Duration,
}

fn sizes_wanted() -> Vec<u64> {
    let mut sizes = vec![100_000, 1_000_000];
    if common::env_flag("PERMITD_BENCH_OPEN_10M") {
        sizes.push(10_000_000);
    }
    sizes
}

fn load_msgpack(path: &Path) -> Vec<Permit> {
    let bytes = std::fs::read(path).unwrap();
    rmp_serde::from_slice(&bytes).unwrap()
}

fn prepare(count: u64) -> Size {
    eprintln!("open bench: generating, folding and writing {count} permits");
    let common::Folded { permits, sequence } = common::folded(count);
    let snapshot = common::publish(&permits, sequence);
    let msgpack = snapshot.dir.path().join("permits.msgpack");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&msgpack).unwrap());
        rmp_serde::encode::write_named(&mut out, &permits).unwrap();
        std::io::Write::flush(&mut out).unwrap();
    }
    let msgpack_bytes = std::fs::metadata(&msgpack).unwrap().len();

    let start = Instant::now();
    let verified = common::open_verified(&snapshot.path);
    let verify_once = start.elapsed();
    assert_eq!(verified.len(), count);
    drop(verified);
    let start = Instant::now();
    let loaded = load_msgpack(&msgpack);
    let load_once = start.elapsed();
    assert!(loaded == permits, "MessagePack round-trips the permits");
    Size {
        permits: count,
        snapshot,
        msgpack,
        msgpack_bytes,
        verify_once,
        load_once,
    }
}

fn open(c: &mut Criterion) {
    let sizes: Vec<Size> = sizes_wanted().into_iter().map(prepare).collect();

    let mut group = c.benchmark_group("open");
    for size in &sizes {
        group.bench_with_input(
            BenchmarkId::new("snapshot_header", size.permits),
            &size.snapshot.path,
            |b, path| b.iter(|| SnapshotFile::open(black_box(path)).unwrap()),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("load");
    group
        .sample_size(SLOW_SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500));
    for size in &sizes {
        group.measurement_time(common::time_for(12, size.verify_once));
        group.bench_with_input(
            BenchmarkId::new("snapshot_verify", size.permits),
            &size.snapshot.path,
            |b, path| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let file = SnapshotFile::open(path).unwrap();
                        let start = Instant::now();
                        let snapshot = black_box(file.verify().unwrap());
                        spent += start.elapsed();
                        drop(snapshot);
                    }
                    spent
                })
            },
        );
        group.measurement_time(common::time_for(12, size.load_once));
        group.bench_with_input(
            BenchmarkId::new("msgpack_read_deserialize", size.permits),
            &size.msgpack,
            |b, path| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let permits = black_box(load_msgpack(path));
                        spent += start.elapsed();
                        // Freeing the permits is not part of loading them.
                        drop(permits);
                    }
                    spent
                })
            },
        );
    }
    group.finish();
    print_sizes(&sizes);
}

fn print_sizes(sizes: &[Size]) {
    println!("\nfiles:");
    for size in sizes {
        println!(
            "  {:>10} permits: snapshot {:>6.1} MB ({} B/permit), MessagePack {:>6.1} MB",
            size.permits,
            size.snapshot.file_bytes as f64 / 1e6,
            size.snapshot.file_bytes / size.permits,
            size.msgpack_bytes as f64 / 1e6,
        );
    }
}

fn print_ratios(estimates: &Estimates) {
    let sizes = sizes_wanted();
    let first = format!("open/snapshot_header/{}", sizes[0]);
    let Some(smallest) = estimates.mean_ns(&first) else {
        estimates.missing("open", &first);
        return;
    };
    println!("\nopen (map + header checks) per size, and its ratio to the smallest:");
    for &n in &sizes {
        if let Some(ns) = estimates.mean_ns(&format!("open/snapshot_header/{n}")) {
            println!(
                "  {n:>10} permits  {:>10}  {:5.2}× the {}-permit open",
                common::duration(ns),
                ns / smallest,
                sizes[0]
            );
        }
    }
    println!("\nready to serve vs loading MessagePack (read + rmp_serde::from_slice):");
    for &n in &sizes {
        let mean = |id: &str| estimates.mean_ns(&format!("{id}/{n}"));
        let (Some(open), Some(load)) = (
            mean("open/snapshot_header"),
            mean("load/msgpack_read_deserialize"),
        ) else {
            continue;
        };
        let verify = mean("load/snapshot_verify");
        println!(
            "  {n:>10} permits: open {:>10}, verify {:>10}, MessagePack {:>10}",
            common::duration(open),
            verify.map_or("-".into(), common::duration),
            common::duration(load)
        );
        println!(
            "  {:>10}          open/MessagePack {:.2e} (MessagePack is {:.0}× slower)",
            "",
            open / load,
            load / open
        );
        if let Some(verify) = verify {
            println!(
                "  {:>10}          verify/MessagePack {:.3} (MessagePack is {:.1}× slower)",
                "",
                verify / load,
                load / verify
            );
        }
    }
}

criterion_group!(benches, open);

fn main() {
    let estimates = Estimates::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios(&estimates);
}
