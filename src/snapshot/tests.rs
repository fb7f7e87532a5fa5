//! Snapshot round trips and corruption: every damaged file is refused with an error, never
//! undefined behaviour or a panic.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rkyv::util::AlignedVec;

use crate::catalog::LicenceTypeId;
use crate::codes::{PermitNumber, Uscc};
use crate::domain::permit::SupersededVersion;
use crate::domain::{Date, Licence, LicenceState, Permit, PermitStatus};
use crate::qr::Token;
use crate::snapshot::build::{to_bytes, write_sharded, Rendering};
use crate::snapshot::format::{FormatError, Header, FORMAT_VERSION, HEADER_BYTES};
use crate::snapshot::{Location, Snapshot, SnapshotFile};

fn permit(category: u8, sequence: u32, version: u32) -> Permit {
    let number = PermitNumber::new(110111, category, sequence).unwrap();
    let mut body = *b"91110111MA0000000";
    body[10..16].copy_from_slice(format!("{:06}", sequence % 1_000_000).as_bytes());
    Permit {
        number,
        version,
        operator_name: format!("北京房山测试餐饮店{sequence}"),
        uscc: Uscc::from_body(&body).unwrap(),
        legal_representative: "张伟".into(),
        premises: "北京市房山区拱辰街道政通路1号".into(),
        issuing_authority: "北京市房山区政务服务局".into(),
        issued_on: Date::from_ymd(2024, 3, 1).unwrap(),
        licences: vec![Licence {
            licence_type: LicenceTypeId(3),
            certificate_number: Some(format!("JY1110111{sequence:08}")),
            state: LicenceState::Valid,
            on_commitment: false,
            valid_from: Date::from_ymd(2024, 3, 1),
            valid_until: Date::from_ymd(2029, 2, 28),
            state_reason: None,
            state_changed_on: None,
        }],
        status: PermitStatus::Active,
        superseded_versions: (1..version)
            .map(|v| SupersededVersion {
                version: v,
                issued_on: Date::from_ymd(2023, 12, 1).unwrap(),
                qr: None,
            })
            .collect(),
        sequence: u64::from(sequence),
        seal: None,
    }
}

fn sample(count: u32) -> Vec<Permit> {
    let mut permits: Vec<Permit> = (1..=count)
        .map(|i| permit(3 + (i % 2) as u8, i, 1 + (i % 3)))
        .collect();
    permits.sort_by_key(|p| p.number.key());
    permits
}

fn open(bytes: AlignedVec) -> Result<Snapshot<AlignedVec>, FormatError> {
    SnapshotFile::from_bytes(bytes)?.verify()
}

fn copy(bytes: &[u8]) -> AlignedVec {
    let mut aligned = AlignedVec::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    aligned
}

#[test]
fn round_trip_finds_every_permit_by_number_and_token() {
    // What goes in comes out: each permit by number, each version by token, nothing else.
    let permits = sample(500);
    let snapshot = open(to_bytes(&permits, 77).unwrap()).unwrap();
    assert_eq!(snapshot.len(), 500);
    assert_eq!(snapshot.header().sequence, 77);
    assert_eq!(snapshot.changes_len(), 500);
    let mut sequences: Vec<u64> = permits.iter().map(|p| p.sequence).collect();
    sequences.sort_unstable();
    assert!(snapshot.all_changes().map(|(s, _)| s).eq(sequences));
    assert_eq!(
        snapshot.header().versions,
        permits.iter().map(|p| p.version as u64).sum::<u64>()
    );
    for p in &permits {
        let got = snapshot.get(&p.number).expect("present");
        let back: Permit = rkyv::deserialize::<Permit, rkyv::rancor::Error>(got).unwrap();
        assert_eq!(&back, p);
        for version in 1..=p.version {
            let (found, v) = snapshot
                .get_by_token(&Token::for_version(&p.number, version))
                .unwrap();
            assert_eq!((found.number.as_str(), v), (p.number.as_str(), version));
        }
        assert!(snapshot
            .get_by_token(&Token::for_version(&p.number, p.version + 1))
            .is_none());
    }
    let absent = PermitNumber::new(110111, 3, 99_999).unwrap();
    assert!(snapshot.get(&absent).is_none());
    let order: Vec<_> = snapshot
        .iter()
        .map(|p| p.number.as_str().to_owned())
        .collect();
    let expect: Vec<_> = permits.iter().map(|p| p.number.to_string()).collect();
    assert_eq!(order, expect);
}

