//! The domain's events as stored in the log: the [`Event`] enum over every aggregate, each
//! event type's frozen type code, and the postcard encoding of payloads.
//!
//! # Frozen encodings
//!
//! Postcard is not self-describing, so the bytes of an event type never change once released:
//! - a type code is never reused or renumbered (codes are grouped by aggregate: 1 calendar,
//!   1xx petitions, 2xx dialogues, 3xx action plans, 4xx participatory budgets);
//! - a payload's fields are never reordered, removed or retyped, and enums shared by payloads
//!   are append only, never reordered (their variant index is what is stored);
//! - any such change is a new schema version of the type, with an upcaster from the old one;
//! - payloads use explicitly sized integers only (no `usize`), and no `#[serde(flatten)]`,
//!   `untagged` or `skip_serializing_if`.
//!
//! `tests/golden/` holds the bytes of one sample of every event type; `tests/golden.rs` fails
//! if an encoding drifts.

use event_store_core::{EventTypeCode, SchemaVersion, StreamId, Timestamp};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::action_plan::ActionPlanEvent;
use crate::actor::Actor;
use crate::budget::BudgetEvent;
use crate::calendar::{self, CalendarEvent};
use crate::dialogue::DialogueEvent;
use crate::error::{DecodeError, DomainError};
use crate::petition::PetitionEvent;

/// The first schema version, which every event type had when first released.
pub const SCHEMA_VERSION_1: SchemaVersion = SchemaVersion(1);
/// The second schema version (see `crate::legacy` for the types at it).
pub const SCHEMA_VERSION_2: SchemaVersion = SchemaVersion(2);
/// The third schema version.
pub const SCHEMA_VERSION_3: SchemaVersion = SchemaVersion(3);

/// Any event of the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Calendar(CalendarEvent),
    Petition(PetitionEvent),
    Dialogue(DialogueEvent),
    ActionPlan(ActionPlanEvent),
    Budget(BudgetEvent),
}

impl From<BudgetEvent> for Event {
    fn from(event: BudgetEvent) -> Self {
        Self::Budget(event)
    }
}

impl From<CalendarEvent> for Event {
    fn from(event: CalendarEvent) -> Self {
        Self::Calendar(event)
    }
}

impl From<PetitionEvent> for Event {
    fn from(event: PetitionEvent) -> Self {
        Self::Petition(event)
    }
}

impl From<DialogueEvent> for Event {
    fn from(event: DialogueEvent) -> Self {
        Self::Dialogue(event)
    }
}

impl From<ActionPlanEvent> for Event {
    fn from(event: ActionPlanEvent) -> Self {
        Self::ActionPlan(event)
    }
}

macro_rules! try_from_event {
    ($variant:ident, $event:ty) => {
        impl TryFrom<Event> for $event {
            /// The event, unchanged, when it belongs to another aggregate.
            type Error = Event;
            fn try_from(event: Event) -> Result<Self, Self::Error> {
                match event {
                    Event::$variant(inner) => Ok(inner),
                    other => Err(other),
                }
            }
        }
    };
}

try_from_event!(Calendar, CalendarEvent);
try_from_event!(Petition, PetitionEvent);
try_from_event!(Dialogue, DialogueEvent);
try_from_event!(ActionPlan, ActionPlanEvent);
try_from_event!(Budget, BudgetEvent);

/// The kind of aggregate a stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AggregateKind {
    Calendar,
    Petition,
    Dialogue,
    ActionPlan,
    BudgetRound,
}

/// The stream an event belongs to: its aggregate kind and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamRef {
    pub kind: AggregateKind,
    /// The aggregate's id; the calendar's is [`calendar::CALENDAR_STREAM_ID`].
    pub id: Uuid,
}

impl StreamRef {
    /// The log's stream id.
    pub fn stream_id(&self) -> StreamId {
        StreamId(self.id)
    }
}

/// Every event type, each with its frozen code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    NonWorkingDatesSet,
    PetitionFiled,
    PetitionPublished,
    PetitionRejected,
    PetitionSigned,
    SignatureThresholdReached,
    CollectionClosedWithoutThreshold,
    ConsiderationStarted,
    PetitionAnswered,
    ImplementationUpdated,
    DialogueAnnounced,
    ContributionSubmitted,
    ContributionAnswered,
    DialogueClosed,
    OutcomeReportPublished,
    PlanAdopted,
    CommitmentAdded,
    MilestoneAdded,
    ProgressReported,
    CommitmentAssessed,
    PlanClosed,
    CommitmentAmended,
    CommitmentWithdrawn,
    MilestoneAmended,
    MilestoneWithdrawn,
    ProposalsTaken,
    PlanDrafted,
    ForumMemberJoined,
    ForumMemberLeft,
    CoChairNamed,
    DraftAdopted,
    RoundAnnounced,
    ProjectSubmitted,
    ProjectReviewed,
    BallotCast,
    ResultsDeclared,
    ProjectFunded,
    BudgetProgressReported,
    RoundClosed,
}

