//! vidkryto's civic rules as a pure crate: commands in, events out. Node, association and
//! auditor all run these same rules, so nothing here does I/O, reads a clock, awaits, or draws
//! randomness: time, ids, pseudonyms and the working calendar arrive inside each command.
//!
//! Each aggregate has a module with its commands, events, state, `decide` and `evolve`:
//! [`petition`], [`dialogue`], [`action_plan`] (with the independent [`assessment`] of its commitments by a
//! monitor who is not the hromada) and the hromada's [`calendar`] of working days.
//! [`event`] holds the [`Event`] enum over all of them, the frozen type codes and the postcard
//! encoding; [`schema`] is the one way stored envelopes are read back (through the upcasters);
//! [`pseudonym`] turns a verified identity into a per-petition tag; [`disclosure`] commits to
//! residents' text until it is public, and [`legacy`] holds the older schema versions.

pub mod action_plan;
pub mod actor;
pub mod aggregate;
pub mod assessment;
pub mod budget;
pub mod calendar;
pub mod dialogue;
pub mod disclosure;
pub mod error;
pub mod event;
pub mod ids;
pub mod legacy;
pub mod petition;
pub mod pseudonym;
pub mod schema;
mod stream;
/// Given/when/then helpers for tests of the rules, here and in crates that drive them (the
/// node's tests may use them). Not part of the domain's API: hidden from the docs, and free to
/// change with the tests that use it.
#[doc(hidden)]
pub mod testing;
mod text;

pub use actor::{Actor, ActorKind, StaffRole, staff_tag};
pub use aggregate::{ActionPlan, Aggregate, BudgetRound, Calendar, Dialogue, Petition};
pub use calendar::{CivilDate, WorkingCalendar, kyiv_date, kyiv_epoch_day};
pub use error::{DecodeError, DomainError, Refusal, Violation};
pub use event::{
    AggregateKind, EncodedEvent, Event, EventType, SCHEMA_VERSION_1, SCHEMA_VERSION_2,
    SCHEMA_VERSION_3, StreamRef, encode,
};
pub use ids::{
    CommitmentId, ContributionId, DialogueId, ForumMemberId, MilestoneId, PetitionId, PlanId,
    ProjectId, RoundId,
};
pub use pseudonym::{
    NodeSecret, PseudonymTag, budget_author_tag, budget_voter_tag, close_request_seed,
    dialogue_tag, petition_tag,
};
pub use schema::{OpenError, Recorded, decode, decode_payload, decode_with, open, upcasters};
