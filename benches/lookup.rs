//! Point lookups: the mapped snapshot's indexes against an in-RAM `HashMap` of deserialised
//! permits, on the same keys, in the same run. Prints each ratio to the baseline.
//!
//! `PERMITD_BENCH_PERMITS` sets the data set size (default 1,000,000; 10,000,000 for the full
//! target). The data set is generated, folded and written as a real snapshot file, then mapped.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, Criterion};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use permitd::catalog::Catalog;
use permitd::codes::PermitNumber;
use permitd::domain::{Date, Permit};
use permitd::gen::{generate, GenOptions};
use permitd::qr::Token;
use permitd::registry::Registry;
use permitd::snapshot::{self, Snapshot, SnapshotFile};

const KEYS: usize = 1 << 16;

struct Data {
    snapshot: Snapshot,
    map: HashMap<u64, Permit>,
    numbers: Vec<PermitNumber>,
    tokens: Vec<Token>,
    _dir: tempfile::TempDir,
}

fn permits_wanted() -> u64 {
    std::env::var("PERMITD_BENCH_PERMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn data() -> Data {
    let count = permits_wanted();
    let catalog = Catalog::embedded().unwrap();
    let as_of = Date::from_ymd(2026, 6, 15).unwrap();
    eprintln!("lookup bench: generating and folding {count} permits");
    // Generate into a pipe that the fold reads, so the feed text is never held whole in memory.
    let (reader, mut writer) = std::io::pipe().unwrap();
    let generator = std::thread::spawn(move || {
        let options = GenOptions {
            permits: count,
            seed: 11,
            as_of,
        };
        let mut buffered = std::io::BufWriter::with_capacity(1 << 20, &mut writer);
        generate(
            &Catalog::embedded().unwrap(),
            &options,
            &mut buffered,
            &mut |_| {},
        )
        .unwrap();
    });
    let mut registry = Registry::with_capacity(&catalog, count as usize);
    permitd::feed::fold(&mut registry, reader, &mut |_| {}).unwrap();
    generator.join().unwrap();
    let sequence = registry.sequence();
    let permits = registry.into_sorted();

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut sample: Vec<&Permit> = permits.iter().collect();
    sample.shuffle(&mut rng);
    sample.truncate(KEYS);
    let numbers: Vec<PermitNumber> = sample.iter().map(|p| p.number).collect();
    let tokens: Vec<Token> = sample
        .iter()
        .map(|p| Token::for_version(&p.number, p.version))
        .collect();
    drop(sample);

    let dir = tempfile::tempdir().unwrap();
    eprintln!("lookup bench: writing the snapshot");
    let (path, _) = snapshot::publish(dir.path(), &permits, sequence).unwrap();
    let snapshot = SnapshotFile::open(&path).unwrap().verify().unwrap();
    // The baseline owns the same permits, already deserialised, keyed like the snapshot index.
    let map: HashMap<u64, Permit> = permits.into_iter().map(|p| (p.number.key(), p)).collect();
    Data {
        snapshot,
        map,
        numbers,
        tokens,
        _dir: dir,
    }
}

fn lookups(c: &mut Criterion) {
    let data = data();
    let mut group = c.benchmark_group("lookup");
    let mut i = 0usize;
    group.bench_function("hashmap_by_number", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            let permit = data.map.get(&black_box(data.numbers[i]).key()).unwrap();
            black_box(permit.operator_name.len())
        })
    });
    group.bench_function("snapshot_by_number", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            let permit = data.snapshot.get(black_box(&data.numbers[i])).unwrap();
            black_box(permit.operator_name.len())
        })
    });
    group.bench_function("snapshot_by_token", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            let (permit, _) = data
                .snapshot
                .get_by_token(black_box(&data.tokens[i]))
                .unwrap();
            black_box(permit.operator_name.len())
        })
    });
    group.finish();
}

/// Mean time of a finished benchmark, from criterion's saved estimates.
fn mean_ns(id: &str) -> Option<f64> {
    let path = Path::new("target/criterion")
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn print_ratios() {
    let Some(baseline) = mean_ns("lookup/hashmap_by_number") else {
        eprintln!("lookup bench: no saved estimates to compare (run without --test)");
        return;
    };
    println!(
        "\nlookup at {} permits, ratio to the in-RAM HashMap baseline ({baseline:.1} ns):",
        permits_wanted()
    );
    for id in ["lookup/snapshot_by_number", "lookup/snapshot_by_token"] {
        if let Some(mean) = mean_ns(id) {
            println!("  {id:28} {mean:8.1} ns  {:5.2}x", mean / baseline);
        }
    }
}

criterion_group!(benches, lookups);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios();
}
