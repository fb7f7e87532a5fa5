//! Sealing: what the writer signs for each permit, and the key files of a data directory.
//!
//! A permit's [`Seal`] holds the signed QR payload of its current version (signatures are
//! deterministic, so whoever signs a version makes the same code and the printed code never
//! changes) and the attestation of the state `Seal::sequence` names (signed for each state just
//! after the writer acknowledges it, renewed when older than [`ATTESTATION_RENEW_AGE`]). Only
//! processes that hold the signing key seal: the writer (its sealing stage,
//! `crate::writer::sealing`, and compaction) and `permitd snapshot build`. Resolvers read the
//! seals from the snapshot and the change log, and the public keys from
//! [`PUBLIC_KEYS_FILE`]; they never open the private key.
//!
//! ```text
//! DIR/keys/signing.key   PKCS#8 PEM, mode 0600: the writer's (default of --signing-key)
//! DIR/keys/public.jwks   JWK Set of every key that ever signed here, with validity dates
//! ```

use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use crate::domain::permit::{QrText, Seal, QR_PAYLOAD_CHARS};
use crate::domain::{Date, Permit};
use crate::trust::attestation::Attestation;
use crate::trust::keys::{KeyError, Kid, PublicKey, PublicKeySet, SigningKey};
use crate::trust::offline::OfflineError;
use crate::trust::payload::{QrPayload, SignedQr, PAYLOAD_CHARS};

const _: () = assert!(PAYLOAD_CHARS == QR_PAYLOAD_CHARS);

/// The key directory inside a data directory.
pub const KEYS_DIR: &str = "keys";
/// The private key's default file name inside [`KEYS_DIR`].
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// The public key set's file name inside [`KEYS_DIR`]; resolvers serve it.
pub const PUBLIC_KEYS_FILE: &str = "public.jwks";

/// The writer compacts when an attestation reaches this age, so each is renewed at least 12
/// hours before it expires (`ATTESTATION_LIFETIME` is 24 h), like an OCSP responder refreshing
/// well before `nextUpdate`.
pub const ATTESTATION_RENEW_AGE: Duration = Duration::hours(12);

/// What a compaction started for renewal signs again: everything at least this old, so the
/// next renewal falls due no sooner than 6 hours later (not at once, as it would if attestation
/// ages are spread out and only those past 12 h were renewed).
pub const ATTESTATION_RENEW_BATCH_AGE: Duration = Duration::hours(6);

/// The issue dates a key signs for start here unless its `keys gen` key set says otherwise:
/// offline verifiers check that the key was valid on a code's issue date, and a key seals
/// versions issued before it existed (the register when a directory is first built, a feed that
/// arrives days after its 制证日期, every permit again after a rotation).
pub fn first_key_not_before() -> Date {
    Date::from_ymd(2020, 1, 1).expect("a valid date")
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("public key set {}: {why}", path.display())]
    PublicKeys { path: PathBuf, why: String },
}

/// The writer's signer: one key, the newest.
pub struct Sealer {
    key: SigningKey,
}

impl Sealer {
    pub fn new(key: SigningKey) -> Sealer {
        Sealer { key }
    }

    pub fn kid(&self) -> Kid {
        self.key.kid()
    }

    /// Seals `permit` as it is now: the QR payload of its version (kept when the seal already
    /// has this version's), and a new attestation of its state at `now`.
    pub fn seal(&self, permit: &mut Permit, now: OffsetDateTime) {
        let qr = match permit.seal.take() {
            Some(Seal { qr: Some(qr), .. }) if payload_version(&qr) == Some(permit.version) => {
                Some(qr)
            }
            _ => self.sign_qr(permit),
        };
        let attestation = Attestation::for_permit(permit, permit.sequence, now);
        permit.seal = Some(Seal {
            qr,
            attestation: attestation.sign(&self.key),
            sequence: permit.sequence,
            attested_at: attestation.produced_at.unix_timestamp(),
            attestation_expires: attestation.valid_until.unix_timestamp(),
        });
    }

    /// Gives `permit` its version's signed code when its seal has none (or one of another
    /// version), leaving the attestation as it is. Returns whether it signed.
    pub fn give_code(&self, permit: &mut Permit) -> bool {
        let has = permit.seal.as_ref().and_then(|s| s.qr.as_ref());
        if has.is_some_and(|qr| payload_version(qr) == Some(permit.version)) {
            return false;
        }
        let Some(qr) = self.sign_qr(permit) else {
            return false;
        };
        match permit.seal.as_mut() {
            Some(seal) => seal.qr = Some(qr),
            None => permit.seal = Some(Seal::code_only(qr)),
        }
        true
    }

