//! ISO 7064 check characters (GB/T 17710 is the identical Chinese standard).
//!
//! ISO 7064 defines families of check-character systems. Two members are used here:
//!
//! - the **hybrid MOD 37,36** system over the alphabet `0-9A-Z` (M = 36), which checks
//!   alphanumeric text with one alphanumeric check character;
//! - the **pure MOD 11-2** system over digits, whose check character is `0`–`9` or `X`
//!   (GB 11643 citizen identity numbers use it).
//!
//! # What MOD 37,36 detects
//! Every single-character substitution. Adjacent transpositions *nearly* always: a swap of two
//! characters whose values differ by exactly 1 (mod 36, e.g. `6`↔`7`, `9`↔`A`, `Z`↔`0`) goes
//! unnoticed when the running product before them has one particular value (72 of the
//! 36 × 36 × 35 state/pair combinations; 2 more when the check character is one of the pair).
//! Over Fangshan's 4 million possible permit numbers that is 0.25 % of adjacent swaps, e.g.
//! `110111ZH01006709` and `110111ZH01007609` are both valid.
//!
//! # Why MOD 37,36 for the permit number
//! The source document (附件3 §2.3.1) says the permit number ends in "1 位校验码" and gives no
//! algorithm. Using MOD 37,36 over the first 15 characters is **our documented choice**: it is the
//! system GB/T 36904 uses for the national electronic licence identifier (证照标识), it accepts the
//! letters `ZH` in the body, and it detects every single substitution and nearly every adjacent
//! transposition.
//! The choice lives behind [`mod37_36_check_char`] alone, so aligning with a future official rule
//! means changing one function.
//!
//! This module does no I/O, never allocates and never panics.

/// The alphabet of the MOD 37,36 system; a character's value is its index.
const ALPHABET_36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// M of the hybrid system.
const MODULUS_36: u32 = 36;

/// The value of `byte` in the MOD 37,36 alphabet, or `None` outside it (upper case only).
fn value_36(byte: u8) -> Option<u32> {
    match byte {
        b'0'..=b'9' => Some(u32::from(byte - b'0')),
        b'A'..=b'Z' => Some(u32::from(byte - b'A') + 10),
        _ => None,
    }
}

/// The running product `p` of the hybrid MOD 37,36 system after consuming `text`.
fn mod37_36_product(text: &[u8]) -> Option<u32> {
    let mut product = MODULUS_36;
    for &byte in text {
        product = mod37_36_step(product, value_36(byte)?);
    }
    Some(product)
}

/// One step of the hybrid system: the product after a character of value `value`.
fn mod37_36_step(product: u32, value: u32) -> u32 {
    let mut t = (product + value) % MODULUS_36;
    if t == 0 {
        t = MODULUS_36;
    }
    (2 * t) % (MODULUS_36 + 1)
}

/// The ISO 7064 hybrid MOD 37,36 check character for `text` (alphabet `0-9A-Z`, upper case
/// only), or `None` when `text` holds a byte outside the alphabet.
///
/// The empty text has check character `1`, as the algorithm defines it.
///
/// ```
/// use permitd::codes::iso7064::mod37_36_check_char;
/// assert_eq!(mod37_36_check_char(b"A12425GABC1234002"), Some(b'M'));
/// assert_eq!(mod37_36_check_char(b"a12425GABC1234002"), None);
/// ```
pub fn mod37_36_check_char(text: &[u8]) -> Option<u8> {
    let product = mod37_36_product(text)?;
    let value = (MODULUS_36 + 1 - product) % MODULUS_36;
    Some(ALPHABET_36[value as usize])
}

/// Whether `text_with_check` (body followed by its check character) satisfies MOD 37,36.
/// Empty text and bytes outside `0-9A-Z` are invalid.
pub fn mod37_36_is_valid(text_with_check: &[u8]) -> bool {
    let Some((&check, body)) = text_with_check.split_last() else {
        return false;
    };
    match (mod37_36_product(body), value_36(check)) {
        (Some(product), Some(check_value)) => (product + check_value) % MODULUS_36 == 1,
        _ => false,
    }
}

