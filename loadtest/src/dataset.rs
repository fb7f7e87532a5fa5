//! The permit numbers of a data set, read from an NDJSON event file as `permitd gen` writes it.
//!
//! Each line is one JSON object. Lines with `"kind":"permit_issued"` carry
//! `"permit":{"number":"110111ZH0300001M", …}`; their numbers are the permits a server loaded
//! with this data set must know. Every other kind (reissues, licence state changes…) is skipped:
//! a reissue keeps its number, a state change creates none. Blank lines are skipped; a line that
//! is not JSON is an error naming its line number (the file is not what we think it is). A
//! `permit_issued` number that fails the MOD 37,36 check is skipped and counted, since the
//! load tester could not say what the server should answer for it.

use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::path::Path;

use crate::limits::{DATA_LINE_BYTES_MAX, DATA_PERMITS_MAX};
use crate::number::PermitNo;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoadStats {
    pub lines: u64,
    pub permits: u64,
    pub duplicates: u64,
    pub other_kinds: u64,
    pub invalid_numbers: u64,
}

/// Distinct permit numbers in first-seen order.
#[derive(Debug, Clone, Default)]
pub struct DataSet {
    pub numbers: Vec<PermitNo>,
    pub stats: LoadStats,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("reading {path}: {cause}")]
    Open { path: String, cause: std::io::Error },
    #[error("line {line}: {cause}")]
    Read { line: u64, cause: std::io::Error },
    #[error("line {line}: longer than {DATA_LINE_BYTES_MAX} bytes")]
    LineTooLong { line: u64 },
    #[error("line {line}: not a JSON event object: {cause}")]
    Json { line: u64, cause: serde_json::Error },
    #[error("line {line}: permit_issued without permit.number")]
    MissingNumber { line: u64 },
    #[error("more than {DATA_PERMITS_MAX} permits")]
    TooManyPermits,
    #[error("no permit_issued events with a valid number: nothing to request")]
    NoPermits,
}

#[derive(serde::Deserialize)]
struct EventProbe<'a> {
    #[serde(borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    permit: Option<PermitProbe<'a>>,
}

#[derive(serde::Deserialize)]
struct PermitProbe<'a> {
    #[serde(borrow, default)]
    number: Option<std::borrow::Cow<'a, str>>,
}

impl DataSet {
    pub fn load(path: &Path) -> Result<DataSet, DataError> {
        let file = std::fs::File::open(path).map_err(|cause| DataError::Open {
            path: path.display().to_string(),
            cause,
        })?;
        DataSet::read(std::io::BufReader::with_capacity(1 << 16, file))
    }

    pub fn read(mut reader: impl BufRead) -> Result<DataSet, DataError> {
        let mut set = DataSet::default();
        let mut seen: HashSet<PermitNo> = HashSet::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = set.stats.lines + 1;
            let read = (&mut reader)
                .take(DATA_LINE_BYTES_MAX as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|cause| DataError::Read { line: n, cause })?;
            if read == 0 {
                break;
            }
            set.stats.lines = n;
            if line.last() == Some(&b'\n') {
                line.pop();
            } else if line.len() > DATA_LINE_BYTES_MAX {
                return Err(DataError::LineTooLong { line: n });
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let event: EventProbe<'_> = serde_json::from_slice(&line)
                .map_err(|cause| DataError::Json { line: n, cause })?;
            if event.kind.as_deref() != Some("permit_issued") {
                set.stats.other_kinds += 1;
                continue;
            }
            let number = event
                .permit
                .and_then(|p| p.number)
                .ok_or(DataError::MissingNumber { line: n })?;
            let Ok(number) = PermitNo::parse(&number) else {
                set.stats.invalid_numbers += 1;
                continue;
            };
            if !seen.insert(number) {
                set.stats.duplicates += 1;
                continue;
            }
            if set.numbers.len() == DATA_PERMITS_MAX {
                return Err(DataError::TooManyPermits);
            }
            set.numbers.push(number);
            set.stats.permits += 1;
        }
        if set.numbers.is_empty() {
            return Err(DataError::NoPermits);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(seq: u32) -> PermitNo {
        PermitNo::from_body(b"110111ZH0300001")
            .unwrap()
            .with_sequence(seq)
    }

    #[test]
    fn extracts_issued_numbers_and_skips_the_rest() {
        // Proves only permit_issued numbers are kept, once each, with other lines counted.
        let text = format!(
            concat!(
                "{{\"schema\":1,\"id\":\"a\",\"kind\":\"permit_issued\",\"permit\":{{\"number\":\"{a}\",\"version\":1,\"licences\":[]}}}}\n",
                "\n",
                "{{\"schema\":1,\"id\":\"b\",\"kind\":\"licence_state_changed\",\"number\":\"{a}\",\"state\":\"suspended\"}}\n",
                "{{\"kind\":\"permit_reissued\",\"permit\":{{\"number\":\"{a}\",\"version\":2}}}}\n",
                "{{\"kind\":\"permit_issued\",\"permit\":{{\"number\":\"{b}\"}}}}\n",
                "{{\"kind\":\"permit_issued\",\"permit\":{{\"number\":\"{a}\"}}}}\n",
                "{{\"kind\":\"permit_issued\",\"permit\":{{\"number\":\"{bad}\"}}}}\n",
                "{{\"kind\":\"permit_issued\",\"permit\":{{\"number\":\"{c}\"}}}}",
            ),
            a = n(1),
            b = n(2),
            c = n(3),
            bad = {
                let mut s = String::new();
                n(1).write_malformed(crate::number::Malformation::WrongCheck { shift: 3 }, &mut s);
                s
            },
        );
        let set = DataSet::read(text.as_bytes()).unwrap();
        assert_eq!(set.numbers, vec![n(1), n(2), n(3)]);
        assert_eq!(
            set.stats,
            LoadStats {
                lines: 8,
                permits: 3,
                duplicates: 1,
                other_kinds: 2,
                invalid_numbers: 1
            }
        );
    }

    #[test]
    fn reports_broken_files() {
        // Proves non-JSON lines, missing numbers and empty sets are errors naming the problem.
        let err = DataSet::read(&b"{\"kind\":\"x\"}\nnot json\n"[..]).unwrap_err();
        assert!(matches!(err, DataError::Json { line: 2, .. }), "{err}");
        let err = DataSet::read(&b"{\"kind\":\"permit_issued\",\"permit\":{}}\n"[..]).unwrap_err();
        assert!(matches!(err, DataError::MissingNumber { line: 1 }), "{err}");
        let err = DataSet::read(&b"{\"kind\":\"other\"}\n"[..]).unwrap_err();
        assert!(matches!(err, DataError::NoPermits), "{err}");
        let long = vec![b' '; DATA_LINE_BYTES_MAX + 5];
        let err = DataSet::read(&long[..]).unwrap_err();
        assert!(matches!(err, DataError::LineTooLong { line: 1 }), "{err}");
    }
}
