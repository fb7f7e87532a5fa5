//! Open-loop scheduling: when each request is meant to be sent.
//!
//! With a total rate of `R` requests per second over `N` connections, request `i` (0-based,
//! counted over the whole run, warmup included) has the *intended* send time
//! `t0 + i / R` (computed in whole nanoseconds as `floor(i * 1e9 / R)`, so there is no drift
//! from adding up rounded intervals) and belongs to connection `i mod N`. Connection `c`
//! therefore sends requests `c, c + N, c + 2N, …`, each no earlier than its intended time.
//!
//! A connection carries one request at a time (no pipelining). When an answer comes back after
//! the connection's next intended time, that next request goes out at once, late, and the ones
//! after it queue behind it the same way. Latency is always measured from the intended time,
//! never from the actual write, so waiting in that queue counts: a stalled server cannot hide
//! its stall by slowing the load down (no coordinated omission). The time from the actual
//! write is reported separately as service time, and the write's lateness as send lag.
//!
//! The run sends exactly the requests whose intended time falls before the end of the run
//! (warmup + duration), or the first `--requests` of them if that is fewer, however late they
//! get; only those intended at or after the end of the warmup are recorded.

use std::time::Duration;

use crate::limits::{CONNECTIONS_MAX, RATE_MAX_PER_S};

const NANOS_PER_S: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSchedule {
    rate_per_s: u64,
    connections: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("rate must be 1..={RATE_MAX_PER_S} requests per second")]
    Rate,
    #[error("connections must be 1..={CONNECTIONS_MAX}")]
    Connections,
}

impl OpenSchedule {
    pub fn new(rate_per_s: u64, connections: usize) -> Result<OpenSchedule, ScheduleError> {
        if !(1..=RATE_MAX_PER_S).contains(&rate_per_s) {
            return Err(ScheduleError::Rate);
        }
        if !(1..=CONNECTIONS_MAX).contains(&connections) {
            return Err(ScheduleError::Connections);
        }
        Ok(OpenSchedule {
            rate_per_s,
            connections,
        })
    }

    pub fn rate_per_s(&self) -> u64 {
        self.rate_per_s
    }

    /// The global index of connection `connection`'s `k`-th request (both 0-based).
    pub fn global_index(&self, connection: usize, k: u64) -> u64 {
        k * self.connections as u64 + connection as u64
    }

    /// The connection that sends request `i`.
    pub fn connection_of(&self, i: u64) -> usize {
        (i % self.connections as u64) as usize
    }

    /// Intended send time of request `i`, after `t0`.
    pub fn offset_of(&self, i: u64) -> Duration {
        let nanos = u128::from(i) * NANOS_PER_S / u128::from(self.rate_per_s);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The first request intended at or after `offset`: also the number of requests intended
    /// strictly before it.
    pub fn first_at_or_after(&self, offset: Duration) -> u64 {
        // Smallest i with floor(i * 1e9 / R) >= t, i.e. i * 1e9 / R >= t, i.e. i >= t * R / 1e9.
        let product = offset.as_nanos() * u128::from(self.rate_per_s);
        u64::try_from(product.div_ceil(NANOS_PER_S)).unwrap_or(u64::MAX)
    }

    /// How many of the first `total` requests belong to connection `connection`.
    pub fn requests_of(&self, connection: usize, total: u64) -> u64 {
        let c = connection as u64;
        if c >= total {
            0
        } else {
            (total - c - 1) / self.connections as u64 + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intended_times_are_exact_per_connection() {
        // Proves connection c's k-th request is intended at exactly (c + k*N) / R.
        let s = OpenSchedule::new(1000, 4).unwrap();
        for c in 0..4 {
            for k in 0..250u64 {
                let i = s.global_index(c, k);
                assert_eq!(s.connection_of(i), c);
                assert_eq!(s.offset_of(i), Duration::from_millis(c as u64 + 4 * k));
            }
        }
    }

    #[test]
    fn connections_together_cover_the_rate_exactly() {
        // Proves the union of all connections' intended times is exactly {i / R}, each once,
        // for a rate that does not divide a second evenly.
        let s = OpenSchedule::new(3, 2).unwrap();
        let total = s.first_at_or_after(Duration::from_secs(10));
        assert_eq!(total, 30);
        let mut times: Vec<Duration> = (0..2)
            .flat_map(|c| {
                (0..s.requests_of(c, total)).map(move |k| s.offset_of(s.global_index(c, k)))
            })
            .collect();
        times.sort();
        let want: Vec<Duration> = (0..30u64)
            .map(|i| Duration::from_nanos(i * 1_000_000_000 / 3))
            .collect();
        assert_eq!(times, want);
        assert_eq!(s.offset_of(3), Duration::from_secs(1));
        assert_eq!(s.offset_of(1), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn counts_before_an_offset() {
        // Proves first_at_or_after counts requests intended strictly before an offset.
        let s = OpenSchedule::new(1000, 3).unwrap();
        assert_eq!(s.first_at_or_after(Duration::ZERO), 0);
        assert_eq!(s.first_at_or_after(Duration::from_secs(1)), 1000);
        assert_eq!(s.first_at_or_after(Duration::from_micros(1500)), 2);
        assert_eq!(s.first_at_or_after(Duration::from_millis(2)), 2);
        assert_eq!(s.first_at_or_after(Duration::from_nanos(2_000_001)), 3);
        let s3 = OpenSchedule::new(3, 1).unwrap();
        // Request 1 is intended at 333_333_333 ns: at-or-after that offset it is the first.
        assert_eq!(s3.first_at_or_after(Duration::from_nanos(333_333_333)), 1);
        assert_eq!(s3.first_at_or_after(Duration::from_nanos(333_333_334)), 2);
        for i in 0..100 {
            assert_eq!(s3.first_at_or_after(s3.offset_of(i)), i);
        }
    }

    #[test]
    fn per_connection_counts_add_up() {
        // Proves requests_of splits any total over the connections with nothing lost.
        let s = OpenSchedule::new(7, 4).unwrap();
        for total in 0..50 {
            let sum: u64 = (0..4).map(|c| s.requests_of(c, total)).sum();
            assert_eq!(sum, total);
            let max = (0..4).map(|c| s.requests_of(c, total)).max().unwrap();
            let min = (0..4).map(|c| s.requests_of(c, total)).min().unwrap();
            assert!(max - min <= 1);
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        // Proves a zero or excessive rate and a zero connection count are refused.
        assert_eq!(OpenSchedule::new(0, 1), Err(ScheduleError::Rate));
        assert_eq!(
            OpenSchedule::new(RATE_MAX_PER_S + 1, 1),
            Err(ScheduleError::Rate)
        );
        assert_eq!(OpenSchedule::new(1, 0), Err(ScheduleError::Connections));
    }
}
