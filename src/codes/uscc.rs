//! The unified social credit code (统一社会信用代码) of GB 32100-2015.
//!
//! Eighteen characters from a 31-character alphabet (`0-9` and `A-Z` without I, O, S, V, Z):
//!
//! | positions | content |
//! |---|---|
//! | 1 | registration department (登记管理部门), e.g. `9` market regulation |
//! | 2 | organisation type (机构类别), e.g. `1` enterprise |
//! | 3–8 | division code of the registering authority (GB/T 2260) |
//! | 9–17 | subject code: the GB 11714 organisation code, 8 characters + its own check |
//! | 18 | check character: weights 3^(i−1) mod 31, check = (31 − Σ mod 31) mod 31 |
//!
//! Two levels of parsing:
//! - [`Uscc::parse`] is structural: length, alphabet (upper case only) and the mod-31 check;
//! - [`Uscc::parse_strict`] also checks the embedded GB 11714 organisation code.
//!
//! The department and type tables have grown over time (letters `A`, `N`, `Y`, `G`, `J`, `Q` in
//! position 1), so they are data for the caller, never parse rules here: any alphabet character
//! is accepted in positions 1 and 2.
//!
//! Some codes registered in the early pilot years fail the mod-31 check yet are real: a mismatch
//! is reported as a *checksum mismatch*, never as forgery.
//!
//! This module does no I/O, never panics and never allocates.

use std::fmt;

use crate::codes::{character_class, character_hint};

/// Length of a credit code, in characters (all ASCII, so also in bytes).
pub const USCC_CHARS: usize = 18;

/// The alphabet; a character's value is its index.
const ALPHABET_31: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Marks a byte outside the alphabet in [`VALUE_31`].
const NOT_IN_ALPHABET: u8 = u8::MAX;

/// Value of every byte in the alphabet, [`NOT_IN_ALPHABET`] elsewhere.
const VALUE_31: [u8; 256] = {
    let mut table = [NOT_IN_ALPHABET; 256];
    let mut index = 0;
    while index < ALPHABET_31.len() {
        table[ALPHABET_31[index] as usize] = index as u8;
        index += 1;
    }
    table
};

/// Weights of positions 1–17: 3^(i−1) mod 31.
const WEIGHTS_31: [u32; 17] = {
    let mut weights = [1u32; 17];
    let mut index = 1;
    while index < 17 {
        weights[index] = weights[index - 1] * 3 % 31;
        index += 1;
    }
    weights
};
const _: () = assert!(WEIGHTS_31[16] == 28 && WEIGHTS_31[3] == 27);

/// Weights of the GB 11714 organisation code body (positions 1–8).
const ORGANISATION_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A unified social credit code that passed at least [`Uscc::parse`]'s checks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct Uscc {
    ascii: [u8; 18],
}

/// What is wrong with a credit code. Positions are 1-based and count characters, not bytes.
///
/// [`UsccError::is_malformed`] separates text that is not a credit code at all from codes whose
/// check characters disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Not 18 characters; `got` counts characters (Unicode scalar values).
    Length { got: usize },
    /// A character outside the alphabet (lower case, I, O, S, V, Z, punctuation, non-ASCII…).
    /// From [`Uscc::from_body`], `found` is the offending byte read as Latin-1.
    Character { position: usize, found: char },
    /// The check character (position 18) does not match positions 1–17.
    ///
    /// Real registered codes exist that fail this check (issued in the early pilot years), so
    /// this is a *checksum mismatch* to be confirmed with the registry, never proof of forgery.
    ChecksumMismatch { expected: char, got: char },
    /// Strict mode only: the embedded GB 11714 organisation code's check character (position 17)
    /// does not match positions 9–16.
    OrganisationCodeMismatch { expected: char, got: char },
}

impl UsccError {
    /// Whether the text is not a credit code at all (wrong length or character), as opposed to
    /// a well-formed code whose check characters disagree.
    pub fn is_malformed(&self) -> bool {
        matches!(self, UsccError::Length { .. } | UsccError::Character { .. })
    }
}