    /// Seals `permit` when its state is not attested (no seal, or one of an earlier state), or
    /// signs its attestation again when it is at least `age` old. Returns whether it signed.
    pub fn renew_older_than(
        &self,
        permit: &mut Permit,
        now: OffsetDateTime,
        age: Duration,
    ) -> bool {
        let due = permit
            .attested()
            .is_none_or(|s| now.unix_timestamp() - s.attested_at >= age.whole_seconds());
        if due {
            self.seal(permit, now);
        }
        due
    }

    /// [`Sealer::renew_older_than`] [`ATTESTATION_RENEW_AGE`] over every permit, on every core.
    /// Returns how many were signed.
    pub fn renew_all(&self, permits: &mut [Permit], now: OffsetDateTime) -> usize {
        self.renew_all_older_than(permits, now, ATTESTATION_RENEW_AGE)
    }

    /// [`Sealer::renew_all`] with another age.
    pub fn renew_all_older_than(
        &self,
        permits: &mut [Permit],
        now: OffsetDateTime,
        age: Duration,
    ) -> usize {
        on_every_core(permits, |permit| self.renew_older_than(permit, now, age))
    }

    /// [`Sealer::seal`] of every permit, on every core.
    pub fn seal_all(&self, permits: &mut [Permit], now: OffsetDateTime) {
        on_every_core(permits, |permit| {
            self.seal(permit, now);
            true
        });
    }

    fn sign_qr(&self, permit: &Permit) -> Option<QrText> {
        // The registry keeps versions, dates and licence types within the format, so this fails
        // only for a record it never accepted.
        let payload = QrPayload::for_permit(permit, self.kid()).ok()?;
        let signed = payload.sign(&self.key).ok()?;
        signed.to_text().into_bytes().try_into().ok()
    }
}

/// When an attestation signed at `attested_at` (Unix seconds) falls due for renewal.
pub fn renewal_at(attested_at: i64) -> i64 {
    attested_at.saturating_add(ATTESTATION_RENEW_AGE.whole_seconds())
}

/// When a snapshot's oldest attestation falls due (from its header); `None` for a snapshot
/// without records. An unsealed record is due at once.
pub fn renewal_due(header: &crate::snapshot::format::Header) -> Option<i64> {
    (header.oldest_attestation != i64::MAX).then(|| renewal_at(header.oldest_attestation))
}

/// Runs `work` on every item, the items shared out over the cores (inline when there are too
/// few to be worth a thread); returns how many calls returned true.
fn on_every_core<T: Send>(items: &mut [T], work: impl Fn(&mut T) -> bool + Sync) -> usize {
    const SHARED_FROM: usize = 16;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < SHARED_FROM || threads == 1 {
        return items.iter_mut().map(|item| usize::from(work(item))).sum();
    }
    let chunk = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks_mut(chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter_mut()
                        .map(|item| usize::from(work(item)))
                        .sum::<usize>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a sealing thread does not panic"))
            .sum()
    })
}

/// The permit number key and version a payload's text names (bytes 1–6 and 7–8, docs/qr.md
/// §1), read from its first 16 characters (10 bytes) in either case; `None` when those are not
/// base32 or the format is not 1.
#[inline]
pub fn payload_head(text: &[u8]) -> Option<(u64, u32)> {
    const HEAD_CHARS: usize = 16;
    let mut upper = [0u8; HEAD_CHARS];
    upper.copy_from_slice(text.get(..HEAD_CHARS)?);
    upper.make_ascii_uppercase();
    let mut head = [0u8; 10];
    data_encoding::BASE32_NOPAD
        .decode_mut(&upper, &mut head)
        .ok()?;
    if head[0] != crate::trust::payload::FORMAT_VERSION {
        return None;
    }
    let mut key = [0u8; 8];
    key[..6].copy_from_slice(&head[1..7]);
    let version = u16::from_le_bytes([head[7], head[8]]);
    Some((u64::from_le_bytes(key), u32::from(version)))
}

/// The permit version a stored payload names.
pub fn payload_version(qr: &QrText) -> Option<u32> {
    payload_head(qr).map(|(_, version)| version)
}

/// A stored payload text, parsed (it was signed by this system, so it parses).
pub fn stored_payload(qr: &QrText) -> Option<SignedQr> {
    SignedQr::decode_text(std::str::from_utf8(qr).ok()?).ok()
}

/// `DIR/keys/public.jwks`.
pub fn public_keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_DIR).join(PUBLIC_KEYS_FILE)
}

