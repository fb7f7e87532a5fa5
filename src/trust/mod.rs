//! Trust: the writer's signing keys, the signed city-code QR payload, and pre-signed
//! attestations (BRIEF §1 anti-counterfeit, §2 "The QR code").
//!
//! **The writer holds the signing key; resolvers never do.** Everything here that signs takes a
//! [`SigningKey`]; everything a resolver or an offline verifier needs takes only a
//! [`PublicKeySet`].
//!
//! - [`keys`]: the private key file (PKCS#8 PEM, mode 0600), key ids, the public key set and its
//!   JWK Set form.
//! - [`payload`]: the 116-byte QR payload, its base32 text and URL, offline verification.
//! - [`seal`]: what the writer signs for each permit (`Permit::seal`), renewal, and the key files
//!   of a data directory (`DIR/keys/`).
//! - [`attestation`]: the permit's current state as a JWS (EdDSA), valid for at most 24 hours.
//! - [`offline`]: the reports of `permitd verify qr` and `permitd verify attestation`: reading
//!   scanned text, JWS and key set files under limits, and explaining the verdict.
//!
//! The byte-level formats, with a worked example, are in `docs/qr.md`.

pub mod attestation;
pub mod keys;
pub mod offline;
pub mod payload;
pub mod seal;

pub use attestation::{verify_jws, Attestation, AttestedLicence, JwsError};
pub use keys::{JwkProblem, JwksError, KeyError, Kid, PublicKey, PublicKeySet, SigningKey};
pub use payload::{
    face_hash, face_hash_input, permit_face_hash, EncodeError, Explanation, PayloadError,
    QrPayload, SignedQr, Verified, VerifyError,
};

#[cfg(test)]
mod tests;
