//! The change-feed events, one JSON object per line (NDJSON), schema version [`SCHEMA_VERSION`].
//!
//! `permitd gen` writes the same events the approval platform sends, so a synthetic data set and
//! a real feed go through one path: [`crate::registry::Registry::apply`].
//!
//! ```json
//! {"schema":1,"id":"…","at":"2024-03-01T09:30:00+08:00","department":"区政务服务局",
//!  "kind":"permit_issued","permit":{…}}
//! ```

use crate::catalog::LicenceTypeId;
use crate::codes::PermitNumber;
use crate::domain::licence::licence_type_code;
use crate::domain::{Date, LicenceState, Permit};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawEvent")]
pub struct Event {
    /// Schema version of this line; readers refuse versions they do not know.
    pub schema: u32,
    /// Producer-chosen unique id: replaying an event with a known id changes nothing.
    pub id: String,
    /// When it happened, RFC 3339 (the producer's clock).
    pub at: Timestamp,
    /// The acting department (区政务服务局 issues permits; approving departments change licences).
    pub department: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A new permit, version 1, possibly with items not yet licensed.
    PermitIssued { permit: Permit },
    /// A new version after a face change or a newly granted item; the old one is superseded.
    PermitReissued { permit: Permit },
    /// An approving department changed the state of one covered single licence. `granted`
    /// (an item listed as 未许可 is now licensed) issues a new version of the permit by itself.
    LicenceStateChanged {
        number: PermitNumber,
        #[serde(with = "licence_type_code")]
        licence_type: LicenceTypeId,
        action: LicenceAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The day the change takes effect.
        on: Date,
        /// The new licence's details; `granted` needs them, every other action refuses them.
        #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
        grant: Option<Grant>,
    },
    /// Details of a single licence that the permit's face does not print (its certificate
    /// number, its validity after a renewal, 延续): shown live, no new version (一码联动).
    LicenceDetailsChanged {
        number: PermitNumber,
        #[serde(with = "licence_type_code")]
        licence_type: LicenceTypeId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate_number: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_from: Option<Date>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_until: Option<Date>,
        on: Date,
    },
    /// The issuing authority declared the permit void (作废).
    PermitVoided {
        number: PermitNumber,
        reason: String,
        on: Date,
    },
    /// The issuing authority took the paper certificate back (收回): void for good.
    PermitRecovered { number: PermitNumber, on: Date },
}

/// What a department did to a single licence. Each names the states it applies to; see
/// [`LicenceAction::apply_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceAction {
    /// 许可: an item listed as not licensed (未许可) is granted.
    Granted,
    /// 暂停: suspended; may resume.
    Suspended,
    /// 恢复: a suspension ends.
    Resumed,
    /// 注销
    Cancelled,
    /// 撤销
    Revoked,
    /// 吊销
    Withdrawn,
    /// 失效: lapsed (also sent by the writer itself when the end date passes).
    Lapsed,
    /// 告知承诺核查通过
    CommitmentVerified,
    /// 告知承诺核查不实: the licence is revoked (撤销).
    CommitmentFailed,
}

impl LicenceAction {
    pub const ALL: [LicenceAction; 9] = [
        LicenceAction::Granted,
        LicenceAction::Suspended,
        LicenceAction::Resumed,
        LicenceAction::Cancelled,
        LicenceAction::Revoked,
        LicenceAction::Withdrawn,
        LicenceAction::Lapsed,
        LicenceAction::CommitmentVerified,
        LicenceAction::CommitmentFailed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            LicenceAction::Granted => "granted",
            LicenceAction::Suspended => "suspended",
            LicenceAction::Resumed => "resumed",
            LicenceAction::Cancelled => "cancelled",
            LicenceAction::Revoked => "revoked",
            LicenceAction::Withdrawn => "withdrawn",
            LicenceAction::Lapsed => "lapsed",
            LicenceAction::CommitmentVerified => "commitment_verified",
            LicenceAction::CommitmentFailed => "commitment_failed",
        }
    }

    /// The state a licence in state `from` moves to, or `None` when the action does not apply
    /// to that state. (`granted` from 未许可 goes to 告知承诺 when the grant says so.) A licence
    /// whose state voids the permit accepts nothing more: it is granted again by a reissue.
    pub fn apply_to(self, from: LicenceState, on_commitment: bool) -> Option<LicenceState> {
        use LicenceState as S;
        let in_force_or_suspended = matches!(from, S::Valid | S::PendingCommitment | S::Suspended);
        match self {
            LicenceAction::Granted => (from == S::NotGranted).then_some(if on_commitment {
                S::PendingCommitment
            } else {
                S::Valid
            }),
            // A licence awaiting its commitment check is checked (verified or failed) first.
            LicenceAction::Suspended => (from == S::Valid).then_some(S::Suspended),
            LicenceAction::Resumed => (from == S::Suspended).then_some(S::Valid),
            LicenceAction::Cancelled => in_force_or_suspended.then_some(S::Cancelled),
            LicenceAction::Revoked => in_force_or_suspended.then_some(S::Revoked),
            LicenceAction::Withdrawn => in_force_or_suspended.then_some(S::Withdrawn),
            LicenceAction::Lapsed => in_force_or_suspended.then_some(S::Lapsed),
            LicenceAction::CommitmentVerified => (from == S::PendingCommitment).then_some(S::Valid),
            LicenceAction::CommitmentFailed => (from == S::PendingCommitment).then_some(S::Revoked),
        }
    }
}

