//! Deterministic, realistic synthetic permits, written as the change-feed events
//! ([`crate::event`]) that the approval platform would send: `permitd gen` and the benchmarks'
//! data sets come from here, and go through the same [`crate::registry::Registry::apply`] as a
//! real feed.
//!
//! Owns the generation logic; the data tables live in the sub-modules:
//! - [`places`]: Fangshan's 28 towns and sub-districts, their roads and villages, premises text,
//!   and the other Beijing districts numbers spill into;
//! - [`names`]: surnames, given names, trade-name (字号) words;
//! - [`industries`]: the industry mix, business-name styles, as-needed licence probabilities;
//! - [`licences`]: validity, commitment eligibility and certificate-number formats per licence.
//!
//! It never reads the clock or the environment: the same `(permits, seed, as_of)` gives
//! byte-identical output, on any machine. One `ChaCha8Rng` stream, drawn in a fixed order, is
//! the only source of randomness; no hash-map iteration order reaches the output.
//!
//! # What a data set holds
//! Each permit is issued once (`permit_issued`, version 1), at an office-hours instant on a
//! working day between [`REFORM_START`] (the reform's first permits, November 2023) and the day
//! before `as_of` (the 30 days before `as_of` when that is earlier); `at` never decreases through
//! the file and increases by at least a second per event while the window has the room. Its
//! licences follow the catalogue's rules: every mandatory licence; one or two of an "at least
//! one of" set; one of two alternatives (the small-scale food licence is likelier for tea
//! houses, drink shops and cafés); as-needed licences with industry-plausible chances
//! ([`industries::if_needed_probability`]).
//! Then, per permit, one fate with these shares (of all permits):
//!
//! | fate | share | events |
//! |---|---|---|
//! | void by a department | [`SHARE_VOID_BY_EVENT`] 3 % | a later `licence_state_changed`: cancelled 注销, revoked 撤销 (a failed commitment check among them), withdrawn 吊销 or lapsed 失效, with the department's reason |
//! | void by date | [`SHARE_EXPIRED_BY_DATE`] 1 % | none: one licence's `valid_until` is before `as_of` |
//! | suspended | [`SHARE_SUSPENDED`] 0.5 % | a later `licence_state_changed` to suspended 暂停 |
//! | partial | [`SHARE_PARTIAL`] 8 % | none: one as-needed or alternative item is listed as not granted (未许可) |
//! | partial, then completed | [`SHARE_PARTIAL_COMPLETED`] 2 % | a later `permit_reissued` (version 2) granting the item |
//! | face change | [`SHARE_FACE_CHANGE`] 2 % | a later `permit_reissued` (new legal representative, premises, name or a newly granted item); a quarter of them a second one (version 3) |
//!
//! and independently of the fate: [`SHARE_COMMITMENT`] of permits hold a licence granted on
//! commitment (告知承诺; pending, already checked, or checked later by a
//! `licence_state_changed` to valid), [`SHARE_EXPIRING`] a licence whose last day falls within
//! 60 days from `as_of`. Permits whose industry offers no item to leave out (口腔诊所, 书画艺术馆:
//! only mandatory licences) cannot be partial and stay plain, so realised shares run a little
//! under these numbers.
//!
//! # Numbers, codes, names
//! - Permit numbers are `PermitNumber::new(110111, category, sequence)` with one sequence per
//!   category from 00001. **Spill-over:** when a category's 99,999 sequences in Fangshan are used
//!   up, numbering continues under the next Beijing district's code (110101 东城, 110102 西城,
//!   110105 朝阳, … 110119 延庆, the order of [`places::DISTRICTS`]), and such permits carry that
//!   district's authority (北京市朝阳区政务服务局) and premises. The real Fangshan count is far
//!   smaller; the spill keeps every number valid up to 16 × 99,999 permits per category (ten
//!   million permits need it for restaurants and shops). A category with no room left anywhere
//!   hands its permit to the next category that has some.
//! - Credit codes (GB 32100): department `9` with type `1` (enterprise), `2` (individual business
//!   个体工商户) or `3` (farmers' cooperative), or `52` (private non-enterprise unit, for
//!   kindergartens and care homes); the permit's division; an organisation code body `MA…`
//!   (since 2015), `MJ…` (civil affairs) or eight digits (older enterprises) taken from a keyed
//!   permutation of the permit's ordinal, so codes are unique per permit without a set; its
//!   GB 11714 check ([`crate::codes::uscc::organisation_code_check`]); then [`Uscc::from_body`].
//! - Licence certificate numbers: [`licences::write_certificate_number`], one serial counter per
//!   licence type and district, so no two permits share a certificate.
//! - Event ids are `gen-{seed}-{n}` with `n` the event's 1-based position in the file.
//!
//! # Bounds
//! Follow-up events wait in a queue until their turn: each is due at most [`FOLLOW_UP_DELAY_MAX`]
//! permits after it was scheduled (a quarter of the data set for small ones), a permit has at
//! most one follow-up waiting and chains of at most two (a second reissue), so the queue never
//! holds more than twice that many entries (about 5 % of it in practice) and memory stays flat
//! at ten million permits. Output is buffered in [`OUTPUT_CHUNK_BYTES`] chunks.
//!
//! # Known simplifications
//! - Licences with short terms (娱乐经营 2 years) issued early in a long window would have
//!   lapsed by `as_of`; they are taken as renewed (续期, a non-face change that schema 1 has no
//!   event for), and the issue event already carries the renewed term.
//! - Holidays are working days; only weekends are skipped.
//! - The free-trade-zone filing (如位于自由贸易试验区，取得备案凭证即可) never applies: Fangshan
//!   has no part of the Beijing pilot free-trade zone.

pub mod changes;
pub mod industries;
pub mod licences;
pub mod names;
pub mod places;

use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::{Catalog, Choice, LicenceTypeId, Obligation, LICENCE_TYPE_ID_MAX};
use crate::codes::uscc::organisation_code_check;
use crate::codes::{PermitNumber, Uscc};
use crate::domain::{Date, Licence, LicenceState, Permit, PermitStatus};
use crate::event::{Change, Event, LicenceAction, Timestamp, SCHEMA_VERSION};
use crate::limits::SNAPSHOT_PERMITS_MAX;

use industries::IndustryStyle;
use licences::{LicenceKind, NumberVariant};
use places::{PremisesDetail, PremisesDraw, TownKind, DISTRICTS, TOWNS};

/// The first day permits are issued on: the reform was to cover the 40 industries "by the end of
/// November 2023" (工作目标).
pub const REFORM_START: (i32, u32, u32) = (2023, 11, 1);

/// Share of permits voided later by a department's `licence_state_changed` event.
pub const SHARE_VOID_BY_EVENT: f64 = 0.03;
/// Share of permits with a licence past its last day of validity at `as_of` (no event).
pub const SHARE_EXPIRED_BY_DATE: f64 = 0.01;
/// Share of permits with a licence suspended later.
pub const SHARE_SUSPENDED: f64 = 0.005;
/// Share of permits issued with one item not granted, and left so.
pub const SHARE_PARTIAL: f64 = 0.08;
/// Share of permits issued with one item not granted, which a reissue later grants.
pub const SHARE_PARTIAL_COMPLETED: f64 = 0.02;
/// Share of permits reissued after a face change (a quarter of them twice).
pub const SHARE_FACE_CHANGE: f64 = 0.02;
/// Share of permits holding a licence granted on commitment (告知承诺).
pub const SHARE_COMMITMENT: f64 = 0.11;
/// Share of permits with a licence whose last day of validity is within 60 days from `as_of`.
pub const SHARE_EXPIRING: f64 = 0.05;
/// "Expiring soon" means the last day of validity is within this many days from `as_of`.
pub const EXPIRING_WITHIN_DAYS: i32 = 60;

