//! Back-fills: a node whose events are missing (lost by the ingest stream, or dropped past
//! the memory bounds) is read again from its own stream, from the message carrying the first
//! missing log position (found by binary search on the relay's headers); only that node waits.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use async_nats::jetstream::Context;
use event_store_core::MunicipalityCode;
use tokio::time::Instant;

use crate::error::AssociationError;
use crate::ingest::pump::{Feed, Incoming, Pump, pump};

/// Back-fills running at once.
const BACKFILLS_MAX: usize = 4;
/// The first wait before a node is back-filled again after a back-fill that did not let it
/// advance; it doubles up to [`RETRY_MAX`], so a node whose stream lacks what its checkpoint
/// covers (a broken or hostile node) costs a read every few minutes, not a slot forever.
const RETRY_MIN: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(300);

/// Back-fills wanted and running: at most [`BACKFILLS_MAX`] at once, started first come first
/// served, each node at most once at a time and, after back-fills that changed nothing, only
/// after a growing pause.
#[derive(Debug, Default)]
pub(crate) struct Backfills {
    pub running: BTreeSet<MunicipalityCode>,
    queue: VecDeque<(MunicipalityCode, u64)>,
    /// Per node: when it may be back-filled again, the current pause, and the position its
    /// last completed back-fill started from (a failed one, a dropped link, proves nothing
    /// about the headers, so its retry reads from the same place again, not the whole stream).
    retry: HashMap<MunicipalityCode, (Instant, Duration, Option<u64>)>,
}

impl Backfills {
    /// Asks for a back-fill of `code` from log position `from_seq` (its next missing event).
    pub fn want(&mut self, code: MunicipalityCode, from_seq: u64) {
        if self.running.contains(&code) || self.queue.iter().any(|(c, _)| *c == code) {
            return;
        }
        if let Some((not_before, _, _)) = self.retry.get(&code)
            && Instant::now() < *not_before
        {
            return;
        }
        self.queue.push_back((code, from_seq));
    }

    /// The back-fills to start now, each with whether it is a retry from the same position
    /// (which reads the node's stream from its start rather than trusting the headers).
    pub fn start_ready(&mut self) -> Vec<(MunicipalityCode, u64, bool)> {
        let mut started = Vec::new();
        while self.running.len() < BACKFILLS_MAX {
            let Some((code, from_seq)) = self.queue.pop_front() else {
                break;
            };
            // Same start as the last back-fill: it did not help, so wait longer next time.
            let (pause, retry) = match self.retry.get(&code) {
                Some((_, pause, from)) => ((*pause * 2).min(RETRY_MAX), *from == Some(from_seq)),
                None => (RETRY_MIN, false),
            };
            self.retry
                .insert(code, (Instant::now() + pause, pause, Some(from_seq)));
            self.running.insert(code);
            started.push((code, from_seq, retry));
        }
        started
    }

    pub fn done(&mut self, code: MunicipalityCode, completed: bool) {
        self.running.remove(&code);
        if !completed && let Some(entry) = self.retry.get_mut(&code) {
            entry.2 = None;
        }
    }

    /// `code` advanced: its next back-fill starts without a pause.
    pub fn advanced(&mut self, code: MunicipalityCode) {
        self.retry.remove(&code);
    }
}

/// Reads `code`'s own stream from the message carrying log sequence `from_seq` (or the first
/// later one), up to what the stream holds now, into the verifying loop. The relay's headers
/// locate that message by binary search; a `retry` (the last back-fill from there did not
/// help, so the headers may lie) reads from the stream's start instead.
pub(crate) async fn backfill(
    js: Context,
    code: MunicipalityCode,
    from_seq: u64,
    retry: bool,
    feed: Feed,
) {
    let stream_name = wire::stream_name(&code);
    let result = backfill_inner(&js, code, &stream_name, from_seq, retry, &feed).await;
    if let Err(err) = &result {
        tracing::warn!(municipality = %code, error = %err, "back-fill failed; it is retried");
    }
    let done = Incoming::BackfillDone {
        code,
        completed: result.is_ok(),
    };
    let _ = feed.tx.send(done).await;
}

async fn backfill_inner(
    js: &Context,
    code: MunicipalityCode,
    stream_name: &str,
    from_seq: u64,
    retry: bool,
    feed: &Feed,
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
    let kind = Pump::Backfill {
        code,
        last,
        from_seq,
    };
    if retry {
        return pump(&stream, first, kind, feed).await;
    }
    // The smallest stream sequence whose log position is >= from_seq.
    let (mut lo, mut hi) = (first, last.saturating_add(1));
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
    pump(&stream, start, kind, feed).await
}
