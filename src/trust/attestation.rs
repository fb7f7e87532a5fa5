//! Pre-signed attestations: the state of a permit and each licence it covers, signed by the
//! writer when the state changed, served as-is by resolvers (as large OCSP responders serve
//! pre-signed responses).
//!
//! # Format
//! A JWS in compact serialization (RFC 7515 §7.1), `alg` `EdDSA` with Ed25519 (RFC 8037):
//! `BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)`, unpadded base64url,
//! the signature over the ASCII bytes `BASE64URL(header) "." BASE64URL(payload)`.
//!
//! The protected header is exactly `{"alg":"EdDSA","kid":"<kid>","typ":"permitd-attestation+jws"}`.
//! `typ` types the token explicitly (RFC 8725 §3.11), so no other JWS signed by the same key
//! passes for an attestation. Verifiers refuse any other `alg` (`none`, `HS256`…) before looking
//! at the signature, and any other header member.
//!
//! The payload is the JSON of [`Attestation`]:
//!
//! ```json
//! {"number":"110111ZH0300042F","version":2,"state":"valid",
//!  "licences":[{"licence_type":"L05","state":"valid","valid_until":"2030-01-04"},
//!              {"licence_type":"L10","state":"valid","valid_until":null}],
//!  "sequence":9001,"produced_at":"2026-03-01T10:00:00+08:00","valid_until":"2026-03-02T10:00:00+08:00"}
//! ```
//!
//! `state` is the permit's derived state at `produced_at` ([`DerivedState::code`]); each licence's
//! state is its effective state then (past its end date → `lapsed`). `valid_until` is like OCSP's
//! nextUpdate: the earlier of `produced_at` + 24 h and the end (midnight, Beijing) of the first
//! licence end date still ahead, when the state can change with no event. Times are RFC 3339 in
//! Beijing time (`+08:00`), whole seconds.
//!
//! [`DerivedState::code`]: crate::domain::DerivedState::code

use std::borrow::Cow;

use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::catalog::LicenceTypeId;
use crate::codes::PermitNumber;
use crate::domain::date::BEIJING_UTC_OFFSET_SECONDS;
use crate::domain::licence::licence_type_code;
use crate::domain::{Date, LicenceState, Permit};
use crate::trust::keys::{Kid, PublicKeySet, SigningKey};

/// The header's `typ`.
pub const JWS_TYPE: &str = "permitd-attestation+jws";
/// The header's `alg`.
pub const JWS_ALG: &str = "EdDSA";
/// Longest an attestation is valid for.
pub const ATTESTATION_LIFETIME: Duration = Duration::hours(24);
/// How far in the future `produced_at` may be before a verifier refuses it (clock skew).
pub const CLOCK_SKEW: Duration = Duration::minutes(5);
/// Longest token [`verify_jws`] reads, in bytes.
pub const JWS_BYTES_MAX: usize = 64 * 1024;

/// The signed state of one permit at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub number: PermitNumber,
    pub version: u32,
    /// The derived state code: `valid`, `partial`, `void`, `superseded`, `recovered`.
    pub state: String,
    pub licences: Vec<AttestedLicence>,
    /// The change-log sequence number the attestation was produced at.
    pub sequence: u64,
    #[serde(with = "rfc3339")]
    pub produced_at: OffsetDateTime,
    #[serde(with = "rfc3339")]
    pub valid_until: OffsetDateTime,
}

/// One covered licence in an attestation, in printed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestedLicence {
    #[serde(with = "licence_type_code")]
    pub licence_type: LicenceTypeId,
    pub state: LicenceState,
    /// Last day of validity, inclusive; `null` for licences without an end date (长期).
    #[serde(default)]
    pub valid_until: Option<Date>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
}

/// Why a token is not a valid attestation now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the token is longer than {JWS_BYTES_MAX} bytes")]
    TooLarge,
    #[error("not a JWS compact serialization (three base64url parts separated by dots): {0}")]
    Malformed(&'static str),
    #[error("the JWS header is not valid: {0}")]
    Header(String),
    #[error("the JWS algorithm is {0:?}; attestations are signed with \"EdDSA\" only")]
    Algorithm(String),
    #[error("the JWS type is {got:?}, not {JWS_TYPE:?}")]
    Type { got: Option<String> },
    #[error("the JWS header has no \"kid\"")]
    MissingKid,
    #[error("forged or unknown: key {0:?} is not in the key set")]
    UnknownKid(String),
    #[error("forged: the signature does not verify with key {0}")]
    BadSignature(Kid),
    #[error("the attestation payload is not valid: {0}")]
    Payload(String),
    #[error("key {kid} is valid {window}, but the attestation was produced {produced_at}")]
    KeyNotValid {
        kid: Kid,
        window: String,
        produced_at: String,
    },
    #[error("the attestation was produced at {produced_at}, in the future")]
    NotYetValid { produced_at: String },
    #[error("the attestation expired at {valid_until}; fetch a fresh one")]
    Expired { valid_until: String },
}

fn beijing() -> UtcOffset {
    UtcOffset::from_whole_seconds(BEIJING_UTC_OFFSET_SECONDS as i32).unwrap_or(UtcOffset::UTC)
}

