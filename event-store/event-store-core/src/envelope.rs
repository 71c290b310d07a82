//! The event envelope and its canonical bytes: what a node stores, hashes into the Merkle tree,
//! publishes and what every verifier decodes. The layout is frozen (see `docs/log-format.md`
//! via ARCHITECTURE.md); a change is a new envelope version, never an edit of this one.

use serde::Serialize;

use crate::ids::{
    EventId, EventTypeCode, LogSeq, MunicipalityCode, SchemaVersion, StreamId, StreamVersion,
    Timestamp,
};
use crate::postcard_read::{ReadError, Reader};

/// The only envelope version written today. It is the first byte of every stored event.
pub const ENVELOPE_VERSION: u8 = 1;

/// Largest payload accepted, in bytes. The domain's largest event (a petition answer or an
/// outcome report of 20,000 characters, Cyrillic at two bytes each, plus its fields) is about
/// 80 KiB; the bound leaves room and still keeps a read batch within a few megabytes.
pub const PAYLOAD_LEN_MAX: usize = 128 * 1024;

/// Largest encoded envelope accepted: the payload plus the fixed fields with room to spare.
pub const ENVELOPE_LEN_MAX: usize = PAYLOAD_LEN_MAX + 256;

impl From<ReadError> for EnvelopeError {
    fn from(e: ReadError) -> Self {
        Self::Malformed(e.to_string())
    }
}

/// One event as stored in a node's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub event_type: EventTypeCode,
    pub schema_version: SchemaVersion,
    pub municipality: MunicipalityCode,
    pub seq: LogSeq,
    pub stream_id: StreamId,
    pub stream_version: StreamVersion,
    pub event_id: EventId,
    pub recorded_at: Timestamp,
    pub payload: Vec<u8>,
}

/// Why bytes are not a valid envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope is empty")]
    Empty,
    #[error("envelope of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    #[error("envelope bytes do not decode: {0}")]
    Malformed(String),
    #[error("envelope has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge { len: usize, max: usize },
    #[error("log sequence 0 is not valid, the log starts at 1")]
    ZeroSeq,
    #[error("stream version 0 is not valid, a stream starts at 1")]
    ZeroStreamVersion,
    #[error("envelope is not in canonical encoding")]
    NotCanonical,
}

/// The wire layout of envelope version 1, in field order. Postcard writes integers as varints,
/// the code as a length-prefixed string, ids as 16 raw bytes, the payload as length + bytes.
/// Encoding goes through serde; decoding reads the same fields by hand
/// ([`EnvelopeRef::decode`]), and the tests decode with serde to hold the two together.
#[derive(Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
struct WireV1<'a> {
    version: u8,
    event_type: u16,
    schema_version: u16,
    municipality: &'a str,
    seq: u64,
    stream_id: [u8; 16],
    stream_version: u64,
    event_id: [u8; 16],
    recorded_at_us: i64,
    #[cfg_attr(test, serde(borrow))]
    payload: &'a [u8],
}

impl Envelope {
    /// The canonical bytes of this envelope.
    pub fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        if self.payload.len() > PAYLOAD_LEN_MAX {
            return Err(EnvelopeError::PayloadTooLarge {
                len: self.payload.len(),
                max: PAYLOAD_LEN_MAX,
            });
        }
        if self.seq.0 == 0 {
            return Err(EnvelopeError::ZeroSeq);
        }
        if self.stream_version.0 == 0 {
            return Err(EnvelopeError::ZeroStreamVersion);
        }
        let wire = WireV1 {
            version: ENVELOPE_VERSION,
            event_type: self.event_type.0,
            schema_version: self.schema_version.0,
            municipality: self.municipality.as_str(),
            seq: self.seq.0,
            stream_id: *self.stream_id.as_bytes(),
            stream_version: self.stream_version.0,
            event_id: *self.event_id.as_bytes(),
            recorded_at_us: self.recorded_at.0,
            payload: &self.payload,
        };
        postcard::to_stdvec(&wire).map_err(|e| EnvelopeError::Malformed(e.to_string()))
    }

    /// Decodes stored bytes. Never panics: garbage, truncated, oversized or trailing bytes are
    /// an error. Only canonical encodings are accepted, so one event has exactly one byte form
    /// and therefore exactly one leaf hash.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        // Postcard varints admit overlong forms, the one way two byte strings can hold one
        // envelope; the decoder notes any it reads.
        match EnvelopeRef::decode_noting_form(bytes)? {
            (envelope, true) => Ok(envelope.to_owned()),
            (_, false) => Err(EnvelopeError::NotCanonical),
        }
    }

    /// Decodes stored bytes without the canonical-form check. Callers that have already bound
    /// the bytes to a verified leaf hash use this: a hash fixes the bytes, whatever their form.
    pub fn decode_unchecked_canonical(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        EnvelopeRef::decode(bytes).map(|r| r.to_owned())
    }
}

