//! Schema evolution goes through the decode path: a payload written under an older schema
//! version decodes through the upcaster registered for the newer form, and versions with no
//! path to the current one are refused, never guessed at.
//!
//! These tests declare a schema change of their own, beside the real ones (`tests/golden.rs`
//! checks the golden bytes of every version of those): the Rust type of `petition.signed` is
//! taken as its schema 2, and its schema 1 is an older field order, with a step from 1 to 2.

mod fixtures;

use domain::petition::{PetitionEvent, PetitionSigned};
use domain::{
    DecodeError, Event, EventType, OpenError, PetitionId, PseudonymTag, decode, decode_with,
    encode, open,
};
use event_store_core::{
    Envelope, EventId, LogSeq, MunicipalityCode, SchemaVersion, StreamId, StreamVersion, Timestamp,
    UpcastError, Upcasters,
};
use fixtures::{petition_id, utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const V1: SchemaVersion = SchemaVersion(1);
const V2: SchemaVersion = SchemaVersion(2);
const TYPE: EventType = EventType::PetitionSigned;

/// The older form: the same fields, the time first.
#[derive(Serialize, Deserialize)]
struct PetitionSignedV1 {
    at: Timestamp,
    petition_id: PetitionId,
    signer: PseudonymTag,
}

fn v1_to_v2(bytes: &[u8]) -> Result<Vec<u8>, UpcastError> {
    let fail = |reason: String| UpcastError::Payload {
        event_type: TYPE.code().0,
        from: 1,
        reason,
    };
    let old: PetitionSignedV1 = postcard::from_bytes(bytes).map_err(|e| fail(e.to_string()))?;
    postcard::to_stdvec(&PetitionSigned {
        petition_id: old.petition_id,
        signer: old.signer,
        at: old.at,
    })
    .map_err(|e| fail(e.to_string()))
}

/// The registry of a build where the type moved to schema 2.
fn registry_with_schema_2() -> Upcasters {
    EventType::ALL
        .into_iter()
        .fold(Upcasters::new(), |r, t| {
            r.current(t.code(), t.schema_version())
        })
        .current(TYPE.code(), V2)
        .step(TYPE.code(), V1, v1_to_v2)
}

fn event() -> Event {
    Event::Petition(PetitionEvent::Signed(PetitionSigned {
        petition_id: petition_id(),
        signer: PseudonymTag([7; 32]),
        at: utc("2026-03-02", 9, 0),
    }))
}

fn v1_bytes() -> Vec<u8> {
    postcard::to_stdvec(&PetitionSignedV1 {
        at: utc("2026-03-02", 9, 0),
        petition_id: petition_id(),
        signer: PseudonymTag([7; 32]),
    })
    .unwrap()
}

#[test]
fn a_schema_1_payload_decodes_through_the_upcaster_to_the_schema_2_form() {
    let registry = registry_with_schema_2();
    let old = v1_bytes();
    assert_ne!(old, encode(&event()).payload, "the old form really differs");
    assert_eq!(decode_with(&registry, TYPE.code(), V1, &old), Ok(event()));
    // The current form decodes as it is.
    let current = encode(&event()).payload;
    assert_eq!(
        decode_with(&registry, TYPE.code(), V2, &current),
        Ok(event())
    );
}

#[test]
fn versions_without_a_path_to_the_current_one_are_refused() {
    let code = TYPE.code().0;
    // This build's registry: schema 1 is current, so 2 is from the future.
    assert_eq!(
        decode(TYPE.code(), V2, &encode(&event()).payload),
        Err(DecodeError::UnsupportedSchemaVersion {
            type_code: code,
            schema_version: 2
        })
    );
    // A registry at schema 3 with no step from 2.
    let gap = registry_with_schema_2().current(TYPE.code(), SchemaVersion(3));
    assert_eq!(
        decode_with(&gap, TYPE.code(), V1, &v1_bytes()),
        Err(DecodeError::UnsupportedSchemaVersion {
            type_code: code,
            schema_version: 1
        })
    );
    // Old bytes that the step cannot read are malformed, not a panic.
    assert!(matches!(
        decode_with(&registry_with_schema_2(), TYPE.code(), V1, &[0xff, 0xff]),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn open_reads_the_envelope_and_its_payload_through_the_registry() {
    let encoded = encode(&event());
    let mut envelope = Envelope {
        event_type: encoded.event_type,
        schema_version: encoded.schema_version,
        municipality: MunicipalityCode::parse("UA05020030000031457").unwrap(),
        seq: LogSeq(7),
        stream_id: StreamId(Uuid::from_u128(1)),
        stream_version: StreamVersion(2),
        event_id: EventId(Uuid::from_u128(3)),
        recorded_at: utc("2026-03-02", 9, 0),
        payload: encoded.payload,
    };
    let bytes = envelope.encode().unwrap();
    let opened = open(&bytes).unwrap();
    assert_eq!(opened.event, event());
    assert_eq!(opened.envelope.seq, LogSeq(7));

    envelope.schema_version = V2;
    let bytes = envelope.encode().unwrap();
    assert!(matches!(
        open(&bytes),
        Err(OpenError::Payload(
            DecodeError::UnsupportedSchemaVersion { .. }
        ))
    ));
    assert!(matches!(open(&bytes[1..]), Err(OpenError::Envelope(_))));
}
