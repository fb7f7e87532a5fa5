//! Deterministic, realistic synthetic permits. (Skeleton: being implemented.)

use std::io::Write;

use crate::catalog::Catalog;
use crate::domain::Date;

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
    pub events: u64,
}

pub fn generate(
    catalog: &Catalog,
    options: &GenOptions,
    out: &mut dyn Write,
    on_progress: &mut dyn FnMut(u64),
) -> std::io::Result<GenStats> {
    let _ = (catalog, options, out, on_progress);
    todo!()
}