/// A decoded envelope borrowing its payload from the stored bytes: what verifiers use to check
/// millions of events without copying them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeRef<'a> {
    pub event_type: EventTypeCode,
    pub schema_version: SchemaVersion,
    pub municipality: MunicipalityCode,
    pub seq: LogSeq,
    pub stream_id: StreamId,
    pub stream_version: StreamVersion,
    pub event_id: EventId,
    pub recorded_at: Timestamp,
    pub payload: &'a [u8],
}

impl<'a> EnvelopeRef<'a> {
    /// Decodes stored bytes without copying the payload and without the canonical-form check
    /// (see [`Envelope::decode`]). Never panics.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        Self::decode_noting_form(bytes).map(|(envelope, _)| envelope)
    }

    /// [`EnvelopeRef::decode`], and whether the bytes were canonical (no overlong varint).
    /// Reads the frozen layout of version 1 ([`WireV1`]) by hand ([`crate::postcard_read`]), as
    /// postcard reads it (the tests hold the two to the same results): every verifier decodes
    /// every envelope.
    fn decode_noting_form(bytes: &'a [u8]) -> Result<(Self, bool), EnvelopeError> {
        let Some(&version) = bytes.first() else {
            return Err(EnvelopeError::Empty);
        };
        if bytes.len() > ENVELOPE_LEN_MAX {
            return Err(EnvelopeError::TooLarge {
                len: bytes.len(),
                max: ENVELOPE_LEN_MAX,
            });
        }
        if version != ENVELOPE_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        let mut reader = Reader::new(&bytes[1..]);
        let wire = WireV1 {
            version,
            event_type: reader.u16("event_type")?,
            schema_version: reader.u16("schema_version")?,
            municipality: reader.str("municipality")?,
            seq: reader.u64("seq")?,
            stream_id: reader.array("stream_id")?,
            stream_version: reader.u64("stream_version")?,
            event_id: reader.array("event_id")?,
            recorded_at_us: reader.i64("recorded_at_us")?,
            payload: reader.bytes("payload")?,
        };
        if !reader.rest().is_empty() {
            return Err(EnvelopeError::TrailingBytes(reader.rest().len()));
        }
        if wire.payload.len() > PAYLOAD_LEN_MAX {
            return Err(EnvelopeError::PayloadTooLarge {
                len: wire.payload.len(),
                max: PAYLOAD_LEN_MAX,
            });
        }
        if wire.seq == 0 {
            return Err(EnvelopeError::ZeroSeq);
        }
        if wire.stream_version == 0 {
            return Err(EnvelopeError::ZeroStreamVersion);
        }
        let municipality = MunicipalityCode::parse(wire.municipality)
            .map_err(|e| EnvelopeError::Malformed(format!("municipality: {e}")))?;
        let envelope = Self {
            event_type: EventTypeCode(wire.event_type),
            schema_version: SchemaVersion(wire.schema_version),
            municipality,
            seq: LogSeq(wire.seq),
            stream_id: StreamId(uuid::Uuid::from_bytes(wire.stream_id)),
            stream_version: StreamVersion(wire.stream_version),
            event_id: EventId(uuid::Uuid::from_bytes(wire.event_id)),
            recorded_at: Timestamp(wire.recorded_at_us),
            payload: wire.payload,
        };
        Ok((envelope, reader.canonical()))
    }

    /// What a reader keeps to decode this envelope's payload later from the same `bytes`
    /// (the ones it was decoded from) without decoding the envelope again.
    pub fn payload_header(&self, bytes: &[u8]) -> PayloadHeader {
        // The payload is the last field and nothing may trail it, so it ends where the bytes do.
        let offset = bytes.len() - self.payload.len();
        debug_assert!(std::ptr::eq(
            bytes[offset..].as_ptr(),
            self.payload.as_ptr()
        ));
        PayloadHeader {
            event_type: self.event_type,
            schema_version: self.schema_version,
            offset: u32::try_from(offset).expect("an envelope is smaller than 4 GiB"),
        }
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Envelope {
        Envelope {
            event_type: self.event_type,
            schema_version: self.schema_version,
            municipality: self.municipality,
            seq: self.seq,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            event_id: self.event_id,
            recorded_at: self.recorded_at,
            payload: self.payload.to_vec(),
        }
    }
}

