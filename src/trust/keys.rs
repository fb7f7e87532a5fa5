//! The writer's Ed25519 signing key, key ids, and the public key set published as a JWK Set.
//!
//! # Private key file
//! PKCS#8 v1 PEM (RFC 5958 / RFC 8410), the format `openssl genpkey -algorithm ed25519` writes:
//!
//! ```text
//! -----BEGIN PRIVATE KEY-----
//! MC4CAQAwBQYDK2VwBCIEI…
//! -----END PRIVATE KEY-----
//! ```
//!
//! [`SigningKey::save`] creates it with mode 0600 and never overwrites a file
//! ([`SigningKey::save_replacing`] replaces one atomically); [`SigningKey::load`] refuses a file
//! that group or others may read or write, naming its mode.
//!
//! # Key id
//! [`Kid`]: the first 8 bytes of BLAKE3 over the 32-byte public key, written as 11 characters of
//! unpadded base64url (RFC 4648 §5). Like the EU digital COVID certificate's truncated-hash `kid`,
//! it is a lookup hint, not a security boundary: the signature decides.
//!
//! # Public key set
//! [`PublicKeySet`] holds every key a verifier should know, each valid for a range of Beijing dates
//! so that keys rotate without breaking codes already printed: a QR payload verifies when its key
//! was valid on the permit's issue date, however long ago. The newest key valid today signs
//! ([`PublicKeySet::signing_key_on`]). It is published as a JWK Set (RFC 7517) of OKP keys
//! (RFC 8037), with two extension members for the validity dates:
//!
//! ```json
//! {"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
//!           "kid":"bDEEEmj0cWA","use":"sig","alg":"EdDSA",
//!           "permitd:not_before":"2026-01-01","permitd:not_after":"2027-12-31"}]}
//! ```
//!
//! `permitd:not_after` may be absent or `null` (no end date yet). Both dates are inclusive.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, KeypairBytes};
use ed25519_dalek::VerifyingKey;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::domain::Date;

/// Bytes of a key id.
pub const KID_BYTES: usize = 8;
/// Characters of a key id written in base64url.
pub const KID_CHARS: usize = 11;
/// Largest private key file [`SigningKey::load`] reads; a PKCS#8 PEM Ed25519 key is 119 bytes.
pub const KEY_FILE_BYTES_MAX: u64 = 4096;
/// Largest JWK Set [`PublicKeySet::from_jwks`] parses, in bytes.
pub const JWKS_BYTES_MAX: usize = 64 * 1024;
/// Most keys one JWK Set may hold.
pub const JWKS_KEYS_MAX: usize = 64;

/// Member names of the validity dates in a JWK (extension members, RFC 7517 §4).
pub const JWK_NOT_BEFORE: &str = "permitd:not_before";
pub const JWK_NOT_AFTER: &str = "permitd:not_after";

/// A key id: the first 8 bytes of BLAKE3(public key).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub [u8; KID_BYTES]);

impl Kid {
    /// The key id of `key`.
    pub fn of(key: &VerifyingKey) -> Kid {
        let hash = blake3::hash(key.as_bytes());
        let mut kid = [0u8; KID_BYTES];
        kid.copy_from_slice(&hash.as_bytes()[..KID_BYTES]);
        Kid(kid)
    }

    /// Parses the 11-character base64url form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Kid> {
        if text.len() != KID_CHARS {
            return None;
        }
        let mut kid = [0u8; KID_BYTES];
        match BASE64URL_NOPAD.decode_mut(text.as_bytes(), &mut kid) {
            Ok(KID_BYTES) => Some(Kid(kid)),
            _ => None,
        }
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE64URL_NOPAD.encode(&self.0))
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({self})")
    }
}

