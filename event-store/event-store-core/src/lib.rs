//! The formats of vidkryto's verifiable log, with no I/O and no async: identifiers, the event
//! envelope and its canonical bytes, the RFC 6962 Merkle tree, signed checkpoints and upcasting.
//! Node, association and auditor all depend on this crate, so what it accepts is the law.

pub mod checkpoint;
pub mod envelope;
pub mod ids;
pub mod merkle;
pub mod postcard_read;
pub mod upcast;

pub use checkpoint::{
    Checkpoint, CheckpointError, NoteSigner, NoteVerifier, SignedCheckpoint, WitnessVerifier,
    origin_for,
};
pub use envelope::{
    ENVELOPE_LEN_MAX, ENVELOPE_VERSION, Envelope, EnvelopeError, EnvelopeRef, PAYLOAD_LEN_MAX,
    PayloadHeader,
};
pub use ids::{
    EventId, EventTypeCode, LogSeq, MunicipalityCode, MunicipalityCodeError, SchemaVersion,
    StreamId, StreamVersion, Timestamp,
};
pub use merkle::{Frontier, Hash, NodeId, ProofError};
pub use upcast::{UpcastError, UpcastFn, Upcasters};
