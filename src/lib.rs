//! permitd verifies Beijing Fangshan's comprehensive business permits (综合许可凭证, the
//! "one industry, one permit" reform) and resolves the QR codes printed on them.
//!
//! # Layout
//! - [`limits`]: every bound the service enforces, as named constants, in one place.
//! - [`codes`]: identifier algorithms: ISO 7064, the permit number, the unified social credit code.
//! - [`catalog`]: the 40-industry catalogue (附件2) loaded from `data/catalog/` and validated.
//! - [`domain`]: permits, single licences, their states and the rules that derive a permit's state.
//! - [`answer`]: the JSON answer and the citizen page, rendered from one view of a permit.
//! - [`event`]: the NDJSON change-feed events (`permitd gen` writes the same format).
//! - [`feed`]: reading NDJSON feed files, line by line under limits, into a registry.
//! - [`registry`]: the in-memory permit registry that events fold into, with their validation.
//! - [`gen`]: deterministic, realistic synthetic permits.
//! - [`qr`]: the token a QR code carries after `/q/`.
//! - [`snapshot`]: the immutable, memory-mapped rkyv snapshot file: build, open, verify, look up.
//! - [`server`]: the resolver's HTTP interface on hyper 1.x.
//! - [`export`]: the resolver's answers as static files and a Redis mass insert, to compare with.
//! - [`changelog`]: the durable change log: checksummed segment files, group commit, tailing.
//! - [`writer`]: the writer path: accepting feed batches, the log, expiry, compaction.
//! - [`trust`]: signing keys and the public key set (JWKS), the signed city-code QR payload,
//!   pre-signed attestations (JWS).
//! - [`render`]: QR code images (SVG, PNG) and the certificate face (A3 SVG, 附件3).
//!
//! The domain modules (`codes`, `catalog`, `domain`) do no I/O.

pub mod answer;
pub mod background;
pub mod catalog;
pub mod changelog;
pub mod codes;
pub mod domain;
pub mod event;
pub mod export;
pub mod feed;
pub mod fsutil;
pub mod gen;
pub mod limits;
pub mod qr;
pub mod registry;
pub mod render;
pub mod server;
pub mod snapshot;
pub mod trust;
pub mod writer;