/// Midnight in Beijing at the end of `date`.
fn end_of_day(date: Date) -> Option<OffsetDateTime> {
    let unix = i64::from(date.days_since_epoch() + 1) * 86_400 - BEIJING_UTC_OFFSET_SECONDS;
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .map(|t| t.to_offset(beijing()))
}

fn rfc3339_text(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

impl Attestation {
    /// The attestation of `permit`'s current version at `now`, at change-log `sequence`.
    pub fn for_permit(permit: &Permit, sequence: u64, now: OffsetDateTime) -> Attestation {
        let now = now.to_offset(beijing());
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let today = Date::in_beijing(now.unix_timestamp());
        let mut valid_until = now + ATTESTATION_LIFETIME;
        // Only an end date that changes what this attestation says bounds it: a licence that
        // already voids the permit stays so past its end date.
        for end in permit
            .licences
            .iter()
            .filter(|l| !l.state.voids_permit())
            .filter_map(|l| l.valid_until)
        {
            if let Some(end) = end_of_day(end) {
                if end > now && end < valid_until {
                    valid_until = end;
                }
            }
        }
        Attestation {
            number: permit.number,
            version: permit.version,
            state: permit.derived_state(None, today).code().to_owned(),
            licences: permit
                .licences
                .iter()
                .map(|l| AttestedLicence {
                    licence_type: l.licence_type,
                    state: l.effective_state(today),
                    valid_until: l.valid_until,
                })
                .collect(),
            sequence,
            produced_at: now,
            valid_until,
        }
    }

    /// The attestation as a JWS compact serialization signed by `key`.
    pub fn sign(&self, key: &SigningKey) -> String {
        let kid = key.kid().to_string();
        let header = Header {
            alg: JWS_ALG.into(),
            kid: Some(kid.as_str().into()),
            typ: Some(JWS_TYPE.into()),
        };
        // Both are plain data: serialisation cannot fail.
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let mut token = BASE64URL_NOPAD.encode(&header);
        token.push('.');
        token.push_str(&BASE64URL_NOPAD.encode(&payload));
        let signature = key.sign_raw(token.as_bytes());
        token.push('.');
        token.push_str(&BASE64URL_NOPAD.encode(&signature));
        token
    }
}

/// Verifies an attestation token at `now`: the header is `EdDSA` with our `typ` and a known
/// `kid`, the signature verifies with that key, the key was valid on the production date, the
/// attestation was not produced in the future (beyond [`CLOCK_SKEW`]) and has not expired.
///
/// # Errors
/// The first failed check, in that order; see [`JwsError`].
pub fn verify_jws(
    token: &str,
    keys: &PublicKeySet,
    now: OffsetDateTime,
) -> Result<Attestation, JwsError> {
    if token.len() > JWS_BYTES_MAX {
        return Err(JwsError::TooLarge);
    }
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed("it does not have three parts"));
    };
    let header = BASE64URL_NOPAD
        .decode(header_b64.as_bytes())
        .map_err(|_| JwsError::Malformed("the header is not base64url"))?;
    let header: Header<'_> =
        serde_json::from_slice(&header).map_err(|e| JwsError::Header(e.to_string()))?;
    if header.alg != JWS_ALG {
        return Err(JwsError::Algorithm(header.alg.into_owned()));
    }
    if header.typ.as_deref() != Some(JWS_TYPE) {
        return Err(JwsError::Type {
            got: header.typ.map(Cow::into_owned),
        });
    }
    let kid_text = header.kid.ok_or(JwsError::MissingKid)?;
    let key = Kid::parse(&kid_text)
        .and_then(|kid| keys.get(kid))
        .ok_or_else(|| JwsError::UnknownKid(kid_text.clone().into_owned()))?;
    let signature = BASE64URL_NOPAD
        .decode(signature_b64.as_bytes())
        .map_err(|_| JwsError::Malformed("the signature is not base64url"))?;
    let signature: [u8; 64] = signature
        .as_slice()
        .try_into()
        .map_err(|_| JwsError::BadSignature(key.kid()))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verify_raw(signing_input.as_bytes(), &signature) {
        return Err(JwsError::BadSignature(key.kid()));
    }
    let payload = BASE64URL_NOPAD
        .decode(payload_b64.as_bytes())
        .map_err(|_| JwsError::Malformed("the payload is not base64url"))?;
    let attestation: Attestation =
        serde_json::from_slice(&payload).map_err(|e| JwsError::Payload(e.to_string()))?;
    let produced_on = Date::in_beijing(attestation.produced_at.unix_timestamp());
    if !key.valid_on(produced_on) {
        return Err(JwsError::KeyNotValid {
            kid: key.kid(),
            window: key.window(),
            produced_at: rfc3339_text(attestation.produced_at),
        });
    }
    if attestation.produced_at > now + CLOCK_SKEW {
        return Err(JwsError::NotYetValid {
            produced_at: rfc3339_text(attestation.produced_at),
        });
    }
    if now >= attestation.valid_until {
        return Err(JwsError::Expired {
            valid_until: rfc3339_text(attestation.valid_until),
        });
    }
    Ok(attestation)
}

/// RFC 3339 text for `OffsetDateTime` fields.
mod rfc3339 {
    use std::borrow::Cow;

    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn serialize<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text: Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}
