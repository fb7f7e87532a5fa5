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
use crate::snapshot::build::to_bytes;
use crate::snapshot::format::{FormatError, Header, HEADER_BYTES};
use crate::snapshot::{Snapshot, SnapshotFile};

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
            })
            .collect(),
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
    // Zero permits still make a well-formed file that answers "not found".
    let snapshot = open(to_bytes(&[], 0).unwrap()).unwrap();
    assert!(snapshot.is_empty());
    assert!(snapshot
        .get(&PermitNumber::new(110111, 3, 1).unwrap())
        .is_none());
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
        crate::snapshot::build::write_sharded(&mut cursor, &permits, 9, &rendering, 64).unwrap();
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
    let snapshot = open(to_bytes_with(&permits, sequence, &rendering).unwrap()).unwrap();
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
