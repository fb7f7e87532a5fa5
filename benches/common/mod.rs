//! Setup shared by the benches (each includes it with `mod common;`): data set sizes from the
//! environment, synthetic permits through the real feed path (`gen::generate` → NDJSON →
//! `feed::fold` → `Registry`), published snapshots, random key samples, and the means criterion
//! saved in this run, read back to print each bench's ratio to its baseline.

// Each bench uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use permitd::catalog::Catalog;
use permitd::codes::PermitNumber;
use permitd::domain::{Date, Permit};
use permitd::gen::{generate, GenOptions};
use permitd::qr::Token;
use permitd::registry::Registry;
use permitd::snapshot::{self, Snapshot, SnapshotFile};

/// The generator seed every bench uses, so equal sizes mean equal data.
pub const SEED: u64 = 11;

/// The date the data set describes, and the date the resolver answers for.
pub fn as_of() -> Date {
    Date::from_ymd(2026, 6, 15).expect("a real date")
}

/// The permit count asked for by `PERMITD_BENCH_PERMITS`, else `default`.
pub fn permits_wanted(default: u64) -> u64 {
    env_u64("PERMITD_BENCH_PERMITS", default)
}

pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a count")),
        Err(_) => default,
    }
}

/// True when `name` is set to `1`, `true` or `yes`.
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

fn options(count: u64) -> GenOptions {
    GenOptions {
        permits: count,
        seed: SEED,
        as_of: as_of(),
    }
}

/// The NDJSON change feed for `count` permits, held in memory.
pub fn ndjson(count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    generate(
        &Catalog::embedded().expect("embedded catalogue"),
        &options(count),
        &mut out,
        &mut |_| {},
    )
    .expect("generation into memory");
    out
}

/// Permits folded from a generated feed, sorted by number as the snapshot wants them.
pub struct Folded {
    pub permits: Vec<Permit>,
    pub sequence: u64,
}

/// Generates `count` permits into a pipe that `feed::fold` reads (the feed text is never held
/// whole in memory), then sorts the registry.
pub fn folded(count: u64) -> Folded {
    let catalog = Catalog::embedded().expect("embedded catalogue");
    let (reader, mut writer) = std::io::pipe().expect("a pipe");
    let generator = std::thread::spawn(move || {
        let mut buffered = std::io::BufWriter::with_capacity(1 << 20, &mut writer);
        generate(
            &Catalog::embedded().expect("embedded catalogue"),
            &options(count),
            &mut buffered,
            &mut |_| {},
        )
        .expect("generation into the pipe");
    });
    let mut registry = Registry::with_capacity(&catalog, count as usize);
    let report = permitd::feed::fold(&mut registry, reader, &mut |_| {}).expect("fold");
    generator.join().expect("the generator does not panic");
    assert_eq!(report.rejected, 0, "generated events are all accepted");
    let sequence = registry.sequence();
    Folded {
        permits: registry.into_sorted(),
        sequence,
    }
}

/// `n` distinct permits of `permits` in random order (fixed seed).
pub fn sample(permits: &[Permit], n: usize) -> Vec<&Permit> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut sample: Vec<&Permit> = permits.iter().collect();
    sample.shuffle(&mut rng);
    sample.truncate(n);
    sample
}

pub fn numbers(sample: &[&Permit]) -> Vec<PermitNumber> {
    sample.iter().map(|p| p.number).collect()
}

/// The QR token of each permit's current version.
pub fn tokens(sample: &[&Permit]) -> Vec<Token> {
    sample
        .iter()
        .map(|p| Token::for_version(&p.number, p.version))
        .collect()
}

/// A snapshot file published (fsync + rename, as `permitd snapshot build` does) into a
/// temporary directory that lives as long as this value.
pub struct Published {
    pub path: PathBuf,
    pub file_bytes: u64,
    pub dir: tempfile::TempDir,
}

pub fn publish(permits: &[Permit], sequence: u64) -> Published {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (path, stats) = snapshot::publish(dir.path(), permits, sequence).expect("publish");
    Published {
        path,
        file_bytes: stats.file_bytes,
        dir,
    }
}

/// Maps and fully verifies a published snapshot.
pub fn open_verified(path: &Path) -> Snapshot {
    SnapshotFile::open(path)
        .expect("open")
        .verify()
        .expect("verify")
}

/// A criterion measurement time that fits about `samples` runs of a routine taking `once`.
pub fn time_for(samples: u32, once: Duration) -> Duration {
    (once * samples).max(Duration::from_millis(500))
}

/// Means criterion saved during this run (older estimates on disk are ignored, so a filtered
/// run never mixes in numbers from a previous one).
pub struct Estimates {
    started: SystemTime,
    dir: PathBuf,
}

impl Estimates {
    /// Call first thing in `main`.
    pub fn start() -> Estimates {
        // Where criterion writes: $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else the
        // workspace's target directory (cargo runs benches from the package root).
        let dir = std::env::var_os("CRITERION_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("criterion"))
            })
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion"));
        Estimates {
            // File times can be coarser than the clock: allow a second.
            started: SystemTime::now() - Duration::from_secs(1),
            dir,
        }
    }

    /// The mean of benchmark `id` (`group/function[/parameter]`) in nanoseconds, if it ran.
    pub fn mean_ns(&self, id: &str) -> Option<f64> {
        let path = self.dir.join(id).join("new/estimates.json");
        let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
        if modified < self.started {
            return None;
        }
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["mean"]["point_estimate"].as_f64()
    }

    /// Says why there are no ratios (criterion's `--test` or a filter that skipped the baseline).
    pub fn missing(&self, bench: &str, id: &str) {
        println!(
            "\n{bench} bench: no estimate for {id} from this run (--test, or filtered out); \
             no ratios"
        );
    }
}

/// `ns` with a readable unit.
pub fn duration(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A count (per second, say) with a readable multiplier: `474.1 k`, `1.23 M`.
pub fn rate(count: f64) -> String {
    if count >= 1e6 {
        format!("{:.2} M", count / 1e6)
    } else {
        format!("{:.1} k", count / 1e3)
    }
}
