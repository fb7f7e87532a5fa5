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
    /// What the writer signed for the current version and state; `None` until a process holding
    /// the signing key (the writer, `permitd snapshot build`) has sealed this version (see
    /// [`Permit::attested`] for the state). A producer's value is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<Seal>,
}

/// Characters of a signed city-code QR payload's text: 116 bytes (`docs/qr.md` §1) in
/// unpadded upper-case base32 (`trust::payload::PAYLOAD_CHARS`).
pub const QR_PAYLOAD_CHARS: usize = 186;

/// A signed city-code QR payload as printed on one permit version: its base32 text (ASCII).
/// Kept as text, not bytes, so a scan is checked by a case-insensitive comparison with no
/// decoding.
pub type QrText = [u8; QR_PAYLOAD_CHARS];

/// The signatures the writer made for a permit (see `trust::seal`): resolvers serve them and
/// compare scans with them; they never sign.
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
pub struct Seal {
    /// The signed QR payload of the current version; `None` only when the version cannot be
    /// put in the payload format (never for a permit the registry accepted).
    #[serde(default, with = "qr_text", skip_serializing_if = "Option::is_none")]
    pub qr: Option<QrText>,
    /// The attestation of the state at `sequence`: a JWS compact serialization. It attests the
    /// permit only while the permit's own `sequence` is still that one ([`Permit::attested`]):
    /// a later change keeps the seal (its QR payload still names the version) until the writer
    /// has signed the new state.
    pub attestation: String,
    /// The sequence number of the state the attestation is of.
    #[serde(default)]
    pub sequence: u64,
    /// When the attestation was signed, Unix seconds.
    pub attested_at: i64,
    /// When it stops being valid, Unix seconds.
    pub attestation_expires: i64,
}

impl Seal {
    /// A seal holding only its version's signed code, attesting nothing yet (an empty
    /// attestation, sequence 0).
    pub fn code_only(qr: QrText) -> Seal {
        Seal {
            qr: Some(qr),
            attestation: String::new(),
            sequence: 0,
            attested_at: 0,
            attestation_expires: 0,
        }
    }

    /// Keeps what names the version (the signed QR payload) and drops the attestation, of a
    /// state the permit is no longer in: a change record then does not carry ~500 bytes no
    /// reader may serve (`sequence` still names that earlier state).
    pub fn drop_attestation(&mut self) {
        self.attestation = String::new();
        self.attested_at = 0;
        self.attestation_expires = 0;
    }
}

/// The QR payload text as a JSON string (the change log), checked to be 186 base32 characters.
mod qr_text {
    use super::{QrText, QR_PAYLOAD_CHARS};

    pub fn serialize<S: serde::Serializer>(qr: &Option<QrText>, s: S) -> Result<S::Ok, S::Error> {
        match qr {
            // Only base32 characters are ever stored (see `deserialize` and `trust::seal`).
            Some(text) => s.serialize_str(std::str::from_utf8(text).unwrap_or_default()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<QrText>, D::Error> {
        let text: Option<String> = serde::Deserialize::deserialize(d)?;
        let Some(text) = text else {
            return Ok(None);
        };
        let base32 = |b: &u8| b.is_ascii_uppercase() || (b'2'..=b'7').contains(b);
        if !text.as_bytes().iter().all(base32) {
            return Err(serde::de::Error::custom(
                "a QR payload is upper-case base32 (A-Z, 2-7)",
            ));
        }
        let bytes: QrText = text.into_bytes().try_into().map_err(|b: Vec<u8>| {
            serde::de::Error::custom(format!(
                "a QR payload has {QR_PAYLOAD_CHARS} characters, not {}",
                b.len()
            ))
        })?;
        Ok(Some(bytes))
    }
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
    /// The signed QR payload printed on that version, so a scan of the old paper is told
    /// "superseded" rather than "forged".
    #[serde(default, with = "qr_text", skip_serializing_if = "Option::is_none")]
    pub qr: Option<QrText>,
}

impl Permit {
    pub fn licence_facts(&self) -> impl Iterator<Item = LicenceFacts> + '_ {
        self.licences.iter().map(Licence::facts)
    }

    /// The seal when its attestation is of this state (the writer signs each state after
    /// acknowledging it, so for a moment after a change it is of an earlier one).
    pub fn attested(&self) -> Option<&Seal> {
        let current = |s: &&Seal| s.sequence == self.sequence && !s.attestation.is_empty();
        self.seal.as_ref().filter(current)
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

    /// [`Permit::attested`].
    pub fn attested(&self) -> Option<&ArchivedSeal> {
        let current = |s: &&ArchivedSeal| s.sequence == self.sequence && !s.attestation.is_empty();
        self.seal.as_ref().filter(current)
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
