//! Offline verification reports: what `permitd verify qr` and `permitd verify attestation` tell
//! an inspector who holds a scanned code or an attestation file and the public key set, with no
//! network.
//!
//! This module owns reading what an inspector has (scanner text or a URL, a JWS file, a JWK Set
//! file) under limits, and explaining the result: a [`QrReport`] or an [`AttestationReport`],
//! each with a [`Verdict`] (the process exit code) and a `Display` text. It never decides
//! genuineness itself: [`SignedQr::verify`] and [`verify_jws`] do, and this module only calls
//! them. It never signs and never touches the network.
//!
//! A genuine QR code proves what was issued, not that it is still in force: the report says so.
//! An attestation's state is only current until its `valid_until`; past it the report still
//! shows the signed contents, marked as not fresh, with the verdict [`Verdict::NotGenuine`].

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use data_encoding::BASE64URL_NOPAD;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::catalog::{Catalog, LicenceTypeId};
use crate::domain::date::BEIJING_UTC_OFFSET_SECONDS;
use crate::domain::Date;
use crate::limits::LICENCES_PER_PERMIT_MAX;
use crate::trust::attestation::{verify_jws, Attestation, JwsError, CLOCK_SKEW, JWS_BYTES_MAX};
use crate::trust::keys::{JwksError, Kid, PublicKey, PublicKeySet, JWKS_BYTES_MAX};
use crate::trust::payload::{
    PayloadError, QrPayload, SignedQr, Verified, VerifyError, PAYLOAD_BYTES, PAYLOAD_CHARS,
};

/// Longest scanner text or URL [`verify_qr`] reads, in bytes. The densest QR code (version 40,
/// alphanumeric mode, level L) holds 4296 characters; a permit's URL is about 216.
pub const QR_INPUT_BYTES_MAX: usize = 8 * 1024;
const QR_CODE_CHARS_MAX: usize = 4296;
const _: () = assert!(QR_INPUT_BYTES_MAX > QR_CODE_CHARS_MAX);

/// Longest attestation file [`load_attestation`] reads: the longest token [`verify_jws`] reads.
pub const ATTESTATION_FILE_BYTES_MAX: usize = JWS_BYTES_MAX;

/// The path segment before the payload in a URL, compared without regard to case.
const URL_PAYLOAD_SEGMENT: &[u8] = b"/q/";

/// Most characters of an untrusted string (a key id, a state code) a report repeats.
const ECHO_CHARS_MAX: usize = 64;

/// The outcome of a check, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Exit 0: signed by a trusted key that was valid then, and (attestations) still fresh.
    Genuine,
    /// Exit 1: readable, but forged, altered, signed by an unknown key or by a key not valid
    /// then, dated in the future, or (attestations) expired.
    NotGenuine,
    /// Exit 2: not a payload or attestation this verifier can read at all.
    Unreadable,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Genuine => 0,
            Verdict::NotGenuine => 1,
            Verdict::Unreadable => 2,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// Why a key set or attestation file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("reading the {what} file {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the {what} file {} is not a regular file", path.display())]
    NotAFile { what: &'static str, path: PathBuf },
    #[error(
        "the {what} file {} is larger than {bytes_max} bytes: not a {what}",
        path.display()
    )]
    TooLarge {
        what: &'static str,
        path: PathBuf,
        bytes_max: usize,
    },
    #[error("the {what} file {} is not UTF-8 text", path.display())]
    NotText { what: &'static str, path: PathBuf },
    #[error(
        "the key set file {} is not a valid public key set: {problem} (expected the JWK Set the \
         resolver serves at /.well-known/permitd-keys.json, or the writer's keys/public.jwks)",
        path.display()
    )]
    KeySet { path: PathBuf, problem: JwksError },
}

/// Reads a JWK Set file: the resolver serves it at `/.well-known/permitd-keys.json`, the writer
/// writes it as `DIR/keys/public.jwks`. At most [`JWKS_BYTES_MAX`] bytes are read.
///
/// # Errors
/// [`OfflineError`], naming the path: it cannot be read, is not a regular file, is too large, is
/// not UTF-8, or is not a valid set ([`PublicKeySet::from_jwks`]).
pub fn load_key_set(path: &Path) -> Result<PublicKeySet, OfflineError> {
    let text = read_bounded(path, JWKS_BYTES_MAX, "key set")?;
    PublicKeySet::from_jwks(&text).map_err(|problem| OfflineError::KeySet {
        path: path.to_owned(),
        problem,
    })
}

/// Reads an attestation file (the JWS text, surrounding white space allowed) for
/// [`verify_attestation`], at most [`ATTESTATION_FILE_BYTES_MAX`] bytes.
///
/// # Errors
/// [`OfflineError`], naming the path.
pub fn load_attestation(path: &Path) -> Result<String, OfflineError> {
    read_bounded(path, ATTESTATION_FILE_BYTES_MAX, "attestation")
}

fn read_bounded(path: &Path, bytes_max: usize, what: &'static str) -> Result<String, OfflineError> {
    let io = |error| OfflineError::Io {
        what,
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(io)?;
    // The metadata of the opened file, so a directory is named as such rather than as EISDIR.
    if !file.metadata().map_err(io)?.is_file() {
        return Err(OfflineError::NotAFile {
            what,
            path: path.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    file.take(bytes_max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > bytes_max {
        return Err(OfflineError::TooLarge {
            what,
            path: path.to_owned(),
            bytes_max,
        });
    }
    let mut text = String::from_utf8(bytes).map_err(|_| OfflineError::NotText {
        what,
        path: path.to_owned(),
    })?;
    // Editors on Windows prefix a byte order mark, which JSON parsers refuse.
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// QR codes

/// Why the scanned text holds no QR payload at all (before [`SignedQr::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrInputError {
    #[error("the input is empty")]
    Empty,
    #[error("the input is {bytes} bytes, more than any QR code holds (at most {QR_INPUT_BYTES_MAX} are read)")]
    TooLong { bytes: usize },
    #[error(
        "the URL has no /Q/ followed by the payload (a permit's URL is HTTPS://HOST/Q/<payload>)"
    )]
    NoPayloadInUrl,
    #[error("the URL's path goes on after the /Q/ segment; a permit's URL ends with the payload")]
    PathAfterPayload,
    #[error("not base32: character {position} of the payload is {found:?}, not A-Z or 2-7")]
    NotBase32 { position: usize, found: char },
    #[error(
        "wrong length: the payload is {chars} base32 characters ({bytes} bytes) but a QR payload \
         is {PAYLOAD_CHARS} ({PAYLOAD_BYTES} bytes)"
    )]
    Length { chars: usize, bytes: usize },
    #[error(
        "not canonical base32: character {position} of the payload has its unused low bits set \
         (the writer always leaves them 0)"
    )]
    NonCanonical { position: usize },
}

