//! Identifier algorithms. Plain code: no I/O, no allocation on the parse paths.
//!
//! - [`iso7064`]: ISO 7064 / GB/T 17710 check characters (MOD 37,36 hybrid, MOD 11-2).
//! - [`permit_number`]: the 16-character comprehensive permit number of 附件3 §2.3.1.
//! - [`uscc`]: the 18-character unified social credit code of GB 32100-2015.

pub mod iso7064;
pub mod permit_number;
pub mod uscc;

pub use permit_number::{PermitNumber, PermitNumberError};
pub use uscc::{Uscc, UsccError};
