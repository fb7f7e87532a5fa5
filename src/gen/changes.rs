//! A district's daily change feed over an existing data set: deterministic, realistic
//! `licence_state_changed`, `licence_details_changed`, `permit_reissued`, `permit_voided` and
//! `permit_recovered` events ([`crate::event`]) for permits a registry already holds, with a
//! small share of deliberately invalid events and replays to exercise the rejection and
//! idempotence paths of [`Registry::apply`].
//!
//! [`generate_changes`] reads the registry the data set was folded into, writes
//! [`ChangeOptions::changes`] NDJSON lines, and applies each one to that registry as it goes: a
//! valid event is written only once the registry accepted it (an event the permit's current
//! state would refuse is dropped and another target or kind is picked), a deliberately invalid
//! one only once the registry rejected it. So the output, applied in order to a registry in the
//! state the input was in, is accepted exactly where [`ChangeStats`] says.
//!
//! # What a feed holds
//! Each line draws a kind with these shares (basis points of all lines):
//!
//! | kind / action | share | target, content |
//! |---|---|---|
//! | `licence_details_changed`, renewal 延续 | 21 % | the licence in force or suspended that ends soonest (licences come up for renewal in end-date order): `valid_until` moves on by the licence's usual term ([`LicenceKind::validity_years`]) |
//! | `licence_details_changed`, 换证 | 8 % | a licence with a certificate: a new certificate number (lost certificate re-issued, new format) |
//! | `licence_details_changed`, 延续换证 | 4 % | both: a renewal with a new certificate number |
//! | `licence_state_changed` `suspended` 暂停 | 8 % | a valid licence |
//! | `licence_state_changed` `resumed` 恢复 | 6 % | a suspended licence |
//! | `licence_state_changed` `commitment_verified` | 10 % | a licence pending its commitment check |
//! | `licence_state_changed` `commitment_failed` | 2 % | a licence pending its commitment check |
//! | `licence_state_changed` `granted` 许可 | 6 % | an item listed as 未许可, with new certificate, term from `on`, on commitment for 30 % of the eligible kinds (a new version, by the registry) |
//! | `permit_reissued` 变更 | 12 % | version + 1: new legal representative (45 %), premises moved within the town (35 %), new name (20 %) |
//! | `licence_state_changed` `cancelled` 注销 | 10 % | a licence in force or suspended |
//! | `licence_state_changed` `revoked` 撤销 | 3 % | a licence in force or suspended |
//! | `licence_state_changed` `withdrawn` 吊销 | 2 % | a licence in force or suspended that can be withdrawn ([`LicenceKind::can_be_withdrawn`]) |
//! | `licence_state_changed` `lapsed` 失效 | 3 % | a licence in force or suspended, preferably one past its end date |
//! | `permit_voided` 作废 | 1 % | an active permit |
//! | `permit_recovered` 收回 | 1 % | preferably a void permit (voided, or a licence void), else any not yet recovered |
//! | invalid | 2 % | one of three, equally: an unknown permit number (valid check character, a catalogue category, not in the registry); an action that does not apply to the licence's state ([`LicenceAction::apply_to`]); a licence type the permit does not cover |
//! | replay | 1 % | one of the last [`REPLAY_WINDOW`] accepted lines again, byte for byte (the same id: the registry answers `Replay`) |
//!
//! Why these shares: renewals and certificate changes are most of what approving departments
//! push through 一码联动 (every licence with an end date comes up for 延续 every two to five
//! years, and re-issued certificates are common), so they are the largest group. Face changes
//! (legal representative, address, name) are the commonest 变更 application at the issuing
//! authority. Closures (注销) are how most permits end for small businesses, whose churn is
//! around a tenth a year. Beijing checks every 告知承诺 grant within months, so verifications
//! roughly follow the commitment grants, and failures are a small minority. Most suspensions end
//! in a resumption; the rest end otherwise or still run. Grants complete partial permits.
//! Sanctions (撤销, 吊销) and the authority's own acts (作废, 收回) are rare. The shares first
//! proposed for this feed summed to 94 % (replays within the invalid 2 %): the remaining points
//! went to renewals (+3), face changes (+2) and replays, counted apart (+1).
//!
//! **Targets** are drawn uniformly from the registry's permits, by index into
//! [`Registry::changed`] (the registry's permits in a stable order, since no permit is added),
//! and must be *open*: status active and no licence in a state that voids the permit
//! (注销/撤销/吊销/失效). Licence actions other than `lapsed` also skip licences past their end
//! date on the event's `on` day, and reissues skip permits with such a licence or one suspended
//! (a reissued face may carry only valid, pending or not-granted items). The states few permits
//! are in (pending commitment, not granted, suspended, void) are drawn from pools
//! built in one pass over the registry and fed as events put licences in them (renewals take
//! licences from a queue ordered by end date, and put the renewed ones back); a pool entry is
//! checked against the permit's current state when drawn and dropped when stale, so no event
//! scans the registry.
//!
//! **Fallbacks:** when no target is found for the drawn kind (a pool ran dry, say: a data set
//! from `permitd gen` has about 4 % of permits pending a commitment check, and a feed longer
//! than a few tenths of the permit count drains them), the line goes to another valid kind,
//! drawn by the shares of those not tried yet; an invalid event or a replay that cannot be
//! made does the same. So the realised shares of the scarce kinds fall as a feed grows long
//! relative to its registry, and the others grow in proportion; [`ChangeStats`] counts what was
//! written (100k changes over 100k permits: commitment checks realise about 5 % instead of 12 %).
//! When no kind finds a target at all (every permit void or recovered: a feed of several events
//! per permit can get there), generation stops with an error.
//!
//! # Ids, times, departments
//! - Event ids are `chg-{seed}-{n}`, `n` the line's 1-based position; a replay line repeats an
//!   earlier line's id (and its `at`).
//! - The first event is at [`ChangeOptions::start`] (rounded up to the second); each next one
//!   1–6 seconds later, in office hours like the issue generator's clock: an instant after 17:00
//!   or on a weekend moves to 09:00 (plus up to a minute) of the next working day. `at` strictly
//!   increases over the non-replay lines; `on` is the Beijing date of `at`.
//! - A licence event's department is the licence type's approving department in the catalogue;
//!   a permit event's is the issue generator's `区政务服务局` (the same as on the issue feed).
//! - New certificate numbers use [`licences::write_certificate_number`] with one serial counter
//!   per licence type and district, starting above any serial the issue generator gives out
//!   (3,000 plus the certificates of that type and district the registry holds).
//!
//! It never reads the clock or the environment: the same registry, catalogue and options give
//! byte-identical output. One `ChaCha8Rng` stream is the only source of randomness; no hash-map
//! iteration order reaches the output.
//!
//! # Known simplifications
//! - A renewal only moves `valid_until`; `valid_from` keeps the original grant date (the
//!   registry's renewal has the same shape). Renewals take the licences ending soonest, however
//!   far off that is: a feed far denser than a real one (a few seconds apart) renews licences
//!   months or years early.
//! - No new permits (`permit_issued`) are part of a change feed: the issue generator owns them.
//! - Holidays are working days; only weekends are skipped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::{Catalog, LicenceTypeId, LICENCE_TYPE_ID_MAX};
use crate::codes::PermitNumber;
use crate::domain::date::BEIJING_UTC_OFFSET_SECONDS;
use crate::domain::{Date, Licence, LicenceState, Permit, PermitStatus};
use crate::event::{Change, Event, Grant, LicenceAction, Timestamp, SCHEMA_VERSION};
use crate::limits::SUPERSEDED_VERSIONS_MAX;
use crate::registry::{event_id_hash, Applied, Registry};

use super::licences::{self, LicenceKind, NumberVariant};
use super::places::{self, PremisesDetail, PremisesDraw, TownKind, DISTRICTS, TOWNS};
use super::{add_years, industries, last_day, names, ISSUING_DEPARTMENT, OUTPUT_CHUNK_BYTES};

#[derive(Debug, Clone)]
pub struct ChangeOptions {
    /// Lines to write (valid, invalid and replays together).
    pub changes: u64,
    pub seed: u64,
    /// When the first event happens.
    pub start: Timestamp,
}

/// What [`generate_changes`] wrote. Valid events are counted by kind and action; invalid ones and
/// replays only under [`ChangeStats::invalid`] and [`ChangeStats::replays`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeStats {
    /// Every line: [`ChangeStats::valid`] + `invalid` + `replays`.
    pub events: u64,
    pub bytes: u64,
    /// Valid `licence_details_changed` events…
    pub licence_details_changed: u64,
    /// …of which move `valid_until` on (延续)…
    pub renewals: u64,
    /// …and of which carry a new certificate number (a renewal may do both).
    pub certificate_changes: u64,
    /// Valid `licence_state_changed` events, every action.
    pub licence_state_changed: u64,
    pub granted: u64,
    pub suspended: u64,
    pub resumed: u64,
    pub cancelled: u64,
    pub revoked: u64,
    pub withdrawn: u64,
    pub lapsed: u64,
    pub commitment_verified: u64,
    pub commitment_failed: u64,
    pub permit_reissued: u64,
    pub permit_voided: u64,
    pub permit_recovered: u64,
    /// Deliberately invalid events, each rejected by the registry…
    pub invalid: u64,
    /// …naming a permit the registry does not hold…
    pub invalid_unknown_permit: u64,
    /// …an action that does not apply to the licence's state…
    pub invalid_transition: u64,
    /// …or a licence type the permit does not cover.
    pub invalid_not_covered: u64,
    /// Earlier lines written again (the registry answers `Replay`: not invalid, no change).
    pub replays: u64,
}