impl EventType {
    /// Every event type, ascending by code.
    pub const ALL: [Self; 39] = [
        Self::NonWorkingDatesSet,
        Self::PetitionFiled,
        Self::PetitionPublished,
        Self::PetitionRejected,
        Self::PetitionSigned,
        Self::SignatureThresholdReached,
        Self::CollectionClosedWithoutThreshold,
        Self::ConsiderationStarted,
        Self::PetitionAnswered,
        Self::ImplementationUpdated,
        Self::DialogueAnnounced,
        Self::ContributionSubmitted,
        Self::ContributionAnswered,
        Self::DialogueClosed,
        Self::OutcomeReportPublished,
        Self::PlanAdopted,
        Self::CommitmentAdded,
        Self::MilestoneAdded,
        Self::ProgressReported,
        Self::CommitmentAssessed,
        Self::PlanClosed,
        Self::CommitmentAmended,
        Self::CommitmentWithdrawn,
        Self::MilestoneAmended,
        Self::MilestoneWithdrawn,
        Self::ProposalsTaken,
        Self::PlanDrafted,
        Self::ForumMemberJoined,
        Self::ForumMemberLeft,
        Self::CoChairNamed,
        Self::DraftAdopted,
        Self::RoundAnnounced,
        Self::ProjectSubmitted,
        Self::ProjectReviewed,
        Self::BallotCast,
        Self::ResultsDeclared,
        Self::ProjectFunded,
        Self::BudgetProgressReported,
        Self::RoundClosed,
    ];

    /// The frozen type code. Never change or reuse one.
    pub const fn code(self) -> EventTypeCode {
        EventTypeCode(self.number())
    }

    /// The current schema version of this type's payload: the form the Rust types have, what
    /// [`encode`] writes and what [`decode`] brings older payloads to (see `crate::schema`).
    pub const fn schema_version(self) -> SchemaVersion {
        match self {
            // Schema 2: residents' text committed when written, disclosed when public (see
            // `crate::disclosure`).
            Self::PetitionFiled | Self::ContributionSubmitted => SCHEMA_VERSION_2,
            // The official events: the last version added who acted for the council (2, or 3
            // for the two that gained a disclosure at 2).
            _ => match self.actor_since() {
                Some(version) => version,
                None => SCHEMA_VERSION_1,
            },
        }
    }

    /// The schema version from which this type records who acted for the council
    /// (`crate::actor`); `None` for types a resident or the node's clock records.
    pub const fn actor_since(self) -> Option<SchemaVersion> {
        match self {
            Self::PetitionPublished | Self::ContributionAnswered => Some(SCHEMA_VERSION_3),
            Self::PetitionRejected
            | Self::ConsiderationStarted
            | Self::PetitionAnswered
            | Self::ImplementationUpdated
            | Self::DialogueAnnounced
            | Self::DialogueClosed
            | Self::OutcomeReportPublished
            | Self::PlanAdopted
            | Self::CommitmentAdded
            | Self::MilestoneAdded
            | Self::ProgressReported
            | Self::CommitmentAssessed
            | Self::PlanClosed => Some(SCHEMA_VERSION_2),
            // Released with it.
            Self::CommitmentAmended
            | Self::CommitmentWithdrawn
            | Self::MilestoneAmended
            | Self::MilestoneWithdrawn
            | Self::ProposalsTaken
            | Self::PlanDrafted
            | Self::ForumMemberJoined
            | Self::ForumMemberLeft
            | Self::CoChairNamed
            | Self::DraftAdopted
            | Self::RoundAnnounced
            | Self::ProjectReviewed
            | Self::ResultsDeclared
            | Self::ProjectFunded
            | Self::BudgetProgressReported
            | Self::RoundClosed => Some(SCHEMA_VERSION_1),
            Self::NonWorkingDatesSet
            | Self::PetitionFiled
            | Self::PetitionSigned
            | Self::SignatureThresholdReached
            | Self::CollectionClosedWithoutThreshold
            | Self::ContributionSubmitted
            | Self::ProjectSubmitted
            | Self::BallotCast => None,
        }
    }

