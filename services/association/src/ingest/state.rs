//! The verifying loop's state: every enrolled node's [`NodeVerifier`], the batch the next
//! commit writes, and the bound on events waiting in memory over all nodes.

use std::collections::{BTreeMap, HashMap};

use event_store_core::checkpoint::NoteSigner;
use event_store_core::{MunicipalityCode, Timestamp};
use tokio::sync::watch;
use wire::{Subject, SubjectKind};

use crate::batch::{Batch, ForkRecord, IngestProgress, QuarantineRecord};
use crate::commit;
use crate::error::AssociationError;
use crate::ingest::backfill::Backfills;
use crate::store::Store;
use crate::verifier::{CheckpointOutcome, EventOutcome, NodeVerifier, Quarantine, Reason, Segment};

/// Events waiting for their checkpoints over all nodes (about 300 bytes each): past it, new
/// events are dropped and back-filled from their node's stream later, so memory stays flat
/// however many nodes send at once.
const PENDING_TOTAL_MAX: usize = 200_000;

/// The verifying loop's state.
pub(crate) struct State {
    pub nodes: BTreeMap<MunicipalityCode, NodeVerifier>,
    pub batch: Batch,
    /// The ingest stream position after the last message handled.
    pub next_stream_seq: u64,
    received: HashMap<MunicipalityCode, u64>,
    /// Events waiting in all nodes' verifiers.
    pending_total: usize,
}

impl State {
    pub async fn load(store: &Store) -> Result<Self, AssociationError> {
        let mut nodes = BTreeMap::new();
        for row in store.nodes().await? {
            nodes.insert(
                row.code,
                NodeVerifier::new(row.code, row.keys, row.frontier, row.checkpoint),
            );
        }
        Ok(Self {
            nodes,
            batch: Batch::default(),
            next_stream_seq: 1,
            received: HashMap::new(),
            pending_total: 0,
        })
    }

    pub async fn reload_keys(&mut self, store: &Store) -> Result<(), AssociationError> {
        for row in store.nodes().await? {
            match self.nodes.get_mut(&row.code) {
                Some(node) => node.set_keys(row.keys),
                None => {
                    self.nodes.insert(
                        row.code,
                        NodeVerifier::new(row.code, row.keys, row.frontier, row.checkpoint),
                    );
                }
            }
        }
        Ok(())
    }

    pub fn handle(
        &mut self,
        subject: &str,
        payload: Vec<u8>,
        stream_seq: u64,
        backfills: &mut Backfills,
    ) {
        if stream_seq > 0 {
            self.next_stream_seq = self.next_stream_seq.max(stream_seq + 1);
        }
        let Some(parsed) = Subject::parse(subject) else {
            tracing::debug!(subject, "ignoring a message on a foreign subject");
            return;
        };
        let code_text = parsed.code_text;
        let unknown = |detail: String| QuarantineRecord {
            code: code_text.to_owned(),
            subject: subject.to_owned(),
            seq: None,
            reason: Reason::UnknownMunicipality,
            detail,
            payload: payload.clone(),
            stream_seq: (stream_seq > 0).then_some(stream_seq),
        };
        let Ok(code) = parsed.municipality() else {
            let record = unknown(format!("{code_text:?} is not a KATOTTG code"));
            self.batch.quarantine.push(record);
            return;
        };
        let Some(node) = self.nodes.get_mut(&code) else {
            let record = unknown(format!("{code} is not enrolled"));
            self.batch.quarantine.push(record);
            return;
        };
        if parsed.kind == SubjectKind::Event {
            match node.on_event(&payload, stream_seq, self.pending_total < PENDING_TOTAL_MAX) {
                EventOutcome::Pending => self.pending_total += 1,
                EventOutcome::Duplicate => {}
                EventOutcome::CheckStored { seq, leaf } => {
                    let record = QuarantineRecord::new(
                        Quarantine {
                            code,
                            seq: Some(seq),
                            reason: Reason::Tampered,
                            detail: "bytes differ from the verified event at this sequence number"
                                .into(),
                        },
                        subject,
                        &payload,
                        stream_seq,
                    );
                    self.batch.check_events.push((code, seq, leaf, record));
                }
                EventOutcome::Gap { from_seq } => backfills.want(code, from_seq),
                EventOutcome::Quarantined(q) => {
                    let record = QuarantineRecord::new(q, subject, &payload, stream_seq);
                    self.batch.quarantine.push(record);
                }
            }
            self.received.insert(code, node.received_seq());
            return;
        }
        let note = String::from_utf8_lossy(&payload).into_owned();
        match node.on_checkpoint(&note, stream_seq) {
            CheckpointOutcome::Accepted(segments, failed) => {
                self.accept(segments);
                self.quarantine_held(failed);
            }
            CheckpointOutcome::Duplicate => {}
            CheckpointOutcome::Held { from_seq } => backfills.want(code, from_seq),
            CheckpointOutcome::CheckStored {
                size,
                checkpoint,
                note,
            } => {
                let record = QuarantineRecord::new(
                    Quarantine {
                        code,
                        seq: Some(size),
                        reason: Reason::Fork,
                        detail: format!(
                            "a second root {} for tree size {size}",
                            hex::encode(checkpoint.checkpoint.root)
                        ),
                    },
                    subject,
                    &payload,
                    stream_seq,
                );
                self.batch
                    .check_roots
                    .push((code, size, checkpoint.checkpoint.root, note, record));
            }
            CheckpointOutcome::Fork {
                size,
                accepted_root,
                other,
                note,
            } => {
                let record = QuarantineRecord::new(
                    Quarantine {
                        code,
                        seq: Some(size),
                        reason: Reason::Fork,
                        detail: format!(
                            "root {} for tree size {size}, which was accepted with root {}",
                            hex::encode(other.checkpoint.root),
                            hex::encode(accepted_root)
                        ),
                    },
                    subject,
                    &payload,
                    stream_seq,
                );
                self.batch.quarantine.push(record);
                self.batch.forks.push(ForkRecord {
                    code,
                    size,
                    accepted_root,
                    other_root: other.checkpoint.root,
                    other_note: note,
                });
            }
            CheckpointOutcome::Quarantined(q) => {
                let record = QuarantineRecord::new(q, subject, &payload, stream_seq);
                self.batch.quarantine.push(record);
            }
        }
    }

