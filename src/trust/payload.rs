//! The city-code QR payload, format 1: a compact binary record of one permit version's face,
//! signed by the writer with Ed25519, written as RFC 4648 base32 after `/Q/` in a URL.
//!
//! All integers little-endian. 116 bytes:
//!
//! | offset | size | field | encoding |
//! |---:|---:|---|---|
//! | 0 | 1 | format version | `1` |
//! | 1 | 6 | permit number | [`PermitNumber::key`] (13 digits < 2^44) as u48 |
//! | 7 | 2 | permit version | u16, ≥ 1 |
//! | 9 | 12 | credit code | the 18 characters as base-31 digits (GB 32100 alphabet `0-9A-Z` without `IOSVZ`, value = index), first character most significant, as u96 |
//! | 21 | 2 | issue date | u16 days since 1970-01-01 (to 2149-06-06) |
//! | 23 | 5 | licensed items | bit `id − 1` set for each covered licence type granted at issue (not 未许可); bit `i` is bit `i % 8` of byte `i / 8`; ids above [`CATALOG_LICENCE_TYPES`] are refused |
//! | 28 | 16 | face hash | [`face_hash`]: the other face fields |
//! | 44 | 8 | key id | [`Kid`], the 8 raw bytes |
//! | 52 | 64 | signature | Ed25519 over `"permitd-qr-v1\0"` ‖ bytes 0..52 |
//!
//! The credit code is packed because it decides the QR version: with 18 ASCII bytes the payload
//! is 122 bytes and the example URL needs QR version 9 (53×53 modules) at level M; packed, it is
//! 116 bytes and fits version 8 (49×49) with room for a 5 characters longer host. See
//! `docs/qr.md`.
//!
//! Signatures are deterministic (RFC 8032), so one permit version signed by one key always gives
//! the same bytes. The resolver therefore never runs Ed25519 per request: it rebuilds the payload
//! from the permit it holds and the signature the writer stored ([`QrPayload::with_signature`])
//! and compares the whole byte string with the scanned one (`SignedQr: Eq`).

use std::fmt;

use data_encoding::BASE32_NOPAD;

use crate::catalog::{Catalog, LicenceTypeId};
use crate::codes::{PermitNumber, Uscc};
use crate::domain::{Date, LicenceState, Permit};
use crate::trust::keys::{Kid, PublicKey, PublicKeySet, SigningKey, KID_BYTES};

/// The format version this module writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes of a signed payload.
pub const PAYLOAD_BYTES: usize = 116;
/// Bytes covered by the signature (everything before it).
pub const UNSIGNED_BYTES: usize = PAYLOAD_BYTES - SIGNATURE_BYTES;
pub const SIGNATURE_BYTES: usize = 64;
/// Characters of the base32 text of a payload (no padding).
pub const PAYLOAD_CHARS: usize = (PAYLOAD_BYTES * 8).div_ceil(5);
/// Prefixed to the payload bytes before signing, so a payload signature can never be taken for
/// a signature of anything else the writer signs.
pub const SIGNING_PREFIX: &[u8] = b"permitd-qr-v1\0";
/// Prefixed to the face fields before hashing.
pub const FACE_HASH_PREFIX: &[u8] = b"permitd-face-v1\0";
pub const FACE_HASH_BYTES: usize = 16;
/// Licence types in the catalogue (`L01`–`L35`); a payload naming a higher id is refused. The
/// bitmap has room for 40: when the catalogue grows past that, the format version changes.
pub const CATALOG_LICENCE_TYPES: u16 = 35;
const BITMAP_BYTES: usize = 5;
const _: () = assert!(CATALOG_LICENCE_TYPES as usize <= BITMAP_BYTES * 8);

/// The path segment before the payload in a URL.
pub const URL_PATH: &str = "/Q/";

const ALPHABET_31: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// 31^18: packed credit codes are below this.
const USCC_PACKED_END: u128 = 31u128.pow(18);
const _: () = assert!(USCC_PACKED_END < 1 << 96);