    const fn number(self) -> u16 {
        match self {
            Self::NonWorkingDatesSet => 1,
            Self::PetitionFiled => 101,
            Self::PetitionPublished => 102,
            Self::PetitionRejected => 103,
            Self::PetitionSigned => 104,
            Self::SignatureThresholdReached => 105,
            Self::CollectionClosedWithoutThreshold => 106,
            Self::ConsiderationStarted => 107,
            Self::PetitionAnswered => 108,
            Self::ImplementationUpdated => 109,
            Self::DialogueAnnounced => 201,
            Self::ContributionSubmitted => 202,
            Self::ContributionAnswered => 203,
            Self::DialogueClosed => 204,
            Self::OutcomeReportPublished => 205,
            Self::PlanAdopted => 301,
            Self::CommitmentAdded => 302,
            Self::MilestoneAdded => 303,
            Self::ProgressReported => 304,
            Self::CommitmentAssessed => 305,
            Self::PlanClosed => 306,
            Self::CommitmentAmended => 307,
            Self::CommitmentWithdrawn => 308,
            Self::MilestoneAmended => 309,
            Self::MilestoneWithdrawn => 310,
            Self::ProposalsTaken => 311,
            Self::PlanDrafted => 312,
            Self::ForumMemberJoined => 313,
            Self::ForumMemberLeft => 314,
            Self::CoChairNamed => 315,
            Self::DraftAdopted => 316,
            Self::RoundAnnounced => 401,
            Self::ProjectSubmitted => 402,
            Self::ProjectReviewed => 403,
            Self::BallotCast => 404,
            Self::ResultsDeclared => 405,
            Self::ProjectFunded => 406,
            Self::BudgetProgressReported => 407,
            Self::RoundClosed => 408,
        }
    }

    /// A stable dotted name for logs and exports, e.g. `petition.signed`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NonWorkingDatesSet => "calendar.non_working_dates_set",
            Self::PetitionFiled => "petition.filed",
            Self::PetitionPublished => "petition.published",
            Self::PetitionRejected => "petition.rejected",
            Self::PetitionSigned => "petition.signed",
            Self::SignatureThresholdReached => "petition.threshold_reached",
            Self::CollectionClosedWithoutThreshold => "petition.collection_closed",
            Self::ConsiderationStarted => "petition.consideration_started",
            Self::PetitionAnswered => "petition.answered",
            Self::ImplementationUpdated => "petition.implementation_updated",
            Self::DialogueAnnounced => "dialogue.announced",
            Self::ContributionSubmitted => "dialogue.contribution_submitted",
            Self::ContributionAnswered => "dialogue.contribution_answered",
            Self::DialogueClosed => "dialogue.closed",
            Self::OutcomeReportPublished => "dialogue.outcome_published",
            Self::PlanAdopted => "action_plan.adopted",
            Self::CommitmentAdded => "action_plan.commitment_added",
            Self::MilestoneAdded => "action_plan.milestone_added",
            Self::ProgressReported => "action_plan.progress_reported",
            Self::CommitmentAssessed => "action_plan.commitment_assessed",
            Self::PlanClosed => "action_plan.closed",
            Self::CommitmentAmended => "action_plan.commitment_amended",
            Self::CommitmentWithdrawn => "action_plan.commitment_withdrawn",
            Self::MilestoneAmended => "action_plan.milestone_amended",
            Self::MilestoneWithdrawn => "action_plan.milestone_withdrawn",
            Self::ProposalsTaken => "action_plan.proposals_taken",
            Self::PlanDrafted => "action_plan.drafted",
            Self::ForumMemberJoined => "action_plan.forum_member_joined",
            Self::ForumMemberLeft => "action_plan.forum_member_left",
            Self::CoChairNamed => "action_plan.co_chair_named",
            Self::DraftAdopted => "action_plan.draft_adopted",
            Self::RoundAnnounced => "budget.round_announced",
            Self::ProjectSubmitted => "budget.project_submitted",
            Self::ProjectReviewed => "budget.project_reviewed",
            Self::BallotCast => "budget.ballot_cast",
            Self::ResultsDeclared => "budget.results_declared",
            Self::ProjectFunded => "budget.project_funded",
            Self::BudgetProgressReported => "budget.progress_reported",
            Self::RoundClosed => "budget.round_closed",
        }
    }

    /// The event type with this code, if any.
    pub fn from_code(code: EventTypeCode) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The kind of aggregate whose streams hold this type.
    pub const fn aggregate(self) -> AggregateKind {
        match self.number() / 100 {
            0 => AggregateKind::Calendar,
            1 => AggregateKind::Petition,
            2 => AggregateKind::Dialogue,
            3 => AggregateKind::ActionPlan,
            _ => AggregateKind::BudgetRound,
        }
    }
}

