//! The sealing stage: signs the writer's acknowledged states off the acknowledgement path.
//!
//! ```text
//! committer ── durable states ─▶ Backlog (one entry a permit, its latest state)
//!     ▲                              │ SEAL_BATCH_PERMITS at a time, one batch queued
//!     │                              ▼
//!     └──── sealed permits ◀── signing threads, one a core (nice 19)
//! ```
//!
//! Signing is what an event costs most (an Ed25519 signature per state, two for a new
//! version): done before the acknowledgement it would bound the writer at the signer's rate
//! and put milliseconds on every acknowledgement. Here the committer acknowledges once the
//! record is durable, and the state's seal follows as its own change-log record
//! ([`super::SealNote`]). Until it lands the resolver shows the new state and answers its
//! attestation with 503 `attestation_pending` rather than the previous state's.
//!
//! - **Coalescing.** A permit that changes again before its turn is signed once, in its
//!   latest state: nobody was ever served the skipped state's attestation.
//! - **Bounded.** At [`UNSEALED_PERMITS_MAX`] waiting permits the committer stops taking
//!   batches ([`SealingStage::is_full`]) until seals come back.
//! - **Lost seals are signed again.** A seal not yet in the log when the writer dies is missing
//!   at recovery, which puts the state back in the backlog ([`super::Store::open`]).

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::domain::Permit;
use crate::limits::{SEAL_BATCH_PERMITS, UNSEALED_PERMITS_MAX};
use crate::trust::seal::Sealer;

/// Permits waiting to be sealed: each once, in its latest state, oldest first.
#[derive(Default)]
pub struct Backlog {
    order: VecDeque<u64>,
    latest: HashMap<u64, Permit>,
}

impl Backlog {
    /// Adds states; a permit already waiting keeps its place and takes the newer state.
    pub fn add(&mut self, permits: impl IntoIterator<Item = Permit>) {
        for permit in permits {
            let key = permit.number.key();
            match self.latest.get_mut(&key) {
                Some(waiting) if waiting.sequence >= permit.sequence => {}
                Some(waiting) => *waiting = permit,
                None => {
                    self.order.push_back(key);
                    self.latest.insert(key, permit);
                }
            }
        }
    }

    /// Puts taken permits back in front, in their order (none of them may be waiting).
    fn put_back(&mut self, permits: Vec<Permit>) {
        for permit in permits.into_iter().rev() {
            let key = permit.number.key();
            if self.latest.insert(key, permit).is_none() {
                self.order.push_front(key);
            }
        }
    }

    /// Up to `most` permits, oldest first.
    pub fn take(&mut self, most: usize) -> Vec<Permit> {
        let count = most.min(self.order.len());
        let mut taken = Vec::with_capacity(count);
        for key in self.order.drain(..count) {
            taken.push(self.latest.remove(&key).expect("order and latest agree"));
        }
        taken
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Forgets every waiting state at or below `sequence`.
    fn forget_through(&mut self, sequence: u64) {
        self.latest.retain(|_, p| p.sequence > sequence);
        let latest = &self.latest;
        self.order.retain(|key| latest.contains_key(key));
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// How long [`super::Store::exchange_seals`] waits for seals at a time while the stage is full.
pub const FULL_WAIT: Duration = Duration::from_millis(200);

/// Batches handed out per signing thread: one signed while the next waits, so no thread waits
/// for the committer.
const BATCHES_PER_THREAD: usize = 2;

/// The committer's end of the stage.
pub struct SealingStage {
    backlog: Backlog,
    /// Batches to the signing threads (room for all that may be out, so a hand-over never
    /// blocks).
    to_seal: Option<SyncSender<Vec<Permit>>>,
    sealed: Receiver<Vec<Permit>>,
    /// Permits handed out whose seals have not come back, and in how many batches.
    in_flight: usize,
    batches_out: usize,
    batches_max: usize,
    threads: Vec<JoinHandle<()>>,
}

impl SealingStage {
    /// Starts one signing thread a core, each signing whole batches from a shared queue (no
    /// thread started per batch, no core idle while another finishes its half).
    ///
    /// # Panics
    /// When a thread cannot be spawned.
    pub fn start(sealer: Arc<Sealer>) -> SealingStage {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let batches_max = threads * BATCHES_PER_THREAD;
        let (to_seal, batches) = mpsc::sync_channel::<Vec<Permit>>(batches_max);
        let batches = Arc::new(Mutex::new(batches));
        let (done, sealed) = mpsc::channel();
        let threads = (0..threads)
            .map(|i| {
                let (sealer, batches, done) = (sealer.clone(), batches.clone(), done.clone());
                std::thread::Builder::new()
                    .name(format!("permitd-sealer-{i}"))
                    .spawn(move || sign(&sealer, &batches, &done))
                    .expect("spawning a signing thread")
            })
            .collect();
        SealingStage {
            backlog: Backlog::default(),
            to_seal: Some(to_seal),
            sealed,
            in_flight: 0,
            batches_out: 0,
            batches_max,
            threads,
        }
    }

    /// Queues durable states for sealing.
    pub fn add(&mut self, permits: Vec<Permit>) {
        if !permits.is_empty() {
            self.backlog.add(permits);
            self.hand_over();
        }
    }

    /// Forgets the waiting states a published snapshot covers (its compaction sealed them).
    pub fn forget_through(&mut self, sequence: u64) {
        self.backlog.forget_through(sequence);
    }

    /// Permits acknowledged and not yet sealed (waiting or being signed).
    pub fn unsealed(&self) -> usize {
        self.backlog.len() + self.in_flight
    }

    /// Whether the committer should stop taking batches until seals come back.
    pub fn is_full(&self) -> bool {
        self.unsealed() >= UNSEALED_PERMITS_MAX
    }

    /// Whether seals are being signed (the committer then looks for them often).
    pub fn is_busy(&self) -> bool {
        self.in_flight > 0
    }

    /// The sealed permits that came back, without waiting.
    pub fn collect(&mut self) -> Vec<Permit> {
        let mut sealed = Vec::new();
        while let Ok(batch) = self.sealed.try_recv() {
            self.received(&mut sealed, batch);
        }
        sealed
    }

    /// [`SealingStage::collect`], waiting up to `timeout` for the first batch.
    pub fn collect_waiting(&mut self, timeout: Duration) -> Vec<Permit> {
        let mut sealed = Vec::new();
        if self.in_flight > 0 {
            match self.sealed.recv_timeout(timeout) {
                Ok(batch) => self.received(&mut sealed, batch),
                Err(RecvTimeoutError::Timeout) => {}
                // Only a panic in a signing thread (a bug) gets here: stop the writer rather
                // than wait for seals forever; a restart signs what was not sealed.
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the sealing threads stopped with {} permits unsealed",
                        self.in_flight
                    )
                }
            }
        }
        sealed.extend(self.collect());
        sealed
    }

    fn received(&mut self, sealed: &mut Vec<Permit>, batch: Vec<Permit>) {
        self.in_flight -= batch.len();
        self.batches_out -= 1;
        sealed.extend(batch);
        self.hand_over();
    }

    fn hand_over(&mut self) {
        let Some(to_seal) = &self.to_seal else { return };
        while self.batches_out < self.batches_max && !self.backlog.is_empty() {
            let batch = self.backlog.take(SEAL_BATCH_PERMITS);
            let count = batch.len();
            match to_seal.try_send(batch) {
                Ok(()) => {
                    self.in_flight += count;
                    self.batches_out += 1;
                }
                // Not while fewer than batches_max are out, unless the threads died.
                Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) => {
                    self.backlog.put_back(batch);
                    return;
                }
            }
        }
    }

