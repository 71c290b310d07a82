//! Schema evolution: a registry of upcasters, each turning one event type's payload from one
//! schema version to the next, so bytes written years ago still decode into today's types.
//! Stored bytes are never rewritten; upcasting happens on read, after hashes are checked.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::ids::{EventTypeCode, SchemaVersion};

/// Upgrades one payload from schema version `v` to `v + 1`.
pub type UpcastFn = fn(&[u8]) -> Result<Vec<u8>, UpcastError>;

/// Why a payload could not be brought to the current schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    #[error("event type {0} is unknown")]
    UnknownType(u16),
    #[error("event type {event_type} has schema version {found}, newer than the current {current}")]
    FromTheFuture {
        event_type: u16,
        found: u16,
        current: u16,
    },
    #[error("event type {event_type} has no upcaster from schema version {from}")]
    MissingStep { event_type: u16, from: u16 },
    #[error("payload of event type {event_type} version {from} does not upcast: {reason}")]
    Payload {
        event_type: u16,
        from: u16,
        reason: String,
    },
}

/// The current schema version of each event type and the steps to reach it.
#[derive(Clone, Debug, Default)]
pub struct Upcasters {
    current: BTreeMap<EventTypeCode, SchemaVersion>,
    steps: BTreeMap<(EventTypeCode, SchemaVersion), UpcastFn>,
}

impl Upcasters {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares an event type and its current schema version.
    pub fn current(mut self, event_type: EventTypeCode, version: SchemaVersion) -> Self {
        self.current.insert(event_type, version);
        self
    }

    /// Registers the step from `from` to `from + 1` for an event type.
    pub fn step(mut self, event_type: EventTypeCode, from: SchemaVersion, f: UpcastFn) -> Self {
        self.steps.insert((event_type, from), f);
        self
    }

    /// Brings a payload to the current schema version of its type. Borrows when no step is
    /// needed. The number of steps is bounded by the version distance (at most `u16::MAX`).
    pub fn upcast<'a>(
        &self,
        event_type: EventTypeCode,
        version: SchemaVersion,
        payload: &'a [u8],
    ) -> Result<(SchemaVersion, Cow<'a, [u8]>), UpcastError> {
        let current = *self
            .current
            .get(&event_type)
            .ok_or(UpcastError::UnknownType(event_type.0))?;
        if version > current {
            return Err(UpcastError::FromTheFuture {
                event_type: event_type.0,
                found: version.0,
                current: current.0,
            });
        }
        let mut v = version;
        let mut bytes = Cow::Borrowed(payload);
        while v < current {
            let step = self
                .steps
                .get(&(event_type, v))
                .ok_or(UpcastError::MissingStep {
                    event_type: event_type.0,
                    from: v.0,
                })?;
            bytes = Cow::Owned(step(&bytes)?);
            v = SchemaVersion(v.0 + 1);
        }
        Ok((v, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    // An example evolution: version 1 of "petition answered" had only the text; version 2
    // added the responder's role, defaulting old events to "unknown".
    #[derive(Serialize, Deserialize)]
    struct AnsweredV1 {
        text: String,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct AnsweredV2 {
        text: String,
        role: String,
    }

    const ANSWERED: EventTypeCode = EventTypeCode(7);

    fn v1_to_v2(bytes: &[u8]) -> Result<Vec<u8>, UpcastError> {
        let payload = |reason: String| UpcastError::Payload {
            event_type: 7,
            from: 1,
            reason,
        };
        let old: AnsweredV1 = postcard::from_bytes(bytes).map_err(|e| payload(e.to_string()))?;
        postcard::to_stdvec(&AnsweredV2 {
            text: old.text,
            role: "unknown".into(),
        })
        .map_err(|e| payload(e.to_string()))
    }

    fn registry() -> Upcasters {
        Upcasters::new().current(ANSWERED, SchemaVersion(2)).step(
            ANSWERED,
            SchemaVersion(1),
            v1_to_v2,
        )
    }

    #[test]
    fn old_payloads_reach_the_current_version() {
        let old = postcard::to_stdvec(&AnsweredV1 {
            text: "так".into()
        })
        .unwrap();
        let (v, bytes) = registry().upcast(ANSWERED, SchemaVersion(1), &old).unwrap();
        assert_eq!(v, SchemaVersion(2));
        let new: AnsweredV2 = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            new,
            AnsweredV2 {
                text: "так".into(),
                role: "unknown".into()
            }
        );
    }

    #[test]
    fn current_payloads_are_borrowed() {
        let cur = postcard::to_stdvec(&AnsweredV2 {
            text: "x".into(),
            role: "mayor".into(),
        })
        .unwrap();
        let (_, bytes) = registry().upcast(ANSWERED, SchemaVersion(2), &cur).unwrap();
        assert!(matches!(bytes, Cow::Borrowed(_)));
    }

    #[test]
    fn unknown_future_and_broken_payloads_are_errors() {
        let r = registry();
        assert_eq!(
            r.upcast(EventTypeCode(99), SchemaVersion(1), b""),
            Err(UpcastError::UnknownType(99))
        );
        assert!(matches!(
            r.upcast(ANSWERED, SchemaVersion(3), b""),
            Err(UpcastError::FromTheFuture { .. })
        ));
        assert!(matches!(
            r.upcast(ANSWERED, SchemaVersion(1), &[0xff]),
            Err(UpcastError::Payload { .. })
        ));
        let gap = Upcasters::new().current(ANSWERED, SchemaVersion(3)).step(
            ANSWERED,
            SchemaVersion(1),
            v1_to_v2,
        );
        let old = postcard::to_stdvec(&AnsweredV1 { text: "a".into() }).unwrap();
        assert_eq!(
            gap.upcast(ANSWERED, SchemaVersion(1), &old),
            Err(UpcastError::MissingStep {
                event_type: 7,
                from: 2
            })
        );
    }
}
