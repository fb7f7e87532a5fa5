//! The permit number format as the load tester needs it: the ISO 7064 MOD 37,36 check character,
//! a compact 16-character number type, and the broken or unknown variants the workload sends.
//!
//! A number is 15 characters of body (`110111` division, `ZH`, 2-digit category, 5-digit
//! sequence) and one check character over the body, alphabet `0-9A-Z`. This is a deliberate,
//! independent re-implementation: the load tester must not trust the server's own code to decide
//! what the server should answer.

/// The MOD 37,36 alphabet: a character's value is its index.
pub const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Characters in a permit number, check character included.
pub const NUMBER_LEN: usize = 16;
/// Characters the check character is computed over.
pub const BODY_LEN: usize = 15;
/// Where the 5-digit sequence sits in the body.
pub const SEQUENCE_RANGE: std::ops::Range<usize> = 10..15;

/// The value of `c` in [`ALPHABET`] (upper case only), if it is there.
pub fn char_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

/// The ISO 7064 MOD 37,36 check character for `text`, or `None` when `text` holds a character
/// outside [`ALPHABET`].
///
/// `p = 36; for each ch: t = (p + v(ch)) % 36, 0 → 36; p = 2t % 37`; check = `ALPHABET[(37 - p) % 36]`.
pub fn mod37_36_check_char(text: &[u8]) -> Option<u8> {
    let mut p: u32 = 36;
    for &ch in text {
        let mut t = (p + char_value(ch)?) % 36;
        if t == 0 {
            t = 36;
        }
        p = (2 * t) % 37;
    }
    Some(ALPHABET[((37 - p) % 36) as usize])
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("permit number {0:?}: must be {NUMBER_LEN} characters")]
    Length(String),
    #[error("permit number {0:?}: characters must be 0-9 or A-Z")]
    Alphabet(String),
    #[error("permit number {0:?}: wrong check character")]
    Check(String),
}

/// A syntactically valid permit number (length, alphabet and check character all right).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PermitNo([u8; NUMBER_LEN]);

impl PermitNo {
    pub fn parse(text: &str) -> Result<PermitNo, NumberError> {
        let bytes = text.as_bytes();
        let ascii: [u8; NUMBER_LEN] = bytes
            .try_into()
            .map_err(|_| NumberError::Length(text.to_owned()))?;
        let check = mod37_36_check_char(&ascii[..BODY_LEN])
            .ok_or_else(|| NumberError::Alphabet(text.to_owned()))?;
        if char_value(ascii[BODY_LEN]).is_none() {
            return Err(NumberError::Alphabet(text.to_owned()));
        }
        if check != ascii[BODY_LEN] {
            return Err(NumberError::Check(text.to_owned()));
        }
        Ok(PermitNo(ascii))
    }

    /// The number for a 15-character body, with its check character appended.
    pub fn from_body(body: &[u8]) -> Option<PermitNo> {
        let body: &[u8; BODY_LEN] = body.try_into().ok()?;
        let check = mod37_36_check_char(body)?;
        let mut ascii = [0u8; NUMBER_LEN];
        ascii[..BODY_LEN].copy_from_slice(body);
        ascii[BODY_LEN] = check;
        Some(PermitNo(ascii))
    }

    pub fn as_str(&self) -> &str {
        // Only ALPHABET bytes ever get in.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    pub fn as_bytes(&self) -> &[u8; NUMBER_LEN] {
        &self.0
    }

    /// The same division, category and prefix with another 5-digit sequence (`1..=99_999`,
    /// taken modulo 100 000) and the check character recomputed: well-formed, but possibly not
    /// a permit anybody issued.
    pub fn with_sequence(&self, sequence: u32) -> PermitNo {
        let mut body = [0u8; BODY_LEN];
        body.copy_from_slice(&self.0[..BODY_LEN]);
        let mut s = sequence % 100_000;
        for i in SEQUENCE_RANGE.rev() {
            body[i] = b'0' + (s % 10) as u8;
            s /= 10;
        }
        PermitNo::from_body(&body).unwrap_or(*self)
    }

    /// Appends a broken form of this number to `out`: the server must answer it 400.
    pub fn write_malformed(&self, how: Malformation, out: &mut String) {
        match how {
            Malformation::WrongCheck { shift } => {
                let check = char_value(self.0[BODY_LEN]).unwrap_or(0);
                let shift = 1 + u32::from(shift) % 35; // 1..=35: never back to the right one
                let wrong = ALPHABET[((check + shift) % 36) as usize];
                out.push_str(&self.as_str()[..BODY_LEN]);
                out.push(char::from(wrong));
            }
            Malformation::Truncated => out.push_str(&self.as_str()[..BODY_LEN]),
            Malformation::Extended { extra } => {
                out.push_str(self.as_str());
                out.push(char::from(ALPHABET[usize::from(extra) % 36]));
            }
        }
    }
}

impl std::fmt::Display for PermitNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for PermitNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PermitNo({})", self.as_str())
    }
}

/// How a number is broken for the `malformed` share of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformation {
    /// Right length, check character replaced by another (`shift` picks which, never the right one).
    WrongCheck { shift: u8 },
    /// The check character dropped: 15 characters.
    Truncated,
    /// One more character after the check character: 17 characters.
    Extended { extra: u8 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso7064_mod37_36_vector() {
        // Proves the check character matches the ISO 7064 MOD 37,36 reference vector.
        assert_eq!(mod37_36_check_char(b"A12425GABC1234002"), Some(b'M'));
        assert_eq!(mod37_36_check_char(b"a12"), None);
    }

    #[test]
    fn parse_accepts_valid_and_rejects_each_fault() {
        // Proves parse accepts a number with the right check character and names each fault.
        let good = PermitNo::from_body(b"110111ZH0300001").expect("valid body");
        assert_eq!(PermitNo::parse(good.as_str()), Ok(good));
        let mut broken = String::new();
        good.write_malformed(Malformation::WrongCheck { shift: 0 }, &mut broken);
        assert!(matches!(
            PermitNo::parse(&broken),
            Err(NumberError::Check(_))
        ));
        assert!(matches!(
            PermitNo::parse("110111ZH030000"),
            Err(NumberError::Length(_))
        ));
        assert!(matches!(
            PermitNo::parse("110111zh0300001M"),
            Err(NumberError::Alphabet(_))
        ));
    }

    #[test]
    fn malformations_never_parse() {
        // Proves every malformation of many numbers is rejected, so each really expects a 400.
        for seq in 1..500u32 {
            let n = PermitNo::from_body(b"110111ZH0300001")
                .unwrap()
                .with_sequence(seq);
            for shift in 0..=255u8 {
                let mut s = String::new();
                n.write_malformed(Malformation::WrongCheck { shift }, &mut s);
                assert_eq!(s.len(), NUMBER_LEN);
                assert!(PermitNo::parse(&s).is_err(), "{s}");
            }
            for how in [
                Malformation::Truncated,
                Malformation::Extended { extra: seq as u8 },
            ] {
                let mut s = String::new();
                n.write_malformed(how, &mut s);
                assert!(PermitNo::parse(&s).is_err(), "{s}");
            }
        }
    }

    #[test]
    fn with_sequence_keeps_prefix_and_stays_valid() {
        // Proves with_sequence only changes the sequence digits and yields a valid number.
        let n = PermitNo::from_body(b"110111ZH0300001").unwrap();
        let m = n.with_sequence(42);
        assert_eq!(&m.as_str()[..10], "110111ZH03");
        assert_eq!(&m.as_str()[10..15], "00042");
        assert_eq!(PermitNo::parse(m.as_str()), Ok(m));
    }
}
