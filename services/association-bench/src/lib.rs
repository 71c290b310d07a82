//! Simulated municipality nodes for the benchmarks (the association's, and the auditor's, which
//! writes an archive from them).

pub mod phases;
pub mod sim;