    /// Stops the threads once they have signed what they hold; returns those seals and the
    /// states they never got (the caller seals them in place, [`super::Store::seal_unsealed`]).
    pub fn finish(mut self) -> (Vec<Permit>, Vec<Permit>) {
        self.to_seal = None;
        for thread in std::mem::take(&mut self.threads) {
            let _ = thread.join();
        }
        let sealed = self.collect();
        let rest = std::mem::take(&mut self.backlog).take(usize::MAX);
        (sealed, rest)
    }
}

/// A signing thread: whole batches from the shared queue until it closes.
fn sign(sealer: &Sealer, batches: &Mutex<Receiver<Vec<Permit>>>, done: &mpsc::Sender<Vec<Permit>>) {
    // Below the committer (and any resolver on this host).
    crate::background::lower_this_thread("sealing");
    loop {
        // The lock is held only while waiting for the next batch, not while signing.
        let next = batches.lock().map_or(None, |queue| queue.recv().ok());
        let Some(mut batch) = next else { return };
        let now = time::OffsetDateTime::now_utc();
        for permit in &mut batch {
            sealer.seal(permit, now);
        }
        if done.send(batch).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::domain::Date;
    use crate::event::{Change, Event};
    use crate::gen::{generate, GenOptions};

    /// `count` generated permits, the i-th at sequence i + 1.
    fn permits(count: usize) -> Vec<Permit> {
        let catalog = Catalog::embedded().unwrap();
        let options = GenOptions {
            permits: count as u64,
            seed: 3,
            as_of: Date::from_ymd(2026, 6, 1).unwrap(),
        };
        let mut feed = Vec::new();
        generate(&catalog, &options, &mut feed, &mut |_| {}).unwrap();
        let lines = feed.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        let issued =
            lines.filter_map(
                |line| match serde_json::from_slice::<Event>(line).unwrap().change {
                    Change::PermitIssued { permit } => Some(permit),
                    _ => None,
                },
            );
        issued
            .enumerate()
            .map(|(i, mut permit)| {
                permit.sequence = i as u64 + 1;
                permit
            })
            .collect()
    }

    #[test]
    fn backlog_keeps_each_permit_once_in_its_latest_state_in_first_come_order() {
        let mut permits = permits(3);
        let mut backlog = Backlog::default();
        backlog.add(permits.clone());
        let mut newer = permits[0].clone();
        newer.sequence = 10;
        backlog.add([newer.clone(), permits[1].clone()]);
        assert_eq!(backlog.len(), 3);
        let taken = backlog.take(2);
        assert_eq!(taken[0], newer);
        assert_eq!(taken[1], permits[1]);
        permits[2].sequence = 3;
        assert_eq!(backlog.take(usize::MAX), vec![permits[2].clone()]);
        assert!(backlog.is_empty());
    }

    #[test]
    fn the_stage_seals_every_permit_it_was_given_and_stops_cleanly() {
        let key = crate::trust::keys::SigningKey::from_seed(&[8; 32]);
        let mut stage = SealingStage::start(Arc::new(Sealer::new(key)));
        let given = permits(SEAL_BATCH_PERMITS + 40);
        stage.add(given.clone());
        assert_eq!(stage.unsealed(), given.len());
        let mut sealed = Vec::new();
        while sealed.len() < given.len() {
            sealed.extend(stage.collect_waiting(Duration::from_secs(10)));
        }
        assert_eq!(stage.unsealed(), 0);
        assert!(sealed.iter().all(|p| p.attested().is_some()));
        let mut numbers: Vec<_> = sealed.iter().map(|p| p.number).collect();
        numbers.sort();
        let mut expected: Vec<_> = given.iter().map(|p| p.number).collect();
        expected.sort();
        assert_eq!(numbers, expected);
        let (late, rest) = stage.finish();
        assert!(late.is_empty() && rest.is_empty());
    }
}
