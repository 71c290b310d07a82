//! Back-fills: a node whose events are missing (lost by the ingest stream, or dropped past
//! the memory bounds) is read again from its own stream, from the message carrying the first
//! missing log position (found by binary search on the relay's headers); only that node waits.

use std::collections::{BTreeMap, BTreeSet};

use async_nats::jetstream::Context;
use event_store_core::MunicipalityCode;
use tokio::sync::mpsc;

use crate::error::AssociationError;
use crate::ingest::pump::{Incoming, Pump, pump};

/// Back-fills running at once.
const BACKFILLS_MAX: usize = 4;

/// Back-fills wanted and running.
#[derive(Debug, Default)]
pub(crate) struct Backfills {
    pub running: BTreeSet<MunicipalityCode>,
    wanted: BTreeMap<MunicipalityCode, u64>,
}

impl Backfills {
    pub fn want(&mut self, code: MunicipalityCode, from_seq: u64) {
        if !self.running.contains(&code) {
            self.wanted.entry(code).or_insert(from_seq);
        }
    }

    pub fn start_ready(&mut self) -> Vec<(MunicipalityCode, u64)> {
        let mut started = Vec::new();
        while self.running.len() < BACKFILLS_MAX {
            let Some((code, from_seq)) = self.wanted.pop_first() else {
                break;
            };
            self.running.insert(code);
            started.push((code, from_seq));
        }
        started
    }
}

/// Reads `code`'s own stream from the message carrying log sequence `from_seq` (or the first
/// later one), up to what the stream holds now, into the verifying loop.
pub(crate) async fn backfill(
    js: Context,
    code: MunicipalityCode,
    stream_name: String,
    from_seq: u64,
    tx: mpsc::Sender<Incoming>,
) {
    if let Err(err) = backfill_inner(&js, &stream_name, from_seq, &tx).await {
        tracing::warn!(municipality = %code, error = %err, "back-fill failed; it is retried");
    }
    let _ = tx.send(Incoming::BackfillDone(code)).await;
}

async fn backfill_inner(
    js: &Context,
    stream_name: &str,
    from_seq: u64,
    tx: &mpsc::Sender<Incoming>,
) -> Result<(), AssociationError> {
    let mut stream = js
        .get_stream(stream_name)
        .await
        .map_err(AssociationError::nats)?;
    let info = stream.info().await.map_err(AssociationError::nats)?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    if last == 0 || last < first {
        return Ok(());
    }
    // The smallest stream sequence whose log position is >= from_seq.
    let (mut lo, mut hi) = (first, last + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let position = match stream.get_raw_message(mid).await {
            Ok(message) => wire::log_position(&message.headers),
            Err(_) => None,
        };
        match position {
            Some(p) if p >= from_seq => hi = mid,
            _ => lo = mid + 1,
        }
    }
    let start = lo.saturating_sub(1).max(first);
    pump(&stream, start, Pump::Backfill { last }, tx).await
}