/// The running sum of the pure MOD 11-2 system over `digits` (check character not included).
fn mod11_2_sum(digits: &[u8]) -> Option<u32> {
    let mut sum = 0u32;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        sum = ((sum + u32::from(byte - b'0')) * 2) % 11;
    }
    Some(sum)
}

/// The ISO 7064 pure MOD 11-2 check character for `digits` (`0`–`9` or `X`), or `None` when
/// `digits` holds a non-digit byte.
///
/// ```
/// use permitd::codes::iso7064::mod11_2_check_char;
/// // GB 11643's example citizen identity number 11010519491231002X.
/// assert_eq!(mod11_2_check_char(b"11010519491231002"), Some(b'X'));
/// ```
pub fn mod11_2_check_char(digits: &[u8]) -> Option<u8> {
    let sum = mod11_2_sum(digits)?;
    Some(match (12 - sum) % 11 {
        10 => b'X',
        value => b'0' + value as u8,
    })
}

/// Whether `text_with_check` (digits followed by their check character `0`–`9` or upper-case
/// `X`) satisfies MOD 11-2. Empty text is invalid.
pub fn mod11_2_is_valid(text_with_check: &[u8]) -> bool {
    let Some((&check, body)) = text_with_check.split_last() else {
        return false;
    };
    let check_value = match check {
        b'0'..=b'9' => u32::from(check - b'0'),
        b'X' => 10,
        _ => return false,
    };
    match mod11_2_sum(body) {
        Some(sum) => (sum + check_value) % 11 == 1,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One expectation: `text`'s check character, or `None` if `text` is outside the alphabet.
    fn check(text: &str, expect: Option<u8>) {
        assert_eq!(
            mod37_36_check_char(text.as_bytes()),
            expect,
            "MOD 37,36 check of {text:?}"
        );
        if let Some(check_char) = expect {
            let mut with_check = text.as_bytes().to_vec();
            with_check.push(check_char);
            assert!(
                mod37_36_is_valid(&with_check),
                "{text:?} + {check_char} should be valid"
            );
        }
    }

    fn check_11_2(digits: &str, expect: Option<u8>) {
        assert_eq!(
            mod11_2_check_char(digits.as_bytes()),
            expect,
            "MOD 11-2 check of {digits:?}"
        );
        if let Some(check_char) = expect {
            let mut with_check = digits.as_bytes().to_vec();
            with_check.push(check_char);
            assert!(
                mod11_2_is_valid(&with_check),
                "{digits:?} + {check_char} should be valid"
            );
        }
    }

    #[test]
    fn mod37_36_matches_independent_vectors() {
        // Proves MOD 37,36 agrees with vectors computed by another implementation.
        // Source: python-stdnum 2.2, stdnum.iso7064.mod_37_36.calc_check_digit (its doctest gives
        // the first; the rest were produced with it offline and pasted here).
        let vectors: &[(&str, u8)] = &[
            ("A12425GABC1234002", b'M'),
            ("ISO79", b'9'),
            ("110111ZH0300042", b'F'),
            ("110111ZH0100001", b'D'),
            ("110111ZH4099999", b'8'),
            ("110111ZH2012345", b'5'),
            ("110105ZH3500777", b'1'),
            ("310115ZH0800100", b'C'),
            ("440305ZH1554321", b'Z'),
            ("110111ZH1100011", b'T'),
            ("000000000000000", b'N'),
            ("ZZZZZZZZZZZZZZZ", b'P'),
            ("0", b'2'),
            ("Z", b'4'),
            ("ZH", b'9'),
            ("", b'1'),
            // Random strings, python random.Random(20261201).
            ("F9ECA", b'T'),
            ("5E8", b'0'),
            ("2TB6JAYZLZG", b'9'),
            ("T6WNZS1HJBR2P", b'Z'),
            ("LBJV79WOKPBDWBHPQEY8", b'W'),
            ("IT2EK75XKXCL6KU7SF", b'X'),
            ("XSDSFG6BD", b'2'),
            ("V1CR", b'L'),
            ("45KLUVL8BF65I4YVJ2SYYSYX", b'N'),
            ("2RCRFFPNFWK8MI5E", b'V'),
            ("2G1XIJMO9GGV", b'E'),
            ("5C", b'U'),
        ];
        for &(text, expect) in vectors {
            check(text, Some(expect));
        }
    }

    #[test]
    fn mod37_36_rejects_bytes_outside_the_alphabet() {
        // Proves lower case, punctuation and non-ASCII bytes give None / invalid, never a panic.
        for text in [
            "a",
            "110111zh0300042",
            "110111-ZH",
            " ",
            "１",
            "😀",
            "\0",
            "Ä",
        ] {
            check(text, None);
            assert!(!mod37_36_is_valid(text.as_bytes()));
        }
        assert!(!mod37_36_is_valid(b""));
        assert!(!mod37_36_is_valid(b"A12425GABC1234002m"));
        assert!(!mod37_36_is_valid(b"A12425GABC1234002N"));
    }

    #[test]
    fn mod11_2_matches_independent_vectors() {
        // Proves MOD 11-2 agrees with GB 11643's example and python-stdnum's mod_11_2.
        // Source: GB 11643 example 11010519491231002X (also in FACTS.md); the rest from
        // python-stdnum 2.2 stdnum.iso7064.mod_11_2.calc_check_digit, produced offline.
        let vectors: &[(&str, u8)] = &[
            ("11010519491231002", b'X'),
            ("0794", b'0'),
            ("07940", b'X'),
            ("079", b'X'),
            ("44030019900101123", b'8'),
            ("77898066674207", b'3'),
            ("95252", b'0'),
            ("885616721305541869", b'9'),
            ("783992222749339", b'6'),
            ("51390", b'7'),
            ("7202473647272170506", b'4'),
        ];
        for &(digits, expect) in vectors {
            check_11_2(digits, Some(expect));
        }
        check_11_2("1101051949123100A", None);
        check_11_2("１", None);
        assert!(!mod11_2_is_valid(b"11010519491231002x"));
        assert!(!mod11_2_is_valid(b"110105194912310029"));
        assert!(!mod11_2_is_valid(b""));
    }

    #[test]
    fn mod37_36_detects_every_single_substitution() {
        // Proves no one-character change of a valid text keeps it valid, over many bodies.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..300 {
            let mut text = [0u8; 16];
            for byte in text.iter_mut().take(15) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *byte = ALPHABET_36[((state >> 33) % 36) as usize];
            }
            text[15] = mod37_36_check_char(&text[..15]).unwrap();
            assert!(mod37_36_is_valid(&text));
            for position in 0..16 {
                for &replacement in ALPHABET_36 {
                    if replacement == text[position] {
                        continue;
                    }
                    let mut changed = text;
                    changed[position] = replacement;
                    assert!(
                        !mod37_36_is_valid(&changed),
                        "substitution undetected: {changed:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn mod37_36_misses_only_swaps_of_neighbouring_values() {
        // Proves the exact transposition weakness documented above: over every running product
        // and every pair of distinct characters, a swap is missed only for values differing by
        // 1 (mod 36), in exactly 72 body cases and 2 check-character cases.
        let neighbours = |a: u32, b: u32| (a + 1) % 36 == b || (b + 1) % 36 == a;
        let (mut missed_in_body, mut missed_with_check) = (0, 0);
        for product in 1..=MODULUS_36 {
            for a in 0..MODULUS_36 {
                for b in (0..MODULUS_36).filter(|&b| b != a) {
                    let ab = mod37_36_step(mod37_36_step(product, a), b);
                    let ba = mod37_36_step(mod37_36_step(product, b), a);
                    if ab == ba {
                        assert!(neighbours(a, b), "missed swap of {a} and {b} at {product}");
                        missed_in_body += 1;
                    }
                    // `a` is the last body character and `b` the check character, then swapped.
                    let valid = (mod37_36_step(product, a) + b) % MODULUS_36 == 1;
                    let swapped_valid = (mod37_36_step(product, b) + a) % MODULUS_36 == 1;
                    if valid && swapped_valid {
                        assert!(neighbours(a, b), "missed check swap of {a} and {b}");
                        missed_with_check += 1;
                    }
                }
            }
        }
        assert_eq!((missed_in_body, missed_with_check), (72, 2));
        // An instance, confirmed with python-stdnum 2.2 mod_37_36.is_valid (both True).
        assert!(mod37_36_is_valid(b"110111ZH01006709"));
        assert!(mod37_36_is_valid(b"110111ZH01007609"));
    }
}
