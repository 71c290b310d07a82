//! Clock-driven rules: when a petition's collection period ends without its threshold, the node
//! itself closes the collection. Each close carries a request id derived from the petition and
//! its deadline under the node's secret, so it happens exactly once even if the node restarts
//! mid-way, and no client can take the id first (a command under it would answer the close).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use domain::petition::PetitionStatus;
use domain::{NodeSecret, Petition, PetitionId};
use event_store::Backend;
use event_store_core::{StreamId, Timestamp};
use uuid::Uuid;

use crate::command::{Action, NodeCommand, PetitionStep};
use crate::core::{Kind, NodeCore};
use crate::error::NodeError;

/// How often the scheduler looks at deadlines: a collection closes at most this late.
pub const TICK: Duration = Duration::from_secs(1);

/// The request id of "close the collection of `petition`, due at `closes_at`": a UUIDv7 (the
/// form every request id has) whose time is the deadline and whose random bits are the first
/// of [`domain::close_request_seed`], a keyed hash of the petition and the deadline under the
/// node's secret. A retry, even after a restart, is the same request; a client, who sees the
/// petition and its deadline but not the secret, cannot send a command under it first.
pub fn close_request_id(secret: &NodeSecret, petition: PetitionId, closes_at: Timestamp) -> Uuid {
    let millis = u64::try_from(closes_at.0.div_euclid(1_000)).unwrap_or(0);
    let seed = domain::close_request_seed(secret, petition, closes_at);
    let mut random = [0u8; 10];
    random.copy_from_slice(&seed[..10]);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// Tracks petitions until their collection is decided and closes the ones that run out.
#[derive(Debug, Default)]
pub struct Scheduler {
    /// How far into the petition index we have looked.
    seen: usize,
    /// Petitions not yet published (awaiting moderation).
    waiting: BTreeSet<StreamId>,
    /// Collecting petitions and when their period ends.
    collecting: HashMap<StreamId, Timestamp>,
    /// The log's size when the waiting petitions were last looked at: a petition's state
    /// changes only with an event, so while the log has not grown there is nothing to reload
    /// (a node idles without reading its database every tick; 1,470 of them in one process,
    /// as `vidkryto dev` runs, spent most of their CPU on it).
    looked_at: Option<u64>,
}

impl Scheduler {
    /// Looks at new and pending petitions and closes every collection past its end. Returns
    /// how many it closed.
    pub async fn tick<B: Backend>(&mut self, core: &NodeCore<B>) -> Result<u32, NodeError> {
        let size = core.log().size();
        let petitions = core.list(Kind::Petition)?;
        self.waiting
            .extend(petitions.iter().skip(self.seen).copied());
        self.seen = petitions.len();
        let grown = self.looked_at != Some(size);
        self.looked_at = Some(size);
        let waiting: Vec<StreamId> = if grown {
            self.waiting.iter().copied().collect()
        } else {
            Vec::new()
        };
        for stream in waiting {
            let (state, _) = core.executor().load::<Petition>(stream).await?;
            match state.status {
                PetitionStatus::AwaitingModeration | PetitionStatus::NotFiled => {}
                PetitionStatus::Collecting => {
                    if let Some(closes_at) = state.collection_closes_at() {
                        self.collecting.insert(stream, closes_at);
                    }
                    self.waiting.remove(&stream);
                }
                _ => {
                    self.waiting.remove(&stream);
                }
            }
        }
        let now = core.executor().now();
        let due: Vec<(StreamId, Timestamp)> = self
            .collecting
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(s, at)| (*s, *at))
            .collect();
        let mut closed = 0;
        for (stream, closes_at) in due {
            let (state, _) = core.executor().load::<Petition>(stream).await?;
            if state.status == PetitionStatus::Collecting {
                let petition = PetitionId(stream.0);
                let command = NodeCommand {
                    request: close_request_id(core.secret(), petition, closes_at),
                    action: Action::Petition(petition, PetitionStep::CloseCollection),
                };
                match core.run(command).await {
                    Ok(outcome) => {
                        if !outcome.deduplicated {
                            closed += 1;
                        }
                        tracing::info!(%petition, "collection closed without reaching the threshold");
                    }
                    Err(NodeError::Domain(e)) => {
                        tracing::debug!(%petition, error = %e, "collection not closed");
                    }
                    Err(NodeError::Invalid(violations)) => {
                        // The close's request id answered another command: only someone with
                        // the node's secret could have sent it. The other petitions still close.
                        tracing::error!(%petition, ?violations, "collection not closed: its request id was taken");
                    }
                    Err(e) => return Err(e),
                }
            }
            self.collecting.remove(&stream);
        }
        Ok(closed)
    }

    /// Ticks every [`TICK`] until `shutdown` resolves.
    pub async fn run<B: Backend>(
        mut self,
        core: Arc<NodeCore<B>>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => {
                    if let Err(e) = self.tick(&core).await {
                        tracing::warn!(error = %e, "scheduler tick failed");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_request_ids_are_uuidv7s_at_the_deadline_keyed_by_the_secret() {
        let secret = NodeSecret::from_bytes([1; domain::pseudonym::NODE_SECRET_LEN]);
        let petition = PetitionId(Uuid::now_v7());
        let closes_at = Timestamp(1_800_000_000_123_456);
        let id = close_request_id(&secret, petition, closes_at);
        assert_eq!(id.get_version_num(), 7);
        assert!(crate::executor::parse_request_id(&id.to_string()).is_ok());
        let (seconds, nanos) = id.get_timestamp().unwrap().to_unix();
        assert_eq!((seconds, nanos), (1_800_000_000, 123_000_000));
        // The same request across restarts; another with another secret, petition or deadline.
        assert_eq!(id, close_request_id(&secret, petition, closes_at));
        let other = NodeSecret::from_bytes([2; domain::pseudonym::NODE_SECRET_LEN]);
        assert_ne!(id, close_request_id(&other, petition, closes_at));
        assert_ne!(
            id,
            close_request_id(&secret, PetitionId(Uuid::now_v7()), closes_at)
        );
        assert_ne!(
            id,
            close_request_id(&secret, petition, Timestamp(closes_at.0 + 1_000))
        );
        // Not the petition's own bits, which anyone could copy (issue 13, defect 8).
        assert_ne!(id.as_bytes()[6..], petition.0.as_bytes()[6..]);
    }
}
