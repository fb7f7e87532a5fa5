//! The change log on real files in temporary directories.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::{encode_record, record_bytes, SEGMENT_HEADER_BYTES};
use super::{ChangeLog, LogError, LogOptions, LogReader, LogRecord, Recovery};
use crate::limits::LOG_RECORD_BYTES_MAX;

/// Segments this small hold a handful of records each.
const SMALL: LogOptions = LogOptions {
    segment_bytes_max: 300,
};

fn payload(seq: u64) -> Vec<u8> {
    let pad = "x".repeat((seq % 37) as usize);
    format!("{{\"seq\":{seq},\"pad\":\"{pad}\"}}").into_bytes()
}

fn other_payload(seq: u64) -> Vec<u8> {
    format!("{{\"rewritten\":{seq}}}").into_bytes()
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn open(dir: &Path, options: LogOptions) -> (ChangeLog, Recovery) {
    ChangeLog::open_with(dir, options).expect("the log opens")
}

/// Appends `seqs` with [`payload`], committing every `group` records and at the end.
fn append_all(log: &mut ChangeLog, seqs: std::ops::RangeInclusive<u64>, group: u64) {
    for seq in seqs {
        log.append(seq, &payload(seq)).expect("append");
        if seq.is_multiple_of(group) {
            log.commit().expect("commit");
        }
    }
    log.commit().expect("commit");
}

fn write_log(dir: &Path, options: LogOptions, seqs: std::ops::RangeInclusive<u64>) {
    let (mut log, _) = open(dir, options);
    append_all(&mut log, seqs, 5);
}

/// Segment files, oldest first.
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("list")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("seg-") && name.ends_with(".log")
        })
        .collect();
    files.sort();
    files
}

fn first_seq_of(path: &Path) -> u64 {
    let name = path.file_name().and_then(|n| n.to_str()).expect("a name");
    name["seg-".len()..name.len() - ".log".len()]
        .parse()
        .expect("digits")
}

/// Everything a reader after `after_seq` can read now.
fn read_all(dir: &Path, after_seq: u64, options: LogOptions) -> Vec<LogRecord> {
    let mut reader = LogReader::open_with(dir, after_seq, options).expect("reader opens");
    drain(&mut reader)
}

fn drain(reader: &mut LogReader) -> Vec<LogRecord> {
    let mut out = Vec::new();
    while reader.read_available(7, &mut out).expect("read") > 0 {}
    out
}

