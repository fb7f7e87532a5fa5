//! Signed city codes and attestations through a real server: a scan of the printed URL is
//! genuine, any altered payload is refused as forged, the attestation and the key set verify
//! offline (with this crate and with `permitd verify`), and the served PNG decodes back to the
//! exact URL with zbarimg.

use std::path::Path;
use std::process::Command;

use permitd::domain::Permit;
use permitd::trust::keys::SigningKey;
use permitd::trust::payload::{QrPayload, SignedQr, PAYLOAD_BYTES};
use permitd::trust::{verify_jws, PublicKeySet};

use crate::support::{get, test_key, test_keys, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_permitd");

fn payload(permit: &Permit) -> SignedQr {
    let text = permit
        .seal
        .as_ref()
        .and_then(|s| s.qr.as_ref())
        .expect("test servers seal every permit");
    permitd::trust::seal::stored_payload(text).unwrap()
}

/// `/Q/<base32 of bytes>`.
fn scan_path(bytes: &[u8; PAYLOAD_BYTES]) -> String {
    format!("/Q/{}", data_encoding::BASE32_NOPAD.encode(bytes))
}

#[test]
fn a_printed_code_scans_as_genuine_in_either_case() {
    // The URL as printed (upper case) and as some scanners lower-case it: the permit's answer.
    let server = TestServer::start(300);
    let permit = server.find("valid");
    let url = payload(permit).to_url(&format!("http://{}", server.addr));
    let path = &url[url.find("/Q/").unwrap()..];
    for path in [path.to_owned(), path.to_ascii_lowercase()] {
        let answer = get(&server.url(&path), None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let json = answer.json();
        assert_eq!(json["number"], permit.number.to_string());
        assert_eq!(json["state"]["code"], "valid");
    }
    let page = get(&server.url(path), Some("text/html"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("有效"));
    // The page says the code itself was checked, and by which key.
    assert!(page.body.contains("id=\"seal\"") && page.body.contains("防伪核验"));
    assert!(page.body.contains(&test_key().kid().to_string()));
    // A scan by number is not a check of a printed code: no such note.
    let by_number = get(
        &server.url(&format!("/q/{}", permit.number)),
        Some("text/html"),
    );
    assert!(!by_number.body.contains("防伪核验"));
}

#[test]
fn altered_payloads_are_refused_as_forged_or_malformed() {
    // Every single bit flip of a genuine payload, a swapped key id, another key's signature
    // and another permit's signature: none is answered as a permit.
    let server = TestServer::start(300);
    let permit = server.find("valid");
    let genuine = payload(permit).to_bytes();
    let mut flips = 0;
    for byte in 0..PAYLOAD_BYTES {
        for bit in [0u8, 3, 7] {
            let mut altered = genuine;
            altered[byte] ^= 1 << bit;
            let answer = get(&server.url(&scan_path(&altered)), None);
            assert!(
                matches!(answer.status, 400 | 404),
                "byte {byte} bit {bit}: {} {}",
                answer.status,
                answer.body
            );
            if answer.status == 400 {
                let code = answer.error_code();
                assert!(code == "forged_qr" || code == "malformed_qr", "{code}");
            }
            flips += 1;
        }
    }
    assert_eq!(flips, 3 * PAYLOAD_BYTES);

    // The same fields signed by a key the writer does not hold: a well-formed forgery.
    let other = SigningKey::from_seed(&[9; 32]);
    let forged = QrPayload::for_permit(permit, other.kid())
        .unwrap()
        .sign(&other)
        .unwrap();
    let answer = get(&server.url(&scan_path(&forged.to_bytes())), None);
    assert_eq!(
        (answer.status, answer.error_code()),
        (400, "forged_qr".into())
    );

    // The genuine key id with the other key's signature.
    let mut swapped = forged.to_bytes();
    swapped[44..52].copy_from_slice(&test_key().kid().0);
    let answer = get(&server.url(&scan_path(&swapped)), None);
    assert_eq!(
        (answer.status, answer.error_code()),
        (400, "forged_qr".into())
    );

    // Another permit's genuine signature on this permit's fields.
    let neighbour = server
        .permits
        .iter()
        .find(|p| p.number != permit.number)
        .unwrap();
    let mut spliced = genuine;
    spliced[52..].copy_from_slice(&payload(neighbour).to_bytes()[52..]);
    let answer = get(&server.url(&scan_path(&spliced)), None);
    assert_eq!(
        (answer.status, answer.error_code()),
        (400, "forged_qr".into())
    );

    // For people: the 无法验证 page, still a 400.
    let page = get(&server.url(&scan_path(&spliced)), Some("text/html"));
    assert_eq!(page.status, 400);
    assert!(page.body.contains("无法验证") && page.body.contains("伪造"));
}

#[test]
fn attestations_and_the_key_set_verify_offline() {
    // The served JWS verifies with the served JWK Set; the payload names the permit's state.
    let server = TestServer::start(300);
    let keys = get(&server.url("/.well-known/permitd-keys.json"), None);
    assert_eq!(keys.status, 200);
    assert_eq!(keys.content_type, "application/jwk-set+json");
    let set = PublicKeySet::from_jwks(&keys.body).unwrap();
    assert_eq!(set.to_jwks(), test_keys().to_jwks());

    for state in ["valid", "void", "partial"] {
        let permit = server.find(state);
        let answer = get(
            &server.url(&format!("/v1/permits/{}/attestation", permit.number)),
            None,
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type, "application/jose");
        let attestation = verify_jws(&answer.body, &set, time::OffsetDateTime::now_utc())
            .unwrap_or_else(|e| panic!("{state}: {e}"));
        assert_eq!(attestation.number, permit.number);
        assert_eq!(attestation.version, permit.version);
        // Tampering with one character of the payload breaks it.
        let mut tampered = answer.body.clone().into_bytes();
        let middle = answer.body.find('.').unwrap() + 5;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(verify_jws(&tampered, &set, time::OffsetDateTime::now_utc()).is_err());
    }
    let missing = get(
        &server.url("/v1/permits/110111ZH0399999X/attestation"),
        None,
    );
    assert!(matches!(missing.status, 400 | 404), "{}", missing.status);
}

/// What zbarimg reads from the PNG at `path`.
fn zbarimg(path: &Path) -> String {
    let output = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("zbarimg (Debian zbar-tools) must be installed: {e}"));
    assert!(output.status.success(), "zbarimg found no code");
    String::from_utf8(output.stdout)
        .unwrap()
        .trim_end()
        .to_owned()
}

#[test]
fn the_served_png_decodes_to_the_exact_url_and_it_verifies() {
    // GET …/qr.png → zbarimg → the URL the payload gives; `permitd verify qr` says genuine
    // (exit 0) with the served key set, and forged (exit 1) for an altered code.
    let server = TestServer::start(200);
    let permit = server.find("valid");
    let png = get(
        &server.url(&format!("/v1/permits/{}/qr.png", permit.number)),
        None,
    );
    assert_eq!((png.status, png.content_type.as_str()), (200, "image/png"));
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("qr.png");
    std::fs::write(&png_path, &png.bytes).unwrap();
    let url = zbarimg(&png_path);
    assert_eq!(
        url,
        payload(permit).to_url(permitd::server::resolver::DEFAULT_PUBLIC_URL)
    );
    assert!(
        url.starts_with("HTTPS://PERMIT.FANGSHAN.EXAMPLE/Q/"),
        "{url}"
    );

    let keys_path = dir.path().join("keys.jwks");
    std::fs::write(&keys_path, test_keys().to_jwks()).unwrap();
    let verify = |code: &str| {
        Command::new(BIN)
            .args(["verify", "qr", code, "--keys"])
            .arg(&keys_path)
            .output()
            .unwrap()
    };
    let genuine = verify(&url);
    let text = String::from_utf8_lossy(&genuine.stdout);
    assert_eq!(genuine.status.code(), Some(0), "{text}");
    assert!(text.contains("GENUINE") && text.contains(permit.number.as_str()));

    let mut altered = payload(permit).to_bytes();
    altered[60] ^= 1;
    let forged = verify(&data_encoding::BASE32_NOPAD.encode(&altered));
    assert_eq!(
        forged.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&forged.stdout)
    );

    let svg = get(
        &server.url(&format!("/v1/permits/{}/certificate.svg", permit.number)),
        None,
    );
    assert_eq!(svg.status, 200);
    assert!(svg.body.contains(permit.operator_name.as_str()));
}

#[test]
fn keys_gen_writes_a_private_key_0600_and_its_key_set() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    let run = || {
        Command::new(BIN)
            .args(["keys", "gen", "--out"])
            .arg(&key)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{first:?}");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let loaded = SigningKey::load(&key).unwrap();
    let jwks = std::fs::read_to_string(dir.path().join("signing.key.jwks")).unwrap();
    let set = PublicKeySet::from_jwks(&jwks).unwrap();
    assert!(set.get(loaded.kid()).is_some());
    // Never overwrites a key.
    let second = run();
    assert!(!second.status.success());
    assert_eq!(SigningKey::load(&key).unwrap().kid(), loaded.kid());
}
