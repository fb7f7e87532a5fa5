//! Identifier algorithms. Plain code: no I/O, no allocation on the parse paths, no panics on any
//! input.
//!
//! - [`iso7064`]: ISO 7064 / GB/T 17710 check characters (MOD 37,36 hybrid, MOD 11-2).
//! - [`permit_number`]: the 16-character comprehensive permit number of 附件3 §2.3.1.
//! - [`uscc`]: the 18-character unified social credit code of GB 32100-2015.
//!
//! Both identifiers parse **upper case only**: they are printed and signed exactly as issued, so
//! lower case is reported (with a hint) rather than repaired.

/// `Display`, `Debug` and serde as a string for an identifier with `as_str` and `parse`.
macro_rules! text_code_impls {
    ($type:ident) => {
        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($type), "({})"), self.as_str())
            }
        }

        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$type, D::Error> {
                let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
                $type::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use text_code_impls;

pub mod iso7064;
pub mod permit_number;
pub mod uscc;

pub use permit_number::{DivisionFault, PermitNumber, PermitNumberError};
pub use uscc::{organisation_code_check, Uscc, UsccError};

/// A one-line summary of a permit number's parts, for `permitd check number`:
/// `division 110111, category 03, sequence 00042, check F`.
pub fn describe_permit_number(number: &PermitNumber) -> String {
    format!(
        "division {:06}, category {:02}, sequence {:05}, check {}",
        number.division(),
        number.category(),
        number.sequence(),
        number.check_char()
    )
}

/// A one-line summary of a credit code's parts, for `permitd check uscc`:
/// `department 9, type 1, division 110111, organisation code 80210043-3, check B`.
pub fn describe_uscc(code: &Uscc) -> String {
    let organisation = code.organisation_code();
    format!(
        "department {}, type {}, division {}, organisation code {}-{}, check {}",
        code.registration_department(),
        code.organisation_type(),
        code.division(),
        organisation.get(..8).unwrap_or(organisation),
        organisation.get(8..).unwrap_or(""),
        code.check_char()
    )
}

/// A short class name of a character for error messages ("a lower-case letter"…).
pub(crate) fn character_class(found: char) -> &'static str {
    match found {
        c if c.is_ascii_digit() => "a digit",
        c if c.is_ascii_uppercase() => "an upper-case letter",
        c if c.is_ascii_lowercase() => "a lower-case letter",
        c if c.is_whitespace() => "white space",
        c if c.is_control() => "a control character",
        c if c.is_ascii() => "punctuation",
        _ => "a non-ASCII character",
    }
}

/// A hint that follows an error about `found`, starting with "; ", or "" when there is none.
pub(crate) fn character_hint(found: char) -> &'static str {
    match found {
        c if c.is_ascii_lowercase() => "; codes are upper-case",
        // U+FF01..=U+FF5E are the full-width forms of ASCII '!'..='~' (Chinese input methods).
        '\u{FF01}'..='\u{FF5E}' => "; this is a full-width character: use its ASCII form",
        '\u{3000}' => "; this is a full-width space: remove it",
        c if c.is_whitespace() => "; remove spaces and separators",
        '-' | '.' | '/' | '_' => "; remove spaces and separators",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_every_part() {
        // Proves the CLI summaries name each part with the values the code holds.
        let number = PermitNumber::parse("110111ZH0300042F").unwrap();
        assert_eq!(
            describe_permit_number(&number),
            "division 110111, category 03, sequence 00042, check F"
        );
        let code = Uscc::parse("91110000802100433B").unwrap();
        assert_eq!(
            describe_uscc(&code),
            "department 9, type 1, division 110000, organisation code 80210043-3, check B"
        );
    }
}
