//! The in-memory permit registry that change-feed events fold into.
//!
//! `permitd snapshot build` folds a feed file into a registry and writes it out as a snapshot;
//! the writer path (later) folds its change log the same way. [`Registry::apply`] validates each
//! event against the catalogue and the current state: a rejected event gets a reason and changes
//! nothing; an event whose id was already applied is a replay and changes nothing either.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::{Catalog, CoverageError, LicenceTypeId};
use crate::codes::PermitNumber;
use crate::domain::permit::SupersededVersion;
use crate::domain::{Licence, LicenceState, Permit, PermitStatus};
use crate::event::{Change, Event, SCHEMA_VERSION};
use crate::limits::{LICENCES_PER_PERMIT_MAX, SUPERSEDED_VERSIONS_MAX, TEXT_FIELD_BYTES_MAX};
use crate::snapshot::{Snapshot, SnapshotBytes};

/// Why an event was rejected. Each variant names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("schema version {got} is not supported (this build reads {SCHEMA_VERSION})")]
    Schema { got: u32 },
    #[error("event id is empty or longer than {TEXT_FIELD_BYTES_MAX} bytes")]
    EventId,
    #[error("the acting department is empty or longer than {TEXT_FIELD_BYTES_MAX} bytes")]
    Department,
    #[error("permit {number}: licence L{:02} is {} ({}): a {action} action does not apply", licence_type.0, state.code(), state.label_zh())]
    Transition {
        number: PermitNumber,
        licence_type: LicenceTypeId,
        action: &'static str,
        state: LicenceState,
    },
    #[error("permit {number}: licence L{:02} would end before it begins", licence_type.0)]
    Dates {
        number: PermitNumber,
        licence_type: LicenceTypeId,
    },
    #[error("permit {number} cannot be voided: {why}")]
    Status {
        number: PermitNumber,
        why: &'static str,
    },
    #[error("permit {0} is already issued")]
    AlreadyIssued(PermitNumber),
    #[error("permit {0} is not known")]
    UnknownPermit(PermitNumber),
    #[error("permit {number}: version {got} does not follow version {current}")]
    Version {
        number: PermitNumber,
        current: u32,
        got: u32,
    },
    #[error("permit {number}: category {category} is not in the catalogue")]
    Category { number: PermitNumber, category: u8 },
    #[error("permit {number}: {error}")]
    Coverage {
        number: PermitNumber,
        error: CoverageError,
    },
    #[error("permit {number}: licence type L{:02} is not covered by it", licence_type.0)]
    NotCovered {
        number: PermitNumber,
        licence_type: LicenceTypeId,
    },
    #[error("permit {number}: field {field} is empty or longer than {TEXT_FIELD_BYTES_MAX} bytes")]
    Field {
        number: PermitNumber,
        field: &'static str,
    },
    #[error("permit {number} covers no single licence: a comprehensive permit lists at least one")]
    NoLicences { number: PermitNumber },
    #[error("permit {number}: {count} licences exceed the limit of {LICENCES_PER_PERMIT_MAX}")]
    TooManyLicences { number: PermitNumber, count: usize },
    #[error("permit {number}: a new issue cannot carry a licence in state {state:?}")]
    IssueState {
        number: PermitNumber,
        state: LicenceState,
    },
    #[error("permit {number}: licence L{:02} is granted but has no certificate number", licence_type.0)]
    CertificateMissing {
        number: PermitNumber,
        licence_type: LicenceTypeId,
    },
    #[error("permit {0} is recovered (收回): no further changes are accepted")]
    Recovered(PermitNumber),
    #[error("permit {number} has been reissued {SUPERSEDED_VERSIONS_MAX} times, the most kept")]
    TooManyVersions { number: PermitNumber },
}

/// What [`Registry::apply`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Accepted and given this sequence number.
    Accepted { sequence: u64 },
    /// Its id was seen before: nothing changed.
    Replay,
}

/// Permits the registry starts from and does not hold itself: the snapshot a writer resumes
/// from. The registry keeps only what changed since (see [`Registry::changed`]).
pub trait PermitSource: Send + Sync {
    /// The permit `number`, deserialised.
    fn permit(&self, number: &PermitNumber) -> Option<Permit>;
    /// Whether the source holds `number` (no deserialising).
    fn contains(&self, number: &PermitNumber) -> bool;
    /// Whether an event whose id hashes to `id` was applied before the source was made.
    fn knows_event(&self, id: u128) -> bool;
    /// The sequence number of the last event the source covers.
    fn sequence(&self) -> u64;
    /// How many permits the source holds.
    fn permits(&self) -> u64;
}

impl<B: SnapshotBytes> PermitSource for Snapshot<B> {
    fn permit(&self, number: &PermitNumber) -> Option<Permit> {
        let archived = self.get(number)?;
        rkyv::deserialize::<Permit, rkyv::rancor::Error>(archived).ok()
    }

    fn contains(&self, number: &PermitNumber) -> bool {
        self.locate(number).is_some()
    }

