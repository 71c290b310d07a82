//! vidkryto's national projections as a pure crate: verified events in, projection row changes
//! out, and the canonical digest of the whole projection. The association's PostgreSQL store
//! and an auditor's embedded store both use it, so they apply the same rules to the same rows
//! and can prove they agree by comparing one digest. Nothing here does I/O, reads a clock or
//! awaits.
//!
//! - [`rows`]: the rows (participatory budget rounds and projects among them) and counters, with frozen fields (stores map them to tables 1:1);
//! - [`codes`]: the frozen `u8` codes rows store for enums;
//! - [`batch`]: [`touched`] → load rows into a [`Working`] → [`Working::apply`] each event →
//!   [`Working::finish`] gives [`Changes`]; the module docs hold the table of rules;
//! - [`digest`]: the canonical digest and its byte format, for third-party auditors;
//! - [`memory`]: the reference store, every table in ordered maps;
//! - [`statement`]: the association's signed statements of the digest;
//! - [`association_log`]: the entries of the association's own log and the key history
//!   replayed from it.

pub mod association_log;
pub mod batch;
pub mod catalogue;
pub mod codes;
pub mod digest;
pub mod memory;
pub mod rows;
pub mod search;
pub mod statement;

pub use batch::{
    Anomaly, ApplyError, Changes, LoadError, Outcome, Touched, Verified, Working, touched,
};
pub use codes::PetitionPhase;
pub use digest::{
    DIGEST_PREFIX, Digest, DigestBuilder, DigestError, DigestParseError, PROJECTION_VERSION, Table,
};
pub use memory::{BatchError, MemoryStore};
pub use rows::{
    AnswerDays, BudgetProjectRow, CommitmentRow, Counters, DialogueRow, EntityKey, EntityKind,
    MilestoneRow, PetitionRow, PlanRow, RoundRow, WeeklyCounters,
};
