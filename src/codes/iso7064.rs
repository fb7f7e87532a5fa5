//! ISO 7064 check characters. (Skeleton: being implemented.)

/// The MOD 37,36 check character for `text` (alphabet `0-9A-Z`), or `None` when `text` holds a
/// character outside the alphabet.
pub fn mod37_36_check_char(text: &[u8]) -> Option<u8> {
    let _ = text;
    todo!()
}