/// What [`verify_qr`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrOutcome {
    /// Signed by a trusted key valid on the issue date, issued no later than today.
    Genuine(Verified),
    /// A well-formed payload that [`SignedQr::verify`] refused. `key_set` lists the trusted
    /// key ids, to name them when the payload's is unknown.
    Refused {
        qr: SignedQr,
        error: VerifyError,
        key: Option<PublicKey>,
        key_set: Vec<Kid>,
    },
    /// 116 bytes that [`SignedQr::parse`] refused: a field no genuine code has, or a format this
    /// verifier does not read.
    Malformed(PayloadError),
    /// No payload at all.
    Unreadable(QrInputError),
}

/// The result of `permitd verify qr`: a [`Verdict`] and, through `Display`, the inspector's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrReport {
    outcome: QrOutcome,
}

/// Verifies scanned or pasted text offline: the bare base32 payload (any case) or a URL
/// `https://host[/prefix]/q/<payload>` (any case; a query or fragment is ignored), surrounding
/// white space ignored. The text is decoded by [`SignedQr::decode_text`] and checked by
/// [`SignedQr::verify`] against `keys` on `today` (Beijing). Never panics; reads at most
/// [`QR_INPUT_BYTES_MAX`] bytes.
pub fn verify_qr(input: &str, keys: &PublicKeySet, today: Date) -> QrReport {
    let outcome = match read_qr(input) {
        Err(NotRead::Input(error)) => QrOutcome::Unreadable(error),
        Err(NotRead::Fields(error)) => QrOutcome::Malformed(error),
        Ok(qr) => match qr.verify(keys, today) {
            Ok(verified) => QrOutcome::Genuine(verified),
            Err(error) => QrOutcome::Refused {
                key: keys.get(qr.payload().kid()).cloned(),
                key_set: keys.iter().map(PublicKey::kid).collect(),
                qr,
                error,
            },
        },
    };
    QrReport { outcome }
}

/// Why scanned text gave no [`SignedQr`].
enum NotRead {
    Input(QrInputError),
    Fields(PayloadError),
}

fn read_qr(input: &str) -> Result<SignedQr, NotRead> {
    let text = payload_text(input).map_err(NotRead::Input)?;
    // Checked here rather than left to decode_text, to name the character (not the byte) and
    // to tell a foreign character from a non-canonical last one.
    if let Some((index, found)) = text.chars().enumerate().find(|&(_, c)| !is_base32(c)) {
        return Err(NotRead::Input(QrInputError::NotBase32 {
            position: index + 1,
            found,
        }));
    }
    SignedQr::decode_text(text).map_err(|error| match error {
        PayloadError::TextLength { got, .. } => NotRead::Input(QrInputError::Length {
            chars: got,
            bytes: got * 5 / 8,
        }),
        // Every character is in the alphabet, so only the trailing bits can be wrong.
        PayloadError::TextCharacter { position } => {
            NotRead::Input(QrInputError::NonCanonical { position })
        }
        PayloadError::Length { got, .. } => NotRead::Input(QrInputError::Length {
            chars: text.len(),
            bytes: got,
        }),
        other => NotRead::Fields(other),
    })
}

/// The payload text inside what was scanned: after the last `/Q/` of a URL, or the whole text.
fn payload_text(input: &str) -> Result<&str, QrInputError> {
    if input.len() > QR_INPUT_BYTES_MAX {
        return Err(QrInputError::TooLong { bytes: input.len() });
    }
    // Scanner apps copy with line ends, and some with a byte order mark or ideographic spaces.
    let text = input.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if text.is_empty() {
        return Err(QrInputError::Empty);
    }
    // A query or fragment belongs to whoever shared the link, not to the payload.
    let text = text.find(['?', '#']).map_or(text, |end| &text[..end]);
    let segment = text
        .as_bytes()
        .windows(URL_PAYLOAD_SEGMENT.len())
        .rposition(|w| w.eq_ignore_ascii_case(URL_PAYLOAD_SEGMENT));
    match segment {
        // The segment is ASCII, so the index after it is a character boundary.
        Some(at) => {
            let rest = &text[at + URL_PAYLOAD_SEGMENT.len()..];
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            if rest.is_empty() {
                Err(QrInputError::NoPayloadInUrl)
            } else if rest.contains('/') {
                Err(QrInputError::PathAfterPayload)
            } else {
                Ok(rest)
            }
        }
        None if text.contains('/') => Err(QrInputError::NoPayloadInUrl),
        None => Ok(text),
    }
}

fn is_base32(c: char) -> bool {
    c.is_ascii_alphabetic() || ('2'..='7').contains(&c)
}

impl QrReport {
    pub fn outcome(&self) -> &QrOutcome {
        &self.outcome
    }

    pub fn verdict(&self) -> Verdict {
        match &self.outcome {
            QrOutcome::Genuine(_) => Verdict::Genuine,
            QrOutcome::Refused { .. } => Verdict::NotGenuine,
            // A newer format may be genuine: this verifier cannot tell, so it does not accuse.
            QrOutcome::Malformed(PayloadError::FormatVersion { .. }) => Verdict::Unreadable,
            QrOutcome::Malformed(_) => Verdict::NotGenuine,
            QrOutcome::Unreadable(_) => Verdict::Unreadable,
        }
    }

    pub fn is_genuine(&self) -> bool {
        self.verdict() == Verdict::Genuine
    }

    /// 0 genuine, 1 not genuine, 2 not a payload ([`Verdict::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        self.verdict().exit_code()
    }
}

