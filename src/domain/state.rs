//! The derived state of a permit at a date: the rules of 重点任务(六), in one function.
//!
//! In order, first match wins:
//! 1. a scan of an earlier version → **superseded** by the current version (its paper is void);
//! 2. the authority recovered the paper (收回) → **recovered**;
//! 3. the authority declared the permit void → **void** (by the authority);
//! 4. any covered licence cancelled, revoked, withdrawn or lapsed, or past its last day of validity
//!    → **void**, naming the first such licence in printed order and why;
//! 5. any covered licence not in force (未许可, or suspended) → **partial** (valid with items not in
//!    force);
//! 6. otherwise → **valid**. A licence granted on commitment and not yet checked is in force; the
//!    answer flags it per licence.
//!
//! A version newer than the current one does not exist: [`derive_state`] is not asked about it
//! (the caller answers "unknown").

use crate::catalog::LicenceTypeId;
use crate::domain::licence::{LicenceFacts, LicenceState};
use crate::domain::Date;

/// The permit-level facts the rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFacts {
    Active,
    Voided { on: Date },
    Recovered { on: Date },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivedState {
    /// 有效
    Valid,
    /// 有效（含未许可或暂停事项）: `not_in_force` covered licences are not in force.
    Partial { not_in_force: u16 },
    /// 已作废
    Void(VoidReason),
    /// 已换发: this version was replaced by `by_version`.
    Superseded { by_version: u32 },
    /// 已收回
    Recovered { on: Date },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidReason {
    /// A covered licence is cancelled, revoked, withdrawn or lapsed (`state`); `by_date` when the
    /// lapse comes from its end date having passed rather than from a department's report.
    Licence {
        licence_type: LicenceTypeId,
        state: LicenceState,
        by_date: bool,
    },
    /// The issuing authority voided the permit itself.
    Authority { on: Date },
}

impl DerivedState {
    /// The stable machine name used in JSON.
    pub fn code(self) -> &'static str {
        match self {
            DerivedState::Valid => "valid",
            DerivedState::Partial { .. } => "partial",
            DerivedState::Void(_) => "void",
            DerivedState::Superseded { .. } => "superseded",
            DerivedState::Recovered { .. } => "recovered",
        }
    }

    /// The banner a person sees.
    pub fn label_zh(self) -> &'static str {
        match self {
            DerivedState::Valid => "有效",
            DerivedState::Partial { .. } => "部分许可",
            DerivedState::Void(_) => "已作废",
            DerivedState::Superseded { .. } => "已换发",
            DerivedState::Recovered { .. } => "已收回",
        }
    }
}

