//! Recording what happened: one [`Recorder`] per connection, merged into one at the end.
//!
//! Nothing is shared between connections while a run goes (no locks, no atomics here): each
//! connection task owns its recorder, and the runner adds them up when the tasks are done.
//! A recorder holds
//!
//! * three HdrHistograms in µs ([`LATENCY_SIGFIGS`] significant digits, auto-resizing so a
//!   connection only pays for the range it saw, values clamped at [`LATENCY_MAX_US`]):
//!   `latency` (from the intended send time in open mode, from the write in closed mode),
//!   `service` (from the write) and `lag` (write minus intended time, open mode only);
//! * per request kind: sent, expected status, unexpected status, error;
//! * per status code, how many answers were expected and how many were not (a 404 for an
//!   `unknown` request is expected; a 404 for a known permit is not);
//! * errors by [`ErrorKind`];
//! * a per-second timeline of responses and errors since the start of measurement.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::http::ErrorKind;
use crate::limits::{DURATION_MAX, LATENCY_MAX_US, LATENCY_SIGFIGS, REQUEST_TIMEOUT_MAX};

/// Lowest status code counted; the parser accepts 100..=599 only.
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;
/// Seconds a timeline may hold: the longest measurement plus the longest drain.
const TIMELINE_SECONDS_MAX: usize =
    (DURATION_MAX.as_secs() + REQUEST_TIMEOUT_MAX.as_secs() + 1) as usize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KindCounts {
    pub sent: u64,
    pub expected: u64,
    pub unexpected: u64,
    pub errors: u64,
}

impl KindCounts {
    fn add(&mut self, o: &KindCounts) {
        self.sent += o.sent;
        self.expected += o.expected;
        self.unexpected += o.unexpected;
        self.errors += o.errors;
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusCounts {
    pub expected: u64,
    pub unexpected: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondCounts {
    pub responses: u64,
    pub errors: u64,
}

/// One request's result, as the recorder needs it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub kind: usize,
    pub expect: u16,
    pub outcome: Result<u16, ErrorKind>,
    pub latency: Duration,
    pub service: Duration,
    /// `None` in closed mode (there is no intended time).
    pub lag: Option<Duration>,
    /// Whole seconds from the start of measurement to the answer.
    pub second: usize,
}

#[derive(Debug, Clone)]
pub struct Recorder {
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub lag: Histogram<u64>,
    pub kinds: Vec<KindCounts>,
    statuses: Vec<StatusCounts>,
    pub errors: [u64; ErrorKind::COUNT],
    pub timeline: Vec<SecondCounts>,
    /// Open mode: requests written more than LATE_SEND_THRESHOLD after their intended time.
    pub late_sends: u64,
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 10 ms to start with; auto-resize grows it to what a connection actually sees.
    let mut h = Histogram::new_with_bounds(1, 10_000, LATENCY_SIGFIGS)
        .expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

/// Duration in whole µs, clamped to the recordable range.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .min(LATENCY_MAX_US)
}

impl Recorder {
    pub fn new(kinds: usize) -> Recorder {
        Recorder {
            latency: new_histogram(),
            service: new_histogram(),
            lag: new_histogram(),
            kinds: vec![KindCounts::default(); kinds],
            statuses: vec![StatusCounts::default(); STATUS_SLOTS],
            errors: [0; ErrorKind::COUNT],
            timeline: Vec::new(),
            late_sends: 0,
        }
    }

    pub fn record(&mut self, s: &Sample) {
        if s.kind >= self.kinds.len() {
            self.kinds.resize(s.kind + 1, KindCounts::default());
        }
        let kind = &mut self.kinds[s.kind];
        kind.sent += 1;
        let second = s.second.min(TIMELINE_SECONDS_MAX - 1);
        if self.timeline.len() <= second {
            self.timeline.resize(second + 1, SecondCounts::default());
        }
        match s.outcome {
            Ok(status) => {
                let slot = &mut self.statuses
                    [usize::from(status.saturating_sub(STATUS_MIN)).min(STATUS_SLOTS - 1)];
                if status == s.expect {
                    kind.expected += 1;
                    slot.expected += 1;
                } else {
                    kind.unexpected += 1;
                    slot.unexpected += 1;
                }
                self.timeline[second].responses += 1;
                // Auto-resizing histograms only fail past u64 range, which micros() rules out.
                let _ = self.latency.record(micros(s.latency));
                let _ = self.service.record(micros(s.service));
            }
            Err(e) => {
                kind.errors += 1;
                self.errors[e.index()] += 1;
                self.timeline[second].errors += 1;
            }
        }
        if let Some(lag) = s.lag {
            let _ = self.lag.record(micros(lag));
            if lag > crate::limits::LATE_SEND_THRESHOLD {
                self.late_sends += 1;
            }
        }
    }

    /// Adds everything `other` recorded into `self`.
    pub fn merge(&mut self, other: &Recorder) {
        // Both auto-resize, so adding cannot run out of range.
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        let _ = self.lag.add(&other.lag);
        if self.kinds.len() < other.kinds.len() {
            self.kinds.resize(other.kinds.len(), KindCounts::default());
        }
        for (a, b) in self.kinds.iter_mut().zip(&other.kinds) {
            a.add(b);
        }
        for (a, b) in self.statuses.iter_mut().zip(&other.statuses) {
            a.expected += b.expected;
            a.unexpected += b.unexpected;
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        if self.timeline.len() < other.timeline.len() {
            self.timeline
                .resize(other.timeline.len(), SecondCounts::default());
        }
        for (a, b) in self.timeline.iter_mut().zip(&other.timeline) {
            a.responses += b.responses;
            a.errors += b.errors;
        }
        self.late_sends += other.late_sends;
    }

    /// Status codes seen, in order, with their counts.
    pub fn statuses(&self) -> impl Iterator<Item = (u16, StatusCounts)> + '_ {
        self.statuses
            .iter()
            .enumerate()
            .filter(|(_, c)| c.expected + c.unexpected > 0)
            .map(|(i, c)| (STATUS_MIN + i as u16, *c))
    }

    pub fn sent(&self) -> u64 {
        self.kinds.iter().map(|k| k.sent).sum()
    }
    pub fn expected(&self) -> u64 {
        self.kinds.iter().map(|k| k.expected).sum()
    }
    pub fn unexpected(&self) -> u64 {
        self.kinds.iter().map(|k| k.unexpected).sum()
    }
    pub fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn sample(
        kind: usize,
        expect: u16,
        outcome: Result<u16, ErrorKind>,
        us: u64,
        second: usize,
    ) -> Sample {
        Sample {
            kind,
            expect,
            outcome,
            latency: Duration::from_micros(us),
            service: Duration::from_micros(us / 2),
            lag: None,
            second,
        }
    }

    #[test]
    fn merged_histograms_equal_one_histogram_of_all_values() {
        // Proves merging per-connection recorders gives the same histogram (every bucket, so
        // every percentile) as recording all values into one.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut single = Recorder::new(1);
        let mut parts: Vec<Recorder> = (0..8).map(|_| Recorder::new(1)).collect();
        for i in 0..50_000u64 {
            // Wide spread, including values that force the auto-resize in some parts only.
            let us = if i % 997 == 0 {
                rng.random_range(1..5_000_000)
            } else {
                rng.random_range(1..2_000)
            };
            let s = sample(0, 200, Ok(200), us, (i / 10_000) as usize);
            single.record(&s);
            parts[rng.random_range(0..8)].record(&s);
        }
        let mut merged = Recorder::new(1);
        for p in &parts {
            merged.merge(p);
        }
        assert_eq!(merged.latency, single.latency);
        assert_eq!(merged.service, single.service);
        assert_eq!(merged.latency.len(), 50_000);
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                merged.latency.value_at_quantile(q),
                single.latency.value_at_quantile(q)
            );
        }
        assert_eq!(merged.latency.max(), single.latency.max());
        assert_eq!(merged.timeline, single.timeline);
        assert_eq!(merged.kinds, single.kinds);
    }