impl fmt::Display for QrReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            QrOutcome::Genuine(verified) => {
                writeln!(f, "GENUINE")?;
                match catalog() {
                    Some(catalog) => writeln!(f, "{}", verified.explain(catalog))?,
                    None => {
                        let key = verified.key();
                        write!(
                            f,
                            "signature valid (key {}, valid {}): ",
                            key.kid(),
                            key.window()
                        )?;
                        write_payload(f, verified.payload())?;
                        writeln!(f)?;
                    }
                }
                let p = verified.payload();
                write!(
                    f,
                    "Compare the number, credit code, issue date and items with the printed \
                     permit. The code proves what was issued on {}, not that version {} is still \
                     in force: whether it is void or superseded, or a licence suspended or lapsed \
                     since, needs the online answer (open the URL) or a fresh attestation.",
                    p.issued_on(),
                    p.version()
                )
            }
            QrOutcome::Refused {
                qr,
                error: error @ VerifyError::IssuedInFuture { .. },
                key,
                ..
            } => {
                writeln!(f, "NOT ACCEPTED: issue date in the future")?;
                if let Some(key) = key {
                    write!(
                        f,
                        "signature valid (key {}, valid {}), but ",
                        key.kid(),
                        key.window()
                    )?;
                }
                writeln!(f, "{error}: check this device's date")?;
                f.write_str("contents (signed, not accepted): ")?;
                write_payload(f, qr.payload())
            }
            QrOutcome::Refused {
                qr, error, key_set, ..
            } => {
                writeln!(f, "NOT GENUINE")?;
                write!(f, "{error}")?;
                if let VerifyError::UnknownKid(_) = error {
                    f.write_str(" (the key set holds ")?;
                    write_list(f, key_set)?;
                    f.write_str(")")?;
                }
                f.write_str("\nthe code claims (not verified, do not rely on it): ")?;
                write_payload(f, qr.payload())
            }
            QrOutcome::Malformed(error @ PayloadError::FormatVersion { .. }) => {
                write!(f, "CANNOT VERIFY\n{error}: it needs a newer permitd")
            }
            QrOutcome::Malformed(error) => write!(
                f,
                "NOT GENUINE\n{error}: no genuine code has this, so it was altered or damaged"
            ),
            QrOutcome::Unreadable(error) => write!(
                f,
                "NOT A QR PAYLOAD\n{error}; expected the {PAYLOAD_CHARS}-character base32 text \
                 or a URL HTTPS://HOST/Q/<payload>"
            ),
        }
    }
}

/// `permit … version …, credit code …, issued …, licensed items: L05 name, L07 name`.
fn write_payload(f: &mut fmt::Formatter<'_>, p: &QrPayload) -> fmt::Result {
    write!(
        f,
        "permit {} version {}, credit code {}, issued {}, licensed items: ",
        p.number(),
        p.version(),
        p.uscc(),
        p.issued_on()
    )?;
    p.write_items(f, catalog())
}

// ---------------------------------------------------------------------------------------------
// Attestations

/// Why a signed attestation is not current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    /// `now` is at or after `valid_until`.
    Expired,
    /// `produced_at` is more than [`CLOCK_SKEW`] after `now`.
    NotYetValid,
}

/// What [`verify_attestation`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationOutcome {
    /// Signature valid, key valid on the production date, and current at `now`.
    Genuine(Attestation),
    /// Signature valid and key valid on the production date, but not current at `now`: the
    /// contents were true when produced, not necessarily now.
    Stale {
        attestation: Attestation,
        staleness: Staleness,
    },
    /// A JWS that [`verify_jws`] refused; `claims` is its payload when that decodes, unverified.
    Refused {
        error: JwsError,
        claims: Option<Attestation>,
    },
    /// Not a JWS compact serialization with a JSON header at all.
    Unreadable(JwsError),
}

/// The result of `permitd verify attestation`: a [`Verdict`] and, through `Display`, the
/// inspector's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationReport {
    /// The header's `kid`, as written (untrusted until the signature verifies).
    kid: Option<String>,
    /// The trusted key the header names, if any.
    key: Option<PublicKey>,
    key_set: Vec<Kid>,
    now: OffsetDateTime,
    outcome: AttestationOutcome,
}

/// Verifies an attestation (JWS compact text, surrounding white space ignored) offline at `now`
/// with [`verify_jws`]. An expired or not yet valid attestation whose signature is valid keeps
/// its contents ([`AttestationOutcome::Stale`]). Never panics; reads at most [`JWS_BYTES_MAX`]
/// bytes.
pub fn verify_attestation(
    jws: &str,
    keys: &PublicKeySet,
    now: OffsetDateTime,
) -> AttestationReport {
    let key_set = keys.iter().map(PublicKey::kid).collect();
    if jws.len() > JWS_BYTES_MAX {
        return AttestationReport {
            kid: None,
            key: None,
            key_set,
            now,
            outcome: AttestationOutcome::Unreadable(JwsError::TooLarge),
        };
    }
    let token = jws.trim();
    let (kid, claims) = peek(token);
    let key = kid
        .as_deref()
        .and_then(Kid::parse)
        .and_then(|kid| keys.get(kid))
        .cloned();
    let outcome = match verify_jws(token, keys, now) {
        Ok(attestation) => AttestationOutcome::Genuine(attestation),
        // verify_jws checks time last: the signature and the key's dates have passed, so the
        // payload peeked at is the signed one.
        Err(error @ (JwsError::Expired { .. } | JwsError::NotYetValid { .. })) => match claims {
            Some(attestation) => AttestationOutcome::Stale {
                attestation,
                staleness: match error {
                    JwsError::Expired { .. } => Staleness::Expired,
                    _ => Staleness::NotYetValid,
                },
            },
            None => AttestationOutcome::Refused {
                error,
                claims: None,
            },
        },
        Err(error @ (JwsError::TooLarge | JwsError::Malformed(_) | JwsError::Header(_))) => {
            AttestationOutcome::Unreadable(error)
        }
        Err(error) => AttestationOutcome::Refused { error, claims },
    };
    AttestationReport {
        kid,
        key,
        key_set,
        now,
        outcome,
    }
}

/// The header's `kid` and the decoded payload, for display only: nothing here is trusted.
fn peek(token: &str) -> (Option<String>, Option<Attestation>) {
    let mut parts = token.split('.');
    let decode = |part: Option<&str>| part.and_then(|p| BASE64URL_NOPAD.decode(p.as_bytes()).ok());
    let kid = decode(parts.next())
        .and_then(|header| serde_json::from_slice::<serde_json::Value>(&header).ok())
        .and_then(|header| header.get("kid")?.as_str().map(str::to_owned));
    let claims = decode(parts.next())
        .and_then(|payload| serde_json::from_slice::<Attestation>(&payload).ok());
    (kid, claims)
}

impl AttestationReport {
    pub fn outcome(&self) -> &AttestationOutcome {
        &self.outcome
    }

