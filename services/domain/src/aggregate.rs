//! The decide/evolve contract every aggregate (petition, dialogue, action plan, calendar)
//! follows, so the node, tests and auditors drive any of them the same way.

use std::fmt::Debug;

use crate::error::DomainError;
use crate::event::Event;

/// An aggregate: a state folded from its own stream's events, and the rules that turn a
/// command into new events.
///
/// `decide` and `evolve` are pure: everything that varies (time, ids, pseudonyms, the working
/// calendar) arrives in the command, so replaying the same events always gives the same state.
///
/// Every aggregate's time only moves forward: each state remembers its latest event's time,
/// and `decide` refuses a command dated earlier with [`Refusal::TimeBeforePrevious`](crate::error::Refusal::TimeBeforePrevious) (the same
/// instant is allowed), before any other rule of an existing stream is looked at. So every
/// stream's events are in time order, and "before" and "after" in the rules mean what they say.
pub trait Aggregate {
    /// What the rules need to know about the stream so far; `Default` is the empty stream.
    type State: Default + Clone + PartialEq + Debug;
    /// A request to change the stream.
    type Command: Clone + Debug;
    /// A fact recorded in the stream.
    type Event: Clone + PartialEq + Debug + Into<Event>;

    /// The events a command produces in `state`, or the rule it breaks. An empty vector means
    /// the command changes nothing.
    fn decide(state: &Self::State, command: Self::Command)
    -> Result<Vec<Self::Event>, DomainError>;

    /// The state after one event. Total: it never fails, so a verified log always folds.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The state after a stream of events, from the empty stream.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events
            .into_iter()
            .fold(Self::State::default(), Self::evolve)
    }
}

/// The petition aggregate; see [`crate::petition`].
#[derive(Debug, Clone, Copy)]
pub struct Petition;

/// The dialogue aggregate; see [`crate::dialogue`].
#[derive(Debug, Clone, Copy)]
pub struct Dialogue;

/// The OGP-Local action plan aggregate; see [`crate::action_plan`].
#[derive(Debug, Clone, Copy)]
pub struct ActionPlan;

/// A participatory budget round; see [`crate::budget`].
#[derive(Debug, Clone, Copy)]
pub struct BudgetRound;

/// The hromada's working calendar; see [`crate::calendar`].
#[derive(Debug, Clone, Copy)]
pub struct Calendar;

macro_rules! aggregate_impl {
    ($aggregate:ty, $module:ident, $state:ty, $command:ty, $event:ty) => {
        impl Aggregate for $aggregate {
            type State = $state;
            type Command = $command;
            type Event = $event;

            fn decide(
                state: &Self::State,
                command: Self::Command,
            ) -> Result<Vec<Self::Event>, DomainError> {
                crate::$module::decide(state, command)
            }

            fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
                crate::$module::evolve(state, event)
            }
        }
    };
}

aggregate_impl!(
    Petition,
    petition,
    crate::petition::PetitionState,
    crate::petition::PetitionCommand,
    crate::petition::PetitionEvent
);
aggregate_impl!(
    Dialogue,
    dialogue,
    crate::dialogue::DialogueState,
    crate::dialogue::DialogueCommand,
    crate::dialogue::DialogueEvent
);
aggregate_impl!(
    ActionPlan,
    action_plan,
    crate::action_plan::ActionPlanState,
    crate::action_plan::ActionPlanCommand,
    crate::action_plan::ActionPlanEvent
);
aggregate_impl!(
    BudgetRound,
    budget,
    crate::budget::BudgetState,
    crate::budget::BudgetCommand,
    crate::budget::BudgetEvent
);
aggregate_impl!(
    Calendar,
    calendar,
    crate::calendar::CalendarState,
    crate::calendar::CalendarCommand,
    crate::calendar::CalendarEvent
);