// Offsets.
const AT_NUMBER: usize = 1;
const AT_VERSION: usize = 7;
const AT_USCC: usize = 9;
const AT_DATE: usize = 21;
const AT_ITEMS: usize = 23;
const AT_FACE: usize = 28;
const AT_KID: usize = 44;
const _: () = assert!(AT_KID + KID_BYTES == UNSIGNED_BYTES);
const _: () = assert!(AT_FACE + FACE_HASH_BYTES == AT_KID && AT_ITEMS + BITMAP_BYTES == AT_FACE);

/// The signed fields of one permit version (everything but the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrPayload {
    number: PermitNumber,
    version: u16,
    uscc: Uscc,
    issued_on: Date,
    /// Bit `id - 1` for each licensed item.
    items: u64,
    face_hash: [u8; FACE_HASH_BYTES],
    kid: Kid,
}

/// A payload with its signature, as printed in the QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedQr {
    payload: QrPayload,
    signature: [u8; SIGNATURE_BYTES],
}

/// Why a permit cannot be put in a payload, or signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("permit version {0} does not fit the payload's 16 bits")]
    Version(u32),
    #[error("issue date {0} is outside the payload's range 1970-01-01 to 2149-06-06")]
    Date(Date),
    #[error("licence type {0} is outside the catalogue's L01-L{CATALOG_LICENCE_TYPES}")]
    LicenceType(LicenceTypeId),
    #[error("the payload names key {payload} but is being signed with key {key}")]
    KidMismatch { payload: Kid, key: Kid },
}

/// Why bytes or text are not a well-formed payload (before any signature check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("a QR payload has {expected} base32 characters but this one has {got}")]
    TextLength { got: usize, expected: usize },
    #[error("character {position} of the QR payload is not base32 (A-Z, 2-7)")]
    TextCharacter { position: usize },
    #[error("a QR payload has {expected} bytes but this one has {got}")]
    Length { got: usize, expected: usize },
    #[error("QR payload format {got} is not supported (this version reads format 1)")]
    FormatVersion { got: u8 },
    #[error("the permit number field ({key}) is not a valid permit number")]
    PermitNumber { key: u64 },
    #[error("the permit version is 0; versions start at 1")]
    PermitVersion,
    #[error("the credit code field is not a valid unified social credit code: {0}")]
    CreditCode(String),
    #[error(
        "the licensed items name type L{id:02}, beyond the catalogue's L{CATALOG_LICENCE_TYPES}"
    )]
    LicenceType { id: u16 },
}

/// Why a well-formed payload is not genuine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("forged or unknown: the payload names key {0}, which is not in the key set")]
    UnknownKid(Kid),
    #[error("forged: the signature does not verify with key {kid}; the payload was altered or not signed by this writer")]
    BadSignature { kid: Kid },
    #[error(
        "key {kid} is valid {window}, but the payload says it signed a permit issued {issued_on}"
    )]
    KeyNotValid {
        kid: Kid,
        issued_on: Date,
        window: String,
    },
    #[error("the payload says the permit was issued {issued_on}, after today ({today})")]
    IssuedInFuture { issued_on: Date, today: Date },
}

/// A payload whose signature checked out, with the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    payload: QrPayload,
    key: PublicKey,
}

/// [`face_hash`] of a permit's face fields.
pub fn permit_face_hash(permit: &Permit) -> [u8; FACE_HASH_BYTES] {
    let items: Vec<(LicenceTypeId, bool)> = permit
        .licences
        .iter()
        .map(|l| (l.licence_type, l.state != LicenceState::NotGranted))
        .collect();
    face_hash(
        &permit.operator_name,
        &permit.legal_representative,
        &permit.premises,
        &permit.issuing_authority,
        &items,
    )
}