    pub fn verdict(&self) -> Verdict {
        match &self.outcome {
            AttestationOutcome::Genuine(_) => Verdict::Genuine,
            AttestationOutcome::Stale { .. } | AttestationOutcome::Refused { .. } => {
                Verdict::NotGenuine
            }
            AttestationOutcome::Unreadable(_) => Verdict::Unreadable,
        }
    }

    /// Genuine and current at the time checked.
    pub fn is_genuine(&self) -> bool {
        self.verdict() == Verdict::Genuine
    }

    /// 0 genuine and current, 1 not genuine or not current, 2 not an attestation.
    pub fn exit_code(&self) -> u8 {
        self.verdict().exit_code()
    }

    /// The key id as the header names it, escaped when it is not a key id.
    fn kid_text(&self) -> Cow<'_, str> {
        match &self.kid {
            Some(text) if Kid::parse(text).is_some() => Cow::Borrowed(text),
            Some(text) => Cow::Owned(format!("{:?}", truncated(text))),
            None => Cow::Borrowed("(none)"),
        }
    }

    fn write_signature_valid(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => writeln!(
                f,
                "signature valid (key {}, valid {})",
                key.kid(),
                key.window()
            ),
            None => writeln!(f, "signature valid (key {})", self.kid_text()),
        }
    }
}

impl fmt::Display for AttestationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = time_text(beijing_time(self.now));
        match &self.outcome {
            AttestationOutcome::Genuine(a) => {
                writeln!(
                    f,
                    "GENUINE and current (checked at {now}, current until {})",
                    time_text(a.valid_until)
                )?;
                self.write_signature_valid(f)?;
                write_attestation(f, a)
            }
            AttestationOutcome::Stale {
                attestation: a,
                staleness: Staleness::Expired,
            } => {
                writeln!(
                    f,
                    "NOT CURRENT: EXPIRED at {} (checked at {now}); fetch a fresh attestation",
                    time_text(a.valid_until)
                )?;
                self.write_signature_valid(f)?;
                writeln!(
                    f,
                    "contents as signed, unverified-fresh (true at {}, not necessarily now):",
                    time_text(a.produced_at)
                )?;
                write_attestation(f, a)
            }
            AttestationOutcome::Stale {
                attestation: a,
                staleness: Staleness::NotYetValid,
            } => {
                writeln!(
                    f,
                    "NOT CURRENT: not yet valid: produced at {}, more than {} minutes after this \
                     device's time ({now}); check its clock",
                    time_text(a.produced_at),
                    CLOCK_SKEW.whole_minutes()
                )?;
                self.write_signature_valid(f)?;
                writeln!(f, "contents as signed, unverified-fresh:")?;
                write_attestation(f, a)
            }
            AttestationOutcome::Refused { error, claims } => {
                writeln!(f, "NOT GENUINE")?;
                write!(f, "{error}")?;
                match error {
                    JwsError::UnknownKid(_) => {
                        f.write_str(" (the key set holds ")?;
                        write_list(f, &self.key_set)?;
                        writeln!(f, "); signature not checked")?;
                    }
                    JwsError::BadSignature(_) => writeln!(f, "; signature INVALID")?,
                    JwsError::KeyNotValid { .. } | JwsError::Payload(_) => {
                        writeln!(f, "; the signature itself is valid")?
                    }
                    _ => writeln!(f, "; signature not checked")?,
                }
                writeln!(f, "header key id {}", self.kid_text())?;
                match claims {
                    Some(a) => {
                        writeln!(
                            f,
                            "what the token claims (not verified, do not rely on it):"
                        )?;
                        write_attestation(f, a)
                    }
                    None => f.write_str("its payload is not an attestation"),
                }
            }
            AttestationOutcome::Unreadable(error) => write!(
                f,
                "NOT AN ATTESTATION\n{error}; expected the JWS text header.payload.signature"
            ),
        }
    }
}

/// The permit, each licence on its own line, then sequence and times.
fn write_attestation(f: &mut fmt::Formatter<'_>, a: &Attestation) -> fmt::Result {
    writeln!(
        f,
        "permit {} version {}: state {}",
        a.number,
        a.version,
        code_text(&a.state)
    )?;
    for licence in a.licences.iter().take(LICENCES_PER_PERMIT_MAX) {
        f.write_str("  ")?;
        write_licence_type(f, licence.licence_type)?;
        write!(
            f,
            ": {} {}, ",
            licence.state.code(),
            licence.state.label_zh()
        )?;
        match licence.valid_until {
            Some(end) => writeln!(f, "until {end}")?,
            None => writeln!(f, "no end date (长期)")?,
        }
    }
    if a.licences.is_empty() {
        writeln!(f, "  (no licences)")?;
    } else if a.licences.len() > LICENCES_PER_PERMIT_MAX {
        writeln!(
            f,
            "  … and {} more (a permit has at most {LICENCES_PER_PERMIT_MAX})",
            a.licences.len() - LICENCES_PER_PERMIT_MAX
        )?;
    }
    write!(
        f,
        "sequence {}, produced at {}, valid until {}",
        a.sequence,
        time_text(a.produced_at),
        time_text(a.valid_until)
    )
}

// ---------------------------------------------------------------------------------------------
// Shared

/// The embedded catalogue, for licence names; `None` only if it failed to load (it is tested to).
fn catalog() -> Option<&'static Catalog> {
    static CATALOG: OnceLock<Option<Catalog>> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::embedded().ok()).as_ref()
}

/// `L05 食品经营许可证`, or `L05` for a type the catalogue lacks.
fn write_licence_type(f: &mut fmt::Formatter<'_>, id: LicenceTypeId) -> fmt::Result {
    match catalog().and_then(|c| c.licence_type(id)) {
        Some(t) => write!(f, "{id} {}", t.name),
        None => write!(f, "{id}"),
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, kids: &[Kid]) -> fmt::Result {
    if kids.is_empty() {
        return f.write_str("no keys");
    }
    for (index, kid) in kids.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{kid}")?;
    }
    Ok(())
}

/// A state code as is when it looks like one, else quoted and escaped: an unverified token can
/// hold any text, terminal escapes included.
fn code_text(code: &str) -> Cow<'_, str> {
    let plain = !code.is_empty()
        && code.len() <= ECHO_CHARS_MAX
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if plain {
        Cow::Borrowed(code)
    } else {
        Cow::Owned(format!("{:?}", truncated(code)))
    }
}

