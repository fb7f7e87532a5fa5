//! QR tokens: what the city code printed on a permit carries after `/q/`.
//!
//! Interim format (v0): an opaque 16-character RFC 4648 base32 token, the first 80 bits of a
//! keyed blake3 hash (key derived from a fixed context) of the permit number and version. It names one version of one permit,
//! so a scan of an old certificate answers "superseded by version N", and it cannot be guessed
//! from a neighbouring permit's number. The signed payload that an inspector can check offline
//! replaces it later; `/q/` also accepts a bare permit number (the current version).
//!
//! Base32 (A–Z, 2–7) is upper-case and URL-safe, so QR alphanumeric mode packs it densely.

use data_encoding::BASE32_NOPAD;

use crate::codes::PermitNumber;

/// Characters of an encoded token.
pub const TOKEN_CHARS: usize = 16;
const TOKEN_CONTEXT: &str = "permitd 2026 qr token v0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub [u8; 10]);

impl Token {
    /// The token printed on version `version` of `number`.
    pub fn for_version(number: &PermitNumber, version: u32) -> Token {
        static KEY: std::sync::LazyLock<[u8; 32]> =
            std::sync::LazyLock::new(|| blake3::derive_key(TOKEN_CONTEXT, b"token key"));
        let mut input = [0u8; 20];
        input[..16].copy_from_slice(number.as_str().as_bytes());
        input[16..].copy_from_slice(&version.to_le_bytes());
        let hash = blake3::keyed_hash(&KEY, &input);
        Token(hash.as_bytes()[..10].try_into().expect("10 of 32 bytes"))
    }

    /// Decodes a token, case-insensitively. `None` when `text` is not 16 base32 characters.
    pub fn decode(text: &str) -> Option<Token> {
        if text.len() != TOKEN_CHARS {
            return None;
        }
        let mut upper = [0u8; TOKEN_CHARS];
        for (out, b) in upper.iter_mut().zip(text.bytes()) {
            *out = b.to_ascii_uppercase();
        }
        let mut bytes = [0u8; 10];
        match BASE32_NOPAD.decode_mut(&upper, &mut bytes) {
            Ok(10) => Some(Token(bytes)),
            _ => None,
        }
    }

    pub fn encode(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The first eight bytes, the token index's key.
    pub fn prefix(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().expect("8 bytes"))
    }

    pub fn tail(&self) -> u16 {
        u16::from_le_bytes([self.0[8], self.0[9]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_case_insensitively() {
        // Encode → decode gives the same token, in either case; junk is refused.
        let token = Token([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let text = token.encode();
        assert_eq!(text.len(), TOKEN_CHARS);
        assert_eq!(Token::decode(&text), Some(token));
        assert_eq!(Token::decode(&text.to_ascii_lowercase()), Some(token));
        assert_eq!(Token::decode("AAAAAAAAAAAAAAA1"), None);
        assert_eq!(Token::decode("AAAA"), None);
        assert_eq!(Token::decode("ÄAAAAAAAAAAAAAA"), None);
    }

    #[test]
    fn rfc4648_base32_vector() {
        // RFC 4648 §10: BASE32("fooba") = "MZXW6YTB"; our alphabet is that one.
        assert_eq!(BASE32_NOPAD.encode(b"fooba"), "MZXW6YTB");
    }
}