impl Event {
    /// The event's type.
    pub fn event_type(&self) -> EventType {
        use EventType as T;
        match self {
            Self::Calendar(CalendarEvent::NonWorkingDatesSet(_)) => T::NonWorkingDatesSet,
            Self::Petition(event) => match event {
                PetitionEvent::Filed(_) => T::PetitionFiled,
                PetitionEvent::Published(_) => T::PetitionPublished,
                PetitionEvent::Rejected(_) => T::PetitionRejected,
                PetitionEvent::Signed(_) => T::PetitionSigned,
                PetitionEvent::ThresholdReached(_) => T::SignatureThresholdReached,
                PetitionEvent::CollectionClosed(_) => T::CollectionClosedWithoutThreshold,
                PetitionEvent::ConsiderationStarted(_) => T::ConsiderationStarted,
                PetitionEvent::Answered(_) => T::PetitionAnswered,
                PetitionEvent::ImplementationUpdated(_) => T::ImplementationUpdated,
            },
            Self::Dialogue(event) => match event {
                DialogueEvent::Announced(_) => T::DialogueAnnounced,
                DialogueEvent::ContributionSubmitted(_) => T::ContributionSubmitted,
                DialogueEvent::ContributionAnswered(_) => T::ContributionAnswered,
                DialogueEvent::Closed(_) => T::DialogueClosed,
                DialogueEvent::OutcomePublished(_) => T::OutcomeReportPublished,
            },
            Self::ActionPlan(event) => match event {
                ActionPlanEvent::Adopted(_) => T::PlanAdopted,
                ActionPlanEvent::CommitmentAdded(_) => T::CommitmentAdded,
                ActionPlanEvent::MilestoneAdded(_) => T::MilestoneAdded,
                ActionPlanEvent::ProgressReported(_) => T::ProgressReported,
                ActionPlanEvent::CommitmentAssessed(_) => T::CommitmentAssessed,
                ActionPlanEvent::Closed(_) => T::PlanClosed,
                ActionPlanEvent::CommitmentAmended(_) => T::CommitmentAmended,
                ActionPlanEvent::CommitmentWithdrawn(_) => T::CommitmentWithdrawn,
                ActionPlanEvent::MilestoneAmended(_) => T::MilestoneAmended,
                ActionPlanEvent::MilestoneWithdrawn(_) => T::MilestoneWithdrawn,
                ActionPlanEvent::ProposalsTaken(_) => T::ProposalsTaken,
                ActionPlanEvent::Drafted(_) => T::PlanDrafted,
                ActionPlanEvent::ForumMemberJoined(_) => T::ForumMemberJoined,
                ActionPlanEvent::ForumMemberLeft(_) => T::ForumMemberLeft,
                ActionPlanEvent::CoChairNamed(_) => T::CoChairNamed,
                ActionPlanEvent::DraftAdopted(_) => T::DraftAdopted,
            },
            Self::Budget(event) => match event {
                BudgetEvent::Announced(_) => T::RoundAnnounced,
                BudgetEvent::ProjectSubmitted(_) => T::ProjectSubmitted,
                BudgetEvent::ProjectReviewed(_) => T::ProjectReviewed,
                BudgetEvent::BallotCast(_) => T::BallotCast,
                BudgetEvent::ResultsDeclared(_) => T::ResultsDeclared,
                BudgetEvent::ProjectFunded(_) => T::ProjectFunded,
                BudgetEvent::ProgressReported(_) => T::BudgetProgressReported,
                BudgetEvent::Closed(_) => T::RoundClosed,
            },
        }
    }

    /// The stream the event belongs to.
    pub fn stream(&self) -> StreamRef {
        let (kind, id) = match self {
            Self::Calendar(_) => (AggregateKind::Calendar, calendar::CALENDAR_STREAM_ID),
            Self::Petition(event) => (AggregateKind::Petition, event.petition_id().0),
            Self::Dialogue(event) => (AggregateKind::Dialogue, event.dialogue_id().0),
            Self::ActionPlan(event) => (AggregateKind::ActionPlan, event.plan_id().0),
            Self::Budget(event) => (AggregateKind::BudgetRound, event.round_id().0),
        };
        StreamRef { kind, id }
    }

    /// The domain time of the event (the `at` of the command that produced it).
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Calendar(CalendarEvent::NonWorkingDatesSet(e)) => e.at,
            Self::Petition(event) => event.at(),
            Self::Dialogue(event) => event.at(),
            Self::ActionPlan(event) => event.at(),
            Self::Budget(event) => event.at(),
        }
    }

    /// Checks every bound the event is written with (the checks `decide` ran).
    pub fn check(&self) -> Result<(), DomainError> {
        match self {
            Self::Calendar(CalendarEvent::NonWorkingDatesSet(e)) => e.check(),
            Self::Petition(event) => event.check(),
            Self::Dialogue(event) => event.check(),
            Self::ActionPlan(event) => event.check(),
            Self::Budget(event) => event.check(),
        }
    }
}

/// An event's payload bytes and the header fields that say how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub event_type: EventTypeCode,
    pub schema_version: SchemaVersion,
    pub payload: Vec<u8>,
}

