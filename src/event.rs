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
    /// An approving department changed the state of one covered single licence.
    LicenceStateChanged {
        number: PermitNumber,
        #[serde(with = "licence_type_code")]
        licence_type: LicenceTypeId,
        state: LicenceState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The day the change takes effect.
        on: Date,
    },
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
    state: Option<LicenceState>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    on: Option<Date>,
}

impl TryFrom<RawEvent> for Event {
    type Error = String;

    fn try_from(raw: RawEvent) -> Result<Event, String> {
        let missing = |field: &str| format!("a {} event needs the field {field:?}", raw.kind);
        let change = match raw.kind.as_str() {
            "permit_issued" | "permit_reissued" => {
                let permit = raw.permit.ok_or_else(|| missing("permit"))?;
                if raw.number.is_some() || raw.licence_type.is_some() || raw.state.is_some() {
                    return Err(format!("a {} event carries only \"permit\"", raw.kind));
                }
                if raw.kind == "permit_issued" {
                    Change::PermitIssued { permit }
                } else {
                    Change::PermitReissued { permit }
                }
            }
            "licence_state_changed" => {
                if raw.permit.is_some() {
                    return Err("a licence_state_changed event carries no \"permit\"".into());
                }
                Change::LicenceStateChanged {
                    number: raw.number.ok_or_else(|| missing("number"))?,
                    licence_type: raw.licence_type.ok_or_else(|| missing("licence_type"))?,
                    state: raw.state.ok_or_else(|| missing("state"))?,
                    reason: raw.reason,
                    on: raw.on.ok_or_else(|| missing("on"))?,
                }
            }
            other => return Err(format!("unknown event kind {other:?}")),
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
        }
    }

    pub fn number(&self) -> PermitNumber {
        match self {
            Change::PermitIssued { permit } | Change::PermitReissued { permit } => permit.number,
            Change::LicenceStateChanged { number, .. } => *number,
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
        let line = r#"{"schema":1,"id":"e1","at":"2024-03-01T09:30:00+08:00","department":"区市场监管局","kind":"licence_state_changed","number":"110111ZH0300042F","licence_type":"L05","state":"revoked","reason":"依法撤销","on":"2024-03-01"}"#;
        let event: Event = serde_json::from_str(line).unwrap();
        assert_eq!(event.change.kind(), "licence_state_changed");
        let again: Event = serde_json::from_str(&serde_json::to_string(&event).unwrap()).unwrap();
        assert_eq!(again, event);
        for bad in [
            line.replace(r#","on":"2024-03-01""#, ""),
            line.replace("licence_state_changed", "permit_exploded"),
            line.replace(r#""schema":1"#, r#""schema":1,"extra":true"#),
            line.replace("licence_state_changed", "permit_issued"),
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