/// What went wrong generating, saving or loading a private key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random number generator failed: {0}")]
    Entropy(String),
    #[error("{action} key file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {} already exists; refusing to overwrite a private key", path.display())]
    Exists { path: PathBuf },
    #[error(
        "key file {} has mode {mode:04o}: group or others may read or write it; a private key \
         file must be mode 0600 (chmod 600 {})",
        path.display(),
        path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("key file {} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("key file {} is larger than {KEY_FILE_BYTES_MAX} bytes: not a key", path.display())]
    TooLarge { path: PathBuf },
    #[error(
        "{} is not a PKCS#8 PEM Ed25519 private key (\"-----BEGIN PRIVATE KEY-----\", as \
         `openssl genpkey -algorithm ed25519` writes): {reason}",
        path.display()
    )]
    Malformed { path: PathBuf, reason: String },
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> KeyError + 'a {
    move |source| KeyError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// The writer's private Ed25519 key. Resolvers never hold one (BRIEF §2).
///
/// The secret is wiped from memory on drop; `Debug` shows only the key id.
///
/// It is held twice: `ed25519-dalek` reads and writes the key files and derives the public key;
/// AWS-LC (`aws-lc-rs`) makes the signatures, in about half dalek's time on this machine
/// (7.0 µs against 14.3 µs; its base-point multiplication is assembly using BMI2/ADX). Ed25519
/// signing is deterministic (RFC 8032 §5.1.6), so both give the same bytes for the same key and
/// message; a test holds them to it.
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    signer: aws_lc_rs::signature::Ed25519KeyPair,
    kid: Kid,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(kid {})", self.kid)
    }
}

impl SigningKey {
    /// A new key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`KeyError::Entropy`] when the OS generator fails.
    pub fn generate() -> Result<SigningKey, KeyError> {
        use rand::TryRngCore;
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| KeyError::Entropy(e.to_string()))?;
        Ok(SigningKey::from_seed(&seed))
    }

    /// The key whose 32-byte RFC 8032 secret (seed) is `seed`. For fixtures and tests.
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        SigningKey::holding(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    fn holding(inner: ed25519_dalek::SigningKey) -> SigningKey {
        let signer = aws_lc_rs::signature::Ed25519KeyPair::from_seed_and_public_key(
            inner.as_bytes(),
            inner.verifying_key().as_bytes(),
        )
        .expect("a dalek key pair is a valid Ed25519 key pair");
        let kid = Kid::of(&inner.verifying_key());
        SigningKey { inner, signer, kid }
    }

    pub fn kid(&self) -> Kid {
        self.kid
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.inner.verifying_key()
    }

    /// The public key as an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), for OpenSSL and friends.
    pub fn public_key_pem(&self) -> String {
        self.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The private key file's contents: PKCS#8 v1 PEM (no embedded public key, as OpenSSL writes).
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        let bytes = KeypairBytes {
            secret_key: self.inner.to_bytes(),
            public_key: None,
        };
        // Encoding a fixed-size structure into PEM cannot fail.
        bytes
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap_or_else(|_| Zeroizing::new(String::new()))
    }

    /// Parses a PKCS#8 PEM Ed25519 private key (v1, or v2 with a matching public key).
    ///
    /// # Errors
    /// [`KeyError::Malformed`] naming the problem; `path` only labels the message.
    pub fn from_pkcs8_pem(text: &str, path: &Path) -> Result<SigningKey, KeyError> {
        let malformed = |reason: String| KeyError::Malformed {
            path: path.to_owned(),
            reason,
        };
        if !text.trim_start().starts_with("-----BEGIN PRIVATE KEY-----") {
            return Err(malformed(
                "it does not start with \"-----BEGIN PRIVATE KEY-----\"".into(),
            ));
        }
        let inner = ed25519_dalek::SigningKey::from_pkcs8_pem(text.trim())
            .map_err(|e| malformed(e.to_string()))?;
        Ok(SigningKey::holding(inner))
    }

    /// Writes the key to a new file at `path`, mode 0600, and syncs it.
    ///
    /// # Errors
    /// [`KeyError::Exists`] when `path` exists (a key is never overwritten by accident), or
    /// [`KeyError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => KeyError::Exists {
                    path: path.to_owned(),
                },
                _ => io_error("creating", path)(e),
            })?;
        file.write_all(self.to_pkcs8_pem().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_error("writing", path))
    }

    /// Writes the key to `path`, replacing any file there atomically (a temporary file with mode
    /// 0600 in the same directory, renamed over it, then the directory synced).
    ///
    /// # Errors
    /// [`KeyError::Io`].
    pub fn save_replacing(&self, path: &Path) -> Result<(), KeyError> {
        let name = path.file_name().ok_or_else(|| KeyError::NotAFile {
            path: path.to_owned(),
        })?;
        let mut temp_name = name.to_owned();
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let _ = std::fs::remove_file(&temp);
        self.save(&temp)?;
        std::fs::rename(&temp, path).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            io_error("replacing", path)(e)
        })?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error("syncing the directory of", path))
    }

    /// Reads a private key file written by [`SigningKey::save`] or by
    /// `openssl genpkey -algorithm ed25519`.
    ///
    /// # Errors
    /// [`KeyError::Permissions`] when group or others have any access (mode & 0o077 ≠ 0),
    /// [`KeyError::NotAFile`], [`KeyError::TooLarge`], [`KeyError::Malformed`], [`KeyError::Io`].
    pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
        let file = File::open(path).map_err(io_error("opening", path))?;
        // The metadata of the opened file, not of the path: no window to swap the file.
        let metadata = file.metadata().map_err(io_error("reading", path))?;
        if !metadata.is_file() {
            return Err(KeyError::NotAFile {
                path: path.to_owned(),
            });
        }
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(KEY_FILE_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error("reading", path))?;
        if bytes.len() as u64 > KEY_FILE_BYTES_MAX {
            return Err(KeyError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::Malformed {
            path: path.to_owned(),
            reason: "it is not text".into(),
        })?;
        SigningKey::from_pkcs8_pem(text, path)
    }

    /// The Ed25519 signature of `message` (RFC 8032, deterministic).
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        let signature = self.signer.sign(message);
        signature
            .as_ref()
            .try_into()
            .expect("an Ed25519 signature is 64 bytes")
    }
}

