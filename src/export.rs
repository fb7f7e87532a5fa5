//! Pre-rendered answers for other servers: `permitd export answers --data DIR --out OUT`.
//!
//! The load comparison (`loadtest/compare.sh`) measures permitd beside servers that only hand
//! out stored bytes: nginx serving static files, Redis answering `GET`. For that to compare like
//! with like, they must hand out exactly what permitd answers. This module asks a ready
//! [`Resolver`] for every permit (or the first `--limit`), through [`Resolver::respond`] itself,
//! and writes the bodies it gives:
//!
//! | file | body of |
//! | --- | --- |
//! | `OUT/q/{number}` | `GET /q/{number}` with `Accept: application/json` |
//! | `OUT/v1/permits/{number}` | `GET /v1/permits/{number}` |
//! | `OUT/`[`REDIS_FILE`] | `SET q/{number} <body of /q/{number}>` for every permit, as RESP commands for `redis-cli --pipe` |
//!
//! so nginx with `root OUT` answers the same URL paths with the same bytes (its headers differ),
//! and Redis holds one key per permit (both routes give the same JSON today; the load tester's
//! Redis mode asks for `q/{number}` whichever route a request names).
//!
//! The answers are what permitd says *now*: the derived state depends on today's date in
//! Beijing, so an export is byte-identical to the resolver for the day it was made (the
//! comparison script exports and measures in one run). `OUT` must be new or empty; nothing is
//! overwritten. The paths come from the snapshot's permits; no HTTP, no sockets.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use hyper::body::Body as _;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, StatusCode};

use crate::server::resolver::Body;
use crate::server::Resolver;
use crate::snapshot::SnapshotBytes;

/// The Redis mass-insertion file, inside `OUT`.
pub const REDIS_FILE: &str = "redis-mass-insert.resp";
/// The Redis key prefix: `q/{number}`, the path of the QR route without its leading `/`.
pub const REDIS_KEY_PREFIX: &str = "q/";

/// The `Accept` header the exported `/q/` answers were asked with.
const ACCEPT_JSON: &[u8] = b"application/json";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0} exists and is not empty: export writes into a new or empty directory only")]
    NotEmpty(String),
    #[error("{0} exists and is not a directory")]
    NotADirectory(String),
    #[error("the resolver has no verified snapshot installed")]
    NotReady,
    #[error("permit number {0:?} is not a safe file name")]
    UnsafeNumber(String),
    #[error("GET {path} answered {status} {content_type:?}; only 200 JSON answers are exported")]
    NotAnAnswer {
        path: String,
        status: StatusCode,
        content_type: String,
    },
    #[error("the body of GET {0} was not ready at once")]
    BodyPending(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub permits: u64,
    /// Answer files under `q/` and `v1/permits/`.
    pub files: u64,
    /// Bytes of those files.
    pub body_bytes: u64,
    /// Bytes of the Redis mass-insertion file.
    pub redis_bytes: u64,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The body bytes of a `Full` response body, taken synchronously: `Full` yields its one data
/// frame on the first poll, so no runtime is needed.
pub fn body_bytes(path: &str, body: Body) -> Result<Bytes, ExportError> {
    let mut body = body;
    let mut cx = Context::from_waker(Waker::noop());
    let mut frames: Vec<Bytes> = Vec::with_capacity(1);
    loop {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frames.extend(frame.into_data().ok()),
            Poll::Ready(Some(Err(never))) => match never {},
            Poll::Ready(None) => break,
            Poll::Pending => return Err(ExportError::BodyPending(path.to_owned())),
        }
    }
    Ok(match frames.len() {
        0 => Bytes::new(),
        1 => frames.pop().expect("one frame"),
        _ => Bytes::from(frames.concat()),
    })
}

/// The body `resolver` answers `GET path` with (`accept` as the `Accept` header), if it is a
/// 200 JSON answer.
pub fn answer_body<B: SnapshotBytes>(
    resolver: &Resolver<B>,
    path: &str,
    accept: Option<&[u8]>,
) -> Result<Bytes, ExportError> {
    let response = resolver.respond(&Method::GET, path, accept);
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if response.status() != StatusCode::OK || !content_type.starts_with("application/json") {
        return Err(ExportError::NotAnAnswer {
            path: path.to_owned(),
            status: response.status(),
            content_type,
        });
    }
    body_bytes(path, response.into_body())
}

