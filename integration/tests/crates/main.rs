//! One test binary for every real crate (one link instead of one per file keeps CI short).

mod clocks;
mod hyper;
mod race;
mod runners;
mod tokio_util;
mod tower;