/// One public key with the Beijing dates it may sign for, both inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kid: Kid,
    key: VerifyingKey,
    not_before: Date,
    not_after: Option<Date>,
}

impl PublicKey {
    /// `key`, valid from `not_before` to `not_after` (`None`: no end date yet).
    ///
    /// # Errors
    /// [`JwkProblem::Window`] when `not_after` is before `not_before`, [`JwkProblem::WeakKey`]
    /// for a small-order point.
    pub fn new(
        key: VerifyingKey,
        not_before: Date,
        not_after: Option<Date>,
    ) -> Result<PublicKey, JwkProblem> {
        if let Some(end) = not_after {
            if end < not_before {
                return Err(JwkProblem::Window {
                    not_before,
                    not_after: end,
                });
            }
        }
        if key.is_weak() {
            return Err(JwkProblem::WeakKey);
        }
        Ok(PublicKey {
            kid: Kid::of(&key),
            key,
            not_before,
            not_after,
        })
    }

    pub fn kid(&self) -> Kid {
        self.kid
    }

    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn not_before(&self) -> Date {
        self.not_before
    }

    pub fn not_after(&self) -> Option<Date> {
        self.not_after
    }

    /// Whether this key may sign on `date`.
    pub fn valid_on(&self, date: Date) -> bool {
        date >= self.not_before && self.not_after.is_none_or(|end| date <= end)
    }

    /// `from 2026-01-01 to 2027-12-31` or `from 2026-01-01, no end date`.
    pub fn window(&self) -> String {
        match self.not_after {
            Some(end) => format!("from {} to {end}", self.not_before),
            None => format!("from {}, no end date", self.not_before),
        }
    }

    /// Verifies an Ed25519 signature, rejecting non-canonical and small-order encodings.
    pub(crate) fn verify_raw(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify_strict(message, &signature).is_ok()
    }
}