#[test]
fn an_empty_snapshot_is_valid() {
    // Zero permits still make a well-formed file that answers "not found", lists no changes and
    // knows no event id; zero permits with event ids is well formed too.
    let snapshot = open(to_bytes(&[], 0).unwrap()).unwrap();
    assert!(snapshot.is_empty());
    assert!(snapshot
        .get(&PermitNumber::new(110111, 3, 1).unwrap())
        .is_none());
    assert_eq!(snapshot.changes_len(), 0);
    assert_eq!(snapshot.changes_after(0).count(), 0);
    assert_eq!(snapshot.all_changes().count(), 0);
    assert_eq!(snapshot.event_ids_len(), 0);
    assert_eq!(snapshot.event_ids().count(), 0);
    assert!(!snapshot.has_event_id(0));
    assert_eq!(snapshot.header().changes, 0);
    assert_eq!(snapshot.header().event_id_count, 0);

    let snapshot = open(build(&[], 3, &[9, 4, 9], 64)).unwrap();
    assert!(snapshot.is_empty());
    assert_eq!(snapshot.event_ids().collect::<Vec<_>>(), [4, 9]);
    assert!(snapshot.has_event_id(4) && snapshot.has_event_id(9) && !snapshot.has_event_id(5));
}

#[test]
fn unsorted_input_is_refused() {
    // The builder requires strictly increasing numbers (the registry sorts them).
    let mut permits = sample(3);
    permits.swap(0, 2);
    assert!(to_bytes(&permits, 1).is_err());
}

#[test]
fn every_truncation_is_refused_at_open() {
    // Cutting the file anywhere is caught by the header's length field, without reading the body.
    let bytes = to_bytes(&sample(200), 5).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut cuts: Vec<usize> = (0..200).map(|_| rng.random_range(0..bytes.len())).collect();
    cuts.extend([0, 1, HEADER_BYTES - 1, HEADER_BYTES, bytes.len() - 1]);
    for cut in cuts {
        let result = SnapshotFile::from_bytes(copy(&bytes[..cut]));
        assert!(
            matches!(
                result,
                Err(FormatError::TooShort { .. } | FormatError::Length { .. })
            ),
            "cut at {cut}: {:?}",
            result.err()
        );
    }
}

#[test]
fn a_byte_flipped_anywhere_is_refused() {
    // One flipped byte in the header fails at open; in the body, the checksum catches it.
    let bytes = to_bytes(&sample(200), 5).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..300 {
        let at = rng.random_range(0..bytes.len());
        let mut damaged = copy(&bytes);
        damaged[at] ^= 1 << rng.random_range(0..8);
        let result = open(damaged);
        assert!(result.is_err(), "flip at {at} was not detected");
        if at >= HEADER_BYTES {
            assert!(
                matches!(result, Err(FormatError::BodyChecksum { .. })),
                "at {at}"
            );
        }
    }
}

#[test]
fn a_forged_checksum_does_not_get_garbage_past_validation() {
    // Damage with recomputed checksums (a hostile file) is caught by rkyv validation or the index
    // cross-check, or leaves a structurally valid file: it never panics or reads out of bounds.
    let bytes = to_bytes(&sample(200), 5).unwrap();
    let header = Header::decode(&bytes).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut refused = 0;
    for _ in 0..300 {
        let mut damaged = copy(&bytes);
        let at = rng.random_range(HEADER_BYTES..bytes.len());
        damaged[at] ^= 1 << rng.random_range(0..8);
        let mut forged = header.clone();
        forged.body_checksum = *blake3::hash(&damaged[HEADER_BYTES..]).as_bytes();
        damaged[..HEADER_BYTES].copy_from_slice(&forged.encode());
        match open(damaged) {
            Err(_) => refused += 1,
            Ok(snapshot) => {
                // Reading every record must stay in bounds.
                for p in snapshot.iter() {
                    let _ = (
                        p.operator_name.len(),
                        p.licences.len(),
                        p.derived_state(None, Date::from_ymd(2026, 1, 1).unwrap()),
                    );
                }
            }
        }
    }
    assert!(
        refused > 0,
        "some forged damage must be structurally detectable"
    );
}