fn seqs(records: &[LogRecord]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

fn assert_payloads(records: &[LogRecord]) {
    for record in records {
        assert_eq!(
            record.payload,
            payload(record.seq),
            "payload of {}",
            record.seq
        );
    }
}

#[track_caller]
fn expect_corrupt(result: Result<impl std::fmt::Debug, LogError>) -> (PathBuf, u64, String) {
    match result {
        Err(LogError::Corrupt { path, offset, why }) => (path, offset, why),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(path).expect("open");
    file.write_all(bytes).expect("write");
}

/// `len` bytes of deterministic noise.
fn noise(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut counter = 0u64;
    while out.len() < len {
        out.extend_from_slice(blake3::hash(&counter.to_le_bytes()).as_bytes());
        counter += 1;
    }
    out.truncate(len);
    out
}

#[test]
fn round_trip_across_several_segments() {
    let dir = temp();
    write_log(dir.path(), SMALL, 1..=100);
    let files = segment_files(dir.path());
    assert!(files.len() >= 10, "{} segments", files.len());
    // Names and headers agree, and every closed segment passed the limit before rolling.
    for (index, path) in files.iter().enumerate() {
        let bytes = fs::read(path).expect("read");
        assert_eq!(&bytes[..8], b"PMTDLOG1");
        assert_eq!(bytes[8..16], first_seq_of(path).to_le_bytes());
        if index + 1 < files.len() {
            assert!(bytes.len() as u64 > SMALL.segment_bytes_max);
        }
    }

    let (mut log, recovery) = open(dir.path(), SMALL);
    assert_eq!(
        recovery,
        Recovery {
            last_seq: Some(100),
            records: 100,
            segments: files.len(),
            truncated_bytes: 0,
        }
    );
    assert_eq!(log.next_seq(), Some(101));
    append_all(&mut log, 101..=130, 4);
    drop(log);

    let records = read_all(dir.path(), 0, SMALL);
    assert_eq!(seqs(&records), (1..=130).collect::<Vec<_>>());
    assert_payloads(&records);
    let (_, recovery) = open(dir.path(), SMALL);
    assert_eq!(recovery.records, 130);
}

#[test]
fn production_settings_round_trip() {
    let dir = temp();
    let (mut log, recovery) = ChangeLog::open(&dir.path().join("log")).expect("open");
    assert_eq!(recovery.last_seq, None);
    assert_eq!(recovery.segments, 0);
    append_all(&mut log, 1..=50, 10);
    drop(log);
    let mut reader = LogReader::open(&dir.path().join("log"), 0).expect("reader");
    let records = drain(&mut reader);
    assert_eq!(seqs(&records), (1..=50).collect::<Vec<_>>());
    assert_eq!(segment_files(&dir.path().join("log")).len(), 1);
}

#[test]
fn the_first_record_sets_where_the_log_starts() {
    let dir = temp();
    let (mut log, _) = open(dir.path(), SMALL);
    assert_eq!(log.next_seq(), None);
    assert!(matches!(
        log.append(0, b"{}"),
        Err(LogError::Sequence {
            expected: 1,
            got: 0
        })
    ));
    log.append(500, &payload(500))
        .expect("any seq ≥ 1 starts an empty log");
    log.commit().expect("commit");
    assert_eq!(log.next_seq(), Some(501));
    assert_eq!(log.last_seq(), Some(500));
    drop(log);
    let (log, recovery) = open(dir.path(), SMALL);
    assert_eq!(recovery.last_seq, Some(500));
    assert_eq!(log.next_seq(), Some(501));
    assert_eq!(seqs(&read_all(dir.path(), 499, SMALL)), vec![500]);
    assert!(matches!(
        LogReader::open_with(dir.path(), 0, SMALL),
        Err(LogError::Retired {
            wanted: 1,
            first_available: 500
        })
    ));
}

#[test]
fn append_refuses_a_gap_and_a_repeat() {
    let dir = temp();
    let (mut log, _) = open(dir.path(), SMALL);
    log.append(1, b"a").expect("1");
    log.append(2, b"b").expect("2");
    assert!(matches!(
        log.append(4, b"d"),
        Err(LogError::Sequence {
            expected: 3,
            got: 4
        })
    ));
    assert!(matches!(
        log.append(2, b"b"),
        Err(LogError::Sequence {
            expected: 3,
            got: 2
        })
    ));
    // A refused append leaves the log usable.
    log.append(3, b"c").expect("3");
    log.commit().expect("commit");
    drop(log);
    let (log, recovery) = open(dir.path(), SMALL);
    assert_eq!(recovery.last_seq, Some(3));
    assert_eq!(log.next_seq(), Some(4));
}

#[test]
fn append_refuses_a_payload_over_the_limit() {
    let dir = temp();
    let (mut log, _) = open(dir.path(), SMALL);
    let too_large = vec![b'x'; LOG_RECORD_BYTES_MAX + 1];
    assert!(matches!(
        log.append(1, &too_large),
        Err(LogError::RecordTooLarge { bytes }) if bytes == LOG_RECORD_BYTES_MAX + 1
    ));
    let largest = vec![b'y'; LOG_RECORD_BYTES_MAX];
    log.append(1, &largest)
        .expect("the limit itself is allowed");
    log.append(2, b"after").expect("2");
    log.commit().expect("commit");
    drop(log);
    let records = read_all(dir.path(), 0, SMALL);
    assert_eq!(seqs(&records), vec![1, 2]);
    assert_eq!(records[0].payload, largest);
    assert_eq!(open(dir.path(), SMALL).1.records, 2);
}

/// Cuts the newest segment at every byte of its last record (and, when that record is the
/// segment's only one, of its header too): recovery keeps every earlier record, reports the cut
/// and the log takes the record again.
#[test]
fn recovery_truncates_a_torn_tail_at_every_cut() {
    // 20 records in small segments: the newest segment holds several records. 23: the newest
    // segment holds only record 23.
    for last in [20, 23] {
        let dir = temp();
        write_log(dir.path(), SMALL, 1..=last);
        let newest = segment_files(dir.path()).pop().expect("a segment");
        let whole = fs::read(&newest).expect("read");
        let last_record = record_bytes(payload(last).len()) as usize;
        let record_start = whole.len() - last_record;
        let from = if record_start == SEGMENT_HEADER_BYTES {
            0
        } else {
            record_start
        };
        assert!(
            (last == 23) == (from == 0),
            "segment layout changed: record {last} starts at {record_start}"
        );
        for cut in from..whole.len() {
            fs::write(&newest, &whole[..cut]).expect("cut");
            let (mut log, recovery) = open(dir.path(), SMALL);
            let context = format!("last {last}, cut at {cut}");
            assert_eq!(recovery.last_seq, Some(last - 1), "{context}");
            assert_eq!(recovery.records, last - 1, "{context}");
            assert_eq!(
                recovery.truncated_bytes,
                if cut < record_start {
                    cut as u64 // even the header was torn
                } else {
                    (cut - record_start) as u64
                },
                "{context}"
            );
            let kept = fs::metadata(&newest).expect("stat").len() as usize;
            assert_eq!(kept, record_start, "{context}");
            assert_eq!(log.next_seq(), Some(last), "{context}");
            log.append(last, &payload(last)).expect("append again");
            log.commit().expect("commit");
            drop(log);
            assert_eq!(fs::read(&newest).expect("read"), whole, "{context}");
        }
        let records = read_all(dir.path(), 0, SMALL);
        assert_eq!(seqs(&records), (1..=last).collect::<Vec<_>>());
    }
}

#[test]
fn recovery_truncates_zeros_and_noise_at_the_end() {
    for tail in [vec![0u8; 4096], noise(1000), noise(27), noise(5000)] {
        let dir = temp();
        write_log(dir.path(), SMALL, 1..=12);
        let newest = segment_files(dir.path()).pop().expect("a segment");
        let before = fs::metadata(&newest).expect("stat").len();
        append_bytes(&newest, &tail);
        let (_, recovery) = open(dir.path(), SMALL);
        assert_eq!(recovery.truncated_bytes, tail.len() as u64);
        assert_eq!(recovery.last_seq, Some(12));
        assert_eq!(fs::metadata(&newest).expect("stat").len(), before);
    }
}

/// Flips each byte of a record that valid records follow: always corruption, reported at that
/// record by recovery and by a reader, and nothing is truncated.
#[test]
fn a_flipped_byte_in_the_middle_is_corrupt() {
    let dir = temp();
    let options = LogOptions {
        segment_bytes_max: 10_000,
    };
    write_log(dir.path(), options, 1..=10);
    let newest = segment_files(dir.path()).pop().expect("a segment");
    let whole = fs::read(&newest).expect("read");
    // Record 6 of 10, all in one segment.
    let start: usize = SEGMENT_HEADER_BYTES
        + (1..6)
            .map(|s| record_bytes(payload(s).len()) as usize)
            .sum::<usize>();
    let end = start + record_bytes(payload(6).len()) as usize;
    for at in start..end {
        let mut damaged = whole.clone();
        damaged[at] ^= 0xA5;
        fs::write(&newest, &damaged).expect("write");
        let (path, offset, why) = expect_corrupt(ChangeLog::open_with(dir.path(), options));
        assert_eq!(
            (path.as_path(), offset),
            (newest.as_path(), start as u64),
            "byte {at}: {why}"
        );
        assert_eq!(
            fs::read(&newest).expect("read"),
            damaged,
            "byte {at}: nothing truncated"
        );

        let mut reader = LogReader::open_with(dir.path(), 0, options).expect("reader");
        let mut out = Vec::new();
        let error = loop {
            match reader.read_available(100, &mut out) {
                Ok(0) => panic!("byte {at}: the reader waits at corruption"),
                Ok(_) => {}
                Err(error) => break error,
            }
        };
        let (_, offset, _) = expect_corrupt(Err::<(), _>(error));
        assert_eq!(offset, start as u64, "byte {at}");
        assert_eq!(seqs(&out), vec![1, 2, 3, 4, 5], "byte {at}");
    }
}

#[test]
fn damage_in_an_older_segment_is_corrupt_even_at_its_end() {
    let dir = temp();
    write_log(dir.path(), SMALL, 1..=30);
    let oldest = segment_files(dir.path())[0].clone();
    let whole = fs::read(&oldest).expect("read");

    let mut flipped = whole.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    fs::write(&oldest, &flipped).expect("write");
    let (path, _, _) = expect_corrupt(ChangeLog::open_with(dir.path(), SMALL));
    assert_eq!(path, oldest);

    fs::write(&oldest, &whole[..whole.len() - 3]).expect("cut");
    let (path, _, why) = expect_corrupt(ChangeLog::open_with(dir.path(), SMALL));
    assert_eq!(path, oldest, "{why}");
    assert_eq!(
        fs::metadata(&oldest).expect("stat").len() as usize,
        whole.len() - 3
    );

    // A reader reads what is valid, then refuses the bad end since a newer segment follows.
    let mut reader = LogReader::open_with(dir.path(), 0, SMALL).expect("reader");
    let mut out = Vec::new();
    let outcome = loop {
        match reader.read_available(100, &mut out) {
            Ok(0) => panic!("the reader waits at the cut end of an older segment"),
            Ok(_) => {}
            Err(error) => break error,
        }
    };
    let (path, _, why) = expect_corrupt(Err::<(), _>(outcome));
    assert_eq!(path, oldest, "{why}");
    assert_eq!(seqs(&out), (1..out.len() as u64 + 1).collect::<Vec<_>>());
}

/// With a zero size limit every record gets its own segment. A newest segment left with only
/// its header (its one record torn away) must take the next record itself: a roll would try to
/// create a segment of the same name.
#[test]
fn a_header_only_segment_takes_the_next_record() {
    let dir = temp();
    let options = LogOptions {
        segment_bytes_max: 0,
    };
    write_log(dir.path(), options, 1..=3);
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 3);
    let newest = files[2].clone();
    let whole = fs::read(&newest).expect("read");
    fs::write(&newest, &whole[..SEGMENT_HEADER_BYTES + 5]).expect("cut");
    let (mut log, recovery) = open(dir.path(), options);
    assert_eq!(recovery.last_seq, Some(2));
    assert_eq!(log.next_seq(), Some(3));
    log.append(3, &payload(3)).expect("append");
    log.append(4, &payload(4)).expect("append");
    log.commit().expect("commit");
    drop(log);
    assert_eq!(fs::read(&newest).expect("read"), whole);
    assert_eq!(segment_files(dir.path()).len(), 4);
    let records = read_all(dir.path(), 0, options);
    assert_eq!(seqs(&records), vec![1, 2, 3, 4]);
}

#[test]
fn a_missing_middle_segment_is_corrupt() {
    let dir = temp();
    write_log(dir.path(), SMALL, 1..=40);
    let files = segment_files(dir.path());
    assert!(files.len() >= 4);
    fs::remove_file(&files[2]).expect("remove");
    let (path, offset, why) = expect_corrupt(ChangeLog::open_with(dir.path(), SMALL));
    assert_eq!((path, offset), (files[3].clone(), 0), "{why}");
}

#[test]
fn a_valid_record_with_the_wrong_seq_is_corrupt_not_torn() {
    let dir = temp();
    write_log(dir.path(), SMALL, 1..=10);
    let newest = segment_files(dir.path()).pop().expect("a segment");
    let size = fs::metadata(&newest).expect("stat").len();
    let mut framed = Vec::new();
    encode_record(&mut framed, 15, b"{}");
    append_bytes(&newest, &framed);
    let (_, offset, why) = expect_corrupt(ChangeLog::open_with(dir.path(), SMALL));
    assert_eq!(offset, size, "{why}");
    assert!(why.contains("seq 15"), "{why}");
}

#[test]
fn a_header_that_disagrees_with_the_name_is_corrupt() {
    let dir = temp();
    write_log(dir.path(), SMALL, 1..=3);
    let newest = segment_files(dir.path()).pop().expect("a segment");
    let mut bytes = fs::read(&newest).expect("read");
    bytes[8] ^= 2;
    fs::write(&newest, &bytes).expect("write");
    let (_, offset, _) = expect_corrupt(ChangeLog::open_with(dir.path(), SMALL));
    assert_eq!(offset, 8);
}

#[test]
fn retire_through_removes_only_fully_covered_segments() {
    let dir = temp();
    let (mut log, _) = open(dir.path(), SMALL);
    append_all(&mut log, 1..=60, 3);
    let firsts: Vec<u64> = segment_files(dir.path())
        .iter()
        .map(|p| first_seq_of(p))
        .collect();
    assert!(firsts.len() >= 5, "{firsts:?}");
    assert_eq!(firsts[0], 1);

    // Through the seq before segment 1's first: segment 0 is covered, segment 1 is not.
    assert_eq!(log.retire_through(firsts[1] - 2).expect("retire"), 0);
    assert_eq!(log.retire_through(firsts[1] - 1).expect("retire"), 1);
    assert_eq!(log.retire_through(firsts[2] - 2).expect("retire"), 0);
    assert_eq!(log.retire_through(firsts[3] - 1).expect("retire"), 2);
    let left: Vec<u64> = segment_files(dir.path())
        .iter()
        .map(|p| first_seq_of(p))
        .collect();
    assert_eq!(left, firsts[3..]);

    // Everything covered: the active segment stays.
    let removed = log.retire_through(u64::MAX).expect("retire");
    assert_eq!(removed, firsts.len() - 4);
    let left = segment_files(dir.path());
    assert_eq!(left.len(), 1);
    let active_first = first_seq_of(&left[0]);
    assert_eq!(active_first, *firsts.last().expect("a segment"));

    // The log goes on, and opens and reads from where it now starts.
    append_all(&mut log, 61..=70, 5);
    drop(log);
    let (_, recovery) = open(dir.path(), SMALL);
    assert_eq!(recovery.last_seq, Some(70));
    assert_eq!(recovery.records, 70 - active_first + 1);
    let records = read_all(dir.path(), active_first - 1, SMALL);
    assert_eq!(seqs(&records), (active_first..=70).collect::<Vec<_>>());
    assert!(matches!(
        LogReader::open_with(dir.path(), active_first - 2, SMALL),
        Err(LogError::Retired { wanted, first_available })
            if wanted == active_first - 1 && first_available == active_first
    ));
}

#[test]
fn a_reader_starts_after_the_seq_it_is_given() {
    let dir = temp();
    write_log(dir.path(), SMALL, 1..=50);
    for after in [0, 1, 5, 6, 7, 24, 25, 26, 49] {
        let records = read_all(dir.path(), after, SMALL);
        assert_eq!(
            seqs(&records),
            (after + 1..=50).collect::<Vec<_>>(),
            "after {after}"
        );
        assert_payloads(&records);
    }
    // Past the end: nothing yet, then only what comes after.
    let mut reader = LogReader::open_with(dir.path(), 52, SMALL).expect("reader");
    assert!(drain(&mut reader).is_empty());
    let (mut log, _) = open(dir.path(), SMALL);
    append_all(&mut log, 51..=60, 4);
    assert_eq!(seqs(&drain(&mut reader)), (53..=60).collect::<Vec<_>>());
    assert_eq!(reader.consumed_through(), 60);
}

#[test]
fn a_reader_hands_out_at_most_what_it_is_asked() {
    let dir = temp();
    write_log(dir.path(), SMALL, 1..=40);
    let mut reader = LogReader::open_with(dir.path(), 10, SMALL).expect("reader");
    let mut out = Vec::new();
    assert_eq!(reader.read_available(0, &mut out).expect("read"), 0);
    let mut calls = 0;
    loop {
        let read = reader.read_available(3, &mut out).expect("read");
        assert!(read <= 3);
        if read == 0 {
            break;
        }
        calls += 1;
    }
    assert_eq!(calls, 10);
    assert_eq!(seqs(&out), (11..=40).collect::<Vec<_>>());
}

/// A thread appends and commits in groups of varying size while the reader polls; the reader
/// sees each record exactly once, in order, across many segment rolls, and all of them once the
/// writer is done.
#[test]
fn a_reader_follows_a_concurrent_writer() {
    const RECORDS: u64 = 3000;
    let dir = temp();
    let log_dir = dir.path().join("log");
    // Opened before the log exists: it waits for the first segment.
    let mut reader = LogReader::open_with(&log_dir, 0, SMALL).expect("reader");
    let writer_dir = log_dir.clone();
    let writer = std::thread::spawn(move || {
        let (mut log, _) = ChangeLog::open_with(&writer_dir, SMALL).expect("writer opens");
        let mut seq = 1;
        let mut group = 1;
        while seq <= RECORDS {
            for _ in 0..group {
                if seq > RECORDS {
                    break;
                }
                log.append(seq, &payload(seq)).expect("append");
                seq += 1;
            }
            log.commit().expect("commit");
            group = group % 17 + 1;
        }
    });
    let mut seen = Vec::new();
    let mut polls = 0u64;
    let check = |out: &[LogRecord], seen: &mut Vec<LogRecord>| {
        for record in out {
            assert_eq!(record.seq, seen.len() as u64 + 1, "in order, each once");
            assert_eq!(record.payload, payload(record.seq));
            seen.push(record.clone());
        }
    };
    let mut out = Vec::new();
    while !writer.is_finished() {
        out.clear();
        reader.read_available(50, &mut out).expect("read");
        check(&out, &mut seen);
        polls += 1;
        std::thread::yield_now();
    }
    writer.join().expect("the writer does not panic");
    loop {
        out.clear();
        if reader.read_available(50, &mut out).expect("read") == 0 {
            break;
        }
        check(&out, &mut seen);
    }
    assert_eq!(seen.len() as u64, RECORDS, "after {polls} polls");
    assert!(segment_files(&log_dir).len() > 100);
}

#[test]
fn a_reader_waits_at_a_segment_not_written_yet() {
    let dir = temp();
    let (mut log, _) = open(dir.path(), SMALL);
    let mut seq = 1;
    while segment_files(dir.path()).len() < 2 {
        log.append(seq, &payload(seq)).expect("append");
        seq += 1;
    }
    // The roll synced the old segment and created the new one; its bytes are still buffered.
    let newest = segment_files(dir.path()).pop().expect("a segment");
    assert_eq!(fs::metadata(&newest).expect("stat").len(), 0);
    let mut reader = LogReader::open_with(dir.path(), 0, SMALL).expect("reader");
    assert_eq!(seqs(&drain(&mut reader)), (1..seq - 1).collect::<Vec<_>>());
    for _ in 0..200 {
        assert!(drain(&mut reader).is_empty());
    }
    log.commit().expect("commit");
    assert_eq!(seqs(&drain(&mut reader)), vec![seq - 1]);
}

/// The writer "crashes" leaving a torn tail; the reader waits at it without error; the writer
/// restarts, recovery cuts the tail and new records take those seqs; the reader reads them.
#[test]
fn a_reader_sees_the_records_written_after_recovery() {
    let mut torn_record = Vec::new();
    encode_record(&mut torn_record, 11, &payload(11));
    let mut bad_checksum = torn_record.clone();
    let last = bad_checksum.len() - 1;
    bad_checksum[last] ^= 1;
    let tails = [
        torn_record[..torn_record.len() - 1].to_vec(),
        torn_record[..10].to_vec(),
        bad_checksum,
        vec![0; 300],
        noise(200),
    ];
    for tail in tails {
        let dir = temp();
        write_log(dir.path(), SMALL, 1..=10);
        let mut reader = LogReader::open_with(dir.path(), 0, SMALL).expect("reader");
        assert_eq!(seqs(&drain(&mut reader)), (1..=10).collect::<Vec<_>>());

        let newest = segment_files(dir.path()).pop().expect("a segment");
        append_bytes(&newest, &tail);
        for _ in 0..200 {
            assert!(
                drain(&mut reader).is_empty(),
                "the reader waits at the torn tail"
            );
        }

        let (mut log, recovery) = open(dir.path(), SMALL);
        assert_eq!(recovery.truncated_bytes, tail.len() as u64);
        for seq in 11..=40 {
            log.append(seq, &other_payload(seq)).expect("append");
        }
        log.commit().expect("commit");
        let records = drain(&mut reader);
        assert_eq!(seqs(&records), (11..=40).collect::<Vec<_>>());
        for record in &records {
            assert_eq!(record.payload, other_payload(record.seq));
        }
    }
}

#[test]
fn a_reader_of_a_missing_directory_waits_for_the_log() {
    let dir = temp();
    let log_dir = dir.path().join("not-yet");
    let mut reader = LogReader::open_with(&log_dir, 4, SMALL).expect("reader");
    assert!(drain(&mut reader).is_empty());
    let (mut log, _) = open(&log_dir, SMALL);
    append_all(&mut log, 5..=9, 2);
    assert_eq!(seqs(&drain(&mut reader)), (5..=9).collect::<Vec<_>>());
}

#[test]
fn a_reader_behind_a_new_log_start_is_told_records_are_retired() {
    let dir = temp();
    let mut reader = LogReader::open_with(dir.path(), 4, SMALL).expect("reader");
    write_log(dir.path(), SMALL, 20..=25);
    // Found by listing, on a later idle poll.
    let mut outcome = Ok(0);
    for _ in 0..200 {
        outcome = reader.read_available(10, &mut Vec::new());
        if outcome.is_err() {
            break;
        }
    }
    assert!(
        matches!(
            outcome,
            Err(LogError::Retired {
                wanted: 5,
                first_available: 20
            })
        ),
        "{outcome:?}"
    );
}

#[test]
fn a_reader_whose_next_segment_was_retired_is_told_so() {
    let dir = temp();
    let (mut log, _) = open(dir.path(), SMALL);
    append_all(&mut log, 1..=60, 10);
    let mut reader = LogReader::open_with(dir.path(), 0, SMALL).expect("reader");
    let mut out = Vec::new();
    assert_eq!(reader.read_available(2, &mut out).expect("read"), 2);
    let removed = log.retire_through(59).expect("retire");
    assert!(removed >= 3);
    let first_available = first_seq_of(&segment_files(dir.path())[0]);
    // The open segment still reads to its end; then the next one is gone.
    let mut outcome = Ok(0);
    for _ in 0..200 {
        outcome = reader.read_available(100, &mut out);
        if outcome.is_err() {
            break;
        }
    }
    let first_segment_end = out.last().expect("records").seq;
    assert!(
        matches!(outcome, Err(LogError::Retired { wanted, first_available: first })
            if wanted == first_segment_end + 1 && first == first_available),
        "{outcome:?}"
    );
    assert_eq!(seqs(&out), (1..=first_segment_end).collect::<Vec<_>>());
}

#[test]
fn a_failed_write_poisons_the_writer() {
    let dir = temp();
    let (mut log, _) = open(dir.path(), SMALL);
    append_all(&mut log, 1..=3, 10);
    log.append(4, &payload(4)).expect("buffered");
    log.break_active_file_for_test();
    assert!(matches!(log.commit(), Err(LogError::Io { .. })));
    assert!(matches!(
        log.append(5, &payload(5)),
        Err(LogError::Poisoned)
    ));
    assert!(matches!(log.commit(), Err(LogError::Poisoned)));
    assert!(matches!(log.retire_through(10), Err(LogError::Poisoned)));
    drop(log);
    let (log, recovery) = open(dir.path(), SMALL);
    assert_eq!(recovery.last_seq, Some(3));
    assert_eq!(log.next_seq(), Some(4));
}

#[test]
fn uncommitted_records_are_not_promised() {
    let dir = temp();
    let (mut log, _) = open(dir.path(), SMALL);
    append_all(&mut log, 1..=3, 10);
    log.append(4, &payload(4)).expect("buffered");
    // Still in the writer's buffer: neither durable nor visible.
    assert_eq!(seqs(&read_all(dir.path(), 0, SMALL)), vec![1, 2, 3]);
    drop(log);
    assert_eq!(open(dir.path(), SMALL).1.last_seq, Some(3));
}

#[test]
fn other_files_in_the_directory_are_ignored() {
    let dir = temp();
    write_log(dir.path(), SMALL, 1..=5);
    fs::write(dir.path().join("LOCK"), b"").expect("write");
    fs::write(dir.path().join("seg-12.log"), b"not a segment name").expect("write");
    fs::write(dir.path().join("notes.txt"), b"x").expect("write");
    let (_, recovery) = open(dir.path(), SMALL);
    assert_eq!(recovery.records, 5);
    assert_eq!(read_all(dir.path(), 0, SMALL).len(), 5);
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused() {
    // The first holds DIR/LOCK; the second is told so; once the first is gone, it opens.
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = ChangeLog::open(dir.path()).unwrap();
    assert!(matches!(ChangeLog::open(dir.path()), Err(LogError::Locked)));
    drop(first);
    assert!(ChangeLog::open(dir.path()).is_ok());
}
