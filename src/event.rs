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
    fn timestamps_round_trip_in_beijing_time() {
        // RFC 3339 in, the same instant out, written at +08:00.
        let t = Timestamp::parse("2024-03-01T01:30:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-01T09:30:00+08:00");
        assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(t.date_in_beijing().to_string(), "2024-03-01");
        assert!(Timestamp::parse("2024-03-01 09:30").is_err());
    }
}
