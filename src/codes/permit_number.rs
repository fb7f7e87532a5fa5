//! The comprehensive permit number (综合许可凭证编号) of 附件3 §2.3.1.
//!
//! Sixteen ASCII characters:
//!
//! | positions | content | example |
//! |---|---|---|
//! | 1–6 | administrative division code, GB/T 2260 (Fangshan: 110111) | `110111` |
//! | 7–8 | `ZH` (拼音 of 综合, "comprehensive") | `ZH` |
//! | 9–10 | industry category code, `01`–`40` (附件2) | `03` |
//! | 11–15 | sequence, `00001`–`99999` | `00042` |
//! | 16 | check character: ISO 7064 MOD 37,36 over positions 1–15 | `F` |
//!
//! The document names a check character but no algorithm; MOD 37,36 is our documented choice, see
//! [`crate::codes::iso7064`].
//!
//! Parsing is **strict upper case**: `110111zh0300042F` is rejected with a hint, not silently
//! repaired, because the number is printed and signed exactly as issued. Whether a category exists
//! in the catalogue is the catalogue's question; this module only checks the source's range 01–40.
//!
//! This module does no I/O, never panics, and never allocates on the successful parse path.

use std::fmt;

use crate::codes::iso7064::mod37_36_check_char;
use crate::codes::{character_class, character_hint};

/// Length of a permit number, in characters (all ASCII, so also in bytes).
pub const PERMIT_NUMBER_CHARS: usize = 16;
/// Smallest and largest category code (附件2 lists 40 industries).
pub const CATEGORY_MIN: u8 = 1;
pub const CATEGORY_MAX: u8 = 40;
/// Smallest and largest sequence; `00000` is not a sequence number.
pub const SEQUENCE_MIN: u32 = 1;
pub const SEQUENCE_MAX: u32 = 99_999;
/// Keys are below this bound: 13 decimal digits.
const KEY_END: u64 = 10_000_000_000_000;

/// GB/T 2260 province-level codes (first two digits of a division code).
const PROVINCE_CODES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// A syntactically valid permit number: `110111ZH0300042` + check character.
///
/// Invariant: `ascii` passed [`PermitNumber::parse`]'s checks (so it is ASCII and its check
/// character is right).
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct PermitNumber {
    ascii: [u8; 16],
}

/// Why a division code is not a plausible county-level GB/T 2260 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivisionFault {
    /// Not six decimal digits (only from [`PermitNumber::new`]; `parse` reports the character).
    NotSixDigits,
    /// The first two digits are not a GB/T 2260 province-level code.
    UnknownProvince,
    /// The last two digits are `00`: a province or prefecture, not a county-level division.
    NotCountyLevel,
}

/// What is wrong with a permit number. Positions are 1-based and count characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermitNumberError {
    /// The text does not have 16 characters; `got` counts characters (Unicode scalar values).
    Length { got: usize },
    /// A character that cannot appear at `position` (non-ASCII, a letter among the digits,
    /// lower case in the check character…).
    Character { position: usize, found: char },
    /// Positions 1–6 are digits but not a plausible county-level GB/T 2260 code.
    Division { got: String, why: DivisionFault },
    /// Positions 7–8 are not `ZH`.
    Prefix { got: String },
    /// The category code is outside 01–40.
    Category { got: u8 },
    /// The sequence is outside 00001–99999.
    Sequence { got: u32 },
    /// The check character does not match the first 15 characters.
    CheckCharacter { expected: char, got: char },
}

