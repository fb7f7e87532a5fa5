//! Tests of keys, the QR payload and attestations: round trips, the worked example of
//! `docs/qr.md` (`tests/vectors/qr-v1.json`), forgeries, and interop with OpenSSL.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use time::OffsetDateTime;

use super::attestation::{ATTESTATION_LIFETIME, JWS_TYPE};
use super::keys::KID_BYTES;
use super::payload::{CATALOG_LICENCE_TYPES, PAYLOAD_BYTES, PAYLOAD_CHARS, UNSIGNED_BYTES};
use super::*;
use crate::catalog::{Catalog, LicenceTypeId};
use crate::codes::{PermitNumber, Uscc};
use crate::domain::{Date, Licence, LicenceState, Permit, PermitStatus};

/// RFC 8032 §7.1 TEST 1 secret key: its public key is d75a9801…511a, so any Ed25519 library can
/// confirm the example's key before checking the example's signature.
const EXAMPLE_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const EXAMPLE_BASE_URL: &str = "https://permit.bjfsh.gov.cn";
pub(crate) const VECTOR_PATH: &str = "tests/vectors/qr-v1.json";
const DOC_PATH: &str = "docs/qr.md";

pub(crate) fn d(text: &str) -> Date {
    Date::parse(text).unwrap()
}

pub(crate) fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

pub(crate) fn example_key() -> SigningKey {
    let seed: [u8; 32] = HEXLOWER
        .decode(EXAMPLE_SEED.as_bytes())
        .unwrap()
        .try_into()
        .unwrap();
    SigningKey::from_seed(&seed)
}

pub(crate) fn other_key() -> SigningKey {
    SigningKey::from_seed(&[7; 32])
}

fn catalog() -> Catalog {
    Catalog::embedded().unwrap()
}

pub(crate) fn set_of(keys: &[(&SigningKey, &str, Option<&str>)]) -> PublicKeySet {
    let mut set = PublicKeySet::new();
    for (key, not_before, not_after) in keys {
        set.insert(PublicKey::new(key.verifying_key(), d(not_before), not_after.map(d)).unwrap())
            .unwrap();
    }
    set
}

/// The example key, valid 2026-01-01 to 2027-12-31.
fn example_set() -> PublicKeySet {
    set_of(&[(&example_key(), "2026-01-01", Some("2027-12-31"))])
}

fn licence(id: u16, state: LicenceState, valid_until: Option<&str>) -> Licence {
    Licence {
        licence_type: LicenceTypeId(id),
        certificate_number: (state != LicenceState::NotGranted).then(|| format!("JY{id:02}0001")),
        state,
        on_commitment: false,
        valid_from: Some(d("2025-01-05")),
        valid_until: valid_until.map(d),
        state_reason: None,
        state_changed_on: None,
    }
}

/// A restaurant (category 03): food and tobacco licensed, the sewage permit not yet (未许可).
pub(crate) fn example_permit() -> Permit {
    Permit {
        number: PermitNumber::parse("110111ZH0300042F").unwrap(),
        version: 2,
        operator_name: "北京房山良乡示例餐饮有限公司".into(),
        uscc: Uscc::from_body(b"91110111MA01C8DE7").unwrap(),
        legal_representative: "张三".into(),
        premises: "北京市房山区良乡镇拱辰大街1号".into(),
        issuing_authority: "北京市房山区政务服务和数据管理局".into(),
        issued_on: d("2026-01-05"),
        licences: vec![
            licence(5, LicenceState::Valid, Some("2030-01-04")),
            licence(7, LicenceState::Valid, Some("2026-12-31")),
            licence(8, LicenceState::NotGranted, None),
        ],
        status: PermitStatus::Active,
        superseded_versions: vec![],
        sequence: 9001,
        seal: None,
    }
}

fn signed(permit: &Permit, key: &SigningKey) -> SignedQr {
    QrPayload::for_permit(permit, key.kid())
        .unwrap()
        .sign(key)
        .unwrap()
}

/// Runs `openssl`, failing loudly when it is not installed.
fn openssl<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Output {
    match Command::new("openssl").args(args).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "this test needs the `openssl` command-line tool, OpenSSL >= 1.1.1 (Debian/Ubuntu \
             package `openssl`: apt-get install openssl): {e}"
        ),
    }
}