/// `DIR/keys/signing.key`, the default of `--signing-key`.
pub fn default_signing_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_DIR).join(SIGNING_KEY_FILE)
}

/// Reads a data directory's public key set; `None` when the file does not exist yet.
///
/// # Errors
/// When the file exists but cannot be read or is not a valid JWK Set.
pub fn read_public_keys(data_dir: &Path) -> Result<Option<PublicKeySet>, SealError> {
    let path = public_keys_path(data_dir);
    match crate::trust::offline::load_key_set(&path) {
        Ok(set) => Ok(Some(set)),
        Err(OfflineError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(SealError::PublicKeys {
            path,
            why: e.to_string(),
        }),
    }
}

/// What [`open_signing_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    Loaded,
    /// No key file existed: a new key was generated and saved (mode 0600).
    Created,
}

/// The signing key of the data directory `data_dir`: the file `path` (default
/// `DIR/keys/signing.key`) loaded, or generated and saved with mode 0600 when it does not exist.
/// Its public key is added to `DIR/keys/public.jwks` before anything is signed with it, valid
/// from the `permitd:not_before` of the key set `keys gen` wrote beside it (`FILE.jwks`) when
/// there is one, else from [`first_key_not_before`].
///
/// # Errors
/// When the key file exists but is unreadable, too open (mode) or not a key, or the public key
/// set cannot be read or written.
pub fn open_signing_key(
    data_dir: &Path,
    path: Option<&Path>,
) -> Result<(Sealer, KeyOrigin), SealError> {
    let path = path.map_or_else(|| default_signing_key_path(data_dir), Path::to_owned);
    let (key, origin) = match SigningKey::load(&path) {
        Ok(key) => (key, KeyOrigin::Loaded),
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_key_dir(dir).map_err(|source| KeyError::Io {
                    action: "creating the directory of",
                    path: path.clone(),
                    source,
                })?;
            }
            let key = SigningKey::generate()?;
            key.save(&path)?;
            (key, KeyOrigin::Created)
        }
        Err(e) => return Err(e.into()),
    };
    publish_public_key(data_dir, &key, &path)?;
    Ok((Sealer::new(key), origin))
}

/// The key directory is readable by others (0755): resolvers, often another user, read
/// `public.jwks` there; the private key file itself is 0600 and refused when it is not.
fn create_key_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
}