#[test]
fn header_fields_out_of_bounds_are_refused() {
    // A header whose checksum is right but whose sections point outside the file is refused.
    let bytes = to_bytes(&sample(10), 5).unwrap();
    let mut header = Header::decode(&bytes).unwrap();
    header.number_index.bytes += 1 << 40;
    let mut damaged = copy(&bytes);
    damaged[..HEADER_BYTES].copy_from_slice(&header.encode());
    assert!(matches!(
        SnapshotFile::from_bytes(damaged),
        Err(FormatError::Field { .. })
    ));
}

#[test]
fn permits_spread_over_many_shards_are_all_found() {
    // With small shards (as 10M permits get with the real limit) every lookup crosses to the
    // right shard, and verification covers each shard.
    let permits = sample(1000);
    let mut cursor = std::io::Cursor::new(Vec::new());
    let catalog = crate::catalog::Catalog::embedded().unwrap();
    let rendering = crate::snapshot::build::Rendering {
        catalog: &catalog,
        as_of: Date::from_ymd(2026, 6, 15).unwrap(),
    };
    let stats =
        crate::snapshot::build::write_sharded(&mut cursor, &permits, 9, &[], &rendering, 64)
            .unwrap();
    assert_eq!(stats.shards, 16);
    let snapshot = open(copy(cursor.get_ref())).unwrap();
    assert_eq!(snapshot.shard_count(), 16);
    for p in &permits {
        assert_eq!(
            snapshot.get(&p.number).unwrap().number.as_str(),
            p.number.as_str()
        );
    }
}

#[test]
fn pre_rendered_answers_equal_fresh_renderings_while_they_hold() {
    // The bytes stored at build time are exactly what rendering would give on any date inside
    // each answer's window, and the window ends exactly when the state would change.
    use crate::answer::PermitView;
    use crate::catalog::Catalog;
    use crate::gen::{generate, GenOptions};
    use crate::registry::Registry;
    use crate::snapshot::build::{to_bytes_with, Rendering};

    let catalog = Catalog::embedded().unwrap();
    let as_of = Date::from_ymd(2026, 6, 15).unwrap();
    let mut feed = Vec::new();
    generate(
        &catalog,
        &GenOptions {
            permits: 3000,
            seed: 9,
            as_of,
        },
        &mut feed,
        &mut |_| {},
    )
    .unwrap();
    let mut registry = Registry::new(&catalog);
    crate::feed::fold(&mut registry, &feed[..], &mut |_| {}).unwrap();
    let sequence = registry.sequence();
    let permits = registry.into_sorted();
    let rendering = Rendering {
        catalog: &catalog,
        as_of,
    };
    let snapshot = open(to_bytes_with(&permits, sequence, &[], &rendering).unwrap()).unwrap();
    assert_eq!(snapshot.header().answers_as_of, as_of);
    let (mut held, mut expired) = (0, 0);
    for permit in &permits {
        let location = snapshot.locate(&permit.number).unwrap();
        let record = snapshot.record(location).unwrap();
        let answer = snapshot.answer(location).unwrap();
        for days in [0, 1, 30, 200, 800, 4000] {
            let today = as_of.add_days(days);
            let fresh = PermitView::new(record, None, &catalog, today, sequence).to_json();
            if answer.holds_on(as_of, today) {
                held += 1;
                assert_eq!(answer.body, &fresh[..], "{} on {today}", permit.number);
            } else {
                expired += 1;
                // Past the window the state (or a licence's state) has moved on.
                assert_ne!(answer.body, &fresh[..], "{} on {today}", permit.number);
            }
        }
        let end = answer.valid_through;
        if let Some(end) = end {
            let before = PermitView::new(record, None, &catalog, end, sequence).to_json();
            let after =
                PermitView::new(record, None, &catalog, end.add_days(1), sequence).to_json();
            assert_eq!(answer.body, &before[..]);
            assert_ne!(
                before, after,
                "{}: the state changes the day after {end}",
                permit.number
            );
        }
    }
    assert!(held > 0 && expired > 0, "held {held}, expired {expired}");
}

