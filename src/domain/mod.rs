//! Permits, the single licences they cover, their states, and the rules that derive a permit's
//! state at a moment in time (BRIEF §1, 重点任务(六)). Plain code: no I/O.
//!
//! - [`date`]: civil dates in Beijing time.
//! - [`licence`]: a covered single licence (单项审批证件) and its state.
//! - [`permit`]: the comprehensive permit (综合许可凭证): face fields, version, covered licences.
//! - [`state`]: the derived state of a permit at a date: valid, partial, void, superseded, recovered.

pub mod date;
pub mod licence;
pub mod permit;
pub mod state;

pub use date::Date;
pub use licence::{Licence, LicenceState};
pub use permit::{Permit, PermitStatus};
pub use state::{DerivedState, VoidReason};
