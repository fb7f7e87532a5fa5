//! The expiry scheduler: once a day (and when the writer starts) it finds every licence whose
//! last day of validity has passed while its recorded state still says it is in force, and
//! emits a `lapsed` event for it, so the log, the next snapshot and every pre-rendered answer
//! say 失效 without anyone sending an event. (Resolvers never wait for it: they evaluate end
//! dates at query time.)
//!
//! The events go through [`super::Store::submit`] like any other, with ids derived from the
//! permit, the licence and its end date, so a rerun (or a restart the same day) is a replay.

use crate::catalog::Catalog;
use crate::codes::PermitNumber;
use crate::domain::licence::LicenceFacts;
use crate::domain::{Date, LicenceState};
use crate::event::{Change, Event, LicenceAction, Timestamp, SCHEMA_VERSION};

use super::Store;

/// The department named on a lapse nobody reported: the licence's own approving department.
fn department(catalog: &Catalog, facts: &LicenceFacts) -> String {
    catalog.licence_type(facts.licence_type).map_or_else(
        || "北京市房山区政务服务局".to_owned(),
        |t| t.department.clone(),
    )
}

fn is_due(facts: &LicenceFacts, today: Date) -> Option<Date> {
    let in_force = matches!(
        facts.state,
        LicenceState::Valid | LicenceState::PendingCommitment | LicenceState::Suspended
    );
    match facts.valid_until {
        Some(end) if in_force && today > end => Some(end),
        _ => None,
    }
}

/// The `lapsed` events due at `today` for every permit the store holds.
pub fn due(store: &Store, today: Date) -> Vec<Event> {
    let catalog = store.catalog();
    let registry = store.registry();
    let mut events = Vec::new();
    let mut push = |number: PermitNumber, facts: LicenceFacts, end: Date| {
        events.push(lapse_event(catalog, number, facts, end));
    };
    if let Some(snapshot) = store.snapshot() {
        for archived in snapshot.iter() {
            let number = archived.number.to_native();
            if registry.holds(&number) {
                continue; // its current state is the registry's
            }
            for facts in archived.licence_facts() {
                if let Some(end) = is_due(&facts, today) {
                    push(number, facts, end);
                }
            }
        }
    }
    for permit in registry.changed() {
        for facts in permit.licence_facts() {
            if let Some(end) = is_due(&facts, today) {
                push(permit.number, facts, end);
            }
        }
    }
    events
}

fn lapse_event(catalog: &Catalog, number: PermitNumber, facts: LicenceFacts, end: Date) -> Event {
    Event {
        schema: SCHEMA_VERSION,
        id: format!("lapse:{number}:L{:02}:{end}", facts.licence_type.0),
        at: Timestamp::now(),
        department: department(catalog, &facts),
        change: Change::LicenceStateChanged {
            number,
            licence_type: facts.licence_type,
            action: LicenceAction::Lapsed,
            reason: Some(format!("有效期至{end}届满，许可失效")),
            on: end.add_days(1),
            grant: None,
        },
    }
}
