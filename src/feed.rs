//! Reading change-feed files (NDJSON, one [`Event`] a line) and folding them into a registry.
//!
//! Lines are bounded ([`FEED_LINE_BYTES_MAX`]); a line that is too long, not JSON, or not a valid
//! event is reported with its line number and changes nothing, like an event the registry
//! rejects. Blank lines are skipped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::event::Event;
use crate::limits::FEED_LINE_BYTES_MAX;
use crate::registry::{Applied, Registry};

/// How many rejected lines a fold keeps the reasons of (the rest are only counted).
pub const REJECTIONS_KEPT_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line number in the file.
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldReport {
    pub lines: u64,
    pub accepted: u64,
    pub replays: u64,
    pub rejected: u64,
    /// The first [`REJECTIONS_KEPT_MAX`] rejections.
    pub rejections: Vec<Rejected>,
}

impl FoldReport {
    fn reject(&mut self, line: u64, reason: String) {
        self.rejected += 1;
        if self.rejections.len() < REJECTIONS_KEPT_MAX {
            self.rejections.push(Rejected { line, reason });
        }
    }
}

/// Folds every event of `reader` into `registry`. `on_bytes` is told how many bytes were read,
/// every ~4 MiB, for a progress bar.
///
/// # Errors
/// Only I/O errors; bad lines are reported in the [`FoldReport`].
pub fn fold(
    registry: &mut Registry<'_>,
    reader: impl Read,
    on_bytes: &mut dyn FnMut(u64),
) -> io::Result<FoldReport> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut report = FoldReport::default();
    let mut line = Vec::with_capacity(4096);
    let (mut bytes_read, mut bytes_reported) = (0u64, 0u64);
    loop {
        line.clear();
        let n = (&mut reader)
            .take(FEED_LINE_BYTES_MAX as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        bytes_read += n as u64;
        report.lines += 1;
        let number = report.lines;
        if line.len() > FEED_LINE_BYTES_MAX && line.last() != Some(&b'\n') {
            // Skip the rest of the overlong line.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let m = (&mut reader)
                    .take(FEED_LINE_BYTES_MAX as u64)
                    .read_until(b'\n', &mut rest)?;
                bytes_read += m as u64;
                if m == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
            }
            report.reject(
                number,
                format!("line is longer than {FEED_LINE_BYTES_MAX} bytes"),
            );
            continue;
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            report.lines -= 1;
            continue;
        }
        match serde_json::from_slice::<Event>(text) {
            Err(e) => report.reject(number, format!("not a valid event: {e}")),
            Ok(event) => match registry.apply(event) {
                Ok(Applied::Accepted { .. }) => report.accepted += 1,
                Ok(Applied::Replay) => report.replays += 1,
                Err(rejection) => report.reject(number, rejection.to_string()),
            },
        }
        if bytes_read - bytes_reported >= 4 << 20 {
            bytes_reported = bytes_read;
            on_bytes(bytes_read);
        }
    }
    on_bytes(bytes_read);
    Ok(report)
}

/// [`fold`] over a file.
pub fn fold_file(
    registry: &mut Registry<'_>,
    path: &Path,
    on_bytes: &mut dyn FnMut(u64),
) -> io::Result<FoldReport> {
    fold(registry, File::open(path)?, on_bytes)
}