/// An envelope's header fields that say how to read its payload, and where the payload starts
/// in the envelope's bytes (see [`EnvelopeRef::payload_header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadHeader {
    pub event_type: EventTypeCode,
    pub schema_version: SchemaVersion,
    offset: u32,
}

impl PayloadHeader {
    /// The payload inside `bytes`, the envelope this header was taken from.
    pub fn payload<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        bytes.get(self.offset as usize..).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample() -> Envelope {
        Envelope {
            event_type: EventTypeCode(0x0102),
            schema_version: SchemaVersion(1),
            municipality: MunicipalityCode::parse("UA05020030000031457").unwrap(),
            seq: LogSeq(42),
            stream_id: StreamId(uuid::Uuid::from_u128(
                0x0193_0000_0000_7000_8000_0000_0000_0001,
            )),
            stream_version: StreamVersion(3),
            event_id: EventId(uuid::Uuid::from_u128(
                0x0193_8a1c_2b00_7abc_8def_0123_4567_89ab,
            )),
            recorded_at: Timestamp(1_764_151_200_000_000),
            payload: b"petition signed".to_vec(),
        }
    }

    #[test]
    fn a_payload_header_finds_the_payload_again() {
        let bytes = sample().encode().unwrap();
        let envelope = EnvelopeRef::decode(&bytes).unwrap();
        let header = envelope.payload_header(&bytes);
        assert_eq!(header.event_type, envelope.event_type);
        assert_eq!(header.schema_version, envelope.schema_version);
        assert_eq!(header.payload(&bytes), sample().payload.as_slice());
        assert_eq!(header.payload(&bytes[..1]), b"");
    }

    #[test]
    fn round_trips() {
        let envelope = sample();
        let bytes = envelope.encode().unwrap();
        assert_eq!(bytes[0], ENVELOPE_VERSION);
        assert_eq!(Envelope::decode(&bytes).unwrap(), envelope);
    }