impl fmt::Display for PermitNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PermitNumberError::Length { got } => write!(
                f,
                "a permit number has 16 characters (6-digit division code, ZH, 2-digit category, \
                 5-digit sequence, check character) but this one has {got}"
            ),
            PermitNumberError::Character { position, found } => write!(
                f,
                "character {position} is {found:?} ({}) but position {position} takes {}{}",
                character_class(*found),
                expected_at(*position),
                character_hint(*found)
            ),
            PermitNumberError::Division { got, why } => match why {
                DivisionFault::NotSixDigits => {
                    write!(f, "division code {got} does not have 6 digits")
                }
                DivisionFault::UnknownProvince => write!(
                    f,
                    "division code {got} is not a GB/T 2260 code: its first two digits {} are \
                     not a province code (Fangshan is 110111)",
                    got.get(..2).unwrap_or(got)
                ),
                DivisionFault::NotCountyLevel => write!(
                    f,
                    "division code {got} ends in 00, which names a province or city; a permit \
                     number carries a county-level code (Fangshan is 110111)"
                ),
            },
            PermitNumberError::Prefix { got } => {
                write!(f, "characters 7-8 must be \"ZH\" but are {got:?}")?;
                if got.eq_ignore_ascii_case("ZH") {
                    f.write_str("; permit numbers are upper-case")?;
                }
                Ok(())
            }
            PermitNumberError::Category { got } => write!(
                f,
                "category code {got:02} (characters 9-10) is outside the range 01-40"
            ),
            PermitNumberError::Sequence { got } => write!(
                f,
                "sequence {got:05} (characters 11-15) is outside the range 00001-99999"
            ),
            PermitNumberError::CheckCharacter { expected, got } => write!(
                f,
                "check character is '{got}' but the first 15 characters give '{expected}'"
            ),
        }
    }
}

/// What position `position` (1-based) of a permit number takes, for error messages.
fn expected_at(position: usize) -> &'static str {
    match position {
        1..=6 => "a digit 0-9 (division code)",
        7 => "'Z' (of the prefix ZH)",
        8 => "'H' (of the prefix ZH)",
        9..=10 => "a digit 0-9 (category code)",
        11..=15 => "a digit 0-9 (sequence)",
        _ => "a digit 0-9 or an upper-case letter A-Z (check character)",
    }
}

/// Whether `byte` is allowed at 0-based `index` before the semantic checks run.
fn allowed_at(index: usize, byte: u8) -> bool {
    match index {
        // The prefix takes any ASCII letter or digit here so that "zh" or "12" is reported as
        // a wrong prefix, which says more than "character 7 is 'z'".
        6 | 7 => byte.is_ascii_alphanumeric(),
        15 => byte.is_ascii_digit() || byte.is_ascii_uppercase(),
        _ => byte.is_ascii_digit(),
    }
}

/// The decimal value of ASCII digits (callers checked they are digits).
fn digits_value(digits: &[u8]) -> u32 {
    digits.iter().fold(0u32, |acc, &d| {
        acc * 10 + u32::from(d.wrapping_sub(b'0') % 10)
    })
}

/// Checks a division code read from six digits (0–999999) for GB/T 2260 plausibility.
fn division_fault(division: u32) -> Option<DivisionFault> {
    // Codes below 100000 have a province part 00–09, which no province has.
    let province = (division / 10_000) as u8;
    if !PROVINCE_CODES.contains(&province) {
        return Some(DivisionFault::UnknownProvince);
    }
    if division.is_multiple_of(100) {
        return Some(DivisionFault::NotCountyLevel);
    }
    None
}

/// The 13 digits of a permit number (positions 1–6 and 9–15) as one integer.
///
/// Eight digits at a time in one `u64` (SWAR): a lookup by number parses its key on every
/// request, and the digit-by-digit loop took ~60 instructions, enough to keep the CPU from
/// overlapping the index's cache misses. The digits were checked when the number was made.
#[inline]
fn key_of(ascii: &[u8; 16]) -> u64 {
    let word = |at: usize| u64::from_le_bytes(ascii[at..at + 8].try_into().expect("8 bytes"));
    // "00" + the division's 6 digits (the bytes `ZH` after them shift out).
    let division = (word(0) << 16) | 0x3030;
    // "0" + category and sequence, 7 digits (the check character shifts out).
    let rest = (word(8) << 8) | 0x30;
    eight_digits(division) * 10_000_000 + eight_digits(rest)
}

/// Eight ASCII digits, the first in the lowest byte, as their value.
#[inline]
fn eight_digits(chunk: u64) -> u64 {
    let v = chunk - 0x3030_3030_3030_3030;
    let v = v * 10 + (v >> 8); // pairs of digits in every other byte
    let high = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let low = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    (high.wrapping_add(low)) >> 32
}

/// [`key_of`] digit by digit: the definition the fast one is tested against.
#[cfg(test)]
fn key_of_slowly(ascii: &[u8; 16]) -> u64 {
    let division = u64::from(digits_value(&ascii[0..6]));
    let category = u64::from(digits_value(&ascii[8..10]));
    let sequence = u64::from(digits_value(&ascii[10..15]));
    division * 10_000_000 + category * 100_000 + sequence
}

