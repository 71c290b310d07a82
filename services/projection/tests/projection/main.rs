//! The projection's tests, in one binary: a scripted life checked by hand, budget rounds, batch-split
//! invariance, anomalies, the digest format and the crate's purity.

mod amendments;
mod anomalies;
mod association_log;
mod batches;
mod budgets;
mod common;
mod digest;
mod drafts;
mod law;
mod life;
mod purity;
mod script;