/// The first 16 bytes of BLAKE3 over
///
/// ```text
/// "permitd-face-v1\0"
/// for each of operator name, legal representative, premises, issuing authority:
///     u32 LE byte length ‖ UTF-8 bytes (as stored: no normalisation)
/// u8 number of covered items
/// for each covered item, in printed order: u16 LE licence type id ‖ u8 1 if licensed, 0 if 未许可
/// ```
///
/// The items' order and the 未许可 ones are printed on the face, so they are hashed too; the
/// licensed ones are also in the payload's bitmap, for reading offline.
pub fn face_hash(
    operator_name: &str,
    legal_representative: &str,
    premises: &str,
    issuing_authority: &str,
    items: &[(LicenceTypeId, bool)],
) -> [u8; FACE_HASH_BYTES] {
    let input = face_hash_input(
        operator_name,
        legal_representative,
        premises,
        issuing_authority,
        items,
    );
    let mut out = [0u8; FACE_HASH_BYTES];
    out.copy_from_slice(&blake3::hash(&input).as_bytes()[..FACE_HASH_BYTES]);
    out
}

/// The bytes [`face_hash`] hashes (at most 255 items are counted; a permit has at most
/// [`LICENCES_PER_PERMIT_MAX`](crate::limits::LICENCES_PER_PERMIT_MAX)).
pub fn face_hash_input(
    operator_name: &str,
    legal_representative: &str,
    premises: &str,
    issuing_authority: &str,
    items: &[(LicenceTypeId, bool)],
) -> Vec<u8> {
    let mut input = FACE_HASH_PREFIX.to_vec();
    for field in [
        operator_name,
        legal_representative,
        premises,
        issuing_authority,
    ] {
        input.extend_from_slice(&(field.len() as u32).to_le_bytes());
        input.extend_from_slice(field.as_bytes());
    }
    let items = &items[..items.len().min(255)];
    input.push(items.len() as u8);
    for &(id, licensed) in items {
        input.extend_from_slice(&id.0.to_le_bytes());
        input.push(u8::from(licensed));
    }
    input
}

impl QrPayload {
    /// The payload of `permit`'s current version, to be signed by the key `kid`.
    ///
    /// # Errors
    /// [`EncodeError`] when the version, issue date or a licence type does not fit the format.
    pub fn for_permit(permit: &Permit, kid: Kid) -> Result<QrPayload, EncodeError> {
        let version = u16::try_from(permit.version)
            .ok()
            .filter(|&v| v > 0)
            .ok_or(EncodeError::Version(permit.version))?;
        if u16::try_from(permit.issued_on.days_since_epoch()).is_err() {
            return Err(EncodeError::Date(permit.issued_on));
        }
        let mut items = 0u64;
        for licence in &permit.licences {
            let id = licence.licence_type;
            if !(1..=CATALOG_LICENCE_TYPES).contains(&id.0) {
                return Err(EncodeError::LicenceType(id));
            }
            if licence.state != LicenceState::NotGranted {
                items |= 1 << (id.0 - 1);
            }
        }
        Ok(QrPayload {
            number: permit.number,
            version,
            uscc: permit.uscc,
            issued_on: permit.issued_on,
            items,
            face_hash: permit_face_hash(permit),
            kid,
        })
    }

    pub fn number(&self) -> PermitNumber {
        self.number
    }

    pub fn version(&self) -> u32 {
        u32::from(self.version)
    }

    pub fn uscc(&self) -> &Uscc {
        &self.uscc
    }

    pub fn issued_on(&self) -> Date {
        self.issued_on
    }

