//! What to request: the pluggable [`Workload`] trait and the permit mix workload.
//!
//! A [`WorkloadSource`] describes a workload for a whole run and makes one [`Workload`] per
//! connection (so connections never share an RNG or a lock). A `Workload` fills in the next
//! [`Request`]: method, path, headers, optional body, and the status the server should answer,
//! so responses are judged expected or unexpected one by one. A bulk-verification workload is
//! another `WorkloadSource` whose requests are `POST`s with a body; nothing else changes.
//!
//! [`PermitMix`] is the QR-code scanning workload. Each request is drawn, by weight
//! (`--mix qr=80,lookup=15,malformed=3,unknown=2`), as one of:
//!
//! | kind | request | expects |
//! | --- | --- | --- |
//! | `qr` | `GET /q/{number}`, `Accept: application/json` (or `text/html`) | 200 |
//! | `lookup` | `GET /v1/permits/{number}`, `Accept: application/json` | 200 |
//! | `malformed` | either route with a broken number: wrong check character (half of them), check character dropped, or one character too many | 400 |
//! | `unknown` | either route with a well-formed number absent from the data set | 404 |
//!
//! Numbers are picked by Zipf popularity over the data set. The popularity order is a seeded
//! shuffle of the sorted numbers, so it depends on the set and `--seed`, not on the file's line
//! order, and rank 1 is not simply the oldest permit. Unknown numbers are a pool of
//! [`UNKNOWN_POOL_SIZE`] made by giving real numbers another 5-digit sequence (same division and
//! category, check character recomputed) and keeping those not in the set.
//!
//! Randomness: one ChaCha8 seed; stream 0 drives the set-up (shuffle, unknown pool), stream
//! `c + 1` drives connection `c`. The same seed, data set and connection count replay the same
//! requests per connection.

use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::http::{Method, Request};
use crate::limits::UNKNOWN_POOL_SIZE;
use crate::number::{Malformation, PermitNo};
use crate::zipf::{ZipfError, ZipfRanks};

/// Produces the requests of one connection.
pub trait Workload: Send {
    /// Fills `out` (cleared first by the implementation) with the next request.
    fn next_request(&mut self, out: &mut Request);
}

/// A workload for a whole run.
pub trait WorkloadSource: Send + Sync {
    /// Names of the request kinds; [`Request::kind`] indexes this list.
    fn kinds(&self) -> &[&'static str];
    /// The request stream of connection `connection` (0-based).
    fn workload(&self, connection: usize) -> Box<dyn Workload>;
    /// Parameters for the report.
    fn describe(&self) -> serde_json::Value;
}

pub const KIND_QR: usize = 0;
pub const KIND_LOOKUP: usize = 1;
pub const KIND_MALFORMED: usize = 2;
pub const KIND_UNKNOWN: usize = 3;
pub const PERMIT_MIX_KINDS: [&str; 4] = ["qr", "lookup", "malformed", "unknown"];

/// Largest single weight in a `--mix`.
const MIX_WEIGHT_MAX: u32 = 1_000_000;

/// Relative weights of the request kinds (they need not add up to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub weights: [u32; 4],
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            weights: [80, 15, 3, 2],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    #[error("mix entry {0:?}: expected kind=weight")]
    Entry(String),
    #[error("mix kind {0:?}: use qr, lookup, malformed or unknown")]
    Kind(String),
    #[error("mix weight {0:?}: expected a whole number up to {MIX_WEIGHT_MAX}")]
    Weight(String),
    #[error("mix kind {0} given twice")]
    Repeated(String),
    #[error("mix has no weight above zero")]
    Empty,
}

impl std::str::FromStr for Mix {
    type Err = MixError;
    fn from_str(text: &str) -> Result<Mix, MixError> {
        let mut weights = [0u32; 4];
        let mut given = [false; 4];
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kind, weight) = entry
                .split_once('=')
                .ok_or_else(|| MixError::Entry(entry.to_owned()))?;
            let (kind, weight) = (kind.trim(), weight.trim());
            let i = PERMIT_MIX_KINDS
                .iter()
                .position(|k| *k == kind)
                .ok_or_else(|| MixError::Kind(kind.to_owned()))?;
            if std::mem::replace(&mut given[i], true) {
                return Err(MixError::Repeated(kind.to_owned()));
            }
            weights[i] = weight
                .parse::<u32>()
                .ok()
                .filter(|&w| w <= MIX_WEIGHT_MAX)
                .ok_or_else(|| MixError::Weight(weight.to_owned()))?;
        }
        if weights.iter().all(|&w| w == 0) {
            return Err(MixError::Empty);
        }
        Ok(Mix { weights })
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = PERMIT_MIX_KINDS
            .iter()
            .zip(self.weights)
            .map(|(k, w)| format!("{k}={w}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Mix {
    fn total(&self) -> u32 {
        self.weights.iter().sum()
    }

    /// The kind for a draw `x` in `0..total()`.
    fn pick(&self, mut x: u32) -> usize {
        for (kind, &w) in self.weights.iter().enumerate() {
            if x < w {
                return kind;
            }
            x -= w;
        }
        self.weights.iter().rposition(|&w| w > 0).unwrap_or(0)
    }
}

/// The `Accept` header of `qr` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Accept {
    /// `application/json`: what the mini-program scanner asks for.
    #[default]
    Json,
    /// `text/html`: what a phone browser scanning the QR code asks for.
    Html,
}