fn openssl_ok<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Vec<u8> {
    let output = openssl(args);
    assert!(
        output.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Keys

#[test]
fn kid_is_truncated_blake3_of_the_public_key() {
    // Proves the documented derivation: 8 bytes of BLAKE3(public key), 11 base64url characters.
    let key = example_key();
    let hash = blake3::hash(key.verifying_key().as_bytes());
    assert_eq!(key.kid().0, hash.as_bytes()[..KID_BYTES]);
    let text = key.kid().to_string();
    assert_eq!(text.len(), 11);
    assert_eq!(Kid::parse(&text), Some(key.kid()));
    assert_eq!(Kid::parse(&text[1..]), None);
    assert_eq!(Kid::parse("!!!!!!!!!!!"), None);
    assert_eq!(
        HEXLOWER.encode(key.verifying_key().as_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "RFC 8032 TEST 1 public key"
    );
    // The PKCS#8 v1 PEM shown in docs/qr.md §3.3: the fixed prefix 302e0201…0420 ‖ seed.
    let pem = key.to_pkcs8_pem();
    let body = "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g";
    assert_eq!(
        pem.as_str(),
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
    );
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC_PATH));
    assert!(doc.unwrap().contains(body));
}

#[test]
fn signatures_are_rfc_8032_and_equal_to_dalek_s() {
    // Keys sign through AWS-LC; Ed25519 is deterministic, so they must give dalek's bytes.
    use ed25519_dalek::Signer;
    let key = example_key();
    assert_eq!(
        HEXLOWER.encode(&key.sign_raw(b"")),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e\
         39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        "RFC 8032 TEST 1 signature"
    );
    for key in [
        example_key(),
        other_key(),
        SigningKey::from_seed(&[0xa5; 32]),
    ] {
        let dalek = ed25519_dalek::SigningKey::from_bytes(&key_seed(&key));
        for len in [0usize, 1, 63, 64, 116, 117, 500, 4096] {
            let message: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            let ours = key.sign_raw(&message);
            assert_eq!(ours, dalek.sign(&message).to_bytes(), "{len} bytes");
            assert!(dalek
                .verifying_key()
                .verify_strict(&message, &ours.into())
                .is_ok());
        }
    }
}

/// A key's RFC 8032 seed, read back from its PKCS#8 file (the only way out of a `SigningKey`).
fn key_seed(key: &SigningKey) -> [u8; 32] {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    ed25519_dalek::SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem())
        .expect("our own PEM")
        .to_bytes()
}