    /// The licence types licensed at issue, in id order.
    pub fn items(&self) -> impl Iterator<Item = LicenceTypeId> + '_ {
        (1..=CATALOG_LICENCE_TYPES)
            .filter(|id| self.items & (1 << (id - 1)) != 0)
            .map(LicenceTypeId)
    }

    /// The licensed items as `L05 食品经营许可证, L07 …` (names from `catalog`; a type it lacks
    /// is said so), or `none`.
    pub fn write_items(&self, out: &mut impl fmt::Write, catalog: Option<&Catalog>) -> fmt::Result {
        let mut any = false;
        for id in self.items() {
            if any {
                out.write_str(", ")?;
            }
            any = true;
            match catalog.map(|c| c.licence_type(id)) {
                Some(Some(t)) => write!(out, "{id} {}", t.name)?,
                Some(None) => write!(out, "{id} (not in this catalogue)")?,
                None => write!(out, "{id}")?,
            }
        }
        if !any {
            out.write_str("none")?;
        }
        Ok(())
    }

    pub fn face_hash(&self) -> &[u8; FACE_HASH_BYTES] {
        &self.face_hash
    }

    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// Bytes 0..52: every field but the signature.
    pub fn to_unsigned_bytes(&self) -> [u8; UNSIGNED_BYTES] {
        let mut out = [0u8; UNSIGNED_BYTES];
        out[0] = FORMAT_VERSION;
        out[AT_NUMBER..AT_VERSION].copy_from_slice(&self.number.key().to_le_bytes()[..6]);
        out[AT_VERSION..AT_USCC].copy_from_slice(&self.version.to_le_bytes());
        out[AT_USCC..AT_DATE].copy_from_slice(&pack_uscc(&self.uscc).to_le_bytes()[..12]);
        // for_permit and parse keep the date within u16.
        let days = self.issued_on.days_since_epoch() as u16;
        out[AT_DATE..AT_ITEMS].copy_from_slice(&days.to_le_bytes());
        out[AT_ITEMS..AT_FACE].copy_from_slice(&self.items.to_le_bytes()[..BITMAP_BYTES]);
        out[AT_FACE..AT_KID].copy_from_slice(&self.face_hash);
        out[AT_KID..].copy_from_slice(&self.kid.0);
        out
    }

    /// What the signature covers: [`SIGNING_PREFIX`] ‖ [`QrPayload::to_unsigned_bytes`].
    pub fn signing_input(&self) -> Vec<u8> {
        [SIGNING_PREFIX, &self.to_unsigned_bytes()].concat()
    }

    /// Signs the payload with `key`, which must be the key the payload names.
    ///
    /// # Errors
    /// [`EncodeError::KidMismatch`] when `key` is not that key.
    pub fn sign(self, key: &SigningKey) -> Result<SignedQr, EncodeError> {
        if key.kid() != self.kid {
            return Err(EncodeError::KidMismatch {
                payload: self.kid,
                key: key.kid(),
            });
        }
        let signature = key.sign_raw(&self.signing_input());
        Ok(SignedQr {
            payload: self,
            signature,
        })
    }

    /// The payload with a signature the writer stored earlier, for the resolver's byte
    /// comparison. Nothing is checked here.
    pub fn with_signature(self, signature: [u8; SIGNATURE_BYTES]) -> SignedQr {
        SignedQr {
            payload: self,
            signature,
        }
    }
}

impl SignedQr {
    pub fn payload(&self) -> &QrPayload {
        &self.payload
    }

    pub fn signature(&self) -> &[u8; SIGNATURE_BYTES] {
        &self.signature
    }

    pub fn to_bytes(&self) -> [u8; PAYLOAD_BYTES] {
        let mut out = [0u8; PAYLOAD_BYTES];
        out[..UNSIGNED_BYTES].copy_from_slice(&self.payload.to_unsigned_bytes());
        out[UNSIGNED_BYTES..].copy_from_slice(&self.signature);
        out
    }

    /// The base32 text (upper case, no padding), [`PAYLOAD_CHARS`] characters.
    pub fn to_text(&self) -> String {
        BASE32_NOPAD.encode(&self.to_bytes())
    }