    #[test]
    fn refuses_every_truncation() {
        let bytes = sample().encode().unwrap();
        for len in 0..bytes.len() {
            assert!(
                Envelope::decode(&bytes[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
    }

    #[test]
    fn refuses_trailing_oversized_and_unknown_versions() {
        let mut bytes = sample().encode().unwrap();
        bytes.push(0);
        assert_eq!(
            Envelope::decode(&bytes),
            Err(EnvelopeError::TrailingBytes(1))
        );
        let huge = vec![1u8; ENVELOPE_LEN_MAX + 1];
        assert!(matches!(
            Envelope::decode(&huge),
            Err(EnvelopeError::TooLarge { .. })
        ));
        let mut v2 = sample().encode().unwrap();
        v2[0] = 2;
        assert_eq!(
            Envelope::decode(&v2),
            Err(EnvelopeError::UnsupportedVersion(2))
        );
        let mut big = sample();
        big.payload = vec![0; PAYLOAD_LEN_MAX + 1];
        assert!(matches!(
            big.encode(),
            Err(EnvelopeError::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn refuses_overlong_varints() {
        let bytes = sample().encode().unwrap();
        // event_type 0x0102 is the varint [0x82, 0x02] at offset 1; an overlong form of the
        // same number is [0x82, 0x82, 0x00].
        assert_eq!(&bytes[1..3], &[0x82, 0x02]);
        let mut overlong = bytes[..1].to_vec();
        overlong.extend_from_slice(&[0x82, 0x82, 0x00]);
        overlong.extend_from_slice(&bytes[3..]);
        assert!(Envelope::decode(&overlong).is_err());
    }

    /// What postcard's own decoder makes of `bytes` as [`WireV1`], with the checks
    /// [`EnvelopeRef::decode`] makes after it, and whether re-encoding gives the same bytes:
    /// the reference the hand-written decoder is held to.
    fn by_postcard(bytes: &[u8]) -> Option<(Envelope, bool)> {
        if bytes.first() != Some(&ENVELOPE_VERSION) || bytes.len() > ENVELOPE_LEN_MAX {
            return None;
        }
        let (wire, rest): (WireV1<'_>, &[u8]) = postcard::take_from_bytes(bytes).ok()?;
        if !rest.is_empty() || wire.payload.len() > PAYLOAD_LEN_MAX {
            return None;
        }
        if wire.seq == 0 || wire.stream_version == 0 {
            return None;
        }
        let envelope = Envelope {
            event_type: EventTypeCode(wire.event_type),
            schema_version: SchemaVersion(wire.schema_version),
            municipality: MunicipalityCode::parse(wire.municipality).ok()?,
            seq: LogSeq(wire.seq),
            stream_id: StreamId(uuid::Uuid::from_bytes(wire.stream_id)),
            stream_version: StreamVersion(wire.stream_version),
            event_id: EventId(uuid::Uuid::from_bytes(wire.event_id)),
            recorded_at: Timestamp(wire.recorded_at_us),
            payload: wire.payload.to_vec(),
        };
        let canonical = envelope.encode().ok()? == bytes;
        Some((envelope, canonical))
    }

    /// Holds both decoders to one answer for `bytes`.
    fn same_as_postcard(bytes: &[u8]) -> Result<(), TestCaseError> {
        let expected = by_postcard(bytes);
        let lenient = EnvelopeRef::decode(bytes).ok().map(|e| e.to_owned());
        prop_assert_eq!(lenient.as_ref(), expected.as_ref().map(|(e, _)| e));
        let strict = Envelope::decode(bytes).ok();
        let canonical = expected.filter(|(_, canonical)| *canonical).map(|(e, _)| e);
        prop_assert_eq!(strict, canonical);
        Ok(())
    }

    /// A varint's bytes made longer by `extra` bytes of zero bits, as postcard still reads.
    fn overlong(value: u64, extra: usize) -> Vec<u8> {
        let mut out = postcard::to_stdvec(&value).unwrap();
        if extra > 0 {
            *out.last_mut().unwrap() |= 0x80;
            out.extend(std::iter::repeat_n(0x80, extra - 1));
            out.push(0);
        }
        out
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Envelope::decode(&bytes);
        }

        /// Any bytes, changed valid envelopes, and envelopes with overlong varints or wrong
        /// lengths: the hand-written decoder says what postcard says, value for value.
        #[test]
        fn decodes_as_postcard_does(
            garbage in proptest::collection::vec(any::<u8>(), 0..96),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            cut in any::<usize>(),
            fields in (any::<u16>(), any::<i64>(), 1u64.., 1u64..),
            extra in (0usize..4, 0usize..12),
        ) {
            same_as_postcard(&garbage)?;
            let mut base = sample();
            (base.event_type.0, base.seq.0, base.recorded_at.0) = (fields.0, fields.2, fields.1);
            base.stream_version = StreamVersion(fields.3);
            base.payload = garbage.clone();
            let bytes = base.encode().unwrap();
            same_as_postcard(&bytes)?;
            let mut changed = bytes.clone();
            for (at, value) in &flips {
                let i = at % changed.len();
                changed[i] = *value;
            }
            same_as_postcard(&changed)?;
            same_as_postcard(&bytes[..cut % (bytes.len() + 1)])?;
            // The event type, then the seq, written overlong (the rest as encoded).
            let mut long = vec![ENVELOPE_VERSION];
            long.extend(overlong(u64::from(fields.0), extra.0));
            long.extend(postcard::to_stdvec(&base.schema_version.0).unwrap());
            long.extend(postcard::to_stdvec(base.municipality.as_str()).unwrap());
            long.extend(overlong(fields.2, extra.1));
            let tail_at = 1
                + postcard::to_stdvec(&fields.0).unwrap().len()
                + postcard::to_stdvec(&base.schema_version.0).unwrap().len()
                + postcard::to_stdvec(base.municipality.as_str()).unwrap().len()
                + postcard::to_stdvec(&fields.2).unwrap().len();
            long.extend_from_slice(&bytes[tail_at..]);
            same_as_postcard(&long)?;
            // The event type's last byte holding bits beyond its 16.
            let mut beyond = bytes[..1].to_vec();
            beyond.extend([0xFF, 0xFF, 0x04]);
            beyond.extend_from_slice(&bytes[1 + postcard::to_stdvec(&fields.0).unwrap().len()..]);
            same_as_postcard(&beyond)?;
        }

        #[test]
        fn flipped_bytes_never_panic(index in 0usize..80, bit in 0u8..8) {
            let mut bytes = sample().encode().unwrap();
            let i = index % bytes.len();
            bytes[i] ^= 1 << bit;
            let _ = Envelope::decode(&bytes);
        }
    }
}