/// Applies the rules above. `asked_version` is the version a QR code names (`None`: current).
pub fn derive_state(
    current_version: u32,
    asked_version: Option<u32>,
    status: StatusFacts,
    licences: impl IntoIterator<Item = LicenceFacts>,
    today: Date,
) -> DerivedState {
    if let Some(asked) = asked_version {
        debug_assert!(
            asked <= current_version,
            "callers answer unknown for future versions"
        );
        if asked < current_version {
            return DerivedState::Superseded {
                by_version: current_version,
            };
        }
    }
    match status {
        StatusFacts::Recovered { on } => return DerivedState::Recovered { on },
        StatusFacts::Voided { on } => return DerivedState::Void(VoidReason::Authority { on }),
        StatusFacts::Active => {}
    }
    let mut not_in_force: u16 = 0;
    for licence in licences {
        let state = licence.effective_state(today);
        if state.voids_permit() {
            return DerivedState::Void(VoidReason::Licence {
                licence_type: licence.licence_type,
                state,
                by_date: licence.expired_by_date(today),
            });
        }
        if !state.in_force() {
            not_in_force = not_in_force.saturating_add(1);
        }
    }
    if not_in_force > 0 {
        DerivedState::Partial { not_in_force }
    } else {
        DerivedState::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LicenceState::*;

    const TODAY: &str = "2026-06-15";

    fn d(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    fn lic(id: u16, state: LicenceState, valid_until: Option<&str>) -> LicenceFacts {
        LicenceFacts {
            licence_type: LicenceTypeId(id),
            state,
            valid_until: valid_until.map(d),
        }
    }

    /// One row: the inputs and the expected derived state.
    struct Case {
        name: &'static str,
        current: u32,
        asked: Option<u32>,
        status: StatusFacts,
        licences: Vec<LicenceFacts>,
        expect: DerivedState,
    }

    fn check(case: &Case) {
        let got = derive_state(
            case.current,
            case.asked,
            case.status,
            case.licences.iter().copied(),
            d(TODAY),
        );
        assert_eq!(got, case.expect, "case {:?}", case.name);
    }

    fn void_by(id: u16, state: LicenceState, by_date: bool) -> DerivedState {
        DerivedState::Void(VoidReason::Licence {
            licence_type: LicenceTypeId(id),
            state,
            by_date,
        })
    }

    #[test]
    fn each_licence_state_alone_gives_its_permit_state() {
        // Every licence state, as the only covered licence, maps to exactly one permit state.
        for state in LicenceState::ALL {
            let expect = match state {
                Valid | PendingCommitment => DerivedState::Valid,
                NotGranted | Suspended => DerivedState::Partial { not_in_force: 1 },
                Cancelled | Revoked | Withdrawn | Lapsed => void_by(1, state, false),
            };
            check(&Case {
                name: state.code(),
                current: 1,
                asked: None,
                status: StatusFacts::Active,
                licences: vec![lic(1, state, None)],
                expect,
            });
        }
    }

    #[test]
    fn the_rules_table() {
        // Each rule of 重点任务(六), and the precedence between them.
        let active = StatusFacts::Active;
        let cases = [
            Case {
                name: "all valid",
                current: 1,
                asked: None,
                status: active,
                licences: vec![lic(1, Valid, Some("2030-01-01")), lic(2, Valid, None)],
                expect: DerivedState::Valid,
            },
            Case {
                name: "last day of validity is still valid",
                current: 1,
                asked: None,
                status: active,
                licences: vec![lic(1, Valid, Some(TODAY))],
                expect: DerivedState::Valid,
            },
            Case {
                name: "the day after the end date lapses with no event",
                current: 1,
                asked: None,
                status: active,
                licences: vec![lic(1, Valid, Some("2026-06-14")), lic(2, Valid, None)],
                expect: void_by(1, Lapsed, true),
            },
            Case {
                name: "an expired licence not yet granted still voids",
                current: 1,
                asked: None,
                status: active,
                licences: vec![lic(1, Valid, None), lic(2, Suspended, Some("2026-01-01"))],
                expect: void_by(2, Lapsed, true),
            },
            Case {
                name: "a revoked licence past its end date is reported as revoked",
                current: 1,
                asked: None,
                status: active,
                licences: vec![lic(3, Revoked, Some("2020-01-01"))],
                expect: void_by(3, Revoked, false),
            },
            Case {
                name: "unpermitted items make it partial",
                current: 1,
                asked: None,
                status: active,
                licences: vec![
                    lic(1, Valid, None),
                    lic(2, NotGranted, None),
                    lic(3, Suspended, None),
                ],
                expect: DerivedState::Partial { not_in_force: 2 },
            },
            Case {
                name: "void beats partial",
                current: 1,
                asked: None,
                status: active,
                licences: vec![lic(1, NotGranted, None), lic(2, Withdrawn, None)],
                expect: void_by(2, Withdrawn, false),
            },
            Case {
                name: "the first voiding licence in printed order is named",
                current: 1,
                asked: None,
                status: active,
                licences: vec![lic(5, Cancelled, None), lic(2, Revoked, None)],
                expect: void_by(5, Cancelled, false),
            },
            Case {
                name: "commitment pending is in force",
                current: 1,
                asked: None,
                status: active,
                licences: vec![lic(1, PendingCommitment, Some("2027-01-01"))],
                expect: DerivedState::Valid,
            },
            Case {
                name: "an earlier version is superseded even when the current one is void",
                current: 3,
                asked: Some(2),
                status: StatusFacts::Recovered {
                    on: d("2026-05-01"),
                },
                licences: vec![lic(1, Revoked, None)],
                expect: DerivedState::Superseded { by_version: 3 },
            },
            Case {
                name: "asking for the current version is asking for the permit",
                current: 3,
                asked: Some(3),
                status: active,
                licences: vec![lic(1, Valid, None)],
                expect: DerivedState::Valid,
            },
            Case {
                name: "recovered beats everything but supersession",
                current: 1,
                asked: None,
                status: StatusFacts::Recovered {
                    on: d("2026-05-01"),
                },
                licences: vec![lic(1, Revoked, None)],
                expect: DerivedState::Recovered {
                    on: d("2026-05-01"),
                },
            },
            Case {
                name: "voided by the authority with all licences valid",
                current: 2,
                asked: None,
                status: StatusFacts::Voided {
                    on: d("2026-05-02"),
                },
                licences: vec![lic(1, Valid, None)],
                expect: DerivedState::Void(VoidReason::Authority {
                    on: d("2026-05-02"),
                }),
            },
            Case {
                name:
                    "no licences at all is valid (the catalogue decides whether that may be issued)",
                current: 1,
                asked: None,
                status: active,
                licences: vec![],
                expect: DerivedState::Valid,
            },
        ];
        for case in &cases {
            check(case);
        }
    }

    #[test]
    fn only_the_four_voiding_states_void() {
        // 注销、撤销、吊销、失效 void the permit; nothing else does.
        let voiding: Vec<_> = LicenceState::ALL
            .into_iter()
            .filter(|s| s.voids_permit())
            .collect();
        assert_eq!(voiding, [Cancelled, Revoked, Withdrawn, Lapsed]);
    }
}
