//! What changed since the mapped snapshot, as the resolver's follower read it from the change
//! log: one entry per touched permit, consulted before the snapshot.
//!
//! An entry holds the permit archived with rkyv (so the same rendering code reads it as reads a
//! snapshot record), its change-log sequence number, and its JSON answer rendered once when the
//! entry was made. Readers look entries up in a [`DashMap`]: a shard read lock, never held by the
//! follower for more than swapping one `Arc` in. An entry whose sequence the installed snapshot
//! already covers is ignored by readers and pruned by the follower.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use rkyv::util::AlignedVec;

use crate::answer::json::{answer_valid_through, PermitView};
use crate::catalog::Catalog;
use crate::domain::permit::ArchivedPermit;
use crate::domain::{Date, Permit};
use crate::qr::Token;

pub struct OverlayEntry {
    archived: AlignedVec,
    pub sequence: u64,
    pub version: u32,
    /// The current version's JSON answer, true from `rendered_on` through `valid_through`.
    pub json: Bytes,
    pub rendered_on: Date,
    pub valid_through: Option<Date>,
}

impl OverlayEntry {
    /// Archives `permit` and renders its answer for `today`.
    pub fn new(permit: &Permit, catalog: &Catalog, today: Date) -> OverlayEntry {
        let archived =
            rkyv::to_bytes::<rkyv::rancor::Error>(permit).expect("a permit always archives");
        let mut entry = OverlayEntry {
            archived,
            sequence: permit.sequence,
            version: permit.version,
            json: Bytes::new(),
            rendered_on: today,
            valid_through: None,
        };
        let record = entry.permit();
        let view = PermitView::new(record, None, catalog, today, permit.sequence);
        let json = Bytes::from(view.to_json());
        let valid_through = answer_valid_through(record, today);
        entry.json = json;
        entry.valid_through = valid_through;
        entry
    }

    /// The archived permit. (Checked access: the bytes were made in this process, but a check
    /// costs little next to rendering and keeps this module free of `unsafe`.)
    pub fn permit(&self) -> &ArchivedPermit {
        rkyv::access::<ArchivedPermit, rkyv::rancor::Error>(&self.archived)
            .expect("bytes archived by this process validate")
    }

    /// Whether the pre-rendered JSON still says what rendering today would.
    pub fn holds_on(&self, today: Date) -> bool {
        today >= self.rendered_on && self.valid_through.is_none_or(|end| today <= end)
    }
}

#[derive(Default)]
pub struct Overlay {
    by_key: DashMap<u64, Arc<OverlayEntry>>,
    /// QR tokens of versions issued after the snapshot: token → (permit key, version).
    by_token: DashMap<[u8; 10], (u64, u32)>,
    /// `by_key.len()`, readable without touching a shard: an empty overlay costs one load.
    len: AtomicUsize,
}

impl Overlay {
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Relaxed) == 0
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// The entry for permit `key`, if it is newer than what a snapshot at `covered` holds.
    #[inline]
    pub fn get(&self, key: u64, covered: u64) -> Option<Arc<OverlayEntry>> {
        if self.is_empty() {
            return None;
        }
        let entry = self.by_key.get(&key)?;
        (entry.sequence > covered).then(|| entry.value().clone())
    }

    /// The permit key and version a token issued after the snapshot names.
    pub fn token(&self, token: &Token) -> Option<(u64, u32)> {
        if self.is_empty() {
            return None;
        }
        self.by_token.get(&token.0).map(|e| *e.value())
    }

    /// Puts `entry` in for `key` (replacing an older one) and registers the QR token of its
    /// version.
    pub fn insert(&self, key: u64, token: Token, entry: OverlayEntry) {
        let version = entry.version;
        if self.by_key.insert(key, Arc::new(entry)).is_none() {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        self.by_token.insert(token.0, (key, version));
    }

    /// Drops entries a snapshot at `covered` holds (their tokens are in its index).
    pub fn prune(&self, covered: u64) {
        self.by_key.retain(|_, entry| entry.sequence > covered);
        self.len.store(self.by_key.len(), Ordering::Relaxed);
        self.by_token
            .retain(|_, (key, _)| self.by_key.contains_key(key));
    }

    /// `(sequence, key)` of every entry newer than `after`, sorted by sequence.
    pub fn changes_after(&self, after: u64, covered: u64) -> Vec<(u64, u64)> {
        let mut found: Vec<(u64, u64)> = self
            .by_key
            .iter()
            .filter(|e| e.sequence > after && e.sequence > covered)
            .map(|e| (e.sequence, *e.key()))
            .collect();
        found.sort_unstable();
        found
    }

    /// Every entry newer than a snapshot at `covered`.
    pub fn entries(&self, covered: u64) -> Vec<(u64, Arc<OverlayEntry>)> {
        self.by_key
            .iter()
            .filter(|e| e.sequence > covered)
            .map(|e| (*e.key(), e.value().clone()))
            .collect()
    }
}
