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
    /// Lines read, blank ones included (line numbers in rejections count the same way).
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

/// Lines parsed per batch handed from the parsing thread to the applying one.
const BATCH_LINES: usize = 1024;
/// Batches in flight between the two threads: bounds the memory the pipeline holds.
const BATCHES_IN_FLIGHT: usize = 4;

/// One line's outcome on the parsing side: an event, or why the line is not one.
pub type Parsed = Result<Event, String>;

/// Folds every event of `reader` into `registry`. `on_bytes` is told how many bytes were read,
/// every ~4 MiB, for a progress bar.
///
/// Two threads: one reads and parses lines (the bulk of the work), the caller's applies them in
/// file order, so the result is the same as a sequential fold.
///
/// # Errors
/// Only I/O errors; bad lines are reported in the [`FoldReport`].
pub fn fold(
    registry: &mut Registry<'_>,
    reader: impl Read + Send,
    on_bytes: &mut dyn FnMut(u64),
) -> io::Result<FoldReport> {
    let mut report = FoldReport::default();
    let lines = for_each_event(reader, on_bytes, &mut |line, parsed| {
        match parsed {
            Err(reason) => report.reject(line, reason),
            Ok(event) => match registry.apply(event) {
                Ok(Applied::Accepted { .. }) => report.accepted += 1,
                Ok(Applied::Replay) => report.replays += 1,
                Err(rejection) => report.reject(line, rejection.to_string()),
            },
        }
        Ok(())
    })?;
    report.lines = lines;
    Ok(report)
}

/// Reads and parses `reader` on a second thread and hands each non-blank line's outcome, in
/// file order, to `sink` on this one (with its 1-based physical line number). Returns the number
/// of lines read. A `sink` error stops the reading and is returned.
///
/// # Errors
/// I/O errors of `reader`, or the first error `sink` returns.
pub fn for_each_event(
    reader: impl Read + Send,
    on_bytes: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(u64, Parsed) -> io::Result<()>,
) -> io::Result<u64> {
    let (batches, received) =
        std::sync::mpsc::sync_channel::<Vec<(u64, Parsed)>>(BATCHES_IN_FLIGHT);
    let (progress, progress_received) = std::sync::mpsc::channel::<u64>();
    std::thread::scope(|scope| {
        let parser = scope.spawn(move || parse_lines(reader, &batches, &progress));
        let mut failed = None;
        for batch in received {
            for (line, parsed) in batch {
                if let Err(e) = sink(line, parsed) {
                    failed = Some(e);
                    break;
                }
            }
            if failed.is_some() {
                break; // dropping `received` stops the parser
            }
            if let Some(bytes) = progress_received.try_iter().last() {
                on_bytes(bytes);
            }
        }
        let (lines, bytes) = parser.join().expect("the parsing thread does not panic")?;
        if let Some(e) = failed {
            return Err(e);
        }
        on_bytes(bytes);
        Ok(lines)
    })
}

/// Reads `reader` line by line under the line limit and parses each non-blank line; returns
/// the number of lines and bytes read.
fn parse_lines(
    reader: impl Read,
    batches: &std::sync::mpsc::SyncSender<Vec<(u64, Parsed)>>,
    progress: &std::sync::mpsc::Sender<u64>,
) -> io::Result<(u64, u64)> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut line = Vec::with_capacity(4096);
    let (mut bytes_read, mut bytes_reported, mut number) = (0u64, 0u64, 0u64);
    let mut batch = Vec::with_capacity(BATCH_LINES);
    loop {
        line.clear();
        let n = (&mut reader)
            .take(FEED_LINE_BYTES_MAX as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        bytes_read += n as u64;
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
            number += 1;
            let reason = format!("line is longer than {FEED_LINE_BYTES_MAX} bytes");
            batch.push((number, Err(reason)));
        } else {
            number += 1;
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let parsed = serde_json::from_slice::<Event>(text)
                .map_err(|e| format!("not a valid event: {e}"));
            batch.push((number, parsed));
        }
        if batch.len() == BATCH_LINES {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_LINES));
            if batches.send(full).is_err() {
                break;
            }
        }
        if bytes_read - bytes_reported >= 4 << 20 {
            bytes_reported = bytes_read;
            let _ = progress.send(bytes_read);
        }
    }
    if !batch.is_empty() {
        let _ = batches.send(batch);
    }
    Ok((number, bytes_read))
}

/// [`fold`] over a file.
pub fn fold_file(
    registry: &mut Registry<'_>,
    path: &Path,
    on_bytes: &mut dyn FnMut(u64),
) -> io::Result<FoldReport> {
    fold(registry, File::open(path)?, on_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::domain::Date;
    use crate::gen::{generate, GenOptions};

    fn feed(permits: u64) -> Vec<u8> {
        let catalog = Catalog::embedded().unwrap();
        let options = GenOptions {
            permits,
            seed: 4,
            as_of: Date::from_ymd(2026, 6, 15).unwrap(),
        };
        let mut out = Vec::new();
        generate(&catalog, &options, &mut out, &mut |_| {}).unwrap();
        out
    }

    #[test]
    fn bad_lines_are_reported_by_line_number_and_the_rest_still_folds() {
        // Not JSON, an overlong line, a rejected event and blank lines: each is reported with its
        // physical line number, changes nothing, and the good lines around it are applied.
        let good = feed(3000);
        let lines: Vec<&[u8]> = good
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut text = Vec::new();
        text.extend_from_slice(lines[0]);
        text.extend_from_slice(b"\n\nnot json at all\n");
        text.extend_from_slice(&vec![b'x'; FEED_LINE_BYTES_MAX * 3]);
        text.push(b'\n');
        text.extend_from_slice(lines[0]); // a replay of line 1
        text.push(b'\n');
        let duplicate_number = String::from_utf8(lines[0].to_vec())
            .unwrap()
            .replace("gen-", "other-");
        text.extend_from_slice(duplicate_number.as_bytes());
        text.push(b'\n');
        for line in &lines[1..] {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        let report = fold(&mut registry, &text[..], &mut |_| {}).unwrap();
        let reported: Vec<u64> = report.rejections.iter().map(|r| r.line).collect();
        assert_eq!(reported, [3, 4, 6], "{:?}", report.rejections);
        assert!(report.rejections[0].reason.contains("not a valid event"));
        assert!(report.rejections[1].reason.contains("longer than"));
        assert!(report.rejections[2].reason.contains("already issued"));
        assert_eq!(report.replays, 1);
        assert_eq!(report.accepted, lines.len() as u64);
        assert_eq!(report.lines, lines.len() as u64 + 5);
        assert_eq!(registry.len(), 3000);
    }

    #[test]
    fn folding_in_two_threads_matches_applying_in_order() {
        // The pipelined fold gives the same registry as applying each parsed line in turn.
        let text = feed(5000);
        let catalog = Catalog::embedded().unwrap();
        let mut piped = Registry::new(&catalog);
        fold(&mut piped, &text[..], &mut |_| {}).unwrap();
        let mut plain = Registry::new(&catalog);
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            plain.apply(serde_json::from_slice(line).unwrap()).unwrap();
        }
        assert_eq!(piped.sequence(), plain.sequence());
        assert_eq!(piped.into_sorted(), plain.into_sorted());
    }
}