impl fmt::Display for UsccError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsccError::Length { got } => write!(
                f,
                "a unified social credit code has 18 characters but this one has {got}"
            ),
            UsccError::Character { position, found } => {
                write!(
                    f,
                    "character {position} is {found:?} ({}) but a unified social credit code \
                     uses only 0-9 and A-Z without I, O, S, V, Z",
                    character_class(*found)
                )?;
                match found {
                    'I' | 'O' | 'S' | 'V' | 'Z' => {
                        f.write_str("; I, O, S, V and Z never appear (was it 1, 0, 5, U or 2?)")
                    }
                    _ => f.write_str(character_hint(*found)),
                }
            }
            UsccError::ChecksumMismatch { expected, got } => write!(
                f,
                "checksum mismatch: check character is '{got}' but the first 17 characters give \
                 '{expected}' (a few early registered codes fail this check: confirm with the \
                 registration authority)"
            ),
            UsccError::OrganisationCodeMismatch { expected, got } => write!(
                f,
                "organisation code mismatch: character 17 (the check of the GB 11714 organisation \
                 code) is '{got}' but characters 9-16 give '{expected}'"
            ),
        }
    }
}

/// The mod-31 check character of a 17-byte body whose bytes are all in the alphabet.
fn check_of(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS_31)
        .map(|(&byte, weight)| u32::from(VALUE_31[byte as usize] % 31) * weight)
        .sum();
    ALPHABET_31[((31 - sum % 31) % 31) as usize]
}

/// The first byte (0-based index, byte) outside the alphabet.
fn first_outside_alphabet(bytes: &[u8]) -> Option<(usize, u8)> {
    bytes
        .iter()
        .enumerate()
        .find(|(_, &byte)| VALUE_31[byte as usize] == NOT_IN_ALPHABET)
        .map(|(index, &byte)| (index, byte))
}

fn as_str_of(ascii: &[u8; 18]) -> &str {
    std::str::from_utf8(ascii).unwrap_or("")
}

impl Uscc {
    /// Parses a credit code structurally: 18 characters of the alphabet (upper case only) whose
    /// last is the mod-31 check of the first 17. Positions 1–8 are not interpreted.
    ///
    /// # Errors
    /// [`UsccError::Length`], [`UsccError::Character`] or [`UsccError::ChecksumMismatch`].
    pub fn parse(text: &str) -> Result<Uscc, UsccError> {
        let bytes = text.as_bytes();
        if bytes.len() != USCC_CHARS || !text.is_ascii() {
            // Count characters, not bytes, so a full-width code is reported by its first
            // full-width character rather than as "54 characters".
            let got = text.chars().count();
            if got != USCC_CHARS {
                return Err(UsccError::Length { got });
            }
            let (index, found) = text
                .chars()
                .enumerate()
                .find(|&(_, c)| !c.is_ascii() || VALUE_31[c as usize] == NOT_IN_ALPHABET)
                .unwrap_or((0, '\u{FFFD}'));
            return Err(UsccError::Character {
                position: index + 1,
                found,
            });
        }
        let mut ascii = [0u8; USCC_CHARS];
        ascii.copy_from_slice(bytes);
        if let Some((index, byte)) = first_outside_alphabet(&ascii) {
            return Err(UsccError::Character {
                position: index + 1,
                found: char::from(byte),
            });
        }
        let expected = check_of(&ascii[..17]);
        if expected != ascii[17] {
            return Err(UsccError::ChecksumMismatch {
                expected: char::from(expected),
                got: char::from(ascii[17]),
            });
        }
        Ok(Uscc { ascii })
    }