/// Encodes an event's payload with postcard, under its type code and current schema version.
pub fn encode(event: &Event) -> EncodedEvent {
    // Every payload is a struct of sized fields, strings and length-known sequences, which
    // postcard always serialises into a growable vector.
    let payload = serialize_payload(event, postcard::ser_flavors::AllocVec::new())
        .expect("postcard serialises every event payload");
    let event_type = event.event_type();
    EncodedEvent {
        event_type: event_type.code(),
        schema_version: event_type.schema_version(),
        payload,
    }
}

/// Serialises an event's payload into any postcard output.
/// Evaluates `$body` with `$e` bound to the payload struct of `$event` (an `&Event`), whatever
/// its type: the one list of every event type's payload, for each way one is written out.
macro_rules! with_payload {
    ($event:expr, $e:ident => $body:expr) => {
        match $event {
            Event::Calendar(CalendarEvent::NonWorkingDatesSet($e)) => $body,
            Event::Petition(event) => match event {
                PetitionEvent::Filed($e) => $body,
                PetitionEvent::Published($e) => $body,
                PetitionEvent::Rejected($e) => $body,
                PetitionEvent::Signed($e) => $body,
                PetitionEvent::ThresholdReached($e) => $body,
                PetitionEvent::CollectionClosed($e) => $body,
                PetitionEvent::ConsiderationStarted($e) => $body,
                PetitionEvent::Answered($e) => $body,
                PetitionEvent::ImplementationUpdated($e) => $body,
            },
            Event::Dialogue(event) => match event {
                DialogueEvent::Announced($e) => $body,
                DialogueEvent::ContributionSubmitted($e) => $body,
                DialogueEvent::ContributionAnswered($e) => $body,
                DialogueEvent::Closed($e) => $body,
                DialogueEvent::OutcomePublished($e) => $body,
            },
            Event::ActionPlan(event) => match event {
                ActionPlanEvent::Adopted($e) => $body,
                ActionPlanEvent::CommitmentAdded($e) => $body,
                ActionPlanEvent::MilestoneAdded($e) => $body,
                ActionPlanEvent::ProgressReported($e) => $body,
                ActionPlanEvent::CommitmentAssessed($e) => $body,
                ActionPlanEvent::Closed($e) => $body,
                ActionPlanEvent::CommitmentAmended($e) => $body,
                ActionPlanEvent::CommitmentWithdrawn($e) => $body,
                ActionPlanEvent::MilestoneAmended($e) => $body,
                ActionPlanEvent::MilestoneWithdrawn($e) => $body,
                ActionPlanEvent::ProposalsTaken($e) => $body,
                ActionPlanEvent::Drafted($e) => $body,
                ActionPlanEvent::ForumMemberJoined($e) => $body,
                ActionPlanEvent::ForumMemberLeft($e) => $body,
                ActionPlanEvent::CoChairNamed($e) => $body,
                ActionPlanEvent::DraftAdopted($e) => $body,
            },
            Event::Budget(event) => match event {
                BudgetEvent::Announced($e) => $body,
                BudgetEvent::ProjectSubmitted($e) => $body,
                BudgetEvent::ProjectReviewed($e) => $body,
                BudgetEvent::BallotCast($e) => $body,
                BudgetEvent::ResultsDeclared($e) => $body,
                BudgetEvent::ProjectFunded($e) => $body,
                BudgetEvent::ProgressReported($e) => $body,
                BudgetEvent::Closed($e) => $body,
            },
        }
    };
}

fn serialize_payload<F: postcard::ser_flavors::Flavor>(
    event: &Event,
    out: F,
) -> postcard::Result<F::Output> {
    with_payload!(event, e => postcard::serialize_with_flavor(e, out))
}

/// An event serialises as its payload struct alone (its type is the envelope's): with a
/// self-describing format (JSON) this is the decoded payload `audit decode` writes.
impl serde::Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        with_payload!(self, e => serde::Serialize::serialize(e, serializer))
    }
}

/// A postcard output that compares what is written with `expected` instead of storing it:
/// checking that a decoded payload was canonical costs no allocation.
struct SameAs<'a> {
    expected: &'a [u8],
    at: usize,
    same: bool,
}

impl postcard::ser_flavors::Flavor for SameAs<'_> {
    type Output = bool;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let end = self.at.saturating_add(data.len());
        self.same &= self.expected.get(self.at..end) == Some(data);
        self.at = end;
        Ok(())
    }

    /// One byte at a time is how serde writes arrays (a pseudonym tag is 32 pushes): compare
    /// the byte itself, not a one-byte slice.
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.same &= self.expected.get(self.at) == Some(&data);
        self.at = self.at.saturating_add(1);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<bool> {
        Ok(self.same && self.at == self.expected.len())
    }
}