/// The details of a newly granted single licence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    pub certificate_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Date>,
    /// Granted on the applicant's written commitment (告知承诺), to be checked later.
    #[serde(default)]
    pub on_commitment: bool,
}

/// The wire form read by `Deserialize`: one flat struct, parsed in a single pass. (Serde's
/// `flatten` with an internally tagged enum buffers every line into an intermediate tree first,
/// which made feed folding three times slower.) Converted into [`Event`] by `kind`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    schema: u32,
    id: String,
    at: Timestamp,
    department: String,
    kind: String,
    #[serde(default)]
    permit: Option<Permit>,
    #[serde(default)]
    number: Option<PermitNumber>,
    #[serde(default, with = "optional_licence_type_code")]
    licence_type: Option<LicenceTypeId>,
    #[serde(default)]
    action: Option<LicenceAction>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    on: Option<Date>,
    #[serde(default)]
    certificate_number: Option<String>,
    #[serde(default)]
    valid_from: Option<Date>,
    #[serde(default)]
    valid_until: Option<Date>,
    #[serde(default)]
    on_commitment: Option<bool>,
}

impl RawEvent {
    /// The fields present, by name, to refuse those a kind does not carry.
    fn present(&self) -> [(&'static str, bool); 10] {
        [
            ("permit", self.permit.is_some()),
            ("number", self.number.is_some()),
            ("licence_type", self.licence_type.is_some()),
            ("action", self.action.is_some()),
            ("reason", self.reason.is_some()),
            ("on", self.on.is_some()),
            ("certificate_number", self.certificate_number.is_some()),
            ("valid_from", self.valid_from.is_some()),
            ("valid_until", self.valid_until.is_some()),
            ("on_commitment", self.on_commitment.is_some()),
        ]
    }
}

impl TryFrom<RawEvent> for Event {
    type Error = String;

    fn try_from(raw: RawEvent) -> Result<Event, String> {
        let kind = raw.kind.clone();
        let missing = |field: &str| format!("a {kind} event needs the field {field:?}");
        let allowed: &[&str] = match kind.as_str() {
            "permit_issued" | "permit_reissued" => &["permit"],
            "licence_state_changed" => &[
                "number",
                "licence_type",
                "action",
                "reason",
                "on",
                "certificate_number",
                "valid_from",
                "valid_until",
                "on_commitment",
            ],
            "licence_details_changed" => &[
                "number",
                "licence_type",
                "on",
                "certificate_number",
                "valid_from",
                "valid_until",
            ],
            "permit_voided" => &["number", "reason", "on"],
            "permit_recovered" => &["number", "on"],
            other => return Err(format!("unknown event kind {other:?}")),
        };
        if let Some((field, _)) = raw
            .present()
            .into_iter()
            .find(|(field, present)| *present && !allowed.contains(field))
        {
            return Err(format!("a {kind} event carries no field {field:?}"));
        }
        let change = match kind.as_str() {
            "permit_issued" => Change::PermitIssued {
                permit: raw.permit.ok_or_else(|| missing("permit"))?,
            },
            "permit_reissued" => Change::PermitReissued {
                permit: raw.permit.ok_or_else(|| missing("permit"))?,
            },
            "licence_state_changed" => {
                let action = raw.action.ok_or_else(|| missing("action"))?;
                let grant = match (action, raw.certificate_number) {
                    (LicenceAction::Granted, Some(certificate_number)) => Some(Grant {
                        certificate_number,
                        valid_from: raw.valid_from,
                        valid_until: raw.valid_until,
                        on_commitment: raw.on_commitment.unwrap_or(false),
                    }),
                    (LicenceAction::Granted, None) => return Err(missing("certificate_number")),
                    (_, None)
                        if raw.valid_from.is_none()
                            && raw.valid_until.is_none()
                            && raw.on_commitment.is_none() =>
                    {
                        None
                    }
                    (other, _) => {
                        return Err(format!(
                            "a {} action carries no licence details (only granted does)",
                            other.code()
                        ))
                    }
                };
                Change::LicenceStateChanged {
                    number: raw.number.ok_or_else(|| missing("number"))?,
                    licence_type: raw.licence_type.ok_or_else(|| missing("licence_type"))?,
                    action,
                    reason: raw.reason,
                    on: raw.on.ok_or_else(|| missing("on"))?,
                    grant,
                }
            }
            "licence_details_changed" => {
                if raw.certificate_number.is_none()
                    && raw.valid_from.is_none()
                    && raw.valid_until.is_none()
                {
                    return Err("a licence_details_changed event changes at least one of \
                         certificate_number, valid_from, valid_until"
                        .into());
                }
                Change::LicenceDetailsChanged {
                    number: raw.number.ok_or_else(|| missing("number"))?,
                    licence_type: raw.licence_type.ok_or_else(|| missing("licence_type"))?,
                    certificate_number: raw.certificate_number,
                    valid_from: raw.valid_from,
                    valid_until: raw.valid_until,
                    on: raw.on.ok_or_else(|| missing("on"))?,
                }
            }
            "permit_voided" => Change::PermitVoided {
                number: raw.number.ok_or_else(|| missing("number"))?,
                reason: raw.reason.ok_or_else(|| missing("reason"))?,
                on: raw.on.ok_or_else(|| missing("on"))?,
            },
            "permit_recovered" => Change::PermitRecovered {
                number: raw.number.ok_or_else(|| missing("number"))?,
                on: raw.on.ok_or_else(|| missing("on"))?,
            },
            _ => unreachable!("kinds checked above"),
        };
        Ok(Event {
            schema: raw.schema,
            id: raw.id,
            at: raw.at,
            department: raw.department,
            change,
        })
    }
}

mod optional_licence_type_code {
    use crate::catalog::LicenceTypeId;
    use crate::domain::licence::licence_type_code;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<LicenceTypeId>, D::Error> {
        #[derive(serde::Deserialize)]
        struct Wrapped(#[serde(with = "licence_type_code")] LicenceTypeId);
        let wrapped: Option<Wrapped> = serde::Deserialize::deserialize(d)?;
        Ok(wrapped.map(|w| w.0))
    }
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match self {
            Change::PermitIssued { .. } => "permit_issued",
            Change::PermitReissued { .. } => "permit_reissued",
            Change::LicenceStateChanged { .. } => "licence_state_changed",
            Change::LicenceDetailsChanged { .. } => "licence_details_changed",
            Change::PermitVoided { .. } => "permit_voided",
            Change::PermitRecovered { .. } => "permit_recovered",
        }
    }