/// What is wrong with one key of a JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkProblem {
    #[error("it is not a JSON object")]
    NotAnObject,
    #[error("member {0:?} is missing")]
    Missing(&'static str),
    #[error("member {0:?} is not a string")]
    NotAString(&'static str),
    #[error("\"kty\" is {0:?}; Ed25519 keys are \"OKP\" (RFC 8037)")]
    KeyType(String),
    #[error("\"crv\" is {0:?}; only \"Ed25519\" keys sign permits")]
    Curve(String),
    #[error("\"use\" is {0:?}; these keys are \"sig\"")]
    Use(String),
    #[error("\"alg\" is {0:?}; these keys are \"EdDSA\"")]
    Algorithm(String),
    #[error("it has the private member \"d\": never publish a private key")]
    PrivateKey,
    #[error("\"x\" is not unpadded base64url")]
    XEncoding,
    #[error("\"x\" decodes to {0} bytes; an Ed25519 public key has 32")]
    XLength(usize),
    #[error("\"x\" is not a valid Ed25519 point")]
    InvalidPoint,
    #[error("\"x\" is a small-order point, not a usable key")]
    WeakKey,
    #[error("\"kid\" is {got:?} but the key's id is {expected} (first 8 bytes of BLAKE3(x))")]
    KidMismatch { got: String, expected: Kid },
    #[error("{member:?} is {text:?}, not a date YYYY-MM-DD")]
    Date { member: &'static str, text: String },
    #[error("not_after {not_after} is before not_before {not_before}")]
    Window { not_before: Date, not_after: Date },
}

/// Why a JWK Set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the JWK Set is larger than {JWKS_BYTES_MAX} bytes")]
    TooLarge,
    #[error("not a JWK Set ({{\"keys\":[…]}}): {0}")]
    Json(String),
    #[error("the JWK Set has no keys")]
    Empty,
    #[error("the JWK Set has more than {JWKS_KEYS_MAX} keys")]
    TooManyKeys,
    #[error("key {index} of the JWK Set: {problem}")]
    Key { index: usize, problem: JwkProblem },
    #[error("key id {0} appears twice")]
    DuplicateKid(Kid),
}

/// The public keys a verifier trusts, each with its validity dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicKeySet {
    keys: Vec<PublicKey>,
}

impl PublicKeySet {
    pub fn new() -> PublicKeySet {
        PublicKeySet::default()
    }

    /// Adds a key.
    ///
    /// # Errors
    /// [`JwksError::DuplicateKid`] when a key with the same id is already in the set.
    pub fn insert(&mut self, key: PublicKey) -> Result<(), JwksError> {
        if self.get(key.kid).is_some() {
            return Err(JwksError::DuplicateKid(key.kid));
        }
        self.keys.push(key);
        Ok(())
    }

    pub fn get(&self, kid: Kid) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn iter(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key that signs on `date`: the valid key with the latest `not_before` (the newest).
    pub fn signing_key_on(&self, date: Date) -> Option<&PublicKey> {
        self.keys
            .iter()
            .filter(|k| k.valid_on(date))
            .max_by_key(|k| k.not_before)
    }

    /// The set as a JWK Set (RFC 7517 §5), one key per line.
    pub fn to_jwks(&self) -> String {
        let mut out = String::from("{\"keys\":[");
        for (index, key) in self.keys.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str("\n  ");
            let jwk = Jwk {
                kty: "OKP",
                crv: "Ed25519",
                x: BASE64URL_NOPAD.encode(key.key.as_bytes()),
                kid: key.kid.to_string(),
                use_: "sig",
                alg: "EdDSA",
                not_before: key.not_before,
                not_after: key.not_after,
            };
            out.push_str(&serde_json::to_string(&jwk).unwrap_or_default());
        }
        out.push_str("\n]}\n");
        out
    }

