//! The lookup sections inside a snapshot, read straight from the mapped bytes; no `unsafe`.
//!
//! Two open-addressing hash tables of fixed-size little-endian slots, probed linearly:
//! - number index, 16-byte slots: permit key (the number's 13 digits, never 0) · shard · position.
//! - token index, 24-byte slots: token bytes 0–8 · token bytes 8–10 · version (0 = empty slot) ·
//!   shard · position · zero.
//!
//! Tables have a power-of-two slot count with a load of at most 3/4, so a probe sequence meets an
//! empty slot after ~2.5 slots on average; a probe never runs longer than the table.
//!
//! Two sorted arrays, read by binary search:
//! - changes index, 16-byte slots: sequence u64 · shard u32 · position u32, one per permit,
//!   sorted by (sequence, shard, position). Legacy permits (sequence 0) come first.
//! - event ids, 16 bytes each: a u128, strictly increasing.

use crate::qr::Token;

pub const NUMBER_SLOT_BYTES: usize = 16;
pub const TOKEN_SLOT_BYTES: usize = 24;
pub const CHANGE_SLOT_BYTES: usize = 16;
pub const EVENT_ID_BYTES: usize = 16;
const SLOTS_MIN: usize = 16;

/// Where a permit's record lives: shard number and position in that shard's `permits`. Ordered
/// by shard, then position: the file's (permit-number) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub shard: u32,
    pub position: u32,
}

/// Slots for `entries` entries: a power of two, at least 4/3 of the entries.
pub fn slot_count(entries: usize) -> usize {
    (entries + entries / 3 + 1)
        .next_power_of_two()
        .max(SLOTS_MIN)
}

/// Fibonacci hashing: the top bits of key × 2^64/φ. Spreads sequential permit keys evenly.
#[inline]
fn home_slot(key: u64, mask: usize) -> usize {
    let bits = mask.count_ones();
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

#[inline]
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[inline]
fn u128_at(b: &[u8], at: usize) -> u128 {
    u128::from_le_bytes(b[at..at + 16].try_into().expect("16 bytes"))
}

/// Why index bytes cannot be a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

fn table_mask(bytes: &[u8], slot_bytes: usize) -> Result<usize, ShapeError> {
    if !bytes.len().is_multiple_of(slot_bytes) {
        return Err(ShapeError(format!(
            "{} bytes is not a whole number of slots",
            bytes.len()
        )));
    }
    let slots = bytes.len() / slot_bytes;
    if slots < SLOTS_MIN || !slots.is_power_of_two() {
        return Err(ShapeError(format!(
            "{slots} slots is not a power of two ≥ {SLOTS_MIN}"
        )));
    }
    Ok(slots - 1)
}

#[derive(Clone, Copy)]
pub struct NumberIndex<'a> {
    slots: &'a [u8],
    mask: usize,
}

impl<'a> NumberIndex<'a> {
    pub fn new(slots: &'a [u8]) -> Result<NumberIndex<'a>, ShapeError> {
        Ok(NumberIndex {
            slots,
            mask: table_mask(slots, NUMBER_SLOT_BYTES)?,
        })
    }

    pub fn slot_count(&self) -> usize {
        self.mask + 1
    }

    #[inline]
    pub fn get(&self, key: u64) -> Option<Location> {
        let mut slot = home_slot(key, self.mask);
        for _ in 0..=self.mask {
            let at = slot * NUMBER_SLOT_BYTES;
            let found = u64_at(self.slots, at);
            if found == key {
                return Some(Location {
                    shard: u32_at(self.slots, at + 8),
                    position: u32_at(self.slots, at + 12),
                });
            }
            if found == 0 {
                return None;
            }
            slot = (slot + 1) & self.mask;
        }
        None
    }

    /// Every occupied slot, for verification.
    pub fn entries(&self) -> impl Iterator<Item = (u64, Location)> + '_ {
        self.slots.chunks_exact(NUMBER_SLOT_BYTES).filter_map(|s| {
            let key = u64_at(s, 0);
            (key != 0).then(|| {
                (
                    key,
                    Location {
                        shard: u32_at(s, 8),
                        position: u32_at(s, 12),
                    },
                )
            })
        })
    }
}