fn as_str_of(ascii: &[u8; 16]) -> &str {
    std::str::from_utf8(ascii).unwrap_or("")
}

impl PermitNumber {
    /// Parses a permit number: exactly 16 characters, upper case, no spaces.
    ///
    /// # Errors
    /// The first problem found, checking the length, then every character's class left to
    /// right, then the division code, prefix, category, sequence and check character; see
    /// [`PermitNumberError`].
    pub fn parse(text: &str) -> Result<PermitNumber, PermitNumberError> {
        let bytes = text.as_bytes();
        if bytes.len() != PERMIT_NUMBER_CHARS || !text.is_ascii() {
            // Count characters, not bytes: "１１０１１１ZH0300042F" has 16 characters, and its
            // first full-width digit is the useful thing to report.
            let got = text.chars().count();
            if got != PERMIT_NUMBER_CHARS {
                return Err(PermitNumberError::Length { got });
            }
            return Err(first_disallowed(text));
        }
        let mut ascii = [0u8; PERMIT_NUMBER_CHARS];
        ascii.copy_from_slice(bytes);
        if let Some(index) = (0..PERMIT_NUMBER_CHARS).find(|&i| !allowed_at(i, ascii[i])) {
            return Err(PermitNumberError::Character {
                position: index + 1,
                found: char::from(ascii[index]),
            });
        }
        let division = digits_value(&ascii[0..6]);
        if let Some(why) = division_fault(division) {
            return Err(PermitNumberError::Division {
                got: text[0..6].to_owned(),
                why,
            });
        }
        if &ascii[6..8] != b"ZH" {
            return Err(PermitNumberError::Prefix {
                got: text[6..8].to_owned(),
            });
        }
        let category = digits_value(&ascii[8..10]) as u8;
        if !(CATEGORY_MIN..=CATEGORY_MAX).contains(&category) {
            return Err(PermitNumberError::Category { got: category });
        }
        let sequence = digits_value(&ascii[10..15]);
        if !(SEQUENCE_MIN..=SEQUENCE_MAX).contains(&sequence) {
            return Err(PermitNumberError::Sequence { got: sequence });
        }
        // Every byte of the body is a digit or `ZH` here, so the check character exists.
        let expected = mod37_36_check_char(&ascii[..15]).unwrap_or(b'?');
        if expected != ascii[15] {
            return Err(PermitNumberError::CheckCharacter {
                expected: char::from(expected),
                got: char::from(ascii[15]),
            });
        }
        Ok(PermitNumber { ascii })
    }

    /// Builds the permit number for `division` (6 digits, county-level GB/T 2260), `category`
    /// (1–40) and `sequence` (1–99999), computing its check character.
    ///
    /// # Errors
    /// [`PermitNumberError::Division`], [`PermitNumberError::Category`] or
    /// [`PermitNumberError::Sequence`] when a part is out of range.
    pub fn new(
        division: u32,
        category: u8,
        sequence: u32,
    ) -> Result<PermitNumber, PermitNumberError> {
        // Below 100000 the number would need leading zeros: say so rather than "province 01".
        let fault = match division {
            100_000..=999_999 => division_fault(division),
            _ => Some(DivisionFault::NotSixDigits),
        };
        if let Some(why) = fault {
            return Err(PermitNumberError::Division {
                got: division.to_string(),
                why,
            });
        }
        if !(CATEGORY_MIN..=CATEGORY_MAX).contains(&category) {
            return Err(PermitNumberError::Category { got: category });
        }
        if !(SEQUENCE_MIN..=SEQUENCE_MAX).contains(&sequence) {
            return Err(PermitNumberError::Sequence { got: sequence });
        }
        let mut ascii = [0u8; PERMIT_NUMBER_CHARS];
        write_digits(&mut ascii[0..6], division);
        ascii[6] = b'Z';
        ascii[7] = b'H';
        write_digits(&mut ascii[8..10], u32::from(category));
        write_digits(&mut ascii[10..15], sequence);
        // The body is digits and `ZH`, always inside the MOD 37,36 alphabet.
        ascii[15] = mod37_36_check_char(&ascii[..15]).unwrap_or(b'?');
        debug_assert!(crate::codes::iso7064::mod37_36_is_valid(&ascii));
        Ok(PermitNumber { ascii })
    }