// ---- format version 3: the changes index and the event ids ----

fn rendering_for_tests(catalog: &crate::catalog::Catalog) -> Rendering<'_> {
    Rendering {
        catalog,
        as_of: Date::from_ymd(2026, 6, 15).unwrap(),
    }
}

/// A snapshot of `permits` with `event_ids`, in shards of at most `shard_permits` permits.
fn build(
    permits: &[Permit],
    sequence: u64,
    event_ids: &[u128],
    shard_permits: usize,
) -> AlignedVec {
    let catalog = crate::catalog::Catalog::embedded().unwrap();
    let mut cursor = std::io::Cursor::new(Vec::new());
    write_sharded(
        &mut cursor,
        permits,
        sequence,
        event_ids,
        &rendering_for_tests(&catalog),
        shard_permits,
    )
    .unwrap();
    copy(cursor.get_ref())
}

/// 300 permits over 5 shards: every fifth a legacy permit (sequence 0), every seventh sharing
/// sequence 42 (ties), the rest distinct sequences from 100 up, unrelated to number order.
fn sequenced_sample() -> Vec<Permit> {
    let mut permits = sample(300);
    for (i, p) in permits.iter_mut().enumerate() {
        p.sequence = if i % 5 == 0 {
            0
        } else if i % 7 == 0 {
            42
        } else {
            100 + ((i as u64 * 7919) % 1000)
        };
    }
    permits
}

/// An edit of a decoded header, for corruption tables.
type HeaderEdit = Box<dyn Fn(&mut Header)>;

/// Rewrites the header page with `change` applied (the header checksum re-sealed).
fn reseal_header(bytes: &mut AlignedVec, change: impl FnOnce(&mut Header)) {
    let mut header = Header::decode(bytes).unwrap();
    change(&mut header);
    bytes[..HEADER_BYTES].copy_from_slice(&header.encode());
}

/// Re-seals the body checksum after the body was edited, as a hostile file would.
fn reseal_body(bytes: &mut AlignedVec) {
    let checksum = *blake3::hash(&bytes[HEADER_BYTES..]).as_bytes();
    reseal_header(bytes, |h| h.body_checksum = checksum);
}

/// Re-seals the header checksum of a header page edited byte by byte.
fn reseal_header_checksum(bytes: &mut AlignedVec) {
    let checksum = *blake3::hash(&bytes[..HEADER_BYTES - 32]).as_bytes();
    bytes[HEADER_BYTES - 32..HEADER_BYTES].copy_from_slice(&checksum);
}

/// The byte offset of changes-index slot `i`.
fn change_slot(bytes: &[u8], i: usize) -> usize {
    Header::decode(bytes).unwrap().changes_index.offset as usize + 16 * i
}

/// The byte offset of event id `i`.
fn event_id_at(bytes: &[u8], i: usize) -> usize {
    Header::decode(bytes).unwrap().event_ids.offset as usize + 16 * i
}

fn field_error(result: Result<impl Sized, FormatError>) -> &'static str {
    match result {
        Err(FormatError::Field { field, .. }) => field,
        Err(other) => panic!("expected a Field error, got {other:?}"),
        Ok(_) => panic!("expected a Field error, the file was accepted"),
    }
}

/// The `why` of an `Index` error on `index`.
fn index_error(result: Result<Snapshot<AlignedVec>, FormatError>, index: &str) -> String {
    match result {
        Err(FormatError::Index { index: got, why }) if got == index => why,
        Err(other) => panic!("expected an Index error on {index}, got {other:?}"),
        Ok(_) => panic!("expected an Index error on {index}, the file was accepted"),
    }
}