    /// [`Uscc::parse`], then also checks the embedded GB 11714 organisation code (positions
    /// 9–17).
    ///
    /// # Errors
    /// Those of [`Uscc::parse`], then [`UsccError::OrganisationCodeMismatch`].
    pub fn parse_strict(text: &str) -> Result<Uscc, UsccError> {
        let code = Uscc::parse(text)?;
        let mut body = [0u8; 8];
        body.copy_from_slice(&code.ascii[8..16]);
        // Alphabet characters are all in GB 11714's 0-9A-Z, so the check always exists.
        let expected = organisation_code_check(&body).unwrap_or(b'?');
        if expected != code.ascii[16] {
            return Err(UsccError::OrganisationCodeMismatch {
                expected: char::from(expected),
                got: char::from(code.ascii[16]),
            });
        }
        Ok(code)
    }

    /// The code whose first 17 characters are `body`, with its check character computed.
    ///
    /// # Errors
    /// [`UsccError::Character`] for the first byte of `body` outside the alphabet.
    pub fn from_body(body: &[u8; 17]) -> Result<Uscc, UsccError> {
        if let Some((index, byte)) = first_outside_alphabet(body) {
            return Err(UsccError::Character {
                position: index + 1,
                found: char::from(byte),
            });
        }
        let mut ascii = [0u8; USCC_CHARS];
        ascii[..17].copy_from_slice(body);
        ascii[17] = check_of(body);
        Ok(Uscc { ascii })
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.ascii).unwrap_or("")
    }

    /// Position 1, the registration department (`9` market regulation, `1` organisation
    /// establishment, `5` civil affairs, letters in later tables…). Interpreting it is the
    /// caller's business: the table is data.
    pub fn registration_department(&self) -> char {
        char::from(self.ascii[0])
    }

    /// Position 2, the organisation type within the department (e.g. `91`: `1` enterprise,
    /// `2` individual business, `3` farmers' cooperative).
    pub fn organisation_type(&self) -> char {
        char::from(self.ascii[1])
    }

    /// Positions 3–8, the division code of the registering authority (not validated).
    pub fn division(&self) -> &str {
        self.as_str().get(2..8).unwrap_or("")
    }

    /// Positions 9–17, the GB 11714 organisation code with its own check character.
    pub fn organisation_code(&self) -> &str {
        self.as_str().get(8..17).unwrap_or("")
    }

    /// Position 18, the mod-31 check character.
    pub fn check_char(&self) -> char {
        char::from(self.ascii[17])
    }
}

impl ArchivedUscc {
    /// The code as written; validated when it was archived.
    pub fn as_str(&self) -> &str {
        as_str_of(&self.ascii)
    }
}

impl std::str::FromStr for Uscc {
    type Err = UsccError;

    /// Same as [`Uscc::parse`] (structural, not strict).
    fn from_str(text: &str) -> Result<Uscc, UsccError> {
        Uscc::parse(text)
    }
}

crate::codes::text_code_impls!(Uscc);