impl ChangeStats {
    /// Valid `licence_state_changed` events with this action.
    pub fn action(&self, action: LicenceAction) -> u64 {
        match action {
            LicenceAction::Granted => self.granted,
            LicenceAction::Suspended => self.suspended,
            LicenceAction::Resumed => self.resumed,
            LicenceAction::Cancelled => self.cancelled,
            LicenceAction::Revoked => self.revoked,
            LicenceAction::Withdrawn => self.withdrawn,
            LicenceAction::Lapsed => self.lapsed,
            LicenceAction::CommitmentVerified => self.commitment_verified,
            LicenceAction::CommitmentFailed => self.commitment_failed,
        }
    }

    /// Events the registry accepted.
    pub fn valid(&self) -> u64 {
        self.licence_details_changed
            + self.licence_state_changed
            + self.permit_reissued
            + self.permit_voided
            + self.permit_recovered
    }
}

/// Replays repeat one of this many most recently accepted lines (a producer retrying a batch).
pub const REPLAY_WINDOW: usize = 512;
/// Most seconds between two events (at least one).
const GAP_SECONDS_MAX: i64 = 6;
/// Office hours: 09:00–17:00 Beijing time, Monday to Friday.
const OFFICE_OPENS_SECONDS: i64 = 9 * 3600;
const OFFICE_CLOSES_SECONDS: i64 = 17 * 3600;
/// Uniform draws of a permit before a kind gives up on finding a target.
const PICK_TRIES: usize = 64;
/// Targets offered to the registry before a kind gives up (a refusal is rare: dates).
const OFFER_TRIES: usize = 4;
/// Certificate serials of this generator start above the issue generator's (which start below
/// 3,000 and count up once per certificate).
const SERIAL_OFFSET: u32 = 3_000;

/// The kinds a line can be, as the module doc's table lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    Renewal,
    Renumbering,
    RenewalRenumbered,
    Suspension,
    Resumption,
    CommitmentVerified,
    CommitmentFailed,
    Grant,
    FaceChange,
    Cancellation,
    Revocation,
    Withdrawal,
    Lapse,
    Void,
    Recovery,
    Invalid,
    Replay,
}

/// Shares in basis points of all lines (the module doc's table); they sum to 10,000.
const SHARES: [(Pick, u32); 17] = [
    (Pick::Renewal, 2_100),
    (Pick::Renumbering, 800),
    (Pick::RenewalRenumbered, 400),
    (Pick::Suspension, 800),
    (Pick::Resumption, 600),
    (Pick::CommitmentVerified, 1_000),
    (Pick::CommitmentFailed, 200),
    (Pick::Grant, 600),
    (Pick::FaceChange, 1_200),
    (Pick::Cancellation, 1_000),
    (Pick::Revocation, 300),
    (Pick::Withdrawal, 200),
    (Pick::Lapse, 300),
    (Pick::Void, 100),
    (Pick::Recovery, 100),
    (Pick::Invalid, 200),
    (Pick::Replay, 100),
];

const _: () = {
    let mut sum = 0;
    let mut i = 0;
    while i < SHARES.len() {
        sum += SHARES[i].1;
        i += 1;
    }
    assert!(sum == 10_000);
};

const SUSPEND_REASONS: [&str; 4] = [
    "责令停业整顿",
    "检查不合格，责令暂停经营整改",
    "暂停营业，限期整改",
    "经营者申请暂停经营",
];
const RESUME_REASONS: [&str; 3] = [
    "整改完成，经复查合格，恢复经营",
    "停业整顿期满，恢复许可",
    "经营者申请恢复经营",
];
const VERIFY_REASONS: [&str; 2] = ["告知承诺核查通过", "现场核查与承诺内容一致"];
const FAIL_REASONS: [&str; 2] = [
    "告知承诺核查不符，依法撤销",
    "现场核查不具备承诺的许可条件，依法撤销",
];
const CANCEL_REASONS: [&str; 4] = [
    "经营者申请注销",
    "停止经营，申请注销",
    "营业执照已注销，依申请注销许可",
    "经营场所变更，申请注销原许可",
];
const REVOKE_REASONS: [&str; 3] = [
    "申请材料不实，依法撤销",
    "许可条件发生变化，依法撤销",
    "以欺骗手段取得许可，依法撤销",
];
const LAPSE_REASONS: [&str; 3] = [
    "经营主体注销，许可失效",
    "经营场所灭失，许可失效",
    "主体资格终止，许可失效",
];
const LAPSE_BY_DATE_REASON: &str = "有效期届满未申请延续，许可失效";
const VOID_REASONS: [&str; 3] = [
    "凭证遗失，声明作废",
    "以欺骗手段取得，依法作废",
    "凭证记载事项有误，依法作废",
];

/// Writes `options.changes` change events for permits `from` holds as NDJSON into `out`,
/// applying each to `from` as it goes (see the module doc).
///
/// `from` must hold its permits itself (no snapshot base): targets are drawn from
/// [`Registry::changed`].
///
/// # Errors
/// An I/O error of `out`; [`io::ErrorKind::InvalidInput`] when `from` has a base, holds no permit
/// (and changes are asked), or already knows this seed's event ids; [`io::ErrorKind::Other`] when
/// no permit is left that accepts a change. After an error `from` holds the events written so
/// far (those before it are flushed to `out`).
pub fn generate_changes(
    catalog: &Catalog,
    from: &mut Registry<'_>,
    options: &ChangeOptions,
    out: &mut dyn Write,
) -> io::Result<ChangeStats> {
    if options.changes == 0 {
        return Ok(ChangeStats::default());
    }
    if from.base().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "change generation needs a registry holding its permits itself, not one on a snapshot",
        ));
    }
    if from.changed().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the registry holds no permit to change",
        ));
    }
    if u32::try_from(from.changed().len()).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "more than 2^32 permits",
        ));
    }
    if from.knows_event(event_id_hash(&event_id(options.seed, 1))) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the registry already holds event {}: pick another seed",
                event_id(options.seed, 1)
            ),
        ));
    }
    let mut changer = Changer::new(catalog, from, options, out);
    for _ in 0..options.changes {
        if let Err(error) = changer.line() {
            // What `from` accepted so far is written out, so the two stay in step.
            let _ = changer.finish();
            return Err(error);
        }
    }
    changer.finish()?;
    Ok(changer.stats)
}

fn event_id(seed: u64, n: u64) -> String {
    let mut id = String::with_capacity(32);
    let _ = write!(id, "chg-{seed}-{n}");
    id
}

// ---------------------------------------------------------------------------------------------
// The clock.

#[derive(Debug, Clone)]
struct Clock {
    /// Unix seconds of the first event.
    start: i64,
    last: Option<i64>,
}

impl Clock {
    fn new(start: Timestamp) -> Clock {
        let seconds =
            start.unix_ms.div_euclid(1000) + i64::from(start.unix_ms.rem_euclid(1000) > 0);
        Clock {
            start: seconds,
            last: None,
        }
    }

    /// The instant of the next event.
    fn tick(&mut self, rng: &mut ChaCha8Rng) -> Timestamp {
        let at = match self.last {
            None => self.start,
            Some(last) => {
                let at = last + rng.random_range(1..=GAP_SECONDS_MAX);
                if in_office(at) {
                    at
                } else {
                    next_opening(at) + rng.random_range(0..60)
                }
            }
        };
        self.last = Some(at);
        Timestamp { unix_ms: at * 1000 }
    }
}

fn working_day(day: i64) -> bool {
    // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
    (day + 3).rem_euclid(7) < 5
}

fn in_office(unix_seconds: i64) -> bool {
    let local = unix_seconds + BEIJING_UTC_OFFSET_SECONDS;
    let second = local.rem_euclid(86_400);
    working_day(local.div_euclid(86_400))
        && (OFFICE_OPENS_SECONDS..OFFICE_CLOSES_SECONDS).contains(&second)
}

/// The next 09:00 of a working day after `unix_seconds` (outside office hours).
fn next_opening(unix_seconds: i64) -> i64 {
    let local = unix_seconds + BEIJING_UTC_OFFSET_SECONDS;
    let mut day = local.div_euclid(86_400);
    if local.rem_euclid(86_400) >= OFFICE_OPENS_SECONDS || !working_day(day) {
        day += 1;
    }
    while !working_day(day) {
        day += 1;
    }
    day * 86_400 + OFFICE_OPENS_SECONDS - BEIJING_UTC_OFFSET_SECONDS
}

// ---------------------------------------------------------------------------------------------
// Targets.

