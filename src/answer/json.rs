//! The JSON answers: a permit as a reader sees it ([`PermitView`]), the catalogue guide, errors.
//!
//! [`PermitView`] is built once per answer from the archived record, borrowing its strings, and
//! rendered as JSON here or as the citizen page in [`super::html`]: both say the same thing.

use std::borrow::Cow;

use serde::Serialize;

use crate::catalog::{Catalog, Choice, Industry, LicenceTypeId, Obligation};
use crate::domain::permit::ArchivedPermit;
use crate::domain::{Date, DerivedState, LicenceState, VoidReason};

#[derive(Serialize)]
pub struct PermitView<'a> {
    pub number: &'a str,
    /// The current version.
    pub version: u32,
    /// The version the QR code names, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scanned_version: Option<u32>,
    pub state: StateView,
    pub industry: IndustryRef<'a>,
    pub face: FaceView<'a>,
    pub licences: Vec<LicenceView<'a>>,
    /// 未许可事项: covered licences not yet granted.
    pub unpermitted_items: Vec<LicenceRef<'a>>,
    pub superseded_versions: Vec<SupersededView>,
    /// The last date this answer holds as it is unless a department reports a change: the first
    /// end date, from today on, of a licence not already void (the next day it shows as lapsed).
    /// `null`: no date ahead changes it. Like OCSP's nextUpdate.
    pub answer_valid_through: Option<String>,
    pub snapshot_sequence: u64,
    /// The date (Beijing) the state was evaluated for: shown on the page, not in the JSON, whose
    /// bytes are rendered once per snapshot and stay true through `answer_valid_through`.
    #[serde(skip)]
    pub evaluated_on: Date,
}

#[derive(Serialize)]
pub struct StateView {
    pub code: &'static str,
    pub label: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_in_force: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub void: Option<VoidView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered_on: Option<String>,
    /// One sentence for people, in Chinese.
    pub summary: String,
}

#[derive(Serialize)]
pub struct VoidView {
    /// `licence` or `authority`.
    pub by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licence_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licence_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licence_state: Option<&'static str>,
    /// The licence lapsed because its end date passed, with no event.
    pub by_date: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
}

#[derive(Serialize)]
pub struct IndustryRef<'a> {
    pub code: String,
    pub name: &'a str,
}

#[derive(Serialize)]
pub struct FaceView<'a> {
    pub operator_name: &'a str,
    pub uscc: &'a str,
    pub legal_representative: &'a str,
    pub premises: &'a str,
    pub issuing_authority: &'a str,
    pub issued_on: String,
}

#[derive(Serialize)]
pub struct LicenceRef<'a> {
    #[serde(rename = "type")]
    pub type_code: Cow<'a, str>,
    pub name: &'a str,
    pub department: &'a str,
}

#[derive(Serialize)]
pub struct LicenceView<'a> {
    #[serde(rename = "type")]
    pub type_code: Cow<'a, str>,
    pub name: &'a str,
    /// The approving department: whom to contact for remedies (救济方式).
    pub department: &'a str,
    pub certificate_number: Option<&'a str>,
    /// The state at `evaluated_on` (a licence past its end date is `lapsed`).
    pub state: &'static str,
    pub state_label: &'static str,
    pub on_commitment: bool,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_changed_on: Option<String>,
}

#[derive(Serialize)]
pub struct SupersededView {
    pub version: u32,
    pub issued_on: String,
}

const UNKNOWN: &str = "未知";

/// A licence type's code, name and department, borrowed from the catalogue (an id the catalogue
/// does not know still gets its code, and 未知 for the rest).
fn licence_ref(catalog: &Catalog, id: LicenceTypeId) -> (Cow<'_, str>, &str, &str) {
    match catalog.licence_type(id) {
        Some(t) => (
            Cow::Borrowed(t.code.as_str()),
            t.name.as_str(),
            t.department.as_str(),
        ),
        None => (Cow::Owned(format!("L{:02}", id.0)), UNKNOWN, UNKNOWN),
    }
}

impl<'a> PermitView<'a> {
    pub fn new(
        permit: &'a ArchivedPermit,
        scanned_version: Option<u32>,
        catalog: &'a Catalog,
        today: Date,
        snapshot_sequence: u64,
    ) -> PermitView<'a> {
        let number = permit.number.as_str();
        let derived = permit.derived_state(scanned_version, today);
        let category = number
            .get(8..10)
            .and_then(|c| c.parse::<u8>().ok())
            .unwrap_or(0);
        let industry_name = catalog
            .industry(category)
            .map_or(UNKNOWN, |i| i.name.as_str());
        let mut licences = Vec::with_capacity(permit.licences.len());
        let mut unpermitted = Vec::new();
        for licence in permit.licences.iter() {
            let facts = licence.facts();
            let (type_code, name, department) = licence_ref(catalog, facts.licence_type);
            let state = facts.effective_state(today);
            if state == LicenceState::NotGranted {
                unpermitted.push(LicenceRef {
                    type_code: type_code.clone(),
                    name,
                    department,
                });
            }
            licences.push(LicenceView {
                type_code,
                name,
                department,
                certificate_number: licence.certificate_number.as_ref().map(|c| c.as_str()),
                state: state.code(),
                state_label: state.label_zh(),
                on_commitment: licence.on_commitment,
                valid_from: licence.valid_from.as_ref().map(|d| d.to_date().to_string()),
                valid_until: licence
                    .valid_until
                    .as_ref()
                    .map(|d| d.to_date().to_string()),
                state_reason: licence.state_reason.as_ref().map(|r| r.as_str()),
                state_changed_on: licence
                    .state_changed_on
                    .as_ref()
                    .map(|d| d.to_date().to_string()),
            });
        }
        PermitView {
            number,
            version: permit.version(),
            scanned_version,
            state: StateView::new(derived, catalog),
            industry: IndustryRef {
                code: format!("{category:02}"),
                name: industry_name,
            },
            face: FaceView {
                operator_name: permit.operator_name.as_str(),
                uscc: permit.uscc.as_str(),
                legal_representative: permit.legal_representative.as_str(),
                premises: permit.premises.as_str(),
                issuing_authority: permit.issuing_authority.as_str(),
                issued_on: permit.issued_on.to_date().to_string(),
            },
            licences,
            unpermitted_items: unpermitted,
            superseded_versions: permit
                .superseded_versions
                .iter()
                .map(|v| SupersededView {
                    version: v.version.to_native(),
                    issued_on: v.issued_on.to_date().to_string(),
                })
                .collect(),
            answer_valid_through: answer_valid_through(permit, today).map(|d| d.to_string()),
            snapshot_sequence,
            evaluated_on: today,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a view of strings and numbers always serializes")
    }
}