    fn accept(&mut self, segments: Vec<Segment>) {
        for segment in segments {
            self.pending_total = self.pending_total.saturating_sub(segment.events.len());
            self.batch.events += segment.events.len();
            self.batch.segments.push(segment);
        }
    }

    /// Held checkpoints that failed once their events arrived (their note is in the detail).
    fn quarantine_held(&mut self, failed: Vec<Quarantine>) {
        for q in failed {
            self.batch.quarantine.push(QuarantineRecord {
                code: q.code.to_string(),
                subject: wire::checkpoint_subject(&q.code),
                seq: q.seq,
                reason: q.reason,
                detail: q.detail,
                payload: Vec::new(),
                stream_seq: None,
            });
        }
    }

    /// After a back-fill: checkpoints held for its events may now apply.
    pub fn release(&mut self, code: MunicipalityCode) {
        if let Some(node) = self.nodes.get_mut(&code) {
            let (segments, failed) = node.release_held();
            self.accept(segments);
            self.quarantine_held(failed);
        }
    }

    /// Nodes still waiting for events a checkpoint covers, with where to back-fill from.
    pub fn stalled(&mut self) -> Vec<(MunicipalityCode, u64)> {
        let mut out = Vec::new();
        let codes: Vec<MunicipalityCode> = self.nodes.keys().copied().collect();
        for code in codes {
            self.release(code);
            if let Some(from_seq) = self.nodes.get(&code).and_then(NodeVerifier::waiting_for) {
                out.push((code, from_seq));
            }
        }
        out
    }

    /// The resume position: the oldest message still only in memory, or the next one.
    fn resume_position(&self) -> u64 {
        self.nodes
            .values()
            .filter_map(NodeVerifier::oldest_stream_seq)
            .min()
            .unwrap_or(self.next_stream_seq)
            .min(self.next_stream_seq)
    }

    pub async fn commit(
        &mut self,
        store: &Store,
        witness: &NoteSigner,
        progress: &watch::Sender<IngestProgress>,
    ) -> Result<(), AssociationError> {
        let batch = std::mem::take(&mut self.batch);
        let received: Vec<(MunicipalityCode, u64)> = self.received.drain().collect();
        let resume = self.resume_position();
        let now = Timestamp::now();
        let outcome = commit::commit(store, witness, batch, &received, resume, now).await;
        match outcome {
            Ok(summary) => {
                progress.send_modify(|p| {
                    p.commits += 1;
                    p.events += summary.events as u64;
                });
                Ok(())
            }
            Err(err) => {
                // The in-memory state ran ahead of the database: drop it; the supervisor
                // reloads from the database.
                for node in self.nodes.values_mut() {
                    node.clear_waiting();
                }
                self.pending_total = 0;
                Err(err)
            }
        }
    }
}