#[derive(Clone, Copy)]
pub struct TokenIndex<'a> {
    slots: &'a [u8],
    mask: usize,
}

impl<'a> TokenIndex<'a> {
    pub fn new(slots: &'a [u8]) -> Result<TokenIndex<'a>, ShapeError> {
        Ok(TokenIndex {
            slots,
            mask: table_mask(slots, TOKEN_SLOT_BYTES)?,
        })
    }

    /// The record and version a token names.
    #[inline]
    pub fn get(&self, token: &Token) -> Option<(Location, u32)> {
        let (prefix, tail) = (token.prefix(), token.tail());
        let mut slot = home_slot(prefix, self.mask);
        for _ in 0..=self.mask {
            let at = slot * TOKEN_SLOT_BYTES;
            let s = &self.slots[at..at + TOKEN_SLOT_BYTES];
            let version = u16::from_le_bytes([s[10], s[11]]) as u32;
            if version == 0 {
                return None;
            }
            if u64_at(s, 0) == prefix && u16::from_le_bytes([s[8], s[9]]) == tail {
                let location = Location {
                    shard: u32_at(s, 12),
                    position: u32_at(s, 16),
                };
                return Some((location, version));
            }
            slot = (slot + 1) & self.mask;
        }
        None
    }

    pub fn occupied(&self) -> usize {
        self.slots
            .chunks_exact(TOKEN_SLOT_BYTES)
            .filter(|s| s[10] != 0 || s[11] != 0)
            .count()
    }
}

fn whole_slots(bytes: &[u8], slot_bytes: usize, what: &str) -> Result<usize, ShapeError> {
    if !bytes.len().is_multiple_of(slot_bytes) {
        return Err(ShapeError(format!(
            "{} bytes is not a whole number of {slot_bytes}-byte {what}",
            bytes.len()
        )));
    }
    Ok(bytes.len() / slot_bytes)
}

/// The changes index: every permit as (sequence, location), sorted by (sequence, shard,
/// position). Construction checks only the shape; `SnapshotFile::verify` checks the order and
/// the locations.
#[derive(Clone, Copy)]
pub struct ChangesIndex<'a> {
    slots: &'a [u8],
    len: usize,
}

