//! Given / when / then on plain values, for tests of the domain rules here and in the crates
//! that drive them: given past events, when a command arrives, then these events (or this
//! error). Assertion failures panic, as test helpers do.

use std::fmt;

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::event::{Event, encode};
use crate::schema::decode;

/// Past events of one stream, folded into a state.
pub struct Given<A: Aggregate> {
    state: A::State,
}

/// Starts a test from these past events.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let events: Vec<A::Event> = events.into_iter().collect();
    Given {
        state: A::fold(&events),
    }
}

impl<A: Aggregate> Given<A> {
    /// The state the past events fold to.
    pub fn state(&self) -> &A::State {
        &self.state
    }

    /// Decides `command` in that state.
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = A::decide(&self.state, command);
        Then {
            state: self.state,
            result,
        }
    }
}

/// The outcome of a command, to compare with what the rules should give.
pub struct Then<A: Aggregate> {
    state: A::State,
    result: Result<Vec<A::Event>, DomainError>,
}

impl<A: Aggregate> Then<A> {
    /// Asserts the command produced exactly `expected`, that each event survives encoding and
    /// decoding unchanged, and returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A::State {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        let before = self.state.clone();
        let events = self.then_ok();
        assert_eq!(events, expected, "the command produced other events");
        events.iter().fold(before, A::evolve)
    }

    /// Asserts the command succeeded, checks its events round-trip through the encoding, and
    /// returns them (for events with computed fields, e.g. deadlines).
    #[track_caller]
    pub fn then_ok(self) -> Vec<A::Event> {
        match self.result {
            Ok(events) => {
                for event in &events {
                    assert_round_trips(event.clone().into());
                }
                events
            }
            Err(error) => panic!("expected events, got error: {error}"),
        }
    }

    /// Asserts the command was refused with `expected`.
    #[track_caller]
    pub fn then_error(self, expected: DomainError) {
        match self.result {
            Ok(events) => panic!("expected error {expected:?}, got events {events:?}"),
            Err(error) => assert_eq!(error, expected),
        }
    }
}

#[track_caller]
fn assert_round_trips(event: Event) {
    let encoded = encode(&event);
    let decoded = decode(encoded.event_type, encoded.schema_version, &encoded.payload);
    assert_eq!(
        decoded,
        Ok(event),
        "the event does not survive encoding and decoding"
    );
}

impl<A: Aggregate> fmt::Debug for Given<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Given").field("state", &self.state).finish()
    }
}

impl<A: Aggregate> fmt::Debug for Then<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Then")
            .field("state", &self.state)
            .field("result", &self.result)
            .finish()
    }
}