    pub fn number(&self) -> PermitNumber {
        match self {
            Change::PermitIssued { permit } | Change::PermitReissued { permit } => permit.number,
            Change::LicenceStateChanged { number, .. }
            | Change::LicenceDetailsChanged { number, .. }
            | Change::PermitVoided { number, .. }
            | Change::PermitRecovered { number, .. } => *number,
        }
    }
}

/// An instant, held as Unix milliseconds, written as RFC 3339 in Beijing time (+08:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub unix_ms: i64,
}

impl Timestamp {
    pub fn now() -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp { unix_ms: ms }
    }

    pub fn date_in_beijing(self) -> Date {
        Date::in_beijing(self.unix_ms.div_euclid(1000))
    }

    /// Parses RFC 3339 (`2024-03-01T09:30:00+08:00`, `…Z`, fractional seconds allowed).
    pub fn parse(text: &str) -> Result<Timestamp, time::error::Parse> {
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)?;
        Ok(Timestamp {
            unix_ms: (t.unix_timestamp_nanos() / 1_000_000) as i64,
        })
    }

    pub fn to_rfc3339(self) -> String {
        let beijing = time::UtcOffset::from_hms(8, 0, 0).expect("+08:00 is a valid offset");
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(self.unix_ms as i128 * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .to_offset(beijing);
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
        );
        t.format(&format).unwrap_or_default()
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        Timestamp::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("timestamp {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_json_and_malformed_ones_are_refused() {
        // Serialize → parse gives the same event; a missing or foreign field is an error.
        let line = r#"{"schema":1,"id":"e1","at":"2024-03-01T09:30:00+08:00","department":"区市场监管局","kind":"licence_state_changed","number":"110111ZH0300042F","licence_type":"L05","action":"revoked","reason":"依法撤销","on":"2024-03-01"}"#;
        let event: Event = serde_json::from_str(line).unwrap();
        assert_eq!(event.change.kind(), "licence_state_changed");
        let again: Event = serde_json::from_str(&serde_json::to_string(&event).unwrap()).unwrap();
        assert_eq!(again, event);
        for bad in [
            line.replace(r#","on":"2024-03-01""#, ""),
            line.replace("licence_state_changed", "permit_exploded"),
            line.replace(r#""schema":1"#, r#""schema":1,"extra":true"#),
            line.replace("licence_state_changed", "permit_issued"),
            line.replace(r#""action":"revoked""#, r#""action":"granted""#),
            line.replace(r#""reason""#, r#""valid_until":"2030-01-01","reason""#),
            line.replace(r#""action":"revoked""#, r#""state":"revoked""#),
        ] {
            assert!(serde_json::from_str::<Event>(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_round_trip_in_beijing_time() {
        // RFC 3339 in, the same instant out, written at +08:00.
        let t = Timestamp::parse("2024-03-01T01:30:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-01T09:30:00+08:00");
        assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(t.date_in_beijing().to_string(), "2024-03-01");
        assert!(Timestamp::parse("2024-03-01 09:30").is_err());
    }
}
