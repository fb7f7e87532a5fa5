//! The in-memory permit registry that change-feed events fold into.
//!
//! `permitd snapshot build` folds a feed file into a registry and writes it out as a snapshot;
//! the writer path (later) folds its change log the same way. [`Registry::apply`] validates each
//! event against the catalogue and the current state: a rejected event gets a reason and changes
//! nothing; an event whose id was already applied is a replay and changes nothing either.

use std::collections::{HashMap, HashSet};

use crate::catalog::{Catalog, CoverageError, LicenceTypeId};
use crate::codes::PermitNumber;
use crate::domain::permit::SupersededVersion;
use crate::domain::{LicenceState, Permit, PermitStatus};
use crate::event::{Change, Event, SCHEMA_VERSION};
use crate::limits::{LICENCES_PER_PERMIT_MAX, SUPERSEDED_VERSIONS_MAX, TEXT_FIELD_BYTES_MAX};

/// Why an event was rejected. Each variant names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("schema version {got} is not supported (this build reads {SCHEMA_VERSION})")]
    Schema { got: u32 },
    #[error("event id is empty or longer than {TEXT_FIELD_BYTES_MAX} bytes")]
    EventId,
    #[error("permit {0} is already issued")]
    AlreadyIssued(PermitNumber),
    #[error("permit {0} is not known")]
    UnknownPermit(PermitNumber),
    #[error("permit {number}: version {got} does not follow version {current}")]
    Version { number: PermitNumber, current: u32, got: u32 },
    #[error("permit {number}: category {category} is not in the catalogue")]
    Category { number: PermitNumber, category: u8 },
    #[error("permit {number}: {error}")]
    Coverage { number: PermitNumber, error: CoverageError },
    #[error("permit {number}: licence type L{:02} is not covered by it", licence_type.0)]
    NotCovered { number: PermitNumber, licence_type: LicenceTypeId },
    #[error("permit {number}: field {field} is empty or longer than {TEXT_FIELD_BYTES_MAX} bytes")]
    Field { number: PermitNumber, field: &'static str },
    #[error("permit {number} covers no single licence: a comprehensive permit lists at least one")]
    NoLicences { number: PermitNumber },
    #[error("permit {number}: {count} licences exceed the limit of {LICENCES_PER_PERMIT_MAX}")]
    TooManyLicences { number: PermitNumber, count: usize },
    #[error("permit {number}: a new issue cannot carry a licence in state {state:?}")]
    IssueState { number: PermitNumber, state: LicenceState },
    #[error("permit {number}: licence L{:02} is granted but has no certificate number", licence_type.0)]
    CertificateMissing { number: PermitNumber, licence_type: LicenceTypeId },
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

pub struct Registry<'c> {
    catalog: &'c Catalog,
    permits: HashMap<u64, Permit>,
    /// blake3 of each applied event id, truncated: 16 bytes per event instead of the id text.
    seen_event_ids: HashSet<u128>,
    sequence: u64,
}

impl<'c> Registry<'c> {
    pub fn new(catalog: &'c Catalog) -> Registry<'c> {
        Registry { catalog, permits: HashMap::new(), seen_event_ids: HashSet::new(), sequence: 0 }
    }

    /// The sequence number of the last accepted event (0 when none).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn len(&self) -> usize {
        self.permits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.permits.is_empty()
    }

    pub fn get(&self, number: &PermitNumber) -> Option<&Permit> {
        self.permits.get(&number.key())
    }

    /// Every permit, in permit-number order.
    pub fn into_sorted(self) -> Vec<Permit> {
        let mut permits: Vec<Permit> = self.permits.into_values().collect();
        permits.sort_unstable_by_key(|p| p.number.key());
        permits
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
        let id_hash = event_id_hash(&event.id);
        if self.seen_event_ids.contains(&id_hash) {
            return Ok(Applied::Replay);
        }
        match event.change {
            Change::PermitIssued { permit } => {
                if self.permits.contains_key(&permit.number.key()) {
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
                self.permits.insert(permit.number.key(), permit);
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
                if current.superseded_versions.len() >= SUPERSEDED_VERSIONS_MAX {
                    return Err(Rejection::TooManyVersions { number: permit.number });
                }
                self.check_permit(&permit)?;
                let mut superseded = current.superseded_versions.clone();
                superseded.push(SupersededVersion {
                    version: current.version,
                    issued_on: current.issued_on,
                });
                permit.superseded_versions = superseded;
                self.permits.insert(permit.number.key(), permit);
            }
            Change::LicenceStateChanged { number, licence_type, state, reason, on } => {
                self.current(&number)?;
                if let Some(reason) = &reason {
                    if reason.len() > TEXT_FIELD_BYTES_MAX {
                        return Err(Rejection::Field { number, field: "reason" });
                    }
                }
                let permit = self.permits.get_mut(&number.key()).expect("checked above");
                let Some(licence) =
                    permit.licences.iter_mut().find(|l| l.licence_type == licence_type)
                else {
                    return Err(Rejection::NotCovered { number, licence_type });
                };
                licence.state = state;
                licence.state_reason = reason;
                licence.state_changed_on = Some(on);
            }
        }
        self.seen_event_ids.insert(id_hash);
        self.sequence += 1;
        Ok(Applied::Accepted { sequence: self.sequence })
    }

    /// The current version of `number`, provided it may still change.
    fn current(&self, number: &PermitNumber) -> Result<&Permit, Rejection> {
        let permit = self.permits.get(&number.key()).ok_or(Rejection::UnknownPermit(*number))?;
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
            return Err(Rejection::TooManyLicences { number, count: permit.licences.len() });
        }
        for licence in &permit.licences {
            if !matches!(
                licence.state,
                LicenceState::Valid | LicenceState::NotGranted | LicenceState::PendingCommitment
            ) {
                return Err(Rejection::IssueState { number, state: licence.state });
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
                    return Err(Rejection::Field { number, field: "certificate_number" })
                }
                _ => {}
            }
        }
        let present: Vec<LicenceTypeId> = permit.licences.iter().map(|l| l.licence_type).collect();
        industry.check_coverage(&present).map_err(|error| Rejection::Coverage { number, error })
    }
}

fn event_id_hash(id: &str) -> u128 {
    let hash = blake3::hash(id.as_bytes());
    u128::from_le_bytes(hash.as_bytes()[..16].try_into().expect("16 of 32 bytes"))
}