/// Status active and no licence in a state that voids the permit.
fn open(permit: &Permit) -> bool {
    permit.status.is_active() && !permit.licences.iter().any(|l| l.state.voids_permit())
}

fn recovered(permit: &Permit) -> bool {
    matches!(permit.status, PermitStatus::Recovered { .. })
}

fn expired(licence: &Licence, on: Date) -> bool {
    licence.facts().expired_by_date(on)
}

/// In force or suspended: the states a department may still act on (and renew).
fn usable(state: LicenceState) -> bool {
    matches!(
        state,
        LicenceState::Valid | LicenceState::PendingCommitment | LicenceState::Suspended
    )
}

fn days_between(from: Date, to: Date) -> i32 {
    to.days_since_epoch() - from.days_since_epoch()
}

/// The index of `district`'s code in [`DISTRICTS`] (Fangshan when unknown).
fn district_of(number: &PermitNumber) -> usize {
    let division = number.division();
    DISTRICTS
        .iter()
        .position(|d| d.code == division)
        .unwrap_or(0)
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, list: &[T]) -> T {
    list[rng.random_range(0..list.len())]
}

/// A permit index and one of its licence types.
type Entry = (u32, LicenceTypeId);

/// The renewal queue's key of a licence ending on `until`: earliest first, then by permit and
/// licence type (a total order, so the queue pops deterministically).
fn ending_key(until: Date, (index, licence_type): Entry) -> Reverse<(i32, u32, u16)> {
    Reverse((until.days_since_epoch(), index, licence_type.0))
}

/// What an accepted event adds to the pools.
#[derive(Debug, Clone, Copy)]
enum Effect {
    None,
    Suspended(Entry),
    Void(u32),
    /// The licence now ends on this day (a renewal).
    Ends(Date, Entry),
    /// A grant: the licence ends on this day, if it has an end date, and may be pending.
    Granted {
        entry: Entry,
        ends: Option<Date>,
        pending: bool,
    },
}

/// A valid event to offer the registry.
struct Candidate {
    department: String,
    change: Change,
    effect: Effect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Invalid {
    UnknownPermit,
    Transition,
    NotCovered,
}

#[derive(Debug, Clone)]
struct Profile {
    kind: LicenceKind,
    department: String,
}

struct Changer<'a, 'c> {
    catalog: &'a Catalog,
    registry: &'a mut Registry<'c>,
    seed: u64,
    rng: ChaCha8Rng,
    /// Indexed by licence type id.
    profiles: Vec<Option<Profile>>,
    licence_types: Vec<LicenceTypeId>,
    categories: Vec<u8>,
    town_weights: Vec<u32>,
    /// Last certificate serial used, per licence type id and district.
    serials: Vec<[u32; DISTRICTS.len()]>,
    pending: Vec<Entry>,
    not_granted: Vec<Entry>,
    suspended: Vec<Entry>,
    /// Licences with an end date, the earliest first (see [`ending_key`]).
    ending: BinaryHeap<Reverse<(i32, u32, u16)>>,
    void: Vec<u32>,
    clock: Clock,
    /// The last accepted lines, a ring of [`REPLAY_WINDOW`].
    recent: Vec<Vec<u8>>,
    recent_next: usize,
    scratch: Vec<u8>,
    buffer: Vec<u8>,
    out: &'a mut dyn Write,
    stats: ChangeStats,
}

impl<'a, 'c> Changer<'a, 'c> {
    fn new(
        catalog: &'a Catalog,
        registry: &'a mut Registry<'c>,
        options: &ChangeOptions,
        out: &'a mut dyn Write,
    ) -> Changer<'a, 'c> {
        // Another stream than the issue generator's for the same seed.
        let rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0xC4A2_6E5C_0000_0001);
        let mut profiles = vec![None; usize::from(LICENCE_TYPE_ID_MAX) + 1];
        for licence_type in catalog.licence_types() {
            profiles[usize::from(licence_type.id.0)] = Some(Profile {
                kind: LicenceKind::from_name(&licence_type.name),
                department: licence_type.department.clone(),
            });
        }
        let mut town_weights = Vec::with_capacity(TOWNS.len());
        let mut sum = 0;
        for town in &TOWNS {
            sum += town.weight.max(1);
            town_weights.push(sum);
        }

        // One pass over the registry: the pools and the certificate counts.
        let start_day = Timestamp {
            unix_ms: Clock::new(options.start).start * 1000,
        }
        .date_in_beijing();
        let mut counts = vec![[0u32; DISTRICTS.len()]; profiles.len()];
        let (mut pending, mut not_granted, mut suspended, mut ending, mut void) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (index, permit) in registry.changed().iter().enumerate() {
            if recovered(permit) {
                continue;
            }
            let index = index as u32;
            let district = district_of(&permit.number);
            for licence in &permit.licences {
                if licence.certificate_number.is_some() {
                    if let Some(slot) = counts.get_mut(usize::from(licence.licence_type.0)) {
                        slot[district] = slot[district].saturating_add(1);
                    }
                }
            }
            if !open(permit) {
                void.push(index);
                continue;
            }
            for licence in &permit.licences {
                let entry = (index, licence.licence_type);
                match licence.state {
                    LicenceState::PendingCommitment => pending.push(entry),
                    LicenceState::NotGranted => not_granted.push(entry),
                    LicenceState::Suspended => suspended.push(entry),
                    _ => {}
                }
                if let Some(until) = licence.valid_until {
                    if usable(licence.state) && start_day <= until {
                        ending.push(ending_key(until, entry));
                    }
                }
            }
        }
        let serials = counts
            .into_iter()
            .map(|per_district| per_district.map(|n| SERIAL_OFFSET.saturating_add(n)))
            .collect();
        Changer {
            catalog,
            seed: options.seed,
            rng,
            profiles,
            licence_types: catalog.licence_types().iter().map(|t| t.id).collect(),
            categories: catalog.industries().iter().map(|i| i.category).collect(),
            town_weights,
            serials,
            pending,
            not_granted,
            suspended,
            ending: BinaryHeap::from(ending),
            void,
            clock: Clock::new(options.start),
            recent: Vec::with_capacity(REPLAY_WINDOW),
            recent_next: 0,
            scratch: Vec::with_capacity(4096),
            buffer: Vec::with_capacity(OUTPUT_CHUNK_BYTES + 16 * 1024),
            registry,
            out,
            stats: ChangeStats::default(),
        }
    }

    /// Writes one line.
    fn line(&mut self) -> io::Result<()> {
        let mut index = self.draw_share(&[false; SHARES.len()]);
        if SHARES[index].0 == Pick::Replay && self.replay()? {
            return Ok(());
        }
        let at = self.clock.tick(&mut self.rng);
        let on = at.date_in_beijing();
        if SHARES[index].0 == Pick::Invalid && self.invalid(at, on)? {
            return Ok(());
        }
        // A kind that finds no target hands the line to another valid kind, drawn by the
        // shares of those not tried yet.
        let mut tried = SHARES.map(|(pick, _)| matches!(pick, Pick::Invalid | Pick::Replay));
        loop {
            if !tried[index] {
                if self.valid(SHARES[index].0, at, on)? {
                    return Ok(());
                }
                tried[index] = true;
            }
            if tried.iter().all(|&t| t) {
                return Err(io::Error::other(format!(
                    "no permit left in the registry accepts a change (after {} events): fewer \
                     changes, or more permits",
                    self.stats.events
                )));
            }
            index = self.draw_share(&tried);
        }
    }

