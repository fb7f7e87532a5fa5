//! The comprehensive permit (综合许可凭证): what is printed on its face (附件3 §2.3), its version,
//! and the single licences it covers.
//!
//! A face change or a newly granted item issues a new version under the same number; earlier
//! versions are superseded (重点任务(六)). Their paper certificates are void, so the permit keeps a
//! short record of each one to answer a scan of an old QR code.

use crate::codes::{PermitNumber, Uscc};
use crate::domain::licence::{Licence, LicenceFacts};
use crate::domain::state::{derive_state, DerivedState, StatusFacts};
use crate::domain::Date;

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
pub struct Permit {
    pub number: PermitNumber,
    /// 1 for the first issue; each reissue adds one.
    pub version: u32,
    /// 经营者名称
    pub operator_name: String,
    /// 统一社会信用代码
    pub uscc: Uscc,
    /// 法定代表人（负责人）
    pub legal_representative: String,
    /// 经营场所
    pub premises: String,
    /// 发证机关
    pub issuing_authority: String,
    /// 制证日期 of this version.
    pub issued_on: Date,
    /// Every covered single licence, in the order printed under 许可项目; items not yet licensed
    /// (未许可事项) are licences in state `not_granted`.
    pub licences: Vec<Licence>,
    #[serde(default, skip_serializing_if = "PermitStatus::is_active")]
    pub status: PermitStatus,
    /// Versions this one superseded, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded_versions: Vec<SupersededVersion>,
    /// The change-log sequence number of the last accepted event that changed this permit.
    /// Assigned by the writer (a producer's value is ignored); orders `GET /v1/changes`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sequence: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the issuing authority itself did to the permit, apart from its licences.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(tag = "state", rename_all = "snake_case")]
#[rkyv(derive(Debug))]
pub enum PermitStatus {
    #[default]
    Active,
    /// 作废 declared by the authority (a covered licence's voiding state needs no such record).
    Voided { on: Date, reason: String },
    /// 收回: the authority took the paper certificate back; the permit is void for good.
    Recovered { on: Date },
}

impl PermitStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, PermitStatus::Active)
    }

    pub fn facts(&self) -> StatusFacts {
        match self {
            PermitStatus::Active => StatusFacts::Active,
            PermitStatus::Voided { on, .. } => StatusFacts::Voided { on: *on },
            PermitStatus::Recovered { on } => StatusFacts::Recovered { on: *on },
        }
    }
}

impl ArchivedPermitStatus {
    pub fn facts(&self) -> StatusFacts {
        match self {
            ArchivedPermitStatus::Active => StatusFacts::Active,
            ArchivedPermitStatus::Voided { on, .. } => StatusFacts::Voided { on: on.to_date() },
            ArchivedPermitStatus::Recovered { on } => StatusFacts::Recovered { on: on.to_date() },
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct SupersededVersion {
    pub version: u32,
    pub issued_on: Date,
}

impl Permit {
    pub fn licence_facts(&self) -> impl Iterator<Item = LicenceFacts> + '_ {
        self.licences.iter().map(Licence::facts)
    }

    /// The state of version `asked_version` (the current one when `None`) at `today`.
    pub fn derived_state(&self, asked_version: Option<u32>, today: Date) -> DerivedState {
        derive_state(
            self.version,
            asked_version,
            self.status.facts(),
            self.licence_facts(),
            today,
        )
    }
}

impl ArchivedPermit {
    pub fn version(&self) -> u32 {
        self.version.to_native()
    }

    pub fn licence_facts(&self) -> impl Iterator<Item = LicenceFacts> + '_ {
        self.licences.iter().map(|l| l.facts())
    }

    pub fn derived_state(&self, asked_version: Option<u32>, today: Date) -> DerivedState {
        derive_state(
            self.version(),
            asked_version,
            self.status.facts(),
            self.licence_facts(),
            today,
        )
    }
}