/// Most permits between a permit and its follow-up event; bounds the follow-up queue.
pub const FOLLOW_UP_DELAY_MAX: u64 = 500_000;
/// Output is handed to the writer in chunks of about this size.
pub const OUTPUT_CHUNK_BYTES: usize = 256 * 1024;
/// `on_progress` is called every this many permits (and once at the end).
pub const PROGRESS_EVERY_PERMITS: u64 = 10_000;
/// Sequences per category and district (5 digits).
const SEQUENCE_MAX: u32 = 99_999;
/// Office hours in which permits are issued: 09:00–17:00 Beijing time.
const OFFICE_OPENS_SECONDS: i64 = 9 * 3600;
const OFFICE_SECONDS_PER_DAY: u64 = 8 * 3600;
/// The acting department of issue and reissue events.
const ISSUING_DEPARTMENT: &str = "区政务服务局";
/// The USCC alphabet (GB 32100): 31 characters, no I O Z S V.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub permits: u64,
    pub seed: u64,
    /// The date the data set describes: issue dates fall before it, validity around it.
    pub as_of: Date,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenStats {
    pub permits: u64,
    /// Every event written (issues, reissues, licence state changes).
    pub events: u64,
    /// `permit_reissued` events.
    pub reissues: u64,
    /// `licence_state_changed` events.
    pub licence_state_changes: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes `options.permits` synthetic permits as NDJSON events into `out`, calling `on_progress`
/// with the number of permits done every [`PROGRESS_EVERY_PERMITS`] and at the end.
///
/// # Errors
/// An I/O error of `out`; [`io::ErrorKind::InvalidInput`] when `options.permits` exceeds
/// [`SNAPSHOT_PERMITS_MAX`] or the catalogue has an industry whose permits could not be built.
pub fn generate(
    catalog: &Catalog,
    options: &GenOptions,
    out: &mut dyn Write,
    on_progress: &mut dyn FnMut(u64),
) -> io::Result<GenStats> {
    if options.permits > SNAPSHOT_PERMITS_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} permits asked, at most {SNAPSHOT_PERMITS_MAX}",
                options.permits
            ),
        ));
    }
    let mut generator = Generator::new(catalog, options, out)?;
    for ordinal in 0..options.permits {
        generator.permit(ordinal)?;
        let done = ordinal + 1;
        if done % PROGRESS_EVERY_PERMITS == 0 {
            on_progress(done);
        }
    }
    generator.finish()?;
    if !options.permits.is_multiple_of(PROGRESS_EVERY_PERMITS) || options.permits == 0 {
        on_progress(options.permits);
    }
    Ok(generator.stats)
}

// ---------------------------------------------------------------------------------------------
// Plans: the catalogue and the tables, resolved once.

/// What the generator knows about one catalogue licence type.
#[derive(Debug, Clone)]
struct Profile {
    kind: LicenceKind,
    department: String,
}

/// One requirement of an industry, with its chances.
#[derive(Debug, Clone)]
struct RequirementPlan {
    must: bool,
    choice: Choice,
    options: Vec<LicenceTypeId>,
    /// For as-needed requirements: the chance the permit takes it.
    include: f64,
    /// For a pair of alternatives: the index of the small-scale food licence, if one is.
    small_scale: Option<usize>,
}

#[derive(Debug, Clone)]
struct IndustryPlan {
    category: u8,
    style: IndustryStyle,
    requirements: Vec<RequirementPlan>,
    small_scale: f64,
}

/// Where a permit's business is: a Fangshan town, or a sub-district of a spill-over district.
#[derive(Debug, Clone, Copy)]
struct Location {
    district: usize,
    /// Index into [`TOWNS`] (Fangshan) or into the district's sub-districts.
    town: usize,
}

/// The legal form of the operator, which decides its credit code and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// 公司, `91`, `MA…` organisation code.
    Company,
    /// 公司 registered before 2015, `91`, an eight-digit organisation code.
    OlderCompany,
    /// A chain store's branch (分公司/门店), `91`.
    ChainBranch,
    /// 个体工商户, `92`.
    Individual,
    /// 农民专业合作社, `93`.
    Cooperative,
    /// 民办非企业单位, `52`, `MJ…`.
    NonEnterprise,
}

/// What the face of a permit was built from, kept for its reissues.
#[derive(Debug, Clone, Copy)]
struct Origin {
    plan: usize,
    location: Location,
    form: Form,
}

/// A follow-up event waiting for its turn.
#[derive(Debug)]
struct Scheduled {
    due: u64,
    /// Tie-break: first scheduled, first written.
    order: u64,
    action: Action,
}

#[derive(Debug)]
enum Action {
    Reissue {
        permit: Box<Permit>,
        origin: Origin,
        completion: bool,
        again: bool,
    },
    StateChange {
        number: PermitNumber,
        licence_type: LicenceTypeId,
        action: LicenceAction,
        reason: &'static str,
    },
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: [`BinaryHeap`] is a max-heap and the earliest due must come out first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.order).cmp(&(self.due, self.order))
    }
}

/// The fate of one permit (see the module doc's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Plain,
    VoidByEvent,
    ExpiredByDate,
    Suspended,
    Partial,
    PartialCompleted,
    FaceChange,
}

// ---------------------------------------------------------------------------------------------
// Sequences: permit numbers per category, spilling over districts.

/// The next free permit number of each category, Fangshan first, then the other districts.
#[derive(Debug, Clone)]
struct Sequences {
    /// Per category 1..=40 (index category − 1): (district index, last sequence used).
    next: Vec<(usize, u32)>,
}

impl Sequences {
    fn new(categories: usize) -> Sequences {
        Sequences {
            next: vec![(0, 0); categories],
        }
    }

    fn has_room(&self, index: usize) -> bool {
        let (district, last) = self.next[index];
        district < DISTRICTS.len() - 1 || last < SEQUENCE_MAX
    }

    /// The next (district index, sequence) of category slot `index`, or `None` when all 16
    /// districts' sequences are used.
    fn take(&mut self, index: usize) -> Option<(usize, u32)> {
        let (district, last) = &mut self.next[index];
        if *last == SEQUENCE_MAX {
            if *district + 1 == DISTRICTS.len() {
                return None;
            }
            *district += 1;
            *last = 0;
        }
        *last += 1;
        Some((*district, *last))
    }
}

// ---------------------------------------------------------------------------------------------
// The clock: ordinals to office-hours instants.

#[derive(Debug, Clone)]
struct Clock {
    /// Working days of the window, as days since the epoch.
    days: Vec<i32>,
    permits: u64,
    /// Seconds of office time per permit, at least 1.
    gap: u64,
    /// 1 when the window has room for a distinct second per event, else 0 (non-decreasing).
    step: i64,
    last: i64,
}

impl Clock {
    fn new(as_of: Date, permits: u64) -> Clock {
        let (y, m, d) = REFORM_START;
        let reform = Date::from_ymd(y, m, d).expect("REFORM_START is a date");
        let start = if as_of.days_since_epoch() - reform.days_since_epoch() >= 30 {
            reform
        } else {
            as_of.add_days(-30)
        };
        let mut days: Vec<i32> = (start.days_since_epoch()..as_of.days_since_epoch())
            // 1970-01-01 was a Thursday: (days + 3) mod 7 is 0 on Mondays.
            .filter(|day| (day + 3).rem_euclid(7) < 5)
            .collect();
        if days.is_empty() {
            days = (start.days_since_epoch()..as_of.days_since_epoch()).collect();
        }
        let office = days.len() as u64 * OFFICE_SECONDS_PER_DAY;
        let permits = permits.max(1);
        // Events run about 1.1 per permit; leave a margin before giving up distinct seconds.
        let step = i64::from(permits.saturating_mul(5) / 4 <= office);
        Clock {
            days,
            permits,
            gap: (office / permits).max(1),
            step,
            last: i64::MIN,
        }
    }

    /// Unix seconds of office-time position `position` (seconds since the window opened).
    fn instant(&self, position: u64) -> i64 {
        let day = (position / OFFICE_SECONDS_PER_DAY) as usize;
        let day = day.min(self.days.len() - 1);
        let second = (position % OFFICE_SECONDS_PER_DAY) as i64;
        i64::from(self.days[day]) * 86_400 - crate::domain::date::BEIJING_UTC_OFFSET_SECONDS
            + OFFICE_OPENS_SECONDS
            + second
    }

    /// The office-time position where permit `ordinal`'s slot begins.
    fn position(&self, ordinal: u64) -> u64 {
        let office = self.days.len() as u128 * u128::from(OFFICE_SECONDS_PER_DAY);
        (u128::from(ordinal.min(self.permits - 1)) * office / u128::from(self.permits)) as u64
    }

    /// The instant of the next event, not before `candidate` and after the previous one.
    fn stamp(&mut self, candidate: i64) -> Timestamp {
        let at = candidate.max(self.last.saturating_add(self.step));
        self.last = at;
        Timestamp { unix_ms: at * 1000 }
    }
}

// ---------------------------------------------------------------------------------------------
// The generator.

struct Generator<'a> {
    options: GenOptions,
    rng: ChaCha8Rng,
    plans: Vec<IndustryPlan>,
    /// Cumulative industry weights, parallel to `plans`.
    plan_weights: Vec<u32>,
    town_weights: Vec<u32>,
    homestay_weights: Vec<u32>,
    /// Indexed by licence type id.
    profiles: Vec<Option<Profile>>,
    /// Last certificate serial used, per licence type id and district.
    serials: Vec<[u32; DISTRICTS.len()]>,
    sequences: Sequences,
    clock: Clock,
    queue: BinaryHeap<Scheduled>,
    scheduled: u64,
    /// Largest distance between a permit and its follow-up.
    delay_max: u64,
    /// Keys of the organisation-code permutations.
    code_key: u64,
    buffer: Vec<u8>,
    out: &'a mut dyn Write,
    stats: GenStats,
}