    /// The index into [`SHARES`] of a kind drawn by share among those not `excluded`.
    fn draw_share(&mut self, excluded: &[bool; SHARES.len()]) -> usize {
        let total: u32 = SHARES
            .iter()
            .zip(excluded)
            .filter(|(_, &out)| !out)
            .map(|((_, share), _)| share)
            .sum();
        let mut r = self.rng.random_range(0..total.max(1));
        for (index, ((_, share), &out)) in SHARES.iter().zip(excluded).enumerate() {
            if out {
                continue;
            }
            if r < *share {
                return index;
            }
            r -= share;
        }
        SHARES.len() - 1
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buffer)?;
        self.buffer.clear();
        self.out.flush()
    }

    // -- writing ------------------------------------------------------------------------------

    /// Serialises the event of line `n` into `scratch` and applies it to the registry.
    fn try_apply(
        &mut self,
        at: Timestamp,
        department: String,
        change: Change,
    ) -> io::Result<(String, Result<Applied, crate::registry::Rejection>)> {
        let id = event_id(self.seed, self.stats.events + 1);
        let event = Event {
            schema: SCHEMA_VERSION,
            id: id.clone(),
            at,
            department,
            change,
        };
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, &event).map_err(io::Error::other)?;
        self.scratch.push(b'\n');
        Ok((id, self.registry.apply(event)))
    }

    /// Offers a valid event: written when accepted; `false` when refused (nothing changed).
    fn offer(&mut self, at: Timestamp, candidate: Candidate) -> io::Result<bool> {
        let kind = candidate.change.kind();
        let action = match &candidate.change {
            Change::LicenceStateChanged { action, .. } => Some(*action),
            _ => None,
        };
        let details = match &candidate.change {
            Change::LicenceDetailsChanged {
                certificate_number,
                valid_until,
                ..
            } => Some((valid_until.is_some(), certificate_number.is_some())),
            _ => None,
        };
        let (id, result) = self.try_apply(at, candidate.department, candidate.change)?;
        match result {
            Ok(Applied::Accepted { .. }) => {}
            Ok(Applied::Replay) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the registry already holds event {id}: pick another seed"),
                ))
            }
            Err(_) => return Ok(false),
        }
        self.remember();
        self.commit()?;
        match candidate.effect {
            Effect::None => {}
            Effect::Suspended(entry) => self.suspended.push(entry),
            Effect::Void(index) => self.void.push(index),
            Effect::Ends(until, entry) => self.ending.push(ending_key(until, entry)),
            Effect::Granted {
                entry,
                ends,
                pending,
            } => {
                if let Some(until) = ends {
                    self.ending.push(ending_key(until, entry));
                }
                if pending {
                    self.pending.push(entry);
                }
            }
        }
        let stats = &mut self.stats;
        match kind {
            "permit_reissued" => stats.permit_reissued += 1,
            "permit_voided" => {
                stats.permit_voided += 1;
            }
            "permit_recovered" => stats.permit_recovered += 1,
            "licence_details_changed" => {
                stats.licence_details_changed += 1;
                let (renewal, certificate) = details.unwrap_or_default();
                stats.renewals += u64::from(renewal);
                stats.certificate_changes += u64::from(certificate);
            }
            _ => {
                stats.licence_state_changed += 1;
                let counter = match action.expect("a licence state change has an action") {
                    LicenceAction::Granted => &mut stats.granted,
                    LicenceAction::Suspended => &mut stats.suspended,
                    LicenceAction::Resumed => &mut stats.resumed,
                    LicenceAction::Cancelled => &mut stats.cancelled,
                    LicenceAction::Revoked => &mut stats.revoked,
                    LicenceAction::Withdrawn => &mut stats.withdrawn,
                    LicenceAction::Lapsed => &mut stats.lapsed,
                    LicenceAction::CommitmentVerified => &mut stats.commitment_verified,
                    LicenceAction::CommitmentFailed => &mut stats.commitment_failed,
                };
                *counter += 1;
            }
        }
        Ok(true)
    }

    /// Appends `scratch` to the output.
    fn commit(&mut self) -> io::Result<()> {
        self.buffer.extend_from_slice(&self.scratch);
        self.stats.events += 1;
        self.stats.bytes += self.scratch.len() as u64;
        if self.buffer.len() >= OUTPUT_CHUNK_BYTES {
            self.out.write_all(&self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }

    /// Keeps `scratch` (an accepted line) for replays.
    fn remember(&mut self) {
        if self.recent.len() < REPLAY_WINDOW {
            self.recent.push(self.scratch.clone());
        } else {
            let slot = &mut self.recent[self.recent_next];
            slot.clear();
            slot.extend_from_slice(&self.scratch);
            self.recent_next = (self.recent_next + 1) % REPLAY_WINDOW;
        }
    }

    /// Writes a recently accepted line again; `false` when there is none yet.
    fn replay(&mut self) -> io::Result<bool> {
        if self.recent.is_empty() {
            return Ok(false);
        }
        let index = self.rng.random_range(0..self.recent.len());
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.recent[index]);
        let event: Event = serde_json::from_slice(self.scratch.trim_ascii_end())
            .map_err(|e| io::Error::other(format!("a written line does not parse back: {e}")))?;
        let id = event.id.clone();
        match self.registry.apply(event) {
            Ok(Applied::Replay) => {}
            other => {
                return Err(io::Error::other(format!(
                    "internal: replaying event {id} gave {other:?}"
                )))
            }
        }
        self.commit()?;
        self.stats.replays += 1;
        Ok(true)
    }

    /// Writes a valid event of kind `pick`; `false` when no target was found.
    fn valid(&mut self, pick: Pick, at: Timestamp, on: Date) -> io::Result<bool> {
        for _ in 0..OFFER_TRIES {
            let candidate = match pick {
                Pick::Renewal => self.renewal(on, false),
                Pick::RenewalRenumbered => self.renewal(on, true),
                Pick::Renumbering => self.renumbering(on),
                Pick::Suspension => self.suspension(on),
                Pick::Resumption => self.resumption(on),
                Pick::CommitmentVerified => self.commitment_check(on, true),
                Pick::CommitmentFailed => self.commitment_check(on, false),
                Pick::Grant => self.grant(on),
                Pick::FaceChange => self.face_change(on),
                Pick::Cancellation => self.ending_act(on, LicenceAction::Cancelled),
                Pick::Revocation => self.ending_act(on, LicenceAction::Revoked),
                Pick::Withdrawal => self.ending_act(on, LicenceAction::Withdrawn),
                Pick::Lapse => self.lapse(on),
                Pick::Void => self.voiding(on),
                Pick::Recovery => self.recovery(on),
                Pick::Invalid | Pick::Replay => None,
            };
            let Some(candidate) = candidate else {
                return Ok(false);
            };
            if self.offer(at, candidate)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // -- drawing targets ----------------------------------------------------------------------

    /// A uniformly drawn permit index whose permit satisfies `ok`, within [`PICK_TRIES`] draws.
    fn draw_permit(&mut self, ok: impl Fn(&Permit) -> bool) -> Option<u32> {
        let permits = self.registry.changed();
        for _ in 0..PICK_TRIES {
            let index = self.rng.random_range(0..permits.len());
            if ok(&permits[index]) {
                return Some(index as u32);
            }
        }
        None
    }

    /// A uniformly drawn (permit, licence) whose licence satisfies `ok` on an open permit.
    fn draw_licence(&mut self, ok: impl Fn(&Permit, &Licence) -> bool) -> Option<Entry> {
        let permits = self.registry.changed();
        for _ in 0..PICK_TRIES {
            let index = self.rng.random_range(0..permits.len());
            let permit = &permits[index];
            if !open(permit) {
                continue;
            }
            let count = permit.licences.iter().filter(|l| ok(permit, l)).count();
            if count == 0 {
                continue;
            }
            let nth = self.rng.random_range(0..count);
            let licence = permit
                .licences
                .iter()
                .filter(|l| ok(permit, l))
                .nth(nth)
                .expect("counted");
            return Some((index as u32, licence.licence_type));
        }
        None
    }

    fn permit(&self, index: u32) -> &Permit {
        &self.registry.changed()[index as usize]
    }

    fn licence(&self, (index, licence_type): Entry) -> &Licence {
        self.permit(index)
            .licences
            .iter()
            .find(|l| l.licence_type == licence_type)
            .expect("an entry names a covered licence")
    }

    fn department(&self, licence_type: LicenceTypeId) -> String {
        self.profiles
            .get(usize::from(licence_type.0))
            .and_then(Option::as_ref)
            .map_or(ISSUING_DEPARTMENT, |p| p.department.as_str())
            .to_owned()
    }

    fn kind(&self, licence_type: LicenceTypeId) -> LicenceKind {
        self.profiles
            .get(usize::from(licence_type.0))
            .and_then(Option::as_ref)
            .map_or(LicenceKind::Other, |p| p.kind)
    }

    fn state_change(
        &self,
        (index, licence_type): Entry,
        action: LicenceAction,
        reason: Option<&str>,
        on: Date,
        grant: Option<Grant>,
        effect: Effect,
    ) -> Candidate {
        Candidate {
            department: self.department(licence_type),
            change: Change::LicenceStateChanged {
                number: self.permit(index).number,
                licence_type,
                action,
                reason: reason.map(str::to_owned),
                on,
                grant,
            },
            effect,
        }
    }

    /// A fresh certificate number for the licence of type `id` on permit `index`.
    fn certificate(&mut self, index: u32, id: LicenceTypeId, on: Date) -> String {
        let permit = self.permit(index);
        let district = district_of(&permit.number);
        let category = permit.number.category();
        let name = &permit.operator_name;
        let variant = NumberVariant {
            food_subject: industries::food_subject(category),
            chain_store: name.contains("公司")
                && (name.ends_with('店') || name.ends_with("分公司")),
            passenger: category == 38,
        };
        let kind = self.kind(id);
        let serial = match self.serials.get_mut(usize::from(id.0)) {
            Some(slot) => {
                slot[district] += 1;
                slot[district]
            }
            None => SERIAL_OFFSET,
        };
        let mut number = String::with_capacity(48);
        licences::write_certificate_number(
            &mut number,
            kind,
            id,
            &DISTRICTS[district],
            on.ymd().0,
            serial,
            variant,
        );
        number
    }

    // -- the kinds ----------------------------------------------------------------------------

    /// 延续: `valid_until` of the licence ending soonest moves on by the licence's term.
    fn renewal(&mut self, on: Date, new_certificate: bool) -> Option<Candidate> {
        let entry = self.next_ending(on).or_else(|| {
            self.draw_licence(|_, l| usable(l.state) && l.valid_until.is_some() && !expired(l, on))
        })?;
        let licence = self.licence(entry);
        let until = licence
            .valid_until
            .expect("renewable licences have an end date");
        let years = self.kind(entry.1).validity_years().map_or_else(
            || {
                // A term this table does not know: the licence's own, in whole years.
                let days = licence
                    .valid_from
                    .map_or(5 * 365, |from| days_between(from, until));
                ((days + 182) / 365).clamp(1, 10)
            },
            i32::from,
        );
        let certificate_number = new_certificate.then(|| self.certificate(entry.0, entry.1, on));
        let renewed = add_years(until, years);
        Some(Candidate {
            department: self.department(entry.1),
            change: Change::LicenceDetailsChanged {
                number: self.permit(entry.0).number,
                licence_type: entry.1,
                certificate_number,
                valid_from: None,
                valid_until: Some(renewed),
                on,
            },
            effect: Effect::Ends(renewed, entry),
        })
    }

    /// The licence ending soonest that may still be renewed on `on`: in force or suspended, on
    /// an open permit, not past its end. Entries met on the way that no longer say the
    /// licence's end (renewed since, void, past) are dropped.
    fn next_ending(&mut self, on: Date) -> Option<Entry> {
        while let Some(Reverse((until, index, id))) = self.ending.pop() {
            let permit = &self.registry.changed()[index as usize];
            let fits = open(permit)
                && permit.licences.iter().any(|l| {
                    l.licence_type.0 == id
                        && usable(l.state)
                        && l.valid_until.map(Date::days_since_epoch) == Some(until)
                        && !expired(l, on)
                });
            if fits {
                return Some((index, LicenceTypeId(id)));
            }
        }
        None
    }

    /// 换证: a new certificate number.
    fn renumbering(&mut self, on: Date) -> Option<Candidate> {
        let entry = self.draw_licence(|_, l| {
            usable(l.state) && l.certificate_number.is_some() && !expired(l, on)
        })?;
        let certificate_number = Some(self.certificate(entry.0, entry.1, on));
        Some(Candidate {
            department: self.department(entry.1),
            change: Change::LicenceDetailsChanged {
                number: self.permit(entry.0).number,
                licence_type: entry.1,
                certificate_number,
                valid_from: None,
                valid_until: None,
                on,
            },
            effect: Effect::None,
        })
    }

    fn suspension(&mut self, on: Date) -> Option<Candidate> {
        let entry = self.draw_licence(|_, l| l.state == LicenceState::Valid && !expired(l, on))?;
        let reason = pick(&mut self.rng, &SUSPEND_REASONS);
        Some(self.state_change(
            entry,
            LicenceAction::Suspended,
            Some(reason),
            on,
            None,
            Effect::Suspended(entry),
        ))
    }

    fn resumption(&mut self, on: Date) -> Option<Candidate> {
        let entry = draw_pool(
            &mut self.rng,
            &mut self.suspended,
            &*self.registry,
            |p, l| open(p) && l.state == LicenceState::Suspended && !expired(l, on),
        )?;
        let reason = pick(&mut self.rng, &RESUME_REASONS);
        Some(self.state_change(
            entry,
            LicenceAction::Resumed,
            Some(reason),
            on,
            None,
            Effect::None,
        ))
    }

    fn commitment_check(&mut self, on: Date, passed: bool) -> Option<Candidate> {
        let entry = draw_pool(&mut self.rng, &mut self.pending, &*self.registry, |p, l| {
            open(p) && l.state == LicenceState::PendingCommitment && !expired(l, on)
        })?;
        let (action, reason, effect) = if passed {
            let reason = pick(&mut self.rng, &VERIFY_REASONS);
            (LicenceAction::CommitmentVerified, reason, Effect::None)
        } else {
            let reason = pick(&mut self.rng, &FAIL_REASONS);
            (
                LicenceAction::CommitmentFailed,
                reason,
                Effect::Void(entry.0),
            )
        };
        Some(self.state_change(entry, action, Some(reason), on, None, effect))
    }

    /// 许可: an item listed as not granted is granted (the registry issues a new version).
    fn grant(&mut self, on: Date) -> Option<Candidate> {
        let entry = draw_pool(
            &mut self.rng,
            &mut self.not_granted,
            &*self.registry,
            |p, l| {
                open(p)
                    && l.state == LicenceState::NotGranted
                    && p.superseded_versions.len() < SUPERSEDED_VERSIONS_MAX
            },
        )?;
        let kind = self.kind(entry.1);
        let on_commitment = kind.commitment_eligible() && self.rng.random_bool(0.3);
        let certificate_number = self.certificate(entry.0, entry.1, on);
        let grant = Grant {
            certificate_number,
            valid_from: Some(on),
            valid_until: kind.validity_years().map(|years| last_day(on, years)),
            on_commitment,
        };
        let effect = Effect::Granted {
            entry,
            ends: grant.valid_until,
            pending: on_commitment,
        };
        Some(self.state_change(entry, LicenceAction::Granted, None, on, Some(grant), effect))
    }

    /// 注销, 撤销, 吊销: a licence in force or suspended ends; the permit is void.
    fn ending_act(&mut self, on: Date, action: LicenceAction) -> Option<Candidate> {
        let withdrawal = action == LicenceAction::Withdrawn;
        let profiles = &self.profiles;
        let can_be_withdrawn = |id: LicenceTypeId| {
            profiles
                .get(usize::from(id.0))
                .and_then(Option::as_ref)
                .map_or(LicenceKind::Other, |p| p.kind)
                .can_be_withdrawn()
        };
        let permits = self.registry.changed();
        let rng = &mut self.rng;
        let entry = {
            let ok = |l: &Licence| {
                usable(l.state)
                    && !expired(l, on)
                    && (!withdrawal || can_be_withdrawn(l.licence_type))
            };
            let mut found = None;
            for _ in 0..PICK_TRIES {
                let index = rng.random_range(0..permits.len());
                let permit = &permits[index];
                if !open(permit) {
                    continue;
                }
                let count = permit.licences.iter().filter(|l| ok(l)).count();
                if count == 0 {
                    continue;
                }
                let nth = rng.random_range(0..count);
                let licence = permit.licences.iter().filter(|l| ok(l)).nth(nth)?;
                found = Some((index as u32, licence.licence_type));
                break;
            }
            found?
        };
        let reason = match action {
            LicenceAction::Cancelled => pick(&mut self.rng, &CANCEL_REASONS),
            LicenceAction::Revoked => pick(&mut self.rng, &REVOKE_REASONS),
            _ => self.kind(entry.1).withdrawal_reason(),
        };
        Some(self.state_change(entry, action, Some(reason), on, None, Effect::Void(entry.0)))
    }

    /// 失效: preferably a licence past its end date, else one whose holder ceased to exist.
    fn lapse(&mut self, on: Date) -> Option<Candidate> {
        let ok = |l: &Licence| usable(l.state) && l.valid_from.is_none_or(|from| from <= on);
        let index = self.draw_permit(|p| open(p) && p.licences.iter().any(&ok))?;
        let permit = self.permit(index);
        let by_date: Vec<LicenceTypeId> = permit
            .licences
            .iter()
            .filter(|l| ok(l) && expired(l, on))
            .map(|l| l.licence_type)
            .collect();
        let (licence_type, reason) = if by_date.is_empty() {
            let all: Vec<LicenceTypeId> = permit
                .licences
                .iter()
                .filter(|l| ok(l))
                .map(|l| l.licence_type)
                .collect();
            let licence_type = pick(&mut self.rng, &all);
            (licence_type, pick(&mut self.rng, &LAPSE_REASONS))
        } else {
            (pick(&mut self.rng, &by_date), LAPSE_BY_DATE_REASON)
        };
        let entry = (index, licence_type);
        Some(self.state_change(
            entry,
            LicenceAction::Lapsed,
            Some(reason),
            on,
            None,
            Effect::Void(index),
        ))
    }

    /// 作废 by the issuing authority.
    fn voiding(&mut self, on: Date) -> Option<Candidate> {
        let index = self.draw_permit(open)?;
        let reason = pick(&mut self.rng, &VOID_REASONS).to_owned();
        Some(Candidate {
            department: ISSUING_DEPARTMENT.to_owned(),
            change: Change::PermitVoided {
                number: self.permit(index).number,
                reason,
                on,
            },
            effect: Effect::Void(index),
        })
    }

    /// 收回: preferably a void permit.
    fn recovery(&mut self, on: Date) -> Option<Candidate> {
        let mut index = None;
        while !self.void.is_empty() {
            let k = self.rng.random_range(0..self.void.len());
            if recovered(self.permit(self.void[k])) {
                self.void.swap_remove(k);
            } else {
                index = Some(self.void[k]);
                break;
            }
        }
        let index = match index {
            Some(index) => index,
            None => self.draw_permit(|p| !recovered(p))?,
        };
        Some(Candidate {
            department: ISSUING_DEPARTMENT.to_owned(),
            change: Change::PermitRecovered {
                number: self.permit(index).number,
                on,
            },
            effect: Effect::None,
        })
    }

    /// 变更: a new version with a new legal representative, premises or name.
    fn face_change(&mut self, on: Date) -> Option<Candidate> {
        let index = self.draw_permit(|p| {
            open(p)
                && p.superseded_versions.len() < SUPERSEDED_VERSIONS_MAX
                && p.licences.iter().all(|l| {
                    matches!(
                        l.state,
                        LicenceState::Valid
                            | LicenceState::NotGranted
                            | LicenceState::PendingCommitment
                    ) && !expired(l, on)
                })
        })?;
        let mut permit = self.permit(index).clone();
        permit.version += 1;
        permit.issued_on = on;
        // The registry keeps the superseded list and assigns the sequence itself.
        permit.superseded_versions.clear();
        permit.sequence = 0;
        match self.rng.random_range(0..20) {
            0..9 => {
                let old = std::mem::take(&mut permit.legal_representative);
                permit.legal_representative = self.differently(&old, |rng, out| {
                    names::write_person_name(rng, out);
                });
            }
            9..16 => {
                let old = std::mem::take(&mut permit.premises);
                let draw = self.premises_plan(&permit, &old);
                permit.premises = self.differently(&old, |rng, out| draw.write(rng, out));
            }
            _ => {
                let old = std::mem::take(&mut permit.operator_name);
                let plan = NamePlan::of(&permit, &old);
                permit.operator_name = self.differently(&old, |rng, out| plan.write(rng, out));
            }
        }
        Some(Candidate {
            department: ISSUING_DEPARTMENT.to_owned(),
            change: Change::PermitReissued { permit },
            effect: Effect::None,
        })
    }

    /// A text `write` draws, other than `old` if a few tries allow.
    fn differently(&mut self, old: &str, write: impl Fn(&mut ChaCha8Rng, &mut String)) -> String {
        let mut text = String::with_capacity(old.len().max(16) + 16);
        for _ in 0..4 {
            text.clear();
            write(&mut self.rng, &mut text);
            if text != old {
                break;
            }
        }
        text
    }

    /// Where a business moves: the same Fangshan town (else a weighted one), or the same
    /// spill-over district.
    fn premises_plan(&mut self, permit: &Permit, old: &str) -> PremisesPlan {
        let district = district_of(&permit.number);
        let town = if district == 0 {
            TOWNS
                .iter()
                .position(|t| old.contains(t.name))
                .unwrap_or_else(|| {
                    let total = *self.town_weights.last().expect("28 towns");
                    let r = self.rng.random_range(0..total);
                    self.town_weights.partition_point(|&c| c <= r)
                })
        } else {
            let subs = DISTRICTS[district].sub_districts;
            subs.iter()
                .position(|s| old.contains(s))
                .unwrap_or_else(|| self.rng.random_range(0..subs.len().max(1)))
        };
        PremisesPlan {
            district,
            town,
            homestay: permit.number.category() == 19,
        }
    }

    // -- invalid events -----------------------------------------------------------------------

    /// Writes a deliberately invalid event; `false` when none could be built.
    fn invalid(&mut self, at: Timestamp, on: Date) -> io::Result<bool> {
        let sorts = [
            Invalid::UnknownPermit,
            Invalid::Transition,
            Invalid::NotCovered,
        ];
        let first = self.rng.random_range(0..sorts.len());
        for k in 0..sorts.len() {
            let sort = sorts[(first + k) % sorts.len()];
            let built = match sort {
                Invalid::UnknownPermit => self.unknown_permit(on),
                Invalid::Transition => self.inapplicable(on),
                Invalid::NotCovered => self.uncovered(on),
            };
            let Some((department, change)) = built else {
                continue;
            };
            let (id, result) = self.try_apply(at, department, change)?;
            if result.is_ok() {
                return Err(io::Error::other(format!(
                    "internal: deliberately invalid event {id} gave {result:?}"
                )));
            }
            self.commit()?;
            self.stats.invalid += 1;
            match sort {
                Invalid::UnknownPermit => self.stats.invalid_unknown_permit += 1,
                Invalid::Transition => self.stats.invalid_transition += 1,
                Invalid::NotCovered => self.stats.invalid_not_covered += 1,
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// A Fangshan number with a valid check character, of a catalogue category, not held.
    fn unknown_permit(&mut self, on: Date) -> Option<(String, Change)> {
        let mut found = None;
        for _ in 0..PICK_TRIES {
            let category = pick(&mut self.rng, &self.categories);
            let sequence = self.rng.random_range(1..=99_999);
            let Ok(number) = PermitNumber::new(DISTRICTS[0].code, category, sequence) else {
                continue;
            };
            if self.registry.get(&number).is_none() {
                found = Some(number);
                break;
            }
        }
        let number = found?;
        let licence_type = self
            .catalog
            .industry(number.category())
            .and_then(|industry| {
                let ids: Vec<LicenceTypeId> = industry
                    .requirements
                    .iter()
                    .flat_map(|r| r.licences.iter().copied())
                    .collect();
                (!ids.is_empty()).then(|| pick(&mut self.rng, &ids))
            })
            .unwrap_or_else(|| pick(&mut self.rng, &self.licence_types));
        Some(match self.rng.random_range(0..3) {
            0 => (
                self.department(licence_type),
                Change::LicenceStateChanged {
                    number,
                    licence_type,
                    action: LicenceAction::Suspended,
                    reason: Some(pick(&mut self.rng, &SUSPEND_REASONS).to_owned()),
                    on,
                    grant: None,
                },
            ),
            1 => (
                self.department(licence_type),
                Change::LicenceDetailsChanged {
                    number,
                    licence_type,
                    certificate_number: None,
                    valid_from: None,
                    valid_until: Some(add_years(on, 5)),
                    on,
                },
            ),
            _ => (
                ISSUING_DEPARTMENT.to_owned(),
                Change::PermitVoided {
                    number,
                    reason: pick(&mut self.rng, &VOID_REASONS).to_owned(),
                    on,
                },
            ),
        })
    }

    /// An action [`LicenceAction::apply_to`] refuses for the licence's state.
    fn inapplicable(&mut self, on: Date) -> Option<(String, Change)> {
        let index = self.draw_permit(|p| !recovered(p) && !p.licences.is_empty())?;
        let count = self.permit(index).licences.len();
        let nth = self.rng.random_range(0..count);
        let licence = &self.permit(index).licences[nth];
        let state = licence.state;
        let licence_type = licence.licence_type;
        let certificate = licence.certificate_number.clone();
        let actions: Vec<LicenceAction> = LicenceAction::ALL
            .into_iter()
            .filter(|a| a.apply_to(state, false).is_none())
            .collect();
        let action = pick(&mut self.rng, &actions);
        let grant = (action == LicenceAction::Granted).then(|| Grant {
            certificate_number: certificate
                .unwrap_or_else(|| self.certificate(index, licence_type, on)),
            valid_from: Some(on),
            valid_until: None,
            on_commitment: false,
        });
        let reason = match action {
            LicenceAction::Granted => None,
            LicenceAction::Suspended => Some(pick(&mut self.rng, &SUSPEND_REASONS)),
            LicenceAction::Resumed => Some(pick(&mut self.rng, &RESUME_REASONS)),
            LicenceAction::Cancelled => Some(pick(&mut self.rng, &CANCEL_REASONS)),
            LicenceAction::Revoked => Some(pick(&mut self.rng, &REVOKE_REASONS)),
            LicenceAction::Withdrawn => Some(self.kind(licence_type).withdrawal_reason()),
            LicenceAction::Lapsed => Some(pick(&mut self.rng, &LAPSE_REASONS)),
            LicenceAction::CommitmentVerified => Some(pick(&mut self.rng, &VERIFY_REASONS)),
            LicenceAction::CommitmentFailed => Some(pick(&mut self.rng, &FAIL_REASONS)),
        };
        let candidate = self.state_change(
            (index, licence_type),
            action,
            reason,
            on,
            grant,
            Effect::None,
        );
        Some((candidate.department, candidate.change))
    }

    /// A catalogue licence type the permit does not list.
    fn uncovered(&mut self, on: Date) -> Option<(String, Change)> {
        let index = self.draw_permit(|p| !recovered(p))?;
        let mut found = None;
        for _ in 0..16 {
            let id = pick(&mut self.rng, &self.licence_types);
            if !self
                .permit(index)
                .licences
                .iter()
                .any(|l| l.licence_type == id)
            {
                found = Some(id);
                break;
            }
        }
        let licence_type = found?;
        let (action, reason) = match self.rng.random_range(0..3) {
            0 => (
                LicenceAction::Suspended,
                pick(&mut self.rng, &SUSPEND_REASONS),
            ),
            1 => (
                LicenceAction::Cancelled,
                pick(&mut self.rng, &CANCEL_REASONS),
            ),
            _ => (LicenceAction::Revoked, pick(&mut self.rng, &REVOKE_REASONS)),
        };
        let candidate = self.state_change(
            (index, licence_type),
            action,
            Some(reason),
            on,
            None,
            Effect::None,
        );
        Some((candidate.department, candidate.change))
    }
}

/// An entry of `pool` whose licence satisfies `ok` now; stale entries met on the way are
/// dropped (each draw that fails removes one, so the cost is amortised O(1)).
fn draw_pool(
    rng: &mut ChaCha8Rng,
    pool: &mut Vec<Entry>,
    registry: &Registry<'_>,
    ok: impl Fn(&Permit, &Licence) -> bool,
) -> Option<Entry> {
    let permits = registry.changed();
    while !pool.is_empty() {
        let k = rng.random_range(0..pool.len());
        let (index, licence_type) = pool[k];
        let permit = &permits[index as usize];
        let fits = !recovered(permit)
            && permit
                .licences
                .iter()
                .find(|l| l.licence_type == licence_type)
                .is_some_and(|l| ok(permit, l));
        if fits {
            return Some(pool[k]);
        }
        pool.swap_remove(k);
    }
    None
}

/// Where a moved business's new premises are.
#[derive(Debug, Clone, Copy)]
struct PremisesPlan {
    district: usize,
    /// Index into [`TOWNS`] (Fangshan) or into the district's sub-districts.
    town: usize,
    homestay: bool,
}

impl PremisesPlan {
    /// The issue generator's premises drawing, for this place.
    fn write(&self, rng: &mut ChaCha8Rng, out: &mut String) {
        let detail = match rng.random_range(0..20) {
            0..6 => PremisesDetail::None,
            6..11 => PremisesDetail::GroundFloorShop,
            11..14 => PremisesDetail::CourtyardBuilding,
            14..17 => PremisesDetail::FloorRoom,
            17..19 => PremisesDetail::Storefront,
            _ => PremisesDetail::Block,
        };
        let rural = self.district == 0
            && match TOWNS[self.town].kind {
                TownKind::Township => true,
                TownKind::Town => self.homestay || rng.random_bool(0.15),
                TownKind::SubDistrict => false,
            };
        let draw = PremisesDraw {
            road_or_village: rng.random_range(0..16),
            rural,
            number: if rural {
                rng.random_range(1..300)
            } else {
                rng.random_range(1..120)
            },
            detail,
            building: rng.random_range(1..30),
            floor: rng.random_range(1..6),
            room: rng.random_range(1..30),
        };
        if self.district == 0 {
            places::write_premises(out, &TOWNS[self.town], &draw);
        } else {
            let draw = PremisesDraw {
                road_or_village: self.town,
                ..draw
            };
            places::write_other_district_premises(out, &DISTRICTS[self.district], &draw);
        }
    }
}

/// How a renamed business is called, by its legal form (read from its credit code).
#[derive(Debug, Clone, Copy)]
struct NamePlan {
    form: NameForm,
    category: u8,
    district: usize,
    /// The short place word (`良乡`, `燕山`, or the district's `朝阳`).
    area: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameForm {
    Company,
    Individual,
    Cooperative,
    NonEnterprise,
}

impl NamePlan {
    fn of(permit: &Permit, old_name: &str) -> NamePlan {
        let code = permit.uscc.as_str();
        let form = match code.get(..2) {
            Some("52") => NameForm::NonEnterprise,
            Some("93") => NameForm::Cooperative,
            Some("92") => NameForm::Individual,
            _ => NameForm::Company,
        };
        let district = district_of(&permit.number);
        let area = if district == 0 {
            TOWNS
                .iter()
                .find(|t| permit.premises.contains(t.name) || old_name.contains(t.short))
                .map_or(DISTRICTS[0].short, |t| t.short)
        } else {
            DISTRICTS[district].short
        };
        NamePlan {
            form,
            category: permit.number.category(),
            district,
            area,
        }
    }

    fn write(&self, rng: &mut ChaCha8Rng, out: &mut String) {
        let style = industries::style_for(self.category);
        let district = &DISTRICTS[self.district];
        match self.form {
            NameForm::Company => {
                // 北京鑫盛餐饮管理有限公司
                out.push_str("北京");
                names::write_trade_name(rng, out);
                out.push_str(pick(rng, style.company_nouns));
            }
            NameForm::Individual => {
                // 北京房山良乡鑫盛便利店
                out.push_str("北京");
                out.push_str(district.short);
                if self.area != district.short && self.area != "燕山" {
                    out.push_str(self.area);
                }
                names::write_trade_name(rng, out);
                let nouns = if style.shop_nouns.is_empty() {
                    style.company_nouns
                } else {
                    style.shop_nouns
                };
                out.push_str(pick(rng, nouns));
            }
            NameForm::Cooperative => {
                out.push_str("北京");
                out.push_str(self.area);
                names::write_trade_name(rng, out);
                out.push_str(industries::cooperative_noun(self.category));
            }
            NameForm::NonEnterprise => {
                out.push_str("北京市");
                out.push_str(district.name);
                names::write_trade_name(rng, out);
                out.push_str(industries::non_enterprise_noun(self.category));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::fold;
    use crate::gen::{generate, GenOptions};
    use std::collections::{BTreeSet, HashSet};
    use std::sync::OnceLock;

    const PERMITS: u64 = 2_000;
    const CHANGES: u64 = 3_000;
    const SEED: u64 = 11;

    fn catalog() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Catalog::embedded().expect("embedded catalogue loads"))
    }

    fn start() -> Timestamp {
        Timestamp::parse("2026-06-15T09:00:00+08:00").unwrap()
    }

    fn issue_feed(permits: u64) -> Vec<u8> {
        let options = GenOptions {
            permits,
            seed: 2026,
            as_of: Date::from_ymd(2026, 6, 15).unwrap(),
        };
        let mut out = Vec::new();
        generate(catalog(), &options, &mut out, &mut |_| {}).expect("generates");
        out
    }

    /// The 2,000-permit issue feed every test starts from, generated once.
    fn issues() -> &'static [u8] {
        static FEED: OnceLock<Vec<u8>> = OnceLock::new();
        FEED.get_or_init(|| issue_feed(PERMITS))
    }

    fn folded(feed: &[u8]) -> Registry<'static> {
        let mut registry = Registry::with_capacity(catalog(), PERMITS as usize);
        let report = fold(&mut registry, feed, &mut |_| {}).unwrap();
        assert_eq!(report.rejected, 0, "{:?}", report.rejections);
        registry
    }

    fn changes(registry: &mut Registry<'_>, changes: u64, seed: u64) -> (Vec<u8>, ChangeStats) {
        let options = ChangeOptions {
            changes,
            seed,
            start: start(),
        };
        let mut out = Vec::new();
        let stats = generate_changes(catalog(), registry, &options, &mut out).expect("generates");
        (out, stats)
    }

    /// The 3,000 changes over the 2,000 permits, with the registry they leave, generated once.
    fn sample() -> &'static (Vec<u8>, ChangeStats, Vec<Permit>) {
        static SAMPLE: OnceLock<(Vec<u8>, ChangeStats, Vec<Permit>)> = OnceLock::new();
        SAMPLE.get_or_init(|| {
            let mut registry = folded(issues());
            let (out, stats) = changes(&mut registry, CHANGES, SEED);
            (out, stats, registry.into_sorted())
        })
    }

    fn events(bytes: &[u8]) -> Vec<Event> {
        bytes
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).expect("every line is an event"))
            .collect()
    }

    #[test]
    fn folding_issues_then_changes_accepts_the_valid_and_rejects_the_invalid() {
        // A fresh registry folded from the issue feed and then the change feed accepts every
        // valid change, rejects exactly the deliberately invalid ones, counts the replays, and
        // ends in the state the generator's registry was left in.
        let (out, stats, expected) = sample();
        assert_eq!(stats.events, CHANGES);
        assert_eq!(stats.bytes, out.len() as u64);
        assert_eq!(stats.events, stats.valid() + stats.invalid + stats.replays);
        assert_eq!(
            stats.invalid,
            stats.invalid_unknown_permit + stats.invalid_transition + stats.invalid_not_covered
        );
        let mut feed = issues().to_vec();
        feed.extend_from_slice(out);
        let mut registry = Registry::new(catalog());
        let report = fold(&mut registry, &feed[..], &mut |_| {}).unwrap();
        let issue_events = events(issues()).len() as u64;
        assert_eq!(report.accepted, issue_events + stats.valid());
        assert_eq!(report.rejected, stats.invalid, "{:?}", report.rejections);
        assert_eq!(report.replays, stats.replays);
        assert!(stats.invalid > 0 && stats.replays > 0);
        assert_eq!(registry.len() as u64, PERMITS);
        assert!(registry.into_sorted() == *expected, "the folds differ");
    }

    #[test]
    fn every_kind_and_action_of_the_schema_appears() {
        // Across the issue feed and the change feed every event kind appears, and in the change
        // feed every licence action and every sort of invalid event, each at least once.
        let (out, stats, _) = sample();
        let mut kinds = BTreeSet::new();
        let mut actions = HashSet::new();
        for event in events(issues()).iter().chain(events(out).iter()) {
            kinds.insert(event.change.kind());
            if let Change::LicenceStateChanged { action, .. } = event.change {
                actions.insert(action);
            }
        }
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            [
                "licence_details_changed",
                "licence_state_changed",
                "permit_issued",
                "permit_recovered",
                "permit_reissued",
                "permit_voided"
            ]
        );
        for action in LicenceAction::ALL {
            assert!(actions.contains(&action), "{action:?} never appears");
            assert!(stats.action(action) > 0, "{action:?} never accepted");
        }
        for (name, count) in [
            ("renewals", stats.renewals),
            ("certificate changes", stats.certificate_changes),
            ("reissues", stats.permit_reissued),
            ("voided", stats.permit_voided),
            ("recovered", stats.permit_recovered),
            ("unknown permit", stats.invalid_unknown_permit),
            ("transition", stats.invalid_transition),
            ("not covered", stats.invalid_not_covered),
        ] {
            assert!(count > 0, "no {name}");
        }
        // Change feeds carry no new permits.
        assert!(events(out)
            .iter()
            .all(|e| e.change.kind() != "permit_issued"));
    }

    #[test]
    fn same_seed_gives_the_same_bytes() {
        // Determinism: the same registry and seed give byte-identical output; another seed
        // gives another feed.
        let (a, stats_a, _) = sample();
        let (b, stats_b) = changes(&mut folded(issues()), CHANGES, SEED);
        assert_eq!(*stats_a, stats_b);
        assert!(*a == b, "two runs differ");
        let (c, _) = changes(&mut folded(issues()), CHANGES, SEED + 1);
        assert!(*a != c, "the seed does not matter");
    }

    #[test]
    fn ids_times_dates_and_departments_follow_the_rules() {
        // Ids are chg-{seed}-{n} and unique but for replays (which repeat an earlier line
        // verbatim); `at` starts at `start` and strictly increases over the other lines, in
        // office hours after the first; `on` is the Beijing date of `at`; departments are the
        // licence type's for licence events and 区政务服务局 for permit events.
        let (out, stats, _) = sample();
        let lines: Vec<&[u8]> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let events = events(out);
        let mut seen = std::collections::HashMap::new();
        let mut last: Option<Timestamp> = None;
        let mut replays = 0;
        for (n, (event, line)) in events.iter().zip(&lines).enumerate() {
            if let Some(earlier) = seen.get(event.id.as_str()) {
                assert_eq!(earlier, line, "a replay repeats its line");
                replays += 1;
                continue;
            }
            seen.insert(event.id.as_str(), *line);
            assert_eq!(event.id, format!("chg-{SEED}-{}", n + 1));
            match last {
                None => assert_eq!(event.at, start()),
                Some(last) => {
                    assert!(event.at > last, "{} not after {last:?}", event.id);
                    assert!(event.at.unix_ms - last.unix_ms >= 1000);
                    assert!(
                        in_office(event.at.unix_ms / 1000),
                        "{}",
                        event.at.to_rfc3339()
                    );
                }
            }
            last = Some(event.at);
            let on = match &event.change {
                Change::LicenceStateChanged {
                    on, licence_type, ..
                }
                | Change::LicenceDetailsChanged {
                    on, licence_type, ..
                } => {
                    let department = &catalog().licence_type(*licence_type).unwrap().department;
                    assert_eq!(&event.department, department);
                    *on
                }
                Change::PermitVoided { on, .. } | Change::PermitRecovered { on, .. } => {
                    assert_eq!(event.department, "区政务服务局");
                    *on
                }
                Change::PermitReissued { permit } => {
                    assert_eq!(event.department, "区政务服务局");
                    permit.issued_on
                }
                Change::PermitIssued { .. } => panic!("no issues in a change feed"),
            };
            assert_eq!(on, event.at.date_in_beijing(), "{}", event.id);
        }
        assert_eq!(replays, stats.replays);
    }

    #[test]
    fn reissues_change_one_face_field_and_renewals_extend_by_the_term() {
        // A reissue is the next version of the permit with the same number, credit code and
        // licences and one of a new representative, premises or name; a renewal moves
        // valid_until on by at least a year.
        let (out, _, _) = sample();
        let mut registry = folded(issues());
        let (mut reissues, mut renewals) = (0, 0);
        for event in events(out) {
            let before = registry
                .get(&event.change.number())
                .map(std::borrow::Cow::into_owned);
            let accepted = matches!(registry.apply(event.clone()), Ok(Applied::Accepted { .. }));
            if !accepted {
                continue;
            }
            let before = before.expect("an accepted change names a held permit");
            match &event.change {
                Change::PermitReissued { permit } => {
                    assert_eq!(permit.version, before.version + 1);
                    assert_eq!(permit.licences, before.licences);
                    assert_eq!(permit.uscc, before.uscc);
                    let changed = [
                        permit.legal_representative != before.legal_representative,
                        permit.premises != before.premises,
                        permit.operator_name != before.operator_name,
                    ];
                    assert_eq!(changed.iter().filter(|&&c| c).count(), 1, "{permit:?}");
                    assert!(permit.premises.starts_with("北京市"), "{}", permit.premises);
                    reissues += 1;
                }
                Change::LicenceDetailsChanged {
                    licence_type,
                    valid_until: Some(until),
                    ..
                } => {
                    let old = before
                        .licences
                        .iter()
                        .find(|l| l.licence_type == *licence_type)
                        .and_then(|l| l.valid_until)
                        .expect("a renewed licence had an end date");
                    assert!(days_between(old, *until) >= 365, "{old} → {until}");
                    renewals += 1;
                }
                _ => {}
            }
        }
        assert!(reissues > 100 && renewals > 300, "{reissues} {renewals}");
    }

    #[test]
    fn edge_cases_are_refused_or_empty() {
        // No changes writes nothing; an empty registry, or one that already holds this seed's
        // events, is refused.
        let mut empty = Registry::new(catalog());
        let (out, stats) = changes(&mut empty, 0, 1);
        assert!(out.is_empty());
        assert_eq!(stats, ChangeStats::default());
        let options = ChangeOptions {
            changes: 10,
            seed: 1,
            start: start(),
        };
        let error = generate_changes(catalog(), &mut empty, &options, &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        let mut registry = folded(issues());
        changes(&mut registry, 10, 1);
        let error =
            generate_changes(catalog(), &mut registry, &options, &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn the_clock_keeps_office_hours() {
        // 16:59:58 on a Friday moves to Monday 09:00–09:01; the first event is at `start`.
        let friday = Timestamp::parse("2026-06-19T16:59:58+08:00").unwrap();
        let mut clock = Clock::new(friday);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(clock.tick(&mut rng), friday);
        let mut at = clock.tick(&mut rng);
        if at.unix_ms / 1000 - friday.unix_ms / 1000 == 1 {
            at = clock.tick(&mut rng);
        }
        let text = at.to_rfc3339();
        assert!(text.starts_with("2026-06-22T09:0"), "{text}");
        assert_eq!(next_opening(friday.unix_ms / 1000 - 8 * 3600 - 10), {
            // 08:59:48 Friday: opens at 09:00 the same day.
            Timestamp::parse("2026-06-19T09:00:00+08:00")
                .unwrap()
                .unix_ms
                / 1000
        });
    }

    #[test]
    fn a_hundred_thousand_changes_over_a_hundred_thousand_permits() {
        // Timing, and the realised shares of a long feed (10k in a debug build).
        let n: u64 = if cfg!(debug_assertions) {
            10_000
        } else {
            100_000
        };
        let feed = issue_feed(n);
        let mut registry = Registry::with_capacity(catalog(), n as usize);
        fold(&mut registry, &feed[..], &mut |_| {}).unwrap();
        let began = std::time::Instant::now();
        let options = ChangeOptions {
            changes: n,
            seed: 5,
            start: start(),
        };
        let stats = generate_changes(catalog(), &mut registry, &options, &mut io::sink()).unwrap();
        let elapsed = began.elapsed();
        println!(
            "{n} changes over {n} permits: {elapsed:?} ({:.1} µs per event, {} bytes)",
            elapsed.as_secs_f64() * 1e6 / n as f64,
            stats.bytes
        );
        let share = |count: u64| count as f64 * 100.0 / n as f64;
        for (name, count) in [
            ("details changed", stats.licence_details_changed),
            ("  renewals", stats.renewals),
            ("  certificate changes", stats.certificate_changes),
            ("granted", stats.granted),
            ("suspended", stats.suspended),
            ("resumed", stats.resumed),
            ("commitment verified", stats.commitment_verified),
            ("commitment failed", stats.commitment_failed),
            ("cancelled", stats.cancelled),
            ("revoked", stats.revoked),
            ("withdrawn", stats.withdrawn),
            ("lapsed", stats.lapsed),
            ("reissued", stats.permit_reissued),
            ("voided", stats.permit_voided),
            ("recovered", stats.permit_recovered),
            ("invalid", stats.invalid),
            ("replays", stats.replays),
        ] {
            println!("{name}: {:.2} %", share(count));
        }
        assert_eq!(stats.events, n);
        assert!((1.5..2.5).contains(&share(stats.invalid)));
        assert!((0.7..1.3).contains(&share(stats.replays)));
        assert!((9.0..11.0).contains(&share(stats.cancelled)));
    }
}
