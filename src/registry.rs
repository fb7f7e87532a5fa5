//! The in-memory permit registry that change-feed events fold into.
//!
//! `permitd snapshot build` folds a feed file into a registry and writes it out as a snapshot;
//! the writer path (later) folds its change log the same way. [`Registry::apply`] validates each
//! event against the catalogue and the current state: a rejected event gets a reason and changes
//! nothing; an event whose id was already applied is a replay and changes nothing either.

use std::collections::{HashMap, HashSet};

use crate::catalog::{Catalog, CoverageError, LicenceTypeId};
use crate::codes::PermitNumber;
use crate::domain::permit::SupersededVersion;
use crate::domain::{LicenceState, Permit, PermitStatus};
use crate::event::{Change, Event, SCHEMA_VERSION};
use crate::limits::{LICENCES_PER_PERMIT_MAX, SUPERSEDED_VERSIONS_MAX, TEXT_FIELD_BYTES_MAX};

/// Why an event was rejected. Each variant names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("schema version {got} is not supported (this build reads {SCHEMA_VERSION})")]
    Schema { got: u32 },
    #[error("event id is empty or longer than {TEXT_FIELD_BYTES_MAX} bytes")]
    EventId,
    #[error("permit {0} is already issued")]
    AlreadyIssued(PermitNumber),
    #[error("permit {0} is not known")]
    UnknownPermit(PermitNumber),
    #[error("permit {number}: version {got} does not follow version {current}")]
    Version {
        number: PermitNumber,
        current: u32,
        got: u32,
    },
    #[error("permit {number}: category {category} is not in the catalogue")]
    Category { number: PermitNumber, category: u8 },
    #[error("permit {number}: {error}")]
    Coverage {
        number: PermitNumber,
        error: CoverageError,
    },
    #[error("permit {number}: licence type L{:02} is not covered by it", licence_type.0)]
    NotCovered {
        number: PermitNumber,
        licence_type: LicenceTypeId,
    },
    #[error("permit {number}: field {field} is empty or longer than {TEXT_FIELD_BYTES_MAX} bytes")]
    Field {
        number: PermitNumber,
        field: &'static str,
    },
    #[error("permit {number} covers no single licence: a comprehensive permit lists at least one")]
    NoLicences { number: PermitNumber },
    #[error("permit {number}: {count} licences exceed the limit of {LICENCES_PER_PERMIT_MAX}")]
    TooManyLicences { number: PermitNumber, count: usize },
    #[error("permit {number}: a new issue cannot carry a licence in state {state:?}")]
    IssueState {
        number: PermitNumber,
        state: LicenceState,
    },
    #[error("permit {number}: licence L{:02} is granted but has no certificate number", licence_type.0)]
    CertificateMissing {
        number: PermitNumber,
        licence_type: LicenceTypeId,
    },
    #[error("permit {0} is recovered (收回): no further changes are accepted")]
    Recovered(PermitNumber),
    #[error("permit {number} has been reissued {SUPERSEDED_VERSIONS_MAX} times, the most kept")]
    TooManyVersions { number: PermitNumber },
}

/// What [`Registry::apply`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Accepted and given this sequence number.
    Accepted { sequence: u64 },
    /// Its id was seen before: nothing changed.
    Replay,
}

pub struct Registry<'c> {
    catalog: &'c Catalog,
    /// Permits in the order first issued; `positions` maps a permit key to its place here. (A
    /// `Vec` plus an index holds 10M permits in less memory than a map of permits, and sorts in
    /// place for the snapshot.)
    permits: Vec<Permit>,
    positions: HashMap<u64, u32>,
    /// blake3 of each applied event id, truncated: 16 bytes per event instead of the id text.
    seen_event_ids: HashSet<u128>,
    sequence: u64,
}