impl<'a> ChangesIndex<'a> {
    pub fn new(slots: &'a [u8]) -> Result<ChangesIndex<'a>, ShapeError> {
        let len = whole_slots(slots, CHANGE_SLOT_BYTES, "change slots")?;
        Ok(ChangesIndex { slots, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slot `i` (`i < len`).
    #[inline]
    pub fn get(&self, i: usize) -> (u64, Location) {
        let at = i * CHANGE_SLOT_BYTES;
        (
            u64_at(self.slots, at),
            Location {
                shard: u32_at(self.slots, at + 8),
                position: u32_at(self.slots, at + 12),
            },
        )
    }

    /// The first slot whose sequence is greater than `after` (`len` when there is none), by
    /// binary search. Meaningful only on a sorted index.
    pub fn first_after(&self, after: u64) -> usize {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let middle = low + (high - low) / 2;
            if u64_at(self.slots, middle * CHANGE_SLOT_BYTES) <= after {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// Slots `from..`, in order.
    pub fn iter_from(self, from: usize) -> impl Iterator<Item = (u64, Location)> + 'a {
        (from.min(self.len)..self.len).map(move |i| self.get(i))
    }
}

/// The applied event ids' hashes: u128s, strictly increasing (checked by `SnapshotFile::verify`).
#[derive(Clone, Copy)]
pub struct EventIds<'a> {
    ids: &'a [u8],
    len: usize,
}

impl<'a> EventIds<'a> {
    pub fn new(ids: &'a [u8]) -> Result<EventIds<'a>, ShapeError> {
        let len = whole_slots(ids, EVENT_ID_BYTES, "event ids")?;
        Ok(EventIds { ids, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Id `i` (`i < len`).
    #[inline]
    pub fn get(&self, i: usize) -> u128 {
        u128_at(self.ids, i * EVENT_ID_BYTES)
    }

    /// Whether `id` is present: a binary search over the bytes, no allocation.
    pub fn contains(&self, id: u128) -> bool {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.get(middle).cmp(&id) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    pub fn iter(self) -> impl Iterator<Item = u128> + 'a {
        (0..self.len).map(move |i| self.get(i))
    }
}

/// Writes the changes index for `entries` into `out`, sorting `entries` by (sequence, shard,
/// position) first. Writes in pieces so no second full-size buffer is needed.
pub fn write_changes_index(
    entries: &mut [(u64, Location)],
    out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    entries.sort_unstable();
    let mut buffer = Vec::with_capacity(CHANGE_SLOT_BYTES * 4096);
    for chunk in entries.chunks(4096) {
        buffer.clear();
        for &(sequence, location) in chunk {
            buffer.extend_from_slice(&sequence.to_le_bytes());
            buffer.extend_from_slice(&location.shard.to_le_bytes());
            buffer.extend_from_slice(&location.position.to_le_bytes());
        }
        out(&buffer)?;
    }
    Ok(())
}

/// Writes `ids` (strictly increasing) as the event id section into `out`, in pieces.
pub fn write_event_ids(
    ids: &[u128],
    out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let mut buffer = Vec::with_capacity(EVENT_ID_BYTES * 4096);
    for chunk in ids.chunks(4096) {
        buffer.clear();
        for id in chunk {
            buffer.extend_from_slice(&id.to_le_bytes());
        }
        out(&buffer)?;
    }
    Ok(())
}

/// Builds a number index. Keys must be distinct and non-zero.
pub fn build_number_index(entries: &[(u64, Location)]) -> Vec<u8> {
    let slots = slot_count(entries.len());
    let mask = slots - 1;
    let mut table = vec![0u8; slots * NUMBER_SLOT_BYTES];
    for &(key, location) in entries {
        assert!(key != 0, "permit keys are never zero");
        let mut slot = home_slot(key, mask);
        loop {
            let at = slot * NUMBER_SLOT_BYTES;
            let found = u64_at(&table, at);
            assert!(found != key, "duplicate permit key {key}");
            if found == 0 {
                table[at..at + 8].copy_from_slice(&key.to_le_bytes());
                table[at + 8..at + 12].copy_from_slice(&location.shard.to_le_bytes());
                table[at + 12..at + 16].copy_from_slice(&location.position.to_le_bytes());
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    table
}

/// Builds a token index. Versions are 1..=u16::MAX.
pub fn build_token_index(entries: &[(Token, u32, Location)]) -> Vec<u8> {
    let slots = slot_count(entries.len());
    let mask = slots - 1;
    let mut table = vec![0u8; slots * TOKEN_SLOT_BYTES];
    for (token, version, location) in entries {
        assert!(
            (1..=u16::MAX as u32).contains(version),
            "versions fit the slot"
        );
        let mut slot = home_slot(token.prefix(), mask);
        loop {
            let at = slot * TOKEN_SLOT_BYTES;
            if table[at + 10] == 0 && table[at + 11] == 0 {
                let s = &mut table[at..at + TOKEN_SLOT_BYTES];
                s[0..10].copy_from_slice(&token.0);
                s[10..12].copy_from_slice(&(*version as u16).to_le_bytes());
                s[12..16].copy_from_slice(&location.shard.to_le_bytes());
                s[16..20].copy_from_slice(&location.position.to_le_bytes());
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inserted_key_is_found_and_others_are_not() {
        // A table built from sequential permit-like keys finds each key and no absent one.
        let entries: Vec<(u64, Location)> = (0..10_000u64)
            .map(|i| {
                (
                    1_101_110_300_001 + i,
                    Location {
                        shard: (i % 3) as u32,
                        position: i as u32,
                    },
                )
            })
            .collect();
        let bytes = build_number_index(&entries);
        let index = NumberIndex::new(&bytes).unwrap();
        for &(key, location) in &entries {
            assert_eq!(index.get(key), Some(location));
        }
        assert_eq!(index.get(1_101_110_300_000), None);
        assert_eq!(index.get(9_999_999_999_999), None);
        assert_eq!(index.entries().count(), entries.len());
    }

    #[test]
    fn tokens_sharing_a_prefix_are_told_apart_by_their_tail() {
        // Two tokens with equal first 8 bytes land in one probe run and are both found.
        let a = Token([7; 10]);
        let mut b_bytes = [7; 10];
        b_bytes[9] = 8;
        let b = Token(b_bytes);
        let here = Location {
            shard: 0,
            position: 1,
        };
        let there = Location {
            shard: 2,
            position: 3,
        };
        let bytes = build_token_index(&[(a, 1, here), (b, 2, there)]);
        let index = TokenIndex::new(&bytes).unwrap();
        assert_eq!(index.get(&a), Some((here, 1)));
        assert_eq!(index.get(&b), Some((there, 2)));
        assert_eq!(index.get(&Token([9; 10])), None);
        assert_eq!(index.occupied(), 2);
    }

    #[test]
    fn malformed_tables_are_refused() {
        // Index bytes that are not a power-of-two number of whole slots cannot be opened.
        assert!(NumberIndex::new(&[0u8; 17]).is_err());
        assert!(NumberIndex::new(&[0u8; 16 * 24]).is_err());
        assert!(TokenIndex::new(&[0u8; 24 * 16]).is_ok());
    }

    fn encode_changes(entries: &mut [(u64, Location)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_changes_index(entries, &mut |part| {
            bytes.extend_from_slice(part);
            Ok(())
        })
        .unwrap();
        bytes
    }

    #[test]
    fn changes_are_sorted_by_sequence_then_location_and_searched() {
        // The writer sorts by (sequence, shard, position); first_after skips every slot ≤ after.
        let at = |shard, position| Location { shard, position };
        let mut entries = vec![
            (5, at(0, 1)),
            (0, at(1, 0)),
            (9, at(0, 0)),
            (0, at(0, 2)),
            (5, at(0, 0)),
        ];
        let bytes = encode_changes(&mut entries);
        let index = ChangesIndex::new(&bytes).unwrap();
        assert_eq!(index.len(), 5);
        let all: Vec<_> = index.iter_from(0).collect();
        assert_eq!(
            all,
            [
                (0, at(0, 2)),
                (0, at(1, 0)),
                (5, at(0, 0)),
                (5, at(0, 1)),
                (9, at(0, 0))
            ]
        );
        for (after, first) in [
            (0, 2),
            (1, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 5),
            (u64::MAX, 5),
        ] {
            assert_eq!(index.first_after(after), first, "after {after}");
        }
        assert_eq!(index.iter_from(7).count(), 0);
        assert!(ChangesIndex::new(&bytes[..17]).is_err());
        assert!(ChangesIndex::new(&[]).unwrap().is_empty());
        assert_eq!(ChangesIndex::new(&[]).unwrap().first_after(0), 0);
    }

    #[test]
    fn event_ids_are_found_by_binary_search() {
        // Every written id is found, no other: below the first, between, above the last.
        let ids: Vec<u128> = (1..=1000u128).map(|i| i * 3 + (i << 100)).collect();
        let mut bytes = Vec::new();
        write_event_ids(&ids, &mut |part| {
            bytes.extend_from_slice(part);
            Ok(())
        })
        .unwrap();
        let index = EventIds::new(&bytes).unwrap();
        assert_eq!(index.len(), ids.len());
        for &id in &ids {
            assert!(index.contains(id));
            assert!(!index.contains(id + 1));
            assert!(!index.contains(id - 1));
        }
        assert!(!index.contains(0));
        assert!(!index.contains(u128::MAX));
        assert!(index.iter().eq(ids.iter().copied()));
        assert!(EventIds::new(&bytes[..15]).is_err());
        assert!(!EventIds::new(&[]).unwrap().contains(0));
    }

    #[test]
    fn load_stays_at_most_three_quarters() {
        // slot_count leaves a quarter of the table empty, so probes terminate quickly.
        for n in [0, 1, 12, 13, 1000, 786_432, 10_000_000] {
            let slots = slot_count(n);
            assert!(slots.is_power_of_two());
            assert!(n * 4 <= slots * 3, "n={n} slots={slots}");
        }
    }
}
