//! One shard's pre-rendered JSON answers, stored right after the shard's archive.
//!
//! ```text
//! entry table: one 16-byte entry per permit, in the shard's order
//!   body offset u64 (from the end of the table) · body length u32 · valid through i32 (days;
//!   i32::MAX: no date ends it)
//! bodies: the JSON answers, back to back
//! ```
//!
//! An answer is the exact body `GET /v1/permits/{number}` returns for the permit's current
//! version, rendered for the snapshot's `answers_as_of` date; it stays true through its
//! valid-through date (see [`crate::answer::answer_valid_through`]). The resolver serves it as it
//! is inside that window and renders afresh outside it. No `unsafe`: every read is bounds-checked.

use crate::domain::Date;

pub const ANSWER_ENTRY_BYTES: usize = 16;
const NO_END: i32 = i32::MAX;

/// A pre-rendered answer and the last date it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer<'a> {
    pub body: &'a [u8],
    pub valid_through: Option<Date>,
}

impl Answer<'_> {
    /// Whether this answer, rendered on `as_of`, is still the answer on `today`.
    pub fn holds_on(&self, as_of: Date, today: Date) -> bool {
        as_of <= today && self.valid_through.is_none_or(|end| today <= end)
    }
}

#[derive(Clone, Copy)]
pub struct Answers<'a> {
    table: &'a [u8],
    bodies: &'a [u8],
}

impl<'a> Answers<'a> {
    /// The answers of a shard of `count` permits; checks only that the table fits (O(1)).
    pub fn new(bytes: &'a [u8], count: usize) -> Result<Answers<'a>, String> {
        let table_bytes = count
            .checked_mul(ANSWER_ENTRY_BYTES)
            .filter(|&t| t <= bytes.len())
            .ok_or_else(|| format!("{} bytes cannot hold {count} answer entries", bytes.len()))?;
        let (table, bodies) = bytes.split_at(table_bytes);
        Ok(Answers { table, bodies })
    }

    /// The answer at `position`, or `None` if the entry points outside the section.
    #[inline]
    pub fn get(&self, position: usize) -> Option<Answer<'a>> {
        let at = position.checked_mul(ANSWER_ENTRY_BYTES)?;
        let entry = self.table.get(at..at + ANSWER_ENTRY_BYTES)?;
        let offset = u64::from_le_bytes(entry[0..8].try_into().expect("8 bytes")) as usize;
        let len = u32::from_le_bytes(entry[8..12].try_into().expect("4 bytes")) as usize;
        let through = i32::from_le_bytes(entry[12..16].try_into().expect("4 bytes"));
        let body = self.bodies.get(offset..offset.checked_add(len)?)?;
        let valid_through = (through != NO_END).then(|| Date::from_days_since_epoch(through));
        Some(Answer {
            body,
            valid_through,
        })
    }

    pub fn len(&self) -> usize {
        self.table.len() / ANSWER_ENTRY_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// Collects a shard's answers in order, then lays them out.
#[derive(Default)]
pub struct AnswersWriter {
    table: Vec<u8>,
    bodies: Vec<u8>,
}

impl AnswersWriter {
    pub fn with_capacity(count: usize, body_bytes: usize) -> AnswersWriter {
        AnswersWriter {
            table: Vec::with_capacity(count * ANSWER_ENTRY_BYTES),
            bodies: Vec::with_capacity(body_bytes),
        }
    }

    pub fn push(&mut self, body: &[u8], valid_through: Option<Date>) {
        let len = u32::try_from(body.len()).expect("an answer is far below 4 GiB");
        self.table
            .extend_from_slice(&(self.bodies.len() as u64).to_le_bytes());
        self.table.extend_from_slice(&len.to_le_bytes());
        let through = valid_through.map_or(NO_END, Date::days_since_epoch);
        self.table.extend_from_slice(&through.to_le_bytes());
        self.bodies.extend_from_slice(body);
    }

    /// The section's two parts, table first; written back to back they are the section.
    pub fn parts(&self) -> [&[u8]; 2] {
        [&self.table, &self.bodies]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_bad_entries_read_as_none() {
        // What the writer lays out reads back; an entry pointing past the section is None.
        let mut writer = AnswersWriter::default();
        let end = Date::from_ymd(2027, 1, 31).unwrap();
        writer.push(b"{\"a\":1}", Some(end));
        writer.push(b"{}", None);
        let bytes: Vec<u8> = writer.parts().concat();
        let answers = Answers::new(&bytes, 2).unwrap();
        assert_eq!(
            answers.get(0),
            Some(Answer {
                body: b"{\"a\":1}",
                valid_through: Some(end)
            })
        );
        assert_eq!(
            answers.get(1),
            Some(Answer {
                body: b"{}",
                valid_through: None
            })
        );
        assert_eq!(answers.get(2), None);
        assert!(Answers::new(&bytes, 100).is_err());
        let mut damaged = bytes.clone();
        damaged[8] = 0xFF; // first body's length
        assert_eq!(Answers::new(&damaged, 2).unwrap().get(0), None);
    }

    #[test]
    fn an_answer_holds_from_its_date_through_its_end() {
        // Before the render date or after the valid-through date the answer must be re-rendered.
        let d = |s| Date::parse(s).unwrap();
        let answer = Answer {
            body: b"",
            valid_through: Some(d("2027-01-31")),
        };
        assert!(answer.holds_on(d("2026-12-03"), d("2026-12-03")));
        assert!(answer.holds_on(d("2026-12-03"), d("2027-01-31")));
        assert!(!answer.holds_on(d("2026-12-03"), d("2027-02-01")));
        assert!(!answer.holds_on(d("2026-12-03"), d("2026-12-02")));
        let forever = Answer {
            body: b"",
            valid_through: None,
        };
        assert!(forever.holds_on(d("2026-12-03"), d("2099-01-01")));
    }
}
