//! `vidkryto audit recompute`: the national projections rebuilt from an archive alone, in a
//! store of the auditor's own (the `projection` crate's in-memory store, the same rules the
//! association runs), up to given positions; the digest is comparable with the association's.

use std::collections::BTreeMap;

use event_store_core::MunicipalityCode;
use projection::{MemoryStore, Verified};

use crate::AuditError;
use crate::archive::Archive;

/// Events applied per batch.
const BATCH: usize = 20_000;

/// A recomputed digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recomputed {
    pub digest: String,
    /// Events replayed per hromada.
    pub positions: BTreeMap<MunicipalityCode, u64>,
    pub events: u64,
}

/// Replays each hromada's archived events up to `upto` (all it holds, for a hromada not named)
/// and returns the projection digest. Refuses when the archive holds fewer events than asked.
pub fn recompute(
    archive: &Archive,
    upto: &BTreeMap<MunicipalityCode, u64>,
) -> Result<Recomputed, AuditError> {
    let mut store = MemoryStore::new();
    let mut positions = BTreeMap::new();
    let mut events = 0;
    let codes: Vec<MunicipalityCode> = if upto.is_empty() {
        archive.municipalities()?
    } else {
        upto.keys().copied().collect()
    };
    for code in codes {
        let limit = upto.get(&code).copied().unwrap_or(u64::MAX);
        let mut next = 1;
        let mut batch = Vec::with_capacity(BATCH);
        'files: for (first, _, path) in archive.events_files(&code)? {
            if first != next {
                return Err(AuditError::Input(format!(
                    "{code}: the archive has no events from {next}"
                )));
            }
            let data = archive.read_events_file(&path)?;
            for record in crate::archive::decode_events(&path, &data)? {
                if next > limit {
                    break 'files;
                }
                let recorded = domain::open(record.bytes).map_err(|e| {
                    AuditError::Input(format!("{code} event {next}: {e} (run audit verify)"))
                })?;
                batch.push(Verified {
                    municipality: code,
                    seq: recorded.envelope.seq.0,
                    event: recorded.event,
                });
                next += 1;
                if batch.len() >= BATCH {
                    store
                        .apply_batch(&batch)
                        .map_err(|e| AuditError::Input(format!("{code}: {e}")))?;
                    batch.clear();
                }
            }
        }
        store
            .apply_batch(&batch)
            .map_err(|e| AuditError::Input(format!("{code}: {e}")))?;
        let replayed = next - 1;
        if limit != u64::MAX && replayed < limit {
            return Err(AuditError::Input(format!(
                "{code}: the archive holds {replayed} events, {limit} were asked for (export again)"
            )));
        }
        events += replayed;
        positions.insert(code, replayed);
    }
    let digest = store
        .digest()
        .map_err(|e| AuditError::Input(format!("digest: {e}")))?;
    Ok(Recomputed {
        digest: projection::Digest(digest).to_string(),
        positions,
        events,
    })
}