/// The GB 11714 check character for an 8-character organisation code body (`0-9A-Z`, upper
/// case), `b'0'`–`b'9'` or `b'X'`, or `None` when a byte is outside `0-9A-Z`.
///
/// ```
/// use permitd::codes::organisation_code_check;
/// // The widely cited worked example D2143569-X.
/// assert_eq!(organisation_code_check(b"D2143569"), Some(b'X'));
/// ```
pub fn organisation_code_check(body: &[u8; 8]) -> Option<u8> {
    let mut sum = 0u32;
    for (&byte, weight) in body.iter().zip(ORGANISATION_WEIGHTS) {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A') + 10,
            _ => return None,
        };
        sum += value * weight;
    }
    Some(match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        check => b'0' + check as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One expectation for the structural [`Uscc::parse`]: parses (and round-trips) or fails
    /// with exactly `expect`'s error.
    fn check(input: &str, expect: Result<(), UsccError>) {
        let got = Uscc::parse(input);
        match (&got, &expect) {
            (Ok(code), Ok(())) => {
                assert_eq!(code.as_str(), input);
                assert_eq!(input.parse::<Uscc>().as_ref(), Ok(code));
            }
            (Err(error), Err(expected)) => {
                assert_eq!(error, expected, "parsing {input:?}");
                assert!(!error.to_string().is_empty());
            }
            _ => panic!("parsing {input:?}: got {got:?}, expected {expect:?}"),
        }
    }

    /// The same for [`Uscc::parse_strict`].
    fn check_strict(input: &str, expect: Result<(), UsccError>) {
        let got = Uscc::parse_strict(input).map(|code| assert_eq!(code.as_str(), input));
        assert_eq!(got, expect, "strictly parsing {input:?}");
    }

    fn character(position: usize, found: char) -> Result<(), UsccError> {
        Err(UsccError::Character { position, found })
    }

    /// Codes recalled from public records (not re-confirmed against the registry here); each
    /// passes python-stdnum 2.2 `stdnum.cn.uscc.is_valid` and the GB 11714 check below, which a
    /// random 18-character string passes with probability 1/341.
    const REAL_CODES: [&str; 7] = [
        "914403001922038216", // 华为技术有限公司 (Huawei)
        "9144030071526726XG", // 深圳市腾讯计算机系统有限公司 (Tencent)
        "91110000600037341L", // python-stdnum's own doctest example
        "91110000802100433B", // 北京百度网讯科技有限公司 (Baidu)
        "91110108551385082Q", // 小米科技有限责任公司 (Xiaomi)
        "911000001000013428", // 中国银行股份有限公司 (Bank of China)
        "91100000100003962T", // 中国工商银行股份有限公司 (ICBC)
    ];

    #[test]
    fn the_standards_worked_example() {
        // Proves the sum and check of GB 32100-2015's example: 91350100M000100Y4 → Σ 1640 → 3.
        let body = b"91350100M000100Y4";
        let sum: u32 = body
            .iter()
            .zip(WEIGHTS_31)
            .map(|(&b, w)| u32::from(VALUE_31[b as usize]) * w)
            .sum();
        assert_eq!(sum, 1640);
        assert_eq!(
            Uscc::from_body(body).unwrap().as_str(),
            "91350100M000100Y43"
        );
        check("91350100M000100Y43", Ok(()));
        check_strict("91350100M000100Y43", Ok(()));
        assert_eq!(
            WEIGHTS_31,
            [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
        );
    }

    #[test]
    fn real_registered_codes_pass_both_modes() {
        // Proves well-known registered codes parse leniently and strictly.
        for code in REAL_CODES {
            check(code, Ok(()));
            check_strict(code, Ok(()));
        }
    }

    #[test]
    fn check_characters_match_python_stdnum() {
        // Proves the mod-31 check agrees with an independent implementation on random bodies.
        // Source: python-stdnum 2.2 stdnum.cn.uscc.calc_check_digit, random.Random(20261201),
        // produced offline and pasted here; letter departments via calc_check_digit directly
        // (stdnum's validate() rejects them).
        let vectors: &[(&[u8; 17], u8)] = &[
            (b"PD3TTAHWAY8RFGCJY", b'X'),
            (b"8DETKHJCERDNK420X", b'1'),
            (b"3G0BFMM8H3G5WTHWD", b'9'),
            (b"EWAJRPC7TB5X4333H", b'Q'),
            (b"JAEKCFFGH6XH9T4YA", b'F'),
            (b"HBBBNU0R1BRK5U635", b'5'),
            (b"XTWDRN4269Q97CN2T", b'4'),
            (b"5KHLJQ95JPRQUE91K", b'W'),
            (b"22116WA44BJ7W8KKL", b'P'),
            (b"GNCK0885Q4UA8KX4H", b'6'),
            (b"X6J84M267M4HLKUC9", b'2'),
            (b"8U0FGMUTRCUAHT8YK", b'T'),
            (b"91110111MA0000001", b'P'),
            (b"9211011100000000X", b'8'),
            (b"Y1110111MA00000A0", b'9'),
            (b"11110000000013338", b'1'),
            (b"52110000500021676", b'T'),
            (b"91440300192203822", b'9'),
            (b"Y1110111MA00000A9", b'5'),
            (b"N2110111MA00000A0", b'E'),
            (b"G1110111MA0000008", b'6'),
            (b"J1110111000000000", b'8'),
        ];
        for &(body, expect) in vectors {
            let code = Uscc::from_body(body).unwrap();
            assert_eq!(code.check_char(), char::from(expect), "check of {body:?}");
            check(code.as_str(), Ok(()));
        }
    }

    #[test]
    fn parse_reports_exactly_what_is_wrong() {
        // Proves each mistake gets its own error with its values, malformed apart from mismatch.
        use UsccError as E;
        check("", Err(E::Length { got: 0 }));
        check("91350100M000100Y4", Err(E::Length { got: 17 }));
        check("91350100M000100Y433", Err(E::Length { got: 19 }));
        check("9135 0100 M000 100Y 43", Err(E::Length { got: 22 }));
        check(
            "914403001922038217",
            Err(E::ChecksumMismatch {
                expected: '6',
                got: '7',
            }),
        );
        check(
            "9144030071526726XH",
            Err(E::ChecksumMismatch {
                expected: 'G',
                got: 'H',
            }),
        );
        // Lower case is malformed here; python-stdnum accepts it (it upper-cases first).
        check("9144030071526726xg", character(17, 'x'));
        check("91350100m000100Y43", character(9, 'm'));
        // I, O, S, V, Z are outside the alphabet.
        check("91110000600037341I", character(18, 'I'));
        check("91110000600O37341L", character(12, 'O'));
        check("S1110000600037341L", character(1, 'S'));
        check("91110000-60003734-", character(9, '-'));
        // Full-width characters: 18 characters, 54 bytes.
        check("９１４４０３００１９２２０３８２１６", character(1, '９'));
        check("91440300192203821６", character(18, '６'));
        check("9144030019220382😀", Err(E::Length { got: 17 }));
        check("91440300192203821😀", character(18, '😀'));
        assert!(E::Length { got: 0 }.is_malformed());
        assert!(E::Character {
            position: 1,
            found: 'x'
        }
        .is_malformed());
        assert!(!E::ChecksumMismatch {
            expected: '6',
            got: '7'
        }
        .is_malformed());
        assert!(!E::OrganisationCodeMismatch {
            expected: '9',
            got: '0'
        }
        .is_malformed());
    }

    #[test]
    fn letter_departments_are_accepted() {
        // Proves position 1 may be a letter (later department tables); python-stdnum rejects
        // these, our check characters for them come from its calc_check_digit.
        check("Y1110111MA00000A95", Ok(()));
        check_strict("Y1110111MA00000A95", Ok(()));
        check("J11101110000000008", Ok(()));
        check_strict("J11101110000000008", Ok(()));
        let code = Uscc::parse("Y1110111MA00000A95").unwrap();
        assert_eq!(code.registration_department(), 'Y');
        assert_eq!(code.organisation_type(), '1');
        assert_eq!(code.division(), "110111");
        assert_eq!(code.organisation_code(), "MA00000A9");
        assert_eq!(code.check_char(), '5');
    }

    #[test]
    fn strict_mode_checks_the_embedded_organisation_code() {
        // Proves parse_strict rejects a code whose mod-31 check holds but whose GB 11714
        // organisation code check fails, and that lenient parse accepts it.
        use UsccError as E;
        let cases = [
            ("914403001922038229", '1', '2'),
            ("Y1110111MA00000A09", '9', '0'),
            ("N2110111MA00000A0E", '9', '0'),
            ("G1110111MA00000086", '7', '8'),
            ("9211011100000000X8", '0', 'X'),
        ];
        for (code, expected, got) in cases {
            check(code, Ok(()));
            check_strict(code, Err(E::OrganisationCodeMismatch { expected, got }));
        }
        // A checksum mismatch is reported before the organisation code.
        check_strict(
            "914403001922038228",
            Err(E::ChecksumMismatch {
                expected: '9',
                got: '8',
            }),
        );
        check_strict("9144030071526726xg", character(17, 'x'));
    }

    #[test]
    fn organisation_code_check_matches_known_codes() {
        // Proves the GB 11714 check against the widely cited example D2143569-X and the
        // organisation codes embedded in the real credit codes above.
        assert_eq!(organisation_code_check(b"D2143569"), Some(b'X'));
        assert_eq!(organisation_code_check(b"M000100Y"), Some(b'4'));
        assert_eq!(
            organisation_code_check(b"00000000"),
            Some(b'0'),
            "11 is written 0"
        );
        assert_eq!(organisation_code_check(b"d2143569"), None);
        assert_eq!(organisation_code_check(b"D2143-69"), None);
        for code in REAL_CODES {
            let bytes = code.as_bytes();
            let mut body = [0u8; 8];
            body.copy_from_slice(&bytes[8..16]);
            assert_eq!(organisation_code_check(&body), Some(bytes[16]), "{code}");
        }
    }

    #[test]
    fn from_body_rejects_characters_outside_the_alphabet() {
        // Proves from_body names the first bad byte, including non-ASCII bytes.
        use UsccError as E;
        assert_eq!(
            Uscc::from_body(b"91350100M000100O4"),
            Err(E::Character {
                position: 16,
                found: 'O'
            })
        );
        let mut body = *b"91350100M000100Y4";
        body[0] = 0xEF;
        assert_eq!(
            Uscc::from_body(&body),
            Err(E::Character {
                position: 1,
                found: '\u{EF}'
            })
        );
    }

    #[test]
    fn messages_say_mismatch_never_forged() {
        // Proves the Display sentences carry the values and never call a code forged.
        let message = |text: &str| Uscc::parse_strict(text).unwrap_err().to_string();
        let checksum = message("914403001922038217");
        assert!(
            checksum.starts_with("checksum mismatch: check character is '7'"),
            "{checksum}"
        );
        assert!(checksum.contains("give '6'"));
        assert!(message("9144030071526726xg").contains("upper-case"));
        assert!(message("91110000600037341I").contains("was it 1, 0, 5, U or 2?"));
        assert!(message("９１４４０３００１９２２０３８２１６").contains("full-width"));
        assert!(message("914403001922038229").contains("organisation code mismatch"));
        for text in ["914403001922038217", "914403001922038229", "x", "９"] {
            assert!(!message(text).to_lowercase().contains("forg"));
        }
    }

    #[test]
    fn archived_form_reads_the_same_code() {
        // Proves the rkyv archive holds the same characters as the native value.
        let code = Uscc::parse("914403001922038216").unwrap();
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&code).unwrap();
        let archived = rkyv::access::<ArchivedUscc, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(archived.as_str(), "914403001922038216");
    }

    #[test]
    fn garbage_never_panics() {
        // Proves random strings, including multi-byte UTF-8, yield errors and never panic.
        let pool: Vec<char> = "0123456789AXYGHSIOxg -１９😀é\u{0}\u{3000}统一"
            .chars()
            .collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..50_000 {
            let text: String = if round % 2 == 0 {
                let length = (next() % 26) as usize;
                (0..length)
                    .map(|_| pool[(next() % pool.len() as u64) as usize])
                    .collect()
            } else {
                let mut chars: Vec<char> = REAL_CODES[round % REAL_CODES.len()].chars().collect();
                let at = (next() % chars.len() as u64) as usize;
                let with = pool[(next() % pool.len() as u64) as usize];
                match next() % 3 {
                    0 => chars[at] = with,
                    1 => chars.insert(at, with),
                    _ => {
                        chars.remove(at);
                    }
                }
                chars.into_iter().collect()
            };
            for result in [Uscc::parse(&text), Uscc::parse_strict(&text)] {
                match result {
                    Ok(code) => assert_eq!(code.as_str(), text),
                    Err(error) => assert!(!error.to_string().is_empty()),
                }
            }
        }
    }
}