    #[test]
    fn counts_expected_unexpected_and_errors() {
        // Proves statuses are split by whether the request expected them, errors by kind, and
        // counts survive a merge.
        let mut a = Recorder::new(2);
        a.record(&sample(0, 200, Ok(200), 10, 0));
        a.record(&sample(0, 200, Ok(404), 10, 0));
        a.record(&sample(1, 404, Ok(404), 10, 1));
        let mut b = Recorder::new(2);
        b.record(&sample(1, 404, Ok(503), 10, 2));
        b.record(&sample(0, 200, Err(ErrorKind::Timeout), 10, 2));
        a.merge(&b);
        let statuses: Vec<_> = a.statuses().collect();
        assert_eq!(
            statuses,
            vec![
                (
                    200,
                    StatusCounts {
                        expected: 1,
                        unexpected: 0
                    }
                ),
                (
                    404,
                    StatusCounts {
                        expected: 1,
                        unexpected: 1
                    }
                ),
                (
                    503,
                    StatusCounts {
                        expected: 0,
                        unexpected: 1
                    }
                ),
            ]
        );
        assert_eq!(
            a.kinds[0],
            KindCounts {
                sent: 3,
                expected: 1,
                unexpected: 1,
                errors: 1
            }
        );
        assert_eq!(
            a.kinds[1],
            KindCounts {
                sent: 2,
                expected: 1,
                unexpected: 1,
                errors: 0
            }
        );
        assert_eq!(a.errors[ErrorKind::Timeout.index()], 1);
        assert_eq!(
            (a.sent(), a.expected(), a.unexpected(), a.error_count()),
            (5, 2, 2, 1)
        );
        assert_eq!(a.latency.len(), 4, "errors have no latency");
        assert_eq!(
            a.timeline,
            vec![
                SecondCounts {
                    responses: 2,
                    errors: 0
                },
                SecondCounts {
                    responses: 1,
                    errors: 0
                },
                SecondCounts {
                    responses: 1,
                    errors: 1
                },
            ]
        );
    }
}