fn truncated(text: &str) -> &str {
    match text.char_indices().nth(ECHO_CHARS_MAX) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

fn beijing_time(time: OffsetDateTime) -> OffsetDateTime {
    UtcOffset::from_whole_seconds(BEIJING_UTC_OFFSET_SECONDS as i32)
        .ok()
        .and_then(|offset| time.checked_to_offset(offset))
        .unwrap_or(time)
}

/// RFC 3339 as written (times in an attestation are in Beijing time already).
fn time_text(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .unwrap_or_else(|_| format!("unix time {}", time.unix_timestamp()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use data_encoding::HEXLOWER;

    use super::*;
    use crate::codes::PermitNumber;
    use crate::domain::{LicenceState, Permit};
    use crate::trust::keys::{SigningKey, KID_BYTES};
    use crate::trust::payload::UNSIGNED_BYTES;
    // The restaurant of `docs/qr.md`: L05 and L07 licensed, L08 未许可, issued 2026-01-05.
    use crate::trust::tests::{at, d, example_key, example_permit, other_key, set_of, VECTOR_PATH};

    /// The example key valid 2026-01-01 to 2027-12-31, and another key valid from 2020.
    fn two_keys() -> PublicKeySet {
        set_of(&[
            (&example_key(), "2026-01-01", Some("2027-12-31")),
            (&other_key(), "2020-01-01", None),
        ])
    }

    fn signed(permit: &Permit, key: &SigningKey) -> SignedQr {
        QrPayload::for_permit(permit, key.kid())
            .unwrap()
            .sign(key)
            .unwrap()
    }

    fn example_qr() -> SignedQr {
        signed(&example_permit(), &example_key())
    }

    fn text_of(bytes: &[u8]) -> String {
        data_encoding::BASE32_NOPAD.encode(bytes)
    }

    fn today() -> Date {
        d("2026-06-01")
    }

    fn example_attestation() -> Attestation {
        Attestation::for_permit(&example_permit(), 9001, at("2026-03-01T10:00:00+08:00"))
    }

    fn attestation_now() -> OffsetDateTime {
        at("2026-03-01T12:00:00+08:00")
    }

    #[track_caller]
    fn assert_refused(report: &QrReport, expected: &VerifyError) {
        match report.outcome() {
            QrOutcome::Refused { error, .. } => assert_eq!(error, expected, "{report}"),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
        assert!(!report.is_genuine());
        assert_eq!(report.exit_code(), 1);
        assert!(report.to_string().starts_with("NOT "), "{report}");
    }

    #[track_caller]
    fn assert_unreadable(report: &QrReport, expected: &QrInputError) {
        assert_eq!(
            report.outcome(),
            &QrOutcome::Unreadable(expected.clone()),
            "{report}"
        );
        assert_eq!(report.exit_code(), 2);
        assert!(
            report.to_string().starts_with("NOT A QR PAYLOAD\n"),
            "{report}"
        );
    }

    // -----------------------------------------------------------------------------------------
    // QR codes

    #[test]
    fn genuine_payload_verifies_in_every_form_a_scanner_gives() {
        // Proves bare text and URLs in either case, with a query, fragment, path prefix, trailing
        // slash or surrounding white space all reach the same genuine verdict.
        let qr = example_qr();
        let text = qr.to_text();
        let url = qr.to_url("https://permit.bjfsh.gov.cn");
        let lower = text.to_ascii_lowercase();
        for input in [
            text.clone(),
            lower.clone(),
            url.clone(),
            url.to_ascii_lowercase(),
            format!("https://permit.bjfsh.gov.cn/q/{lower}?from=wechat&x=/q/y"),
            format!("HTTPS://PERMIT.BJFSH.GOV.CN/Q/{text}#top"),
            format!("https://example.gov.cn/base/path/Q/{text}/"),
            format!("permit.bjfsh.gov.cn/q/{text}"),
            format!("  {url}\r\n"),
            format!("\u{feff}\u{3000}{text}\t\n"),
        ] {
            let report = verify_qr(&input, &two_keys(), today());
            assert!(report.is_genuine(), "{input:?}: {report}");
            assert_eq!(report.exit_code(), 0);
            match report.outcome() {
                QrOutcome::Genuine(verified) => assert!(verified.face_matches(&example_permit())),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn genuine_report_reads_as_the_explanation_plus_the_live_state_reminder() {
        // Proves the genuine text is Verified::explain's line, framed by the verdict and the
        // reminder that the live state needs the online answer.
        let qr = example_qr();
        let report = verify_qr(&qr.to_text(), &two_keys(), today());
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], "GENUINE");
        assert_eq!(
            lines[1],
            format!(
                "signature valid (key bDEEEmj0cWA, valid from 2026-01-01 to 2027-12-31): permit \
                 110111ZH0300042F version 2, credit code 91110111MA01C8DE7U, items L05 \
                 食品经营许可证, L07 烟草专卖零售许可证, issued 2026-01-05, face hash {}",
                HEXLOWER.encode(qr.payload().face_hash())
            )
        );
        assert!(lines[2].contains("online answer"), "{text}");
        assert!(lines[2].contains("version 2 is still in force"), "{text}");
    }

    #[test]
    fn worked_example_of_the_doc_verifies_from_its_published_parts() {
        // Proves the URL and JWK Set of tests/vectors/qr-v1.json verify through this module.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let vector: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(VECTOR_PATH)).unwrap())
                .unwrap();
        let keys = PublicKeySet::from_jwks(&vector["jwks"].to_string()).unwrap();
        let url = vector["url"].as_str().unwrap();
        assert!(verify_qr(url, &keys, d("2026-01-05")).is_genuine());
        let jws = vector["attestation_jws"].as_str().unwrap();
        let report = verify_attestation(jws, &keys, attestation_now());
        assert!(report.is_genuine(), "{report}");
    }

    #[test]
    fn single_bit_flips_in_fields_and_signature_are_not_genuine() {
        // Proves a flipped bit in the number, version, credit code, date, items, face hash, key id
        // or signature gives exit 1 with the failure named, never a genuine verdict.
        let bytes = example_qr().to_bytes();
        let keys = two_keys();
        for (at, bit) in [
            (1, 0),   // permit number
            (3, 5),   // permit number
            (7, 0),   // version
            (10, 2),  // credit code
            (20, 6),  // credit code, top byte
            (21, 0),  // issue date
            (22, 7),  // issue date, far future
            (23, 0),  // licensed items: L01 added
            (27, 7),  // licensed items: beyond the catalogue
            (30, 3),  // face hash
            (43, 1),  // face hash
            (44, 0),  // key id
            (52, 0),  // signature R
            (83, 4),  // signature R
            (84, 0),  // signature S
            (115, 7), // signature S, top bit
        ] {
            let mut flipped = bytes;
            flipped[at] ^= 1 << bit;
            let report = verify_qr(&text_of(&flipped), &keys, today());
            assert!(!report.is_genuine(), "byte {at} bit {bit}: {report}");
            assert_eq!(report.exit_code(), 1, "byte {at} bit {bit}: {report}");
            assert!(report.to_string().starts_with("NOT GENUINE\n"), "{report}");
        }
        // The failure is named: a signature byte, then a credit code byte that breaks the check
        // character.
        let mut flipped = bytes;
        flipped[100] ^= 1;
        let report = verify_qr(&text_of(&flipped), &keys, today());
        assert_refused(
            &report,
            &VerifyError::BadSignature {
                kid: example_key().kid(),
            },
        );
        assert!(report.to_string().contains("signature does not verify"));
        assert!(report.to_string().contains(
            "the code claims (not verified, do not rely on it): permit 110111ZH0300042F"
        ));
        let mut flipped = bytes;
        flipped[9] ^= 1;
        let report = verify_qr(&text_of(&flipped), &keys, today());
        assert!(
            matches!(
                report.outcome(),
                QrOutcome::Malformed(PayloadError::CreditCode(_))
            ),
            "{report}"
        );
        assert!(report.to_string().contains("check character"), "{report}");
        // Byte 0 is the format version: a newer format is not called forged.
        let mut flipped = bytes;
        flipped[0] ^= 1 << 1;
        let report = verify_qr(&text_of(&flipped), &keys, today());
        assert_eq!(
            report.outcome(),
            &QrOutcome::Malformed(PayloadError::FormatVersion { got: 3 })
        );
        assert_eq!(report.exit_code(), 2);
        assert!(report.to_string().contains("format 3"), "{report}");
    }

    #[test]
    fn swapped_and_unknown_key_ids_are_not_genuine() {
        // Proves a payload naming another trusted key fails its signature, and one naming an
        // unknown key is refused by id, with the trusted ids listed.
        let keys = two_keys();
        let with_kid = |kid: [u8; KID_BYTES]| {
            let mut b = example_qr().to_bytes();
            b[UNSIGNED_BYTES - KID_BYTES..UNSIGNED_BYTES].copy_from_slice(&kid);
            text_of(&b)
        };
        let report = verify_qr(&with_kid(other_key().kid().0), &keys, today());
        assert_refused(
            &report,
            &VerifyError::BadSignature {
                kid: other_key().kid(),
            },
        );
        let report = verify_qr(&with_kid([0xAB; KID_BYTES]), &keys, today());
        assert_refused(&report, &VerifyError::UnknownKid(Kid([0xAB; KID_BYTES])));
        let text = report.to_string();
        assert!(text.contains(&Kid([0xAB; KID_BYTES]).to_string()), "{text}");
        assert!(
            text.contains(&format!(
                "(the key set holds {}, {})",
                example_key().kid(),
                other_key().kid()
            )),
            "{text}"
        );
        // Signed by a key the set does not hold at all.
        let stranger = SigningKey::from_seed(&[9; 32]);
        let report = verify_qr(
            &signed(&example_permit(), &stranger).to_text(),
            &keys,
            today(),
        );
        assert_refused(&report, &VerifyError::UnknownKid(stranger.kid()));
    }

    #[test]
    fn another_permits_signature_spliced_on_is_not_genuine() {
        // Proves a genuine signature of permit B (or of an older version) on permit A's fields
        // does not verify.
        let key = example_key();
        let mut other = example_permit();
        other.number = PermitNumber::new(110_111, 3, 43).unwrap();
        let mut old = example_permit();
        old.version = 1;
        for donor in [other, old] {
            let mut spliced = example_qr().to_bytes();
            spliced[UNSIGNED_BYTES..].copy_from_slice(signed(&donor, &key).signature());
            let report = verify_qr(&text_of(&spliced), &two_keys(), today());
            assert_refused(&report, &VerifyError::BadSignature { kid: key.kid() });
        }
    }

    #[test]
    fn wrong_lengths_are_not_payloads() {
        // Proves texts too short or too long, and 116-byte-plus inputs, are exit 2 with the
        // lengths named.
        let text = example_qr().to_text();
        let long = text_of(&[0u8; PAYLOAD_BYTES + 4]);
        for (input, chars, bytes) in [
            (&text[..185], 185, 115),
            (&text[..184], 184, 115),
            (&text[..10], 10, 6),
            (long.as_str(), long.len(), PAYLOAD_BYTES + 4),
        ] {
            let report = verify_qr(input, &two_keys(), today());
            assert_unreadable(&report, &QrInputError::Length { chars, bytes });
            assert!(
                report.to_string().contains(&format!(
                    "{bytes} bytes) but a QR payload is 186 (116 bytes)"
                )),
                "{report}"
            );
        }
        assert_unreadable(
            &verify_qr(&format!("{text}AA"), &two_keys(), today()),
            &QrInputError::Length {
                chars: 188,
                bytes: 117,
            },
        );
        assert_unreadable(
            &verify_qr(" \n ", &two_keys(), today()),
            &QrInputError::Empty,
        );
        let huge = "A".repeat(QR_INPUT_BYTES_MAX + 1);
        assert_unreadable(
            &verify_qr(&huge, &two_keys(), today()),
            &QrInputError::TooLong { bytes: huge.len() },
        );
    }

    #[test]
    fn non_base32_and_foreign_urls_are_not_payloads() {
        // Proves a character outside A-Z2-7 is named by its position, a non-canonical last
        // character is told apart, and URLs without /Q/<payload> are refused.
        let text = example_qr().to_text();
        let replaced = |at: usize, with: &str| {
            let mut t: Vec<char> = text.chars().collect();
            t.splice(at..at + 1, with.chars());
            t.into_iter().collect::<String>()
        };
        for (input, position, found) in [
            (replaced(10, "1"), 11, '1'),
            (replaced(0, "0"), 1, '0'),
            (replaced(185, "8"), 186, '8'),
            (replaced(50, "="), 51, '='),
            (replaced(3, "Ａ"), 4, 'Ａ'),
            (format!("{}=", &text[1..]), 186, '='),
        ] {
            assert_unreadable(
                &verify_qr(&input, &two_keys(), today()),
                &QrInputError::NotBase32 { position, found },
            );
        }
        // The last character carries 3 bits of data and 2 unused bits: 'B' sets an unused one.
        let last = text.chars().last().unwrap();
        assert_eq!(last, 'A', "the example's last character");
        assert_unreadable(
            &verify_qr(&replaced(185, "B"), &two_keys(), today()),
            &QrInputError::NonCanonical { position: 186 },
        );
        for (input, expected) in [
            (
                format!("https://permit.bjfsh.gov.cn/{text}"),
                QrInputError::NoPayloadInUrl,
            ),
            (
                "https://permit.bjfsh.gov.cn/q/".to_owned(),
                QrInputError::NoPayloadInUrl,
            ),
            (
                "https://permit.bjfsh.gov.cn".to_owned(),
                QrInputError::NoPayloadInUrl,
            ),
            (
                format!("https://h/q/{text}/more"),
                QrInputError::PathAfterPayload,
            ),
        ] {
            assert_unreadable(&verify_qr(&input, &two_keys(), today()), &expected);
        }
    }

    #[test]
    fn keys_not_valid_on_the_issue_date_and_future_dates_are_refused() {
        // Proves a key valid only after the issue date (or expired before it) is refused, and an
        // issue date after today is "not accepted" though the signature is valid.
        let key = example_key();
        let text = example_qr().to_text(); // issued 2026-01-05
        for (not_before, not_after) in [("2026-01-06", None), ("2025-01-01", Some("2026-01-04"))] {
            let keys = set_of(&[(&key, not_before, not_after)]);
            let report = verify_qr(&text, &keys, today());
            let window = keys.get(key.kid()).unwrap().window();
            assert_refused(
                &report,
                &VerifyError::KeyNotValid {
                    kid: key.kid(),
                    issued_on: d("2026-01-05"),
                    window,
                },
            );
        }
        let report = verify_qr(&text, &two_keys(), d("2026-01-04"));
        assert_refused(
            &report,
            &VerifyError::IssuedInFuture {
                issued_on: d("2026-01-05"),
                today: d("2026-01-04"),
            },
        );
        let text = report.to_string();
        assert!(
            text.starts_with("NOT ACCEPTED: issue date in the future\n"),
            "{text}"
        );
        assert!(text.contains("signature valid (key bDEEEmj0cWA"), "{text}");
        assert!(text.contains("check this device's date"), "{text}");
    }

    #[test]
    fn no_input_panics() {
        // Proves arbitrary text (random base32, mixed scripts, slashes, truncations) never
        // panics and always yields a verdict with a text.
        let keys = two_keys();
        let genuine = example_qr().to_url("https://permit.bjfsh.gov.cn");
        let pieces = [
            "A", "7", "/", "/q/", "/Q/", "?", "#", " ", "é", "许", "\u{feff}", "=", "://", "\0",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..3000 {
            let input: String = if round % 3 == 0 {
                let cut = (next() as usize) % (genuine.len() + 1);
                let mut s = genuine[..cut].to_owned();
                s.push_str(pieces[(next() as usize) % pieces.len()]);
                s
            } else {
                let n = (next() as usize) % 220;
                (0..n)
                    .map(|_| pieces[(next() as usize) % pieces.len()])
                    .collect()
            };
            let report = verify_qr(&input, &keys, today());
            assert!(!report.to_string().is_empty());
            let report = verify_attestation(&input, &keys, attestation_now());
            assert!(!report.to_string().is_empty());
        }
    }

    // -----------------------------------------------------------------------------------------
    // Attestations

    #[test]
    fn genuine_attestation_reports_every_field() {
        // Proves a genuine, current token gives exit 0 and shows key, permit, state, each
        // licence's type, state and end date, sequence and both times; white space is ignored.
        let token = example_attestation().sign(&example_key());
        let report = verify_attestation(&format!("\n{token}\r\n"), &two_keys(), attestation_now());
        assert!(report.is_genuine(), "{report}");
        assert_eq!(report.exit_code(), 0);
        assert_eq!(
            report.outcome(),
            &AttestationOutcome::Genuine(example_attestation())
        );
        assert_eq!(
            report.to_string(),
            "GENUINE and current (checked at 2026-03-01T12:00:00+08:00, current until \
             2026-03-02T10:00:00+08:00)\n\
             signature valid (key bDEEEmj0cWA, valid from 2026-01-01 to 2027-12-31)\n\
             permit 110111ZH0300042F version 2: state partial\n  \
             L05 食品经营许可证: valid 有效, until 2030-01-04\n  \
             L07 烟草专卖零售许可证: valid 有效, until 2026-12-31\n  \
             L08 城镇污水排入排水管网许可证: not_granted 未许可, no end date (长期)\n\
             sequence 9001, produced at 2026-03-01T10:00:00+08:00, valid until \
             2026-03-02T10:00:00+08:00"
        );
    }

    #[test]
    fn expired_and_future_attestations_keep_their_contents_but_fail() {
        // Proves an expired or not yet valid token with a valid signature is exit 1, says so,
        // and still shows the signed contents marked unverified-fresh.
        let a = example_attestation();
        let token = a.sign(&example_key());
        let report = verify_attestation(&token, &two_keys(), at("2026-03-05T09:00:00+08:00"));
        assert_eq!(
            report.outcome(),
            &AttestationOutcome::Stale {
                attestation: a.clone(),
                staleness: Staleness::Expired
            }
        );
        assert!(!report.is_genuine());
        assert_eq!(report.exit_code(), 1);
        let text = report.to_string();
        assert!(
            text.starts_with(
                "NOT CURRENT: EXPIRED at 2026-03-02T10:00:00+08:00 (checked at \
                 2026-03-05T09:00:00+08:00)"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nsignature valid (key bDEEEmj0cWA"),
            "{text}"
        );
        assert!(text.contains("unverified-fresh"), "{text}");
        assert!(
            text.contains("L07 烟草专卖零售许可证: valid 有效"),
            "{text}"
        );
        // Exactly at valid_until it has expired; a second before, it has not.
        let report = verify_attestation(&token, &two_keys(), a.valid_until);
        assert_eq!(report.exit_code(), 1);
        let last = a.valid_until - time::Duration::seconds(1);
        assert!(verify_attestation(&token, &two_keys(), last).is_genuine());

        let early = a.produced_at - time::Duration::minutes(6);
        let report = verify_attestation(&token, &two_keys(), early);
        assert!(matches!(
            report.outcome(),
            AttestationOutcome::Stale {
                staleness: Staleness::NotYetValid,
                ..
            }
        ));
        assert_eq!(report.exit_code(), 1);
        assert!(report.to_string().contains("not yet valid"), "{report}");
    }

    #[test]
    fn tampered_attestations_are_not_genuine() {
        // Proves a changed payload, a changed signature, a swapped kid and an unknown kid are
        // exit 1 with the failure named, and garbage is exit 2.
        let a = example_attestation();
        let key = example_key();
        let token = a.sign(&key);
        let keys = two_keys();
        let now = attestation_now();
        let parts: Vec<&str> = token.split('.').collect();

        let mut forged = a.clone();
        forged.state = "valid".into();
        forged.licences[2].state = LicenceState::Valid;
        let forged_payload = BASE64URL_NOPAD.encode(&serde_json::to_vec(&forged).unwrap());
        let report = verify_attestation(
            &format!("{}.{forged_payload}.{}", parts[0], parts[2]),
            &keys,
            now,
        );
        assert_eq!(
            report.outcome(),
            &AttestationOutcome::Refused {
                error: JwsError::BadSignature(key.kid()),
                claims: Some(forged),
            }
        );
        assert_eq!(report.exit_code(), 1);
        let text = report.to_string();
        assert!(text.starts_with("NOT GENUINE\nforged:"), "{text}");
        assert!(text.contains("signature INVALID"), "{text}");
        assert!(text.contains("not verified, do not rely on it"), "{text}");

        let mut signature = BASE64URL_NOPAD.decode(parts[2].as_bytes()).unwrap();
        signature[10] ^= 0x20;
        let t = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            BASE64URL_NOPAD.encode(&signature)
        );
        let report = verify_attestation(&t, &keys, now);
        assert!(matches!(
            report.outcome(),
            AttestationOutcome::Refused {
                error: JwsError::BadSignature(_),
                claims: Some(_)
            }
        ));

        let header = |kid: &str| {
            BASE64URL_NOPAD.encode(
                format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"permitd-attestation+jws"}}"#)
                    .as_bytes(),
            )
        };
        let other = other_key().kid().to_string();
        let t = format!("{}.{}.{}", header(&other), parts[1], parts[2]);
        let report = verify_attestation(&t, &keys, now);
        assert!(matches!(
            report.outcome(),
            AttestationOutcome::Refused {
                error: JwsError::BadSignature(kid),
                ..
            } if *kid == other_key().kid()
        ));
        assert!(report
            .to_string()
            .contains(&format!("header key id {other}")));

        let stranger = SigningKey::from_seed(&[9; 32]);
        let report = verify_attestation(&a.sign(&stranger), &keys, now);
        assert!(matches!(
            report.outcome(),
            AttestationOutcome::Refused {
                error: JwsError::UnknownKid(_),
                ..
            }
        ));
        assert!(report.to_string().contains("(the key set holds "));
        // A kid that is not even a key id is echoed escaped, not raw.
        let t = format!("{}.{}.{}", header("\\u001b[31mX"), parts[1], parts[2]);
        let text = verify_attestation(&t, &keys, now).to_string();
        assert!(!text.contains('\u{1b}'), "{text}");

        for junk in ["", "hello", "a.b", "a.b.c.d", "!!!.???.***"] {
            let report = verify_attestation(junk, &keys, now);
            assert!(
                matches!(report.outcome(), AttestationOutcome::Unreadable(_)),
                "{junk}: {report}"
            );
            assert_eq!(report.exit_code(), 2);
            assert!(report.to_string().starts_with("NOT AN ATTESTATION\n"));
        }
        let huge = "A".repeat(JWS_BYTES_MAX + 1);
        assert_eq!(
            verify_attestation(&huge, &keys, now).outcome(),
            &AttestationOutcome::Unreadable(JwsError::TooLarge)
        );
    }

    // -----------------------------------------------------------------------------------------
    // Files

    #[test]
    fn key_set_file_round_trips_and_errors_name_the_path() {
        // Proves to_jwks → file → load_key_set gives the same set, and that a missing, oversized,
        // non-text or invalid file is refused naming its path.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("public.jwks");
        let set = two_keys();
        std::fs::write(&path, set.to_jwks()).unwrap();
        assert_eq!(load_key_set(&path).unwrap(), set);
        std::fs::write(&path, format!("\u{feff}{}", set.to_jwks())).unwrap();
        assert_eq!(
            load_key_set(&path).unwrap(),
            set,
            "a byte order mark is skipped"
        );

        let shown = path.display().to_string();
        std::fs::write(&path, vec![b' '; JWKS_BYTES_MAX + 1]).unwrap();
        let error = load_key_set(&path).unwrap_err();
        assert!(matches!(error, OfflineError::TooLarge { .. }), "{error}");
        assert!(error.to_string().contains(&shown), "{error}");
        std::fs::write(&path, [0xFF, 0xFE, b'{']).unwrap();
        assert!(matches!(
            load_key_set(&path),
            Err(OfflineError::NotText { .. })
        ));
        std::fs::write(&path, r#"{"keys":[]}"#).unwrap();
        let error = load_key_set(&path).unwrap_err();
        assert!(
            matches!(
                error,
                OfflineError::KeySet {
                    problem: JwksError::Empty,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains(&shown), "{error}");
        assert!(matches!(
            load_key_set(dir.path()),
            Err(OfflineError::NotAFile { .. })
        ));
        let missing = dir.path().join("missing.jwks");
        let error = load_key_set(&missing).unwrap_err();
        assert!(matches!(error, OfflineError::Io { .. }), "{error}");
        assert!(error.to_string().contains("missing.jwks"), "{error}");

        // An attestation file with a trailing newline verifies against the loaded set.
        std::fs::write(&path, set.to_jwks()).unwrap();
        let token_path = dir.path().join("attestation.jws");
        std::fs::write(
            &token_path,
            example_attestation().sign(&example_key()) + "\n",
        )
        .unwrap();
        let token = load_attestation(&token_path).unwrap();
        let report = verify_attestation(&token, &load_key_set(&path).unwrap(), attestation_now());
        assert!(report.is_genuine(), "{report}");
    }
}