#[test]
fn changes_after_returns_permits_in_sequence_order_from_any_cursor() {
    // From every cursor (0, each sequence, between, the last, beyond) the permits with a greater
    // sequence come in (sequence, shard, position) order, ties in file order, each exactly once.
    let permits = sequenced_sample();
    let snapshot = open(build(&permits, 2000, &[], 64)).unwrap();
    assert!(snapshot.shard_count() > 1);
    assert_eq!(snapshot.changes_len(), permits.len());
    assert_eq!(snapshot.header().changes, permits.len() as u64);
    let mut expected: Vec<(u64, Location)> = permits
        .iter()
        .map(|p| (p.sequence, snapshot.locate(&p.number).unwrap()))
        .collect();
    expected.sort();
    assert_eq!(snapshot.all_changes().collect::<Vec<_>>(), expected);
    for (sequence, location) in snapshot.all_changes() {
        assert_eq!(snapshot.record(location).unwrap().sequence, sequence);
    }
    let last = expected.last().unwrap().0;
    let mut cursors = vec![0, 1, 41, 42, 43, 99, last - 1, last, last + 1, u64::MAX];
    cursors.extend(expected.iter().map(|&(s, _)| s));
    for after in cursors {
        let got: Vec<_> = snapshot.changes_after(after).collect();
        let want: Vec<_> = expected
            .iter()
            .copied()
            .filter(|&(s, _)| s > after)
            .collect();
        assert_eq!(got, want, "after {after}");
    }
    // Legacy permits are never "after" a cursor; the ties at 42 come in permit-number order.
    assert_eq!(
        snapshot.changes_after(0).count(),
        permits.iter().filter(|p| p.sequence > 0).count()
    );
    let tied: Vec<String> = snapshot
        .changes_after(41)
        .take_while(|&(s, _)| s == 42)
        .map(|(_, l)| snapshot.record(l).unwrap().number.as_str().to_owned())
        .collect();
    let want: Vec<String> = permits
        .iter()
        .filter(|p| p.sequence == 42)
        .map(|p| p.number.to_string())
        .collect();
    assert!(want.len() > 1);
    assert_eq!(tied, want);
    assert_eq!(snapshot.changes_after(last).count(), 0);
}

#[test]
fn has_event_id_is_true_for_every_given_id_and_false_for_others() {
    // Ids given in any order with repeats are recorded sorted and distinct; each is found, no
    // other is, and an already sorted list gives the same section.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let distinct: std::collections::BTreeSet<u128> = (0..3000).map(|_| rng.random()).collect();
    let mut given: Vec<u128> = distinct.iter().copied().collect();
    given.extend(distinct.iter().copied().take(500));
    for i in (1..given.len()).rev() {
        given.swap(i, rng.random_range(0..=i));
    }
    let permits = sample(50);
    let snapshot = open(build(&permits, 5, &given, 64)).unwrap();
    assert_eq!(snapshot.event_ids_len(), distinct.len());
    assert_eq!(snapshot.header().event_id_count, distinct.len() as u64);
    assert!(snapshot.event_ids().eq(distinct.iter().copied()));
    for &id in &distinct {
        assert!(snapshot.has_event_id(id));
        for near in [id.wrapping_add(1), id.wrapping_sub(1)] {
            assert_eq!(snapshot.has_event_id(near), distinct.contains(&near));
        }
    }
    for _ in 0..3000 {
        let other: u128 = rng.random();
        assert_eq!(snapshot.has_event_id(other), distinct.contains(&other));
    }
    assert_eq!(snapshot.has_event_id(0), distinct.contains(&0));
    assert_eq!(
        snapshot.has_event_id(u128::MAX),
        distinct.contains(&u128::MAX)
    );

    let sorted: Vec<u128> = distinct.iter().copied().collect();
    let again = open(build(&permits, 5, &sorted, 64)).unwrap();
    assert!(again.event_ids().eq(snapshot.event_ids()));
    // The plain API records none.
    assert_eq!(
        open(to_bytes(&permits, 5).unwrap())
            .unwrap()
            .event_ids_len(),
        0
    );
}

#[test]
fn a_file_of_an_earlier_format_is_refused() {
    // Files of the previous formats (3: records without `seal`; 2: without `sequence`) are
    // refused by version, even with a correct header checksum.
    for old in [2u32, 3, 4] {
        let mut bytes = to_bytes(&sample(10), 5).unwrap();
        bytes[8..12].copy_from_slice(&old.to_le_bytes());
        reseal_header_checksum(&mut bytes);
        assert!(matches!(
            SnapshotFile::from_bytes(bytes),
            Err(FormatError::Version {
                expected: FORMAT_VERSION,
                got
            }) if got == old
        ));
    }
    assert_eq!(FORMAT_VERSION, 5);
}