    /// Parses and validates an untrusted JWK Set.
    ///
    /// Each key must be `kty` `OKP`, `crv` `Ed25519`, with a 32-byte `x` that is a valid,
    /// not small-order point, a `kid` equal to [`Kid::of`] its key, `use` `sig` and `alg` `EdDSA`
    /// when present, no private member `d`, and `permitd:not_before` (required) and
    /// `permitd:not_after` (optional) dates in order. Other members are ignored (RFC 7517 §4).
    ///
    /// # Errors
    /// The first problem, naming the key by its index; see [`JwksError`] and [`JwkProblem`].
    pub fn from_jwks(text: &str) -> Result<PublicKeySet, JwksError> {
        if text.len() > JWKS_BYTES_MAX {
            return Err(JwksError::TooLarge);
        }
        #[derive(serde::Deserialize)]
        struct Raw {
            keys: Vec<Value>,
        }
        let raw: Raw = serde_json::from_str(text).map_err(|e| JwksError::Json(e.to_string()))?;
        if raw.keys.is_empty() {
            return Err(JwksError::Empty);
        }
        if raw.keys.len() > JWKS_KEYS_MAX {
            return Err(JwksError::TooManyKeys);
        }
        let mut set = PublicKeySet::new();
        for (index, value) in raw.keys.iter().enumerate() {
            let key = parse_jwk(value).map_err(|problem| JwksError::Key { index, problem })?;
            set.insert(key)?;
        }
        Ok(set)
    }
}

#[derive(serde::Serialize)]
struct Jwk {
    kty: &'static str,
    crv: &'static str,
    x: String,
    kid: String,
    #[serde(rename = "use")]
    use_: &'static str,
    alg: &'static str,
    #[serde(rename = "permitd:not_before")]
    not_before: Date,
    #[serde(rename = "permitd:not_after")]
    not_after: Option<Date>,
}

fn parse_jwk(value: &Value) -> Result<PublicKey, JwkProblem> {
    let map = value.as_object().ok_or(JwkProblem::NotAnObject)?;
    let kty = required(map, "kty")?;
    if kty != "OKP" {
        return Err(JwkProblem::KeyType(kty.to_owned()));
    }
    let crv = required(map, "crv")?;
    if crv != "Ed25519" {
        return Err(JwkProblem::Curve(crv.to_owned()));
    }
    if map.contains_key("d") {
        return Err(JwkProblem::PrivateKey);
    }
    if let Some(use_) = optional(map, "use")? {
        if use_ != "sig" {
            return Err(JwkProblem::Use(use_.to_owned()));
        }
    }
    if let Some(alg) = optional(map, "alg")? {
        if alg != "EdDSA" {
            return Err(JwkProblem::Algorithm(alg.to_owned()));
        }
    }
    let x = BASE64URL_NOPAD
        .decode(required(map, "x")?.as_bytes())
        .map_err(|_| JwkProblem::XEncoding)?;
    let x: [u8; 32] = x
        .as_slice()
        .try_into()
        .map_err(|_| JwkProblem::XLength(x.len()))?;
    let key = VerifyingKey::from_bytes(&x).map_err(|_| JwkProblem::InvalidPoint)?;
    let kid = required(map, "kid")?;
    let expected = Kid::of(&key);
    if Kid::parse(kid) != Some(expected) {
        return Err(JwkProblem::KidMismatch {
            got: kid.to_owned(),
            expected,
        });
    }
    let date = |member: &'static str, text: &str| {
        Date::parse(text).map_err(|_| JwkProblem::Date {
            member,
            text: text.to_owned(),
        })
    };
    let not_before = date(JWK_NOT_BEFORE, required(map, JWK_NOT_BEFORE)?)?;
    let not_after = optional(map, JWK_NOT_AFTER)?
        .map(|text| date(JWK_NOT_AFTER, text))
        .transpose()?;
    PublicKey::new(key, not_before, not_after)
}

fn required<'a>(map: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, JwkProblem> {
    optional(map, name)?.ok_or(JwkProblem::Missing(name))
}

/// A string member, `None` when absent or `null`.
fn optional<'a>(
    map: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, JwkProblem> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(JwkProblem::NotAString(name)),
    }
}
