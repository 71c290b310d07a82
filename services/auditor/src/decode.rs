//! `vidkryto audit decode`: every archived event as one JSON line, with its envelope's fields
//! and its payload decoded (the domain's own decoding, every schema version this build reads,
//! `event-store/FORMAT.md`), so anyone can read what hromadas recorded without our code's
//! types. An event whose payload does not decode is written with `payload: null` and the
//! reason, as the association skips it, never a reason to stop.

use std::io::Write;

use event_store_core::{EnvelopeRef, MunicipalityCode, merkle};
use serde_json::json;

use crate::AuditError;
use crate::archive::Archive;

/// What a decode wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decoded {
    pub municipalities: usize,
    pub events: u64,
    /// Events whose payload does not decode (written with `payload: null`).
    pub undecodable: u64,
}

/// Writes the events of `only` (every hromada of the archive when empty) to `out`, one JSON
/// object a line, in hromada and log order.
pub fn decode(
    archive: &Archive,
    only: &[MunicipalityCode],
    out: &mut impl Write,
) -> Result<Decoded, AuditError> {
    // An archive has a manifest (`audit export` writes it last): anything else is no archive.
    archive.manifest()?;
    let codes = if only.is_empty() {
        archive.municipalities()?
    } else {
        only.to_vec()
    };
    let mut decoded = Decoded::default();
    for code in codes {
        let mut next = 1u64;
        for (first, _, path) in archive.events_files(&code)? {
            if first != next {
                return Err(AuditError::Input(format!(
                    "{code}: the archive has no events from {next}"
                )));
            }
            let data = archive.read_events_file(&path)?;
            for record in crate::archive::decode_events(&path, &data)? {
                let envelope = EnvelopeRef::decode(record.bytes).map_err(|e| {
                    AuditError::Input(format!(
                        "{code} event {next}: not an envelope: {e} (run audit verify)"
                    ))
                })?;
                let payload = domain::decode(
                    envelope.event_type,
                    envelope.schema_version,
                    envelope.payload,
                );
                let type_name =
                    domain::EventType::from_code(envelope.event_type).map(domain::EventType::name);
                let mut line = json!({
                    "municipality": envelope.municipality.to_string(),
                    "seq": envelope.seq.0,
                    "event_type": envelope.event_type.0,
                    "type": type_name,
                    "schema_version": envelope.schema_version.0,
                    "stream_id": envelope.stream_id.0.to_string(),
                    "stream_version": envelope.stream_version.0,
                    "event_id": envelope.event_id.0.to_string(),
                    "recorded_at_micros": envelope.recorded_at.0,
                    "leaf_hash": hex::encode(merkle::leaf_hash(record.bytes)),
                });
                match payload {
                    Ok(event) => {
                        line["payload"] = serde_json::to_value(&event)
                            .map_err(|e| AuditError::Input(format!("{code} event {next}: {e}")))?;
                    }
                    Err(e) => {
                        line["payload"] = serde_json::Value::Null;
                        line["payload_error"] = json!(e.to_string());
                        decoded.undecodable += 1;
                    }
                }
                serde_json::to_writer(&mut *out, &line)
                    .map_err(|e| AuditError::Input(format!("writing: {e}")))?;
                out.write_all(b"\n")
                    .map_err(|e| AuditError::Input(format!("writing: {e}")))?;
                decoded.events += 1;
                next += 1;
            }
        }
        decoded.municipalities += 1;
    }
    out.flush()
        .map_err(|e| AuditError::Input(format!("writing: {e}")))?;
    Ok(decoded)
}
