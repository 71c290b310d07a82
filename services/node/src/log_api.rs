//! The `vidkryto.node.v1.LogService` gRPC service: read-only, bounded access to the node's
//! raw log, checkpoints and proofs, for the association's back-fill and citizens' receipts.

use std::pin::Pin;
use std::sync::Arc;

use event_store::{Backend, Log, StoredCheckpoint};
use event_store_core::LogSeq;
use futures_util::Stream;
use proto::node::v1 as pb;
use proto::node::v1::log_service_server::LogService;
use tonic::{Request, Response, Status};

use crate::error::NodeError;

/// Most events one `ReadLog` call streams.
pub const READ_LOG_LIMIT_MAX: u32 = 100_000;
/// Events streamed when the request gives no limit.
const READ_LOG_LIMIT_DEFAULT: u32 = 10_000;
/// Events read from storage per query while streaming.
const READ_LOG_CHUNK: u32 = 1_000;
/// Messages buffered between the reader task and the client: bounds memory per stream.
const READ_LOG_CHANNEL: usize = 256;
/// Most checkpoints per `ListCheckpoints` call.
const CHECKPOINTS_LIMIT_MAX: u32 = 1_000;

/// The log-access service over a node's log.
pub struct LogApi<B: Backend> {
    log: Arc<Log<B>>,
}

impl<B: Backend> std::fmt::Debug for LogApi<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogApi").finish_non_exhaustive()
    }
}

impl<B: Backend> LogApi<B> {
    pub fn new(log: Arc<Log<B>>) -> Self {
        Self { log }
    }

    /// The first signed checkpoint of at least `size` events, if there is one yet.
    async fn checkpoint_from(&self, size: u64) -> Result<Option<StoredCheckpoint>, NodeError> {
        let mut cps = self.log.backend().checkpoints(size, 1).await?;
        Ok(cps.pop())
    }
}

fn checkpoint(cp: StoredCheckpoint) -> pb::Checkpoint {
    pb::Checkpoint {
        size: cp.size,
        root: cp.root.to_vec(),
        note: cp.note,
    }
}

type LogStream = Pin<Box<dyn Stream<Item = Result<pb::LogEntry, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl<B: Backend> LogService for LogApi<B> {
    type ReadLogStream = LogStream;

    async fn read_log(
        &self,
        r: Request<pb::ReadLogRequest>,
    ) -> Result<Response<LogStream>, Status> {
        let r = r.into_inner();
        if r.from_seq == 0 {
            return Err(NodeError::invalid("from_seq", "must be at least 1").into());
        }
        if r.limit > READ_LOG_LIMIT_MAX {
            return Err(NodeError::invalid("limit", "must be at most 100000").into());
        }
        let limit = if r.limit == 0 {
            READ_LOG_LIMIT_DEFAULT
        } else {
            r.limit
        };
        let end = r.from_seq.saturating_add(u64::from(limit));
        let (tx, rx) = tokio::sync::mpsc::channel(READ_LOG_CHANNEL);
        let log = self.log.clone();
        tokio::spawn(async move {
            let mut from = r.from_seq;
            while from < end {
                let want = u32::try_from((end - from).min(u64::from(READ_LOG_CHUNK)))
                    .unwrap_or(READ_LOG_CHUNK);
                let rows = match log.read(LogSeq(from), want).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(NodeError::from(e)))).await;
                        return;
                    }
                };
                let Some(last) = rows.last().map(|r| r.seq.0) else {
                    return;
                };
                for row in rows {
                    if tx
                        .send(Ok(pb::LogEntry {
                            seq: row.seq.0,
                            envelope: row.bytes,
                        }))
                        .await
                        .is_err()
                    {
                        return; // the client went away
                    }
                }
                from = last + 1;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn get_checkpoint(
        &self,
        r: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        let at_least = r.into_inner().at_least_size;
        let cp = if at_least == 0 {
            self.log
                .latest_checkpoint()
                .await
                .map_err(NodeError::from)?
        } else {
            self.checkpoint_from(at_least).await?
        };
        let cp = cp.ok_or(NodeError::NotFound("checkpoint"))?;
        Ok(Response::new(checkpoint(cp)))
    }

    async fn list_checkpoints(
        &self,
        r: Request<pb::ListCheckpointsRequest>,
    ) -> Result<Response<pb::ListCheckpointsResponse>, Status> {
        let r = r.into_inner();
        let limit = if r.limit == 0 {
            CHECKPOINTS_LIMIT_MAX
        } else {
            r.limit.min(CHECKPOINTS_LIMIT_MAX)
        };
        let cps = self
            .log
            .backend()
            .checkpoints(r.from_size, limit)
            .await
            .map_err(NodeError::from)?;
        Ok(Response::new(pb::ListCheckpointsResponse {
            checkpoints: cps.into_iter().map(checkpoint).collect(),
        }))
    }

    async fn get_inclusion_proof(
        &self,
        r: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        let r = r.into_inner();
        if r.seq == 0 {
            return Err(NodeError::invalid("seq", "must be at least 1").into());
        }
        let (tree_size, note) = if r.tree_size == 0 {
            let cp = self
                .checkpoint_from(r.seq)
                .await?
                .ok_or(NodeError::NotFound("signed checkpoint covering this event"))?;
            (cp.size, cp.note)
        } else {
            let note = self
                .checkpoint_from(r.tree_size)
                .await?
                .filter(|c| c.size == r.tree_size)
                .map(|c| c.note)
                .unwrap_or_default();
            (r.tree_size, note)
        };
        if r.seq > tree_size {
            return Err(NodeError::invalid("tree_size", "must be at least seq").into());
        }
        // The proof first: a tree size past the log is out of range, whatever `seq` is.
        let hashes = self
            .log
            .inclusion_proof(LogSeq(r.seq), tree_size)
            .await
            .map_err(|e| NodeError::from(e).in_field("tree_size"))?;
        let row = self
            .log
            .read(LogSeq(r.seq), 1)
            .await
            .map_err(NodeError::from)?
            .into_iter()
            .find(|row| row.seq.0 == r.seq)
            .ok_or(NodeError::NotFound("event"))?;
        Ok(Response::new(pb::InclusionProof {
            seq: r.seq,
            tree_size,
            leaf_hash: row.leaf_hash.to_vec(),
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
            checkpoint_note: note,
        }))
    }

    async fn get_consistency_proof(
        &self,
        r: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        let r = r.into_inner();
        if r.old_size > r.new_size {
            return Err(NodeError::invalid("old_size", "must be at most new_size").into());
        }
        let hashes = self
            .log
            .consistency_proof(r.old_size, r.new_size)
            .await
            .map_err(|e| NodeError::from(e).in_field("new_size"))?;
        Ok(Response::new(pb::ConsistencyProof {
            old_size: r.old_size,
            new_size: r.new_size,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
        }))
    }
}