    fn knows_event(&self, id: u128) -> bool {
        self.has_event_id(id)
    }

    fn sequence(&self) -> u64 {
        self.header().sequence
    }

    fn permits(&self) -> u64 {
        self.header().permits
    }
}

pub struct Registry<'c> {
    catalog: &'c Catalog,
    base: Option<Arc<dyn PermitSource>>,
    /// Permits in the order first issued (or first changed since `base`); `positions` maps a
    /// permit key to its place here. (A `Vec` plus an index holds 10M permits in less memory than
    /// a map of permits, and sorts in place for the snapshot.)
    permits: Vec<Permit>,
    positions: HashMap<u64, u32>,
    /// blake3 of each applied event id, truncated (16 bytes per event instead of the id text),
    /// with the sequence number it was given, so a rebase forgets those the new base covers.
    seen_event_ids: HashMap<u128, u64>,
    sequence: u64,
}

impl<'c> Registry<'c> {
    pub fn new(catalog: &'c Catalog) -> Registry<'c> {
        Registry::with_capacity(catalog, 0)
    }

    /// A registry with room for about `permits` permits (a hint: it grows past it).
    pub fn with_capacity(catalog: &'c Catalog, permits: usize) -> Registry<'c> {
        Registry {
            catalog,
            base: None,
            permits: Vec::with_capacity(permits),
            positions: HashMap::with_capacity(permits),
            seen_event_ids: HashMap::with_capacity(permits + permits / 8),
            sequence: 0,
        }
    }

    /// A registry that starts from `base` (a snapshot) and holds only what changes after it.
    pub fn on(catalog: &'c Catalog, base: Arc<dyn PermitSource>) -> Registry<'c> {
        let sequence = base.sequence();
        Registry {
            catalog,
            base: Some(base),
            permits: Vec::new(),
            positions: HashMap::new(),
            seen_event_ids: HashMap::new(),
            sequence,
        }
    }

    pub fn catalog(&self) -> &'c Catalog {
        self.catalog
    }

    /// The sequence number of the last accepted event (0 when none).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Permits held: the base's and those issued since.
    pub fn len(&self) -> usize {
        let base = self.base.as_ref().map_or(0, |b| b.permits() as usize);
        let added = match &self.base {
            None => self.permits.len(),
            Some(base) => self
                .permits
                .iter()
                .filter(|p| !base.contains(&p.number))
                .count(),
        };
        base + added
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The current state of `number`.
    pub fn get(&self, number: &PermitNumber) -> Option<Cow<'_, Permit>> {
        match self.positions.get(&number.key()) {
            Some(&i) => Some(Cow::Borrowed(&self.permits[i as usize])),
            None => self.base.as_ref()?.permit(number).map(Cow::Owned),
        }
    }

    /// A permit changed since the base, to seal it in place (the writer, after `apply`).
    pub fn changed_mut(&mut self, number: &PermitNumber) -> Option<&mut Permit> {
        let &position = self.positions.get(&number.key())?;
        self.permits.get_mut(position as usize)
    }

    /// Permits changed (or issued) since the base, in the order first changed; every permit
    /// when there is no base.
    pub fn changed(&self) -> &[Permit] {
        &self.permits
    }

    /// The id hashes of events applied since the base (all of them when there is no base).
    pub fn event_ids(&self) -> impl Iterator<Item = u128> + '_ {
        self.seen_event_ids.keys().copied()
    }

    /// Every permit, in permit-number order. Only for a registry without a base.
    pub fn into_sorted(self) -> Vec<Permit> {
        assert!(
            self.base.is_none(),
            "into_sorted of a registry with a base: use the base's permits too"
        );
        let mut permits = self.permits;
        permits.sort_unstable_by_key(|p| p.number.key());
        permits
    }

    /// The permits changed since the base and the ids of the events applied since, moved out.
    pub fn into_changes(self) -> (Vec<Permit>, Vec<u128>) {
        (self.permits, self.seen_event_ids.into_keys().collect())
    }

    /// Whether an event with this id was applied.
    pub fn knows_event(&self, id: u128) -> bool {
        self.seen_event_ids.contains_key(&id)
            || self.base.as_ref().is_some_and(|b| b.knows_event(id))
    }

    /// Puts back an event the writer accepted before (read from the change log): `permit` is
    /// the state it left, `sequence` its number. No validation: the log is trusted once its
    /// checksums hold; sequence numbers must follow on.
    ///
    /// # Errors
    /// When `sequence` is not the next one (a gap or a repeat in the log).
    pub fn restore(&mut self, sequence: u64, event_id: u128, permit: Permit) -> Result<(), String> {
        if sequence != self.sequence + 1 {
            return Err(format!(
                "change log record {sequence} does not follow sequence {}",
                self.sequence
            ));
        }
        self.seen_event_ids.insert(event_id, sequence);
        self.put(permit);
        self.sequence = sequence;
        Ok(())
    }

    /// Gives the next sequence number to a record that is not an event (the writer's seal
    /// notes): sequence numbers count change-log records.
    pub fn take_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// [`Registry::take_sequence`] for a record read back from the change log.
    ///
    /// # Errors
    /// When `sequence` is not the next one.
    pub fn restore_sequence(&mut self, sequence: u64) -> Result<(), String> {
        if sequence != self.sequence + 1 {
            return Err(format!(
                "change log record {sequence} does not follow sequence {}",
                self.sequence
            ));
        }
        self.sequence = sequence;
        Ok(())
    }

    /// Builds on `base` from now on (a new snapshot that covers what this registry held up to
    /// its sequence): forgets the permits and event ids it covers, keeps those after it.
    pub fn rebase(&mut self, base: Arc<dyn PermitSource>) {
        let covered = base.sequence();
        self.permits.retain(|p| p.sequence > covered);
        self.positions = self
            .permits
            .iter()
            .enumerate()
            .map(|(i, p)| (p.number.key(), i as u32))
            .collect();
        self.seen_event_ids
            .retain(|_, &mut sequence| sequence > covered);
        self.sequence = self.sequence.max(covered);
        self.base = Some(base);
    }

    /// Whether `number` changed since the base (its current state is held here).
    pub fn holds(&self, number: &PermitNumber) -> bool {
        self.positions.contains_key(&number.key())
    }

    /// The base the registry builds on.
    pub fn base(&self) -> Option<&Arc<dyn PermitSource>> {
        self.base.as_ref()
    }

    fn put(&mut self, permit: Permit) {
        match self.positions.get(&permit.number.key()) {
            Some(&i) => self.permits[i as usize] = permit,
            None => {
                let position = u32::try_from(self.permits.len()).expect("fewer than 2^32 permits");
                self.positions.insert(permit.number.key(), position);
                self.permits.push(permit);
            }
        }
    }

    /// Validates `event` and applies it.
    ///
    /// # Errors
    /// A [`Rejection`] naming what is wrong; the registry is then unchanged.
    pub fn apply(&mut self, event: Event) -> Result<Applied, Rejection> {
        if event.schema != SCHEMA_VERSION {
            return Err(Rejection::Schema { got: event.schema });
        }
        if event.id.is_empty() || event.id.len() > TEXT_FIELD_BYTES_MAX {
            return Err(Rejection::EventId);
        }
        if event.department.trim().is_empty() || event.department.len() > TEXT_FIELD_BYTES_MAX {
            return Err(Rejection::Department);
        }
        let id_hash = event_id_hash(&event.id);
        if self.knows_event(id_hash) {
            return Ok(Applied::Replay);
        }
        let sequence = self.sequence + 1;
        let mut next = self.next_state(event.change)?;
        next.sequence = sequence;
        // The new state keeps its version's signed code (not when the event issued a new
        // version: a grant of an unlicensed item does); the writer signs its attestation.
        let same_version = next
            .seal
            .as_ref()
            .and_then(|s| s.qr.as_ref())
            .is_some_and(|qr| crate::trust::seal::payload_version(qr) == Some(next.version));
        if same_version {
            if let Some(seal) = next.seal.as_mut() {
                seal.drop_attestation();
            }
        } else {
            next.seal = None;
        }
        self.put(next);
        self.seen_event_ids.insert(id_hash, sequence);
        self.sequence = sequence;
        Ok(Applied::Accepted { sequence })
    }

    /// The permit state `change` leads to, validated against the catalogue and the current
    /// state; nothing is changed here.
    fn next_state(&self, change: Change) -> Result<Permit, Rejection> {
        match change {
            Change::PermitIssued { permit } => {
                let issued = self.holds(&permit.number)
                    || self
                        .base
                        .as_ref()
                        .is_some_and(|b| b.contains(&permit.number));
                if issued {
                    return Err(Rejection::AlreadyIssued(permit.number));
                }
                if permit.version != 1 || !permit.superseded_versions.is_empty() {
                    return Err(Rejection::Version {
                        number: permit.number,
                        current: 0,
                        got: permit.version,
                    });
                }
                self.check_permit(&permit)?;
                // Only a process holding the signing key seals (see `Permit::seal`).
                Ok(Permit {
                    seal: None,
                    ..permit
                })
            }
            Change::PermitReissued { mut permit } => {
                let current = self.current(&permit.number)?;
                if permit.version != current.version + 1 {
                    return Err(Rejection::Version {
                        number: permit.number,
                        current: current.version,
                        got: permit.version,
                    });
                }
                self.check_permit(&permit)?;
                permit.superseded_versions = superseded_after(&current)?;
                permit.seal = None;
                Ok(permit)
            }
            Change::LicenceStateChanged {
                number,
                licence_type,
                action,
                reason,
                on,
                grant,
            } => {
                let mut permit = self.current(&number)?.into_owned();
                check_text(number, "reason", reason.as_deref())?;
                let licence = covered(&mut permit, licence_type)?;
                let on_commitment = grant.as_ref().is_some_and(|g| g.on_commitment);
                let Some(state) = action.apply_to(licence.state, on_commitment) else {
                    return Err(Rejection::Transition {
                        number,
                        licence_type,
                        action: action.code(),
                        state: licence.state,
                    });
                };
                licence.state = state;
                licence.state_reason = reason;
                licence.state_changed_on = Some(on);
                if let Some(grant) = grant {
                    check_text(
                        number,
                        "certificate_number",
                        Some(&grant.certificate_number),
                    )?;
                    if let (Some(from), Some(until)) = (grant.valid_from, grant.valid_until) {
                        if until < from {
                            return Err(Rejection::Dates {
                                number,
                                licence_type,
                            });
                        }
                    }
                    licence.certificate_number = Some(grant.certificate_number);
                    licence.valid_from = grant.valid_from;
                    licence.valid_until = grant.valid_until;
                    licence.on_commitment = grant.on_commitment;
                    // A newly granted item is printed on the face: a new version (重点任务(六)).
                    permit.superseded_versions = superseded_after(&permit)?;
                    permit.version += 1;
                    permit.issued_on = on;
                }
                Ok(permit)
            }
            Change::LicenceDetailsChanged {
                number,
                licence_type,
                certificate_number,
                valid_from,
                valid_until,
                on,
            } => {
                let mut permit = self.current(&number)?.into_owned();
                check_text(number, "certificate_number", certificate_number.as_deref())?;
                let licence = covered(&mut permit, licence_type)?;
                let usable = matches!(
                    licence.state,
                    LicenceState::Valid | LicenceState::PendingCommitment | LicenceState::Suspended
                );
                let expired = licence.facts().expired_by_date(on);
                if !usable || expired {
                    // A licence not granted, void or past its end date is not renewed: it is
                    // granted again, and the permit reissued.
                    return Err(Rejection::Transition {
                        number,
                        licence_type,
                        action: "details_changed",
                        state: if expired {
                            LicenceState::Lapsed
                        } else {
                            licence.state
                        },
                    });
                }
                let from = valid_from.or(licence.valid_from);
                let until = valid_until.or(licence.valid_until);
                if let (Some(from), Some(until)) = (from, until) {
                    if until < from {
                        return Err(Rejection::Dates {
                            number,
                            licence_type,
                        });
                    }
                }
                if let Some(text) = certificate_number {
                    licence.certificate_number = Some(text);
                }
                licence.valid_from = from;
                licence.valid_until = until;
                Ok(permit)
            }
            Change::PermitVoided { number, reason, on } => {
                let mut permit = self.current(&number)?.into_owned();
                check_text(number, "reason", Some(&reason))?;
                if !permit.status.is_active() {
                    return Err(Rejection::Status {
                        number,
                        why: "it is already void",
                    });
                }
                permit.status = PermitStatus::Voided { on, reason };
                Ok(permit)
            }
            Change::PermitRecovered { number, on } => {
                let mut permit = self.current(&number)?.into_owned();
                permit.status = PermitStatus::Recovered { on };
                Ok(permit)
            }
        }
    }

    /// The current version of `number`, provided it may still change.
    fn current(&self, number: &PermitNumber) -> Result<Cow<'_, Permit>, Rejection> {
        let permit = self.get(number).ok_or(Rejection::UnknownPermit(*number))?;
        if matches!(permit.status, PermitStatus::Recovered { .. }) {
            return Err(Rejection::Recovered(*number));
        }
        Ok(permit)
    }