/// Whether `event` encodes to exactly `payload`.
fn encodes_to(event: &Event, payload: &[u8]) -> bool {
    let out = SameAs {
        expected: payload,
        at: 0,
        same: true,
    };
    serialize_payload(event, out).unwrap_or(false)
}

/// Decodes a payload of the type's current schema version (older ones are brought to it by
/// `crate::schema` first). Never panics: malformed or truncated bytes, trailing bytes,
/// non-canonical encodings and out-of-bounds fields are errors.
///
/// Postcard alone accepts over-long varints, so one event could have several encodings; the
/// payload is re-encoded and compared, so every accepted payload is the only encoding of its
/// event (one extra encode per decode, well under a microsecond).
pub(crate) fn decode_current(event_type: EventType, payload: &[u8]) -> Result<Event, DecodeError> {
    use EventType as T;
    let type_code = event_type.number();
    if let Some(event) = read_by_hand(event_type, payload) {
        return checked(event, type_code);
    }
    let bytes = payload;
    let event: Event = match event_type {
        T::NonWorkingDatesSet => CalendarEvent::NonWorkingDatesSet(read(type_code, bytes)?).into(),
        T::PetitionFiled => PetitionEvent::Filed(read(type_code, bytes)?).into(),
        T::PetitionPublished => PetitionEvent::Published(read(type_code, bytes)?).into(),
        T::PetitionRejected => PetitionEvent::Rejected(read(type_code, bytes)?).into(),
        T::PetitionSigned => PetitionEvent::Signed(read(type_code, bytes)?).into(),
        T::SignatureThresholdReached => {
            PetitionEvent::ThresholdReached(read(type_code, bytes)?).into()
        }
        T::CollectionClosedWithoutThreshold => {
            PetitionEvent::CollectionClosed(read(type_code, bytes)?).into()
        }
        T::ConsiderationStarted => {
            PetitionEvent::ConsiderationStarted(read(type_code, bytes)?).into()
        }
        T::PetitionAnswered => PetitionEvent::Answered(read(type_code, bytes)?).into(),
        T::ImplementationUpdated => {
            PetitionEvent::ImplementationUpdated(read(type_code, bytes)?).into()
        }
        T::DialogueAnnounced => DialogueEvent::Announced(read(type_code, bytes)?).into(),
        T::ContributionSubmitted => {
            DialogueEvent::ContributionSubmitted(read(type_code, bytes)?).into()
        }
        T::ContributionAnswered => {
            DialogueEvent::ContributionAnswered(read(type_code, bytes)?).into()
        }
        T::DialogueClosed => DialogueEvent::Closed(read(type_code, bytes)?).into(),
        T::OutcomeReportPublished => {
            DialogueEvent::OutcomePublished(read(type_code, bytes)?).into()
        }
        T::PlanAdopted => ActionPlanEvent::Adopted(read(type_code, bytes)?).into(),
        T::CommitmentAdded => ActionPlanEvent::CommitmentAdded(read(type_code, bytes)?).into(),
        T::MilestoneAdded => ActionPlanEvent::MilestoneAdded(read(type_code, bytes)?).into(),
        T::ProgressReported => ActionPlanEvent::ProgressReported(read(type_code, bytes)?).into(),
        T::CommitmentAssessed => {
            ActionPlanEvent::CommitmentAssessed(read(type_code, bytes)?).into()
        }
        T::PlanClosed => ActionPlanEvent::Closed(read(type_code, bytes)?).into(),
        T::CommitmentAmended => ActionPlanEvent::CommitmentAmended(read(type_code, bytes)?).into(),
        T::CommitmentWithdrawn => {
            ActionPlanEvent::CommitmentWithdrawn(read(type_code, bytes)?).into()
        }
        T::MilestoneAmended => ActionPlanEvent::MilestoneAmended(read(type_code, bytes)?).into(),
        T::MilestoneWithdrawn => {
            ActionPlanEvent::MilestoneWithdrawn(read(type_code, bytes)?).into()
        }
        T::ProposalsTaken => ActionPlanEvent::ProposalsTaken(read(type_code, bytes)?).into(),
        T::PlanDrafted => ActionPlanEvent::Drafted(read(type_code, bytes)?).into(),
        T::ForumMemberJoined => ActionPlanEvent::ForumMemberJoined(read(type_code, bytes)?).into(),
        T::ForumMemberLeft => ActionPlanEvent::ForumMemberLeft(read(type_code, bytes)?).into(),
        T::CoChairNamed => ActionPlanEvent::CoChairNamed(read(type_code, bytes)?).into(),
        T::DraftAdopted => ActionPlanEvent::DraftAdopted(read(type_code, bytes)?).into(),
        T::RoundAnnounced => BudgetEvent::Announced(read(type_code, bytes)?).into(),
        T::ProjectSubmitted => BudgetEvent::ProjectSubmitted(read(type_code, bytes)?).into(),
        T::ProjectReviewed => BudgetEvent::ProjectReviewed(read(type_code, bytes)?).into(),
        T::BallotCast => BudgetEvent::BallotCast(read(type_code, bytes)?).into(),
        T::ResultsDeclared => BudgetEvent::ResultsDeclared(read(type_code, bytes)?).into(),
        T::ProjectFunded => BudgetEvent::ProjectFunded(read(type_code, bytes)?).into(),
        T::BudgetProgressReported => BudgetEvent::ProgressReported(read(type_code, bytes)?).into(),
        T::RoundClosed => BudgetEvent::Closed(read(type_code, bytes)?).into(),
    };
    let event = checked(event, type_code)?;
    if !encodes_to(&event, payload) {
        return Err(DecodeError::NonCanonical { type_code });
    }
    Ok(event)
}