    /// `HTTPS://HOST/Q/<base32>`: the scheme and host of `public_base_url` upper-cased (both are
    /// case-insensitive) so that QR alphanumeric mode can encode the whole URL; a path prefix is
    /// kept as given (lower case in it forces the denser-looking but larger byte mode).
    pub fn to_url(&self, public_base_url: &str) -> String {
        let base = public_base_url.trim_end_matches('/');
        let authority_end = base
            .find("://")
            .map(|i| i + 3)
            .and_then(|start| base[start..].find('/').map(|i| start + i))
            .unwrap_or(base.len());
        let mut url = base[..authority_end].to_ascii_uppercase();
        url.push_str(&base[authority_end..]);
        url.push_str(URL_PATH);
        url.push_str(&self.to_text());
        url
    }

    /// Parses payload bytes, checking structure only: length, format version, a valid permit
    /// number, a non-zero version, a credit code of the alphabet with a correct check character,
    /// no licence type beyond the catalogue. The signature is not checked: see
    /// [`SignedQr::verify`].
    ///
    /// # Errors
    /// The first problem found; see [`PayloadError`].
    pub fn parse(bytes: &[u8]) -> Result<SignedQr, PayloadError> {
        let bytes: &[u8; PAYLOAD_BYTES] = bytes.try_into().map_err(|_| PayloadError::Length {
            got: bytes.len(),
            expected: PAYLOAD_BYTES,
        })?;
        if bytes[0] != FORMAT_VERSION {
            return Err(PayloadError::FormatVersion { got: bytes[0] });
        }
        let key = le_u64(&bytes[AT_NUMBER..AT_VERSION]);
        let number = PermitNumber::from_key(key).ok_or(PayloadError::PermitNumber { key })?;
        let version = u16::from_le_bytes([bytes[AT_VERSION], bytes[AT_VERSION + 1]]);
        if version == 0 {
            return Err(PayloadError::PermitVersion);
        }
        let mut packed = [0u8; 16];
        packed[..12].copy_from_slice(&bytes[AT_USCC..AT_DATE]);
        let uscc = unpack_uscc(u128::from_le_bytes(packed))?;
        let days = u16::from_le_bytes([bytes[AT_DATE], bytes[AT_DATE + 1]]);
        let items = le_u64(&bytes[AT_ITEMS..AT_FACE]);
        if items >> CATALOG_LICENCE_TYPES != 0 {
            let id = 64 - items.leading_zeros() as u16;
            return Err(PayloadError::LicenceType { id });
        }
        let mut face_hash = [0u8; FACE_HASH_BYTES];
        face_hash.copy_from_slice(&bytes[AT_FACE..AT_KID]);
        let mut kid = [0u8; KID_BYTES];
        kid.copy_from_slice(&bytes[AT_KID..UNSIGNED_BYTES]);
        let mut signature = [0u8; SIGNATURE_BYTES];
        signature.copy_from_slice(&bytes[UNSIGNED_BYTES..]);
        Ok(SignedQr {
            payload: QrPayload {
                number,
                version,
                uscc,
                issued_on: Date::from_days_since_epoch(i32::from(days)),
                items,
                face_hash,
                kid: Kid(kid),
            },
            signature,
        })
    }

    /// Decodes the text a scanner read: the bare base32 payload or a whole URL whose last path
    /// segment is the payload (`https://host/q/…`), in any case, surrounding white space ignored.
    ///
    /// # Errors
    /// [`PayloadError::TextLength`], [`PayloadError::TextCharacter`], then those of
    /// [`SignedQr::parse`].
    pub fn decode_text(text_or_url: &str) -> Result<SignedQr, PayloadError> {
        let text = text_or_url.trim();
        let text = text.split(['?', '#']).next().unwrap_or(text);
        let text = text.rsplit('/').next().unwrap_or(text);
        if text.len() != PAYLOAD_CHARS {
            return Err(PayloadError::TextLength {
                got: text.chars().count(),
                expected: PAYLOAD_CHARS,
            });
        }
        let mut upper = [0u8; PAYLOAD_CHARS];
        for (out, byte) in upper.iter_mut().zip(text.bytes()) {
            *out = byte.to_ascii_uppercase();
        }
        let mut bytes = [0u8; PAYLOAD_BYTES];
        BASE32_NOPAD
            .decode_mut(&upper, &mut bytes)
            .map_err(|e| PayloadError::TextCharacter {
                position: e.error.position + 1,
            })?;
        SignedQr::parse(&bytes)
    }