#[test]
fn new_sections_out_of_place_are_refused() {
    // The changes index and the event ids are page-aligned, after the token index, in order,
    // inside the file, like every other section.
    let bytes = build(&sample(100), 5, &[1, 2, 3], 64);
    let header = Header::decode(&bytes).unwrap();
    let cases: Vec<(&str, HeaderEdit)> = vec![
        ("changes_index", Box::new(|h| h.changes_index.offset += 16)),
        (
            "changes_index",
            Box::new(|h| h.changes_index.offset = h.token_index.offset),
        ),
        (
            "changes_index",
            Box::new(|h| h.changes_index.bytes += 1 << 40),
        ),
        ("event_ids", Box::new(|h| h.event_ids.offset += 8)),
        (
            "event_ids",
            Box::new(|h| h.event_ids.offset = h.changes_index.offset),
        ),
        ("event_ids", Box::new(|h| h.event_ids.bytes = u64::MAX - 8)),
        (
            "event_ids",
            Box::new(move |h| h.event_ids.offset = header.file_bytes + 4096),
        ),
    ];
    for (expected, change) in cases {
        let mut damaged = copy(&bytes);
        reseal_header(&mut damaged, change);
        assert_eq!(field_error(SnapshotFile::from_bytes(damaged)), expected);
    }
}

#[test]
fn section_lengths_must_match_their_counts() {
    // changes = permits, changes index = 16 × changes, event ids = 16 × their count.
    let bytes = build(&sample(100), 5, &[1, 2, 3], 64);
    let cases: Vec<(&str, HeaderEdit)> = vec![
        (
            "changes",
            Box::new(|h| {
                h.changes -= 1;
                h.changes_index.bytes -= 16;
            }),
        ),
        ("changes", Box::new(|h| h.changes += 1)),
        ("changes_index", Box::new(|h| h.changes_index.bytes -= 16)),
        ("changes_index", Box::new(|h| h.changes_index.bytes -= 1)),
        ("event_ids", Box::new(|h| h.event_id_count += 1)),
        ("event_ids", Box::new(|h| h.event_ids.bytes -= 1)),
        ("event_ids", Box::new(|h| h.event_id_count = u64::MAX / 8)),
    ];
    for (expected, change) in cases {
        let mut damaged = copy(&bytes);
        reseal_header(&mut damaged, change);
        assert_eq!(field_error(SnapshotFile::from_bytes(damaged)), expected);
    }
}

#[test]
fn reserved_header_bytes_must_be_zero() {
    // The free bytes after the new header fields are reserved for later versions.
    let mut bytes = to_bytes(&sample(10), 5).unwrap();
    bytes[4040] = 1;
    reseal_header_checksum(&mut bytes);
    assert_eq!(field_error(SnapshotFile::from_bytes(bytes)), "reserved");
}

#[test]
fn an_oldest_attestation_the_records_do_not_bear_out_is_refused() {
    // The header's oldest attestation tells the writer when to renew; verify holds it against
    // the records (unsealed here: i64::MIN).
    let mut bytes = to_bytes(&sample(10), 5).unwrap();
    let header = Header::decode(&bytes).unwrap();
    assert_eq!(header.oldest_attestation, i64::MIN);
    bytes[4024..4032].copy_from_slice(&1_780_000_000i64.to_le_bytes());
    reseal_header_checksum(&mut bytes);
    let file = SnapshotFile::from_bytes(bytes).unwrap();
    assert!(matches!(
        file.verify(),
        Err(FormatError::Field {
            field: "oldest_attestation",
            ..
        })
    ));
    assert_eq!(
        to_bytes(&[], 0)
            .map(|b| Header::decode(&b).unwrap().oldest_attestation)
            .unwrap(),
        i64::MAX
    );
}