/// Adds `key`'s public half to the data directory's key set unless it is there.
fn publish_public_key(data_dir: &Path, key: &SigningKey, key_path: &Path) -> Result<(), SealError> {
    let path = public_keys_path(data_dir);
    let fail = |why: String| SealError::PublicKeys {
        path: path.clone(),
        why,
    };
    let mut set = read_public_keys(data_dir)?.unwrap_or_default();
    if set.get(key.kid()).is_some() {
        return Ok(());
    }
    let mut sibling = key_path.as_os_str().to_owned();
    sibling.push(".jwks");
    let not_before = crate::trust::offline::load_key_set(Path::new(&sibling))
        .ok()
        .and_then(|own| own.get(key.kid()).map(PublicKey::not_before))
        .unwrap_or_else(first_key_not_before);
    let public =
        PublicKey::new(key.verifying_key(), not_before, None).map_err(|e| fail(e.to_string()))?;
    set.insert(public).map_err(|e| fail(e.to_string()))?;
    let dir = data_dir.join(KEYS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
    crate::fsutil::write_atomically(&path, set.to_jwks().as_bytes())
        .map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permit() -> Permit {
        crate::trust::tests::example_permit()
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn a_seal_keeps_the_versions_code_and_renews_the_attestation() {
        // The printed code is signed once per version; the attestation at every seal.
        let sealer = Sealer::new(SigningKey::from_seed(&[7; 32]));
        let mut permit = permit();
        sealer.seal(&mut permit, at(1_780_000_000));
        let first = permit.seal.clone().unwrap();
        let qr = stored_payload(&first.qr.unwrap()).unwrap();
        assert_eq!(qr.payload().version(), permit.version);
        assert_eq!(qr.payload().kid(), sealer.kid());

        sealer.seal(&mut permit, at(1_780_000_100));
        let second = permit.seal.clone().unwrap();
        assert_eq!(second.qr, first.qr, "same version, same code");
        assert_ne!(second.attestation, first.attestation);
        assert_eq!(second.attested_at, 1_780_000_100);

        permit.version += 1;
        sealer.seal(&mut permit, at(1_780_000_200));
        let third = permit.seal.clone().unwrap();
        assert_ne!(third.qr, first.qr, "a new version, a new code");
        assert_eq!(payload_version(&third.qr.unwrap()), Some(permit.version));
    }

    #[test]
    fn the_head_of_a_payload_names_its_permit_and_version_in_either_case() {
        // What the resolver's scan reads before its comparison: 16 characters, no more.
        let sealer = Sealer::new(SigningKey::from_seed(&[7; 32]));
        let mut permit = permit();
        sealer.seal(&mut permit, at(1_780_000_000));
        let text = permit.seal.unwrap().qr.unwrap();
        let expected = Some((permit.number.key(), permit.version));
        assert_eq!(payload_head(&text), expected);
        assert_eq!(payload_head(&text.to_ascii_lowercase()), expected);
        assert_eq!(payload_head(&text[..15]), None, "too short");
        let mut junk = text;
        junk[3] = b'1';
        assert_eq!(payload_head(&junk), None, "not base32");
        // Format byte 0 instead of 1: "AA…" decodes to a zero first byte.
        let mut other_format = text;
        other_format[..2].copy_from_slice(b"AA");
        assert_eq!(payload_head(&other_format), None);
    }

    #[test]
    fn an_end_date_bounds_the_attestation_only_while_the_licence_is_in_force() {
        // A licence in force ending today: the attestation ends with it, at midnight (its state
        // changes then). A revoked one ending today changes nothing then: 24 hours.
        use crate::domain::LicenceState;
        let sealer = Sealer::new(SigningKey::from_seed(&[7; 32]));
        let now = at(1_780_000_000);
        let today = Date::in_beijing(now.unix_timestamp());
        let mut permit = permit();
        for licence in &mut permit.licences {
            licence.valid_until = Some(today);
        }
        sealer.seal(&mut permit, now);
        let bounded = permit.seal.clone().unwrap();
        assert!(bounded.attestation_expires > now.unix_timestamp());
        assert!(bounded.attestation_expires < now.unix_timestamp() + 86_400);
        for licence in &mut permit.licences {
            licence.state = LicenceState::Revoked;
        }
        sealer.seal(&mut permit, now);
        let revoked = permit.seal.unwrap();
        assert_eq!(
            revoked.attestation_expires,
            now.unix_timestamp() + 86_400,
            "only the lifetime bounds it"
        );
    }

    #[test]
    fn renewal_signs_only_what_is_due() {
        let sealer = Sealer::new(SigningKey::from_seed(&[7; 32]));
        let t0 = 1_780_000_000;
        let mut permits = vec![permit(), permit(), permit()];
        assert_eq!(sealer.renew_all(&mut permits, at(t0)), 3, "unsealed: all");
        let age = ATTESTATION_RENEW_AGE.whole_seconds();
        assert_eq!(sealer.renew_all(&mut permits, at(t0 + age - 1)), 0);
        assert_eq!(sealer.renew_all(&mut permits, at(t0 + age)), 3);
        assert!(permits
            .iter()
            .all(|p| p.seal.as_ref().unwrap().attested_at == t0 + age));
    }

    #[test]
    fn the_first_key_is_created_private_and_published() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (sealer, origin) = open_signing_key(dir.path(), None).unwrap();
        assert_eq!(origin, KeyOrigin::Created);
        let key_path = default_signing_key_path(dir.path());
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let set = read_public_keys(dir.path()).unwrap().unwrap();
        let public = set.get(sealer.kid()).unwrap();
        assert_eq!(public.not_before(), first_key_not_before());

        // Opened again: the same key, the set unchanged.
        let (again, origin) = open_signing_key(dir.path(), None).unwrap();
        assert_eq!((again.kid(), origin), (sealer.kid(), KeyOrigin::Loaded));
        assert_eq!(read_public_keys(dir.path()).unwrap().unwrap().len(), 1);

        // A rotated key joins the set, valid from the date its own key set names; the old one
        // stays.
        let other = dir.path().join("other.key");
        let next = SigningKey::from_seed(&[9; 32]);
        next.save(&other).unwrap();
        let from = Date::from_ymd(2026, 12, 3).unwrap();
        let mut own = PublicKeySet::new();
        own.insert(PublicKey::new(next.verifying_key(), from, None).unwrap())
            .unwrap();
        std::fs::write(dir.path().join("other.key.jwks"), own.to_jwks()).unwrap();
        let (rotated, _) = open_signing_key(dir.path(), Some(&other)).unwrap();
        let set = read_public_keys(dir.path()).unwrap().unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.get(rotated.kid()).unwrap().not_before(), from);
        assert!(set.get(sealer.kid()).is_some());
    }
}