impl<'c> Registry<'c> {
    pub fn new(catalog: &'c Catalog) -> Registry<'c> {
        Registry::with_capacity(catalog, 0)
    }

    /// A registry with room for about `permits` permits (a hint: it grows past it).
    pub fn with_capacity(catalog: &'c Catalog, permits: usize) -> Registry<'c> {
        Registry {
            catalog,
            permits: Vec::with_capacity(permits),
            positions: HashMap::with_capacity(permits),
            seen_event_ids: HashSet::with_capacity(permits + permits / 8),
            sequence: 0,
        }
    }

    /// The sequence number of the last accepted event (0 when none).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn len(&self) -> usize {
        self.permits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.permits.is_empty()
    }

    pub fn get(&self, number: &PermitNumber) -> Option<&Permit> {
        self.positions
            .get(&number.key())
            .map(|&i| &self.permits[i as usize])
    }

    /// Every permit, in permit-number order.
    pub fn into_sorted(self) -> Vec<Permit> {
        let mut permits = self.permits;
        permits.sort_unstable_by_key(|p| p.number.key());
        permits
    }

    /// Validates `event` and applies it.
    ///
    /// # Errors
    /// A [`Rejection`] naming what is wrong; the registry is then unchanged.
    pub fn apply(&mut self, event: Event) -> Result<Applied, Rejection> {
        if event.schema != SCHEMA_VERSION {
            return Err(Rejection::Schema { got: event.schema });
        }
        if event.id.is_empty() || event.id.len() > TEXT_FIELD_BYTES_MAX {
            return Err(Rejection::EventId);
        }
        let id_hash = event_id_hash(&event.id);
        if self.seen_event_ids.contains(&id_hash) {
            return Ok(Applied::Replay);
        }
        match event.change {
            Change::PermitIssued { permit } => {
                if self.positions.contains_key(&permit.number.key()) {
                    return Err(Rejection::AlreadyIssued(permit.number));
                }
                if permit.version != 1 || !permit.superseded_versions.is_empty() {
                    return Err(Rejection::Version {
                        number: permit.number,
                        current: 0,
                        got: permit.version,
                    });
                }
                self.check_permit(&permit)?;
                let position = u32::try_from(self.permits.len()).expect("fewer than 2^32 permits");
                self.positions.insert(permit.number.key(), position);
                self.permits.push(permit);
            }
            Change::PermitReissued { mut permit } => {
                let current = self.current(&permit.number)?;
                if permit.version != current.version + 1 {
                    return Err(Rejection::Version {
                        number: permit.number,
                        current: current.version,
                        got: permit.version,
                    });
                }
                if current.superseded_versions.len() >= SUPERSEDED_VERSIONS_MAX {
                    return Err(Rejection::TooManyVersions {
                        number: permit.number,
                    });
                }
                self.check_permit(&permit)?;
                let mut superseded = current.superseded_versions.clone();
                superseded.push(SupersededVersion {
                    version: current.version,
                    issued_on: current.issued_on,
                });
                permit.superseded_versions = superseded;
                let position = self.positions[&permit.number.key()] as usize;
                self.permits[position] = permit;
            }
            Change::LicenceStateChanged {
                number,
                licence_type,
                state,
                reason,
                on,
            } => {
                self.current(&number)?;
                if let Some(reason) = &reason {
                    if reason.len() > TEXT_FIELD_BYTES_MAX {
                        return Err(Rejection::Field {
                            number,
                            field: "reason",
                        });
                    }
                }
                let position = self.positions[&number.key()] as usize;
                let permit = &mut self.permits[position];
                let Some(licence) = permit
                    .licences
                    .iter_mut()
                    .find(|l| l.licence_type == licence_type)
                else {
                    return Err(Rejection::NotCovered {
                        number,
                        licence_type,
                    });
                };
                licence.state = state;
                licence.state_reason = reason;
                licence.state_changed_on = Some(on);
            }
        }
        self.seen_event_ids.insert(id_hash);
        self.sequence += 1;
        Ok(Applied::Accepted {
            sequence: self.sequence,
        })
    }

    /// The current version of `number`, provided it may still change.
    fn current(&self, number: &PermitNumber) -> Result<&Permit, Rejection> {
        let permit = self.get(number).ok_or(Rejection::UnknownPermit(*number))?;
        if matches!(permit.status, PermitStatus::Recovered { .. }) {
            return Err(Rejection::Recovered(*number));
        }
        Ok(permit)
    }

    /// The checks every issued or reissued permit face passes.
    fn check_permit(&self, permit: &Permit) -> Result<(), Rejection> {
        let number = permit.number;
        let category = number.category();
        let Some(industry) = self.catalog.industry(category) else {
            return Err(Rejection::Category { number, category });
        };
        for (field, text) in [
            ("operator_name", &permit.operator_name),
            ("legal_representative", &permit.legal_representative),
            ("premises", &permit.premises),
            ("issuing_authority", &permit.issuing_authority),
        ] {
            if text.trim().is_empty() || text.len() > TEXT_FIELD_BYTES_MAX {
                return Err(Rejection::Field { number, field });
            }
        }
        if permit.licences.is_empty() {
            return Err(Rejection::NoLicences { number });
        }
        if permit.licences.len() > LICENCES_PER_PERMIT_MAX {
            return Err(Rejection::TooManyLicences {
                number,
                count: permit.licences.len(),
            });
        }
        for licence in &permit.licences {
            if !matches!(
                licence.state,
                LicenceState::Valid | LicenceState::NotGranted | LicenceState::PendingCommitment
            ) {
                return Err(Rejection::IssueState {
                    number,
                    state: licence.state,
                });
            }
            let granted = licence.state != LicenceState::NotGranted;
            match &licence.certificate_number {
                None if granted => {
                    return Err(Rejection::CertificateMissing {
                        number,
                        licence_type: licence.licence_type,
                    })
                }
                Some(text) if text.is_empty() || text.len() > TEXT_FIELD_BYTES_MAX => {
                    return Err(Rejection::Field {
                        number,
                        field: "certificate_number",
                    })
                }
                _ => {}
            }
        }
        let present: Vec<LicenceTypeId> = permit.licences.iter().map(|l| l.licence_type).collect();
        industry
            .check_coverage(&present)
            .map_err(|error| Rejection::Coverage { number, error })
    }
}

fn event_id_hash(id: &str) -> u128 {
    let hash = blake3::hash(id.as_bytes());
    u128::from_le_bytes(hash.as_bytes()[..16].try_into().expect("16 of 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Uscc;
    use crate::domain::{Date, DerivedState, Licence, VoidReason};
    use crate::event::Timestamp;

    fn d(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    fn licence(code: &str, state: LicenceState) -> Licence {
        Licence {
            licence_type: LicenceTypeId::from_code(code).unwrap(),
            certificate_number: (state != LicenceState::NotGranted).then(|| format!("{code}-0001")),
            state,
            on_commitment: false,
            valid_from: Some(d("2024-01-01")),
            valid_until: Some(d("2029-01-01")),
            state_reason: None,
            state_changed_on: None,
        }
    }

    /// A restaurant (category 03) with the food licence (L05) and, optionally, tobacco (L07).
    fn restaurant(sequence: u32, version: u32, licences: Vec<Licence>) -> Permit {
        Permit {
            number: PermitNumber::new(110111, 3, sequence).unwrap(),
            version,
            operator_name: "北京房山良乡张记餐饮店".into(),
            uscc: Uscc::parse("91350100M000100Y43").unwrap(),
            legal_representative: "张伟".into(),
            premises: "北京市房山区良乡镇昊天大街1号".into(),
            issuing_authority: "北京市房山区政务服务局".into(),
            issued_on: d("2024-01-01"),
            licences,
            status: PermitStatus::Active,
            superseded_versions: Vec::new(),
        }
    }

    fn event(id: &str, change: Change) -> Event {
        Event {
            schema: SCHEMA_VERSION,
            id: id.into(),
            at: Timestamp {
                unix_ms: 1_704_067_200_000,
            },
            department: "区政务服务局".into(),
            change,
        }
    }

    fn issued(id: &str, permit: Permit) -> Event {
        event(id, Change::PermitIssued { permit })
    }

    fn food() -> Vec<Licence> {
        vec![licence("L05", LicenceState::Valid)]
    }

    #[test]
    fn issue_reissue_and_state_change_fold_into_the_expected_state() {
        // Issued → reissued (old version superseded) → licence revoked (permit void).
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        let partial = vec![
            licence("L05", LicenceState::Valid),
            licence("L07", LicenceState::NotGranted),
        ];
        let number = restaurant(1, 1, partial.clone()).number;
        assert_eq!(
            registry.apply(issued("e1", restaurant(1, 1, partial))),
            Ok(Applied::Accepted { sequence: 1 })
        );
        let today = d("2026-06-15");
        assert_eq!(
            registry.get(&number).unwrap().derived_state(None, today),
            DerivedState::Partial { not_in_force: 1 }
        );

        let granted = vec![
            licence("L05", LicenceState::Valid),
            licence("L07", LicenceState::Valid),
        ];
        let reissue = event(
            "e2",
            Change::PermitReissued {
                permit: restaurant(1, 2, granted),
            },
        );
        assert_eq!(
            registry.apply(reissue),
            Ok(Applied::Accepted { sequence: 2 })
        );
        let permit = registry.get(&number).unwrap();
        assert_eq!(
            permit
                .superseded_versions
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>(),
            [1]
        );
        assert_eq!(
            permit.derived_state(Some(1), today),
            DerivedState::Superseded { by_version: 2 }
        );
        assert_eq!(permit.derived_state(None, today), DerivedState::Valid);

        let revoke = event(
            "e3",
            Change::LicenceStateChanged {
                number,
                licence_type: LicenceTypeId::from_code("L07").unwrap(),
                state: LicenceState::Revoked,
                reason: Some("告知承诺核查不符，依法撤销".into()),
                on: d("2026-06-01"),
            },
        );
        assert_eq!(
            registry.apply(revoke),
            Ok(Applied::Accepted { sequence: 3 })
        );
        let expect = DerivedState::Void(VoidReason::Licence {
            licence_type: LicenceTypeId::from_code("L07").unwrap(),
            state: LicenceState::Revoked,
            by_date: false,
        });
        assert_eq!(
            registry.get(&number).unwrap().derived_state(None, today),
            expect
        );
    }

    #[test]
    fn a_replayed_event_id_changes_nothing() {
        // Feeding the same event twice is idempotent.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        assert!(registry
            .apply(issued("same", restaurant(1, 1, food())))
            .is_ok());
        assert_eq!(
            registry.apply(issued("same", restaurant(1, 1, food()))),
            Ok(Applied::Replay)
        );
        assert_eq!((registry.len(), registry.sequence()), (1, 1));
    }

    #[test]
    fn rejected_events_name_the_problem_and_change_nothing() {
        // Each invalid event is rejected with its own reason; the registry stays as it was.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        registry
            .apply(issued("base", restaurant(1, 1, food())))
            .unwrap();
        let number = restaurant(1, 1, food()).number;
        let mut blank_name = restaurant(2, 1, food());
        blank_name.operator_name = "  ".into();
        let mut no_certificate = restaurant(3, 1, food());
        no_certificate.licences[0].certificate_number = None;
        let mut suspended_at_issue = restaurant(4, 1, food());
        suspended_at_issue.licences[0].state = LicenceState::Suspended;
        let mut bad_schema = issued("schema", restaurant(5, 1, food()));
        bad_schema.schema = 2;
        type Expect = fn(&Rejection) -> bool;
        let cases: Vec<(Event, Expect)> = vec![
            (issued("dup", restaurant(1, 1, food())), |r| {
                matches!(r, Rejection::AlreadyIssued(_))
            }),
            (issued("v2", restaurant(6, 2, food())), |r| {
                matches!(r, Rejection::Version { .. })
            }),
            (
                issued(
                    "nofood",
                    restaurant(7, 1, vec![licence("L07", LicenceState::Valid)]),
                ),
                |r| matches!(r, Rejection::Coverage { .. }),
            ),
            (issued("none", restaurant(8, 1, vec![])), |r| {
                matches!(r, Rejection::NoLicences { .. })
            }),
            (
                issued(
                    "alien",
                    restaurant(
                        9,
                        1,
                        vec![
                            licence("L05", LicenceState::Valid),
                            licence("L17", LicenceState::Valid),
                        ],
                    ),
                ),
                |r| matches!(r, Rejection::Coverage { .. }),
            ),
            (issued("blank", blank_name), |r| {
                matches!(
                    r,
                    Rejection::Field {
                        field: "operator_name",
                        ..
                    }
                )
            }),
            (issued("nocert", no_certificate), |r| {
                matches!(r, Rejection::CertificateMissing { .. })
            }),
            (issued("susp", suspended_at_issue), |r| {
                matches!(r, Rejection::IssueState { .. })
            }),
            (bad_schema, |r| matches!(r, Rejection::Schema { got: 2 })),
            (
                event(
                    "skip",
                    Change::PermitReissued {
                        permit: restaurant(1, 3, food()),
                    },
                ),
                |r| {
                    matches!(
                        r,
                        Rejection::Version {
                            current: 1,
                            got: 3,
                            ..
                        }
                    )
                },
            ),
            (
                event(
                    "ghost",
                    Change::PermitReissued {
                        permit: restaurant(10, 2, food()),
                    },
                ),
                |r| matches!(r, Rejection::UnknownPermit(_)),
            ),
            (
                event(
                    "uncovered",
                    Change::LicenceStateChanged {
                        number,
                        licence_type: LicenceTypeId::from_code("L07").unwrap(),
                        state: LicenceState::Revoked,
                        reason: None,
                        on: d("2026-01-01"),
                    },
                ),
                |r| matches!(r, Rejection::NotCovered { .. }),
            ),
            (issued("", restaurant(11, 1, food())), |r| {
                matches!(r, Rejection::EventId)
            }),
        ];
        for (event, expect) in cases {
            let id = event.id.clone();
            let rejection = registry.apply(event).expect_err(&id);
            assert!(expect(&rejection), "event {id:?}: {rejection}");
            assert!(!rejection.to_string().is_empty());
        }
        assert_eq!((registry.len(), registry.sequence()), (1, 1));
        assert_eq!(registry.get(&number).unwrap(), &restaurant(1, 1, food()));
    }
}