    /// The checks every issued or reissued permit face passes.
    fn check_permit(&self, permit: &Permit) -> Result<(), Rejection> {
        let number = permit.number;
        let category = number.category();
        let Some(industry) = self.catalog.industry(category) else {
            return Err(Rejection::Category { number, category });
        };
        for (field, text) in [
            ("operator_name", &permit.operator_name),
            ("legal_representative", &permit.legal_representative),
            ("premises", &permit.premises),
            ("issuing_authority", &permit.issuing_authority),
        ] {
            if text.trim().is_empty() || text.len() > TEXT_FIELD_BYTES_MAX {
                return Err(Rejection::Field { number, field });
            }
        }
        if permit.licences.is_empty() {
            return Err(Rejection::NoLicences { number });
        }
        if permit.licences.len() > LICENCES_PER_PERMIT_MAX {
            return Err(Rejection::TooManyLicences {
                number,
                count: permit.licences.len(),
            });
        }
        for licence in &permit.licences {
            if !matches!(
                licence.state,
                LicenceState::Valid | LicenceState::NotGranted | LicenceState::PendingCommitment
            ) {
                return Err(Rejection::IssueState {
                    number,
                    state: licence.state,
                });
            }
            let granted = licence.state != LicenceState::NotGranted;
            match &licence.certificate_number {
                None if granted => {
                    return Err(Rejection::CertificateMissing {
                        number,
                        licence_type: licence.licence_type,
                    })
                }
                Some(text) if text.is_empty() || text.len() > TEXT_FIELD_BYTES_MAX => {
                    return Err(Rejection::Field {
                        number,
                        field: "certificate_number",
                    })
                }
                _ => {}
            }
        }
        let present: Vec<LicenceTypeId> = permit.licences.iter().map(|l| l.licence_type).collect();
        industry
            .check_coverage(&present)
            .map_err(|error| Rejection::Coverage { number, error })
    }
}