impl<'a> Generator<'a> {
    fn new(
        catalog: &'a Catalog,
        options: &GenOptions,
        out: &'a mut dyn Write,
    ) -> io::Result<Generator<'a>> {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let mut profiles = vec![None; usize::from(LICENCE_TYPE_ID_MAX) + 1];
        for licence_type in catalog.licence_types() {
            profiles[usize::from(licence_type.id.0)] = Some(Profile {
                kind: LicenceKind::from_name(&licence_type.name),
                department: licence_type.department.clone(),
            });
        }
        let kind_of = |id: LicenceTypeId| {
            profiles[usize::from(id.0)]
                .as_ref()
                .map_or(LicenceKind::Other, |p| p.kind)
        };
        let mut plans = Vec::with_capacity(catalog.industries().len());
        for industry in catalog.industries() {
            let category = industry.category;
            let requirements = industry
                .requirements
                .iter()
                .map(|r| {
                    let include = r
                        .licences
                        .iter()
                        .map(|&id| industries::if_needed_probability(category, kind_of(id)))
                        .fold(0.0, f64::max);
                    RequirementPlan {
                        must: r.obligation == Obligation::Must,
                        choice: r.choice,
                        options: r.licences.clone(),
                        include,
                        small_scale: r
                            .licences
                            .iter()
                            .position(|&id| kind_of(id) == LicenceKind::SmallScaleFood),
                    }
                })
                .collect::<Vec<_>>();
            if requirements.is_empty() || requirements.iter().any(|r| r.options.is_empty()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("industry {category:02} has an empty requirement"),
                ));
            }
            plans.push(IndustryPlan {
                category,
                style: industries::style_for(category),
                requirements,
                small_scale: industries::small_scale_probability(category),
            });
        }
        if plans.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the catalogue has no industries",
            ));
        }
        let plan_weights = cumulative(plans.iter().map(|p| p.style.weight.max(1)));
        let town_weights = cumulative(TOWNS.iter().map(|t| t.weight));
        let homestay_weights = cumulative(TOWNS.iter().map(|t| t.homestay_weight));
        // Serials start at a plausible offset per licence type, as if numbering began years ago.
        let serials = (0..profiles.len())
            .map(|_| {
                let base = rng.random_range(20..3_000);
                [base; DISTRICTS.len()]
            })
            .collect();
        let code_key = rng.random::<u64>();
        Ok(Generator {
            options: options.clone(),
            rng,
            sequences: Sequences::new(plans.len()),
            plans,
            plan_weights,
            town_weights,
            homestay_weights,
            profiles,
            serials,
            clock: Clock::new(options.as_of, options.permits),
            queue: BinaryHeap::new(),
            scheduled: 0,
            delay_max: (options.permits / 4).clamp(1, FOLLOW_UP_DELAY_MAX),
            code_key,
            buffer: Vec::with_capacity(OUTPUT_CHUNK_BYTES + 16 * 1024),
            out,
            stats: GenStats::default(),
        })
    }

    /// Writes permit `ordinal` (0-based), after the follow-ups due before it.
    fn permit(&mut self, ordinal: u64) -> io::Result<()> {
        let position = self.clock.position(ordinal);
        while self.queue.peek().is_some_and(|s| s.due <= ordinal) {
            let scheduled = self.queue.pop().expect("peeked");
            let at = self.clock.stamp(self.clock.instant(position));
            self.follow_up(scheduled.action, at)?;
        }

        let plan_index = self.draw_plan()?;
        let (district, sequence) = self
            .sequences
            .take(plan_index)
            .expect("draw_plan picks a category with room");
        let category = self.plans[plan_index].category;
        let number = PermitNumber::new(DISTRICTS[district].code, category, sequence)
            .expect("Beijing division, catalogue category, 1..=99999");
        let jitter = self.rng.random_range(0..self.clock.gap);
        let at = self.clock.stamp(self.clock.instant(position + jitter));
        let issued_on = at.date_in_beijing();

        let location = self.draw_location(plan_index, district);
        let form = self.draw_form(plan_index);
        let origin = Origin {
            plan: plan_index,
            location,
            form,
        };
        let mut legal_representative = String::with_capacity(12);
        let surname = names::write_person_name(&mut self.rng, &mut legal_representative);
        let mut operator_name = String::with_capacity(64);
        self.write_operator_name(&mut operator_name, origin, surname);
        let mut premises = String::with_capacity(96);
        self.write_premises(&mut premises, plan_index, location);
        let uscc = self.credit_code(ordinal, form, DISTRICTS[district].code);

        let fate = self.draw_fate();
        let established = self.rng.random_bool(0.35);
        let mut licences = self.choose_licences(plan_index, origin, issued_on, established);
        let fate = match fate {
            Fate::Partial | Fate::PartialCompleted => {
                if self.leave_one_out(plan_index, &mut licences) {
                    fate
                } else {
                    Fate::Plain
                }
            }
            other => other,
        };
        let commitment = self.rng.random_bool(SHARE_COMMITMENT);
        let mut pending_commitment = None;
        if commitment {
            pending_commitment = self.grant_on_commitment(&mut licences);
        }
        if fate == Fate::ExpiredByDate {
            self.expire_one(&mut licences, issued_on);
        } else if self.rng.random_bool(SHARE_EXPIRING) {
            self.expiring_one(&mut licences, issued_on);
        }

        let permit = Permit {
            number,
            version: 1,
            operator_name,
            uscc,
            legal_representative,
            premises,
            issuing_authority: DISTRICTS[district].authority.to_owned(),
            issued_on,
            licences,
            status: PermitStatus::Active,
            superseded_versions: Vec::new(),
            sequence: 0,
            seal: None,
        };
        let change = self.emit(at, ISSUING_DEPARTMENT, Change::PermitIssued { permit })?;
        let Change::PermitIssued { permit } = change else {
            unreachable!("emit hands back its change")
        };

        match fate {
            Fate::Plain | Fate::Partial | Fate::ExpiredByDate => {
                if let Some(index) = pending_commitment {
                    if self.rng.random_bool(0.4) {
                        let licence_type = permit.licences[index].licence_type;
                        self.schedule(
                            ordinal,
                            Action::StateChange {
                                number,
                                licence_type,
                                action: LicenceAction::CommitmentVerified,
                                reason: "告知承诺核查通过",
                            },
                        );
                    }
                }
            }
            Fate::VoidByEvent => {
                let action = self.voiding(&permit, pending_commitment);
                self.schedule(ordinal, action);
            }
            Fate::Suspended => {
                // Only a licence in force without a pending commitment check is suspended
                // (a pending one is checked first); a permit with none is left as it is.
                let valid: Vec<usize> = (0..permit.licences.len())
                    .filter(|&i| permit.licences[i].state == LicenceState::Valid)
                    .collect();
                let Some(&index) = valid.get(self.rng.random_range(0..valid.len().max(1))) else {
                    self.stats.permits += 1;
                    return Ok(());
                };
                const REASONS: [&str; 3] = [
                    "责令停业整顿",
                    "检查不合格，责令暂停经营整改",
                    "暂停营业，限期整改",
                ];
                let reason = REASONS[self.rng.random_range(0..REASONS.len())];
                self.schedule(
                    ordinal,
                    Action::StateChange {
                        number,
                        licence_type: permit.licences[index].licence_type,
                        action: LicenceAction::Suspended,
                        reason,
                    },
                );
            }
            Fate::PartialCompleted | Fate::FaceChange => {
                let again = fate == Fate::FaceChange && self.rng.random_bool(0.25);
                self.schedule(
                    ordinal,
                    Action::Reissue {
                        permit: Box::new(permit),
                        origin,
                        completion: fate == Fate::PartialCompleted,
                        again,
                    },
                );
            }
        }
        self.stats.permits += 1;
        Ok(())
    }

    /// Writes the follow-ups still waiting, then flushes.
    fn finish(&mut self) -> io::Result<()> {
        let end = self
            .clock
            .instant(self.clock.position(self.options.permits));
        while let Some(scheduled) = self.queue.pop() {
            let at = self.clock.stamp(end);
            self.follow_up(scheduled.action, at)?;
        }
        self.out.write_all(&self.buffer)?;
        self.buffer.clear();
        self.out.flush()
    }

    fn schedule(&mut self, ordinal: u64, action: Action) {
        let room = self.options.permits - 1 - ordinal;
        let due = if room == 0 {
            self.options.permits // after the last permit: written by `finish`
        } else {
            ordinal + 1 + self.rng.random_range(0..room.min(self.delay_max))
        };
        self.scheduled += 1;
        self.queue.push(Scheduled {
            due,
            order: self.scheduled,
            action,
        });
        // One follow-up per permit at a time, each due within `delay_max` of being scheduled, and
        // a chain of at most two: no more than twice `delay_max` wait.
        debug_assert!(self.queue.len() as u64 <= 2 * self.delay_max + 1);
    }

    fn follow_up(&mut self, action: Action, at: Timestamp) -> io::Result<()> {
        match action {
            Action::StateChange {
                number,
                licence_type,
                action,
                reason,
            } => {
                let department = self.profiles[usize::from(licence_type.0)]
                    .as_ref()
                    .map_or(ISSUING_DEPARTMENT, |p| p.department.as_str())
                    .to_owned();
                let on = at.date_in_beijing();
                let change = Change::LicenceStateChanged {
                    number,
                    licence_type,
                    action,
                    reason: Some(reason.to_owned()),
                    on,
                    grant: None,
                };
                self.emit_owned(at, department, change)?;
                self.stats.licence_state_changes += 1;
            }
            Action::Reissue {
                mut permit,
                origin,
                completion,
                again,
            } => {
                let on = at.date_in_beijing();
                permit.version += 1;
                permit.issued_on = on;
                if completion {
                    self.complete(&mut permit, origin, on);
                } else {
                    self.change_face(&mut permit, origin, on);
                }
                let change = self.emit(
                    at,
                    ISSUING_DEPARTMENT,
                    Change::PermitReissued { permit: *permit },
                )?;
                self.stats.reissues += 1;
                if again {
                    let Change::PermitReissued { permit } = change else {
                        unreachable!()
                    };
                    // Scheduled from the current position (follow-ups are written just before the
                    // permit they are due at, whose ordinal is the count of permits done).
                    let ordinal = self.stats.permits.min(self.options.permits - 1);
                    self.schedule(
                        ordinal,
                        Action::Reissue {
                            permit: Box::new(permit),
                            origin,
                            completion: false,
                            again: false,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    fn emit(&mut self, at: Timestamp, department: &str, change: Change) -> io::Result<Change> {
        self.emit_owned(at, department.to_owned(), change)
    }

    fn emit_owned(
        &mut self,
        at: Timestamp,
        department: String,
        change: Change,
    ) -> io::Result<Change> {
        self.stats.events += 1;
        let mut id = String::with_capacity(32);
        let _ = write!(id, "gen-{}-{}", self.options.seed, self.stats.events);
        let event = Event {
            schema: SCHEMA_VERSION,
            id,
            at,
            department,
            change,
        };
        let start = self.buffer.len();
        serde_json::to_writer(&mut self.buffer, &event).map_err(io::Error::other)?;
        self.buffer.push(b'\n');
        self.stats.bytes += (self.buffer.len() - start) as u64;
        if self.buffer.len() >= OUTPUT_CHUNK_BYTES {
            self.out.write_all(&self.buffer)?;
            self.buffer.clear();
        }
        Ok(event.change)
    }

    // -- drawing the parts of a permit --------------------------------------------------------

    fn draw_plan(&mut self) -> io::Result<usize> {
        let mut index = draw_weighted(&mut self.rng, &self.plan_weights);
        for _ in 0..self.plans.len() {
            if self.sequences.has_room(index) {
                return Ok(index);
            }
            index = (index + 1) % self.plans.len();
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "every category's sequences are used up in all 16 Beijing districts",
        ))
    }

    fn draw_location(&mut self, plan: usize, district: usize) -> Location {
        if district != 0 {
            let count = DISTRICTS[district].sub_districts.len().max(1);
            return Location {
                district,
                town: self.rng.random_range(0..count),
            };
        }
        let weights = if self.plans[plan].category == 19 {
            &self.homestay_weights
        } else {
            &self.town_weights
        };
        Location {
            district,
            town: draw_weighted(&mut self.rng, weights),
        }
    }

    fn draw_form(&mut self, plan: usize) -> Form {
        let style = self.plans[plan].style;
        let u = self.rng.random::<f64>();
        let mut bound = style.non_enterprise_share;
        if u < bound {
            return Form::NonEnterprise;
        }
        bound += style.cooperative_share;
        if u < bound {
            return Form::Cooperative;
        }
        bound += style.individual_share;
        if u < bound {
            return Form::Individual;
        }
        let v = self.rng.random::<f64>();
        if v < style.chain_share {
            Form::ChainBranch
        } else if v < style.chain_share + 0.25 {
            Form::OlderCompany
        } else {
            Form::Company
        }
    }

    fn draw_fate(&mut self) -> Fate {
        let u = self.rng.random::<f64>();
        let fates = [
            (SHARE_VOID_BY_EVENT, Fate::VoidByEvent),
            (SHARE_EXPIRED_BY_DATE, Fate::ExpiredByDate),
            (SHARE_SUSPENDED, Fate::Suspended),
            (SHARE_PARTIAL, Fate::Partial),
            (SHARE_PARTIAL_COMPLETED, Fate::PartialCompleted),
            (SHARE_FACE_CHANGE, Fate::FaceChange),
        ];
        let mut bound = 0.0;
        for (share, fate) in fates {
            bound += share;
            if u < bound {
                return fate;
            }
        }
        Fate::Plain
    }

    /// The short place word business names use: `良乡`, `燕山`, or the district's `朝阳`.
    fn area(&self, location: Location) -> &'static str {
        if location.district == 0 {
            TOWNS[location.town].short
        } else {
            DISTRICTS[location.district].short
        }
    }

    fn write_operator_name(&mut self, out: &mut String, origin: Origin, surname: &str) {
        let style = self.plans[origin.plan].style;
        let category = self.plans[origin.plan].category;
        let location = origin.location;
        let district = &DISTRICTS[location.district];
        let area = self.area(location);
        let pick =
            |rng: &mut ChaCha8Rng, list: &[&'static str]| list[rng.random_range(0..list.len())];
        match origin.form {
            Form::Company | Form::OlderCompany => {
                out.push_str("北京");
                if self.rng.random_bool(0.25) {
                    // 北京燕山鑫盛大药房有限公司, 北京房山福源餐饮有限公司
                    out.push_str(if self.rng.random_bool(0.5) {
                        district.short
                    } else {
                        area
                    });
                }
                names::write_trade_name(&mut self.rng, out);
                out.push_str(pick(&mut self.rng, style.company_nouns));
            }
            Form::ChainBranch => {
                // 北京鑫盛便利店有限公司良乡店
                out.push_str("北京");
                names::write_trade_name(&mut self.rng, out);
                out.push_str(pick(&mut self.rng, style.company_nouns));
                match self.rng.random_range(0..20) {
                    0..12 => {
                        out.push_str(area);
                        out.push('店');
                    }
                    12..17 => {
                        out.push_str(area);
                        out.push_str("分店");
                    }
                    _ => {
                        out.push_str(district.short);
                        out.push_str("分公司");
                    }
                }
            }
            Form::Individual => {
                // 北京房山良乡张记餐饮店, 房山区长阳镇鑫盛便利店, 北京市房山区老王家常菜馆
                match self.rng.random_range(0..20) {
                    0..6 => {
                        out.push_str("北京市");
                        out.push_str(district.name);
                    }
                    6..13 => {
                        out.push_str(district.name);
                        if location.district == 0 {
                            out.push_str(TOWNS[location.town].name);
                        } else if let Some(sub) = district.sub_districts.get(location.town) {
                            out.push_str(sub);
                        }
                    }
                    _ => {
                        out.push_str("北京");
                        if area != district.short {
                            if area != "燕山" {
                                out.push_str(district.short);
                            }
                            out.push_str(area);
                        } else {
                            out.push_str(district.short);
                        }
                    }
                }
                match self.rng.random_range(0..20) {
                    0..12 => names::write_trade_name(&mut self.rng, out),
                    12..17 => {
                        out.push_str(surname);
                        out.push('记');
                    }
                    _ => {
                        out.push('老');
                        out.push_str(surname);
                    }
                }
                out.push_str(pick(&mut self.rng, style.shop_nouns));
            }
            Form::Cooperative => {
                out.push_str("北京");
                out.push_str(area);
                names::write_trade_name(&mut self.rng, out);
                out.push_str(industries::cooperative_noun(category));
            }
            Form::NonEnterprise => {
                out.push_str("北京市");
                out.push_str(district.name);
                names::write_trade_name(&mut self.rng, out);
                out.push_str(industries::non_enterprise_noun(category));
            }
        }
    }

    fn write_premises(&mut self, out: &mut String, plan: usize, location: Location) {
        let detail = match self.rng.random_range(0..20) {
            0..6 => PremisesDetail::None,
            6..11 => PremisesDetail::GroundFloorShop,
            11..14 => PremisesDetail::CourtyardBuilding,
            14..17 => PremisesDetail::FloorRoom,
            17..19 => PremisesDetail::Storefront,
            _ => PremisesDetail::Block,
        };
        let homestay = self.plans[plan].category == 19;
        let town = &TOWNS[location.town];
        let rural = match town.kind {
            TownKind::Township => true,
            TownKind::Town => homestay || self.rng.random_bool(0.15),
            TownKind::SubDistrict => false,
        };
        let draw = PremisesDraw {
            road_or_village: self.rng.random_range(0..16),
            rural,
            number: if rural {
                self.rng.random_range(1..300)
            } else {
                self.rng.random_range(1..120)
            },
            detail,
            building: self.rng.random_range(1..30),
            floor: self.rng.random_range(1..6),
            room: self.rng.random_range(1..30),
        };
        if location.district == 0 {
            places::write_premises(out, town, &draw);
        } else {
            let draw = PremisesDraw {
                road_or_village: location.town,
                ..draw
            };
            places::write_other_district_premises(out, &DISTRICTS[location.district], &draw);
        }
    }

    /// A credit code unique to permit `ordinal`: the organisation code body is a keyed
    /// permutation of the ordinal within its form's code space.
    fn credit_code(&self, ordinal: u64, form: Form, division: u32) -> Uscc {
        let (department, kind) = match form {
            Form::Company | Form::OlderCompany | Form::ChainBranch => (b'9', b'1'),
            Form::Individual => (b'9', b'2'),
            Form::Cooperative => (b'9', b'3'),
            Form::NonEnterprise => (b'5', b'2'),
        };
        let mut organisation = [0u8; 8];
        if form == Form::OlderCompany {
            // Eight digits: 10^8 codes, walked over 2^27.
            let mut value = permute(ordinal, 100_000_000, 27, self.code_key ^ 0x5EED_0001);
            for slot in organisation.iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        } else {
            // `MA` / `MJ` + six alphabet characters: 31^6 codes, walked over 2^30.
            organisation[0] = b'M';
            organisation[1] = if form == Form::NonEnterprise {
                b'J'
            } else {
                b'A'
            };
            let mut value = permute(ordinal, 887_503_681, 30, self.code_key);
            for slot in organisation[2..].iter_mut().rev() {
                *slot = USCC_ALPHABET[(value % 31) as usize];
                value /= 31;
            }
        }
        let check = organisation_code_check(&organisation).expect("0-9A-Z only");
        let mut body = [0u8; 17];
        body[0] = department;
        body[1] = kind;
        write_decimal(&mut body[2..8], division);
        body[8..16].copy_from_slice(&organisation);
        body[16] = check;
        Uscc::from_body(&body).expect("every byte is in the USCC alphabet")
    }

    // -- licences -----------------------------------------------------------------------------

    fn kind(&self, id: LicenceTypeId) -> LicenceKind {
        self.profiles[usize::from(id.0)]
            .as_ref()
            .map_or(LicenceKind::Other, |p| p.kind)
    }

    /// The licences the catalogue's rules give a permit of `plan`, all granted, in printed order.
    fn choose_licences(
        &mut self,
        plan_index: usize,
        origin: Origin,
        issued_on: Date,
        established: bool,
    ) -> Vec<Licence> {
        let mut chosen: Vec<LicenceTypeId> = Vec::with_capacity(6);
        let plan = &self.plans[plan_index];
        for requirement in &plan.requirements {
            let take = requirement.must || self.rng.random_bool(requirement.include);
            if !take {
                continue;
            }
            match requirement.choice {
                Choice::Single => chosen.push(requirement.options[0]),
                Choice::AtLeastOne => {
                    let count = requirement.options.len();
                    let first = self.rng.random_range(0..count);
                    chosen.push(requirement.options[first]);
                    if count > 1 && self.rng.random_bool(0.3) {
                        let mut second = self.rng.random_range(0..count - 1);
                        if second >= first {
                            second += 1;
                        }
                        chosen.push(requirement.options[second]);
                    }
                }
                Choice::ExactlyOne => {
                    let index = pick_alternative(&mut self.rng, requirement, plan.small_scale);
                    chosen.push(requirement.options[index]);
                }
            }
        }
        if chosen.is_empty() {
            // An industry of as-needed items only (健身房, 超市/便利店…): a permit lists at least
            // the item it is likeliest to need.
            let requirement = plan
                .requirements
                .iter()
                .max_by(|a, b| a.include.total_cmp(&b.include))
                .expect("validated: every industry has requirements");
            let index = if requirement.choice == Choice::ExactlyOne {
                pick_alternative(&mut self.rng, requirement, plan.small_scale)
            } else {
                0
            };
            chosen.push(requirement.options[index]);
        }
        sort_printed(&self.plans[plan_index], &mut chosen);
        chosen.dedup();
        chosen
            .into_iter()
            .map(|id| {
                let granted = self.granted_on(id, issued_on, established);
                self.grant(id, origin, granted)
            })
            .collect()
    }

    /// When a licence of type `id` held by a permit issued on `issued_on` was granted: just before
    /// the permit for a new business, up to four years earlier for an `established` one, renewed
    /// on its anniversary when its term would otherwise end before `as_of` + 60 days.
    fn granted_on(&mut self, id: LicenceTypeId, issued_on: Date, established: bool) -> Date {
        let years = self.kind(id).validity_years();
        let mut from = if established && self.rng.random_bool(0.8) {
            let earliest = match years {
                Some(y) => (4 * 365).min(365 * i32::from(y) - 30),
                None => 4 * 365,
            };
            issued_on.add_days(-self.rng.random_range(30..earliest.max(31)))
        } else {
            issued_on.add_days(-self.rng.random_range(0..16))
        };
        if let Some(y) = years {
            from = self.renewed(from, y);
        }
        from
    }

    /// The start of the term in force at `as_of` of a licence first granted on `from` for terms
    /// of `years`: renewed on each anniversary that falls before `as_of`, or shortly before
    /// `as_of` when the term would otherwise end within 60 days (renewals are applied for
    /// ahead of expiry). The result's last day is always after `as_of` + 60 days.
    fn renewed(&mut self, mut from: Date, years: u8) -> Date {
        let as_of = self.options.as_of;
        let horizon = as_of.add_days(EXPIRING_WITHIN_DAYS);
        while last_day(from, years) <= horizon {
            let next = add_years(from, i32::from(years));
            from = if next < as_of {
                next
            } else {
                as_of.add_days(-self.rng.random_range(1..=30))
            };
        }
        from
    }

    /// A granted licence of type `id` valid from `from`, with a fresh certificate number.
    fn grant(&mut self, id: LicenceTypeId, origin: Origin, from: Date) -> Licence {
        let kind = self.kind(id);
        let category = self.plans[origin.plan].category;
        let district = origin.location.district;
        let serial = {
            let counter = &mut self.serials[usize::from(id.0)][district];
            *counter += 1;
            *counter
        };
        let variant = NumberVariant {
            food_subject: industries::food_subject(category),
            chain_store: origin.form == Form::ChainBranch,
            passenger: category == 38,
        };
        let mut number = String::with_capacity(48);
        licences::write_certificate_number(
            &mut number,
            kind,
            id,
            &DISTRICTS[district],
            from.ymd().0,
            serial,
            variant,
        );
        Licence {
            licence_type: id,
            certificate_number: Some(number),
            state: LicenceState::Valid,
            on_commitment: false,
            valid_from: Some(from),
            valid_until: kind.validity_years().map(|y| last_day(from, y)),
            state_reason: None,
            state_changed_on: None,
        }
    }

    /// Lists one item as not granted (未许可): preferably an as-needed item the permit did not
    /// take, else one it took, as long as a granted licence remains. Returns whether it could.
    fn leave_one_out(&mut self, plan_index: usize, licences: &mut Vec<Licence>) -> bool {
        let absent = self.absent_requirements(plan_index, licences);
        if !absent.is_empty() {
            let requirement = &self.plans[plan_index].requirements
                [absent[self.rng.random_range(0..absent.len())]];
            let index = if requirement.choice == Choice::ExactlyOne {
                pick_alternative(
                    &mut self.rng,
                    requirement,
                    self.plans[plan_index].small_scale,
                )
            } else {
                self.rng.random_range(0..requirement.options.len())
            };
            let id = requirement.options[index];
            licences.push(not_granted(id));
            self.sort_licences(plan_index, licences);
            return true;
        }
        if licences.len() < 2 {
            return false;
        }
        // Every requirement is met: leave out an as-needed one, or the second of a set.
        let optional: Vec<usize> = licences
            .iter()
            .enumerate()
            .filter(|(_, l)| self.is_optional(plan_index, l.licence_type, licences))
            .map(|(i, _)| i)
            .collect();
        if optional.is_empty() {
            return false;
        }
        let index = optional[self.rng.random_range(0..optional.len())];
        licences[index] = not_granted(licences[index].licence_type);
        true
    }

    /// Whether listing `id` as not granted keeps a mandatory requirement met by a granted licence
    /// (as-needed items always; a member of a mandatory set when another member is listed).
    fn is_optional(&self, plan_index: usize, id: LicenceTypeId, licences: &[Licence]) -> bool {
        let plan = &self.plans[plan_index];
        let Some(requirement) = plan.requirements.iter().find(|r| r.options.contains(&id)) else {
            return false;
        };
        if !requirement.must {
            return true;
        }
        requirement.choice == Choice::AtLeastOne
            && licences
                .iter()
                .any(|l| l.licence_type != id && requirement.options.contains(&l.licence_type))
    }

    /// Indices of the as-needed requirements none of whose licences the permit lists.
    fn absent_requirements(&self, plan_index: usize, licences: &[Licence]) -> Vec<usize> {
        self.plans[plan_index]
            .requirements
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                !r.must
                    && !r
                        .options
                        .iter()
                        .any(|id| licences.iter().any(|l| l.licence_type == *id))
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn sort_licences(&self, plan_index: usize, licences: &mut [Licence]) {
        let plan = &self.plans[plan_index];
        licences.sort_by_key(|l| printed_rank(plan, l.licence_type));
    }

    /// Marks one commitment-eligible granted licence as granted on commitment: already checked
    /// (valid) or still pending. Returns the index of a pending one.
    fn grant_on_commitment(&mut self, licences: &mut [Licence]) -> Option<usize> {
        let eligible: Vec<usize> = licences
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.state == LicenceState::Valid && self.kind(l.licence_type).commitment_eligible()
            })
            .map(|(i, _)| i)
            .collect();
        if eligible.is_empty() {
            return None;
        }
        let index = eligible[self.rng.random_range(0..eligible.len())];
        let licence = &mut licences[index];
        licence.on_commitment = true;
        if self.rng.random_bool(0.6) {
            licence.state = LicenceState::PendingCommitment;
            Some(index)
        } else {
            None
        }
    }

    /// Gives one licence with an end date a last day between `as_of` and 60 days on.
    fn expiring_one(&mut self, licences: &mut [Licence], issued_on: Date) {
        let as_of = self.options.as_of;
        let low = as_of;
        let high = as_of.add_days(EXPIRING_WITHIN_DAYS - 1);
        self.set_last_day(licences, issued_on, low, high);
    }

    /// Gives one licence with an end date a last day before `as_of` (and not before the issue).
    fn expire_one(&mut self, licences: &mut [Licence], issued_on: Date) {
        let high = self.options.as_of.add_days(-1);
        let low = high.add_days(-120).max(issued_on);
        self.set_last_day(licences, issued_on, low, high);
    }

    /// Sets the last day of one granted licence with an end date to a day in `low..=high` such
    /// that its term began on or before `issued_on` (no licence from the future on the permit).
    fn set_last_day(&mut self, licences: &mut [Licence], issued_on: Date, low: Date, high: Date) {
        let candidates: Vec<(usize, u8)> = licences
            .iter()
            .enumerate()
            .filter(|(_, l)| l.state != LicenceState::NotGranted)
            .filter_map(|(i, l)| self.kind(l.licence_type).validity_years().map(|y| (i, y)))
            .filter(|&(_, y)| low <= last_day(issued_on, y))
            .collect();
        if candidates.is_empty() || low > high {
            return;
        }
        let (index, years) = candidates[self.rng.random_range(0..candidates.len())];
        let high = high.min(last_day(issued_on, years));
        let span = high.days_since_epoch() - low.days_since_epoch();
        let until = low.add_days(self.rng.random_range(0..=span));
        let from = add_years(until.add_days(1), -i32::from(years));
        let licence = &mut licences[index];
        licence.valid_from = Some(from);
        licence.valid_until = Some(until);
    }

    fn pick_granted(&mut self, licences: &[Licence]) -> usize {
        let granted: Vec<usize> = licences
            .iter()
            .enumerate()
            .filter(|(_, l)| l.state != LicenceState::NotGranted)
            .map(|(i, _)| i)
            .collect();
        if granted.is_empty() {
            return 0;
        }
        granted[self.rng.random_range(0..granted.len())]
    }

    /// The department's act that voids `permit`: cancelled, revoked (a failed commitment check
    /// among them), withdrawn or lapsed, with its reason.
    fn voiding(&mut self, permit: &Permit, pending_commitment: Option<usize>) -> Action {
        let number = permit.number;
        if let Some(index) = pending_commitment {
            if self.rng.random_bool(0.4) {
                return Action::StateChange {
                    number,
                    licence_type: permit.licences[index].licence_type,
                    action: LicenceAction::CommitmentFailed,
                    reason: "告知承诺核查不符，依法撤销",
                };
            }
        }
        let index = self.pick_granted(&permit.licences);
        let licence_type = permit.licences[index].licence_type;
        let kind = self.kind(licence_type);
        let pick =
            |rng: &mut ChaCha8Rng, list: &[&'static str]| list[rng.random_range(0..list.len())];
        let (action, reason) = match self.rng.random_range(0..100) {
            0..45 => (
                LicenceAction::Cancelled,
                pick(
                    &mut self.rng,
                    &[
                        "经营者申请注销",
                        "停止经营，申请注销",
                        "营业执照已注销，依申请注销许可",
                        "经营场所变更，申请注销原许可",
                    ],
                ),
            ),
            45..70 => (
                LicenceAction::Lapsed,
                pick(
                    &mut self.rng,
                    &[
                        "经营主体注销，许可失效",
                        "经营场所灭失，许可失效",
                        "主体资格终止，许可失效",
                    ],
                ),
            ),
            70..85 => (
                LicenceAction::Revoked,
                pick(
                    &mut self.rng,
                    &[
                        "申请材料不实，依法撤销",
                        "许可条件发生变化，依法撤销",
                        "以欺骗手段取得许可，依法撤销",
                    ],
                ),
            ),
            _ if kind.can_be_withdrawn() => (LicenceAction::Withdrawn, kind.withdrawal_reason()),
            _ => (LicenceAction::Cancelled, "经营者申请注销"),
        };
        Action::StateChange {
            number,
            licence_type,
            action,
            reason,
        }
    }

    /// Grants the item a partial permit listed as not granted.
    fn complete(&mut self, permit: &mut Permit, origin: Origin, on: Date) {
        let Some(index) = permit
            .licences
            .iter()
            .position(|l| l.state == LicenceState::NotGranted)
        else {
            return self.change_face(permit, origin, on);
        };
        let id = permit.licences[index].licence_type;
        let from = self.recent_grant(id, on);
        let mut licence = self.grant(id, origin, from);
        if self.kind(id).commitment_eligible() && self.rng.random_bool(0.3) {
            licence.on_commitment = true;
            licence.state = LicenceState::PendingCommitment;
        }
        permit.licences[index] = licence;
    }

    /// A change of something printed on the face: legal representative, premises, operator
    /// name, or a newly granted as-needed item.
    fn change_face(&mut self, permit: &mut Permit, origin: Origin, on: Date) {
        match self.rng.random_range(0..20) {
            0..8 => self.new_representative(permit),
            8..13 => {
                permit.premises.clear();
                let mut premises = std::mem::take(&mut permit.premises);
                self.write_premises(&mut premises, origin.plan, origin.location);
                permit.premises = premises;
            }
            13..16 => {
                let surname = permit
                    .legal_representative
                    .chars()
                    .next()
                    .map(String::from)
                    .unwrap_or_default();
                let mut name = String::with_capacity(64);
                self.write_operator_name(&mut name, origin, &surname);
                permit.operator_name = name;
            }
            _ => {
                let absent = self.absent_requirements(origin.plan, &permit.licences);
                if absent.is_empty() {
                    return self.new_representative(permit);
                }
                let plan = &self.plans[origin.plan];
                let requirement =
                    &plan.requirements[absent[self.rng.random_range(0..absent.len())]];
                let index = if requirement.choice == Choice::ExactlyOne {
                    pick_alternative(&mut self.rng, requirement, plan.small_scale)
                } else {
                    0
                };
                let id = requirement.options[index];
                let from = self.recent_grant(id, on);
                let licence = self.grant(id, origin, from);
                permit.licences.push(licence);
                self.sort_licences(origin.plan, &mut permit.licences);
            }
        }
    }

    /// The grant date of a licence granted for a reissue on `on`: a few days before it.
    fn recent_grant(&mut self, id: LicenceTypeId, on: Date) -> Date {
        let from = on.add_days(-self.rng.random_range(0..10));
        match self.kind(id).validity_years() {
            Some(years) => self.renewed(from, years),
            None => from,
        }
    }

    fn new_representative(&mut self, permit: &mut Permit) {
        permit.legal_representative.clear();
        let mut name = std::mem::take(&mut permit.legal_representative);
        names::write_person_name(&mut self.rng, &mut name);
        permit.legal_representative = name;
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

fn not_granted(id: LicenceTypeId) -> Licence {
    Licence {
        licence_type: id,
        certificate_number: None,
        state: LicenceState::NotGranted,
        on_commitment: false,
        valid_from: None,
        valid_until: None,
        state_reason: None,
        state_changed_on: None,
    }
}

/// Position of `id` in the printed order of `plan`: requirement by requirement, as listed.
fn printed_rank(plan: &IndustryPlan, id: LicenceTypeId) -> usize {
    plan.requirements
        .iter()
        .flat_map(|r| r.options.iter())
        .position(|&o| o == id)
        .unwrap_or(usize::MAX)
}

fn sort_printed(plan: &IndustryPlan, ids: &mut [LicenceTypeId]) {
    ids.sort_by_key(|&id| printed_rank(plan, id));
}

/// Which of two alternatives a permit takes: the small-scale food licence with the industry's
/// chance when one of them is, else either.
fn pick_alternative(
    rng: &mut ChaCha8Rng,
    requirement: &RequirementPlan,
    small_scale: f64,
) -> usize {
    let count = requirement.options.len();
    match requirement.small_scale {
        Some(small) if count == 2 => {
            if rng.random_bool(small_scale) {
                small
            } else {
                1 - small
            }
        }
        _ => rng.random_range(0..count),
    }
}

fn cumulative(weights: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut sum = 0;
    weights
        .map(|w| {
            sum += w;
            sum
        })
        .collect()
}

/// An index drawn by the weights whose running sums are `cumulative` (total > 0).
fn draw_weighted(rng: &mut ChaCha8Rng, cumulative: &[u32]) -> usize {
    let total = *cumulative.last().expect("non-empty table");
    let r = rng.random_range(0..total);
    cumulative.partition_point(|&c| c <= r)
}

/// `date` moved by `years` calendar years; 29 February becomes 28 February in common years.
fn add_years(date: Date, years: i32) -> Date {
    let (y, m, d) = date.ymd();
    Date::from_ymd(y + years, m, d)
        .or_else(|| Date::from_ymd(y + years, m, d - 1))
        .unwrap_or(date)
}

/// The last day of a term of `years` starting on `from`: the day before the anniversary.
fn last_day(from: Date, years: u8) -> Date {
    add_years(from, i32::from(years)).add_days(-1)
}

fn write_decimal(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A keyed bijection of `[0, domain)` (`domain` ≤ 2^`bits`): a mixing permutation of the
/// `bits`-bit integers, cycle-walked until it lands inside the domain. Distinct inputs give
/// distinct outputs, so codes drawn from distinct ordinals never collide.
fn permute(value: u64, domain: u64, bits: u32, key: u64) -> u64 {
    debug_assert!(value < domain && domain <= 1 << bits);
    let mask = (1u64 << bits) - 1;
    let half = bits / 2;
    let mut x = value;
    loop {
        // Each step is a bijection on `bits`-bit integers: xor with a constant, multiplication by
        // an odd number modulo 2^bits, and an xor-shift to the right.
        x ^= key & mask;
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask;
        x ^= x >> half;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) & mask;
        x ^= x >> (half + 1);
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB) & mask;
        x ^= x >> half;
        if x < domain {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DerivedState;
    use crate::registry::{Applied, Registry};
    use std::collections::HashSet;
    use std::sync::OnceLock;

    const AS_OF: &str = "2026-06-15";
    const SAMPLE_PERMITS: u64 = 20_000;

    fn catalog() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Catalog::embedded().expect("embedded catalogue loads"))
    }

    fn as_of() -> Date {
        Date::parse(AS_OF).unwrap()
    }

    fn run(permits: u64, seed: u64) -> (Vec<u8>, GenStats) {
        let options = GenOptions {
            permits,
            seed,
            as_of: as_of(),
        };
        let mut out = Vec::new();
        let stats = generate(catalog(), &options, &mut out, &mut |_| {}).expect("generates");
        (out, stats)
    }

    /// The 20k-permit sample every share test reads, generated once.
    fn sample() -> &'static (Vec<u8>, GenStats) {
        static SAMPLE: OnceLock<(Vec<u8>, GenStats)> = OnceLock::new();
        SAMPLE.get_or_init(|| run(SAMPLE_PERMITS, 2026))
    }

    fn events(bytes: &[u8]) -> Vec<Event> {
        bytes
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).expect("every line is an event"))
            .collect()
    }

    /// The sample folded into a registry, asserting every event is accepted.
    fn registry() -> &'static Vec<Permit> {
        static PERMITS: OnceLock<Vec<Permit>> = OnceLock::new();
        PERMITS.get_or_init(|| {
            let mut registry = Registry::new(catalog());
            for event in events(&sample().0) {
                let id = event.id.clone();
                match registry.apply(event) {
                    Ok(Applied::Accepted { .. }) => {}
                    other => panic!("event {id}: {other:?}"),
                }
            }
            registry.into_sorted()
        })
    }

    #[test]
    fn same_inputs_give_the_same_bytes() {
        // Determinism: two runs with the same (permits, seed, as_of) are byte-identical; another
        // seed or another date gives other data.
        let (a, stats_a) = run(3_000, 7);
        let (b, stats_b) = run(3_000, 7);
        assert_eq!(stats_a, stats_b);
        assert!(a == b, "two runs differ");
        let (c, _) = run(3_000, 8);
        assert!(a != c, "seed does not matter");
        let options = GenOptions {
            permits: 3_000,
            seed: 7,
            as_of: as_of().add_days(1),
        };
        let mut d = Vec::new();
        generate(catalog(), &options, &mut d, &mut |_| {}).unwrap();
        assert!(a != d, "as_of does not matter");
        assert_eq!(stats_a.bytes, a.len() as u64);
    }

    #[test]
    fn every_event_is_accepted_by_the_registry() {
        // A 20k-permit run folds into the registry with zero rejections and no replays, leaving
        // exactly 20k permits; ids are unique and `at` never decreases.
        let permits = registry();
        assert_eq!(permits.len() as u64, SAMPLE_PERMITS);
        let (bytes, stats) = sample();
        let events = events(bytes);
        assert_eq!(events.len() as u64, stats.events);
        assert_eq!(
            stats.events,
            stats.permits + stats.reissues + stats.licence_state_changes
        );
        let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), events.len());
        for pair in events.windows(2) {
            assert!(
                pair[0].at <= pair[1].at,
                "{} after {}",
                pair[0].id,
                pair[1].id
            );
        }
        let window_start = Date::from_ymd(2023, 11, 1).unwrap();
        for event in &events {
            let day = event.at.date_in_beijing();
            assert!(
                window_start <= day && day < as_of(),
                "{} at {day}",
                event.id
            );
            if let Change::LicenceStateChanged { licence_type, .. } = &event.change {
                let department = &catalog().licence_type(*licence_type).unwrap().department;
                assert_eq!(&event.department, department);
            } else {
                assert_eq!(event.department, "区政务服务局");
            }
        }
    }

    #[test]
    fn shares_fall_in_their_bands() {
        // Partial, void, superseded, commitment and expiring permits come out near the module
        // doc's shares (derived with the state rules at as_of).
        let permits = registry();
        let n = permits.len() as f64;
        let (mut partial, mut void, mut void_by_date, mut superseded) = (0, 0, 0, 0);
        let (mut commitment, mut pending, mut expiring, mut suspended) = (0, 0, 0, 0);
        let horizon = as_of().add_days(EXPIRING_WITHIN_DAYS);
        for permit in permits {
            match permit.derived_state(None, as_of()) {
                DerivedState::Partial { .. } => partial += 1,
                DerivedState::Void(reason) => {
                    void += 1;
                    if matches!(
                        reason,
                        crate::domain::VoidReason::Licence { by_date: true, .. }
                    ) {
                        void_by_date += 1;
                    }
                }
                DerivedState::Valid => {}
                other => panic!("{}: {other:?}", permit.number),
            }
            if permit.version > 1 {
                superseded += 1;
                assert_eq!(permit.superseded_versions.len() as u32, permit.version - 1);
            }
            let licences = &permit.licences;
            if licences.iter().any(|l| l.on_commitment) {
                commitment += 1;
            }
            if licences
                .iter()
                .any(|l| l.state == LicenceState::PendingCommitment)
            {
                pending += 1;
            }
            if licences.iter().any(|l| l.state == LicenceState::Suspended) {
                suspended += 1;
            }
            if licences
                .iter()
                .any(|l| matches!(l.valid_until, Some(d) if as_of() <= d && d < horizon))
            {
                expiring += 1;
            }
        }
        let share = |count: i32| f64::from(count) / n;
        let bands = [
            ("partial", share(partial), 0.065, 0.10),
            ("void", share(void), 0.03, 0.05),
            ("void by date", share(void_by_date), 0.006, 0.014),
            ("superseded", share(superseded), 0.03, 0.05),
            ("commitment", share(commitment), 0.07, 0.13),
            ("pending commitment", share(pending), 0.02, 0.07),
            ("expiring", share(expiring), 0.035, 0.065),
            ("suspended", share(suspended), 0.002, 0.009),
        ];
        for (name, got, low, high) in bands {
            println!("{name}: {:.2} %", got * 100.0);
            assert!(
                (low..=high).contains(&got),
                "{name}: {got:.4} outside {low}..={high}"
            );
        }
    }

    #[test]
    fn numbers_and_credit_codes_are_valid_and_unique() {
        // Permit numbers and credit codes parse back (strictly, with the GB 11714 check) and no
        // two permits share a number, a credit code or a certificate number.
        let permits = registry();
        let mut numbers = HashSet::new();
        let mut codes = HashSet::new();
        let mut certificates = HashSet::new();
        for permit in permits {
            assert_eq!(
                PermitNumber::parse(permit.number.as_str()).unwrap(),
                permit.number
            );
            assert_eq!(
                permit.number.division(),
                110111,
                "20k permits fit in Fangshan"
            );
            assert!(numbers.insert(permit.number));
            let code = Uscc::parse_strict(permit.uscc.as_str()).unwrap();
            assert_eq!(code, permit.uscc);
            assert_eq!(code.division(), "110111");
            assert!(
                ["91", "92", "93", "52"].contains(&&code.as_str()[..2]),
                "{code}"
            );
            assert!(codes.insert(code));
            for licence in &permit.licences {
                if let Some(number) = &licence.certificate_number {
                    assert!(certificates.insert(number.clone()), "{number} twice");
                }
            }
        }
        // Per-category sequences start at 00001 and run without gaps.
        let mut by_category = std::collections::BTreeMap::<u8, Vec<u32>>::new();
        for permit in permits {
            by_category
                .entry(permit.number.category())
                .or_default()
                .push(permit.number.sequence());
        }
        for (category, mut sequences) in by_category {
            sequences.sort_unstable();
            let expected: Vec<u32> = (1..=sequences.len() as u32).collect();
            assert_eq!(sequences, expected, "category {category:02}");
        }
    }

    #[test]
    fn faces_read_like_fangshan() {
        // Fangshan numbers carry Fangshan premises (a real town or sub-district) and authority;
        // names and representatives are Chinese text; licences come in catalogue-printed order.
        for permit in registry() {
            assert!(
                permit.premises.starts_with("北京市房山区"),
                "{}",
                permit.premises
            );
            assert!(
                TOWNS.iter().any(|t| permit.premises.contains(t.name)),
                "{}",
                permit.premises
            );
            assert_eq!(permit.issuing_authority, "北京市房山区政务服务局");
            assert!(
                permit.operator_name.chars().count() >= 6,
                "{}",
                permit.operator_name
            );
            assert!((2..=3).contains(&permit.legal_representative.chars().count()));
            let industry = catalog().industry(permit.number.category()).unwrap();
            let order: Vec<usize> = permit
                .licences
                .iter()
                .map(|l| {
                    industry
                        .requirements
                        .iter()
                        .flat_map(|r| r.licences.iter())
                        .position(|&id| id == l.licence_type)
                        .unwrap()
                })
                .collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "{}: {order:?}",
                permit.number
            );
            assert!(permit
                .licences
                .iter()
                .any(|l| l.state != LicenceState::NotGranted));
        }
    }

    #[test]
    fn restaurants_and_shops_dominate_the_mix() {
        // The industry mix: restaurants are the most common, internet hospitals among the rarest;
        // tea houses, drink shops and cafés take the small-scale food licence more often than
        // restaurants do.
        let permits = registry();
        let count = |category: u8| {
            permits
                .iter()
                .filter(|p| p.number.category() == category)
                .count()
        };
        let restaurants = count(3);
        assert!(restaurants > count(5) && count(5) > count(2));
        assert!(restaurants * 100 / permits.len() >= 12);
        assert!(count(7) < 15 && count(38) < 20 && count(22) < 30);
        let small_share = |categories: &[u8]| {
            let chosen: Vec<&Permit> = permits
                .iter()
                .filter(|p| categories.contains(&p.number.category()))
                .collect();
            let small = chosen
                .iter()
                .filter(|p| {
                    p.licences.iter().any(|l| {
                        LicenceKind::from_name(
                            &catalog().licence_type(l.licence_type).unwrap().name,
                        ) == LicenceKind::SmallScaleFood
                    })
                })
                .count();
            small as f64 / chosen.len() as f64
        };
        assert!(small_share(&[18, 25, 31]) > small_share(&[3]) + 0.1);
    }

    #[test]
    fn sequences_spill_into_the_other_districts() {
        // After 99,999 numbers in Fangshan a category continues under 110101 东城, and so on
        // through the 16 districts; then it has no room left.
        let mut sequences = Sequences::new(1);
        for expected in 1..=SEQUENCE_MAX {
            assert_eq!(sequences.take(0), Some((0, expected)));
        }
        assert_eq!(sequences.take(0), Some((1, 1)));
        assert_eq!(DISTRICTS[1].code, 110101);
        sequences.next[0] = (DISTRICTS.len() - 1, SEQUENCE_MAX - 1);
        assert!(sequences.has_room(0));
        assert_eq!(sequences.take(0), Some((DISTRICTS.len() - 1, SEQUENCE_MAX)));
        assert!(!sequences.has_room(0));
        assert_eq!(sequences.take(0), None);
        // Every district code makes a valid permit number.
        for district in &DISTRICTS {
            PermitNumber::new(district.code, 40, SEQUENCE_MAX).unwrap();
        }
    }

    #[test]
    fn organisation_code_permutation_is_a_bijection() {
        // The keyed permutation behind credit codes maps 0..domain onto itself without collision.
        let domain = 1 << 16;
        let mut seen = vec![false; domain as usize];
        for value in 0..domain {
            let image = permute(value, domain, 17, 0xDEAD_BEEF);
            assert!(image < domain && !seen[image as usize]);
            seen[image as usize] = true;
        }
    }

    #[test]
    fn progress_is_reported_every_ten_thousand_and_at_the_end() {
        // on_progress sees 10k, 20k, then the final count; an empty run writes nothing.
        let options = GenOptions {
            permits: 25_000,
            seed: 1,
            as_of: as_of(),
        };
        let mut calls = Vec::new();
        generate(catalog(), &options, &mut io::sink(), &mut |done| {
            calls.push(done)
        })
        .unwrap();
        assert_eq!(calls, [10_000, 20_000, 25_000]);
        let (bytes, stats) = run(0, 1);
        assert!(bytes.is_empty());
        assert_eq!(stats, GenStats::default());
    }

    #[test]
    fn small_and_tight_windows_still_apply() {
        // Ten permits, and a thousand permits a week after the reform began (a window shorter
        // than the usual one), both fold into the registry without rejection.
        for (permits, as_of) in [(10, AS_OF), (1_000, "2023-11-08")] {
            let options = GenOptions {
                permits,
                seed: 3,
                as_of: Date::parse(as_of).unwrap(),
            };
            let mut out = Vec::new();
            generate(catalog(), &options, &mut out, &mut |_| {}).unwrap();
            let mut registry = Registry::new(catalog());
            for event in events(&out) {
                registry.apply(event).unwrap();
            }
            assert_eq!(registry.len() as u64, permits);
        }
    }
}