#[test]
fn a_change_slot_outside_the_records_is_refused() {
    // A slot naming a shard or a position that does not exist is refused, not followed.
    let bytes = build(&sequenced_sample(), 5, &[], 64);
    let shards = Header::decode(&bytes).unwrap().shards;
    let slot = change_slot(&bytes, 7);
    let shard = u32::from_le_bytes(bytes[slot + 8..slot + 12].try_into().unwrap());
    let past_end = shards[shard as usize].permits as u32;
    for (at, value) in [(slot + 8, shards.len() as u32), (slot + 12, past_end)] {
        let mut damaged = copy(&bytes);
        damaged[at..at + 4].copy_from_slice(&value.to_le_bytes());
        reseal_body(&mut damaged);
        let why = index_error(open(damaged), "changes");
        assert!(why.contains("slot 7") && why.contains("outside"), "{why}");
    }
}

#[test]
fn a_change_slot_with_another_sequence_than_its_record_is_refused() {
    // The slot's sequence must be the one the record holds.
    let bytes = build(&sequenced_sample(), 5, &[], 64);
    let slot = change_slot(&bytes, 100);
    let mut damaged = copy(&bytes);
    let sequence = u64::from_le_bytes(damaged[slot..slot + 8].try_into().unwrap());
    damaged[slot..slot + 8].copy_from_slice(&(sequence + 1).to_le_bytes());
    reseal_body(&mut damaged);
    let why = index_error(open(damaged), "changes");
    assert!(why.contains("slot 100 says sequence"), "{why}");
}

#[test]
fn change_slots_out_of_order_are_refused() {
    // Swapping two slots (each still true of its record) breaks the order the search relies on.
    let bytes = build(&sequenced_sample(), 5, &[], 64);
    let (first, last) = (change_slot(&bytes, 0), change_slot(&bytes, 299));
    let mut damaged = copy(&bytes);
    let a: [u8; 16] = damaged[first..first + 16].try_into().unwrap();
    let b: [u8; 16] = damaged[last..last + 16].try_into().unwrap();
    damaged[first..first + 16].copy_from_slice(&b);
    damaged[last..last + 16].copy_from_slice(&a);
    reseal_body(&mut damaged);
    let why = index_error(open(damaged), "changes");
    assert!(why.contains("slot 1 ") && why.contains("order"), "{why}");
}

#[test]
fn a_permit_listed_twice_in_the_changes_is_refused() {
    // Every permit appears exactly once: a slot repeating its neighbour, or naming another
    // permit's location under its own sequence, is refused (and so the permit it displaced
    // cannot go missing).
    let bytes = build(&sequenced_sample(), 5, &[], 64);
    let (previous, slot) = (change_slot(&bytes, 149), change_slot(&bytes, 150));

    let mut damaged = copy(&bytes);
    let repeated: [u8; 16] = damaged[previous..previous + 16].try_into().unwrap();
    damaged[slot..slot + 16].copy_from_slice(&repeated);
    reseal_body(&mut damaged);
    let why = index_error(open(damaged), "changes");
    assert!(
        why.contains("slot 150 lists") && why.contains("again"),
        "{why}"
    );

    let mut damaged = copy(&bytes);
    let location: [u8; 8] = damaged[previous + 8..previous + 16].try_into().unwrap();
    damaged[slot + 8..slot + 16].copy_from_slice(&location);
    reseal_body(&mut damaged);
    let why = index_error(open(damaged), "changes");
    assert!(why.contains("slot 150 says sequence"), "{why}");
}

#[test]
fn event_ids_not_strictly_increasing_are_refused() {
    // A repeated or a descending id is refused: the binary search needs a strict order.
    let ids: Vec<u128> = (1..=40u128).map(|i| i << 90 | i).collect();
    let bytes = build(&sample(20), 5, &ids, 64);
    let (first, second) = (event_id_at(&bytes, 10), event_id_at(&bytes, 11));

    let mut damaged = copy(&bytes);
    let id: [u8; 16] = damaged[first..first + 16].try_into().unwrap();
    damaged[second..second + 16].copy_from_slice(&id);
    reseal_body(&mut damaged);
    let why = index_error(open(damaged), "event_ids");
    assert!(why.contains("id 11") && why.contains("repeats"), "{why}");

    let mut damaged = copy(&bytes);
    damaged[first..first + 16].copy_from_slice(&u128::MAX.to_le_bytes());
    reseal_body(&mut damaged);
    let why = index_error(open(damaged), "event_ids");
    assert!(why.contains("id 11") && why.contains("is below"), "{why}");
}
