//! Reading stored events: the one path from an envelope's bytes, through the upcasters, to a
//! domain [`Event`], used by the node, the association, the auditor and recompute alike.
//!
//! Stored bytes are never rewritten. A payload written under an older schema version of its
//! type is brought to the current one by the registry's upcasters on read, after its hash was
//! checked, and only then decoded into today's Rust type; the canonical-encoding check compares
//! with the upcast bytes. Every type's current version is [`EventType::schema_version`]; a
//! version with no path to it (older with a step missing, or newer than this code) is
//! [`DecodeError::UnsupportedSchemaVersion`].

use std::sync::LazyLock;

use event_store_core::{
    EnvelopeError, EnvelopeRef, EventTypeCode, PayloadHeader, SchemaVersion, UpcastError, Upcasters,
};

use crate::error::DecodeError;
use crate::event::{Event, EventType, SCHEMA_VERSION_1, decode_current};
use crate::legacy;

/// The registry this build of the domain reads with: every event type at its current schema
/// version, and each step from an older version (`crate::legacy`).
pub fn upcasters() -> &'static Upcasters {
    static REGISTRY: LazyLock<Upcasters> = LazyLock::new(|| {
        let registry = EventType::ALL
            .into_iter()
            .fold(Upcasters::new(), |registry, t| {
                registry.current(t.code(), t.schema_version())
            })
            .step(
                EventType::PetitionFiled.code(),
                SCHEMA_VERSION_1,
                legacy::petition_filed_1_to_2,
            )
            .step(
                EventType::PetitionPublished.code(),
                SCHEMA_VERSION_1,
                legacy::petition_published_1_to_2,
            )
            .step(
                EventType::ContributionSubmitted.code(),
                SCHEMA_VERSION_1,
                legacy::contribution_submitted_1_to_2,
            )
            .step(
                EventType::ContributionAnswered.code(),
                SCHEMA_VERSION_1,
                legacy::contribution_answered_1_to_2,
            );
        no_actor_yet_steps(registry)
    });
    &REGISTRY
}

/// Registers, for each official event type, the step from the version before `acted_by`
/// (`crate::actor`) to the one with it.
fn no_actor_yet_steps(registry: Upcasters) -> Upcasters {
    EventType::ALL
        .into_iter()
        .fold(registry, |registry, t| match t.actor_since() {
            Some(since) => {
                registry.step(t.code(), SchemaVersion(since.0 - 1), legacy::no_actor_yet)
            }
            None => registry,
        })
}

/// Decodes a payload of any schema version this build can read, through [`upcasters`].
pub fn decode(
    event_type: EventTypeCode,
    schema_version: SchemaVersion,
    payload: &[u8],
) -> Result<Event, DecodeError> {
    match EventType::from_code(event_type) {
        // The current form, which every event this build writes has, needs no step: the
        // registry declares each type current at its `schema_version()`.
        Some(known) if schema_version == known.schema_version() => decode_current(known, payload),
        _ => decode_with(upcasters(), event_type, schema_version, payload),
    }
}

/// [`decode`] through another registry (a test of a schema change declares the newer
/// version current there, with the step from the older one).
pub fn decode_with(
    registry: &Upcasters,
    event_type: EventTypeCode,
    schema_version: SchemaVersion,
    payload: &[u8],
) -> Result<Event, DecodeError> {
    let type_code = event_type.0;
    let Some(known) = EventType::from_code(event_type) else {
        return Err(DecodeError::UnknownTypeCode { type_code });
    };
    let unsupported = || DecodeError::UnsupportedSchemaVersion {
        type_code,
        schema_version: schema_version.0,
    };
    let (_, current) = registry
        .upcast(event_type, schema_version, payload)
        .map_err(|e| match e {
            UpcastError::UnknownType(_)
            | UpcastError::FromTheFuture { .. }
            | UpcastError::MissingStep { .. } => unsupported(),
            UpcastError::Payload { reason, .. } => DecodeError::Malformed { type_code, reason },
        })?;
    let event = decode_current(known, &current)?;
    // An event from before `acted_by` was upcast with `None` appended: an actor read there
    // came from bytes trailing the older form.
    if known
        .actor_since()
        .is_some_and(|since| schema_version < since)
        && event.acted_by().is_some()
    {
        let mut unattributed = event;
        unattributed.attribute(None);
        let older_len = crate::event::encode(&unattributed).payload.len() - 1;
        let count = u64::try_from(payload.len().saturating_sub(older_len)).unwrap_or(u64::MAX);
        return Err(DecodeError::TrailingBytes { type_code, count });
    }
    Ok(event)
}

/// Decodes the payload of the envelope `bytes` whose header a reader kept (the association's
/// verifier decodes each envelope once and hands this on to its commit).
pub fn decode_payload(header: PayloadHeader, bytes: &[u8]) -> Result<Event, DecodeError> {
    decode(
        header.event_type,
        header.schema_version,
        header.payload(bytes),
    )
}

/// A stored event, opened: its envelope (borrowing the bytes) and its domain event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded<'a> {
    pub envelope: EnvelopeRef<'a>,
    pub event: Event,
}

/// Why stored bytes are not a readable event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Payload(#[from] DecodeError),
}

/// Decodes an envelope's header and its payload: the one way every reader opens stored bytes.
pub fn open(bytes: &[u8]) -> Result<Recorded<'_>, OpenError> {
    let envelope = EnvelopeRef::decode(bytes)?;
    let event = decode(
        envelope.event_type,
        envelope.schema_version,
        envelope.payload,
    )?;
    Ok(Recorded { envelope, event })
}