impl Accept {
    pub fn header_value(self) -> &'static str {
        match self {
            Accept::Json => "application/json",
            Accept::Html => "text/html",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Accept::Json => "json",
            Accept::Html => "html",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MixOptions {
    pub mix: Mix,
    pub zipf_exponent: f64,
    pub accept: Accept,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    #[error(transparent)]
    Zipf(#[from] ZipfError),
    #[error("could not find well-formed numbers absent from the data set for the unknown share")]
    UnknownPool,
}

struct MixShared {
    /// In popularity order: index = Zipf rank.
    by_rank: Vec<PermitNo>,
    unknown: Vec<PermitNo>,
    zipf: ZipfRanks,
    options: MixOptions,
}

/// The QR scanning mix over a data set's permits (see the module doc).
pub struct PermitMix {
    shared: Arc<MixShared>,
}

impl PermitMix {
    pub fn new(
        mut numbers: Vec<PermitNo>,
        options: MixOptions,
    ) -> Result<PermitMix, WorkloadError> {
        let zipf = ZipfRanks::new(numbers.len(), options.zipf_exponent)?;
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        rng.set_stream(0);
        numbers.sort_unstable();
        numbers.dedup();
        let mut unknown = Vec::new();
        if options.mix.weights[KIND_UNKNOWN] > 0 {
            let mut attempts = UNKNOWN_POOL_SIZE * 20;
            while unknown.len() < UNKNOWN_POOL_SIZE && attempts > 0 {
                attempts -= 1;
                let base = numbers[rng.random_range(0..numbers.len())];
                let candidate = base.with_sequence(rng.random_range(1..100_000));
                if numbers.binary_search(&candidate).is_err() && !unknown.contains(&candidate) {
                    unknown.push(candidate);
                }
            }
            if unknown.is_empty() {
                return Err(WorkloadError::UnknownPool);
            }
        }
        numbers.shuffle(&mut rng);
        Ok(PermitMix {
            shared: Arc::new(MixShared {
                by_rank: numbers,
                unknown,
                zipf,
                options,
            }),
        })
    }

    /// The permit at popularity rank `rank` (0 = most requested).
    pub fn by_rank(&self, rank: usize) -> Option<PermitNo> {
        self.shared.by_rank.get(rank).copied()
    }

    pub fn unknown_pool(&self) -> &[PermitNo] {
        &self.shared.unknown
    }
}

impl WorkloadSource for PermitMix {
    fn kinds(&self) -> &[&'static str] {
        &PERMIT_MIX_KINDS
    }

    fn workload(&self, connection: usize) -> Box<dyn Workload> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.shared.options.seed);
        rng.set_stream(connection as u64 + 1);
        Box::new(PermitMixWorkload {
            shared: Arc::clone(&self.shared),
            rng,
        })
    }

    fn describe(&self) -> serde_json::Value {
        let o = &self.shared.options;
        serde_json::json!({
            "name": "permit-mix",
            "permits": self.shared.by_rank.len(),
            "unknown_pool": self.shared.unknown.len(),
            "mix": o.mix.to_string(),
            "zipf_exponent": o.zipf_exponent,
            "accept": o.accept.name(),
            "seed": o.seed,
        })
    }
}

struct PermitMixWorkload {
    shared: Arc<MixShared>,
    rng: ChaCha8Rng,
}

impl Workload for PermitMixWorkload {
    fn next_request(&mut self, out: &mut Request) {
        out.clear();
        let s = &*self.shared;
        let rng = &mut self.rng;
        let kind = s
            .options
            .mix
            .pick(rng.random_range(0..s.options.mix.total()));
        let number = s.by_rank[s.zipf.sample(rng)];
        out.kind = kind;
        out.method = Method::Get;
        let qr_route = match kind {
            KIND_QR => true,
            KIND_LOOKUP => false,
            _ => rng.random_bool(0.5),
        };
        out.path
            .push_str(if qr_route { "/q/" } else { "/v1/permits/" });
        let accept = if qr_route {
            s.options.accept
        } else {
            Accept::Json
        };
        out.headers
            .push(("Accept".into(), accept.header_value().into()));
        match kind {
            KIND_MALFORMED => {
                let how = match rng.random_range(0..4u8) {
                    0 | 1 => Malformation::WrongCheck {
                        shift: rng.random(),
                    },
                    2 => Malformation::Truncated,
                    _ => Malformation::Extended {
                        extra: rng.random(),
                    },
                };
                number.write_malformed(how, &mut out.path);
                out.expect = 400;
            }
            KIND_UNKNOWN => {
                let unknown = s.unknown[rng.random_range(0..s.unknown.len())];
                out.path.push_str(unknown.as_str());
                out.expect = 404;
            }
            _ => {
                out.path.push_str(number.as_str());
                out.expect = 200;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn numbers(count: u32) -> Vec<PermitNo> {
        let base = PermitNo::from_body(b"110111ZH0300001").unwrap();
        (1..=count).map(|s| base.with_sequence(s)).collect()
    }

    fn options(mix: &str) -> MixOptions {
        MixOptions {
            mix: mix.parse().unwrap(),
            zipf_exponent: 1.0,
            accept: Accept::Json,
            seed: 9,
        }
    }

    #[test]
    fn mix_parses_and_prints() {
        // Proves the --mix syntax parses, prints back, and refuses bad entries.
        let m: Mix = "qr=80,lookup=15,malformed=3,unknown=2".parse().unwrap();
        assert_eq!(m, Mix::default());
        assert_eq!(m.to_string(), "qr=80,lookup=15,malformed=3,unknown=2");
        assert_eq!("lookup=1".parse::<Mix>().unwrap().weights, [0, 1, 0, 0]);
        assert!(matches!("qr".parse::<Mix>(), Err(MixError::Entry(_))));
        assert!(matches!("scan=1".parse::<Mix>(), Err(MixError::Kind(_))));
        assert!(matches!("qr=x".parse::<Mix>(), Err(MixError::Weight(_))));
        assert!(matches!(
            "qr=1,qr=2".parse::<Mix>(),
            Err(MixError::Repeated(_))
        ));
        assert!(matches!("qr=0".parse::<Mix>(), Err(MixError::Empty)));
    }

    #[test]
    fn requests_match_their_expected_status() {
        // Proves every generated request's path agrees with the status it expects: known
        // numbers for 200, unparseable ones for 400, well-formed absent ones for 404.
        let known: HashSet<PermitNo> = numbers(300).into_iter().collect();
        let source =
            PermitMix::new(numbers(300), options("qr=4,lookup=3,malformed=2,unknown=1")).unwrap();
        let mut w = source.workload(0);
        let mut req = Request::default();
        let mut seen_kinds = [0u32; 4];
        for _ in 0..5000 {
            w.next_request(&mut req);
            seen_kinds[req.kind] += 1;
            let tail = req.path.rsplit('/').next().unwrap();
            let parsed = PermitNo::parse(tail);
            match req.expect {
                200 => assert!(known.contains(&parsed.unwrap()), "{}", req.path),
                400 => assert!(parsed.is_err(), "{}", req.path),
                404 => assert!(!known.contains(&parsed.unwrap()), "{}", req.path),
                other => panic!("unexpected expectation {other}"),
            }
            match req.kind {
                KIND_QR => assert!(req.path.starts_with("/q/")),
                KIND_LOOKUP => assert!(req.path.starts_with("/v1/permits/")),
                _ => {}
            }
            assert_eq!(
                req.headers,
                vec![("Accept".into(), "application/json".into())]
            );
        }
        assert!(seen_kinds.iter().all(|&c| c > 0), "{seen_kinds:?}");
    }

    #[test]
    fn same_seed_same_requests_per_connection() {
        // Proves a connection's request stream is a function of seed and connection index.
        let paths = |seed, conn| {
            let mut o = options("qr=80,lookup=15,malformed=3,unknown=2");
            o.seed = seed;
            let mut w = PermitMix::new(numbers(100), o).unwrap().workload(conn);
            let mut req = Request::default();
            (0..200)
                .map(|_| {
                    w.next_request(&mut req);
                    req.path.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(1, 0), paths(1, 0));
        assert_ne!(paths(1, 0), paths(1, 1));
        assert_ne!(paths(1, 0), paths(2, 0));
    }

    #[test]
    fn popularity_follows_zipf_rank() {
        // Proves the rank-1 permit is the most requested one.
        let source = PermitMix::new(numbers(500), options("qr=1")).unwrap();
        let top = source.by_rank(0).unwrap();
        let mut w = source.workload(3);
        let mut req = Request::default();
        let mut counts = std::collections::HashMap::<String, u32>::new();
        for _ in 0..20_000 {
            w.next_request(&mut req);
            *counts.entry(req.path.clone()).or_default() += 1;
        }
        let (most, _) = counts.iter().max_by_key(|(_, c)| **c).unwrap();
        assert_eq!(most, &format!("/q/{top}"));
    }

    #[test]
    fn html_accept_only_on_the_qr_route() {
        // Proves --accept html changes qr requests only; lookups still ask for JSON.
        let mut o = options("qr=1,lookup=1");
        o.accept = Accept::Html;
        let mut w = PermitMix::new(numbers(10), o).unwrap().workload(0);
        let mut req = Request::default();
        for _ in 0..200 {
            w.next_request(&mut req);
            let want = if req.kind == KIND_QR {
                "text/html"
            } else {
                "application/json"
            };
            assert_eq!(req.headers[0].1, want);
        }
    }
}
