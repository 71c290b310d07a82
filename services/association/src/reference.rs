//! The reference data of every hromada and oblast, from the `reference` crate (which compiles
//! its CSV files in), under the path the association's modules have always used.

pub use reference::{KYIV, Municipality, Oblast, Reference};
