//! `vidkryto.audit.v1.AuditService`: verified logs as stored bytes, cosigned checkpoints,
//! proofs from the verified copy, enrolment history, the projection digest (cached per ingest
//! position, `read::digests`), the signed statements and the association's own log.

use std::pin::Pin;

use event_store::proof;
use event_store_core::checkpoint::NoteVerifier;
use event_store_core::{LogSeq, merkle};
use futures_util::Stream;
use proto::audit::v1 as pb;
use proto::audit::v1::audit_service_server::AuditService;
use tonic::{Request, Response, Status};

use super::streams::Gate;
use super::{code, invalid};
use crate::error::AssociationError;
use crate::read::digests::Digests;
use crate::read::queries;
use crate::store::Store;

/// Events one ReadLog call streams at most.
const READ_LIMIT_MAX: u32 = 100_000;
const READ_LIMIT_DEFAULT: u32 = 10_000;
/// Events read from the database per step of a ReadLog stream.
const READ_STEP: u64 = 2_000;
/// Events buffered for one ReadLog stream ahead of the client.
const READ_BUFFER: usize = 64;
const CHECKPOINTS_MAX: u32 = 1_000;

type Reply<T> = Result<Response<T>, Status>;

/// The audit service.
#[derive(Debug, Clone)]
pub struct AuditApi {
    store: Store,
    witness_vkey: String,
    digests: Digests,
    /// Admission of ReadLog streams, and their bounds.
    read_logs: Gate,
}