/// The superseded list after `current` is replaced by its next version.
fn superseded_after(current: &Permit) -> Result<Vec<SupersededVersion>, Rejection> {
    if current.superseded_versions.len() >= SUPERSEDED_VERSIONS_MAX {
        return Err(Rejection::TooManyVersions {
            number: current.number,
        });
    }
    let mut superseded = current.superseded_versions.clone();
    superseded.push(SupersededVersion {
        version: current.version,
        issued_on: current.issued_on,
        qr: current.seal.as_ref().and_then(|s| s.qr),
    });
    Ok(superseded)
}

/// The licence of type `licence_type` that `permit` covers.
fn covered(permit: &mut Permit, licence_type: LicenceTypeId) -> Result<&mut Licence, Rejection> {
    let number = permit.number;
    permit
        .licences
        .iter_mut()
        .find(|l| l.licence_type == licence_type)
        .ok_or(Rejection::NotCovered {
            number,
            licence_type,
        })
}

fn check_text(
    number: PermitNumber,
    field: &'static str,
    text: Option<&str>,
) -> Result<(), Rejection> {
    match text {
        Some(text) if text.trim().is_empty() || text.len() > TEXT_FIELD_BYTES_MAX => {
            Err(Rejection::Field { number, field })
        }
        _ => Ok(()),
    }
}