#[test]
fn key_file_is_created_0600_and_never_overwritten() {
    // Proves save creates mode 0600, refuses an existing file, and save_replacing swaps it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("writer.key");
    let key = SigningKey::generate().unwrap();
    key.save(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert_eq!(SigningKey::load(&path).unwrap().kid(), key.kid());

    let second = SigningKey::generate().unwrap();
    assert_ne!(second.kid(), key.kid());
    assert!(matches!(second.save(&path), Err(KeyError::Exists { .. })));
    assert_eq!(SigningKey::load(&path).unwrap().kid(), key.kid());

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    second.save_replacing(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the replacement is a new 0600 file");
    assert_eq!(SigningKey::load(&path).unwrap().kid(), second.kid());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
}

#[test]
fn load_refuses_loose_modes_and_malformed_contents() {
    // Proves load names the mode of a group/other-accessible file and rejects non-keys.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("writer.key");
    example_key().save(&path).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let error = SigningKey::load(&path).unwrap_err();
        assert!(
            matches!(error, KeyError::Permissions { mode: m, .. } if m == mode),
            "{error}"
        );
        assert!(
            error.to_string().contains(&format!("mode {mode:04o}")),
            "{error}"
        );
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert_eq!(SigningKey::load(&path).unwrap().kid(), example_key().kid());

    let bad = dir.path().join("bad.key");
    for text in [
        "hello".to_owned(),
        example_key().public_key_pem(),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
    ] {
        let _ = std::fs::remove_file(&bad);
        write_private(&bad, &text);
        let error = SigningKey::load(&bad).unwrap_err();
        assert!(matches!(error, KeyError::Malformed { .. }), "{error}");
        assert!(error.to_string().contains("PKCS#8 PEM Ed25519"), "{error}");
    }
    std::fs::remove_file(&bad).unwrap();
    write_private(&bad, &"A".repeat(5000));
    assert!(matches!(
        SigningKey::load(&bad),
        Err(KeyError::TooLarge { .. })
    ));
    assert!(matches!(
        SigningKey::load(dir.path()),
        Err(KeyError::NotAFile { .. })
    ));
    assert!(matches!(
        SigningKey::load(&dir.path().join("missing")),
        Err(KeyError::Io { .. })
    ));
    assert!(
        !format!("{:?}", example_key()).contains("9d61"),
        "Debug hides the secret"
    );
}

#[test]
fn newest_valid_key_signs() {
    // Proves signing_key_on picks the valid key with the latest not_before.
    let old = example_key();
    let new = other_key();
    let set = set_of(&[
        (&old, "2024-01-01", Some("2026-12-31")),
        (&new, "2026-06-01", None),
    ]);
    let on = |date| set.signing_key_on(d(date)).map(|k| k.kid());
    assert_eq!(on("2023-12-31"), None);
    assert_eq!(on("2026-03-01"), Some(old.kid()));
    assert_eq!(on("2026-06-01"), Some(new.kid()));
    assert_eq!(on("2030-01-01"), Some(new.kid()));
}

#[test]
fn jwks_round_trips_with_validity_dates() {
    // Proves to_jwks writes RFC 8037 OKP keys with our date members and from_jwks reads them.
    let set = set_of(&[
        (&example_key(), "2026-01-01", Some("2027-12-31")),
        (&other_key(), "2027-06-01", None),
    ]);
    let text = set.to_jwks();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = &json["keys"][0];
    assert_eq!(first["kty"], "OKP");
    assert_eq!(first["crv"], "Ed25519");
    assert_eq!(first["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"); // RFC 8037 A.2
    assert_eq!(first["use"], "sig");
    assert_eq!(first["alg"], "EdDSA");
    assert_eq!(first["permitd:not_before"], "2026-01-01");
    assert_eq!(first["permitd:not_after"], "2027-12-31");
    assert!(json["keys"][1]["permitd:not_after"].is_null());
    assert_eq!(PublicKeySet::from_jwks(&text).unwrap(), set);
}

#[test]
fn jwks_parsing_names_each_problem() {
    // Proves untrusted JWK Sets are validated member by member, with the problem named.
    let key = example_key();
    let x = BASE64URL_NOPAD.encode(key.verifying_key().as_bytes());
    let kid = key.kid().to_string();
    let good = serde_json::json!({"kty":"OKP","crv":"Ed25519","x":x,"kid":kid,"use":"sig",
        "alg":"EdDSA","permitd:not_before":"2026-01-01","permitd:not_after":"2027-12-31"});
    let with = |member: &str, value: serde_json::Value| {
        let mut jwk = good.clone();
        if value.is_null() {
            jwk.as_object_mut().unwrap().remove(member);
        } else {
            jwk[member] = value;
        }
        serde_json::json!({ "keys": [jwk] }).to_string()
    };
    let problem = |text: String| match PublicKeySet::from_jwks(&text) {
        Err(JwksError::Key { index: 0, problem }) => problem,
        other => panic!("{other:?}"),
    };
    use serde_json::json;
    assert!(PublicKeySet::from_jwks(&with("use", json!(null))).is_ok());
    assert_eq!(
        problem(with("kty", json!("RSA"))),
        JwkProblem::KeyType("RSA".into())
    );
    assert_eq!(
        problem(with("crv", json!("X25519"))),
        JwkProblem::Curve("X25519".into())
    );
    assert_eq!(problem(with("x", json!(null))), JwkProblem::Missing("x"));
    assert_eq!(problem(with("x", json!(12))), JwkProblem::NotAString("x"));
    assert_eq!(problem(with("x", json!("AAAA="))), JwkProblem::XEncoding);
    let short = BASE64URL_NOPAD.encode(&[1u8; 31]);
    let error = problem(with("x", json!(short)));
    assert_eq!(error, JwkProblem::XLength(31));
    assert!(error.to_string().contains("32"), "{error}");
    assert_eq!(
        problem(with("d", json!("c2VjcmV0"))),
        JwkProblem::PrivateKey
    );
    assert_eq!(
        problem(with("alg", json!("HS256"))),
        JwkProblem::Algorithm("HS256".into())
    );
    assert_eq!(
        problem(with("use", json!("enc"))),
        JwkProblem::Use("enc".into())
    );
    assert!(matches!(
        problem(with("kid", json!("AAAAAAAAAAA"))),
        JwkProblem::KidMismatch { .. }
    ));
    assert_eq!(
        problem(with("permitd:not_before", json!(null))),
        JwkProblem::Missing("permitd:not_before")
    );
    assert!(matches!(
        problem(with("permitd:not_after", json!("2027-02-30"))),
        JwkProblem::Date { .. }
    ));
    assert!(matches!(
        problem(with("permitd:not_after", json!("2025-12-31"))),
        JwkProblem::Window { .. }
    ));
    // A small-order point (the identity) is a valid encoding but no key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak_kid = Kid::of(&ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap());
    let mut jwk = good.clone();
    jwk["x"] = json!(BASE64URL_NOPAD.encode(&identity));
    jwk["kid"] = json!(weak_kid.to_string());
    assert_eq!(
        problem(json!({ "keys": [jwk] }).to_string()),
        JwkProblem::WeakKey
    );

    let twice = json!({ "keys": [good.clone(), good.clone()] }).to_string();
    assert_eq!(
        PublicKeySet::from_jwks(&twice),
        Err(JwksError::DuplicateKid(key.kid()))
    );
    assert_eq!(
        PublicKeySet::from_jwks(r#"{"keys":[]}"#),
        Err(JwksError::Empty)
    );
    assert!(matches!(
        PublicKeySet::from_jwks("[1,2]"),
        Err(JwksError::Json(_))
    ));
    assert!(matches!(
        PublicKeySet::from_jwks(r#"{"keys":[1]}"#),
        Err(JwksError::Key {
            problem: JwkProblem::NotAnObject,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// QR payload

#[test]
fn payload_round_trips_through_bytes_text_and_url() {
    // Proves to_bytes/parse, to_text/decode_text and to_url/decode_text are inverse, any case.
    let key = example_key();
    let qr = signed(&example_permit(), &key);
    let bytes = qr.to_bytes();
    assert_eq!(bytes.len(), PAYLOAD_BYTES);
    assert_eq!(SignedQr::parse(&bytes).unwrap(), qr);
    let text = qr.to_text();
    assert_eq!(text.len(), PAYLOAD_CHARS);
    assert!(text
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    let url = qr.to_url(EXAMPLE_BASE_URL);
    assert!(url.starts_with("HTTPS://PERMIT.BJFSH.GOV.CN/Q/"), "{url}");
    for candidate in [
        text.clone(),
        text.to_ascii_lowercase(),
        url.clone(),
        url.to_ascii_lowercase(),
        format!("  {url}\n"),
        format!("http://localhost:8080/q/{}", text.to_ascii_lowercase()),
    ] {
        assert_eq!(
            SignedQr::decode_text(&candidate).unwrap(),
            qr,
            "{candidate}"
        );
    }
    assert_eq!(
        qr.to_url("https://permit.bjfsh.gov.cn/Base/"),
        format!("HTTPS://PERMIT.BJFSH.GOV.CN/Base/Q/{text}")
    );

    let p = qr.payload();
    assert_eq!(p.number().as_str(), "110111ZH0300042F");
    assert_eq!(p.version(), 2);
    assert_eq!(p.uscc(), &example_permit().uscc);
    assert_eq!(p.issued_on(), d("2026-01-05"));
    assert_eq!(
        p.items().collect::<Vec<_>>(),
        [LicenceTypeId(5), LicenceTypeId(7)],
        "未许可 L08 is not a licensed item"
    );
    assert_eq!(p.kid(), key.kid());
    assert_eq!(p.face_hash(), &permit_face_hash(&example_permit()));
}

#[test]
fn every_credit_code_character_packs_and_unpacks() {
    // Proves the base-31 packing is lossless, for letters in every position and the extremes.
    let alphabet = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let key = example_key();
    let mut permit = example_permit();
    for (i, &c) in alphabet.iter().enumerate() {
        let mut body = [c; 17];
        body[i % 17] = alphabet[(i * 7 + 3) % 31];
        permit.uscc = Uscc::from_body(&body).unwrap();
        let back = SignedQr::parse(&signed(&permit, &key).to_bytes()).unwrap();
        assert_eq!(back.payload().uscc(), &permit.uscc);
    }
    for code in [
        "Y1110111MA00000A95",
        "91110000802100433B",
        "914403001922038216",
    ] {
        permit.uscc = Uscc::parse(code).unwrap();
        let back = SignedQr::parse(&signed(&permit, &key).to_bytes()).unwrap();
        assert_eq!(back.payload().uscc().as_str(), code);
    }
}

#[test]
fn parse_checks_structure() {
    // Proves each structural rule of SignedQr::parse and decode_text, with its error.
    let qr = signed(&example_permit(), &example_key());
    let bytes = qr.to_bytes();
    let with = |at: usize, value: &[u8]| {
        let mut b = bytes;
        b[at..at + value.len()].copy_from_slice(value);
        SignedQr::parse(&b)
    };
    assert_eq!(
        SignedQr::parse(&bytes[..115]),
        Err(PayloadError::Length {
            got: 115,
            expected: 116
        })
    );
    assert_eq!(with(0, &[2]), Err(PayloadError::FormatVersion { got: 2 }));
    assert!(matches!(
        with(1, &[0; 6]),
        Err(PayloadError::PermitNumber { key: 0 })
    ));
    assert_eq!(with(7, &[0, 0]), Err(PayloadError::PermitVersion));
    assert!(matches!(
        with(9, &[0xFF; 12]),
        Err(PayloadError::CreditCode(_))
    ));
    // Bit 35 is L36: beyond the catalogue.
    assert_eq!(
        with(23, &[0, 0, 0, 0, 0b1000]),
        Err(PayloadError::LicenceType { id: 36 })
    );
    let text = qr.to_text();
    assert!(matches!(
        SignedQr::decode_text(&text[1..]),
        Err(PayloadError::TextLength { got: 185, .. })
    ));
    let mut bad = text.clone().into_bytes();
    bad[10] = b'1';
    assert_eq!(
        SignedQr::decode_text(std::str::from_utf8(&bad).unwrap()),
        Err(PayloadError::TextCharacter { position: 11 })
    );
    assert!(SignedQr::decode_text(&format!("{}=", &text[1..])).is_err());
}

#[test]
fn for_permit_refuses_what_does_not_fit() {
    // Proves EncodeError for an oversized version, a date before 1970, a type beyond L35, and a
    // signature by a key other than the one named.
    let kid = example_key().kid();
    let mut permit = example_permit();
    permit.version = 70_000;
    assert_eq!(
        QrPayload::for_permit(&permit, kid),
        Err(EncodeError::Version(70_000))
    );
    let mut permit = example_permit();
    permit.issued_on = d("1969-12-31");
    assert!(matches!(
        QrPayload::for_permit(&permit, kid),
        Err(EncodeError::Date(_))
    ));
    let mut permit = example_permit();
    permit.licences.push(licence(36, LicenceState::Valid, None));
    assert_eq!(
        QrPayload::for_permit(&permit, kid),
        Err(EncodeError::LicenceType(LicenceTypeId(36)))
    );
    let payload = QrPayload::for_permit(&example_permit(), kid).unwrap();
    assert!(matches!(
        payload.sign(&other_key()),
        Err(EncodeError::KidMismatch { .. })
    ));
}

#[test]
fn catalogue_size_matches_the_payload_bitmap_limit() {
    // Proves CATALOG_LICENCE_TYPES is the embedded catalogue's count: growing the catalogue must
    // revisit the payload format.
    assert_eq!(
        catalog().licence_types().len(),
        usize::from(CATALOG_LICENCE_TYPES)
    );
}

#[test]
fn verify_accepts_the_genuine_payload_and_explains_it() {
    // Proves a genuine payload verifies offline and reads as documented.
    let qr = signed(&example_permit(), &example_key());
    let verified = qr.verify(&example_set(), d("2026-06-01")).unwrap();
    assert!(verified.face_matches(&example_permit()));
    let mut changed = example_permit();
    changed.premises.push('A');
    assert!(!verified.face_matches(&changed));
    let catalog = catalog();
    let text = verified.explain(&catalog).to_string();
    let expected = format!(
        "signature valid (key {}, valid from 2026-01-01 to 2027-12-31): permit 110111ZH0300042F \
         version 2, credit code {}, items L05 食品经营许可证, L07 烟草专卖零售许可证, issued \
         2026-01-05, face hash {}",
        example_key().kid(),
        example_permit().uscc,
        HEXLOWER.encode(qr.payload().face_hash())
    );
    assert_eq!(text, expected);
}

#[test]
fn resolver_check_is_byte_equality_with_the_stored_signature() {
    // Proves the resolver's check: rebuild from the permit + stored signature, compare bytes.
    let key = example_key();
    let permit = example_permit();
    let stored = *signed(&permit, &key).signature();
    let rebuilt = QrPayload::for_permit(&permit, key.kid())
        .unwrap()
        .with_signature(stored);
    let scanned = SignedQr::decode_text(&signed(&permit, &key).to_url(EXAMPLE_BASE_URL)).unwrap();
    assert_eq!(scanned, rebuilt);
    assert_eq!(scanned.to_bytes(), rebuilt.to_bytes());
    // A scan of a forged variant with the genuine signature is not equal.
    let mut forged = scanned.to_bytes();
    forged[23] ^= 1 << 7; // claim L08 licensed
    assert_ne!(SignedQr::parse(&forged).unwrap(), rebuilt);
}

#[test]
fn every_bit_flip_is_rejected() {
    // Proves no single-bit change anywhere in the 116 bytes yields an accepted payload.
    let qr = signed(&example_permit(), &example_key());
    let keys = set_of(&[
        (&example_key(), "2026-01-01", Some("2027-12-31")),
        (&other_key(), "2020-01-01", None),
    ]);
    let today = d("2026-06-01");
    let bytes = qr.to_bytes();
    let (mut structural, mut refused) = (0, 0);
    for at in 0..PAYLOAD_BYTES {
        for bit in 0..8 {
            let mut b = bytes;
            b[at] ^= 1 << bit;
            match SignedQr::parse(&b) {
                Err(_) => structural += 1,
                Ok(parsed) => {
                    let result = parsed.verify(&keys, today);
                    assert!(result.is_err(), "flip of bit {bit} of byte {at} accepted");
                    refused += 1;
                }
            }
        }
    }
    assert_eq!(structural + refused, PAYLOAD_BYTES * 8);
    assert!(structural > 0 && refused > 0);
    // The same at the text level: every character replaced by another base32 character.
    let text = qr.to_text();
    for at in 0..text.len() {
        let mut t = text.clone().into_bytes();
        t[at] = if t[at] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        if let Ok(parsed) = SignedQr::decode_text(&t) {
            assert!(parsed.verify(&keys, today).is_err(), "character {at}");
        }
    }
}

#[test]
fn swapped_key_ids_are_rejected() {
    // Proves a payload claiming an unknown kid, or another trusted key's kid, does not verify.
    let qr = signed(&example_permit(), &example_key());
    let keys = set_of(&[
        (&example_key(), "2026-01-01", None),
        (&other_key(), "2026-01-01", None),
    ]);
    let with_kid = |kid: [u8; 8]| {
        let mut b = qr.to_bytes();
        b[UNSIGNED_BYTES - KID_BYTES..UNSIGNED_BYTES].copy_from_slice(&kid);
        SignedQr::parse(&b).unwrap()
    };
    let unknown = with_kid([0xAB; 8]);
    assert_eq!(
        unknown.verify(&keys, d("2026-06-01")),
        Err(VerifyError::UnknownKid(Kid([0xAB; 8])))
    );
    let other = with_kid(other_key().kid().0);
    assert_eq!(
        other.verify(&keys, d("2026-06-01")),
        Err(VerifyError::BadSignature {
            kid: other_key().kid()
        })
    );
    let error = other.verify(&keys, d("2026-06-01")).unwrap_err();
    assert!(error.to_string().starts_with("forged"), "{error}");
}

#[test]
fn a_signature_spliced_from_another_permit_is_rejected() {
    // Proves a genuine signature of permit B does not make permit A's fields verify.
    let key = example_key();
    let a = signed(&example_permit(), &key);
    let mut other = example_permit();
    other.number = PermitNumber::new(110_111, 3, 43).unwrap();
    let b = signed(&other, &key);
    let mut spliced = a.to_bytes();
    spliced[UNSIGNED_BYTES..].copy_from_slice(b.signature());
    let spliced = SignedQr::parse(&spliced).unwrap();
    assert_eq!(
        spliced.verify(&example_set(), d("2026-06-01")),
        Err(VerifyError::BadSignature { kid: key.kid() })
    );
    // An older version's genuine signature on the current version's fields, likewise.
    let mut old = example_permit();
    old.version = 1;
    let old = signed(&old, &key);
    let mut spliced = a.to_bytes();
    spliced[UNSIGNED_BYTES..].copy_from_slice(old.signature());
    assert!(SignedQr::parse(&spliced)
        .unwrap()
        .verify(&example_set(), d("2026-06-01"))
        .is_err());
}

#[test]
fn keys_are_checked_against_the_issue_date() {
    // Proves a key not valid on the issue date is refused, while a key that expired after it
    // still verifies the codes it printed; and an issue date after today is refused.
    let key = example_key();
    let qr = signed(&example_permit(), &key); // issued 2026-01-05
    let today = d("2026-06-01");
    for (not_before, not_after) in [("2026-01-06", None), ("2025-01-01", Some("2026-01-04"))] {
        let keys = set_of(&[(&key, not_before, not_after)]);
        let error = qr.verify(&keys, today).unwrap_err();
        assert!(matches!(error, VerifyError::KeyNotValid { .. }), "{error}");
        assert!(error.to_string().contains("2026-01-05"), "{error}");
    }
    let rotated = set_of(&[(&key, "2026-01-05", Some("2026-01-05"))]);
    assert!(qr.verify(&rotated, d("2030-01-01")).is_ok());
    assert_eq!(
        qr.verify(&example_set(), d("2026-01-04")),
        Err(VerifyError::IssuedInFuture {
            issued_on: d("2026-01-05"),
            today: d("2026-01-04")
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Attestations

fn example_attestation() -> Attestation {
    Attestation::for_permit(&example_permit(), 9001, at("2026-03-01T02:00:00.123Z"))
}

#[test]
fn attestation_carries_state_and_an_ocsp_like_valid_until() {
    // Proves the fields: Beijing time in whole seconds, states at production, and valid_until
    // the earlier of +24 h and the end of the next licence end date.
    let a = example_attestation();
    assert_eq!(a.produced_at, at("2026-03-01T10:00:00+08:00"));
    assert_eq!(a.valid_until, a.produced_at + ATTESTATION_LIFETIME);
    assert_eq!(a.state, "partial");
    assert_eq!(a.licences.len(), 3);
    let json: serde_json::Value = serde_json::to_value(&a).unwrap();
    assert_eq!(json["produced_at"], "2026-03-01T10:00:00+08:00");
    assert_eq!(json["licences"][0]["licence_type"], "L05");
    assert_eq!(json["licences"][2]["state"], "not_granted");
    assert!(json["licences"][2]["valid_until"].is_null());

    // L07 ends 2026-12-31: produced that afternoon, the attestation ends at midnight Beijing.
    let late = Attestation::for_permit(&example_permit(), 1, at("2026-12-31T15:00:00+08:00"));
    assert_eq!(late.valid_until, at("2027-01-01T00:00:00+08:00"));
    assert_eq!(late.state, "partial");
    // The next day L07 has lapsed: void, and it no longer shortens valid_until.
    let after = Attestation::for_permit(&example_permit(), 2, at("2027-01-01T09:00:00+08:00"));
    assert_eq!(after.state, "void");
    assert_eq!(after.licences[1].state, LicenceState::Lapsed);
    assert_eq!(after.valid_until, at("2027-01-02T09:00:00+08:00"));
}

#[test]
fn attestation_jws_verifies_until_it_expires() {
    // Proves sign → verify_jws round trips, and the expiry and future checks.
    let a = example_attestation();
    let token = a.sign(&example_key());
    let keys = example_set();
    let header: serde_json::Value = serde_json::from_slice(
        &BASE64URL_NOPAD
            .decode(token.split('.').next().unwrap().as_bytes())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header,
        serde_json::json!({"alg":"EdDSA","kid":example_key().kid().to_string(),"typ":JWS_TYPE})
    );
    assert_eq!(verify_jws(&token, &keys, a.produced_at).unwrap(), a);
    let last = a.valid_until - time::Duration::seconds(1);
    assert_eq!(verify_jws(&token, &keys, last).unwrap(), a);
    assert!(matches!(
        verify_jws(&token, &keys, a.valid_until),
        Err(JwsError::Expired { .. })
    ));
    assert!(matches!(
        verify_jws(&token, &keys, a.produced_at - time::Duration::minutes(6)),
        Err(JwsError::NotYetValid { .. })
    ));
    assert!(verify_jws(&token, &keys, a.produced_at - time::Duration::minutes(4)).is_ok());
    let late_key = set_of(&[(&example_key(), "2026-03-02", None)]);
    assert!(matches!(
        verify_jws(&token, &late_key, a.produced_at),
        Err(JwsError::KeyNotValid { .. })
    ));
}

#[test]
fn tampered_attestations_are_rejected() {
    // Proves a changed payload, alg none / HS256, a foreign typ or member, a wrong or unknown kid
    // and a foreign signature all fail.
    let a = example_attestation();
    let key = example_key();
    let token = a.sign(&key);
    let keys = set_of(&[
        (&key, "2026-01-01", None),
        (&other_key(), "2026-01-01", None),
    ]);
    let now = a.produced_at;
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = |json: &str| BASE64URL_NOPAD.encode(json.as_bytes());
    let kid = key.kid().to_string();

    let mut forged = a.clone();
    forged.state = "valid".into();
    let forged_payload = BASE64URL_NOPAD.encode(&serde_json::to_vec(&forged).unwrap());
    let t = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        verify_jws(&t, &keys, now),
        Err(JwsError::BadSignature(key.kid()))
    );

    for alg in ["none", "HS256", "ES256", "eddsa"] {
        let header = b64(&format!(
            r#"{{"alg":"{alg}","kid":"{kid}","typ":"{JWS_TYPE}"}}"#
        ));
        for signature in ["", parts[2]] {
            let t = format!("{header}.{}.{signature}", parts[1]);
            assert_eq!(
                verify_jws(&t, &keys, now),
                Err(JwsError::Algorithm(alg.into()))
            );
        }
    }
    let untyped = b64(&format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#));
    assert!(matches!(
        verify_jws(&format!("{untyped}.{}.{}", parts[1], parts[2]), &keys, now),
        Err(JwsError::Type { got: None })
    ));
    let crit = b64(&format!(
        r#"{{"alg":"EdDSA","kid":"{kid}","typ":"{JWS_TYPE}","crit":["exp"]}}"#
    ));
    assert!(matches!(
        verify_jws(&format!("{crit}.{}.{}", parts[1], parts[2]), &keys, now),
        Err(JwsError::Header(_))
    ));
    let other_kid = other_key().kid().to_string();
    let wrong = b64(&format!(
        r#"{{"alg":"EdDSA","kid":"{other_kid}","typ":"{JWS_TYPE}"}}"#
    ));
    assert_eq!(
        verify_jws(&format!("{wrong}.{}.{}", parts[1], parts[2]), &keys, now),
        Err(JwsError::BadSignature(other_key().kid()))
    );
    let stranger = SigningKey::from_seed(&[9; 32]);
    assert_eq!(
        verify_jws(&a.sign(&stranger), &keys, now),
        Err(JwsError::UnknownKid(stranger.kid().to_string()))
    );
    // The right kid with another trusted key's signature.
    let swapped = a.sign(&other_key());
    let t = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        swapped.split('.').nth(2).unwrap()
    );
    assert_eq!(
        verify_jws(&t, &keys, now),
        Err(JwsError::BadSignature(key.kid()))
    );
    for junk in [
        "",
        "a.b",
        "a.b.c.d",
        &format!("{token}="),
        &token.replace('.', ""),
    ] {
        assert!(
            matches!(
                verify_jws(junk, &keys, now),
                Err(JwsError::Malformed(_) | JwsError::Header(_))
            ),
            "{junk}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Interop with OpenSSL

#[test]
fn openssl_verifies_our_jws_signature() {
    // Proves the JWS signature is plain Ed25519 over the signing input, as OpenSSL checks it.
    let version = String::from_utf8(openssl_ok(["version"])).unwrap();
    assert!(
        version.starts_with("OpenSSL 3") || version.starts_with("OpenSSL 1.1.1"),
        "{version}"
    );
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let token = example_attestation().sign(&key);
    let (input, signature) = token.rsplit_once('.').unwrap();
    let files = |name: &str| dir.path().join(name);
    std::fs::write(files("pub.pem"), key.public_key_pem()).unwrap();
    std::fs::write(files("input"), input).unwrap();
    std::fs::write(
        files("sig.bin"),
        BASE64URL_NOPAD.decode(signature.as_bytes()).unwrap(),
    )
    .unwrap();
    let verify = || {
        openssl([
            OsStr::new("pkeyutl"),
            OsStr::new("-verify"),
            OsStr::new("-pubin"),
            OsStr::new("-inkey"),
            files("pub.pem").as_os_str(),
            OsStr::new("-rawin"),
            OsStr::new("-in"),
            files("input").as_os_str(),
            OsStr::new("-sigfile"),
            files("sig.bin").as_os_str(),
        ])
    };
    let good = verify();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    std::fs::write(files("input"), input.replacen('e', "f", 1)).unwrap();
    assert!(
        !verify().status.success(),
        "openssl accepted a changed input"
    );

    // The QR payload's signature too: over "permitd-qr-v1\0" ‖ bytes 0..52.
    let qr = signed(&example_permit(), &example_key());
    std::fs::write(files("pub.pem"), example_key().public_key_pem()).unwrap();
    std::fs::write(files("input"), qr.payload().signing_input()).unwrap();
    std::fs::write(files("sig.bin"), qr.signature()).unwrap();
    let good = verify();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
}

#[test]
fn openssl_and_we_read_each_others_private_keys() {
    // Proves our PKCS#8 PEM is OpenSSL's format both ways, and OpenSSL's signatures verify here.
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.key");
    let key = SigningKey::generate().unwrap();
    key.save(&ours).unwrap();
    let public = openssl_ok([
        OsStr::new("pkey"),
        OsStr::new("-in"),
        ours.as_os_str(),
        OsStr::new("-pubout"),
    ]);
    assert_eq!(String::from_utf8(public).unwrap(), key.public_key_pem());

    let theirs = dir.path().join("theirs.key");
    openssl_ok([
        OsStr::new("genpkey"),
        OsStr::new("-algorithm"),
        OsStr::new("ed25519"),
        OsStr::new("-out"),
        theirs.as_os_str(),
    ]);
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o600)).unwrap();
    let loaded = SigningKey::load(&theirs).unwrap();
    let public = openssl_ok([
        OsStr::new("pkey"),
        OsStr::new("-in"),
        theirs.as_os_str(),
        OsStr::new("-pubout"),
    ]);
    assert_eq!(String::from_utf8(public).unwrap(), loaded.public_key_pem());

    let message = dir.path().join("message");
    let signature = dir.path().join("sig.bin");
    std::fs::write(&message, b"permitd interop").unwrap();
    openssl_ok([
        OsStr::new("pkeyutl"),
        OsStr::new("-sign"),
        OsStr::new("-inkey"),
        theirs.as_os_str(),
        OsStr::new("-rawin"),
        OsStr::new("-in"),
        message.as_os_str(),
        OsStr::new("-out"),
        signature.as_os_str(),
    ]);
    let signature: [u8; 64] = std::fs::read(&signature).unwrap().try_into().unwrap();
    let public = PublicKey::new(loaded.verifying_key(), d("2026-01-01"), None).unwrap();
    assert!(public.verify_raw(b"permitd interop", &signature));
    assert_eq!(
        signature,
        loaded.sign_raw(b"permitd interop"),
        "Ed25519 is deterministic"
    );
}

// ---------------------------------------------------------------------------------------------
// The worked example of docs/qr.md

/// Smallest QR version (and its side in modules) that holds `text` in alphanumeric mode at
/// error correction level M, and the version the qrcode crate picks on its own.
fn qr_version(text: &str) -> (i16, usize) {
    use qrcode::bits::Bits;
    use qrcode::{EcLevel, QrCode, Version};
    let alphanumeric = (1..=40)
        .find(|&v| {
            let mut bits = Bits::new(Version::Normal(v));
            bits.push_alphanumeric_data(text.as_bytes()).is_ok()
                && bits.push_terminator(EcLevel::M).is_ok()
        })
        .unwrap();
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap();
    assert_eq!(
        code.version(),
        Version::Normal(alphanumeric),
        "qrcode picks alphanumeric mode"
    );
    (alphanumeric, code.width())
}

fn example_vector() -> serde_json::Value {
    let key = example_key();
    let permit = example_permit();
    let qr = signed(&permit, &key);
    let url = qr.to_url(EXAMPLE_BASE_URL);
    let (version, modules) = qr_version(&url);
    // The same URL had the credit code been 18 ASCII bytes: 6 more bytes, 10 more characters.
    let unpacked = format!(
        "{}{}",
        &url[..url.len() - PAYLOAD_CHARS],
        "A".repeat((PAYLOAD_BYTES + 6) * 8 / 5 + 1)
    );
    let (unpacked_version, unpacked_modules) = qr_version(&unpacked);
    let attestation = example_attestation();
    let keys = example_set();
    serde_json::json!({
        "seed_hex": EXAMPLE_SEED,
        "public_key_hex": HEXLOWER.encode(key.verifying_key().as_bytes()),
        "kid": key.kid().to_string(),
        "face": {
            "operator_name": permit.operator_name,
            "legal_representative": permit.legal_representative,
            "premises": permit.premises,
            "issuing_authority": permit.issuing_authority,
            "items": permit.licences.iter().map(|l| serde_json::json!([
                l.licence_type.to_string(), l.state != LicenceState::NotGranted
            ])).collect::<Vec<_>>(),
        },
        "face_hash_input_hex": HEXLOWER.encode(&face_hash_input(
            &permit.operator_name,
            &permit.legal_representative,
            &permit.premises,
            &permit.issuing_authority,
            &permit.licences.iter()
                .map(|l| (l.licence_type, l.state != LicenceState::NotGranted))
                .collect::<Vec<_>>(),
        )),
        "face_hash_hex": HEXLOWER.encode(qr.payload().face_hash()),
        "permit_number": permit.number.as_str(),
        "permit_key": permit.number.key(),
        "permit_version": permit.version,
        "uscc": permit.uscc.as_str(),
        "issued_on": permit.issued_on.to_string(),
        "issued_days": permit.issued_on.days_since_epoch(),
        "signing_input_hex": HEXLOWER.encode(&qr.payload().signing_input()),
        "payload_hex": HEXLOWER.encode(&qr.to_bytes()),
        "payload_bytes": PAYLOAD_BYTES,
        "base32": qr.to_text(),
        "base32_chars": PAYLOAD_CHARS,
        "url": url,
        "url_chars": url.len(),
        "qr_level": "M",
        "qr_version": version,
        "qr_modules": modules,
        "unpacked_uscc_qr_version": unpacked_version,
        "unpacked_uscc_qr_modules": unpacked_modules,
        "jwks": serde_json::from_str::<serde_json::Value>(&keys.to_jwks()).unwrap(),
        "attestation_json": serde_json::to_string(&attestation).unwrap(),
        "attestation_jws": attestation.sign(&key),
    })
}

#[test]
fn worked_example_matches_the_vector_file_and_the_doc() {
    // Proves tests/vectors/qr-v1.json and docs/qr.md carry what the code produces today.
    // PERMITD_WRITE_VECTORS=1 rewrites the vector file (then update the doc by hand).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vector = example_vector();
    let text = serde_json::to_string_pretty(&vector).unwrap() + "\n";
    if std::env::var_os("PERMITD_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(root.join("tests/vectors")).unwrap();
        std::fs::write(root.join(VECTOR_PATH), &text).unwrap();
    }
    let stored = std::fs::read_to_string(root.join(VECTOR_PATH)).unwrap();
    assert_eq!(stored, text, "{VECTOR_PATH} is stale");

    // The example verifies from its published parts alone.
    let keys = PublicKeySet::from_jwks(&vector["jwks"].to_string()).unwrap();
    let qr = SignedQr::decode_text(vector["url"].as_str().unwrap()).unwrap();
    qr.verify(&keys, d("2026-01-05")).unwrap();
    let attestation = verify_jws(
        vector["attestation_jws"].as_str().unwrap(),
        &keys,
        at("2026-03-01T12:00:00+08:00"),
    )
    .unwrap();
    assert_eq!(attestation, example_attestation());
    assert_eq!(vector["qr_version"], 8);
    assert_eq!(vector["unpacked_uscc_qr_version"], 9);

    let doc = std::fs::read_to_string(root.join(DOC_PATH)).unwrap();
    for field in [
        "kid",
        "face_hash_hex",
        "face_hash_input_hex",
        "payload_hex",
        "base32",
        "url",
        "attestation_jws",
        "public_key_hex",
        "signing_input_hex",
    ] {
        let value = vector[field].as_str().unwrap();
        assert!(
            doc.contains(value),
            "{DOC_PATH} lacks the example's {field}: {value}"
        );
    }
    let jwk_x = vector["jwks"]["keys"][0]["x"].as_str().unwrap();
    assert!(doc.contains(jwk_x));
}