    /// The permit number as written, e.g. `110111ZH0300042F`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.ascii).unwrap_or("")
    }

    /// The administrative division code (positions 1–6), e.g. `110111`.
    pub fn division(&self) -> u32 {
        digits_value(&self.ascii[0..6])
    }

    /// The industry category code (positions 9–10), 1–40.
    pub fn category(&self) -> u8 {
        digits_value(&self.ascii[8..10]) as u8
    }

    /// The sequence (positions 11–15), 1–99999.
    pub fn sequence(&self) -> u32 {
        digits_value(&self.ascii[10..15])
    }

    /// The check character (position 16).
    pub fn check_char(&self) -> char {
        char::from(self.ascii[15])
    }

    /// The 13 digits as one integer: `division * 10^7 + category * 10^5 + sequence`.
    ///
    /// Unique per permit number, since `ZH` is constant and the check character is derived.
    pub fn key(&self) -> u64 {
        key_of(&self.ascii)
    }

    /// The permit number whose [`key`](PermitNumber::key) is `key`, or `None` if `key` does not
    /// decompose into a valid division, category and sequence.
    pub fn from_key(key: u64) -> Option<PermitNumber> {
        if key >= KEY_END {
            return None;
        }
        let division = (key / 10_000_000) as u32;
        let category = ((key / 100_000) % 100) as u8;
        let sequence = (key % 100_000) as u32;
        PermitNumber::new(division, category, sequence).ok()
    }
}

impl ArchivedPermitNumber {
    /// The permit number as written; validated when it was archived.
    pub fn as_str(&self) -> &str {
        as_str_of(&self.ascii)
    }

    /// Same as [`PermitNumber::key`], read straight from the archive.
    pub fn key(&self) -> u64 {
        key_of(&self.ascii)
    }

    /// The owned number (the bytes were checked when archived).
    pub fn to_native(&self) -> PermitNumber {
        PermitNumber { ascii: self.ascii }
    }
}

impl std::str::FromStr for PermitNumber {
    type Err = PermitNumberError;

    fn from_str(text: &str) -> Result<PermitNumber, PermitNumberError> {
        PermitNumber::parse(text)
    }
}

