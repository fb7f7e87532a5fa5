//! A single licence (单项审批证件) covered by a comprehensive permit, and its state.
//!
//! The single licence stays the legal document (重点任务(五)); the permit only certifies which
//! ones the business holds. An item listed on the permit as not yet licensed (未许可事项) is a
//! covered licence in state [`LicenceState::NotGranted`], with no certificate number.

use crate::catalog::LicenceTypeId;
use crate::domain::Date;

/// The state of one single licence as the approving department last reported it.
///
/// Expiry by date is not a stored state: a licence whose `valid_until` has passed is lapsed at
/// query time whatever this says (see [`Licence::effective_state`]).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[rkyv(derive(Debug, PartialEq, Eq, Clone, Copy))]
#[repr(u8)]
pub enum LicenceState {
    /// 有效: granted and in force.
    Valid,
    /// 未许可: listed on the permit as not yet licensed.
    NotGranted,
    /// 告知承诺: granted on the applicant's written commitment, check pending.
    PendingCommitment,
    /// 暂停: suspended by the approving department; may resume.
    Suspended,
    /// 注销
    Cancelled,
    /// 撤销 (also the outcome of a failed commitment check)
    Revoked,
    /// 吊销
    Withdrawn,
    /// 失效: lapsed, reported by the department or past its end date.
    Lapsed,
}

impl LicenceState {
    pub const ALL: [LicenceState; 8] = [
        LicenceState::Valid,
        LicenceState::NotGranted,
        LicenceState::PendingCommitment,
        LicenceState::Suspended,
        LicenceState::Cancelled,
        LicenceState::Revoked,
        LicenceState::Withdrawn,
        LicenceState::Lapsed,
    ];

    /// The stable machine name used in JSON.
    pub fn code(self) -> &'static str {
        match self {
            LicenceState::Valid => "valid",
            LicenceState::NotGranted => "not_granted",
            LicenceState::PendingCommitment => "pending_commitment",
            LicenceState::Suspended => "suspended",
            LicenceState::Cancelled => "cancelled",
            LicenceState::Revoked => "revoked",
            LicenceState::Withdrawn => "withdrawn",
            LicenceState::Lapsed => "lapsed",
        }
    }

    /// The Chinese label shown to people.
    pub fn label_zh(self) -> &'static str {
        match self {
            LicenceState::Valid => "有效",
            LicenceState::NotGranted => "未许可",
            LicenceState::PendingCommitment => "告知承诺待核查",
            LicenceState::Suspended => "暂停",
            LicenceState::Cancelled => "已注销",
            LicenceState::Revoked => "已撤销",
            LicenceState::Withdrawn => "已吊销",
            LicenceState::Lapsed => "已失效",
        }
    }

    /// Whether this state voids the whole permit (注销、撤销、吊销、失效 → 综合许可凭证同时作废).
    pub fn voids_permit(self) -> bool {
        matches!(
            self,
            LicenceState::Cancelled
                | LicenceState::Revoked
                | LicenceState::Withdrawn
                | LicenceState::Lapsed
        )
    }

    /// Whether the licensed activity may be carried on now.
    pub fn in_force(self) -> bool {
        matches!(self, LicenceState::Valid | LicenceState::PendingCommitment)
    }
}

impl From<&ArchivedLicenceState> for LicenceState {
    fn from(archived: &ArchivedLicenceState) -> LicenceState {
        match archived {
            ArchivedLicenceState::Valid => LicenceState::Valid,
            ArchivedLicenceState::NotGranted => LicenceState::NotGranted,
            ArchivedLicenceState::PendingCommitment => LicenceState::PendingCommitment,
            ArchivedLicenceState::Suspended => LicenceState::Suspended,
            ArchivedLicenceState::Cancelled => LicenceState::Cancelled,
            ArchivedLicenceState::Revoked => LicenceState::Revoked,
            ArchivedLicenceState::Withdrawn => LicenceState::Withdrawn,
            ArchivedLicenceState::Lapsed => LicenceState::Lapsed,
        }
    }
}

/// One covered single licence.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct Licence {
    /// The catalogue's licence type (`L07` → 7).
    #[serde(with = "licence_type_code")]
    pub licence_type: LicenceTypeId,
    /// The certificate number on the single licence; `None` while not granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_number: Option<String>,
    pub state: LicenceState,
    /// Granted through the commitment procedure (告知承诺), whether or not checked yet.
    #[serde(default)]
    pub on_commitment: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Date>,
    /// Last day of validity, inclusive; `None` for licences without an end date (长期).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Date>,
    /// Why the department last changed the state (撤销原因 …), when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_changed_on: Option<Date>,
}

/// The facts about a licence that the state rules read, for owned and archived licences alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LicenceFacts {
    pub licence_type: LicenceTypeId,
    pub state: LicenceState,
    pub valid_until: Option<Date>,
}

impl LicenceFacts {
    /// The state at `today`: a licence past its last day of validity is lapsed (失效) even when
    /// no event said so. States that already void the permit are kept, as they say more.
    pub fn effective_state(self, today: Date) -> LicenceState {
        match self.valid_until {
            Some(end) if today > end && !self.state.voids_permit() => LicenceState::Lapsed,
            _ => self.state,
        }
    }

    /// Whether the lapse comes from the date alone.
    pub fn expired_by_date(self, today: Date) -> bool {
        matches!(self.valid_until, Some(end) if today > end) && !self.state.voids_permit()
    }
}

impl Licence {
    pub fn facts(&self) -> LicenceFacts {
        LicenceFacts {
            licence_type: self.licence_type,
            state: self.state,
            valid_until: self.valid_until,
        }
    }

    pub fn effective_state(&self, today: Date) -> LicenceState {
        self.facts().effective_state(today)
    }
}

impl ArchivedLicence {
    pub fn facts(&self) -> LicenceFacts {
        LicenceFacts {
            licence_type: LicenceTypeId(self.licence_type.0.to_native()),
            state: LicenceState::from(&self.state),
            valid_until: self.valid_until.as_ref().map(|d| d.to_date()),
        }
    }
}

/// Serialises a [`LicenceTypeId`] as its stable code `L07`.
pub mod licence_type_code {
    use crate::catalog::LicenceTypeId;

    pub fn serialize<S: serde::Serializer>(id: &LicenceTypeId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("L{:02}", id.0))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<LicenceTypeId, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("licence type {text:?} is not of the form L01–L99"))
        })
    }

    /// `L07` → 7. Whether the type exists is the catalogue's question, not this one's.
    pub fn parse(text: &str) -> Option<LicenceTypeId> {
        let digits = text.strip_prefix('L')?;
        if digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id: u16 = digits.parse().ok()?;
        (id > 0).then_some(LicenceTypeId(id))
    }
}