    /// Checks the signature offline: the key the payload names is in `keys`, the signature
    /// verifies with it, the key was valid on the issue date (keys that have since expired still
    /// verify the codes they printed), and the issue date is not after `today`.
    ///
    /// # Errors
    /// See [`VerifyError`]; every error but `IssuedInFuture` means "not genuine".
    pub fn verify(&self, keys: &PublicKeySet, today: Date) -> Result<Verified, VerifyError> {
        let kid = self.payload.kid;
        let key = keys.get(kid).ok_or(VerifyError::UnknownKid(kid))?;
        if !key.verify_raw(&self.payload.signing_input(), &self.signature) {
            return Err(VerifyError::BadSignature { kid });
        }
        let issued_on = self.payload.issued_on;
        if !key.valid_on(issued_on) {
            return Err(VerifyError::KeyNotValid {
                kid,
                issued_on,
                window: key.window(),
            });
        }
        if issued_on > today {
            return Err(VerifyError::IssuedInFuture { issued_on, today });
        }
        Ok(Verified {
            payload: self.payload.clone(),
            key: key.clone(),
        })
    }
}

impl Verified {
    pub fn payload(&self) -> &QrPayload {
        &self.payload
    }

    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Whether `permit`'s face fields hash to the payload's face hash.
    pub fn face_matches(&self, permit: &Permit) -> bool {
        permit_face_hash(permit) == self.payload.face_hash
    }

    /// A one-line account for `permitd verify qr`, with licence names from `catalog`.
    pub fn explain<'a>(&'a self, catalog: &'a Catalog) -> Explanation<'a> {
        Explanation {
            verified: self,
            catalog,
        }
    }
}

/// `signature valid (key …): permit 110111ZH0300042F version 2, credit code …, items L05
/// 食品经营许可证, L07 …, issued 2026-01-05, face hash …`.
pub struct Explanation<'a> {
    verified: &'a Verified,
    catalog: &'a Catalog,
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.verified.payload;
        let key = &self.verified.key;
        write!(
            f,
            "signature valid (key {}, valid {}): permit {} version {}, credit code {}, items ",
            key.kid(),
            key.window(),
            p.number,
            p.version,
            p.uscc
        )?;
        p.write_items(f, Some(self.catalog))?;
        write!(
            f,
            ", issued {}, face hash {}",
            p.issued_on,
            data_encoding::HEXLOWER.encode(&p.face_hash)
        )
    }
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(buf)
}

fn pack_uscc(uscc: &Uscc) -> u128 {
    uscc.as_str().bytes().fold(0u128, |acc, byte| {
        // A parsed code holds only alphabet characters.
        let digit = ALPHABET_31.iter().position(|&c| c == byte).unwrap_or(0);
        acc * 31 + digit as u128
    })
}

fn unpack_uscc(mut packed: u128) -> Result<Uscc, PayloadError> {
    if packed >= USCC_PACKED_END {
        return Err(PayloadError::CreditCode(
            "the packed value is beyond 18 base-31 digits".into(),
        ));
    }
    let mut ascii = [0u8; 18];
    for out in ascii.iter_mut().rev() {
        *out = ALPHABET_31[(packed % 31) as usize];
        packed /= 31;
    }
    let text = std::str::from_utf8(&ascii).unwrap_or("");
    Uscc::parse(text).map_err(|e| PayloadError::CreditCode(e.to_string()))
}