/// The 16-byte hash an event id is remembered by (in the registry, the log and the snapshot).
pub fn event_id_hash(id: &str) -> u128 {
    let hash = blake3::hash(id.as_bytes());
    u128::from_le_bytes(hash.as_bytes()[..16].try_into().expect("16 of 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Uscc;
    use crate::domain::{Date, DerivedState, Licence, VoidReason};
    use crate::event::LicenceAction;
    use crate::event::Timestamp;

    fn d(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    fn licence(code: &str, state: LicenceState) -> Licence {
        Licence {
            licence_type: LicenceTypeId::from_code(code).unwrap(),
            certificate_number: (state != LicenceState::NotGranted).then(|| format!("{code}-0001")),
            state,
            on_commitment: false,
            valid_from: Some(d("2024-01-01")),
            valid_until: Some(d("2029-01-01")),
            state_reason: None,
            state_changed_on: None,
        }
    }

    /// A restaurant (category 03) with the food licence (L05) and, optionally, tobacco (L07).
    fn restaurant(sequence: u32, version: u32, licences: Vec<Licence>) -> Permit {
        Permit {
            number: PermitNumber::new(110111, 3, sequence).unwrap(),
            version,
            operator_name: "北京房山良乡张记餐饮店".into(),
            uscc: Uscc::parse("91350100M000100Y43").unwrap(),
            legal_representative: "张伟".into(),
            premises: "北京市房山区良乡镇昊天大街1号".into(),
            issuing_authority: "北京市房山区政务服务局".into(),
            issued_on: d("2024-01-01"),
            licences,
            status: PermitStatus::Active,
            superseded_versions: Vec::new(),
            sequence: 0,
            seal: None,
        }
    }

    fn event(id: &str, change: Change) -> Event {
        Event {
            schema: SCHEMA_VERSION,
            id: id.into(),
            at: Timestamp {
                unix_ms: 1_704_067_200_000,
            },
            department: "区政务服务局".into(),
            change,
        }
    }

    fn issued(id: &str, permit: Permit) -> Event {
        event(id, Change::PermitIssued { permit })
    }

    fn food() -> Vec<Licence> {
        vec![licence("L05", LicenceState::Valid)]
    }

    /// Food granted, tobacco retail listed as not yet granted (未许可).
    fn partial() -> Vec<Licence> {
        vec![
            licence("L05", LicenceState::Valid),
            licence("L07", LicenceState::NotGranted),
        ]
    }

    #[test]
    fn a_producers_seal_is_ignored() {
        // Only the writer seals: a seal sent in an issued permit is dropped on apply.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        let mut permit = restaurant(1, 1, vec![licence("L05", LicenceState::Valid)]);
        permit.seal = Some(crate::domain::permit::Seal {
            qr: Some([b'A'; crate::domain::permit::QR_PAYLOAD_CHARS]),
            attestation: "forged.forged.forged".into(),
            sequence: 0,
            attested_at: 0,
            attestation_expires: i64::MAX,
        });
        let number = permit.number;
        registry.apply(issued("e1", permit)).unwrap();
        assert_eq!(registry.get(&number).unwrap().seal, None);
    }

    #[test]
    fn issue_reissue_and_state_change_fold_into_the_expected_state() {
        // Issued → reissued (old version superseded) → licence revoked (permit void).
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        let partial = partial();
        let number = restaurant(1, 1, partial.clone()).number;
        assert_eq!(
            registry.apply(issued("e1", restaurant(1, 1, partial))),
            Ok(Applied::Accepted { sequence: 1 })
        );
        let today = d("2026-06-15");
        assert_eq!(
            registry.get(&number).unwrap().derived_state(None, today),
            DerivedState::Partial { not_in_force: 1 }
        );

        let granted = vec![
            licence("L05", LicenceState::Valid),
            licence("L07", LicenceState::Valid),
        ];
        let reissue = event(
            "e2",
            Change::PermitReissued {
                permit: restaurant(1, 2, granted),
            },
        );
        assert_eq!(
            registry.apply(reissue),
            Ok(Applied::Accepted { sequence: 2 })
        );
        let permit = registry.get(&number).unwrap();
        assert_eq!(
            permit
                .superseded_versions
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>(),
            [1]
        );
        assert_eq!(
            permit.derived_state(Some(1), today),
            DerivedState::Superseded { by_version: 2 }
        );
        assert_eq!(permit.derived_state(None, today), DerivedState::Valid);

        let revoke = event(
            "e3",
            Change::LicenceStateChanged {
                number,
                licence_type: LicenceTypeId::from_code("L07").unwrap(),
                action: LicenceAction::Revoked,
                reason: Some("告知承诺核查不符，依法撤销".into()),
                on: d("2026-06-01"),
                grant: None,
            },
        );
        assert_eq!(
            registry.apply(revoke),
            Ok(Applied::Accepted { sequence: 3 })
        );
        let expect = DerivedState::Void(VoidReason::Licence {
            licence_type: LicenceTypeId::from_code("L07").unwrap(),
            state: LicenceState::Revoked,
            by_date: false,
        });
        assert_eq!(
            registry.get(&number).unwrap().derived_state(None, today),
            expect
        );
    }

    #[test]
    fn a_replayed_event_id_changes_nothing() {
        // Feeding the same event twice is idempotent.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        assert!(registry
            .apply(issued("same", restaurant(1, 1, food())))
            .is_ok());
        assert_eq!(
            registry.apply(issued("same", restaurant(1, 1, food()))),
            Ok(Applied::Replay)
        );
        assert_eq!((registry.len(), registry.sequence()), (1, 1));
    }

    #[test]
    fn rejected_events_name_the_problem_and_change_nothing() {
        // Each invalid event is rejected with its own reason; the registry stays as it was.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        registry
            .apply(issued("base", restaurant(1, 1, food())))
            .unwrap();
        let number = restaurant(1, 1, food()).number;
        let mut blank_name = restaurant(2, 1, food());
        blank_name.operator_name = "  ".into();
        let mut no_certificate = restaurant(3, 1, food());
        no_certificate.licences[0].certificate_number = None;
        let mut suspended_at_issue = restaurant(4, 1, food());
        suspended_at_issue.licences[0].state = LicenceState::Suspended;
        let mut bad_schema = issued("schema", restaurant(5, 1, food()));
        bad_schema.schema = 2;
        type Expect = fn(&Rejection) -> bool;
        let cases: Vec<(Event, Expect)> = vec![
            (issued("dup", restaurant(1, 1, food())), |r| {
                matches!(r, Rejection::AlreadyIssued(_))
            }),
            (issued("v2", restaurant(6, 2, food())), |r| {
                matches!(r, Rejection::Version { .. })
            }),
            (
                issued(
                    "nofood",
                    restaurant(7, 1, vec![licence("L07", LicenceState::Valid)]),
                ),
                |r| matches!(r, Rejection::Coverage { .. }),
            ),
            (issued("none", restaurant(8, 1, vec![])), |r| {
                matches!(r, Rejection::NoLicences { .. })
            }),
            (
                issued(
                    "alien",
                    restaurant(
                        9,
                        1,
                        vec![
                            licence("L05", LicenceState::Valid),
                            licence("L17", LicenceState::Valid),
                        ],
                    ),
                ),
                |r| matches!(r, Rejection::Coverage { .. }),
            ),
            (issued("blank", blank_name), |r| {
                matches!(
                    r,
                    Rejection::Field {
                        field: "operator_name",
                        ..
                    }
                )
            }),
            (issued("nocert", no_certificate), |r| {
                matches!(r, Rejection::CertificateMissing { .. })
            }),
            (issued("susp", suspended_at_issue), |r| {
                matches!(r, Rejection::IssueState { .. })
            }),
            (bad_schema, |r| matches!(r, Rejection::Schema { got: 2 })),
            (
                event(
                    "skip",
                    Change::PermitReissued {
                        permit: restaurant(1, 3, food()),
                    },
                ),
                |r| {
                    matches!(
                        r,
                        Rejection::Version {
                            current: 1,
                            got: 3,
                            ..
                        }
                    )
                },
            ),
            (
                event(
                    "ghost",
                    Change::PermitReissued {
                        permit: restaurant(10, 2, food()),
                    },
                ),
                |r| matches!(r, Rejection::UnknownPermit(_)),
            ),
            (
                event(
                    "uncovered",
                    Change::LicenceStateChanged {
                        number,
                        licence_type: LicenceTypeId::from_code("L07").unwrap(),
                        action: LicenceAction::Revoked,
                        reason: None,
                        on: d("2026-01-01"),
                        grant: None,
                    },
                ),
                |r| matches!(r, Rejection::NotCovered { .. }),
            ),
            (issued("", restaurant(11, 1, food())), |r| {
                matches!(r, Rejection::EventId)
            }),
        ];
        for (event, expect) in cases {
            let id = event.id.clone();
            let rejection = registry.apply(event).expect_err(&id);
            assert!(expect(&rejection), "event {id:?}: {rejection}");
            assert!(!rejection.to_string().is_empty());
        }
        assert_eq!((registry.len(), registry.sequence()), (1, 1));
        let mut expected = restaurant(1, 1, food());
        expected.sequence = 1;
        assert_eq!(*registry.get(&number).unwrap(), expected);
    }

    fn state_change(id: &str, number: PermitNumber, code: &str, action: LicenceAction) -> Event {
        event(
            id,
            Change::LicenceStateChanged {
                number,
                licence_type: LicenceTypeId::from_code(code).unwrap(),
                action,
                reason: None,
                on: d("2026-06-01"),
                grant: None,
            },
        )
    }

    #[test]
    fn licence_actions_apply_only_to_the_states_they_name() {
        // Every action from every state: the transition table of `LicenceAction::apply_to`,
        // checked through the registry, with rejected moves leaving the permit untouched.
        use LicenceAction as A;
        use LicenceState as S;
        let expected = |action: A, from: S| -> Option<S> {
            match (action, from) {
                (A::Suspended, S::Valid) => Some(S::Suspended),
                (A::Resumed, S::Suspended) => Some(S::Valid),
                (A::Cancelled, S::Valid | S::PendingCommitment | S::Suspended) => {
                    Some(S::Cancelled)
                }
                (A::Revoked, S::Valid | S::PendingCommitment | S::Suspended) => Some(S::Revoked),
                (A::Withdrawn, S::Valid | S::PendingCommitment | S::Suspended) => {
                    Some(S::Withdrawn)
                }
                (A::Lapsed, S::Valid | S::PendingCommitment | S::Suspended) => Some(S::Lapsed),
                (A::CommitmentVerified, S::PendingCommitment) => Some(S::Valid),
                (A::CommitmentFailed, S::PendingCommitment) => Some(S::Revoked),
                _ => None,
            }
        };
        let catalog = Catalog::embedded().unwrap();
        for (i, action) in LicenceAction::ALL.into_iter().enumerate() {
            if action == A::Granted {
                continue; // needs grant details: its own test
            }
            for (j, from) in LicenceState::ALL.into_iter().enumerate() {
                let mut registry = Registry::new(&catalog);
                let mut permit = restaurant(1, 1, vec![licence("L05", S::Valid)]);
                permit.licences[0].state = from;
                // Issued valid, then put in `from` directly (not every state may be issued).
                registry.put(permit.clone());
                let number = permit.number;
                let result =
                    registry.apply(state_change(&format!("{i}-{j}"), number, "L05", action));
                let now = registry.get(&number).unwrap().licences[0].state;
                match expected(action, from) {
                    Some(to) => {
                        assert!(result.is_ok(), "{action:?} from {from:?}: {result:?}");
                        assert_eq!(now, to, "{action:?} from {from:?}");
                    }
                    None => {
                        assert!(
                            matches!(result, Err(Rejection::Transition { .. })),
                            "{action:?} from {from:?}: {result:?}"
                        );
                        assert_eq!(now, from, "{action:?} from {from:?} changed the licence");
                    }
                }
            }
        }
    }

    #[test]
    fn a_new_version_never_carries_the_code_of_the_one_it_supersedes() {
        // A same-version change keeps the version's signed code (and is not attested); a grant
        // that issues version 2 moves version 1's code to its superseded entry and leaves
        // version 2 without one until the writer signs it.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        let partial = partial();
        let number = restaurant(1, 1, food()).number;
        registry
            .apply(issued("e1", restaurant(1, 1, partial)))
            .unwrap();
        let sealer =
            crate::trust::seal::Sealer::new(crate::trust::keys::SigningKey::from_seed(&[4; 32]));
        let current = registry.changed_mut(&number).unwrap();
        sealer.seal(current, time::OffsetDateTime::now_utc());
        let v1 = current.seal.as_ref().and_then(|s| s.qr).unwrap();
        assert!(current.attested().is_some());

        registry
            .apply(state_change("e2", number, "L05", LicenceAction::Suspended))
            .unwrap();
        let permit = registry.get(&number).unwrap();
        assert_eq!(permit.seal.as_ref().and_then(|s| s.qr), Some(v1));
        assert!(
            permit.attested().is_none(),
            "the attestation was of the old state"
        );

        let grant = event(
            "e3",
            Change::LicenceStateChanged {
                number,
                licence_type: LicenceTypeId::from_code("L07").unwrap(),
                action: LicenceAction::Granted,
                reason: None,
                on: d("2026-06-01"),
                grant: Some(crate::event::Grant {
                    certificate_number: "YC110111000001".into(),
                    valid_from: Some(d("2026-06-01")),
                    valid_until: Some(d("2031-05-31")),
                    on_commitment: false,
                }),
            },
        );
        registry.apply(grant).unwrap();
        let permit = registry.get(&number).unwrap();
        assert_eq!(permit.version, 2);
        assert_eq!(permit.seal, None, "version 1's code is not version 2's");
        assert_eq!(permit.superseded_versions[0].qr, Some(v1));
    }

    #[test]
    fn granting_an_unpermitted_item_issues_a_new_version() {
        // 未许可事项 granted → version 2, version 1 superseded, the permit valid.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        let partial = partial();
        registry
            .apply(issued("e1", restaurant(1, 1, partial)))
            .unwrap();
        let number = restaurant(1, 1, food()).number;
        let grant = |id: &str, details: Option<crate::event::Grant>| {
            event(
                id,
                Change::LicenceStateChanged {
                    number,
                    licence_type: LicenceTypeId::from_code("L07").unwrap(),
                    action: LicenceAction::Granted,
                    reason: None,
                    on: d("2026-06-01"),
                    grant: details,
                },
            )
        };
        let details = crate::event::Grant {
            certificate_number: "YC110111000001".into(),
            valid_from: Some(d("2026-06-01")),
            valid_until: Some(d("2031-05-31")),
            on_commitment: false,
        };
        let mut backwards = details.clone();
        backwards.valid_until = Some(d("2020-01-01"));
        assert!(matches!(
            registry.apply(grant("bad", Some(backwards))),
            Err(Rejection::Dates { .. })
        ));
        assert_eq!(registry.get(&number).unwrap().version, 1);
        registry.apply(grant("e2", Some(details))).unwrap();
        let permit = registry.get(&number).unwrap();
        let today = d("2026-06-15");
        assert_eq!(permit.version, 2);
        assert_eq!(permit.issued_on, d("2026-06-01"));
        assert_eq!(permit.derived_state(None, today), DerivedState::Valid);
        assert_eq!(
            permit.derived_state(Some(1), today),
            DerivedState::Superseded { by_version: 2 }
        );
        // Granting it again is no longer possible: it is licensed.
        let again = crate::event::Grant {
            certificate_number: "YC110111000002".into(),
            valid_from: None,
            valid_until: None,
            on_commitment: false,
        };
        assert!(matches!(
            registry.apply(grant("e3", Some(again))),
            Err(Rejection::Transition { .. })
        ));
    }

    #[test]
    fn a_renewal_changes_details_without_a_new_version_and_a_lapsed_licence_is_not_renewed() {
        // 延续: the end date moves, the version stays; once past its end date, refused.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        registry
            .apply(issued("e1", restaurant(1, 1, food())))
            .unwrap();
        let number = restaurant(1, 1, food()).number;
        let renew = |id: &str, on: &str, until: &str| {
            event(
                id,
                Change::LicenceDetailsChanged {
                    number,
                    licence_type: LicenceTypeId::from_code("L05").unwrap(),
                    certificate_number: None,
                    valid_from: None,
                    valid_until: Some(d(until)),
                    on: d(on),
                },
            )
        };
        registry
            .apply(renew("r1", "2028-12-01", "2033-12-31"))
            .unwrap();
        let permit = registry.get(&number).unwrap();
        assert_eq!(permit.version, 1);
        assert_eq!(permit.licences[0].valid_until, Some(d("2033-12-31")));
        assert!(matches!(
            registry.apply(renew("r2", "2034-01-05", "2039-12-31")),
            Err(Rejection::Transition { .. })
        ));
    }

    #[test]
    fn an_authority_voids_and_recovers_a_permit() {
        // 作废 then 收回; after 收回 nothing is accepted.
        let catalog = Catalog::embedded().unwrap();
        let mut registry = Registry::new(&catalog);
        registry
            .apply(issued("e1", restaurant(1, 1, food())))
            .unwrap();
        let number = restaurant(1, 1, food()).number;
        let today = d("2026-06-15");
        let void = |id: &str| {
            event(
                id,
                Change::PermitVoided {
                    number,
                    reason: "以欺骗手段取得".into(),
                    on: d("2026-06-01"),
                },
            )
        };
        registry.apply(void("v1")).unwrap();
        assert_eq!(
            registry.get(&number).unwrap().derived_state(None, today),
            DerivedState::Void(VoidReason::Authority {
                on: d("2026-06-01")
            })
        );
        assert!(matches!(
            registry.apply(void("v2")),
            Err(Rejection::Status { .. })
        ));
        let recover = event(
            "c1",
            Change::PermitRecovered {
                number,
                on: d("2026-06-02"),
            },
        );
        registry.apply(recover).unwrap();
        assert!(matches!(
            registry.get(&number).unwrap().derived_state(None, today),
            DerivedState::Recovered { .. }
        ));
        assert!(matches!(
            registry.apply(state_change("late", number, "L05", LicenceAction::Revoked)),
            Err(Rejection::Recovered(_))
        ));
    }
}