/// The last date on which an answer for `permit` (any version scanned) stays as it is at `today` when
/// only the calendar moves: the earliest end date, on or after today, of a licence not already
/// cancelled, revoked, withdrawn or lapsed (the day after it, that licence shows as lapsed and the
/// permit as void). `None` when no date ahead can change it.
pub fn answer_valid_through(permit: &ArchivedPermit, today: Date) -> Option<Date> {
    permit
        .licence_facts()
        .filter(|l| !l.state.voids_permit())
        .filter_map(|l| l.valid_until)
        .filter(|&end| end >= today)
        .min()
}

impl StateView {
    fn new(state: DerivedState, catalog: &Catalog) -> StateView {
        let mut view = StateView {
            code: state.code(),
            label: state.label_zh(),
            not_in_force: None,
            superseded_by_version: None,
            void: None,
            recovered_on: None,
            summary: String::new(),
        };
        view.summary = match state {
            DerivedState::Valid => "综合许可凭证有效，所列单项审批证件均在有效期内。".to_owned(),
            DerivedState::Partial { not_in_force } => {
                view.not_in_force = Some(not_in_force);
                format!("综合许可凭证有效，但有{not_in_force}项许可事项未许可或暂停。")
            }
            DerivedState::Superseded { by_version } => {
                view.superseded_by_version = Some(by_version);
                format!("此版本已换发为第{by_version}版，原纸质凭证作废，请以新版为准。")
            }
            DerivedState::Recovered { on } => {
                view.recovered_on = Some(on.to_string());
                format!("综合许可凭证已于{on}作废并收回。")
            }
            DerivedState::Void(VoidReason::Authority { on }) => {
                view.void = Some(VoidView {
                    by: "authority",
                    licence_type: None,
                    licence_name: None,
                    licence_state: None,
                    by_date: false,
                    on: Some(on.to_string()),
                });
                format!("综合许可凭证已于{on}由发证机关作废。")
            }
            DerivedState::Void(VoidReason::Licence {
                licence_type,
                state,
                by_date,
            }) => {
                let (code, name, _) = licence_ref(catalog, licence_type);
                let summary = if by_date {
                    format!("《{name}》已过有效期失效，综合许可凭证同时作废。")
                } else {
                    format!("《{name}》{}，综合许可凭证同时作废。", state.label_zh())
                };
                view.void = Some(VoidView {
                    by: "licence",
                    licence_type: Some(code.into_owned()),
                    licence_name: Some(name.to_owned()),
                    licence_state: Some(state.code()),
                    by_date,
                    on: None,
                });
                summary
            }
        };
        view
    }
}

/// The one-time notification guide (一次告知) for one industry: what it must and may hold.
#[derive(Serialize)]
pub struct IndustryGuide<'a> {
    pub code: String,
    pub name: &'a str,
    pub requirements: Vec<RequirementView<'a>>,
}

#[derive(Serialize)]
pub struct RequirementView<'a> {
    /// `must` (必须办理) or `if_needed` (按需办理).
    pub obligation: &'static str,
    /// `single`, `at_least_one` (至少一项) or `exactly_one` (either of two).
    pub choice: &'static str,
    pub licences: Vec<LicenceRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    pub free_trade_zone_filing_suffices: bool,
}

impl<'a> IndustryGuide<'a> {
    pub fn new(industry: &'a Industry, catalog: &'a Catalog) -> IndustryGuide<'a> {
        IndustryGuide {
            code: format!("{:02}", industry.category),
            name: &industry.name,
            requirements: industry
                .requirements
                .iter()
                .map(|r| RequirementView {
                    obligation: match r.obligation {
                        Obligation::Must => "must",
                        Obligation::IfNeeded => "if_needed",
                    },
                    choice: match r.choice {
                        Choice::Single => "single",
                        Choice::AtLeastOne => "at_least_one",
                        Choice::ExactlyOne => "exactly_one",
                    },
                    licences: r
                        .licences
                        .iter()
                        .map(|&id| {
                            let (type_code, name, department) = licence_ref(catalog, id);
                            LicenceRef {
                                type_code,
                                name,
                                department,
                            }
                        })
                        .collect(),
                    note: r.note.as_deref(),
                    free_trade_zone_filing_suffices: r.free_trade_zone_filing_suffices,
                })
                .collect(),
        }
    }
}

/// `{"error":{"code":…,"message":…}}`: a stable machine-readable code and a human sentence.
pub fn error_body(code: &str, message: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Inner<'a> {
        code: &'a str,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Outer<'a> {
        error: Inner<'a>,
    }
    serde_json::to_vec(&Outer {
        error: Inner { code, message },
    })
    .expect("strings serialize")
}