impl AuditApi {
    /// The service on the read side's `store`, admitting ReadLog streams through `read_logs`;
    /// `witness` is the association's published witness key.
    pub fn new(store: Store, witness: &NoteVerifier, digests: Digests, read_logs: Gate) -> Self {
        Self {
            store,
            witness_vkey: witness.to_text(),
            digests,
            read_logs,
        }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    type ReadLogStream = Pin<Box<dyn Stream<Item = Result<pb::LogEntry, Status>> + Send>>;

    async fn read_log(&self, request: Request<pb::ReadLogRequest>) -> Reply<Self::ReadLogStream> {
        let r = request.into_inner();
        let code = code("code", &r.code)?;
        let limit = match r.limit {
            0 => READ_LIMIT_DEFAULT,
            l if l > READ_LIMIT_MAX => {
                return Err(invalid("limit", format!("at most {READ_LIMIT_MAX}")));
            }
            l => l,
        };
        let (sink, stream) = self.read_logs.open(READ_BUFFER)?;
        let verified = self
            .store
            .verified_size(&code)
            .await?
            .ok_or_else(|| Status::not_found(format!("{code} was never enrolled")))?;
        let from = r.from_seq.max(1);
        let last = verified.min(from.saturating_add(u64::from(limit)) - 1);
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut next = from;
            while next <= last {
                let to = last.min(next + READ_STEP - 1);
                let events = match sink.during(store.events(&code, next, to)).await {
                    None => return,
                    Some(Ok(events)) => events,
                    Some(Err(e)) => {
                        sink.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                if events.is_empty() {
                    return;
                }
                for (seq, envelope) in events {
                    next = seq + 1;
                    if !sink.send(Ok(pb::LogEntry { seq, envelope })).await {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_checkpoints(
        &self,
        request: Request<pb::ListCheckpointsRequest>,
    ) -> Reply<pb::ListCheckpointsResponse> {
        let r = request.into_inner();
        let code = code("code", &r.code)?;
        let limit = match r.limit {
            0 | CHECKPOINTS_MAX.. => CHECKPOINTS_MAX,
            l => l,
        };
        let checkpoints = queries::checkpoints(&self.store, &code, r.from_size, limit)
            .await?
            .into_iter()
            .map(|c| pb::Checkpoint {
                size: c.size,
                root: c.root,
                cosigned_note: c.cosigned_note,
                accepted_at_micros: c.accepted_at_micros,
            })
            .collect();
        Ok(Response::new(pb::ListCheckpointsResponse { checkpoints }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Reply<pb::InclusionProof> {
        let r = request.into_inner();
        let code = code("code", &r.code)?;
        if r.seq == 0 {
            return Err(invalid("seq", "sequence numbers start at 1"));
        }
        let tree_size = if r.tree_size == 0 {
            queries::checkpoint_size(&self.store, &code)
                .await?
                .ok_or_else(|| Status::not_found(format!("{code} was never enrolled")))?
        } else {
            r.tree_size
        };
        let tree = self.store.tree(code);
        let hashes = proof::inclusion_proof(&tree, LogSeq(r.seq), tree_size)
            .await
            .map_err(AssociationError::from)?;
        let envelope = self
            .store
            .events(&code, r.seq, r.seq)
            .await?
            .into_iter()
            .next()
            .map(|(_, bytes)| bytes)
            .unwrap_or_default();
        Ok(Response::new(pb::InclusionProof {
            code: code.to_string(),
            seq: r.seq,
            tree_size,
            leaf_hash: merkle::leaf_hash(&envelope).to_vec(),
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
            cosigned_note: queries::cosigned_note(&self.store, &code, tree_size).await?,
            envelope,
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Reply<pb::ConsistencyProof> {
        let r = request.into_inner();
        let code = code("code", &r.code)?;
        let tree = self.store.tree(code);
        let hashes = proof::consistency_proof(&tree, r.old_size, r.new_size)
            .await
            .map_err(AssociationError::from)?;
        Ok(Response::new(pb::ConsistencyProof {
            code: code.to_string(),
            old_size: r.old_size,
            new_size: r.new_size,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
        }))
    }

    async fn get_projection_digest(
        &self,
        _: Request<pb::GetProjectionDigestRequest>,
    ) -> Reply<pb::ProjectionDigest> {
        let computed = self.digests.current().await?;
        let digest = &computed.digest;
        Ok(Response::new(pb::ProjectionDigest {
            digest: digest.hex.clone(),
            positions: digest
                .positions
                .iter()
                .map(|p| pb::Position {
                    code: p.code.clone(),
                    verified_size: p.verified_size,
                    root: p.root.clone(),
                })
                .collect(),
            computed_at_micros: computed.computed_at_micros,
        }))
    }

    async fn get_statement(
        &self,
        request: Request<pb::GetStatementRequest>,
    ) -> Reply<pb::Statement> {
        let r = request.into_inner();
        let hash = match r.positions_hash.len() {
            0 => None,
            32 => Some(r.positions_hash.as_slice()),
            _ => return Err(invalid("positions_hash", "32 bytes (SHA-256), or empty")),
        };
        let found = crate::statements::find(&self.store, hash).await?;
        let Some(row) = found else {
            return Err(Status::not_found(match hash {
                Some(h) => format!(
                    "the association made no statement at the positions {}",
                    hex::encode(h)
                ),
                None => "the association has made no statement yet".to_owned(),
            }));
        };
        Ok(Response::new(pb::Statement {
            note: row.note,
            positions: row
                .positions
                .into_iter()
                .map(|p| pb::Position {
                    code: p.municipality.to_string(),
                    verified_size: p.size,
                    root: p.root,
                })
                .collect(),
            digest: hex::encode(row.digest),
            positions_hash: row.positions_hash.to_vec(),
            made_at_micros: row.made_at_micros,
        }))
    }

    async fn read_association_log(
        &self,
        request: Request<pb::ReadAssociationLogRequest>,
    ) -> Reply<pb::ReadAssociationLogResponse> {
        let r = request.into_inner();
        let limit = match r.limit {
            0 => crate::decisions::READ_ENTRIES_MAX,
            l if l > crate::decisions::READ_ENTRIES_MAX => {
                return Err(invalid(
                    "limit",
                    format!("at most {}", crate::decisions::READ_ENTRIES_MAX),
                ));
            }
            l => l,
        };
        let (entries, size) = crate::decisions::read(&self.store, r.from_seq.max(1), limit).await?;
        Ok(Response::new(pb::ReadAssociationLogResponse {
            entries: entries
                .into_iter()
                .map(|e| pb::AssociationLogEntry {
                    seq: e.seq,
                    entry: e.bytes,
                    checkpoint: e.checkpoint,
                })
                .collect(),
            size,
        }))
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Reply<pb::ListKeysResponse> {
        let r = request.into_inner();
        let filter = if r.code.is_empty() {
            None
        } else {
            Some(code("code", &r.code)?)
        };
        let keys = self
            .store
            .keys(filter.as_ref())
            .await?
            .into_iter()
            .map(|k| pb::KeyRecord {
                code: k.code,
                vkey: k.vkey,
                enrolled_at_micros: k.enrolled_at_micros,
                revoked_at_micros: k.revoked_at_micros.unwrap_or(0),
            })
            .collect();
        Ok(Response::new(pb::ListKeysResponse {
            keys,
            witness_vkey: self.witness_vkey.clone(),
        }))
    }
}