/// The payloads of the most frequent events (a petition's signatures: hundreds for each
/// petition filed), read by hand ([`event_store_core::postcard_read`]) when they are the one
/// canonical encoding of a whole event; `None` sends any other bytes, and every other type,
/// through serde and the re-encoding check, which say what is wrong. The tests hold the two
/// paths to the same events.
fn read_by_hand(event_type: EventType, payload: &[u8]) -> Option<Event> {
    use crate::ids::PetitionId;
    use crate::petition::PetitionSigned;
    use crate::pseudonym::PseudonymTag;
    use event_store_core::postcard_read::Reader;
    if event_type != EventType::PetitionSigned {
        return None;
    }
    let mut reader = Reader::new(payload);
    let petition_id = reader.bytes("petition_id").ok()?;
    let signer = reader.array::<32>("signer").ok()?;
    let at = reader.i64("at").ok()?;
    if !reader.rest().is_empty() || !reader.canonical() {
        return None;
    }
    let signed = PetitionSigned {
        petition_id: PetitionId::from_slice(petition_id)?,
        signer: PseudonymTag(signer),
        at: Timestamp(at),
    };
    Some(PetitionEvent::Signed(signed).into())
}

/// `event` if it keeps the domain's field rules.
fn checked(event: Event, type_code: u16) -> Result<Event, DecodeError> {
    match event.check() {
        Ok(()) => Ok(event),
        Err(DomainError::Invalid { field, rule }) => Err(DecodeError::Invalid {
            type_code,
            field,
            rule,
        }),
        // `check` reports only field violations; keep any other error rather than drop it.
        Err(other) => Err(DecodeError::Malformed {
            type_code,
            reason: other.to_string(),
        }),
    }
}

impl Event {
    /// Who acted for the council, if this is an official event that records it.
    pub fn acted_by(&self) -> Option<&Actor> {
        self.actor_slot().and_then(|slot| slot.as_ref())
    }

    /// Records `actor` as who acted, on an official event; `false` (and unchanged) on one a
    /// resident or the node's clock records, which has no such field.
    pub fn attribute(&mut self, actor: Option<Actor>) -> bool {
        match self.actor_slot_mut() {
            Some(slot) => {
                *slot = actor;
                true
            }
            None => false,
        }
    }

    /// Whether this is an official event, which records who acted for the council.
    pub fn is_official(&self) -> bool {
        self.actor_slot().is_some()
    }
}

/// The official events: each has `acted_by: Option<Actor>` (`crate::actor`) as its last field.
macro_rules! actor_slots {
    ($($outer:ident($inner:ident :: $variant:ident)),+ $(,)?) => {
        impl Event {
            fn actor_slot(&self) -> Option<&Option<Actor>> {
                use crate::action_plan::ActionPlanEvent;
                use crate::budget::BudgetEvent;
                use crate::dialogue::DialogueEvent;
                use crate::petition::PetitionEvent;
                match self {
                    $(Event::$outer($inner::$variant(e)) => Some(&e.acted_by),)+
                    _ => None,
                }
            }

            fn actor_slot_mut(&mut self) -> Option<&mut Option<Actor>> {
                use crate::action_plan::ActionPlanEvent;
                use crate::budget::BudgetEvent;
                use crate::dialogue::DialogueEvent;
                use crate::petition::PetitionEvent;
                match self {
                    $(Event::$outer($inner::$variant(e)) => Some(&mut e.acted_by),)+
                    _ => None,
                }
            }
        }
    };
}

