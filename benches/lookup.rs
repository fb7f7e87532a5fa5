//! Point lookups: the mapped snapshot's indexes (by permit number, by QR token) against two
//! baselines on the same keys, in the same run: an in-RAM `HashMap<u64, Permit>` of deserialised
//! permits, and SQLite (bundled, through `rusqlite`) with a prepared point query on the rowid.
//! Prints each ratio to the baselines.
//!
//! `PERMITD_BENCH_PERMITS` sets the data set size (default 1,000,000; 10,000,000 for the full
//! target). The data set is generated, folded and written as a real snapshot file, then mapped.
//!
//! SQLite gets its best read set-up on this machine: one file table
//! `permits(key INTEGER PRIMARY KEY, number TEXT, operator_name TEXT, body BLOB)` (body is the
//! permit as JSON, `serde_json::to_vec(&permit)`), filled in one transaction, then read with the
//! file lock held between statements (`locking_mode = EXCLUSIVE`), through a memory map
//! (`mmap_size` at SQLite's 2 GB compile-time maximum) and a 64 MiB page cache. The benched
//! statements are prepared once and read columns by reference (no `String` copied out).

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, Criterion};
use rusqlite::Connection;

use permitd::codes::PermitNumber;
use permitd::domain::Permit;
use permitd::qr::Token;
use permitd::snapshot::Snapshot;

use common::Estimates;

const KEYS: usize = 1 << 16;
const DEFAULT_PERMITS: u64 = 1_000_000;

struct Data {
    snapshot: Snapshot,
    map: HashMap<u64, Permit>,
    sqlite: Connection,
    numbers: Vec<PermitNumber>,
    tokens: Vec<Token>,
    _snapshot_dir: common::Published,
    _sqlite_dir: tempfile::TempDir,
}

fn data() -> Data {
    let count = common::permits_wanted(DEFAULT_PERMITS);
    eprintln!("lookup bench: generating and folding {count} permits");
    let common::Folded { permits, sequence } = common::folded(count);

    let sample = common::sample(&permits, KEYS);
    let numbers = common::numbers(&sample);
    let tokens = common::tokens(&sample);
    drop(sample);

    eprintln!("lookup bench: writing the snapshot");
    let published = common::publish(&permits, sequence);
    let snapshot = common::open_verified(&published.path);

    eprintln!("lookup bench: loading SQLite");
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = load_sqlite(&sqlite_dir.path().join("permits.sqlite3"), &permits).unwrap();

    // The baseline owns the same permits, already deserialised, keyed like the snapshot index.
    let map: HashMap<u64, Permit> = permits.into_iter().map(|p| (p.number.key(), p)).collect();
    Data {
        snapshot,
        map,
        sqlite,
        numbers,
        tokens,
        _snapshot_dir: published,
        _sqlite_dir: sqlite_dir,
    }
}

/// Creates the SQLite table, fills it in one transaction and sets it up for reading.
fn load_sqlite(path: &Path, permits: &[Permit]) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(path)?;
    // A bulk load that needs no crash safety: no journal, no fsync.
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         CREATE TABLE permits(key INTEGER PRIMARY KEY, number TEXT, operator_name TEXT, body BLOB);",
    )?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO permits(key, number, operator_name, body) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut body = Vec::with_capacity(4096);
        for permit in permits {
            body.clear();
            // The same bytes as `serde_json::to_vec(&permit)`, into a reused buffer.
            serde_json::to_writer(&mut body, permit).expect("a permit serialises");
            let key = i64::try_from(permit.number.key()).expect("keys are below 10^13");
            insert.execute(rusqlite::params![
                key,
                permit.number.as_str(),
                permit.operator_name,
                body
            ])?;
        }
    }
    tx.commit()?;
    // Reads keep the file lock between statements (one reader owns this file; re-taking the
    // shared lock and re-checking the file on every query makes each one about 4× slower) and
    // go through a map of the file (capped at SQLite's compile-time maximum, 2 GB by default)
    // and a 64 MiB page cache.
    conn.execute_batch(
        "PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA mmap_size = 17179869184;
         PRAGMA cache_size = -65536;",
    )?;
    Ok(conn)
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

    let mut name = data
        .sqlite
        .prepare("SELECT operator_name FROM permits WHERE key = ?1")
        .unwrap();
    group.bench_function("sqlite_by_number", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            let key = black_box(data.numbers[i]).key() as i64;
            let mut rows = name.query([key]).unwrap();
            let row = rows.next().unwrap().unwrap();
            black_box(row.get_ref(0).unwrap().as_str().unwrap().len())
        })
    });
    let mut body = data
        .sqlite
        .prepare("SELECT body FROM permits WHERE key = ?1")
        .unwrap();
    group.bench_function("sqlite_body_by_number", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            let key = black_box(data.numbers[i]).key() as i64;
            let mut rows = body.query([key]).unwrap();
            let row = rows.next().unwrap().unwrap();
            black_box(row.get_ref(0).unwrap().as_blob().unwrap().len())
        })
    });
    // What a service on SQLite does before it can use the record: decode the body.
    group.bench_function("sqlite_body_decoded_by_number", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            let key = black_box(data.numbers[i]).key() as i64;
            let mut rows = body.query([key]).unwrap();
            let row = rows.next().unwrap().unwrap();
            let json = row.get_ref(0).unwrap().as_blob().unwrap();
            let permit: Permit = serde_json::from_slice(json).unwrap();
            black_box(permit.operator_name.len())
        })
    });
    group.finish();
}

fn print_ratios(estimates: &Estimates) {
    let Some(hashmap) = estimates.mean_ns("lookup/hashmap_by_number") else {
        estimates.missing("lookup", "lookup/hashmap_by_number");
        return;
    };
    let mean = |id: &str| estimates.mean_ns(&format!("lookup/{id}"));
    println!(
        "\nlookup at {} permits, {KEYS} random keys; mean per lookup and its ratio to the \
         in-RAM HashMap ({}):",
        common::permits_wanted(DEFAULT_PERMITS),
        common::duration(hashmap)
    );
    for id in [
        "snapshot_by_number",
        "snapshot_by_token",
        "sqlite_by_number",
        "sqlite_body_by_number",
        "sqlite_body_decoded_by_number",
    ] {
        if let Some(ns) = mean(id) {
            println!(
                "  {id:30} {:>10}  {:6.2}× the HashMap",
                common::duration(ns),
                ns / hashmap
            );
        }
    }
    if let (Some(snapshot), Some(sqlite)) = (mean("snapshot_by_number"), mean("sqlite_by_number")) {
        println!(
            "snapshot/SQLite by number (operator name): {:.3}×: SQLite is {:.1}× slower",
            snapshot / sqlite,
            sqlite / snapshot
        );
        if let Some(body) = mean("sqlite_body_by_number") {
            println!(
                "  full fetch (the JSON body): SQLite is {:.1}× slower than the snapshot",
                body / snapshot
            );
        }
        if let Some(decoded) = mean("sqlite_body_decoded_by_number") {
            println!(
                "  full fetch decoded to a Permit: SQLite is {:.1}× slower than the snapshot",
                decoded / snapshot
            );
        }
    }
}

criterion_group!(benches, lookups);

fn main() {
    let estimates = Estimates::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios(&estimates);
}