/// Writes `value` as zero-padded decimal digits filling `out` (callers checked the range).
fn write_digits(out: &mut [u8], mut value: u32) {
    for byte in out.iter_mut().rev() {
        *byte = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The error for the first character (1-based) that may not appear where it is.
fn first_disallowed(text: &str) -> PermitNumberError {
    for (index, found) in text.chars().enumerate() {
        let allowed = found.is_ascii() && allowed_at(index, found as u8);
        if !allowed {
            return PermitNumberError::Character {
                position: index + 1,
                found,
            };
        }
    }
    // Not reached for non-ASCII text; kept total rather than panicking.
    PermitNumberError::Length {
        got: text.chars().count(),
    }
}

crate::codes::text_code_impls!(PermitNumber);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::iso7064::mod37_36_is_valid;

    /// One expectation: `input` parses (and round-trips), or fails with exactly `expect`'s error.
    fn check(input: &str, expect: Result<(), PermitNumberError>) {
        let got = PermitNumber::parse(input);
        match (&got, &expect) {
            (Ok(number), Ok(())) => {
                assert_eq!(number.as_str(), input);
                assert_eq!(input.parse::<PermitNumber>().as_ref(), Ok(number));
            }
            (Err(error), Err(expected)) => {
                assert_eq!(error, expected, "parsing {input:?}");
                assert!(!error.to_string().is_empty());
            }
            _ => panic!("parsing {input:?}: got {got:?}, expected {expect:?}"),
        }
    }

    fn character(position: usize, found: char) -> Result<(), PermitNumberError> {
        Err(PermitNumberError::Character { position, found })
    }

    fn check_character(expected: char, got: char) -> Result<(), PermitNumberError> {
        Err(PermitNumberError::CheckCharacter { expected, got })
    }

    fn division(got: &str, why: DivisionFault) -> Result<(), PermitNumberError> {
        Err(PermitNumberError::Division {
            got: got.to_owned(),
            why,
        })
    }

    #[test]
    fn parse_accepts_numbers_checked_by_an_independent_implementation() {
        // Proves valid numbers parse, with check characters from python-stdnum, not from us.
        // Source: python-stdnum 2.2 stdnum.iso7064.mod_37_36.calc_check_digit over the first 15.
        check("110111ZH0300042F", Ok(()));
        check("110111ZH0100001D", Ok(()));
        check("110111ZH40999998", Ok(()));
        check("110111ZH20123455", Ok(()));
        check("110111ZH1100011T", Ok(()));
        check("110105ZH35007771", Ok(()));
        check("310115ZH0800100C", Ok(()));
        check("440305ZH1554321Z", Ok(()));
    }

    #[test]
    fn parse_reports_exactly_what_is_wrong() {
        // Proves each kind of mistake gets its own error carrying the offending values.
        use DivisionFault::{NotCountyLevel, UnknownProvince};
        use PermitNumberError as E;
        check("", Err(E::Length { got: 0 }));
        check("110111ZH0300042", Err(E::Length { got: 15 }));
        check("110111ZH0300042FF", Err(E::Length { got: 17 }));
        check(" 110111ZH0300042F", Err(E::Length { got: 17 }));
        check("110111-ZH-03-00042-F", Err(E::Length { got: 20 }));
        check("110111ZH0300042K", check_character('F', 'K'));
        check("110111ZH0300043F", check_character('D', 'F'));
        check("110111ZH0300042f", character(16, 'f'));
        check("110111zh0300042F", Err(E::Prefix { got: "zh".into() }));
        check("110111Zh0300042F", Err(E::Prefix { got: "Zh".into() }));
        check("110111XK0300042F", Err(E::Prefix { got: "XK".into() }));
        check("110111120300042F", Err(E::Prefix { got: "12".into() }));
        check("110111Z-0300042F", character(8, '-'));
        check("11011AZH0300042F", character(6, 'A'));
        check("110111ZH03O0042F", character(11, 'O'));
        check("110111ZH0300042 ", character(16, ' '));
        check("110111ZH0300042-", character(16, '-'));
        check("990111ZH0300042F", division("990111", UnknownProvince));
        check("000000ZH0300042F", division("000000", UnknownProvince));
        check("110100ZH0300042F", division("110100", NotCountyLevel));
        check("110000ZH0300042F", division("110000", NotCountyLevel));
        check("110111ZH0000042F", Err(E::Category { got: 0 }));
        check("110111ZH4100042F", Err(E::Category { got: 41 }));
        check("110111ZH9900042F", Err(E::Category { got: 99 }));
        check("110111ZH0300000F", Err(E::Sequence { got: 0 }));
    }

    #[test]
    fn parse_reports_non_ascii_by_character_position() {
        // Proves multi-byte input is counted in characters and its first bad character is named.
        use PermitNumberError as E;
        // Full-width digits (as a Chinese input method types them): 16 characters, 26 bytes.
        check("１１０１１１ZH0300042F", character(1, '１'));
        check("110111ＺＨ0300042F", character(7, 'Ｚ'));
        check("110111ZH0300042Ｆ", character(16, 'Ｆ'));
        check("110111ZH030004😀F", character(15, '😀'));
        check("110111ZH0300042F😀", Err(E::Length { got: 17 }));
        check("😀😀😀😀", Err(E::Length { got: 4 }));
        check("110111ZH03000\u{00e9}F", Err(E::Length { got: 15 }));
        check("11011\u{0}ZH0300042F", character(6, '\0'));
    }

    #[test]
    fn messages_are_sentences_with_the_values() {
        // Proves Display names the values a partner's developer needs to fix the input.
        let message = |text: &str| PermitNumber::parse(text).unwrap_err().to_string();
        assert_eq!(
            message("110111ZH0300042K"),
            "check character is 'K' but the first 15 characters give 'F'"
        );
        assert!(message("110111zh0300042F").contains("upper-case"));
        assert!(message("110111ZH0300042f").contains("upper-case"));
        assert!(message("１１０１１１ZH0300042F").contains("full-width"));
        assert!(message("110111ZH4100042F").contains("41"));
        assert!(message("110111ZH0300000F").contains("00000"));
        assert!(message("990111ZH0300042F").contains("99"));
        assert!(message("110111ZH030004").contains("14"));
    }

    #[test]
    fn new_builds_numbers_and_rejects_out_of_range_parts() {
        // Proves new() computes the same check character as the independent vectors and
        // validates each part's range.
        use PermitNumberError as E;
        assert_eq!(
            PermitNumber::new(110111, 3, 42).unwrap().as_str(),
            "110111ZH0300042F"
        );
        assert_eq!(
            PermitNumber::new(440305, 15, 54321).unwrap().as_str(),
            "440305ZH1554321Z"
        );
        let why = DivisionFault::NotSixDigits;
        assert_eq!(
            PermitNumber::new(11011, 3, 42),
            Err(E::Division {
                got: "11011".into(),
                why
            })
        );
        assert_eq!(
            PermitNumber::new(1_101_110, 3, 42),
            Err(E::Division {
                got: "1101110".into(),
                why
            })
        );
        assert_eq!(
            PermitNumber::new(110111, 0, 42),
            Err(E::Category { got: 0 })
        );
        assert_eq!(
            PermitNumber::new(110111, 41, 42),
            Err(E::Category { got: 41 })
        );
        assert_eq!(PermitNumber::new(110111, 3, 0), Err(E::Sequence { got: 0 }));
        assert_eq!(
            PermitNumber::new(110111, 3, 100_000),
            Err(E::Sequence { got: 100_000 })
        );
    }

    #[test]
    fn round_trip_new_parse_key_from_key() {
        // Proves new → parse → key → from_key returns the same number and the same parts.
        for division in [110111, 110105, 310115, 820000 + 1, 710101, 659001] {
            for category in [1, 3, 20, 40] {
                for sequence in [1, 42, 12_345, 99_999] {
                    let built = PermitNumber::new(division, category, sequence).unwrap();
                    let parsed = PermitNumber::parse(built.as_str()).unwrap();
                    assert_eq!(parsed, built);
                    assert_eq!(
                        (parsed.division(), parsed.category(), parsed.sequence()),
                        (division, category, sequence)
                    );
                    assert_eq!(
                        parsed.key(),
                        u64::from(division) * 10_000_000
                            + u64::from(category) * 100_000
                            + u64::from(sequence)
                    );
                    assert_eq!(PermitNumber::from_key(parsed.key()), Some(built));
                    assert_eq!(
                        parsed.check_char(),
                        char::from(parsed.as_str().as_bytes()[15])
                    );
                }
            }
        }
        assert_eq!(PermitNumber::from_key(0), None);
        assert_eq!(
            PermitNumber::from_key(1_101_110_000_042),
            None,
            "category 00"
        );
        assert_eq!(
            PermitNumber::from_key(1_101_110_300_000),
            None,
            "sequence 00000"
        );
        assert_eq!(PermitNumber::from_key(u64::MAX), None);
        assert_eq!(PermitNumber::from_key(10_000_000_000_000), None);
    }

    #[test]
    fn archived_form_reads_the_same_number() {
        // Proves the rkyv archive holds the same characters and key as the native value.
        let number = PermitNumber::parse("110111ZH0300042F").unwrap();
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&number).unwrap();
        let archived = rkyv::access::<ArchivedPermitNumber, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(archived.as_str(), "110111ZH0300042F");
        assert_eq!(archived.key(), number.key());
    }

    /// Pseudo-random Fangshan permit numbers (deterministic), for the typo tests.
    fn sample_numbers(count: usize) -> Vec<PermitNumber> {
        let mut state = 0x853C_49E6_748F_EA9Bu64;
        let mut numbers = vec![PermitNumber::parse("110111ZH0300042F").unwrap()];
        while numbers.len() < count {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let category = 1 + ((state >> 40) % 40) as u8;
            let sequence = 1 + ((state >> 8) % 99_999) as u32;
            numbers.push(PermitNumber::new(110111, category, sequence).unwrap());
        }
        numbers
    }

    #[test]
    fn every_single_substitution_is_detected() {
        // Proves a one-character typo anywhere in a permit number never yields a valid number.
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcz -";
        for number in sample_numbers(2_000) {
            let text = number.ascii;
            for position in 0..PERMIT_NUMBER_CHARS {
                for &replacement in alphabet.iter().filter(|&&r| r != text[position]) {
                    let mut changed = text;
                    changed[position] = replacement;
                    let changed = std::str::from_utf8(&changed).unwrap();
                    assert!(
                        PermitNumber::parse(changed).is_err(),
                        "substitution {changed}"
                    );
                    if replacement.is_ascii_uppercase() || replacement.is_ascii_digit() {
                        assert!(!mod37_36_is_valid(changed.as_bytes()), "checksum {changed}");
                    }
                }
            }
        }
    }

    #[test]
    fn adjacent_transpositions_are_detected_except_neighbouring_values() {
        // Proves every swap of two distinct neighbours is detected unless the two characters'
        // values differ by 1 (MOD 37,36's documented blind spot), and that such misses are rare.
        let value = |byte: u8| match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            _ => u32::from(byte - b'A') + 10,
        };
        let (mut swaps, mut missed) = (0u32, 0u32);
        for number in sample_numbers(20_000) {
            let text = number.ascii;
            for position in 0..PERMIT_NUMBER_CHARS - 1 {
                let (a, b) = (text[position], text[position + 1]);
                if a == b {
                    continue;
                }
                let mut swapped = text;
                swapped.swap(position, position + 1);
                let swapped = std::str::from_utf8(&swapped).unwrap();
                swaps += 1;
                if PermitNumber::parse(swapped).is_ok() {
                    let (a, b) = (value(a), value(b));
                    assert!(
                        (a + 1) % 36 == b || (b + 1) % 36 == a,
                        "missed swap {swapped}"
                    );
                    missed += 1;
                }
            }
        }
        // Exhaustively over all 3,999,960 Fangshan numbers the miss rate is 0.25 %.
        assert!(missed * 100 < swaps, "{missed} of {swaps} swaps missed");
    }

    #[test]
    fn known_undetected_transposition_pair() {
        // Proves (and pins) a concrete blind spot: swapping "67" and "76" keeps the check
        // character valid; python-stdnum 2.2 mod_37_36.is_valid agrees on both.
        check("110111ZH01006709", Ok(()));
        check("110111ZH01007609", Ok(()));
    }

    #[test]
    fn garbage_never_panics() {
        // Proves random strings, including multi-byte UTF-8, yield errors and never panic.
        let pool: Vec<char> = "0123456789ZHzhAFKX -_/１Ｚ😀é\u{0}\u{3000}\u{200b}綜合许可"
            .chars()
            .collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = "110111ZH0300042F";
        for round in 0..50_000 {
            let text: String = if round % 2 == 0 {
                let length = (next() % 24) as usize;
                (0..length)
                    .map(|_| pool[(next() % pool.len() as u64) as usize])
                    .collect()
            } else {
                // A valid number with one or two characters replaced, inserted or deleted.
                let mut chars: Vec<char> = valid.chars().collect();
                for _ in 0..1 + next() % 2 {
                    let at = (next() % chars.len() as u64) as usize;
                    let with = pool[(next() % pool.len() as u64) as usize];
                    match next() % 3 {
                        0 => chars[at] = with,
                        1 => chars.insert(at, with),
                        _ => {
                            chars.remove(at);
                        }
                    }
                }
                chars.into_iter().collect()
            };
            match PermitNumber::parse(&text) {
                Ok(number) => {
                    assert_eq!(number.as_str(), text);
                    assert!(mod37_36_is_valid(text.as_bytes()));
                }
                Err(error) => assert!(!error.to_string().is_empty()),
            }
        }
        for key in (0..200_000u64).map(|_| next() % 20_000_000_000_000) {
            if let Some(number) = PermitNumber::from_key(key) {
                assert_eq!(number.key(), key);
            }
        }
    }

    #[test]
    fn the_fast_key_equals_the_digit_by_digit_key() {
        // Every category, sequences at both ends and spread between, divisions of all shapes.
        for division in [110111, 110101, 120000, 999999, 100000] {
            for category in 1..=40u8 {
                for sequence in (1..=99_999u32).step_by(997).chain([1, 99_999]) {
                    let Ok(number) = PermitNumber::new(division, category, sequence) else {
                        continue;
                    };
                    assert_eq!(
                        key_of(&number.ascii),
                        key_of_slowly(&number.ascii),
                        "{number}"
                    );
                }
            }
        }
    }
}