actor_slots! {
    Petition(PetitionEvent::Published),
    Petition(PetitionEvent::Rejected),
    Petition(PetitionEvent::ConsiderationStarted),
    Petition(PetitionEvent::Answered),
    Petition(PetitionEvent::ImplementationUpdated),
    Dialogue(DialogueEvent::Announced),
    Dialogue(DialogueEvent::ContributionAnswered),
    Dialogue(DialogueEvent::Closed),
    Dialogue(DialogueEvent::OutcomePublished),
    ActionPlan(ActionPlanEvent::Adopted),
    ActionPlan(ActionPlanEvent::CommitmentAdded),
    ActionPlan(ActionPlanEvent::MilestoneAdded),
    ActionPlan(ActionPlanEvent::ProgressReported),
    ActionPlan(ActionPlanEvent::CommitmentAssessed),
    ActionPlan(ActionPlanEvent::Closed),
    ActionPlan(ActionPlanEvent::CommitmentAmended),
    ActionPlan(ActionPlanEvent::CommitmentWithdrawn),
    ActionPlan(ActionPlanEvent::MilestoneAmended),
    ActionPlan(ActionPlanEvent::MilestoneWithdrawn),
    ActionPlan(ActionPlanEvent::ProposalsTaken),
    ActionPlan(ActionPlanEvent::Drafted),
    ActionPlan(ActionPlanEvent::ForumMemberJoined),
    ActionPlan(ActionPlanEvent::ForumMemberLeft),
    ActionPlan(ActionPlanEvent::CoChairNamed),
    ActionPlan(ActionPlanEvent::DraftAdopted),
    Budget(BudgetEvent::Announced),
    Budget(BudgetEvent::ProjectReviewed),
    Budget(BudgetEvent::ResultsDeclared),
    Budget(BudgetEvent::ProjectFunded),
    Budget(BudgetEvent::ProgressReported),
    Budget(BudgetEvent::Closed),
}

fn read<T: DeserializeOwned>(type_code: u16, payload: &[u8]) -> Result<T, DecodeError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(payload).map_err(|error| DecodeError::Malformed {
            type_code,
            reason: error.to_string(),
        })?;
    if !rest.is_empty() {
        let count = u64::try_from(rest.len()).unwrap_or(u64::MAX);
        return Err(DecodeError::TrailingBytes { type_code, count });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ids::PetitionId;
    use crate::petition::PetitionSigned;
    use crate::pseudonym::PseudonymTag;

    /// What serde and the re-encoding check make of a signature's payload.
    fn by_serde(payload: &[u8]) -> Option<Event> {
        let signed: PetitionSigned = read(0, payload).ok()?;
        let event: Event = PetitionEvent::Signed(signed).into();
        encodes_to(&event, payload).then_some(event)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The hand-written reading of a signature gives exactly the events serde gives, and
        /// for every whole, canonical payload, whatever its fields: changed bytes, cut or
        /// padded payloads and overlong varints included.
        #[test]
        fn a_signature_read_by_hand_is_the_one_serde_reads(
            id in any::<u128>(),
            signer in any::<[u8; 32]>(),
            at in any::<i64>(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
            cut in any::<usize>(),
            pad in 0usize..3,
        ) {
            let event: Event = PetitionEvent::Signed(PetitionSigned {
                petition_id: PetitionId(Uuid::from_u128(id)),
                signer: PseudonymTag(signer),
                at: Timestamp(at),
            })
            .into();
            let payload = encode(&event).payload;
            let by_hand = read_by_hand(EventType::PetitionSigned, &payload);
            prop_assert_eq!(by_hand.as_ref(), Some(&event));
            prop_assert_eq!(by_serde(&payload), Some(event.clone()));
            let mut changed = payload.clone();
            for (at, byte) in &flips {
                let i = at % changed.len();
                changed[i] = *byte;
            }
            let cut = &payload[..cut % (payload.len() + 1)];
            let mut padded = payload.clone();
            padded.extend(std::iter::repeat_n(0, pad));
            // The id's length (16) and the time written overlong, one byte more each.
            let mut overlong = vec![0x90, 0x00];
            overlong.extend_from_slice(&payload[1..]);
            let mut late = payload[..49].to_vec();
            let time = &payload[49..];
            late.extend_from_slice(&time[..time.len() - 1]);
            late.extend([time[time.len() - 1] | 0x80, 0x00]);
            for bytes in [&changed[..], cut, &padded, &overlong, &late] {
                let by_hand = read_by_hand(EventType::PetitionSigned, bytes);
                prop_assert_eq!(by_hand, by_serde(bytes));
            }
        }
    }

    /// A signature's payload is read by hand as a signature only.
    #[test]
    fn only_signatures_are_read_by_hand() {
        let event: Event = PetitionEvent::Signed(PetitionSigned {
            petition_id: PetitionId(Uuid::from_u128(7)),
            signer: PseudonymTag([3; 32]),
            at: Timestamp(1_764_151_200_000_000),
        })
        .into();
        let payload = encode(&event).payload;
        for event_type in EventType::ALL {
            let expected = (event_type == EventType::PetitionSigned).then(|| event.clone());
            assert_eq!(
                read_by_hand(event_type, &payload),
                expected,
                "{event_type:?}"
            );
        }
    }
}