/// Creates `out` or checks that it is an empty directory.
fn prepare_out(out: &Path) -> Result<(), ExportError> {
    match fs::symlink_metadata(out) {
        Ok(meta) if !meta.is_dir() => {
            return Err(ExportError::NotADirectory(out.display().to_string()))
        }
        Ok(_) => {
            if fs::read_dir(out).map_err(io_error(out))?.next().is_some() {
                return Err(ExportError::NotEmpty(out.display().to_string()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(out)(e)),
    }
    for dir in [out.join("q"), out.join("v1").join("permits")] {
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    }
    Ok(())
}

fn write_file(path: PathBuf, body: &[u8]) -> Result<(), ExportError> {
    fs::write(&path, body).map_err(io_error(&path))
}

/// Appends `SET key value` to `out` as a RESP command.
pub fn write_redis_set(out: &mut impl Write, key: &[u8], value: &[u8]) -> io::Result<()> {
    write!(out, "*3\r\n$3\r\nSET\r\n${}\r\n", key.len())?;
    out.write_all(key)?;
    write!(out, "\r\n${}\r\n", value.len())?;
    out.write_all(value)?;
    out.write_all(b"\r\n")
}

/// Writes the answers of the first `limit` permits (all without a limit) of the snapshot
/// installed in `resolver` into `out` (see the module doc).
///
/// # Errors
/// `out` exists and is not an empty directory, the resolver is not ready, an answer is not a
/// 200 JSON answer, or writing failed (what was written so far stays).
pub fn export_answers<B: SnapshotBytes>(
    resolver: &Resolver<B>,
    out: &Path,
    limit: Option<u64>,
) -> Result<ExportStats, ExportError> {
    let snapshot = resolver.snapshot().ok_or(ExportError::NotReady)?;
    prepare_out(out)?;
    let redis_path = out.join(REDIS_FILE);
    let redis_file = fs::File::create(&redis_path).map_err(io_error(&redis_path))?;
    let mut redis = BufWriter::with_capacity(1 << 20, redis_file);
    let mut stats = ExportStats::default();
    let (q_dir, permits_dir) = (out.join("q"), out.join("v1").join("permits"));
    let mut path = String::with_capacity(64);
    let mut key = Vec::with_capacity(32);
    for permit in snapshot
        .iter()
        .take(limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX)))
    {
        let number = permit.number.as_str();
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ExportError::UnsafeNumber(number.to_owned()));
        }
        path.clear();
        path.push_str("/q/");
        path.push_str(number);
        let scan = answer_body(resolver, &path, Some(ACCEPT_JSON))?;
        path.clear();
        path.push_str("/v1/permits/");
        path.push_str(number);
        let lookup = answer_body(resolver, &path, None)?;
        write_file(q_dir.join(number), &scan)?;
        write_file(permits_dir.join(number), &lookup)?;
        key.clear();
        key.extend_from_slice(REDIS_KEY_PREFIX.as_bytes());
        key.extend_from_slice(number.as_bytes());
        write_redis_set(&mut redis, &key, &scan).map_err(io_error(&redis_path))?;
        stats.permits += 1;
        stats.files += 2;
        stats.body_bytes += (scan.len() + lookup.len()) as u64;
    }
    let redis_file = redis
        .into_inner()
        .map_err(|e| io_error(&redis_path)(e.into_error()))?;
    stats.redis_bytes = redis_file.metadata().map_err(io_error(&redis_path))?.len();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::domain::Date;
    use crate::gen::{generate, GenOptions};
    use crate::registry::Registry;
    use crate::server::resolver::Clock;
    use crate::snapshot::build::to_bytes;
    use crate::snapshot::SnapshotFile;
    use rkyv::util::AlignedVec;

    /// A ready resolver over `count` generated permits, in memory.
    fn resolver(count: u64) -> Resolver<AlignedVec> {
        let catalog = Catalog::embedded().unwrap();
        let as_of = Date::today_in_beijing();
        let mut ndjson = Vec::new();
        generate(
            &catalog,
            &GenOptions {
                permits: count,
                seed: 3,
                as_of,
            },
            &mut ndjson,
            &mut |_| {},
        )
        .unwrap();
        let mut registry = Registry::new(&catalog);
        let report = crate::feed::fold(&mut registry, &ndjson[..], &mut |_| {}).unwrap();
        assert_eq!(report.rejected, 0);
        let sequence = registry.sequence();
        let permits = registry.into_sorted();
        let bytes = to_bytes(&permits, sequence).unwrap();
        let snapshot = SnapshotFile::from_bytes(bytes).unwrap().verify().unwrap();
        let resolver = Resolver::new(Catalog::embedded().unwrap(), Clock::Fixed(as_of));
        resolver.install(snapshot);
        resolver
    }

    /// The body `respond` gives, straight from the resolver.
    fn served(resolver: &Resolver<AlignedVec>, path: &str, accept: Option<&[u8]>) -> Vec<u8> {
        let response = resolver.respond(&Method::GET, path, accept);
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        body_bytes(path, response.into_body()).unwrap().to_vec()
    }

    /// The SET commands of a mass-insertion file, as (key, value) pairs.
    fn redis_sets(mut bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        fn bulk(bytes: &mut &[u8]) -> Vec<u8> {
            assert_eq!(bytes[0], b'$');
            let end = bytes.windows(2).position(|w| w == b"\r\n").unwrap();
            let len: usize = std::str::from_utf8(&bytes[1..end])
                .unwrap()
                .parse()
                .unwrap();
            let value = bytes[end + 2..end + 2 + len].to_vec();
            assert_eq!(&bytes[end + 2 + len..end + 4 + len], b"\r\n");
            *bytes = &bytes[end + 4 + len..];
            value
        }
        let mut sets = Vec::new();
        while !bytes.is_empty() {
            assert!(bytes.starts_with(b"*3\r\n"));
            bytes = &bytes[4..];
            assert_eq!(bulk(&mut bytes), b"SET");
            let key = bulk(&mut bytes);
            sets.push((key, bulk(&mut bytes)));
        }
        sets
    }

    #[test]
    fn every_exported_file_is_the_body_respond_gives() {
        // Proves each file under q/ and v1/permits/, and each Redis SET value, equals byte for
        // byte what the resolver answers for that path, for every permit of the set.
        let resolver = resolver(60);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("answers");
        let stats = export_answers(&resolver, &out, None).unwrap();
        let numbers: Vec<String> = resolver
            .snapshot()
            .unwrap()
            .iter()
            .map(|p| p.number.as_str().to_owned())
            .collect();
        assert_eq!(stats.permits, 60);
        assert_eq!(stats.files, 120);
        let mut body_bytes = 0;
        for number in &numbers {
            let scan = served(
                &resolver,
                &format!("/q/{number}"),
                Some(b"application/json"),
            );
            let lookup = served(&resolver, &format!("/v1/permits/{number}"), None);
            assert_eq!(fs::read(out.join("q").join(number)).unwrap(), scan);
            assert_eq!(
                fs::read(out.join("v1/permits").join(number)).unwrap(),
                lookup
            );
            assert!(serde_json::from_slice::<serde_json::Value>(&scan).is_ok());
            body_bytes += scan.len() + lookup.len();
        }
        assert_eq!(stats.body_bytes, body_bytes as u64);
        assert_eq!(fs::read_dir(out.join("q")).unwrap().count(), 60);
        assert_eq!(fs::read_dir(out.join("v1/permits")).unwrap().count(), 60);
        let redis = fs::read(out.join(REDIS_FILE)).unwrap();
        assert_eq!(stats.redis_bytes, redis.len() as u64);
        let sets = redis_sets(&redis);
        assert_eq!(sets.len(), 60);
        for ((key, value), number) in sets.iter().zip(&numbers) {
            assert_eq!(key, format!("q/{number}").as_bytes());
            assert_eq!(
                value,
                &served(
                    &resolver,
                    &format!("/q/{number}"),
                    Some(b"application/json")
                )
            );
        }
    }

    #[test]
    fn limit_bounds_the_export() {
        // Proves --limit N exports the first N permits only.
        let resolver = resolver(20);
        let dir = tempfile::tempdir().unwrap();
        let stats = export_answers(&resolver, dir.path(), Some(5)).unwrap();
        assert_eq!((stats.permits, stats.files), (5, 10));
        assert_eq!(fs::read_dir(dir.path().join("q")).unwrap().count(), 5);
        let redis = fs::read(dir.path().join(REDIS_FILE)).unwrap();
        assert_eq!(redis_sets(&redis).len(), 5);
    }

    #[test]
    fn refuses_a_non_empty_or_non_directory_out() {
        // Proves an OUT holding anything, or naming a file, is refused before writing, and
        // that a resolver without a snapshot is refused too.
        let resolver = resolver(3);
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("keep.txt"), b"mine").unwrap();
        let err = export_answers(&resolver, dir.path(), None).unwrap_err();
        assert!(matches!(err, ExportError::NotEmpty(_)), "{err}");
        assert!(err.to_string().contains("not empty"));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "nothing written"
        );
        let file = dir.path().join("keep.txt");
        assert!(matches!(
            export_answers(&resolver, &file, None),
            Err(ExportError::NotADirectory(_))
        ));
        let empty: Resolver<AlignedVec> =
            Resolver::new(Catalog::embedded().unwrap(), Clock::System);
        assert!(matches!(
            export_answers(&empty, &dir.path().join("new"), None),
            Err(ExportError::NotReady)
        ));
    }

    #[test]
    fn redis_set_commands_are_length_delimited() {
        // Proves the exact RESP bytes of one SET, with CRLF inside the value.
        let mut out = Vec::new();
        write_redis_set(&mut out, b"q/X", b"a\r\nb").unwrap();
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$3\r\nq/X\r\n$4\r\na\r\nb\r\n");
    }
}
